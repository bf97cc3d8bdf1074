"""The last mathematical expression in free text, whole, the way math-verify finds it (no sympy).

Used by the lenient fallback of `extract_answer` (a reply with no `<answer>`, no `\\boxed{}` and no
"the answer is") and to read references written as LaTeX:
- the last math block, `$…$`, `\\(…\\)` (one line), `$$…$$`, `\\[…\\]` (may span lines), with blocks joined
  to it by "," / "and" / "or" kept together (so `$12$ or $13$` stays a hedge and `$-2$ and $1$` a list);
- else (or when a bare expression comes after the last block) the last bare expression or number, whole:
  `-\\frac{10}{9}`, `\\frac13`, `\\sqrt3`, `.4`, `1 000`, `1,000.99€`, `10^{-3}`, `(9+1)`, `[0,1)`, a matrix.
  Never a digit run cut out of one (`\\frac{10}{9}` is not `9`), and a word ends it.
Linear time: regexes without nested unbounded quantifiers over at most the last `MAX_SCAN` characters.
"""
from __future__ import annotations

import re

MAX_DELIMITED = 20_000  # longer text keeps its delimiters: pairing them costs Python time per token
MAX_SCAN = 4000  # a final answer sits at the end; scanning a 1 MB reply whole would only cost time
# Delimiter tokens, paired in one linear pass (a lazy regex per opener would rescan the text from each one)
_DELIMS = re.compile(r"(?<!\\)\$\$|(?<!\\)\$|(?<!\\)\\\[|\\\]|(?<!\\)\\\(|\\\)")
_CLOSER = {"$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}
_JOINER = re.compile(r"\s*(?:,?\s*(?:and|or|或者|或|和|及)|,|，|、)\s*$", re.I)
_PLAIN = re.compile(r"[.。!！?？:：;；\s]*$")
# One bare math run: LaTeX commands, digits, operators, brackets, currency/percent, single-letter variables,
# and the spaces between them. Words of two or more letters end it.
_RUN = re.compile(r"(?:\\[a-zA-Z]+\*?|\\[{}!,;: %$]|[0-9]|[.,](?=\s?[0-9])|[-+*/^_=<>!|%€£¥′°()\[\]{}&]"
                  r"|(?<![A-Za-z])[A-Za-z](?![A-Za-z])|[ \t])+")
_HAS_MATH = re.compile(r"[0-9]|\\(?:frac|dfrac|tfrac|cfrac|sqrt|pi|infty|begin|emptyset|varnothing)")
_STRAY_LETTERS = re.compile(r"^(?:[A-Za-z]\s+(?![=<>\\]))+|(?:\s+[A-Za-z](?![\w{(]))+$")
_HEDGE_BEFORE = re.compile(r"\b(?:maybe|perhaps|possibly|probably|either|or)\b|或者|或|可能|也许|大概|要么", re.I)
_PERCENT_AFTER = re.compile(r"\s*(?:\\?%|percentage\b|percent\b|pct\b)", re.I)
_PERCENT_WORD = re.compile(r"\s*(?:percentage|percent|pct)\b", re.I)
_UNIT_TAIL = re.compile(r"\\(?:text|textnormal|textbf|mathrm|mbox)\s*\{[^{}]{0,40}\}\s*(?:\^\s*\{?\d\}?)?\s*$")


def math_blocks(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` block, in order. Inline blocks
    (`$…$`, `\\(…\\)`) stay on one line, and a `$` right after a digit closes nothing new (`5$ and $6`).

    >>> [b[2] for b in math_blocks(r"so $x=1$ and \\(y\\) then $$\\frac{1}{2}$$")]
    ['x=1', 'y', '\\\\frac{1}{2}']
    """
    tokens = [(m.start(), m.end(), m.group()) for m in _DELIMS.finditer(text)]
    following: dict[str, list[int]] = {}  # for each token kind, the index of its next occurrence at or after i
    for kind in ("$$", "$", "\\]", "\\)"):
        nxt, at = [len(tokens)] * (len(tokens) + 1), len(tokens)
        for i in range(len(tokens) - 1, -1, -1):
            at = i if tokens[i][2] == kind else at
            nxt[i] = at
        following[kind] = nxt
    blocks, i = [], 0
    while i < len(tokens):
        start, open_end, kind = tokens[i]
        closer = _CLOSER.get(kind)
        if closer is None or kind == "$" and start > 0 and text[start - 1].isdigit():
            i += 1
            continue
        j = following[closer][i + 1]
        content = text[open_end:tokens[j][0]] if j < len(tokens) else ""
        if j >= len(tokens) or not content.strip() or kind in ("$", "\\(") and "\n" in content:
            i += 1
            continue
        blocks.append((start, tokens[j][1], content))
        i = j + 1
    return blocks


def _balanced(s: str) -> str:
    """Drop trailing closers that open nowhere in `s` (a sentence's ")" after the answer), and trim."""
    s = s.strip()
    for _ in range(4):
        s = s.strip().rstrip(".,;:")
        opens = {")": s.count("(") + s.count("["), "]": s.count("[") + s.count("("), "}": s.count("{")}
        closes = {")": s.count(")") + s.count("]"), "]": s.count("]") + s.count(")"), "}": s.count("}")}
        if s and s[-1] in opens and closes[s[-1]] > opens[s[-1]]:
            s = s[:-1]
        else:
            break
    while s and s[0] in ")]}":
        s = s[1:].lstrip()
    while s and s[-1] in "([{" and not s.endswith("\\{"):
        s = s[:-1].rstrip()  # "12 (" of "12 (see above)": the opener belongs to the prose after it
    return s.strip()


def _join_back(text: str, start: int, spans: list[tuple[int, int, str]], content: str) -> tuple[int, str]:
    """Prepend earlier spans joined to this one by ',', 'and', 'or' (up to 5): (new start, joined text)."""
    parts = [content]
    for s0, s1, c in reversed(spans):
        if len(parts) >= 6 or s1 > start:
            continue
        gap = text[s1:start]
        if not _JOINER.fullmatch(gap):
            break
        joiner = gap.strip() or ","
        parts.insert(0, f"{c.strip()} {joiner} " if joiner not in ",，、" else f"{c.strip()}, ")
        start = s0
    return start, "".join(parts).strip()


def last_math_span(text: str) -> str | None:
    """The last mathematical expression in `text`, or None when there is none.

    >>> [last_math_span(t) for t in [r"so it is \\frac{10}{9}.", "Answer $ \\\\frac{1}{3} $ cm", ".4", "1 000"]]
    ['\\\\frac{10}{9}', '\\\\frac{1}{3}', '.4', '1 000']
    >>> last_math_span("the number is not 10 which is 1,000.99€"), last_math_span("It is $12$ or $13$.")
    ('1,000.99€', '12 or 13')
    >>> last_math_span("Thus the sum is (9+1)."), last_math_span("no math here") is None
    ('(9+1)', True)
    """
    if not isinstance(text, str):
        return None
    text = text[-MAX_SCAN:]
    blocks = [b for b in math_blocks(text) if _HAS_MATH.search(b[2]) or b[2].strip()]
    last_block_end = blocks[-1][1] if blocks else 0
    runs = [(r0 + last_block_end, r1 + last_block_end, c) for r0, r1, c in _all_runs(text[last_block_end:])]
    if runs:  # a bare expression after the last block ends later: it is the last one (as in math-verify)
        return _with_hedge(text, *_join_back(text, runs[-1][0], runs[:-1], runs[-1][2]))
    if not blocks:
        return None
    s0, s1, content = blocks[-1]
    content = _balanced(content)
    if _PERCENT_AFTER.match(text, s1) and not content.endswith("%"):
        content += "%"  # "$28$ %", "$28$ percent"
    return _with_hedge(text, *_join_back(text, s0, blocks[:-1], content))


def _with_hedge(text: str, start: int, span: str) -> str | None:
    """"maybe 13", "可能是13": a hedge word just before the expression stays with it, so it is judged a hedge."""
    before = re.split(r"[.。!！?？;；\n]", text[max(0, start - 40):start])[-1]
    hedge = _HEDGE_BEFORE.search(before)
    return (before[hedge.start():].strip() + " " + span if hedge else span) or None


def _all_runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, trimmed text) of each bare math run holding a number or a math command."""
    runs = []
    for m in _RUN.finditer(text):
        if _HAS_MATH.search(m.group()):
            cleaned = _STRAY_LETTERS.sub("", _balanced(m.group()[-500:]))  # capped: the trims are not linear
            percent = _PERCENT_WORD.match(text, m.end())
            if cleaned and percent and re.search(r"\d$", cleaned):
                cleaned += "%"  # "28 percent", "28 pct": the word is part of the number
            if cleaned:
                runs.append((m.start(), m.end(), cleaned))
    return runs


def strip_math_delimiters(text: str) -> str:
    """`$…$`, `\\(…\\)`, `$$…$$`, `\\[…\\]` replaced by their contents (the text around them kept).

    >>> strip_math_delimiters("$125$ miles"), strip_math_delimiters(r"\\([0,1)\\)"), strip_math_delimiters("$5")
    ('125 miles', '[0,1)', '$5')
    """
    if "$" not in text and "\\(" not in text and "\\[" not in text or len(text) > MAX_DELIMITED:
        return text  # nothing to strip, or longer than any answer compared as math (check.MAX_ANSWER_CHARS)
    out, at = [], 0
    for start, end, content in math_blocks(text):
        out.append(text[at:start])
        out.append(content)
        at = end
    out.append(text[at:])
    return "".join(out).strip()


def clean_reference(reference: str) -> str:
    """A reference read with the same care as an answer: its last `\\boxed{}` if it has one (a reference
    that is a whole worked solution), math delimiters stripped, a trailing `\\text{…}` unit dropped.

    >>> clean_reference(r"$15\\mbox{ cm}^2$"), clean_reference(r"so \\boxed{[-2, 7]}."), clean_reference("$[0,1)$")
    ('15', '[-2, 7]', '[0,1)')
    """
    from reasonrl.rewards.extract import joined_boxed  # extract imports this module: import here, not at the top
    if not isinstance(reference, str):
        return reference
    boxed = joined_boxed(reference) if "\\boxed" in reference or "\\fbox" in reference else None
    s = strip_math_delimiters(boxed if boxed is not None else reference)
    stripped = _UNIT_TAIL.sub("", s).strip()
    return stripped if _HAS_MATH.search(stripped) else s
