"""nth_number: "What is the 5th number in the list 7, 2, 9, 4, 1, 8?", generated from a seed.

Why this task (issue 19): its one step is a copy, not arithmetic. SmolLM2-135M's own arithmetic steps fail
(chain_sum's `1 - 4 = 3`), so a two-step sum cannot beat its any-form baseline by much; here a thinking that
writes the list out with positions ("1: 7, 2: 2, ...") needs only copying, which small models do well, while
answering without it means counting positions silently: the base model picks the right item 3.7% of the time
when sampled (below the 1-in-7 of a blind pick; benchmarks/task_selection.py, docs/r1zero-reasoning.md).

Lists hold distinct items (so the answer names one position), the asked position avoids the 1st, 2nd
and last (the easy ones). kwargs: min_len (6), max_len (8), min_pos (3); the position is at most len - 1.

hops=2 chains two lookups: "Take the list 7, 2, 4, 9, 1, 8. Its 3rd number is a position: what number is at
that position?" (4 -> the 4th number, 9). Lists whose asked item is not a position of the list (0, or past its
end) or is that same position are redrawn. Why: after RL on hops=1 SmolLM2-135M answers with an empty thinking as well as with a
full one (0.99 vs 0.98 held-out): one lookup fits in a forward pass, so thinking is not needed; two lookups in
sequence, each of which it can learn, are the smallest composition whose middle value a thinking can write down.

digits=2 draws two-digit items (10..99, distinct, lists up to 30 long). Why: on 6-8 one-digit items RL taught
the lookup inside one forward pass (0.99 with the thinking forced empty); a long list asked for a far position
is counting a forward pass does badly, while a thinking that numbers the items ("1: 34, 2: 71, ...") turns the
lookup into matching the position's label, and distinct two-digit items keep that copy unambiguous.

after=N asks for the k-th number (k = 2..N) after a named item: "What is the 3rd number after 45 in the list 46, 11,
78, 45, 70, 51, 29, 77?" (29). Why: in one forward pass that is two hops (find 45, then move 3 places), the
composition two-lookup questions showed a 135M model does not learn; written out, each step is the copy a language
model does best: continue the list from 45 ("45, 70, 51, 29") and stop after k items, a thinking of ~12 tokens.
after_min=M draws k from M..N instead (after_min = after: one fixed k, so the stop is a fixed length and only the
copy is left to learn; session 20's copies ran 2-6 items whatever k was).

hint=P (percent, hops=2 only) appends the middle step to P% of the questions: "... what number is at that
position? Hint: its 3rd number is 4." Why: RL on one lookup, then two, left the second level at chance
(0.12-0.14): the policy never learned to read a position and look it up on the two-lookup phrasing. A hinted
level teaches the second lookup from a position written in text, the sentence a thinking can then write
itself; `meta["base_question"]` is the unhinted question, so a curriculum drops hinted copies of held-out rows.
hint_form="lookup" words the hint as the one-lookup question instead ("... Hint: so the answer is the 4th number
in the list."). Why: with the value form the hinted level stayed at chance (train accuracy <= 0.29 in 158 steps):
the digit after "its 3rd number is" was never read as a position, while "the 4th number in the list" is the
one-lookup wording RL had already taught to 0.98.
"""
from __future__ import annotations

import random
from collections.abc import Iterator

from reasonrl.tasks.problem import Problem

NAME = "nth_number"
DEFAULTS = {"min_len": 6, "max_len": 8, "min_pos": 3, "hops": 1, "hint": 0, "hint_form": "value", "digits": 1, "after": 0,
            "after_min": 2}
VALUES = {1: range(10), 2: range(10, 100)}   # the distinct items a list is drawn from, by digits per item
HINT_FORMS = {  # how a hint states the middle step: the value at the asked position, or where to look next
    "value": lambda pos, mid: f"Hint: its {ordinal(pos)} number is {mid}.",
    "lookup": lambda pos, mid: f"Hint: so the answer is the {ordinal(mid)} number in the list.",
}


