"""Answer text -> canonical form: exact numbers, choice letters, yes/no, and a vote key.

Covers what `math-verify` lacks: Chinese numerals (十二, 两千零五, 负七, 三分之一, 百分之二十五),
full-width digits (NFKC), thousands separators (1,234 / 1 234), units and currency (40元, $5, 3 km),
percent (25% -> 1/4), `x = 5`, scientific notation (1e3, 2\\times10^{3}), mixed numbers (2 1/3, 二又三分之一, 3又1/2),
repeating decimals (0.\\overline{3}), degrees (60^\\circ), 约/about markers.
Does not cover: symbolic expressions (left to math-verify in `equivalence.py`), words for numbers in
English ("twelve"), units conversion (1 km vs 1000 m are different answers here).
Every function here is pure Python with input-size caps: no sympy, so it is fast and cannot hang.
"""
from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

import cn2an

MAX_NUMBER_CHARS = 4000  # Python refuses int() of > 4300 digits; longer answers are compared as text.
MAX_EXPONENT = 400  # 1e400 is still cheap as a Fraction; 1e100000 is not.

_APPROX = re.compile(r"^(?:约为|约等于|大约是|大约|大概|约|approximately|approx\.?|about|around|roughly|≈|~|\\approx)\s*"
                     r"|\s*(?:左右|上下|[(（](?:约|approx\.?|approximately|rounded)[)）])$", re.I)
_LEAD_IN = re.compile(r"^(?:答|解|答案|answer|final answer)\s*[:：]\s*", re.I)
_WRAPPERS = re.compile(r"\\(?:boxed|fbox|text|textbf|textnormal|textit|mathrm|mathbf|textrm|mbox|displaystyle)\s*\{")
_LATEX_SPACES = re.compile(r"\\[,;:!> ]|\\quad|\\qquad|~")
_VAR_EQ = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+|\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])+\s*\))(?:_\{?\w+\}?)?\s*=\s*(?=[^=])")
_DEGREE = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree)\s*(?:\\text\{\s*[CF]\s*\}|[CF])?$")
_CURRENCY_PREFIX = re.compile(r"^(?:\\\$|\$|US\$|¥|￥|€|£|RMB|USD)\s*")
_CURRENCY_SUFFIX = re.compile(r"(?<=\d)\s*(?:\\\$|\$|€|£|¥|￥)$")
_POWER = re.compile(r"^([+-]?)(\d{1,6})\s*\^\s*(?:\{\s*([+-]?\d{1,3})\s*\}|(\d))$")
_CJK_COMPOUND_UNITS = re.compile(r"(?:平方|立方)?千(?:米|克|瓦时|瓦|卡|字节|米每小时)$|百分点$")
_EN_UNIT = re.compile(r"^(.*?[\d}])\s*((?:[a-zA-Z]{1,12}\.?(?:\^?\{?[23]\}?)?)(?:\s+[a-zA-Z]{2,12}){0,2})$")
# Words that look like units but change the value, so they are never stripped.
_NOT_UNITS = {"pi", "e", "i", "x", "y", "z", "n", "k", "a", "b", "c", "sqrt", "or", "and", "to", "times",
              "plus", "minus", "over", "squared", "cubed", "root", "thousand", "million", "billion",
              "percent", "log", "ln", "sin", "cos", "tan", "infty", "inf", "infinity", "d", "t",
              # words of a sentence, not a unit: "12 is wrong" must not become 12
              "is", "are", "was", "were", "be", "not", "no", "wrong", "right", "correct", "incorrect", "the",
              "an", "of", "if", "it", "this", "that", "maybe", "perhaps", "answer", "because", "so", "but",
              "than", "more", "less", "least", "most", "at", "only", "approximately", "about", "exactly",
              "true", "false", "yes", "each"}
