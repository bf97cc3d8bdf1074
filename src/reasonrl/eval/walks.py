"""How an arrows run wrote its walks, window by window of training steps, from the run's samples.jsonl.

    python -m reasonrl.eval.walks runs/x/samples.jsonl [--window 20]

Per window: the share of the walk the thinkings write (`rewards.steps.walked`), how often two or more hops are
written, and that rate split by whether the walk's second arrow is the question's second listed arrow. Why the
split (issue 19, session 26): with `start_first: 1` the first arrow is always listed first, so a thinking that copies
the list's first two arrows writes the second hop exactly when it is listed second (about 1 question in 4). Written
two hops only there = the positional copy; written as often elsewhere = the content match (the arrow that starts at
the number reached), which is the lookup the task is meant to teach. (A copied second arrow that starts at the walk's third number also
reads as two hops: "23 -> 57, 36 -> 90" with 57 -> 36 unwritten; ~15% of the other questions.)
"""
from __future__ import annotations

import argparse
import json
import re

from reasonrl.rewards.format import thinking_text
from reasonrl.rewards.steps import walked

ARROW = re.compile(r"(\d+) -> (\d+)")
START = re.compile(r"Start at (\d+)")


def walk_of(question: str) -> tuple[list[tuple[int, int]], list[int]]:
    """(the listed arrows in order, the walk from the start) read from an arrows question alone.

    >>> walk_of("Arrows: 23 -> 57, 81 -> 14, 57 -> 36. Start at 23 and follow the arrows ...")
    ([(23, 57), (81, 14), (57, 36)], [23, 57, 36])
    """
    listed = [(int(a), int(b)) for a, b in ARROW.findall(question.split(". Start", 1)[0])]
    start = START.search(question)
    if not listed or start is None:
        raise ValueError(f"not an arrows question: {question[:80]!r}")
    nxt, path = dict(listed), [int(start.group(1))]
    while path[-1] in nxt and len(path) <= len(listed):
        path.append(nxt[path[-1]])
    return listed, path


def walk_windows(rows: list[dict], window: int = 20) -> list[dict]:
    """Per window of `window` steps, over the train rows of samples.jsonl: n, share of the walk written,
    two-or-more hops written, and that rate where the second hop is / is not the second listed arrow.

    >>> q = "Arrows: 23 -> 57, 81 -> 14, 57 -> 36. Start at 23 and follow the arrows ..."
    >>> rows = [{"kind": "train", "step": 3, "question": q, "completion": "<think>23 -> 57, 81 -> 14</think>"},
    ...         {"kind": "train", "step": 4, "question": q, "completion": "<think>23 -> 57 -> 36</think>"}]
    >>> walk_windows(rows, window=10)
    [{'steps': '0-9', 'n': 2, 'share': 0.75, 'two_hops': 0.5, 'two_hops_listed_second': None, 'two_hops_elsewhere': 0.5}]
    """
    by: dict[int, list[tuple[float, bool, bool]]] = {}
    for row in rows:
        if row.get("kind") != "train":
            continue
        listed, path = walk_of(row["question"])
        hops = len(path) - 1
        thinking = thinking_text(row["completion"])
        if thinking is None:   # unclosed: score what follows <think>, as arrow_steps does
            thinking = row["completion"].split("<think>", 1)[-1]
        right, _ = walked(thinking, path) if hops else (0, 0)
        second_listed = hops >= 2 and len(listed) > 1 and listed[1] == (path[1], path[2])
        by.setdefault(row["step"] // window, []).append((min(right, hops) / max(hops, 1), right >= 2, second_listed))

    def rate(xs: list[bool]) -> float | None:
        return round(sum(xs) / len(xs), 2) if xs else None

    return [{"steps": f"{w * window}-{w * window + window - 1}", "n": len(v),
             "share": round(sum(s for s, _, _ in v) / len(v), 2), "two_hops": rate([t for _, t, _ in v]),
             "two_hops_listed_second": rate([t for _, t, second in v if second]),
             "two_hops_elsewhere": rate([t for _, t, second in v if not second])}
            for w, v in sorted(by.items())]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m reasonrl.eval.walks", description=__doc__.split("\n")[0])
    ap.add_argument("samples", help="a run's samples.jsonl (an arrows task)")
    ap.add_argument("--window", type=int, default=20, help="steps per row")
    args = ap.parse_args(argv)
    with open(args.samples, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    try:
        windows = walk_windows(rows, args.window)
    except (KeyError, ValueError) as e:   # a row without a question, or another task's
        raise SystemExit(f"python -m reasonrl.eval.walks: {args.samples}: {e}") from None
    print("steps      n  share  >=2 hops  (2nd hop listed 2nd / elsewhere)")
    for w in windows:
        print(f"{w['steps']:>9} {w['n']:4d}  {w['share']:.2f}   {w['two_hops']:.2f}      "
              f"({w['two_hops_listed_second']} / {w['two_hops_elsewhere']})")


if __name__ == "__main__":
    main()
