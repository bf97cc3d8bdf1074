"""Verifiers by name: a task declares which one grades its rows (`Problem.verifier`), the rewards ask it.

    grade("gym:countdown", "<answer>83 - 74 + 40*(94 - 90)</answer>", Row(ref, entry))  # 1.0
    grade("math", "<answer>十二</answer>", Row("12"))                                   # 1.0

| spec | score | covers |
|---|---|---|
| `math` | 1/0: `verify` (extraction + numeric / symbolic equivalence) | numbers, fractions, intervals, sets, LaTeX |
| `exact` | 1/0: `normalize_answer` keys equal | free-text answers (names, words) |
| `code` | fraction of the row's `meta["tests"]` passed by the last Python block | programs |
| `gym:<name>` | reasoning-gym's own `score_answer` for that dataset *alone*, in [0, 1] | any reasoning-gym task |

Two departures from the gym's grader, both listed in `_SAFE_ANSWER` / `_GRADER_GAPS`: answers a grader
would run as code are refused, and puzzle24's grader, which never checks that the given numbers are the
ones used (`1*2*3*4` makes 24 for every puzzle), gets that check.

Why the gym grader alone: for "construct an expression" tasks (countdown, puzzle24) the reference is one of
many valid answers, and `verify` compares values, so `<answer>169</answer>` (the target itself) would pass;
only the task knows that the given numbers must each be used. Our extraction (`<answer>`, `\\boxed`, the
final-answer phrase, the lenient last number) still picks the text the grader sees.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from typing import Callable, NamedTuple

from reasonrl.rewards.check import VerifierTimeout, time_limit, verify
from reasonrl.rewards.code_sandbox import extract_code, run_tests
from reasonrl.rewards.extract import extract_answer
from reasonrl.rewards.normalize import normalize_answer

log = logging.getLogger(__name__)
GYM_PREFIX = "gym:"
GYM_TIMEOUT_S = 1.0
_MATH_FUNCS = frozenset("sin cos tan cot sec csc asin acos atan sinh cosh tanh exp log ln sqrt Abs abs "
                        "factorial pi E I oo C".split())
# An integer power or factorial that sympy would evaluate in C, where no signal can stop it (9**9**9**9).
_BLOWUP = re.compile(r"\d\s*\)?\s*\*\*\s*\(?\s*\d+\s*\)?\s*\*\*|\*\*\s*\(?\s*\d{4,}|\d{5,}\s*!|!\s*\)?\s*!")


def _arithmetic_only(answer: str) -> bool:
    return re.fullmatch(r"[\d\s+\-*/().]+", answer) is not None and "**" not in answer


def _sympy_safe(answer: str) -> bool:
    # parse_expr evals: quotes (open('f','w')), attributes (x.y) and calls of anything but math functions
    # are what code needs and no polynomial or antiderivative does.
    calls = re.findall(r"([A-Za-z_]\w*)\s*\(", answer)
    return (not re.search(r"['\"`;\\]|\.\s*[A-Za-z_]", answer) and all(c in _MATH_FUNCS for c in calls)
            and not _BLOWUP.search(answer))


def _eval_safe(answer: str) -> bool:
    # eval of a list literal needs no call; without one, eval can neither import nor open anything.
    return "(" not in answer and "lambda" not in answer


# reasoning-gym 0.1.25 graders that pass the model's answer to eval() or sympy's parse_expr (itself eval):
# parse_expr("open('x','w')") opens the file in the reward worker. Their answers are held to what the
# task can need; a failed check scores 0, as the grader's own parse failure would (countdown: 0.01).
_SAFE_ANSWER: dict[str, Callable[[str], bool]] = {
    "countdown": _arithmetic_only, "puzzle24": _arithmetic_only,
    "polynomial_multiplication": _sympy_safe, "simple_integration": _sympy_safe,
    "intermediate_integration": _sympy_safe,
    "n_queens": _eval_safe, "binary_matrix": _eval_safe, "string_insertion": _eval_safe, "spiral_matrix": _eval_safe,
}


def _uses_given_numbers(answer: str, entry: dict) -> bool:
    return sorted(map(int, re.findall(r"\d+", answer))) == sorted(map(int, entry["metadata"]["numbers"]))


# Where a reasoning-gym 0.1.25 grader accepts answers that are wrong, the extra condition its score needs.
# puzzle24 checks only "four numbers in range that make 24", so `1*2*3*4` is right for every puzzle;
# the question says "using 8, 5, 10, 6", and countdown's own grader checks exactly that.
_GRADER_GAPS: dict[str, Callable[[str, dict], bool]] = {"puzzle24": _uses_given_numbers}


def gym_answer_safe(name: str, answer: str) -> bool:
    """False for an answer a reasoning-gym grader must not see: a dunder anywhere (the way from any
    eval to builtins), or, for graders that eval their answer, anything beyond what the task needs.

    >>> gym_answer_safe("countdown", "83 - 74 + 40*(94 - 90)"), gym_answer_safe("countdown", "9**9**9**9")
    (True, False)
    >>> gym_answer_safe("countdown", "open('x', 'w')"), gym_answer_safe("polynomial_multiplication", "x**2 + sin(x)")
    (False, True)
    """
    return "__" not in answer and _SAFE_ANSWER.get(name, lambda a: True)(answer)


class Row(NamedTuple):
    """What a verifier may read about one completion's row."""

    answer: str                # the reference answer ("" where the task has none)
    entry: dict | None = None  # the reasoning-gym entry (question, answer, metadata)
    meta: dict | None = None   # the Problem's meta: `tests` for code, `gym_kwargs` for gym tasks
    lenient: bool = False      # also read an untagged last number / right side of `=`


