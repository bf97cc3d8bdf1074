"""Reject clearly different closed forms without sympy: a tiny float evaluator for LaTeX arithmetic.

`clearly_different` only ever decides *different* (never equal): `\\frac{\\sqrt{2}}{2}` vs `2`, `3\\sqrt{13}` vs `13`,
`\\frac{x+3}{7}` vs `\\frac{x}{7}+\\frac{2}{7}` (compared at three fixed points). Equal-looking values still
go to math-verify, which decides exactly. Covers numbers, `+ - * / ^`, `\\times`, `\\cdot`, `\\div`,
`\\frac`/`\\dfrac`/`\\tfrac`/`\\cfrac` (also `\\frac13`), `\\sqrt`, `\\sqrt[n]`, `\\pi`, brackets, implicit
products (`2\\sqrt{3}`, `4x`) and single-letter variables; anything else (functions, `=`, `\\pm`, `!`, `%`,
sets, units) makes it answer None, so the caller falls through to the exact path.
Bounded: inputs over 200 characters are not read, exponents over 64 in size are refused.
`surd` gives the exact normal form c·√r of simple radicals, so `2\\sqrt{3}` = `\\sqrt{12}` and
`\\frac{\\sqrt{2}}{2}` = `\\frac{1}{\\sqrt{2}}` are decided exactly, without sympy.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

from reasonrl.rewards.normalize import unwrap

MAX_CHARS = 200
_TOKEN = re.compile(r"\s*(\d+\.\d*|\.\d+|\d+|\\[a-zA-Z]+|[a-zA-Z]|[-+*/^(){}\[\]])")
_ALIASES = {"\\times": "*", "\\cdot": "*", "\\div": "/", "\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac"}
# Where expressions in up to three variables are compared: one row per point, one generic value per variable
# (values in a fixed ratio, such as y = 2x at every point, would make different equations look alike).
_POINTS = ((0.7319, 1.9173, -0.5521), (1.4142, -0.8366, 2.2617), (-0.3917, 0.6451, 1.1283))


class _Unsupported(Exception):
    """The text uses something this evaluator does not read."""


def _tokens(text: str) -> list[str]:
    s = unwrap(text)
    out, at = [], 0
    while at < len(s):
        m = _TOKEN.match(s, at)
        if m is None:
            if s[at:].strip() == "":
                break
            raise _Unsupported(s[at:at + 10])
        tok = _ALIASES.get(m.group(1), m.group(1))
        out.append(tok)
        at = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str], env: dict[str, float]):
        self.toks, self.i, self.env = tokens, 0, env

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _Unsupported("end")
        self.i += 1
        return tok

    def expr(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.unary()
        while self.peek() is not None and self.peek() not in ("+", "-", ")", "}", "]"):
            if self.peek() in ("*", "/"):
                op = self.take()
                rhs = self.unary()
                value = value * rhs if op == "*" else value / rhs
            else:
                value *= self.power()  # implicit product: 2\sqrt{3}, 4x, (a)(b)
        return value

    def unary(self) -> float:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.unary() if self.peek() in ("-", "+") else self.atom(single_digit=True)
            if abs(exponent) > 64:
                raise _Unsupported("exponent")
            return base ** exponent
        return base

    def atom(self, single_digit: bool = False) -> float:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            if single_digit and len(tok) > 1 and tok.isdigit():
                self.toks.insert(self.i, tok[1:])  # \frac13, x^23 -> the first digit is the argument
                tok = tok[0]
            return float(tok)
        if tok in ("(", "{", "["):
            value = self.expr()
            if self.take() != {"(": ")", "{": "}", "[": "]"}[tok]:
                raise _Unsupported("bracket")
            return value
        if tok == "\\frac":
            return self.atom(single_digit=True) / self.atom(single_digit=True)
        if tok == "\\sqrt":
            degree = 2.0
            if self.peek() == "[":
                self.take()
                degree = self.expr()
                if self.take() != "]":
                    raise _Unsupported("root")
            radicand = self.atom(single_digit=True)
            if radicand < 0 or degree == 0:
                raise _Unsupported("root")
            return radicand ** (1 / degree)
        if tok == "\\pi":
            return math.pi
        if len(tok) == 1 and tok.isalpha() and tok in self.env:
            return self.env[tok]
        raise _Unsupported(tok)


def _variables(tokens: list[str]) -> set[str]:
    return {t for t in tokens if len(t) == 1 and t.isalpha()}


def evaluate(text: str, env: dict[str, float] | None = None) -> float | None:
    """Float value of a simple closed form, or None when it is not one this reads.

    >>> round(evaluate(r"\\frac{\\sqrt{2}}{2}"), 6), evaluate(r"\\frac13 + 1"), evaluate(r"\\sin x") is None
    (0.707107, 1.3333333333333333, True)
    """
    if len(text) > MAX_CHARS:
        return None
    try:
        tokens = _tokens(text)
        parser = _Parser(tokens, env or {})
        value = parser.expr()
        if parser.peek() is not None:
            return None
    except (_Unsupported, ZeroDivisionError, OverflowError, ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, float) and math.isfinite(value) else None


def clearly_different(pred: str, ref: str, ref_places: int | None = None) -> bool:
    """True only when both read as closed forms (in the same variables) and differ beyond float error
    (or beyond the reference's own rounding, for a reference written with `ref_places` >= 2 decimals).

    >>> clearly_different(r"3\\sqrt{13}", "13"), clearly_different(r"\\frac{x+3}{7}", r"\\frac{x}{7}+\\frac{2}{7}")
    (True, True)
    >>> clearly_different(r"\\frac{x+2}{7}", r"\\frac{x}{7}+\\frac{2}{7}"), clearly_different(r"\\sqrt{2}", "1.41", 2)
    (False, False)
    """
    if len(pred) > MAX_CHARS or len(ref) > MAX_CHARS:
        return False
    if "=" in pred or "=" in ref:
        return _equations_differ(pred, ref)
    try:
        names = _variables(_tokens(pred))
        if names != _variables(_tokens(ref)) or len(names) > 3:
            return False
    except _Unsupported:
        return False
    slack = 0.5 * 10.0 ** -ref_places if ref_places is not None and ref_places >= 2 else 0.0
    for point in _POINTS if names else _POINTS[:1]:
        env = dict(zip(sorted(names), point))
        a, b = evaluate(pred, env), evaluate(ref, env)
        if a is None or b is None:
            return False
        if abs(a - b) > slack + 1e-9 * max(1.0, abs(a), abs(b)):
            return True
    return False


def _equations_differ(pred: str, ref: str) -> bool:
    """`A = B` vs `C = D` are the same equation only if A - B = k·(C - D) for one constant k != 0: values of
    the two differences at three points that are not in one fixed ratio show different equations.

    >>> _equations_differ("y = 2x + 1", "4x - 2y + 2 = 0"), _equations_differ("y = 2x + 1", "2y = 4x + 3")
    (False, True)
    """
    sides = [side.split("=") for side in (pred, ref)]
    if any(len(parts) != 2 or not parts[0].strip() or not parts[1].strip() for parts in sides):
        return False
    (a, b), (c, d) = sides
    left, right = f"({a})-({b})", f"({c})-({d})"
    try:
        names = _variables(_tokens(left))
        if names != _variables(_tokens(right)) or not names or len(names) > 3:
            return False
    except _Unsupported:
        return False
    ratios = []
    for point in _POINTS:
        env = dict(zip(sorted(names), point))
        f, g = evaluate(left, env), evaluate(right, env)
        if f is None or g is None:
            return False
        if abs(g) < 1e-12 or abs(f) < 1e-12:
            if abs(f) < 1e-12 and abs(g) < 1e-12:
                continue
            return True  # one difference vanishes where the other does not
        ratios.append(f / g)
    return any(abs(r - ratios[0]) > 1e-9 * max(1.0, abs(ratios[0])) for r in ratios)


_SURD = re.compile(r"^(\d{1,9})?\s*\\sqrt\s*(?:\{\s*(\d{1,6})\s*\}|(\d))$|^(\d{1,9})$")
_SURD_FRAC = re.compile(r"^\\[dtc]?frac\s*\{([^{}]*(?:\{\d+\})?[^{}]*)\}\s*\{([^{}]*(?:\{\d+\})?[^{}]*)\}$")


def _square_free(n: int) -> tuple[int, int]:
    """n = outside^2 * inside with `inside` square-free (n < 10^6: at most 1,000 trial divisors)."""
    outside, inside, k = 1, n, 2
    while k * k <= inside:
        while inside % (k * k) == 0:
            inside //= k * k
            outside *= k
        k += 1
    return outside, inside


def _simple_surd(text: str) -> tuple[Fraction, int] | None:
    m = _SURD.match(text.strip())
    if m is None:
        return None
    if m.group(4):
        return Fraction(int(m.group(4))), 1
    coef, radicand = int(m.group(1) or 1), int(m.group(2) or m.group(3))
    outside, inside = _square_free(radicand)
    return Fraction(coef * outside), inside


def surd(text: str) -> tuple[Fraction, int] | None:
    """(c, r) with value c·√r, r square-free, for `a\\sqrt{n}`, `\\frac{a\\sqrt{m}}{b\\sqrt{n}}` and integers.

    >>> surd(r"2\\sqrt{3}") == surd(r"\\sqrt{12}"), surd(r"\\frac{\\sqrt{2}}{2}") == surd(r"\\frac{1}{\\sqrt{2}}"), surd("x")
    (True, True, None)
    """
    s = unwrap(text).replace(" ", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("-")
    m = _SURD_FRAC.match(s)
    if m is None:
        whole = _simple_surd(s)
        return None if whole is None else (sign * whole[0], whole[1])
    num, den = _simple_surd(m.group(1)), _simple_surd(m.group(2))
    if num is None or den is None or den[0] == 0:
        return None
    # (a√m)/(b√n) = a/(b·n) · √(m·n); m and n are square-free, so m·n = g²·(m/g)(n/g) with g = gcd(m, n)
    g = math.gcd(num[1], den[1])
    return sign * num[0] * g / (den[0] * den[1]), (num[1] // g) * (den[1] // g)


def surd_rounds_to(value: tuple[Fraction, int], ref: Fraction, places: int | None) -> bool:
    """Whether the irrational c·√r, rounded half-up to `places` >= 2 decimals, is `ref` (exact, integers only).
    A reference with fewer places is taken as exact, and no irrational equals it.

    >>> surd_rounds_to((Fraction(1), 2), Fraction("1.41"), 2), surd_rounds_to((Fraction(1), 2), Fraction("1.42"), 2)
    (True, False)
    """
    if places is None or places < 2:
        return False
    coef, radicand = value
    scaled = ref * 10 ** places  # the integer N the answer must round to
    if scaled.denominator != 1 or (coef < 0) != (scaled < 0):
        return False
    square = coef * coef * radicand * Fraction(10) ** (2 * places)  # (|value| · 10^k)^2
    n = abs(scaled)
    return (n - Fraction(1, 2)) ** 2 <= square < (n + Fraction(1, 2)) ** 2
