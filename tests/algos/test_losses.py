"""Clipped policy-gradient loss and k3 KL against hand-computed values."""
import math

import pytest
import torch

from reasonrl.algos import agg_loss, clipped_pg_loss, grpo_loss, kl_k3, masked_mean

LOG = math.log


def _one_token(ratios, advantages):
    """N sequences of one token each with the given ratio (old_logprobs = 0)."""
    logprobs = torch.tensor([[LOG(r)] for r in ratios])
    return logprobs, torch.zeros_like(logprobs), torch.tensor(advantages), torch.ones_like(logprobs)


def test_ratio_one_gives_minus_mean_advantage():
    logprobs = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]])
    adv = torch.tensor([0.866, -0.3])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    loss, metrics = clipped_pg_loss(logprobs, logprobs, adv, mask)
    assert loss.item() == pytest.approx(-(0.866 - 0.3) / 2)
    assert metrics["ratio/mean"].item() == pytest.approx(1.0)
    assert metrics["clip/frac"].item() == 0.0
    assert metrics["loss/pg"].item() == pytest.approx(loss.item())


@pytest.mark.parametrize("ratio,adv,clip_low,clip_high,expected,clipped", [
    (1.5, 1.0, 0.2, 0.2, -1.2, True),     # A>0, ratio above 1+0.2: clipped to 1.2
    (1.5, 1.0, 0.2, 0.28, -1.28, True),   # DAPO clip-higher: clipped to 1.28 instead
    (0.5, -1.0, 0.2, 0.2, 0.8, True),     # A<0, ratio below 1-0.2: clipped to 0.8
    (1.5, -1.0, 0.2, 0.2, 1.5, False),    # A<0, ratio high: min picks the unclipped ratio
    (0.5, 1.0, 0.2, 0.2, -0.5, False),    # A>0, ratio low: min picks the unclipped ratio
    (1.1, 1.0, 0.2, 0.2, -1.1, False),    # inside the trust region
    (1.5, 0.0, 0.2, 0.2, 0.0, False),     # A=0: both terms are 0, nothing is clipped
])
def test_clip_cases_by_hand(ratio, adv, clip_low, clip_high, expected, clipped):
    loss, metrics = clipped_pg_loss(*_one_token([ratio], [adv]), clip_low=clip_low, clip_high=clip_high)
    assert loss.item() == pytest.approx(expected)
    assert metrics["clip/frac"].item() == float(clipped)


def test_clip_frac_counts_only_mask_tokens():
    # per sequence: (1.5, A=+1) clipped, (0.5, A=-1) clipped, (1.5, A=-1) not, (0.5, A=+1) not
    loss, metrics = clipped_pg_loss(*_one_token([1.5, 0.5, 1.5, 0.5], [1.0, -1.0, -1.0, 1.0]))
    assert metrics["clip/frac"].item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx((-1.2 + 0.8 + 1.5 - 0.5) / 4)
    assert metrics["ratio/mean"].item() == pytest.approx(1.0)
    # a padding token with a wild ratio changes neither the loss nor the clip fraction
    logprobs = torch.tensor([[0.0, 5.0]])
    loss, metrics = clipped_pg_loss(logprobs, torch.zeros(1, 2), torch.tensor([1.0]), torch.tensor([[1, 0]]))
    assert loss.item() == pytest.approx(-1.0)
    assert metrics["clip/frac"].item() == 0.0
    assert metrics["ratio/mean"].item() == pytest.approx(1.0)


def test_gradient_at_ratio_one_is_minus_advantage_over_length():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    logprobs = torch.tensor([[-1.0, -2.0, -0.5, -3.0], [-0.3, -0.7, -1.0, -1.0]], requires_grad=True)
    adv = torch.tensor([0.6, -1.2])
    loss, _ = clipped_pg_loss(logprobs, logprobs.detach(), adv, mask, agg="seq_mean_token_mean")
    loss.backward()
    # d/dlp of -(1/N) sum_i (1/len_i) sum_t A_i * exp(lp - old) at lp == old: -A_i / (len_i * N)
    expected = torch.tensor([[-0.6 / 3, -0.6 / 3, -0.6 / 3, 0.0], [1.2 / 2, 1.2 / 2, 0.0, 0.0]]) / 2
    assert torch.allclose(logprobs.grad, expected)


def test_clipped_tokens_get_no_gradient():
    logprobs = torch.tensor([[LOG(1.5), LOG(1.1)]], requires_grad=True)
    loss, _ = clipped_pg_loss(logprobs, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2))
    loss.backward()
    # clipped token: 0; free token: -A * ratio / len = -1.1 / 2
    assert torch.allclose(logprobs.grad, torch.tensor([[0.0, -1.1 / 2]]))


def test_fully_masked_row_gives_zero_loss_and_finite_grad():
    logprobs = torch.tensor([[-1.0, -1.0], [-math.inf, -math.inf]], requires_grad=True)
    old = torch.tensor([[-1.0, -1.0], [-2.0, math.nan]])
    mask = torch.tensor([[1, 1], [0, 0]])
    for agg in ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"]:
        loss, metrics = grpo_loss(logprobs, old, torch.tensor([1.0, 5.0]), mask, agg=agg, max_tokens=2,
                                  ref_logprobs=torch.tensor([[-1.5, -0.5], [-math.inf, 0.0]]), beta=0.1)
        (grad,) = torch.autograd.grad(loss, logprobs)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()
        assert all(torch.isfinite(v) for v in metrics.values())
    only_masked, _ = clipped_pg_loss(logprobs[1:], old[1:], torch.tensor([5.0]), mask[1:])
    assert only_masked.item() == 0.0


