"""Held-out first, then train: the split shared by every source.

Held-out is taken from the *start* of a source's deterministic order, so it does not change when
num_train changes; train then skips every question whose normalised text is already held out, which
is what keeps evaluation honest when a generator repeats itself (1-digit chain_sum does, often).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from reasonrl.tasks.problem import Problem, normalize_question


@dataclass
class TaskSplits:
    """train and heldout problems, plus how many malformed rows were skipped (files with skip_bad_rows)."""

    train: list[Problem]
    heldout: list[Problem]
    bad_rows: int = 0
    info: dict = field(default_factory=dict)


def check_no_overlap(train: Iterable[Problem], heldout: Iterable[Problem]) -> None:
    """Raise ValueError naming the first train question that is also held out (after normalisation).

    >>> a = Problem("t:0", "1 + 1 =", "2", "t", "en")
    >>> b = Problem("t:1", "1  +  1 =", "2", "t", "en")
    >>> check_no_overlap([a], [b])
    Traceback (most recent call last):
    ...
    ValueError: train and held-out overlap: train t:0 and held-out t:1 share the question '1 + 1 ='
    """
    held = {normalize_question(p.question): p for p in heldout}
    for p in train:
        q = held.get(normalize_question(p.question))
        if q is not None:
            raise ValueError(f"train and held-out overlap: train {p.id} and held-out {q.id} share the question {p.question[:80]!r}")


def split_stream(problems: Iterator[Problem], num_train: int, num_heldout: int) -> tuple[list[Problem], list[Problem], int]:
    """Take num_heldout distinct problems, then up to num_train train problems not held out.

    Returns (train, heldout, duplicates_dropped). Consumes only as much of `problems` as needed, so a
    source can be lazy and longer than asked for (generators pass some slack to make up for duplicates).

    >>> ps = [Problem(f"t:{i}", q, "0", "t", "en") for i, q in enumerate("a a b a c b d".split())]
    >>> train, held, dropped = split_stream(iter(ps), num_train=3, num_heldout=2)
    >>> [p.question for p in held], [p.question for p in train], dropped
    (['a', 'b'], ['c', 'd'], 3)
    """
    # Held-out questions are distinct: a repeated question would count twice in every eval figure.
    heldout: list[Problem] = []
    held: set[str] = set()
    dropped = 0
    for p in problems:
        key = normalize_question(p.question)
        if key in held:
            dropped += 1
            continue
        heldout.append(p)
        held.add(key)
        if len(heldout) == num_heldout:
            break
    train: list[Problem] = []
    if len(heldout) < num_heldout:
        return train, heldout, dropped
    for p in problems:
        if len(train) == num_train:
            break
        if normalize_question(p.question) in held:
            dropped += 1
            continue
        train.append(p)
    check_no_overlap(train, heldout)
    return train, heldout, dropped
