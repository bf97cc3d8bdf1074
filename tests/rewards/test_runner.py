"""RewardRunner: rewards run in a worker process; raises and hangs cost one batch of zeros, not the trainer."""
import time

import pytest

from reasonrl.rewards import REWARDS, RewardRunner, get_reward_fn

GOOD = "<think>3*4</think><answer>12</answer>"
BAD = "<think>3*4</think><answer>13</answer>"


def raising_reward(completions, **columns):
    raise RuntimeError("user bug")


def hanging_reward(completions, **columns):
    while True:
        pass


def none_reward(completions, **columns):
    return [None, 0.5]


@pytest.fixture(scope="module")
def runner():
    with RewardRunner(["accuracy", "format_partial"], [1.0, 0.5], timeout_s=5.0) as run:
        yield run


def test_weighted_total_and_per_func(runner):
    result = runner([GOOD, BAD], answer=["12", "12"])
    assert result.per_func == {"accuracy": [1.0, 0.0], "format_partial": [1.0, 1.0]}
    assert result.total == [1.5, 0.5]
    assert (result.errors, result.timeouts) == (0, 0)


def test_errors_timeouts_and_none_score_zero():
    funcs = ["format", f"{__name__}:raising_reward", f"{__name__}:hanging_reward", f"{__name__}:none_reward"]
    with RewardRunner(funcs, timeout_s=0.5) as run:
        start = time.monotonic()
        result = run([GOOD, "x"])
        assert time.monotonic() - start < 10
        assert result.per_func[f"{__name__}:raising_reward"] == [0.0, 0.0]
        assert result.per_func[f"{__name__}:hanging_reward"] == [0.0, 0.0]
        assert result.per_func[f"{__name__}:none_reward"] == [0.0, 0.5]
        assert result.total == [1.0, 0.5]
        assert (result.errors, result.timeouts) == (1, 1)
        # the worker is still usable after a timeout
        assert run([GOOD, "x"]).per_func["format"] == [1.0, 0.0]


def test_unknown_name_fails_at_start_with_valid_names():
    with pytest.raises(ValueError, match="unknown reward 'acuracy'; valid: accuracy, accuracy_lenient, accuracy_any, format"):
        RewardRunner(["acuracy"])
    with pytest.raises(ValueError, match="funcs is empty"):
        RewardRunner([])


def test_registry_names_and_user_functions():
    assert set(REWARDS) == {"accuracy", "accuracy_strict", "accuracy_lenient", "accuracy_any", "format", "format_partial",
                            "format_if_correct", "format_reasoned", "exact_match", "multiple_choice", "code",
                            "accuracy_partial", "random", "middle_value", "copy_after", "copy_stop", "count_after", "arrow_steps", "closed_arrow_steps", "chain_steps", "closed_chain_steps", "walked_answer", "chained_answer"}
    assert get_reward_fn(f"{__name__}:none_reward") is none_reward
    with pytest.raises(ValueError, match="cannot load"):
        get_reward_fn("no_such_module:f")


def test_accuracy_accepts_reasoning_gym_grader():
    import reasoning_gym
    entry = reasoning_gym.create_dataset("chain_sum", size=1, seed=1)[0]
    completion = f"<think>x</think><answer>{entry['answer']}</answer>"
    assert REWARDS["accuracy"]([completion], answer=[entry["answer"]], entry=[entry]) == [1.0]
    assert REWARDS["accuracy"](["<think>x</think><answer>nope</answer>"], answer=[entry["answer"]], entry=[entry]) == [0.0]


def test_code_reward_uses_tests_column():
    completion = "<answer>```python\ndef sq(x):\n    return x * x\n```</answer>"
    assert REWARDS["code"]([completion], tests=[["assert sq(2) == 4", "assert sq(3) == 10"]]) == [0.5]