def test_k3_by_hand():
    # exp(log .25 - log .5) - (log .25 - log .5) - 1 = 0.5 + ln 2 - 1 = 0.1931
    kl = kl_k3(torch.tensor([[LOG(0.5)]]), torch.tensor([[LOG(0.25)]]))
    assert kl.item() == pytest.approx(0.5 + LOG(2) - 1)
    assert round(kl.item(), 3) == 0.193


def test_k3_is_zero_when_equal_and_never_negative():
    g = torch.Generator().manual_seed(0)
    lp = -torch.rand(4, 6, generator=g) * 5
    assert torch.equal(kl_k3(lp, lp), torch.zeros(4, 6))
    assert (kl_k3(lp, -torch.rand(4, 6, generator=g) * 5) >= 0).all()


def test_grpo_loss_adds_beta_times_k3_through_the_same_aggregation():
    g = torch.Generator().manual_seed(2)
    logprobs, ref = -torch.rand(3, 4, generator=g), -torch.rand(3, 4, generator=g)
    adv, mask = torch.tensor([1.0, -0.5, 0.2]), torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    pg, _ = clipped_pg_loss(logprobs, logprobs, adv, mask, agg="token_mean")
    loss, metrics = grpo_loss(logprobs, logprobs, adv, mask, ref_logprobs=ref, beta=0.04, agg="token_mean")
    kl = kl_k3(logprobs, ref)
    assert loss.item() == pytest.approx(pg.item() + 0.04 * agg_loss(kl, mask, "token_mean").item(), abs=1e-6)
    assert metrics["loss/pg"].item() == pytest.approx(pg.item())
    assert metrics["kl/ref"].item() == pytest.approx(masked_mean(kl, mask).item())


def test_grpo_loss_without_ref_equals_clipped_pg_loss():
    args = _one_token([1.5, 0.5], [1.0, -1.0])
    plain, plain_metrics = clipped_pg_loss(*args, clip_high=0.28)
    loss, metrics = grpo_loss(*args, clip_high=0.28)
    assert loss.item() == plain.item()
    assert "kl/ref" not in metrics and set(metrics) == set(plain_metrics)


def test_ref_with_beta_zero_only_reports_kl():
    args = _one_token([1.0], [1.0])
    loss, metrics = grpo_loss(*args, ref_logprobs=torch.tensor([[LOG(0.5)]]), beta=0.0)
    assert loss.item() == pytest.approx(-1.0)
    assert metrics["kl/ref"].item() == pytest.approx(0.5 + LOG(2) - 1)


def test_beta_without_ref_fails():
    with pytest.raises(ValueError, match="needs ref_logprobs"):
        grpo_loss(*_one_token([1.0], [1.0]), beta=0.04)


def test_advantages_shape_is_checked():
    logprobs = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"advantages must be \[B\*G\]=2"):
        clipped_pg_loss(logprobs, logprobs, torch.zeros(3), torch.ones(2, 3))


def test_masked_mean():
    x = torch.tensor([[1.0, 3.0, 100.0], [5.0, 7.0, math.nan]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    assert masked_mean(x, mask).item() == 4.0
    assert masked_mean(x, mask, dim=1).tolist() == [2.0, 6.0]
    assert masked_mean(x, torch.zeros(2, 3)).item() == 0.0


def test_entropy_bonus_subtracts_coef_times_entropy_through_the_same_aggregation_and_skips_padding():
    logprobs, adv = torch.zeros(2, 3), torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    entropy = torch.tensor([[0.3, 0.6, 0.9], [1.2, 99.0, math.nan]])   # padding holds garbage
    plain, _ = grpo_loss(logprobs, logprobs, adv, mask, agg="seq_mean_token_mean")
    loss, metrics = grpo_loss(logprobs, logprobs, adv, mask, agg="seq_mean_token_mean", entropy=entropy,
                              entropy_coef=0.5)
    # per sequence: mean entropy 0.6 and 1.2, their mean 0.9; the bonus is -0.5 * 0.9
    assert loss.item() == pytest.approx(plain.item() - 0.45)
    assert metrics["loss/pg"].item() == pytest.approx(plain.item())   # the PG term alone, as without the bonus


def test_entropy_bonus_gradient_raises_the_entropy():
    logits = torch.tensor([[[3.0, 0.0, -1.0]]], requires_grad=True)    # one peaked next-token distribution
    lse = torch.logsumexp(logits, -1)
    logprobs = logits[..., 0] - lse                                    # [1, 1], the sampled token is 0
    entropy = lse - (torch.softmax(logits, -1) * logits).sum(-1)
    loss, _ = grpo_loss(logprobs, logprobs.detach(), torch.zeros(1), torch.ones(1, 1), entropy=entropy,
                        entropy_coef=1.0)                              # zero advantage: only the bonus moves
    loss.backward()
    stepped = (logits - 0.5 * logits.grad).detach()
    after = -(torch.softmax(stepped, -1) * torch.log_softmax(stepped, -1)).sum()
    assert after.item() > entropy.item() + 0.02   # 0.274 -> 0.305


def test_entropy_coef_without_entropy_fails():
    with pytest.raises(ValueError, match="needs the entropy"):
        grpo_loss(*_one_token([1.0], [1.0]), entropy_coef=0.01)


@pytest.mark.parametrize("coef", [0.0, 0.1])
def test_loss_pg_metric_is_detached_with_or_without_the_bonus(coef):
    lp = torch.zeros(1, 2, requires_grad=True)
    _, m = grpo_loss(lp, lp.detach(), torch.tensor([1.0]), torch.ones(1, 2), entropy=torch.ones(1, 2), entropy_coef=coef)
    assert not m["loss/pg"].requires_grad
