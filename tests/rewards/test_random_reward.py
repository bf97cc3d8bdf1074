"""The random-reward control: a coin per sample with the configured mean, whatever the completion says."""
from __future__ import annotations

import pytest

from reasonrl.rewards import RewardRunner
from reasonrl.rewards.registry import get_reward_fn


def test_coin_mean_through_the_worker_and_independent_of_the_text():
    right = ["<think>3 + 4 = 7</think><answer>7</answer>"] * 1000
    with RewardRunner(["random@0.2"], timeout_s=30) as run:
        scores = run(right, answer=["7"] * 1000).per_func["random@0.2"]
        wrong = run(["nonsense"] * 1000, answer=["7"] * 1000).per_func["random@0.2"]
    assert set(scores) == {0.0, 1.0}
    # binomial(1000, 0.2): sd 0.0126, so +-0.05 is four standard deviations
    assert abs(sum(scores) / 1000 - 0.2) < 0.05 and abs(sum(wrong) / 1000 - 0.2) < 0.05
    assert scores != wrong                                       # fresh coins, not a function of the text
    assert get_reward_fn("random")(["a"] * 2000).count(1.0) in range(900, 1101)   # the plain name: mean 0.5
    assert get_reward_fn("random@0")(["a"] * 50) == [0.0] * 50 and get_reward_fn("random@1")(["a"] * 50) == [1.0] * 50


@pytest.mark.parametrize("bad", ["random@", "random@1.5", "random@x", "random@-0.1"])
def test_bad_means_fail_at_start_with_one_line(bad):
    with pytest.raises(ValueError, match=r"the mean after 'random@' must be a number in \[0, 1\]"):
        RewardRunner([bad])
