"""A task owns its verifier: reasoning-gym rows are graded by their own grader, the target alone is no answer."""
import json

import pytest

from reasonrl.config.schema import TaskConfig
from reasonrl.eval.heldout import reward_columns
from reasonrl.rewards import REWARDS, verify
from reasonrl.rewards.verifiers import Row, _gym_scorer, grade, gym_answer_safe, parse_verifier
from reasonrl.tasks import Problem, load_task
from reasonrl.tasks.file_source import read_problem_file

# The countdown entry, by hand: 83 - 74 + 40*(94 - 90) = 9 + 160 = 169 uses each number once.
COUNTDOWN = {
    "question": "Find a way to make 169 using all of these numbers: 83, 94, 74, 90, 40.",
    "answer": "40*(94 - 90) - 74 + 83",
    "metadata": {"source_dataset": "countdown", "numbers": [83, 94, 74, 90, 40], "target": 169},
}
COUNTDOWN_CASES = [  # (answer, what it is) - only the last is right
    ("169", "the target alone"),
    ("94+75", "not the given numbers"),
    ("169 + 0", "the target plus an extra number"),
    ("83 - 74 + 40*(95 - 91)", "wrong numbers (95, 91), value 169"),
    ("83 - 74 + 40*(94 - 90) + 83 - 83", "a repeated number, value 169"),
    ("(83 - 74 + 40*(94 - 90))*1", "an extra number, value 169"),
]
COUNTDOWN_RIGHT = "83 - 74 + 40*(94 - 90)"  # written differently from the reference


def _problem(entry, name):
    return Problem(id=f"{name}:0", question=entry["question"], answer=entry["answer"], task=name, lang="en",
                   entry=entry, verifier=f"gym:{name}")


def _scores(fn, problems, completions, lenient=False):
    return REWARDS[fn](completions, **reward_columns(problems, 1, lenient))


@pytest.fixture(scope="module")
def puzzle24():
    return load_task(TaskConfig(name="puzzle24", num_train=1, num_heldout=1, seed=1)).heldout[0]


@pytest.mark.parametrize("fn", ["accuracy", "accuracy_strict", "accuracy_lenient", "format_if_correct"])
def test_countdown_only_a_right_expression_scores(fn):
    answers = [a for a, _ in COUNTDOWN_CASES] + [COUNTDOWN_RIGHT]
    completions = [f"<think>9 + 160 = 169</think><answer>{a}</answer>" for a in answers]
    problems = [_problem(COUNTDOWN, "countdown")] * len(answers)
    assert _scores(fn, problems, completions) == [0.0] * len(COUNTDOWN_CASES) + [1.0]


def test_countdown_hack_was_verify_and_is_gone():
    # `verify` compares values, so every value-169 answer passes it: that was the hack (a long limit: the
    # symbolic path can take over a second on a loaded machine)
    for answer, what in COUNTDOWN_CASES:
        assert verify(f"<answer>{answer}</answer>", COUNTDOWN["answer"], timeout_s=60), what
    p = _problem(COUNTDOWN, "countdown")
    assert _scores("accuracy", [p], ["<answer>169</answer>"]) == [0.0]
    # with no verifier column the entry still names its grader
    assert REWARDS["accuracy"](["<answer>169</answer>"], answer=["169"], entry=[COUNTDOWN]) == [0.0]


def test_countdown_read_leniently_and_by_phrase():
    p = _problem(COUNTDOWN, "countdown")
    phrase = f"9 + 160 = 169. The final answer is {COUNTDOWN_RIGHT}."
    assert _scores("accuracy", [p, p], [phrase, "The answer is 169."]) == [1.0, 0.0]
    assert _scores("accuracy_lenient", [p], ["83 - 74 = 9 and 40*4 = 160, 9 + 160 = 169"], lenient=True) == [0.0]


def test_partial_credit_passes_through_only_in_accuracy_partial():
    p = _problem(COUNTDOWN, "countdown")
    completions = ["<answer>169</answer>", f"<answer>{COUNTDOWN_RIGHT}</answer>", "no answer"]
    # countdown's grader: 0.05 for an expression with the wrong numbers, 0.01 for none at all
    assert _scores("accuracy_partial", [p] * 3, completions) == [0.05, 1.0, 0.0]
    assert _scores("accuracy", [p] * 3, completions) == [0.0, 1.0, 0.0]


