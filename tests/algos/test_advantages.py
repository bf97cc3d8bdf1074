"""Advantage estimators against hand-computed values."""
import math

import pytest
import torch

from reasonrl.algos import (
    ADVANTAGES,
    drgrpo_advantages,
    get_advantage_fn,
    group_has_variance,
    grpo_advantages,
    rloo_advantages,
    weight_positive,
)

R = torch.tensor([1.0, 0.0, 0.0, 1.0])


def test_drgrpo_is_mean_centred_only():
    assert drgrpo_advantages(R, 4).tolist() == [0.5, -0.5, -0.5, 0.5]


def test_grpo_divides_by_unbiased_std_plus_eps():
    # unbiased std of [1,0,0,1]: sqrt(4 * 0.25 / 3) = 0.57735; 0.5 / (0.57735 + 1e-4) = 0.86588
    expected = 0.5 / (math.sqrt(1 / 3) + 1e-4)
    assert torch.allclose(grpo_advantages(R, 4), torch.tensor([1, -1, -1, 1]) * expected)
    # the same figure written out by hand, so a wrong formula on both sides above cannot pass
    assert grpo_advantages(R, 4).tolist() == pytest.approx([0.86588, -0.86588, -0.86588, 0.86588], abs=1e-5)
    # the biased std (sqrt(0.25) = 0.5) would give 0.5 / 0.5001 = 0.9998 instead
    assert abs(grpo_advantages(R, 4)[0].item() - 0.9998) > 0.1


def test_grpo_without_std_scaling_equals_drgrpo():
    assert torch.equal(grpo_advantages(R, 4, scale_std=False), drgrpo_advantages(R, 4))


def test_rloo_leave_one_out_baseline():
    # 1 - (0+0+1)/3 = 0.667 ; 0 - (1+0+1)/3 = -0.667
    assert torch.allclose(rloo_advantages(R, 4), torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))


def test_rloo_matches_slow_loop_reference():
    g = torch.Generator().manual_seed(0)
    rewards, G = torch.rand(12, generator=g), 4
    slow = [rewards[i] - (rewards[i // G * G:(i // G + 1) * G].sum() - rewards[i]) / (G - 1) for i in range(12)]
    assert torch.allclose(rloo_advantages(rewards, G), torch.stack(slow), atol=1e-6)


@pytest.mark.parametrize("name", list(ADVANTAGES))
def test_group_of_one_gives_zero_not_nan(name):
    adv = get_advantage_fn(name)(torch.tensor([1.0, 0.0, 3.0]), 1)
    assert adv.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", list(ADVANTAGES))
def test_groups_are_independent_and_all_equal_group_is_zero(name):
    adv = get_advantage_fn(name)(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]), 4)
    assert torch.allclose(adv[:4], get_advantage_fn(name)(R, 4))
    assert adv[4:].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_integer_rewards_are_accepted():
    assert drgrpo_advantages(torch.tensor([1, 0, 0, 1]), 4).tolist() == [0.5, -0.5, -0.5, 0.5]


@pytest.mark.parametrize("rewards,group_size,msg", [
    (torch.zeros(6), 4, "not a multiple of group_size=4"),
    (torch.zeros(2, 4), 4, "must be 1-D"),
    (torch.zeros(4), 0, "group_size must be >= 1"),
])
def test_bad_shapes_fail_with_one_clear_line(rewards, group_size, msg):
    with pytest.raises(ValueError, match=msg):
        grpo_advantages(rewards, group_size)


def test_unknown_estimator_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        get_advantage_fn("x")
    assert str(err.value) == "unknown advantage estimator 'x'; valid: grpo, drgrpo, rloo"


def test_group_has_variance():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.5])
    assert group_has_variance(rewards, 2).tolist() == [True, False, False, False]
    assert group_has_variance(rewards, 4).tolist() == [True, True]
    assert group_has_variance(rewards, 1).tolist() == [False] * 8


def test_weight_positive_scales_only_positive_advantages():
    # grpo on [1, 0, 0, 1] gives +-0.86588 (above); lambda 0.1 -> +0.086588 on the right ones, -0.86588 kept
    adv = grpo_advantages(R, 4)
    out = weight_positive(adv, 0.1)
    assert out.tolist() == pytest.approx([0.086588, -0.86588, -0.86588, 0.086588], abs=1e-5)
    assert torch.equal(weight_positive(adv, 1.0), adv)                      # 1.0 is plain GRPO
    assert weight_positive(adv, 0.0).tolist() == pytest.approx([0.0, -0.86588, -0.86588, 0.0], abs=1e-5)  # NSR only
    assert weight_positive(torch.zeros(3), 0.1).tolist() == [0.0, 0.0, 0.0]  # an all-equal group stays zero


def test_weight_positive_rejects_a_negative_weight():
    with pytest.raises(ValueError, match="positive_weight"):
        weight_positive(torch.tensor([1.0]), -0.5)