_CJK_NOT_UNITS = set("或和到至万亿千百十九八七六五四三二一零两〇之点负正加减乘除约")
_MULTIPLIERS = {"thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}

_INT = r"[+-]?\d+"
_DEC = r"[+-]?(?:\d+\.\d*|\.\d+|\d+)"
_SEP_INT = re.compile(r"^[+-]?\d{1,3}(?:(,)\d{3})+(?:\.\d+)?$|^[+-]?\d{1,3}(?:[ \u2009\u202f]\d{3})+(?:\.\d+)?$")
_SCI = re.compile(rf"^({_DEC})\s*(?:[eE]|\\times\s*10\s*\^|\*\s*10\s*\*\*|×\s*10\s*\^)\s*\{{?\s*({_INT})\s*\}}?$")
_FRAC = re.compile(r"^([+-]?)\\[dtc]?frac\s*(?:\{\s*(-?\d+)\s*\}|(\d))\s*(?:\{\s*(-?\d+)\s*\}|(\d))$")
_SLASH = re.compile(rf"^({_INT})\s*/\s*({_INT})$")
_MIXED = re.compile(r"^([+-]?)(\d+)\s*(?:\s(\d+)\s*/\s*(\d+)|\\[dtc]?frac\s*\{(\d+)\}\s*\{(\d+)\})$")
_REPEAT = re.compile(r"^([+-]?)(\d*)\.(\d*)(?:\\overline\s*\{(\d+)\}|\\dot\s*\{?(\d)\}?|\((\d+)\))$")
_CN_FRAC = re.compile(r"^(负)?(.+?)分之(.+)$")
_CN_MIXED = re.compile(r"^([负-]?)([^又]{1,20})又([^又]{1,40})$")
_CN_CHARS = re.compile(r"^[负正]?[零〇一二两三四五六七八九十百千万亿点\d.]+$")

NO_SOLUTION = {"nosolution", "nosolutions", "无解", "none", "不存在", "doesnotexist", "dne", "\\emptyset",
               "\\varnothing", "∅", "空集", "norealsolution", "norealsolutions", "没有解", "方程无解"}
YES = {"yes", "y", "true", "correct", "right", "是", "是的", "对", "对的", "正确", "能", "可以", "会", "有", "成立"}
NO = {"no", "n", "false", "incorrect", "wrong", "否", "不是", "不", "不对", "错", "错误", "不正确", "不能",
      "不可以", "不会", "没有", "不成立"}


_UNICODE_MATH = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2044": "/", "\u00d7": "\\times ", "\u00f7": "/",
                               "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u2264": "\\le ", "\u2265": "\\ge "})
_ELLIPSIS = re.compile(r"(?:\.\.\.|…|\\[lc]dots)$")


def unwrap(text: str) -> str:
    """Strip LaTeX/markdown wrappers that never change the value.

    >>> unwrap(r"$\\boxed{\\text{12}}$.")
    '12'
    >>> unwrap("**B**")
    'B'
    """
    s = unicodedata.normalize("NFKC", text).strip()  # full-width digits/brackets -> ASCII
    s = s.translate(_UNICODE_MATH)
    for _ in range(8):  # a few layers: "$\boxed{12}$." -> "\boxed{12}" -> "12"
        before = s
        s = s.strip()
        if not _ELLIPSIS.search(s):  # keep "0.333..." whole: the dots mean "repeats"
            s = s.rstrip("。.,，;；!！").strip()
        s = re.sub(r"^(?:\$\$?|\\\(|\\\[)(.*?)(?:\$\$?|\\\)|\\\])$", r"\1", s, flags=re.S)
        s = re.sub(r"^\*\*(.*)\*\*$|^`(.*)`$", lambda m: m.group(1) or m.group(2) or "", s, flags=re.S)
        m = _WRAPPERS.match(s)
        if m and s.endswith("}") and _balanced_end(s, m.end()) == len(s) - 1:
            s = s[m.end():-1]
        s = re.sub(r"\{,\}|,\\!\s*", ",", s)  # 14{,}916 and 11,\! 111 are thousands separators
        s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "")
        if s == before:
            break
    s = _LATEX_SPACES.sub(" ", s)
    return re.sub(r"\s+", " ", s).strip()


def _balanced_end(s: str, start: int) -> int:
    """Index of the brace closing the group opened just before `start`, or -1."""
    depth = 1
    for i in range(start, len(s)):
        depth += {"{": 1, "}": -1}.get(s[i], 0)
        if depth == 0:
            return i
    return -1