def test_puzzle24_only_the_given_numbers_make_24(puzzle24):
    assert puzzle24.entry["metadata"]["numbers"] == [8, 5, 10, 6] and puzzle24.verifier == "gym:puzzle24"
    cases = ["24", "6*4", "1*2*3*4", "5*8 - 9 - 7", "8*(5 - 10 + 8)", "5*8 - 10 - 6 + 0", "5*8 - 10 - 6"]
    completions = [f"<think>40 - 16 = 24</think><answer>{a}</answer>" for a in cases]
    for fn in ("accuracy", "accuracy_strict", "accuracy_lenient"):
        assert _scores(fn, [puzzle24] * len(cases), completions) == [0.0] * 6 + [1.0], fn


def test_puzzle24_gym_grader_alone_would_pay_any_four_numbers(puzzle24):
    import reasoning_gym
    gym = reasoning_gym.get_score_answer_fn("puzzle24")
    # why _GRADER_GAPS exists: the gym pays 1.0 for numbers that are not the puzzle's
    assert gym("1*2*3*4", puzzle24.entry) == 1.0 and gym("8*(5 - 10 + 8)", puzzle24.entry) == 1.0
    assert grade("gym:puzzle24", "<answer>1*2*3*4</answer>", Row(puzzle24.answer, puzzle24.entry)) == 0.0


@pytest.mark.parametrize("name", ["chain_sum", "basic_arithmetic"])
def test_numeric_gym_answers_score_as_before(name):
    problems = load_task(TaskConfig(name=name, num_train=1, num_heldout=20, seed=7)).heldout
    assert all(p.verifier == f"gym:{name}" for p in problems)
    for p in problems:
        ref, wrong = p.answer, str(int(p.answer) + 1)
        completions = [f"<think>{p.question}</think><answer>{ref}</answer>",
                       f"<think>{p.question}</think><answer>{wrong}</answer>",
                       f"The final answer is {ref}.", f"{p.entry['metadata']['expression']} = {ref}"]
        ps = [p] * len(completions)
        assert _scores("accuracy_strict", ps, completions) == [1.0, 0.0, 0.0, 0.0]
        assert _scores("accuracy", ps, completions) == [1.0, 0.0, 1.0, 0.0]
        assert _scores("accuracy_lenient", ps, completions, lenient=True) == [1.0, 0.0, 1.0, 1.0]
        assert _scores("format_if_correct", ps, completions, lenient=True) == [1.0, 0.0, 0.0, 0.0]
        # the same verdicts `verify` gave before the task's grader decided alone
        assert [float(verify(c, ref, lenient=True)) for c in completions] == [1.0, 0.0, 1.0, 1.0]


def test_graders_that_eval_never_see_code(tmp_path):
    probe = tmp_path / "pwned"
    evil = f"open('{probe}', 'w')"
    p = _problem(COUNTDOWN, "countdown")
    assert _scores("accuracy_partial", [p, p], [f"<answer>{evil}</answer>", "<answer>9**9**9**9</answer>"]) \
        == [0.0, 0.0]
    assert not probe.exists()
    assert not gym_answer_safe("chain_sum", "().__class__") and gym_answer_safe("chain_sum", "-4")
    assert not gym_answer_safe("polynomial_multiplication", "exec(chr(49))")
    assert not gym_answer_safe("n_queens", "[print(1)]") and gym_answer_safe("n_queens", "[['Q', '_']]")


def test_gym_grader_is_built_with_the_task_kwargs():
    s = load_task(TaskConfig(name="puzzle24", kwargs={"min_value": 5, "max_value": 10}, num_train=1, num_heldout=1))
    p = s.heldout[0]
    assert p.meta == {"gym_kwargs": {"min_value": 5, "max_value": 10}}
    scorer = _gym_scorer("puzzle24", json.dumps(p.meta["gym_kwargs"], sort_keys=True))
    assert (scorer.__self__.config.min_value, scorer.__self__.config.max_value) == (5, 10)
    assert _scores("accuracy", [p], [f"<answer>{p.answer}</answer>"]) == [1.0]


