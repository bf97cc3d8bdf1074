"""What the thinking looks like in an eval file: its length for right vs wrong answers, and how often it checks.

    python -m reasonrl.eval.reasoning runs/x/eval/chain_sum-heldout-greedy.json

A "check" is a thinking that says so ("let me check", "verify", "wait", "验证", "检查") or recomputes:
the same `a op b = c` step written twice (a retry), or a step whose result it then writes differently
(a correction). Matched on the text inside `<think>…</think>`; a pre-filled `<think>` counts (the
responses in eval files include the prefill). Covers English and Chinese cue words only.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from reasonrl.rewards.format import thinking_text

CHECK_WORDS = re.compile(r"let me (?:check|verify|recheck|re-check)|\bcheck(?:ing)?\b|\bverif(?:y|ied|ication)\b|"
                         r"\bwait\b|\bdouble[- ]check|\bre-?calculat|验证|检查|再算|等等", re.IGNORECASE)
STEP = re.compile(r"(-?\d+)\s*([-+*/×÷])\s*(-?\d+)\s*=\s*(-?\d+)")


def checks(thought: str) -> bool:
    """True when the thinking checks itself: a cue word, or the same step computed twice.

    >>> checks("4 + 3 = 7. Let me check: 4 + 3 = 7"), checks("4 + 3 = 8, wait"), checks("4 + 3 = 7, 7 - 5 = 2")
    (True, True, False)
    >>> checks("4 + 3 = 8. 4 + 3 = 7")     # recomputed and corrected, no cue word
    True
    """
    if CHECK_WORDS.search(thought):
        return True
    steps = [(a, op, b) for a, op, b, _ in STEP.findall(thought)]
    return len(steps) != len(set(steps))


def reasoning_figures(result: dict) -> dict:
    """Thinking length in words of right and wrong samples, the share that check, and the counts.

    >>> r = {"problems": [{"samples": [
    ...     {"response": "<think>\\n4 + 3 = 7, check: 4 + 3 = 7</think><answer>7</answer>", "correct": True},
    ...     {"response": "<think>\\n8</think><answer>8</answer>", "correct": False},
    ...     {"response": "no thinking at all", "correct": False}]}]}
    >>> f = reasoning_figures(r)
    >>> f["think_words_correct"], f["think_words_wrong"], f["check_rate"], f["n_thinking"], f["n_samples"]
    (11.0, 1.0, 0.5, 2, 3)
    """
    right, wrong, checked, n = [], [], 0, 0
    for p in result["problems"]:
        for s in p["samples"]:
            n += 1
            thought = thinking_text(s["response"])
            if thought is None:
                continue
            (right if s["correct"] else wrong).append(len(thought.split()))
            checked += checks(thought)
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    thinking = len(right) + len(wrong)
    return {"think_words_correct": mean(right), "think_words_wrong": mean(wrong),
            "check_rate": checked / thinking if thinking else None, "n_thinking": thinking, "n_samples": n}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m reasonrl.eval.reasoning EVAL.json", file=sys.stderr)
        return 2
    from reasonrl.eval.results import read_result

    try:
        result = read_result(argv[0])
    except (FileNotFoundError, ValueError) as e:
        print(f"reasonrl eval.reasoning: {e}", file=sys.stderr)
        return 2
    print(json.dumps(reasoning_figures(result), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