def strip_decorations(text: str) -> tuple[str, bool]:
    """Remove approximation markers, `x =`, currency, degrees and units; say if it was marked approximate.

    >>> strip_decorations("约12.57平方厘米")
    ('12.57', True)
    >>> strip_decorations(r"x = \\$5 dollars")
    ('5', False)
    >>> strip_decorations("5x")
    ('5x', False)
    """
    s = unwrap(text)
    s = re.sub(r"\\(?:text|textbf|textnormal|textit|mathrm|mbox|textrm)\s*\{([^{}]*)\}", r" \1", s).strip()
    s = re.sub(r"^零下\s*", "负", s)  # 零下5度 = -5
    approx = False
    for _ in range(3):
        before = s
        s = _LEAD_IN.sub("", s)
        s, n = _APPROX.subn("", s)
        approx = approx or n > 0
        s = _VAR_EQ.sub("", s).strip().lstrip("=").strip()
        s = _CURRENCY_SUFFIX.sub("", _CURRENCY_PREFIX.sub("", s))
        s = _DEGREE.sub("", s)
        s = _strip_unit(s)
        if re.fullmatch(r"\(\s*[^(),]+\s*\)", s):
            s = s[1:-1].strip()  # "\\left( \\frac{1}{3} \\right)": brackets around one value change nothing
        if s == before:
            break
    return s.strip(), approx


def _strip_unit(s: str) -> str:
    m = _CJK_COMPOUND_UNITS.search(s)  # 千米 holds the numeral 千: strip it whole, before the walk below
    cut = m.start() if m else len(s)
    while cut > 0 and len(s) - cut < 6 and "\u4e00" <= s[cut - 1] <= "\u9fff" and s[cut - 1] not in _CJK_NOT_UNITS:
        cut -= 1  # walk back over a trailing CJK unit (元, 个, 平方厘米, 度) up to a numeral
    if cut < len(s) and cut > 0 and re.search(r"[\d%\u4e00-\u9fff]$", s[:cut].rstrip()):
        return s[:cut].rstrip()
    m = _EN_UNIT.match(s)
    if m:
        words = re.findall(r"[a-zA-Z]+", m.group(2).lower())
        if words and not any(w in _NOT_UNITS for w in words) and not re.search(r"\d[eE]$", m.group(1) + m.group(2)[:1]):
            return m.group(1)
    return s


def parse_number(text: str) -> Fraction | None:
    """Exact value of a plain numeric answer, or None if it is not one (no sympy, bounded).

    >>> parse_number("1,234.5"), parse_number("2 1/3"), parse_number(r"0.\\overline{3}")
    (Fraction(2469, 2), Fraction(7, 3), Fraction(1, 3))
    >>> parse_number("两千零五"), parse_number("三分之一"), parse_number("百分之二十五"), parse_number("25%")
    (Fraction(2005, 1), Fraction(1, 3), Fraction(1, 4), Fraction(1, 4))
    >>> parse_number("二又三分之一"), parse_number("3又1/2"), parse_number("负二又三分之一"), parse_number("2又4/3")
    (Fraction(7, 3), Fraction(7, 2), Fraction(-7, 3), None)
    >>> parse_number("1e3"), parse_number("-\\\\frac{1}{2}"), parse_number("10 11 12") is None
    (Fraction(1000, 1), Fraction(-1, 2), True)
    """
    s = text.strip()
    if not s or len(s) > MAX_NUMBER_CHARS:
        return None
    percent = re.search(r"(?:\\?%|％|percent)$", s)
    if percent:
        v = _parse_plain(s[:percent.start()].strip())
        return None if v is None else v / 100
    if s.startswith("百分之"):
        v = _parse_plain(s[3:])
        return None if v is None else v / 100
    return _parse_plain(s)


_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d+,\d{1,2}|\d+,\d{4,}|0,\d+)")


