"""Reward functions by name, TRL-style: `f(completions: list[str], **columns) -> list[float | None]`.

Columns the trainer passes: `answer` (references), `question`, `task`, `lang` ('en'/'zh'), `entry`
(the reasoning-gym entry or None), `verifier` (the spec each row's task declared, `verifiers.py`), `meta`
(the Problem's meta: code tests, gym kwargs), `lenient` (bool), and for `code` a `tests` column (a list
of assert statements per row). A None score means "this function does not apply to this row";
`RewardRunner` turns it into 0.
"""
from __future__ import annotations

import functools
import importlib
import random
from typing import Callable

from reasonrl.rewards.code_sandbox import extract_code, run_tests
from reasonrl.rewards.extract import extract_answer
from reasonrl.rewards.format import format_ok, format_pieces, format_score, thinking_text
from reasonrl.rewards.normalize import choice_letter, normalize_answer
from reasonrl.rewards.steps import (arrow_steps, chain_steps, closed_arrow_steps, closed_chain_steps, copy_after, copy_stop, count_after,
                                    middle_value, whole_chain, whole_walk)
from reasonrl.rewards.verifiers import Row, default_verifier, grade


def _column(columns: dict, name: str, n: int) -> list:
    values = columns.get(name)
    if values is None:
        raise ValueError(f"reward needs the column '{name}' (a list with one value per completion)")
    if len(values) != n:
        raise ValueError(f"column '{name}' has {len(values)} values for {n} completions")
    return list(values)


def task_scores(completions: list[str], **columns) -> list[float]:
    """Each row's score in [0, 1] from the verifier its task declared (`verifier` column: math | exact |
    code | gym:<name>; a row without one gets `default_verifier(entry)`), before any threshold."""
    n = len(completions)
    refs = _column(columns, "answer", n)
    entries = columns.get("entry") or [None] * n
    specs = columns.get("verifier") or [default_verifier(e) for e in entries]
    metas = columns.get("meta") or [None] * n
    lenient = bool(columns.get("lenient", False))
    return [grade(spec, completion, Row(str(ref), entry, meta, lenient))
            for completion, ref, entry, spec, meta in zip(completions, refs, entries, specs, metas)]


def accuracy(completions: list[str], **columns) -> list[float]:
    """1.0 if the task's own verifier gives the completion full marks (score 1.0), else 0.0.

    The task decides (`verifier` column): reasoning-gym rows are graded by that dataset's `score_answer`
    alone, so on countdown the target itself (`<answer>169</answer>`) scores 0 where `verify`, comparing
    values, would pass it; numeric and math rows by `verify`. A grader's partial credit (countdown pays
    0.05 for an expression with the wrong numbers) counts as wrong here; `accuracy_partial` passes it on.

    >>> accuracy(["<think>...</think><answer>十二</answer>", "<answer>13</answer>"], answer=["12", "12"])
    [1.0, 0.0]
    """
    return [1.0 if s >= 1.0 else 0.0 for s in task_scores(completions, **columns)]


def accuracy_partial(completions: list[str], **columns) -> list[float]:
    """The task verifier's own score in [0, 1], passed through: reasoning-gym's partial credit, the
    fraction of a code row's tests; 1/0 for `math` and `exact` rows.

    >>> accuracy_partial(["<answer>12</answer>", "<answer>13</answer>"], answer=["12", "12"])
    [1.0, 0.0]
    """
    return task_scores(completions, **columns)


def accuracy_lenient(completions: list[str], **columns) -> list[float]:
    """`accuracy` that also reads untagged answers ("2 + 6 = 8. The final answer is 8"), whatever the template.

    A shaping term for tag formats: next to the strict `accuracy` it keeps paying the base model's own
    correct arithmetic while the tags are still being learned, so the format is not bought by forgetting
    how to add (docs/r1zero-on-a-laptop.md).

    >>> accuracy_lenient(["2 + 6 = 8. The final answer is 8.", "<think>x</think><answer>8</answer>", "9"], answer=["8"] * 3)
    [1.0, 1.0, 0.0]
    """
    return accuracy(completions, **{**columns, "lenient": True})


