"""Split a completion into thinking and answer, and count "aha" reflection phrases over training.

The R1-Zero paper (DeepSeek-AI 2025, fig. 3 and table 3) reads emergent reasoning off two curves:
response length growing over RL steps, and the model starting to re-check itself ("Wait, ...").
We measure the second as the fraction of completions whose thinking contains any reflection
phrase, English or Chinese, per logged step (or per bucket of steps for long runs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# English phrases match as whole words (so "waiting" is not "wait"); Chinese ones as substrings,
# since Chinese has no word boundaries. 重新 ("again/afresh") also covers 重新检查/重新计算.
REFLECTION_PHRASES = (
    "wait", "let me check", "let me verify", "double-check", "recheck",
    "等等", "重新", "检查", "验证",
)


def _pattern(phrase: str) -> re.Pattern:
    if phrase.isascii():
        return re.compile(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])", re.IGNORECASE)
    return re.compile(re.escape(phrase))


_PATTERNS = {p: _pattern(p) for p in REFLECTION_PHRASES}


def split_thinking(text: str) -> tuple[str | None, str]:
    """(thinking, answer). thinking is None when the reply has no think tags at all.

    The prompt often pre-fills "<think>", so a reply may start inside the thinking and only
    contain the closing tag. An unclosed "<think>" (truncated reply) is all thinking, no answer.

    >>> split_thinking("<think>2+2=4</think> <answer>4</answer>")
    ('2+2=4', '<answer>4</answer>')
    >>> split_thinking("2+2... wait, 4.</think>4")
    ('2+2... wait, 4.', '4')
    >>> split_thinking("<think>still going")
    ('still going', '')
    >>> split_thinking("just 4")
    (None, 'just 4')
    """
    close = text.find("</think>")
    if close >= 0:
        head, answer = text[:close], text[close + len("</think>"):]
        open_ = head.find("<think>")
        thinking = head[open_ + len("<think>"):] if open_ >= 0 else head
        return thinking.strip(), answer.strip()
    open_ = text.find("<think>")
    if open_ >= 0:
        return text[open_ + len("<think>"):].strip(), ""
    return None, text.strip()


def reflection_hits(text: str) -> list[str]:
    """The reflection phrases found in `text`, in REFLECTION_PHRASES order.

    >>> reflection_hits("Wait, let me check: 3*4=12. Waiting is not a hit.")
    ['wait', 'let me check']
    >>> reflection_hits("等等，我重新算一下")
    ['等等', '重新']
    >>> reflection_hits("await the result")
    []
    """
    return [p for p, pat in _PATTERNS.items() if pat.search(text)]


def reflection_text(completion: str) -> str:
    """What we scan for reflection: the thinking, or the whole reply when it has no think tags."""
    thinking, answer = split_thinking(completion)
    return answer if thinking is None else thinking


@dataclass
class AhaPoint:
    """Reflection statistics for one step (or one bucket of steps)."""

    step: float  # the bucket's mean step
    n: int  # completions counted
    reflect_frac: float  # fraction with any reflection phrase
    think_chars: float  # mean length of the scanned text, in characters (tokens are not logged)
    phrases: dict[str, float]  # per-phrase fraction of completions


def aha_by_step(samples: list[dict], max_points: int = 25) -> list[AhaPoint]:
    """One AhaPoint per logged step; with more than `max_points` steps, consecutive steps are
    pooled into `max_points` buckets so the curve is not dominated by per-step sampling noise.

    >>> rows = [{"step": 1, "completion": "<think>4</think>4"},
    ...         {"step": 1, "completion": "<think>Wait, 5?</think>4"},
    ...         {"step": 2, "completion": "<think>等等, 4</think>4"}]
    >>> [(p.step, p.n, p.reflect_frac) for p in aha_by_step(rows)]
    [(1.0, 2, 0.5), (2.0, 1, 1.0)]
    """
    by_step: dict[int, list[str]] = {}
    for s in samples:
        if isinstance(s.get("step"), (int, float)) and isinstance(s.get("completion"), str):
            by_step.setdefault(s["step"], []).append(reflection_text(s["completion"]))
    steps = sorted(by_step)
    if not steps:
        return []
    n_buckets = min(len(steps), max_points)
    points = []
    for b in range(n_buckets):
        chunk = steps[b * len(steps) // n_buckets:(b + 1) * len(steps) // n_buckets]
        texts = [t for st in chunk for t in by_step[st]]
        hits = [set(reflection_hits(t)) for t in texts]
        points.append(AhaPoint(
            step=sum(chunk) / len(chunk),
            n=len(texts),
            reflect_frac=sum(1 for h in hits if h) / len(texts),
            think_chars=sum(len(t) for t in texts) / len(texts),
            phrases={p: sum(1 for h in hits if p in h) / len(texts) for p in REFLECTION_PHRASES},
        ))
    return points