def _parse_plain(s: str) -> Fraction | None:
    if re.fullmatch(_DEC, s):
        return Fraction(s)
    if _DECIMAL_COMMA.fullmatch(s):  # 1000,99 and 0,111: a decimal comma (a thousands group has 3 digits)
        return Fraction(s.replace(",", "."))
    if _SEP_INT.match(s):
        return Fraction(re.sub(r"[, \u2009\u202f]", "", s))
    m = _SCI.match(s)
    if m:
        exp = int(m.group(2))
        return Fraction(m.group(1)) * Fraction(10) ** exp if abs(exp) <= MAX_EXPONENT else None
    m = _SLASH.match(s)
    if m:
        return Fraction(int(m.group(1)), int(m.group(2))) if int(m.group(2)) != 0 else None
    m = _FRAC.match(s)
    if m:
        num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
        return None if den == 0 else (-1 if m.group(1) == "-" else 1) * Fraction(num, den)
    m = _MIXED.match(s)
    if m:
        num, den = int(m.group(3) or m.group(5)), int(m.group(4) or m.group(6))
        if 0 < num < den:  # "2 1/3"; "2 4/3" is not a mixed number anyone writes
            return (-1 if m.group(1) == "-" else 1) * (int(m.group(2)) + Fraction(num, den))
        return None
    m = _POWER.match(s)
    if m:  # 10^{-3}, 2^{10}: small exponents only (the caps keep this cheap)
        value = Fraction(int(m.group(2))) ** int(m.group(3) or m.group(4))
        return -value if m.group(1) == "-" else value
    m = _REPEAT.match(s)
    if m:
        return _repeating(m)
    m = re.fullmatch(r"([+-]?)(\d+)\.(\d+)\s*(?:\.\.\.|…|\\[lc]dots)", s)
    if m:
        return _ellipsis_decimal(m.group(1), m.group(2), m.group(3))
    m = re.fullmatch(r"([+-]?[\d.]+)\s*(thousand|million|billion|trillion)", s, re.I)
    if m and re.fullmatch(_DEC, m.group(1)):
        return Fraction(m.group(1)) * _MULTIPLIERS[m.group(2).lower()]
    m = _CN_MIXED.match(s)
    if m:
        return _cn_mixed(m.group(1), m.group(2), m.group(3))
    return _parse_chinese(s) if not s.isascii() else _parse_english_words(s)


def _cn_mixed(sign: str, whole_text: str, part_text: str) -> Fraction | None:
    """二又三分之一 = 7/3, 3又1/2 = 7/2, 负二又三分之一 = -7/3: a whole number and a proper fraction."""
    whole, part = _parse_plain(whole_text.strip()), _parse_plain(part_text.strip())
    if whole is None or part is None or whole.denominator != 1 or whole < 0 or not 0 < part < 1:
        return None
    return -(whole + part) if sign else whole + part


_EN_SMALL = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                        "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split(), 0)
            if w != "_"}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def _parse_english_words(s: str) -> Fraction | None:
    """"twelve", "twenty-three", "one hundred and five", "negative seven"; None for anything else."""
    words = re.split(r"[\s-]+", s.lower().strip())
    if not words or len(words) > 12:
        return None
    sign = -1 if words[0] in ("negative", "minus") else 1
    total = current = 0
    seen = False
    for word in words[1:] if sign < 0 else words:
        if word in _EN_SMALL or word in _EN_TENS:
            current += _EN_SMALL.get(word, _EN_TENS.get(word, 0))
        elif word == "hundred" and seen:
            current *= 100
        elif word in _EN_SCALES and seen:
            total, current = total + current * _EN_SCALES[word], 0
        elif word != "and" or not seen:
            return None
        seen = True
    return Fraction(sign * (total + current)) if seen else None


def _repeating(m: re.Match) -> Fraction:
    sign, whole, fixed = m.group(1), m.group(2) or "0", m.group(3)
    rep = m.group(4) or m.group(5) or m.group(6)
    # 0.1\overline{6} = (16 - 1) / 90
    value = Fraction(int(whole)) + Fraction(int(fixed + rep) - int(fixed or "0"),
                                            (10 ** len(rep) - 1) * 10 ** len(fixed))
    return -value if sign == "-" else value


