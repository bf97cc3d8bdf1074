"""Find the final answer in a completion (English and Chinese).

Order: the single `<answer>…</answer>` after the thinking, else the last `\\boxed{…}` after the thinking,
else the last final-answer phrase ("the answer is X", "final answer: X", "答案是 X", "最终答案：X",
"所以…是 X"), else (only with `lenient=True`) the last mathematical expression, whole, as math-verify
finds it (`latex_span.last_math_span`), and of an equation chain its last side.
Wrong on purpose (returns None): an unclosed `<think>`, two or more `<answer>` blocks after the thinking,
an unclosed `<answer>`, an empty answer. Anything inside `<think>…</think>` is a draft and never counts.
Does not judge hedging or notes to the grader: that needs the reference (see `equivalence.py`).
Linear time: only `str.find` and regexes without nested quantifiers, so a 1 MB completion is cheap.
"""
from __future__ import annotations

import re

from reasonrl.rewards.equivalence import addresses_grader
from reasonrl.rewards.latex_span import MAX_DELIMITED, MAX_SCAN, last_math_span

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANS_OPEN, _ANS_CLOSE = "<answer>", "</answer>"
_PHRASES = [
    re.compile(r"\banswer(?:\s+(?:to|for)\s+[^.\n:]{1,60}?)?\s*(?:\*\*)?\s*(?:\bis\b|=|:|：)\s*[:：]?\s*(?:\*\*)?\s*(?=\S)",
               re.I),
    re.compile(r"(?:最终答案|最后答案|正确答案|答案|最终结果|结果|解集|定义域|值域|取值范围)\s*(?:应该?是|应为|是|为|[:：=])\s*"),
    # "所以…是 X", and the word-problem conclusions "所以一共有12个", "因此还剩5个", "因此需要3辆"
    re.compile(r"(?:所以|因此|故|综上所述|综上|于是)[^。\n!！?？]{0,40}?(?:是|为|等于|=|有|剩下?|需要?|要)\s*"),
    re.compile(r"(?:故|所以|因此|应|答)[,，]?\s*选(?:择|项)?\s*(?=[(（]?[A-Ja-j])"),
]
_SENTENCE_END = re.compile(r"\n|。|！|!|？|\?|\.(?=\s|$)|；|;|，(?=\s*[\u4e00-\u9fff])"
                           r"|[,，]?\s+(?:because|since|as|which|so|given|where)\b")
_SENTENCE_IS = re.compile(r"^(?=.*[A-Za-z]{2,}.*\s(?:is|are|equals|was)\s)(?:.*\s)?(?:is|are|equals|was)\s+(.+)$", re.I)
_BOX_BARE = re.compile(r"\\boxed\s+([^\s${][^\s$]*)")
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_JOINER = re.compile(r"|,|，|、|(?:,\s*)?(?:and|or)|或者|或|和|及", re.I)
_EQUALS = re.compile(r"(?<![<>!\\])=")
_LISTED = re.compile(r",|\b(?:and|or)\b|或|和")