def accuracy_any(completions: list[str], **columns) -> list[float]:
    """`accuracy_lenient` that also reads a thinking that never closed: the base model's multi-step work
    ("<think>First 4 + 3 = 7. Then 7 + 3 = 10. So, the final answer is 10.") is paid for its answer.

    Why (docs/r1zero-reasoning.md): with only closed thinkings paid, the first signal on 3-term sums was
    the format, and the samples that closed </think> soonest were the ones that had skipped the second step.

    >>> c = ["<think>\\nFirst, 4 + 3 = 7\\nThen, 7 + 3 = 10\\nSo, the final answer is 10.", "<think>4 + 3 = 7</think><answer>7</answer>"]
    >>> accuracy_any(c, answer=["10", "10"]), accuracy_lenient(c, answer=["10", "10"])
    ([1.0, 0.0], [0.0, 0.0])
    """
    opened = [c.replace("<think>", "", 1) if "<think>" in c and "</think>" not in c else c for c in completions]
    return accuracy_lenient(opened, **columns)


def format_if_correct(completions: list[str], **columns) -> list[float]:
    """`format_partial` paid only when the reply is right (read leniently, tags or not), else 0.

    Ungated partial credit taught the format as a shape: a short `<think>2</think><answer>6</answer>`
    earned it as well as a worked one, and the thinking collapsed to one token while accuracy fell
    (docs/r1zero-on-a-laptop.md). Gated, the only way to the format credit is through a right answer.

    >>> format_if_correct(["<think>6 + 2 = 8</think><answer>8</answer>", "<think>2</think><answer>6</answer>",
    ...                    "6 + 2 = 8</think>The answer is 8"], answer=["8"] * 3)
    [1.0, 0.0, 0.5]
    """
    right = accuracy_lenient(completions, **columns)
    return [format_score(c) if ok else 0.0 for c, ok in zip(completions, right)]


def accuracy_strict(completions: list[str], **columns) -> list[float]:
    """1.0 only for a right answer inside the strict `<think>…</think><answer>…</answer>` shape: the R1-Zero
    score (`accuracy` alone also reads "The final answer is 8" outside any tag).

    >>> accuracy_strict(["<think>6 + 2 = 8</think><answer>8</answer>", "The final answer is 8."], answer=["8", "8"])
    [1.0, 0.0]
    """
    right = accuracy(completions, **{**columns, "lenient": False})
    return [r if format_ok(c) else 0.0 for c, r in zip(completions, right)]


def walked_answer(completions: list[str], **columns) -> list[float | None]:
    """`accuracy_strict`, paid only when the thinking writes the whole walk (`steps.whole_walk`); None on rows that
    are not an arrows walk.

    Why (issue 19, session 23): paid on the answer alone, RL found the answers the thinking did not carry: two hops
    inside one forward pass (0.53 with the thinking forced empty vs 0.51 full) and, on 3-4 hops, "a number no arrow
    leaves" (right 1 time in 3). Gated on the written walk, neither earns anything; the walk is verified from the
    question alone, no label and no model, as the answer is. The answer is judged by the same verifier as
    `accuracy_strict` (session 29): it compared the raw answer text with the label, so `<answer>Arders: 23</answer>`,
    which the strict grader and every eval accept, earned nothing after a whole walk.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> walked_answer(["<think>23 -> 57 -> 36 -> 90</think><answer>90</answer>", "<think>23 -> 57</think><answer>90</answer>",
    ...                "<think>23 -> 57 -> 36 -> 90</think>90", "x"], answer=["90"] * 4, meta=[meta, meta, meta, {"after": 0}])
    [1.0, 0.0, 0.0, None]
    """
    right = accuracy_strict(completions, **columns)
    return [None if whole is None else whole * r for whole, r in zip(whole_walk(completions, **columns), right)]


