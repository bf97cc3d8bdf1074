"""Generate on a list of problems and score with the task's verifiers: the one path that training's
before/after evals, periodic evals and `reasonrl eval` all share, so their numbers agree.
"""
from __future__ import annotations

from dataclasses import dataclass

from reasonrl.eval.budget import generate_with_budget
from reasonrl.rewards import RewardRunner, extract_answer, format_ok
from reasonrl.rollout.base import Rollouts, SamplingParams
from reasonrl.tasks import Problem, render_prompt


@dataclass
class Scored:
    """k samples for each of the problems, scored; sample j of problem i is at index i * k + j."""

    problems: list[Problem]
    k: int
    rollouts: Rollouts
    responses: list[str]   # [n*k] prefill + generated text: what the verifiers saw
    correct: list[float]   # [n*k] accuracy reward (1.0 or 0.0); the total reward if accuracy is not used
    formatted: list[bool]  # [n*k] strict <think>…</think><answer>…</answer>
    extracted: list[str | None]
    errors: int = 0        # reward calls that raised / timed out (their samples scored 0)
    timeouts: int = 0
    forced: list[bool] | None = None      # [n*k] with a think budget: the thinking was cut and closed
    think_tokens: list[int] | None = None  # [n*k] with a think budget: tokens of thinking generated

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / max(1, len(self.correct))

    @property
    def strict_accuracy(self) -> float:
        """Right AND in the strict format (the answer read from inside <answer>): the R1-Zero score."""
        return sum(c for c, f in zip(self.correct, self.formatted) if f) / max(1, len(self.correct))

    @property
    def format_rate(self) -> float:
        return sum(self.formatted) / max(1, len(self.formatted))


ACCURACY_FUNCS = ("accuracy", "accuracy_strict", "accuracy_lenient")


def correctness(per_func: dict[str, list[float]], total: list[float]) -> list[float]:
    """Per-sample 1.0/0.0 from the first accuracy-type reward the run uses; the total reward if none.

    >>> correctness({"format_partial": [0.5], "accuracy_strict": [1.0]}, [1.125])
    [1.0]
    """
    return next((per_func[f] for f in ACCURACY_FUNCS if f in per_func), total)


def reward_columns(problems: list[Problem], k: int, lenient: bool) -> dict:
    """The columns every reward function receives, each repeated k times (one per sample)."""
    rep = lambda xs: [x for x in xs for _ in range(k)]  # noqa: E731
    return {
        "answer": rep([p.answer for p in problems]),
        "question": rep([p.question for p in problems]),
        "task": rep([p.task for p in problems]),
        "lang": rep([p.lang for p in problems]),
        "entry": rep([p.entry for p in problems]),
        "verifier": rep([p.verifier for p in problems]),   # the task decides who grades (rewards/verifiers.py)
        "meta": rep([p.meta for p in problems]),
        "lenient": lenient,
    }


def generate_and_score(
    engine, tokenizer, problems: list[Problem], params: SamplingParams, *, template: str, lang: str,
    lenient: bool, runner: RewardRunner, think_budget: int | None = None, think_prefix: str | None = None,
) -> Scored:
    """`think_budget` = N: the thinking is cut at N tokens and closed (`budget.generate_with_budget`); with
    `think_prefix` (`task.think_prefix`) it counts only the model's own tokens after that prefix."""
    rendered = [render_prompt(tokenizer, p, template, lang, think_prefix) for p in problems]
    budgeted = None
    if think_budget is None:
        rollouts = engine.generate([r[0] for r in rendered], params)
    else:
        budgeted = generate_with_budget(engine, tokenizer, [r[0] for r in rendered], [r[1] for r in rendered],
                                        params, think_budget)
        rollouts = budgeted.rollouts
    k = params.n
    responses = [rendered[i // k][1] + text for i, text in enumerate(rollouts.texts)]
    result = runner(responses, **reward_columns(problems, k, lenient))
    return Scored(
        problems=problems,
        k=k,
        rollouts=rollouts,
        responses=responses,
        # accuracy alone, even when training mixes in format or other rewards
        correct=correctness(result.per_func, result.total),
        formatted=[format_ok(r) for r in responses],
        extracted=[extract_answer(r, lenient=lenient) for r in responses],
        errors=result.errors,
        timeouts=result.timeouts,
        forced=budgeted.forced if budgeted else None,
        think_tokens=budgeted.think_tokens if budgeted else None,
    )
