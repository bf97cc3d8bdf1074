"""Format verifiers for the R1-Zero shape `<think>…</think><answer>…</answer>`.

Pre-filled `<think>`: the completion should be the whole reply including what the chat template
pre-filled (callers prepend it). A completion that starts right after a pre-filled `<think>` (it has
`</think>` but no `<think>` before it) is scored as if `<think>` were at its start, so both ways of
calling give the same score; other tools score such replies 0 forever, which is why a model there
never learns the format.
Covers the tag structure only, not whether the thinking or the answer is any good. Trailing
whitespace and end-of-text tokens (`<|im_end|>`, `<|endoftext|>`, `</s>`, `<eos>`) after
`</answer>` are allowed; any other text after it is not.
"""
from __future__ import annotations

import re

_END_TOKENS = re.compile(r"(?:\s|<\|im_end\|>|<\|endoftext\|>|</s>|<eos>|<\|eot_id\|>|<end_of_turn>)*")


def _with_think(completion: str) -> str:
    close_at = completion.find("</think>")
    open_at = completion.find("<think>")
    if close_at >= 0 and (open_at < 0 or open_at > close_at):
        return "<think>" + completion
    return completion


def format_pieces(completion: str) -> tuple[bool, bool, bool, bool]:
    """The four pieces of the format, in order; each needs the ones before it.

    1. `<think>` opens the reply (only whitespace before it; a pre-filled one counts, see module doc)
    2. `</think>` closes it
    3. exactly one `<answer>` after `</think>`
    4. `</answer>` closes it, the answer is not empty, and nothing but whitespace/end tokens follows

    >>> format_pieces("<think>a</think><answer>1</answer>")
    (True, True, True, True)
    >>> format_pieces("a</think> <answer>1</answer> more")
    (True, True, True, False)
    >>> format_pieces("The answer is 1")
    (False, False, False, False)
    """
    if not isinstance(completion, str):
        return (False, False, False, False)
    text = _with_think(completion)
    opened = text.lstrip().startswith("<think>")
    close_at = text.find("</think>") if opened else -1
    closed = close_at >= 0 and text.count("<think>", 0, close_at) == 1
    tail = text[close_at + len("</think>"):] if closed else ""
    one_answer = closed and tail.count("<answer>") == 1 and "<think>" not in tail and "</think>" not in tail
    if not one_answer:
        return (opened, closed, False, False)
    before, after_open = tail.split("<answer>", 1)
    end = after_open.find("</answer>")
    finished = (before.strip() == "" and end >= 0 and after_open[:end].strip() != ""
                and after_open.count("</answer>") == 1
                and _END_TOKENS.fullmatch(after_open[end + len("</answer>"):]) is not None)
    return (opened, closed, True, finished)


def format_ok(completion: str) -> bool:
    """Strict: `<think>…</think>` then exactly one non-empty `<answer>…</answer>`, nothing substantive after.

    >>> format_ok("<think>2+2=4</think>\\n<answer>4</answer><|im_end|>"), format_ok("<answer>4</answer>")
    (True, False)
    >>> format_ok("2+2=4</think><answer>4</answer>")  # completion after a pre-filled <think>
    True
    """
    return all(format_pieces(completion))


def format_score(completion: str) -> float:
    """Partial credit, 0.25 per piece of `format_pieces` (opened, closed, one answer, answer closed).

    A dense signal: measured here, a 0/1 format bonus never fired for a 135M model in 34 steps.

    >>> format_score("<think>a</think><answer>1</answer>"), format_score("<think>a"), format_score("hi")
    (1.0, 0.25, 0.0)
    """
    return 0.25 * sum(format_pieces(completion))


def thinking_text(completion: str) -> str | None:
    """The text inside `<think>…</think>` (None when the thinking is never closed).

    >>> thinking_text("<think> 2 + 6 = 8 </think><answer>8</answer>"), thinking_text("8</think>"), thinking_text("8")
    ('2 + 6 = 8', '8', None)
    """
    text = _with_think(completion)
    a, b = text.find("<think>"), text.find("</think>")
    return text[a + len("<think>") : b].strip() if 0 <= a < b else None


def thinking_stats(completions: list[str]) -> dict[str, float]:
    """Reward-hacking guards for the thinking: mean length in words, and distinct word bigrams / bigrams
    across the batch (1.0 = every bigram different; near 0 = the same boilerplate everywhere).

    >>> thinking_stats(["<think>2 + 6 = 8</think>", "<think>2 + 6 = 8</think>", "no tags"])
    {'think/closed_frac': 0.6666666666666666, 'think/words_mean': 5.0, 'think/distinct2': 0.5}
    """
    thoughts = [t for t in map(thinking_text, completions) if t is not None]
    words = [t.split() for t in thoughts]
    bigrams = [tuple(w[i : i + 2]) for w in words for i in range(len(w) - 1)]
    return {
        "think/closed_frac": len(thoughts) / max(len(completions), 1),
        "think/words_mean": sum(map(len, words)) / max(len(words), 1),
        "think/distinct2": len(set(bigrams)) / max(len(bigrams), 1),
    }
