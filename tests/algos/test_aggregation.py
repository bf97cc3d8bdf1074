"""Loss aggregation modes on a hand example, and exact micro-batch accumulation."""
import pytest
import torch

from reasonrl.algos import LOSS_AGG, agg_loss, grpo_loss

NAN = float("nan")
# row 0: 3 tokens summing to 6; row 1: 1 token = 4; row 2: fully masked, NaN padding
PER_TOKEN = torch.tensor([[1.0, 2.0, 3.0], [4.0, NAN, NAN], [NAN, NAN, NAN]])
MASK = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])


def test_three_modes_give_the_hand_computed_values():
    assert agg_loss(PER_TOKEN, MASK, "token_mean").item() == pytest.approx(10 / 4)  # 2.5
    assert agg_loss(PER_TOKEN, MASK, "seq_mean_token_mean").item() == pytest.approx((2 + 4 + 0) / 3)  # 2.0
    value = agg_loss(PER_TOKEN, MASK, "seq_mean_token_sum_norm", max_tokens=4).item()
    assert value == pytest.approx((6 / 4 + 4 / 4 + 0) / 3)  # 0.8333


def test_two_rows_without_padding_row():
    lt, m = PER_TOKEN[:2], MASK[:2]
    values = [agg_loss(lt, m, mode, max_tokens=4).item() for mode in LOSS_AGG]
    assert values == pytest.approx([2.5, 3.0, 1.25])


@pytest.mark.parametrize("mode", list(LOSS_AGG))
def test_fully_masked_batch_is_zero_not_nan(mode):
    loss = agg_loss(torch.full((2, 3), NAN), torch.zeros(2, 3), mode, max_tokens=3)
    assert loss.item() == 0.0


def test_bool_mask_works_like_int_mask():
    assert agg_loss(PER_TOKEN, MASK.bool(), "token_mean").item() == pytest.approx(2.5)


def test_sum_norm_needs_max_tokens():
    with pytest.raises(ValueError, match="needs max_tokens >= 1, got None"):
        agg_loss(PER_TOKEN, MASK, "seq_mean_token_sum_norm")


def test_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        agg_loss(PER_TOKEN, MASK, "sum")
    assert str(err.value) == ("unknown loss aggregation 'sum'; valid: token_mean, seq_mean_token_mean, "
                              "seq_mean_token_sum_norm")


def test_shape_mismatch_fails():
    with pytest.raises(ValueError, match=r"\[B\*G, T\]"):
        agg_loss(PER_TOKEN, MASK[:, :2], "token_mean")


def _random_batch(n=6, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    per_token = torch.randn(n, t, generator=g)
    lengths = torch.tensor([5, 1, 3, 0, 4, 2])  # differing lengths and one empty completion
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    return per_token, mask


@pytest.mark.parametrize("mode", list(LOSS_AGG))
@pytest.mark.parametrize("sizes", [[3, 3], [2, 2, 2], [1, 5]])
def test_micro_batches_with_global_denominators_sum_to_full_batch(mode, sizes):
    per_token, mask = _random_batch()
    full = agg_loss(per_token, mask, mode, max_tokens=5)
    n, tokens = per_token.shape[0], int(mask.sum())
    parts = zip(per_token.split(sizes), mask.split(sizes))
    summed = sum(agg_loss(lt, m, mode, max_tokens=5, num_seqs=n, num_tokens=tokens) for lt, m in parts)
    assert torch.allclose(summed, full, atol=1e-6)


@pytest.mark.parametrize("mode", ["seq_mean_token_mean", "seq_mean_token_sum_norm"])
def test_seq_modes_also_accumulate_by_micro_batch_fraction(mode):
    per_token, mask = _random_batch()
    full = agg_loss(per_token, mask, mode, max_tokens=5)
    summed = sum(agg_loss(lt, m, mode, max_tokens=5) * (lt.shape[0] / 6)
                 for lt, m in zip(per_token.split([2, 4]), mask.split([2, 4])))
    assert torch.allclose(summed, full, atol=1e-6)


@pytest.mark.parametrize("mode", list(LOSS_AGG))
def test_grpo_loss_gradients_accumulate_exactly(mode):
    g = torch.Generator().manual_seed(1)
    _, mask = _random_batch()
    logprobs = (-torch.rand(6, 5, generator=g)).requires_grad_()
    old, ref = logprobs.detach() + 0.1 * torch.randn(6, 5, generator=g), -torch.rand(6, 5, generator=g)
    adv = torch.randn(6, generator=g)
    kw = dict(ref_logprobs=ref, beta=0.04, clip_high=0.28, agg=mode, max_tokens=5)
    full, _ = grpo_loss(logprobs, old, adv, mask, **kw)
    (full_grad,) = torch.autograd.grad(full, logprobs)
    total, n, tokens = 0.0, 6, int(mask.sum())
    for idx in (slice(0, 2), slice(2, 6)):
        micro, _ = grpo_loss(logprobs[idx], old[idx], adv[idx], mask[idx], **{**kw, "ref_logprobs": ref[idx]},
                             num_seqs=n, num_tokens=tokens)
        total = total + micro
    (micro_grad,) = torch.autograd.grad(total, logprobs)
    assert torch.allclose(total, full, atol=1e-6)
    assert torch.allclose(micro_grad, full_grad, atol=1e-6)