def test_task_verifier_overrides_the_source():
    s = load_task(TaskConfig(name="chain_sum", num_train=1, num_heldout=2, verifier="math"))
    assert [p.verifier for p in s.heldout] == ["math", "math"]
    zh = load_task(TaskConfig(name="zh_arithmetic", num_train=1, num_heldout=1))
    assert zh.heldout[0].verifier == "math"
    with pytest.raises(ValueError, match="task.verifier 'gym:chain_sum' needs reasoning-gym entries"):
        load_task(TaskConfig(name="zh_arithmetic", num_train=1, num_heldout=1, verifier="gym:chain_sum"))
    with pytest.raises(ValueError, match="task.verifier 'code' needs per-row tests"):
        load_task(TaskConfig(name="chain_sum", num_train=1, num_heldout=1, verifier="code"))
    with pytest.raises(ValueError, match="unknown task 'chain_sums'"):
        load_task(TaskConfig(name="chain_sum", num_train=1, num_heldout=1, verifier="gym:chain_sums"))


def test_file_rows_name_their_verifier(tmp_path):
    rows = [
        {"question": "2+2?", "answer": "4"},
        {"question": "Capital of France?", "answer": "Paris", "verifier": "exact"},
        {"question": "Write sq.", "verifier": "code", "tests": ["assert sq(3) == 9", "assert sq(2) == 5"]},
        {**COUNTDOWN, "verifier": "gym:countdown"},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems, bad = read_problem_file(path)
    assert [p.verifier for p in problems] == ["math", "exact", "code", "gym:countdown"] and bad == 0
    completions = ["<answer>four</answer>", "<answer>paris</answer>",
                   "<answer>```python\ndef sq(x):\n    return x * x\n```</answer>", "<answer>169</answer>"]
    cols = reward_columns(problems, 1, False)
    assert REWARDS["accuracy_partial"](completions, **cols) == [1.0, 1.0, 0.5, 0.05]
    assert REWARDS["accuracy"](completions, **cols) == [1.0, 1.0, 0.0, 0.0]
    # the config names the verifier of rows without their own
    problems, _ = read_problem_file(path, verifier="exact")
    assert [p.verifier for p in problems] == ["exact", "exact", "code", "gym:countdown"]


@pytest.mark.parametrize("row, why", [
    ({"question": "q", "answer": "1", "verifier": "sympy"}, "verifier 'sympy': must be math, exact, code or gym:"),
    ({"question": "q", "verifier": "code"}, "verifier 'code' needs 'tests'"),
    ({"question": "q", "answer": "1", "verifier": "gym:nope_task"}, "unknown task 'nope_task'"),
    ({"question": "q", "answer": "1", "verifier": "gym:countdown", "metadata": [1]}, "verifier 'gym:countdown' needs 'metadata' to be an object"),
])
def test_bad_verifier_rows_fail_with_file_and_line(tmp_path, row, why):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "ok", "answer": "1"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=f"bad.jsonl:2: {why}"):
        read_problem_file(path)


def test_verifier_names():
    assert parse_verifier("exact") == ("exact", "")
    for bad in ("gym", "gym:", "math:x", "Math"):
        with pytest.raises(ValueError, match="valid: math, exact, code, gym:<reasoning-gym name>"):
            parse_verifier(bad)


def test_first_gym_batch_does_not_pay_the_reasoning_gym_import():
    from reasonrl.rewards import RewardRunner
    p = _problem(COUNTDOWN, "countdown")
    # 0.5 s is far below reasoning-gym's import (2-7 s here): only the worker's warm-up makes this pass
    with RewardRunner(["accuracy"], timeout_s=0.5) as run:
        result = run([f"<answer>{COUNTDOWN_RIGHT}</answer>", "<answer>169</answer>"], **reward_columns([p, p], 1, False))
    assert (result.per_func["accuracy"], result.timeouts) == ([1.0, 0.0], 0)