def _after_thinking(text: str) -> str | None:
    """The part of the completion after the thinking, or None if the thinking is unclosed.

    A completion that starts right after a pre-filled `<think>` (so it has `</think>` but no opening tag)
    is treated as if `<think>` were at its start.
    """
    open_at = text.find(_THINK_OPEN)
    close_at = text.find(_THINK_CLOSE)
    if open_at < 0 and close_at < 0:
        return text
    if close_at < 0 or (open_at >= 0 and text.find(_THINK_CLOSE, open_at) < 0):
        return None
    if open_at >= 0 and open_at < close_at:
        close_at = text.find(_THINK_CLOSE, open_at)
    tail = text[close_at + len(_THINK_CLOSE):]
    # A second thinking block after the first is still thinking; an unclosed one makes the reply wrong.
    while _THINK_OPEN in tail:
        start = tail.find(_THINK_OPEN)
        end = tail.find(_THINK_CLOSE, start)
        if end < 0:
            return None
        tail = tail[:start] + tail[end + len(_THINK_CLOSE):]
    return tail


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{…}` / `\\fbox{…}` (braces balanced), or None.

    >>> last_boxed(r"so $\\boxed{\\frac{1}{2}}$ and not \\boxed{3")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"\\boxed 5")
    '5'
    """
    spans = boxed_spans(text)
    bare = None
    for bare in _BOX_BARE.finditer(text[spans[-1][1]:] if spans else text):
        pass  # the last "\\boxed 5" after the last braced box, if any
    if bare is not None:
        return bare.group(1)
    return spans[-1][2] if spans else None


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each balanced `\\boxed{…}` / `\\fbox{…}` among the last 50, in order."""
    starts, at = [], len(text)
    while len(starts) < 50:  # the last 50 openings, found from the end: bounded work on a wall of boxes
        at = max(text.rfind("\\boxed", 0, at), text.rfind("\\fbox", 0, at))
        if at < 0:
            break
        starts.append(at)
    spans = []
    for m in (_BOX_OPEN.match(text, start) for start in reversed(starts)):
        if m is None or spans and m.start() < spans[-1][1]:
            continue  # "\\boxed 5" without braces, or a box inside a box
        depth = 1
        for i in range(m.end(), min(len(text), m.end() + 5000)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                spans.append((m.start(), i + 1, text[m.end():i]))
                break
    return spans


def joined_boxed(text: str) -> str | None:
    """The last box, with the boxes joined to it by ',' / 'and' / 'or' kept: `\\boxed{-2} and \\boxed{1}` is
    the list "-2 and 1", and `\\boxed{12} or \\boxed{13}` stays the hedge it is. None without a box.

    >>> joined_boxed(r"so \\boxed{3}. Then $\\boxed{-2}$ and $\\boxed{1}$."), joined_boxed(r"\\boxed 5")
    ('-2 and 1', '5')
    """
    spans, last = boxed_spans(text), last_boxed(text)
    if not spans or last != spans[-1][2]:
        return last  # no braced box, or a "\\boxed 5" after the braced ones
    parts, start = [spans[-1][2].strip()], spans[-1][0]
    for s0, s1, content in reversed(spans[:-1]):
        gap = re.sub(r"\$|\\[,;:! ]|\\quad|\\qquad|\\text\s*\{\s*(\w+)\s*\}", r" \1", text[s1:start]).strip()
        joiner = _BOX_JOINER.fullmatch(gap)
        if joiner is None or len(parts) >= 6:
            break
        parts.insert(0, content.strip() + (", " if gap in (",", "") else f" {gap} "))
        start = s0
    return "".join(parts).strip()


def _phrase_answer(text: str) -> str | None:
    """The text after the last final-answer phrase, up to the end of its sentence."""
    best = None
    for pattern in _PHRASES:
        for m in pattern.finditer(text):
            if best is None or m.end() > best:
                best = m.end()
    if best is None:
        return None
    rest = text[best:]
    end = _SENTENCE_END.search(rest)
    answer = (rest[:end.start()] if end else rest).strip().strip("*").strip()
    if answer.count("$") % 2 == 1:  # the phrase began inside "$x=\\sqrt{3}$": drop the lone closing "$"
        answer = answer.strip("$").strip()
    said = _SENTENCE_IS.match(answer) if len(answer) <= 300 else None
    if said and not addresses_grader(answer):  # "Final Answer: The largest $n$ is 34" -> "34"
        answer = said.group(1).strip()
    return answer or None


def _refine(answer: str) -> str:
    """An answer block that itself says "the answer is \\boxed{12}" -> "12"."""
    if len(answer) > MAX_DELIMITED:
        return answer  # only ever compared as exact text (check.MAX_ANSWER_CHARS): no need to look inside
    if addresses_grader(answer):
        return answer  # keep the note whole, so the equivalence step sees it and rejects
    boxed = joined_boxed(answer)
    if boxed is not None:
        return boxed
    phrase = _phrase_answer(answer)
    return phrase if phrase is not None else answer


def lenient_answer(text: str) -> str | None:
    """Last-resort answer for untagged replies: the last mathematical expression, whole (see `latex_span`),
    and of an equation chain its last side (`5 + 3 = 8` -> `8`, `$k = \\frac13$` -> `\\frac13`).

    >>> lenient_answer("5 + 3 = 8"), lenient_answer("8"), lenient_answer("The sum is 8."), lenient_answer("no idea")
    ('8', '8', '8', None)
    >>> lenient_answer(r"so it is \\frac{10}{9}"), lenient_answer("3 + 4 ="), lenient_answer("x = 2 or x = 3")
    ('\\\\frac{10}{9}', None, 'x = 2 or x = 3')
    """
    if addresses_grader(text[-MAX_SCAN:]):
        return text[-MAX_SCAN:].strip()  # kept whole, so the equivalence step sees the note and rejects
    span = last_math_span(text)
    if span is None:
        return None
    span = span.replace("−", "-")
    sides = _EQUALS.split(span)
    # "5 + 3 = 8" and "x = 5+5+1 = 11" -> the last side; "y = 2x + 1" stays an equation (the equivalence
    # step drops a lone "y =" unless the reference is itself an equation)
    if len(sides) > 2 and not _LISTED.search(span) or len(sides) == 2 and not re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", sides[0])):
        span = sides[-1].strip()
    return span or None


def extract_answer(completion: str, *, lenient: bool = False) -> str | None:
    """The extracted answer text, or None when it is missing or the reply is malformed.

    >>> extract_answer("<think>草稿：<answer>13</answer></think><answer>12</answer>")
    '12'
    >>> extract_answer("<think>So the answer is 12.</think>") is None
    True
    >>> extract_answer("First I got 15, but after rechecking, the answer is 12.")
    '12'
    >>> extract_answer("所以最终答案为 $\\\\boxed{\\\\dfrac{1}{2}}$。")
    '\\\\dfrac{1}{2}'
    >>> extract_answer("The final answer to this arithmetic problem is 10.")
    '10'
    >>> extract_answer("<answer>1</answer><answer>2</answer>") is None, extract_answer("5 + 3 = 8", lenient=True)
    (True, '8')
    """
    if not isinstance(completion, str):
        return None
    tail = _after_thinking(completion)
    if tail is None:
        return None
    n_open = tail.count(_ANS_OPEN)
    if n_open >= 2:
        return None
    if n_open == 1:
        start = tail.find(_ANS_OPEN) + len(_ANS_OPEN)
        end = tail.find(_ANS_CLOSE, start)
        if end < 0:
            return None
        answer = _refine(tail[start:end].strip())
        return answer.strip() or None
    if _ANS_CLOSE in tail:  # a stray </answer> without its opening tag: malformed
        return None
    boxed = joined_boxed(tail)
    if boxed is not None:
        return boxed.strip() or None
    phrase = _phrase_answer(tail)
    if phrase is not None:
        return phrase
    return lenient_answer(tail) if lenient else None
