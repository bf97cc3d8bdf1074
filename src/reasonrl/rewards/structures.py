"""Answers with structure, compared exactly without sympy: intervals, inequalities, tuples, sets, matrices.

- Intervals keep both end types: `[2, 5]`, `[2, 5)`, `(2, 5]` and `(2, 5)` all differ; `x<3` = `(-\\infty, 3)`;
  a chain `2 \\le x < 5` = `[2, 5)`; unions `(-\\infty, -3] \\cup [2, \\infty)` compare interval by interval.
- Tuples keep order (`(2, 3) != (3, 2)`, `(2, 3) != [2, 3]`); sets and bare solution lists do not.
- Matrices (`pmatrix`, `bmatrix`, `array`, …) compare entry by entry when every entry is a number.
Anything these cannot read returns None, and the caller goes on to the next rule.
"""
from __future__ import annotations

import re
from fractions import Fraction

from reasonrl.rewards.normalize import _VAR_EQ, parse_number, strip_decorations, unwrap

def _number(text: str) -> tuple[Fraction | None, str, bool]:
    core, approx = strip_decorations(text)
    return parse_number(core), core, approx


def _split_list(text: str) -> tuple[str, list[str]] | None:
    """("()", items) for "(2, 3)", "[)" for "[2, 5)", "{}" for sets, "" for a bare list "2, 3"; None if
    not a list. Both brackets are kept: `[2, 5]`, `[2, 5)` and `(2, 5]` are different intervals."""
    s = unwrap(text).replace("\\{", "{").replace("\\}", "}")
    s = _VAR_EQ.sub("", re.sub(r"^[a-zA-Z]\s*(?:\\in|∈)\s*", "", s)).strip()  # "x \\in [2, 5)", "(p,q) = (1,2)"
    kind = ""
    if len(s) >= 2 and s[0] in "([{" and s[-1] in ")]}":
        kind, s = s[0] + s[-1], s[1:-1]
    s = re.sub(r"\s*(?:\bor\b|\band\b|或者|或|和|及|;|；|、|，)\s*", ",", s)
    items = [item.strip() for item in s.split(",")]
    if len(items) < 2 or any(not item for item in items) or re.search(r"[()\[\]{}]", s):
        return None
    return kind, items


def _lists_match(pred: str, ref: str) -> bool | None:
    """Sets and bare lists of solutions ignore order; tuples keep it; intervals (any `[` or `]`) also
    need the same bracket at each end. None if not both numeric lists."""
    pl, rl = _split_list(pred), _split_list(ref)
    if rl is None or pl is None:
        return None
    pv = [_number(item)[0] for item in pl[1]]
    rv = [_number(item)[0] for item in rl[1]]
    if None in pv or None in rv:
        return None
    kinds = {pl[0], rl[0]}
    if kinds <= {"{}", ""}:
        return set(pv) == set(rv)
    if kinds <= {"()", ""}:
        return pv == rv
    return pl[0] == rl[0] and pv == rv  # "(2, 3)" vs "[2, 3]", "[2, 5]" vs "[2, 5)": different


_INEQ = re.compile(r"^[a-zA-Z]\s*(<=|>=|<|>|\\leq?|\\geq?|≤|≥|\\lt|\\gt)\s*([^<>=]+)$")
_CHAIN = re.compile(r"^([^<>=a-zA-Z]+?)\s*(<|\\leq?|≤|\\lt)\s*[a-zA-Z]\s*(<|\\leq?|≤|\\lt)\s*([^<>=]+)$"
                    r"|^([^<>=a-zA-Z]+?)\s*(>|\\geq?|≥|\\gt)\s*[a-zA-Z]\s*(>|\\geq?|≥|\\gt)\s*([^<>=]+)$")
_INTERVAL = re.compile(r"^(?:[a-zA-Z]\s*(?:\\in|∈)\s*)?([(\[])\s*([^,]+?)\s*,\s*([^,]+?)\s*([)\]])$")
_STRICT_OPS = ("<", ">", "\\lt", "\\gt")


def _bound(text: str) -> Fraction | float | None:
    t = text.replace(" ", "")
    if t in ("\\infty", "+\\infty", "∞", "+∞", "inf", "oo"):
        return float("inf")
    if t in ("-\\infty", "-∞", "-inf", "-oo"):
        return float("-inf")
    return _number(text)[0]