def ordinal(k: int) -> str:
    """English ordinal of k.

    >>> [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st']
    """
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def check_kwargs(kwargs: dict) -> dict:
    """Defaults merged with kwargs; an unknown key or an impossible length/position is a one-line ValueError."""
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{NAME}: unknown kwargs {unknown}; valid: {', '.join(DEFAULTS)}")
    cfg = {k: v if k == "hint_form" else int(v) for k, v in {**DEFAULTS, **kwargs}.items()}
    if cfg["hint_form"] not in HINT_FORMS:
        raise ValueError(f"{NAME}: hint_form must be one of {', '.join(HINT_FORMS)}, got {cfg['hint_form']!r}")
    if cfg["digits"] not in VALUES:
        raise ValueError(f"{NAME}: digits must be 1 or 2, got {cfg['digits']}")
    most = 10 if cfg["digits"] == 1 else 30   # distinct items; 30 two-digit items already outrun a 135M model's copy
    if not 2 <= cfg["min_len"] <= cfg["max_len"] <= most:
        raise ValueError(f"{NAME}: need 2 <= min_len <= max_len <= {most} (distinct {cfg['digits']}-digit items), "
                         f"got {cfg['min_len']}, {cfg['max_len']}")
    if cfg["after"] and (cfg["after"] < 2 or cfg["hops"] != 1 or cfg["after"] > cfg["min_len"] - 1):
        raise ValueError(f"{NAME}: after counts 2..after places past a named item (hops 1, after <= min_len - 1 = "
                         f"{cfg['min_len'] - 1}), got after={cfg['after']}, hops={cfg['hops']}")
    if cfg["after"] and not 2 <= cfg["after_min"] <= cfg["after"]:
        raise ValueError(f"{NAME}: after_min is the fewest places past the named item, 2..after = 2..{cfg['after']}, "
                         f"got {cfg['after_min']}")
    if cfg["hops"] == 2 and cfg["digits"] != 1:
        raise ValueError(f"{NAME}: hops=2 reads an item as a position, so it needs digits=1, got digits={cfg['digits']}")
    if not 1 <= cfg["min_pos"] <= cfg["min_len"] - 1:
        raise ValueError(f"{NAME}: min_pos must be in 1..min_len-1 = {cfg['min_len'] - 1}, got {cfg['min_pos']}")
    if cfg["hops"] not in (1, 2):
        raise ValueError(f"{NAME}: hops must be 1 or 2, got {cfg['hops']}")
    if not 0 <= cfg["hint"] <= 100 or (cfg["hint"] and cfg["hops"] != 2):
        raise ValueError(f"{NAME}: hint is a percent (0..100) of two-lookup questions (hops: 2), got hint={cfg['hint']}, "
                         f"hops={cfg['hops']}")
    return cfg


def iter_nth_number(size: int, seed: int, kwargs: dict | None = None) -> Iterator[Problem]:
    """`size` problems from one `random.Random(seed)` stream (same seed, same problems).

    >>> p = next(iter_nth_number(1, seed=0))
    >>> p.answer == str(p.meta["items"][p.meta["pos"] - 1]), p.question.startswith("What is the ")
    (True, True)
    """
    cfg = check_kwargs(kwargs or {})
    rng = random.Random(seed)
    for index in range(size):
        while True:
            items = rng.sample(VALUES[cfg["digits"]], rng.randint(cfg["min_len"], cfg["max_len"]))
            pos = rng.randint(cfg["min_pos"], len(items) - 1)
            if cfg["hops"] == 1 or (1 <= items[pos - 1] <= len(items) and items[pos - 1] != pos):
                break
        listed = ", ".join(map(str, items))
        if cfg["after"]:
            k = rng.randint(cfg["after_min"], cfg["after"])
            start = rng.randint(0, len(items) - 1 - k)
            question, answer = f"What is the {ordinal(k)} number after {items[start]} in the list {listed}?", items[start + k]
            pos = start + k + 1
        elif cfg["hops"] == 1:
            question, answer = f"What is the {ordinal(pos)} number in the list {listed}?", items[pos - 1]
        else:
            question = (f"Take the list {listed}. Its {ordinal(pos)} number is a position: "
                        "what number is at that position?")
            answer = items[items[pos - 1] - 1]
        meta = {"items": items, "pos": pos, "hops": cfg["hops"]}
        if cfg["after"]:
            meta.update(after=k, anchor=items[start])
        if cfg["hint"] and rng.random() * 100 < cfg["hint"]:
            meta.update(base_question=question, hint=True)
            question = f"{question} {HINT_FORMS[cfg['hint_form']](pos, items[pos - 1])}"
        yield Problem(id=f"{NAME}:{seed}:{index}", question=question, answer=str(answer), task=NAME,
                      lang="en", meta=meta)