def _ellipsis_decimal(sign: str, whole: str, digits: str) -> Fraction | None:
    """0.333... = 1/3, 0.1666... = 1/6, 0.142857142857... = 1/7: the shortest tail shown at least twice
    (a single digit three times) repeats. No visible period (3.14159...) -> None: not an exact value."""
    for period in range(1, len(digits) // 2 + 1):
        for fixed_len in range(0, len(digits) - 2 * period + 1):
            tail = digits[fixed_len:]
            unit = tail[:period]
            reps = len(tail) / period
            if reps >= (3 if period == 1 else 2) and (unit * (len(tail) // period + 1)).startswith(tail):
                value = Fraction(int(whole)) + Fraction(int(digits[:fixed_len] + unit) - int(digits[:fixed_len] or "0"),
                                                        (10 ** period - 1) * 10 ** fixed_len)
                return -value if sign == "-" else value
    return None


def _parse_chinese(s: str) -> Fraction | None:
    m = _CN_FRAC.match(s)
    if m:  # 三分之一 = 1/3: denominator first
        den, num = _parse_chinese(m.group(2)), _parse_chinese(m.group(3))
        if den is None or num is None or den == 0:
            return None
        return (-1 if m.group(1) else 1) * num / den
    if not _CN_CHARS.match(s) or len(s) > 40:
        return None
    if s[0] in "负正":  # our own sign: cn2an's "smart" mode turns 负5 into +5
        rest = _parse_chinese(s[1:]) if len(s) > 1 and s[1] not in "负正" else None
        return None if rest is None else (-rest if s[0] == "负" else rest)
    try:
        value = cn2an.cn2an(s, "smart")
    except (ValueError, KeyError, IndexError):
        return None
    return Fraction(str(value)) if isinstance(value, float) else Fraction(int(value))


def decimals(text: str) -> int | None:
    """Number of digits after the point if `text` is a plain decimal, else None.

    >>> decimals("12.57"), decimals("12"), decimals("1/3")
    (2, 0, None)
    """
    m = re.fullmatch(r"[+-]?\d[\d,]*(?:\.(\d+))?", text.strip())
    return None if m is None else len(m.group(1) or "")


def choice_letter(text: str) -> str | None:
    """The single multiple-choice letter an answer names (A-J), or None.

    >>> [choice_letter(t) for t in ["(B)", "选B", "B", "b.", "Option C", "B. 42", "答案是 D", "AB", "A or B"]]
    ['B', 'B', 'B', 'B', 'C', 'B', 'D', None, None]
    """
    s = unwrap(text)
    s = re.sub(r"^(?:选项|选择|选|答案是|答案为|答案|option|choice|answer)\s*[:：]?\s*", "", s, flags=re.I)
    m = re.fullmatch(r"[(\[]?([A-Ja-j])[)\]]?[.:：、]?", s) or re.fullmatch(r"[(\[]?([A-J])[)\].:：、]\s+\S.{0,200}", s, re.S)
    return m.group(1).upper() if m else None


def yes_no(text: str) -> str | None:
    """'yes' / 'no' if the answer is one (English or Chinese), else None.

    >>> [yes_no(t) for t in ["Yes", "是", "否", "No.", "不是", "yes, it is prime", "yes or no", "12"]]
    ['yes', 'yes', 'no', 'no', 'no', 'yes', None, None]
    """
    s = unwrap(text).lower().strip(" .。!！")
    if s in YES:
        return "yes"
    if s in NO:
        return "no"
    m = re.match(r"^([a-z\u4e00-\u9fff]+?)\s*[,，.。:：;；]\s*(.*)$", s)
    if m and re.search(r"\b(?:or|but)\b|或|但", m.group(2)) is None:
        return yes_no(m.group(1))
    return None


def canonical_number(value: Fraction) -> str:
    """Vote key for a number: integers as digits, other values as the reduced fraction.

    >>> canonical_number(Fraction(12)), canonical_number(Fraction(1, 2))
    ('12', '1/2')
    """
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def normalize_answer(answer: str) -> str:
    """A canonical key, so equal answers vote together in maj@k; bounded (no sympy).

    >>> {normalize_answer(a) for a in ["12", "十二", r"\\boxed{12}", "12.0", "１２", "12元", "x = 12"]}
    {'12'}
    >>> normalize_answer("(B)"), normalize_answer("是"), normalize_answer(r"\\frac{1}{2}"), normalize_answer("0.5")
    ('B', 'yes', '1/2', '1/2')
    """
    if not isinstance(answer, str):
        return ""
    text = answer[:MAX_NUMBER_CHARS * 2]
    core, _ = strip_decorations(text)
    value = parse_number(core)
    if value is not None:
        return canonical_number(value)
    letter = choice_letter(text)
    if letter is not None:
        return letter
    yn = yes_no(text)
    if yn is not None:
        return yn
    return re.sub(r"\s+", "", core).lower()
