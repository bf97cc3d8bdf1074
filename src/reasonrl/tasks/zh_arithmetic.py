"""zh_arithmetic: procedural Chinese arithmetic word problems (加法, 减法 with 剩下, 购物 单价×数量,
平均分 exact division), generated deterministically from a seed with `random.Random`.

Numbers are small by default (operands 1–20, factors 2–10) so a 135M model is right sometimes: RL
needs groups with mixed rewards to learn anything. Answers are non-negative integers; the operands
are kept in `Problem.meta` so a test (or a curious reader) can recompute every answer.

Difficulty kwargs (TaskConfig.kwargs): max_value (largest operand of + and −, default 20),
max_factor (largest factor of × and ÷, default 10), ops (subset of add/sub/mul/div),
chinese_numerals (write 12 as 十二, default False).
"""
from __future__ import annotations

import random
from collections.abc import Iterator

from reasonrl.tasks.problem import Problem

NAME = "zh_arithmetic"
OPS = ("add", "sub", "mul", "div")
DEFAULTS = {"max_value": 20, "max_factor": 10, "ops": OPS, "chinese_numerals": False}

PEOPLE = ("小明", "小红", "小华", "小丽", "小刚", "小芳", "小军", "小兰")
# (item, measure word): the measure word must agree with the item, or the question reads wrong.
ITEMS = (("苹果", "个"), ("橘子", "个"), ("铅笔", "支"), ("本子", "本"), ("糖果", "颗"),
         ("气球", "个"), ("贴纸", "张"), ("鸡蛋", "个"), ("花", "朵"), ("饼干", "块"))

# {n}/{m}: two different people; {i}: item; {u}: its measure word; {a}, {b}: the operands.
TEMPLATES = {
    "add": (
        "{n}有{a}{u}{i}，又买了{b}{u}，现在一共有几{u}{i}？",
        "{n}有{a}{u}{i}，{m}又给了{n}{b}{u}，{n}现在有多少{u}{i}？",
        "篮子里有{a}{u}{i}，又放进去{b}{u}，篮子里现在有几{u}{i}？",
        "{n}上午做了{a}道题，下午做了{b}道题，{n}今天一共做了多少道题？",
    ),
    "sub": (
        "{n}有{a}{u}{i}，送给{m}{b}{u}，{n}还剩下几{u}{i}？",
        "盒子里有{a}{u}{i}，拿走了{b}{u}，盒子里还剩下多少{u}{i}？",
        "{n}有{a}元钱，买东西花了{b}元，还剩下多少元？",
        "书架上有{a}本书，借走了{b}本，书架上还剩下几本书？",
    ),
    "mul": (
        "一{u}{i}{a}元，{n}买了{b}{u}，一共要付多少元？",
        "每个盒子里有{a}{u}{i}，{b}个盒子里一共有多少{u}{i}？",
        "{n}每天读{a}页书，{b}天一共读多少页？",
    ),
    "div": (
        "{n}有{a}{u}{i}，平均分给{b}个小朋友，每个小朋友分到几{u}？",
        "有{a}{u}{i}，每{b}{u}装一袋，正好可以装几袋？",
        "{n}用{a}元买了{b}{u}同样的{i}，每{u}{i}多少元？",
    ),
}


def solve(op: str, a: int, b: int) -> int:
    """The answer of one problem from its kept operands (the ground truth tests recompute).

    >>> solve("add", 7, 5), solve("sub", 7, 5), solve("mul", 3, 4), solve("div", 12, 4)
    (12, 2, 12, 3)
    """
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        if b == 0 or a % b:
            raise ValueError(f"div {a}/{b} is not exact")
        return a // b
    raise ValueError(f"unknown op {op!r}; valid: {', '.join(OPS)}")


def _operands(rng: random.Random, op: str, max_value: int, max_factor: int) -> tuple[int, int]:
    if op == "add":
        return rng.randint(1, max_value), rng.randint(1, max_value)
    if op == "sub":
        a = rng.randint(2, max(2, max_value))
        return a, rng.randint(1, a)  # b <= a: never a negative count of apples
    # The dividend is built as quotient × divisor, so every division comes out exact.
    x, y = rng.randint(2, max_factor), rng.randint(2, max_factor)
    return (x, y) if op == "mul" else (x * y, y)


def check_kwargs(kwargs: dict) -> dict:
    """Defaults merged with kwargs; an unknown key or a bad value is a one-line ValueError."""
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"zh_arithmetic: unknown kwargs {unknown}; valid: {', '.join(DEFAULTS)}")
    cfg = {**DEFAULTS, **kwargs}
    cfg["ops"] = tuple([cfg["ops"]] if isinstance(cfg["ops"], str) else cfg["ops"])
    bad_ops = [o for o in cfg["ops"] if o not in OPS]
    if bad_ops or not cfg["ops"]:
        raise ValueError(f"zh_arithmetic: ops={list(cfg['ops'])} must be a non-empty subset of {list(OPS)}")
    if int(cfg["max_value"]) < 2 or int(cfg["max_factor"]) < 2:
        raise ValueError(f"zh_arithmetic: max_value and max_factor must be >= 2, got {cfg['max_value']}, {cfg['max_factor']}")
    return cfg


def iter_zh_arithmetic(size: int, seed: int, kwargs: dict | None = None) -> Iterator[Problem]:
    """`size` problems from one `random.Random(seed)` stream (same seed, same problems).

    >>> p = next(iter_zh_arithmetic(1, seed=0))
    >>> p.lang, p.answer == str(solve(p.meta["op"], p.meta["a"], p.meta["b"]))
    ('zh', True)
    """
    cfg = check_kwargs(kwargs or {})
    rng = random.Random(seed)
    for index in range(size):
        op = rng.choice(cfg["ops"])
        a, b = _operands(rng, op, int(cfg["max_value"]), int(cfg["max_factor"]))
        k = rng.randrange(len(TEMPLATES[op]))
        n, m = rng.sample(PEOPLE, 2)
        item, unit = rng.choice(ITEMS)
        num = _numeral if cfg["chinese_numerals"] else str
        question = TEMPLATES[op][k].format(n=n, m=m, i=item, u=unit, a=num(a), b=num(b))
        yield Problem(id=f"{NAME}:{seed}:{index}", question=question, answer=str(solve(op, a, b)),
                      task=NAME, lang="zh", meta={"op": op, "a": a, "b": b, "template": k})


def _numeral(x: int) -> str:
    import cn2an

    return cn2an.an2cn(x)
