"""reasoning-gym tasks by name: `reasoning_gym.create_dataset(name, seed=..., size=..., **kwargs)`.

Held-out and train come from ONE generated pool (indices 0..num_heldout-1 held out, the rest train),
not from two seeds: most gym generators seed item i with Random(seed + i), so seed s+1 item 0 is
seed s item 1, and two seeds would share almost every problem.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator

from reasonrl.tasks.problem import Problem


def gym_names() -> list[str]:
    """All registered reasoning-gym dataset names."""
    import reasoning_gym

    return sorted(reasoning_gym.factory.DATASETS)


def check_gym_name(name: str) -> None:
    """One-line ValueError for an unknown name, with the closest valid names.

    >>> check_gym_name("chain_sums")
    Traceback (most recent call last):
    ...
    ValueError: unknown task 'chain_sums': not a reasoning-gym dataset, 'zh_arithmetic', or a .jsonl/.parquet path; closest gym names: chain_sum, ...
    """
    names = gym_names()
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5) or names[:5]
    raise ValueError(
        f"unknown task {name!r}: not a reasoning-gym dataset, 'zh_arithmetic', or a .jsonl/.parquet path; "
        f"closest gym names: {', '.join(close)}, ... ({len(names)} in all)"
    )


def make_gym_dataset(name: str, size: int, seed: int, kwargs: dict):
    """The gym dataset object (also what the rewards module needs for score_answer)."""
    import reasoning_gym

    check_gym_name(name)
    try:
        return reasoning_gym.create_dataset(name, size=size, seed=seed, **kwargs)
    except (TypeError, AssertionError, ValueError) as e:  # a bad kwarg or a failed config.validate()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"reasoning-gym {name!r} rejected kwargs {kwargs}: {msg}") from e


def iter_gym(name: str, size: int, seed: int, kwargs: dict) -> Iterator[Problem]:
    """Problems 0..size-1 of the gym dataset, generated lazily, each keeping its entry dict.

    >>> p = next(iter_gym("chain_sum", size=3, seed=1, kwargs={}))
    >>> p.id, p.answer, p.lang, p.entry["answer"] == p.answer, p.verifier
    ('chain_sum:1:0', '-4', 'en', True, 'gym:chain_sum')
    """
    ds = make_gym_dataset(name, size, seed, kwargs)
    for i in range(size):
        entry = ds[i]
        # A shallow copy of the gym's own dict: score_answer reads entry["answer"] and entry["metadata"].
        yield Problem(
            id=f"{name}:{seed}:{i}",
            question=str(entry["question"]),
            # Some gyms (propositional_logic) have no single answer (None): "" then, and only the gym's
            # score_answer(completion, entry) can grade; str(None) would make "None" look like a reference.
            answer="" if entry["answer"] is None else str(entry["answer"]),
            task=name,
            lang="en",
            entry=dict(entry),
            # The gym's own grader decides (the task owns its verifier); it is rebuilt from these kwargs
            # because some graders read their config (puzzle24: the allowed value range).
            meta={"gym_kwargs": dict(kwargs)},
            verifier=f"gym:{name}",
        )