def chained_answer(completions: list[str], **columns) -> list[float | None]:
    """`walked_answer` with the whole walk written as one chain (`steps.whole_chain`); None on rows that are not an
    arrows walk.

    Why (issue 19, session 35): on 2-3 hops, paid the answer alone, a seed learned the two hops silently (train strict
    0.6, the thinking one hop); gated on any written walk, a pair-per-line copy of the listed arrows. In a chain the
    next number is the one the question writes after the last one: the content match.

    >>> meta = {"path": [23, 57, 36]}
    >>> chained_answer(["<think>23 -> 57 -> 36</think><answer>36</answer>", "<think>23 -> 57\\n57 -> 36</think><answer>36</answer>",
    ...                 "<think>23 -> 57</think><answer>36</answer>"], answer=["36"] * 3, meta=[meta] * 3)
    [1.0, 0.0, 0.0]
    """
    right = accuracy_strict(completions, **columns)
    return [None if whole is None else whole * r for whole, r in zip(whole_chain(completions, **columns), right)]


def format_reasoned(completions: list[str], **columns) -> list[float]:
    """`format_partial`, except that closing the thinking earns nothing until it holds >= 3 words.

    Without the floor the cheapest way to the format credit was `<think>2</think><answer>6</answer>`: the
    thinking collapsed to one token and accuracy fell (docs/r1zero-on-a-laptop.md). With it, the cheapest
    is the base model's own habit, `6 + 2 = 8`, moved inside the tags.

    >>> format_reasoned(["<think>6 + 2 = 8</think><answer>8</answer>", "<think>2</think><answer>6</answer>", "8"])
    [1.0, 0.25, 0.0]
    """
    out = []
    for c in completions:
        thought = thinking_text(c)
        if thought is not None and len(thought.split()) < 3:
            out.append(0.25 * format_pieces(c)[0])
        else:
            out.append(format_score(c))
    return out


def format_strict(completions: list[str], **columns) -> list[float]:
    """1.0 for the exact `<think>…</think><answer>…</answer>` shape, else 0.0.

    >>> format_strict(["<think>a</think><answer>1</answer>", "1"])
    [1.0, 0.0]
    """
    return [1.0 if format_ok(c) else 0.0 for c in completions]


def format_partial(completions: list[str], **columns) -> list[float]:
    """0.25 per format piece (see `format.format_pieces`).

    >>> format_partial(["<think>a</think><answer>1</answer>", "<think>a</think>"])
    [1.0, 0.5]
    """
    return [format_score(c) for c in completions]


def exact_match(completions: list[str], **columns) -> list[float]:
    """1.0 if the extracted answer's normalised key equals the reference's (`normalize_answer`).

    No symbolic equivalence: `1/2` and `0.5` match (both are numbers), `x+1` and `1+x` do not.

    >>> exact_match(["<answer> Paris. </answer>", "<answer>１２</answer>"], answer=["paris", "12"])
    [1.0, 1.0]
    """
    refs = _column(columns, "answer", len(completions))
    lenient = bool(columns.get("lenient", False))
    out = []
    for completion, ref in zip(completions, refs):
        answer = extract_answer(completion, lenient=lenient)
        out.append(1.0 if answer is not None and normalize_answer(answer) == normalize_answer(str(ref)) else 0.0)
    return out


def multiple_choice(completions: list[str], **columns) -> list[float | None]:
    """1.0 if the answer names exactly the reference letter ((B), 选B, B. text); None if the reference is no letter.

    >>> multiple_choice(["<answer>(B)</answer>", "<answer>A or B</answer>", "<answer>B</answer>"], answer=["B", "B", "42"])
    [1.0, 0.0, None]
    """
    refs = _column(columns, "answer", len(completions))
    out: list[float | None] = []
    for completion, ref in zip(completions, refs):
        letter = choice_letter(str(ref))
        if letter is None:
            out.append(None)
            continue
        answer = extract_answer(completion)
        out.append(1.0 if answer is not None and choice_letter(answer) == letter else 0.0)
    return out