def parse_verifier(spec: str) -> tuple[str, str]:
    """(kind, argument) of a verifier spec, or a one-line ValueError naming the valid ones.

    >>> parse_verifier("math"), parse_verifier("gym:countdown")
    (('math', ''), ('gym', 'countdown'))
    >>> parse_verifier("sympy")
    Traceback (most recent call last):
    ...
    ValueError: unknown verifier 'sympy'; valid: math, exact, code, gym:<reasoning-gym name>
    """
    if isinstance(spec, str) and spec.startswith(GYM_PREFIX) and len(spec) > len(GYM_PREFIX):
        return "gym", spec[len(GYM_PREFIX):]
    if spec in VERIFIERS and spec != "gym":
        return spec, ""
    raise ValueError(f"unknown verifier {spec!r}; valid: math, exact, code, gym:<reasoning-gym name>")


def default_verifier(entry: dict | None) -> str:
    """The verifier a row without one gets: its gym's grader when it carries a gym entry, else `math`.

    >>> default_verifier({"answer": "3", "metadata": {"source_dataset": "chain_sum"}}), default_verifier(None)
    ('gym:chain_sum', 'math')
    """
    name = (entry.get("metadata") or {}).get("source_dataset") if isinstance(entry, dict) else None
    return GYM_PREFIX + name if name else "math"


def _math(row: Row, completion: str, _: str) -> float:
    return 1.0 if verify(completion, row.answer, lenient=row.lenient) else 0.0


def _exact(row: Row, completion: str, _: str) -> float:
    answer = extract_answer(completion, lenient=row.lenient)
    return 1.0 if answer is not None and normalize_answer(answer) == normalize_answer(row.answer) else 0.0


def _code(row: Row, completion: str, _: str) -> float:
    tests = (row.meta or {}).get("tests")
    if not isinstance(tests, list) or not tests:
        raise ValueError("verifier 'code' needs the row's tests (a list of assert statements in meta['tests'])")
    program = extract_code(completion)
    return 0.0 if program is None else run_tests(program, [str(t) for t in tests])


@functools.lru_cache(maxsize=64)
def _gym_scorer(name: str, kwargs_json: str) -> Callable[[str, dict], float]:
    """`score_answer` of a dataset built with the run's own config, not the default one: some graders read
    their config (puzzle24 checks the numbers against its min_value..max_value)."""
    import reasoning_gym  # heavy import (~2-7 s), paid only by runs that grade gym rows

    if name not in reasoning_gym.factory.DATASETS:
        raise ValueError(f"verifier 'gym:{name}': not a reasoning-gym dataset")
    dataset_cls, config_cls = reasoning_gym.factory.DATASETS[name]
    return dataset_cls(config=config_cls(**json.loads(kwargs_json))).score_answer


TASK_GRADED = ("accuracy", "format_if_correct")  # reward names (prefixes) that ask the task's verifier


def warm_up_gym(reward_names: list[str]) -> None:
    """Import reasoning-gym (2-7 s on a loaded 2-core machine) outside any answer's time limit when a reward
    asks the task's verifier: the reward worker calls this with its sympy warm-up, or the first batch of a
    gym task would time out on the import. Other reward sets skip it (a start-up cost they do not need)."""
    if any(str(n).startswith(TASK_GRADED) for n in reward_names):
        import reasoning_gym  # noqa: F401


def _gym(row: Row, completion: str, name: str) -> float:
    if not isinstance(row.entry, dict):
        raise ValueError(f"verifier 'gym:{name}' needs the row's reasoning-gym entry (the 'entry' column)")
    scorer = _gym_scorer(name, json.dumps((row.meta or {}).get("gym_kwargs") or {}, sort_keys=True))
    answer = extract_answer(completion, lenient=row.lenient)
    if answer is None or not gym_answer_safe(name, answer):
        return 0.0
    try:
        with time_limit(GYM_TIMEOUT_S):
            score = float(scorer(answer, row.entry))
        gap = _GRADER_GAPS.get(name)
        if gap is not None and score > 0.0 and not gap(answer, row.entry):
            score = 0.0
    except VerifierTimeout:
        return 0.0
    except Exception as exc:  # noqa: BLE001 - a grader's own bug on odd input scores 0, never stops training
        log.debug("gym:%s grader error on %r: %s: %s", name, answer[:80], type(exc).__name__, exc)
        return 0.0
    return min(max(score, 0.0), 1.0)


VERIFIERS: dict[str, Callable[[Row, str, str], float]] = {"math": _math, "exact": _exact, "code": _code, "gym": _gym}


def grade(spec: str, completion: str, row: Row) -> float:
    """The score in [0, 1] the named verifier gives `completion` on `row` (see the module table).

    >>> grade("math", "<think>8×5=40</think><answer>40元</answer>", Row(answer="40"))
    1.0
    >>> grade("exact", "<answer>Paris</answer>", Row(answer="paris")), grade("exact", "<answer>Rome</answer>", Row("paris"))
    (1.0, 0.0)
    """
    kind, arg = parse_verifier(spec)
    return VERIFIERS[kind](row, completion, arg)