def _chain_interval(s: str) -> tuple | None:
    """`2 \\le x < 5` -> (2, 5, True, False); `5 > x \\ge 2` -> the same; None if not a chain."""
    m = _CHAIN.match(s)
    if m is None:
        return None
    if m.group(1) is not None:
        low, op_low, op_high, high = m.group(1), m.group(2), m.group(3), m.group(4)
    else:
        high, op_high, op_low, low = m.group(5), m.group(6), m.group(7), m.group(8)
    lo, hi = _bound(low), _bound(high)
    if lo is None or hi is None or not lo < hi:
        return None
    return (lo, hi, op_low not in _STRICT_OPS, op_high not in _STRICT_OPS)


def as_interval(text: str) -> tuple | None:
    """(low, high, low_closed, high_closed) for "x<3", "x \\ge 2", "2 \\le x < 5", "(-\\infty, 3)", "[2, 5)";
    else None.

    >>> as_interval("x<3") == as_interval("(-\\infty, 3)"), as_interval("x \\le 3") == as_interval("(-\\infty, 3)")
    (True, False)
    >>> as_interval("2 \\le x < 5") == as_interval("[2, 5)"), as_interval("2 \\le x < 5") == as_interval("[2, 5]")
    (True, False)
    """
    s = unwrap(text).replace("\\left", "").replace("\\right", "")
    chain = _chain_interval(s)
    if chain is not None:
        return chain
    m = _INEQ.match(s)
    if m:
        value = _bound(m.group(2))
        if value is None:
            return None
        op = m.group(1)
        if op in ("<", "\\lt", "\\le", "\\leq", "≤", "<="):
            return (float("-inf"), value, False, op not in _STRICT_OPS)
        return (value, float("inf"), op not in _STRICT_OPS, False)
    m = _INTERVAL.match(s)
    if m:
        low, high = _bound(m.group(2)), _bound(m.group(3))
        if low is None or high is None or not low < high:
            return None  # (3, 2) is a point, not an interval
        return (low, high, m.group(1) == "[", m.group(4) == "]")
    return None


def _intervals_match(pred: str, ref: str) -> bool | None:
    """When the reference is an inequality, a chain `a < x \\le b`, or an interval with an infinite end (so
    no tuple reading), or the answer is a chain: same ends, each open or closed alike."""
    r = as_interval(ref)
    if r is None:
        return None
    is_ineq = _INEQ.match(unwrap(ref)) is not None or _CHAIN.match(unwrap(ref)) is not None
    if abs(r[0]) != float("inf") and abs(r[1]) != float("inf") and not is_ineq and _CHAIN.match(unwrap(pred)) is None:
        return None
    p = as_interval(pred)
    return None if p is None else p == r


_MATRIX = re.compile(r"^\\begin\s*\{([pbvBV]?matrix|array)\}(?:\s*\{[lcr| ]*\})?(.*?)\\end\s*\{\1\}$", re.S)


def as_matrix(text: str) -> list[list[Fraction]] | None:
    """Rows of exact entries for a numeric matrix, else None.

    >>> as_matrix(r"\\begin{pmatrix}1 & 2 \\\\ 3 & \\frac{1}{2}\\end{pmatrix}") == as_matrix(r"\\begin{bmatrix}1&2\\\\3&0.5\\end{bmatrix}")
    True
    """
    # not unwrap(): it reads the "\\ " of a row break as a LaTeX space
    s = text.replace("\\left", "").replace("\\right", "").strip().strip("$").strip().strip("[]() ").strip()
    m = _MATRIX.match(s)
    if m is None:
        return None
    rows = [row for row in re.split(r"\\\\", m.group(2)) if row.strip()]
    values = [[_number(cell)[0] for cell in row.split("&")] for row in rows[:50]]
    if not values or any(v is None for row in values for v in row) or len({len(row) for row in values}) != 1:
        return None
    return values


def _unions_match(pred: str, ref: str) -> bool | None:
    """`A \\cup B` against `C \\cup D`: the same intervals (in any order); None unless every piece reads."""
    if "\\cup" not in ref and "\\cup" not in pred:
        return None
    pieces = [[as_interval(part) for part in unwrap(side).split("\\cup")] for side in (pred, ref)]
    if any(None in side for side in pieces):
        return None
    return sorted(pieces[0]) == sorted(pieces[1])


def structures_match(pred: str, ref: str) -> bool | None:
    """Intervals, unions, lists/tuples/sets and matrices, in that order; None when none of them applies."""
    for rule in (_intervals_match, _unions_match, _lists_match):
        decided = rule(pred, ref)
        if decided is not None:
            return decided
    pm, rm = as_matrix(pred), as_matrix(ref)
    if rm is not None:
        return pm == rm if pm is not None else (False if _number(pred)[0] is not None else None)
    if pm is not None and _number(ref)[0] is not None:
        return False  # a matrix is not a number
    return None
