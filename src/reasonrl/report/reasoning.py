"""What the report says about the reasoning a run learned: train accuracy per curriculum level, and the thinking's
length for right and wrong answers and how often it checks itself, over training (issue 19's report).

The figures come from what the trainer already logs: `curriculum/level` and `acc/mean` per step in metrics.jsonl,
and the train samples in samples.jsonl (a thinking is measured as `python -m reasonrl.eval.reasoning` measures an
eval file, so a trained run's last window and its eval read alike).
"""
from __future__ import annotations

from reasonrl.eval.reasoning import reasoning_figures


def level_rows(train: list[dict], tail: int = 20) -> list[list]:
    """One row per curriculum level the run trained at: [level, first step, last step, steps, mean train accuracy
    (`acc/mean`) over the level's first `tail` steps, over its last `tail`]. A run without a curriculum: no rows.

    >>> rows = [{"step": s, "curriculum/level": int(s > 3), "acc/mean": a} for s, a in enumerate([0, .5, 1, 1, 0, 1], 1)]
    >>> level_rows(rows, tail=2)
    [[0, 1, 3, 3, 0.25, 0.75], [1, 4, 6, 3, 0.5, 0.5]]
    """
    by: dict[int, list[dict]] = {}
    for r in train:
        if isinstance(r.get("curriculum/level"), (int, float)) and isinstance(r.get("acc/mean"), (int, float)):
            by.setdefault(int(r["curriculum/level"]), []).append(r)
    mean = lambda rs: sum(r["acc/mean"] for r in rs) / len(rs)  # noqa: E731
    return [[lvl, rs[0]["step"], rs[-1]["step"], len(rs), mean(rs[:tail]), mean(rs[-tail:])]
            for lvl, rs in sorted(by.items())]


def thinking_rows(samples: list[dict], windows: int = 4) -> list[list]:
    """The train samples in `windows` equal step ranges: [first step, last step, samples, mean thinking words of the
    right ones, of the wrong ones, share of thinkings that check or retry]; a window without a thinking of a kind
    shows None there.

    >>> s = [{"kind": "train", "step": st, "completion": c, "correct": ok} for st, c, ok in [
    ...     (1, "<think>a b</think>", False), (2, "<think>a b c, wait</think>", True), (3, "<think>x</think>", True)]]
    >>> thinking_rows(s, windows=2)
    [[1, 2, 2, 4.0, 2.0, 0.5], [3, 3, 1, 1.0, None, 0.0]]
    """
    train = sorted((s for s in samples if s.get("kind") == "train" and isinstance(s.get("step"), int)),
                   key=lambda s: s["step"])
    if not train:
        return []
    lo, hi = train[0]["step"], train[-1]["step"]
    width = max(1, -(-(hi - lo + 1) // windows))       # ceil: `windows` ranges cover every step
    out = []
    for a in range(lo, hi + 1, width):
        rows = [s for s in train if a <= s["step"] < a + width]
        if not rows:
            continue
        f = reasoning_figures({"problems": [{"samples": [
            {"response": s.get("completion") or "", "correct": bool(s.get("correct"))} for s in rows]}]})
        out.append([rows[0]["step"], rows[-1]["step"], len(rows), f["think_words_correct"], f["think_words_wrong"],
                    f["check_rate"]])
    return out