def code(completions: list[str], **columns) -> list[float]:
    """Fraction of the row's `tests` (assert statements) passed by the completion's last Python block.

    >>> code(["<answer>```python\\ndef sq(x):\\n    return x * x\\n```</answer>"], tests=[["assert sq(3) == 9"]])
    [1.0]
    """
    tests = _column(columns, "tests", len(completions))
    out = []
    for completion, row_tests in zip(completions, tests):
        program = extract_code(completion)
        out.append(0.0 if program is None else run_tests(program, list(row_tests)))
    return out


_COIN = random.Random(0)  # per worker process: a control must not depend on the completion's text


def random_coin(completions: list[str], *, mean: float = 0.5, **columns) -> list[float]:
    """A coin per sample, 1.0 with probability `mean`, whatever the completion says: the control run
    that tells a real gain from what any reward with this mean would do (`random@0.3` sets the mean).

    >>> scores = random_coin(["x"] * 2000, mean=0.25)
    >>> set(scores) == {0.0, 1.0}, abs(sum(scores) / 2000 - 0.25) < 0.03
    (True, True)
    """
    return [1.0 if _COIN.random() < mean else 0.0 for _ in completions]


def _random_with_mean(spec: str) -> Callable[..., list]:
    """'random@0.3' -> random_coin with mean 0.3; one-line error for anything but a number in [0, 1]."""
    try:
        mean = float(spec.partition("@")[2])
    except ValueError:
        mean = -1.0
    if not 0.0 <= mean <= 1.0:
        raise ValueError(f"reward '{spec}': the mean after 'random@' must be a number in [0, 1], e.g. random@0.3")
    return functools.partial(random_coin, mean=mean)


REWARDS: dict[str, Callable[..., list]] = {
    "accuracy": accuracy,
    "accuracy_lenient": accuracy_lenient,
    "accuracy_any": accuracy_any,
    "format": format_strict,
    "format_partial": format_partial,
    "format_if_correct": format_if_correct,
    "format_reasoned": format_reasoned,
    "accuracy_strict": accuracy_strict,
    "exact_match": exact_match,
    "multiple_choice": multiple_choice,
    "code": code,
    "accuracy_partial": accuracy_partial,
    "random": random_coin,
    "middle_value": middle_value,
    "copy_after": copy_after,
    "copy_stop": copy_stop,
    "count_after": count_after,
    "arrow_steps": arrow_steps,
    "closed_arrow_steps": closed_arrow_steps,
    "chain_steps": chain_steps,
    "closed_chain_steps": closed_chain_steps,
    "walked_answer": walked_answer,
    "chained_answer": chained_answer,
}


def get_reward_fn(name: str) -> Callable[..., list]:
    """A REWARDS name, or `module:function` for a user's own reward.

    >>> get_reward_fn("format") is format_strict
    True
    >>> get_reward_fn("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown reward 'nope'; valid: accuracy, accuracy_lenient, accuracy_any, format, format_partial, format_if_correct, format_reasoned, accuracy_strict, exact_match, multiple_choice, code, accuracy_partial, random, middle_value, copy_after, copy_stop, count_after, arrow_steps, closed_arrow_steps, chain_steps, closed_chain_steps, walked_answer, chained_answer, or module:function
    """
    if name in REWARDS:
        return REWARDS[name]
    if isinstance(name, str) and name.startswith("random@"):
        return _random_with_mean(name)
    if isinstance(name, str) and ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"reward '{name}': cannot load it ({type(exc).__name__}: {exc})") from None
        if not callable(fn):
            raise ValueError(f"reward '{name}' is not callable")
        return fn
    raise ValueError(f"unknown reward '{name}'; valid: {', '.join(REWARDS)}, or module:function")


def check_reward_names(names: list[str]) -> bool:
    """Resolve every name or raise ValueError (the runner calls this in its worker at start-up)."""
    for name in names:
        get_reward_fn(name)
    return True
