"""arrows: follow a chain of arrows to its end, generated from a seed.

    Arrows: 81 -> 14, 23 -> 57, 36 -> 90, 57 -> 36, 40 -> 75. Start at 23 and follow the arrows until you
    reach a number with no arrow from it. Which number is it?                                     (answer 90)

Why (issue 19, session 22): every lookup task so far needed a silent *count* somewhere (the k-th item, k items on from
a named one), and counting is what neither a 135M model's forward pass nor its RL-shaped thinking learned: the
relative lookup's thinking learned to copy from the named item (session 20) but never to stop after k (session 21).
Here each step is a match on content, the copy a language model does best: after writing "23 -> " the next number is
the one that follows "23 -> " in the question, and the walk stops where no arrow starts, which the text shows, no
count needed. In one forward pass the answer is 2-3 such matches composed, the composition two-lookup questions
showed a 135M model does not learn; written out ("23 -> 57, 57 -> 36, 36 -> 90") it is 2-3 single matches.

The walk's own arrows (min_hops..max_hops of them) are shuffled among `chains` other chains of 1-2 arrows, all on
distinct two-digit numbers, so the answer is one of `chains + 1` numbers with no arrow from them: a forward pass that
learned "a number nothing leaves" alone would be right 1 time in chains + 1, and the start's own target (the first
match, which one pass does learn) is never the answer.

start_first=1 lists the start's own arrow first (the others stay shuffled). Why: the base model's only step-paid samples
(10 of 160, `arrow_steps`) copy the question's arrows from the first one, which is the walk's first hop only when the
start's arrow happens to come first; listed first, that copy earns the first hop every time, and every later hop
still needs the match.

start_first=k > 1 lists the walk's first k arrows first, in walk order (all of them once k >= the hops). Why (session
26): from the base model the walk's second hop took ~150 steps to appear, because what the model writes is the list
copied from its first arrow, and past the first arrow that copy is the walk only by chance. Listed in order, the copy
IS the walk, and writing it right means stopping where the next listed arrow does not start at the number just
reached: the content match every later lookup needs, learned on a level where copying alone gets most of the way.

second_elsewhere=1 (with start_first=1) never lists the walk's second arrow second: when the shuffle puts it there it
swaps places with a later arrow. Why (session 27): in every run that failed, the level was held by the positional
copy "write the first two listed arrows", which earns the second hop whenever the shuffle lists it second; on a level
where it never is, that copy earns one hop, and only the content match earns two.

inorder_pct=p lists the whole walk first, in order, on p percent of the questions (the rest as the other keys say).
Why (session 28): a level listing the walk in order taught the format and two hops in half the steps (session 26), but
through the positional copy, which the shuffled list then defeated; a level where it never pays taught nothing early
(session 27). Mixed, with second_elsewhere on the rest, one rule earns the whole walk on every question (write the
number just reached, then the arrow that starts there), the positional copy only on the in-order ones: the groups of
a shuffled question are where the two differ.
"""
from __future__ import annotations

import random
from collections.abc import Iterator

from reasonrl.tasks.problem import Problem

NAME = "arrows"
DEFAULTS = {"min_hops": 2, "max_hops": 3, "chains": 2, "start_first": 0, "second_elsewhere": 0, "inorder_pct": 0}


def check_kwargs(kwargs: dict) -> dict:
    """Defaults merged with kwargs; an unknown key or an impossible walk is a one-line ValueError."""
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{NAME}: unknown kwargs {unknown}; valid: {', '.join(DEFAULTS)}")
    cfg = {k: int(v) for k, v in {**DEFAULTS, **kwargs}.items()}
    if not 2 <= cfg["min_hops"] <= cfg["max_hops"] <= 8:
        raise ValueError(f"{NAME}: need 2 <= min_hops <= max_hops <= 8 (one hop is a single match), "
                         f"got {cfg['min_hops']}, {cfg['max_hops']}")
    if not 0 <= cfg["start_first"] <= 8:
        raise ValueError(f"{NAME}: start_first (how many of the walk's arrows lead the list, in order) must be 0..8, "
                         f"got {cfg['start_first']}")
    if cfg["second_elsewhere"] not in (0, 1) or (cfg["second_elsewhere"] and cfg["start_first"] != 1):
        raise ValueError(f"{NAME}: second_elsewhere is 0 or 1, and 1 needs start_first=1 (the walk's first arrow listed "
                         f"first), got second_elsewhere={cfg['second_elsewhere']}, start_first={cfg['start_first']}")
    if not 0 <= cfg["inorder_pct"] <= 100:
        raise ValueError(f"{NAME}: inorder_pct (the percent of questions listing the whole walk first, in order) must be "
                         f"0..100, got {cfg['inorder_pct']}")
    if not 0 <= cfg["chains"] <= 6:
        raise ValueError(f"{NAME}: chains (other chains of 1-2 arrows) must be 0..6, got {cfg['chains']}")
    return cfg


def iter_arrows(size: int, seed: int, kwargs: dict | None = None) -> Iterator[Problem]:
    """`size` problems from one `random.Random(seed)` stream (same seed, same problems).

    >>> p = next(iter_arrows(1, seed=0))
    >>> path = p.meta["path"]
    >>> p.answer == str(path[-1]), f"{path[0]} -> {path[1]}" in p.question, len(path) - 1 in (2, 3)
    (True, True, True)
    """
    cfg = check_kwargs(kwargs or {})
    rng = random.Random(seed)
    for index in range(size):
        hops = rng.randint(cfg["min_hops"], cfg["max_hops"])
        others = [rng.randint(1, 2) for _ in range(cfg["chains"])]
        values = rng.sample(range(10, 100), hops + 1 + sum(n + 1 for n in others))
        path, rest = values[: hops + 1], values[hops + 1 :]
        arrows = list(zip(path, path[1:]))
        for n in others:
            chain, rest = rest[: n + 1], rest[n + 1 :]
            arrows += list(zip(chain, chain[1:]))
        rng.shuffle(arrows)
        inorder = cfg["inorder_pct"] > 0 and rng.randrange(100) < cfg["inorder_pct"]   # no draw at 0: same streams
        lead = list(zip(path, path[1:]))[: hops if inorder else cfg["start_first"]]
        arrows = lead + [a for a in arrows if a not in lead]
        if cfg["second_elsewhere"] and not inorder and arrows[1] == (path[1], path[2]):
            j = rng.randint(2, len(arrows) - 1)
            arrows[1], arrows[j] = arrows[j], arrows[1]
        listed = ", ".join(f"{a} -> {b}" for a, b in arrows)
        question = (f"Arrows: {listed}. Start at {path[0]} and follow the arrows until you reach a number with no "
                    "arrow from it. Which number is it?")
        yield Problem(id=f"{NAME}:{seed}:{index}", question=question, answer=str(path[-1]), task=NAME, lang="en",
                      meta={"path": path, "arrows": [list(a) for a in arrows]})
