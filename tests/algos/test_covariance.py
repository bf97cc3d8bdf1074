"""Clip-Cov (algos/covariance.py): the covariance by hand, the draw, and the gradient it removes."""
import pytest
import torch

from reasonrl.algos import cov_clip_mask, grpo_loss, token_covariance


def test_covariance_by_hand_over_masked_tokens_only():
    lp = torch.tensor([[-1.0, -3.0, 50.0], [-2.0, -2.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    adv = torch.tensor([2.0, -2.0])
    # masked tokens: lp -1 -3 -2 -2 (mean -2), A 2 2 -2 -2 (mean 0)
    assert token_covariance(lp, adv, mask).tolist() == [[2.0, -2.0, 0.0], [-0.0, -0.0, 0.0]]


def test_all_candidates_picked_at_frac_one_and_none_outside_the_bounds():
    lp = torch.tensor([[-1.0, -3.0], [0.0, -4.0]])        # mean -2
    adv = torch.tensor([2.0, -2.0])                         # mean 0
    # cov: [2, -2], [-4, 4]; bounds (1, 5): tokens (0,0) and (1,1)
    picked = cov_clip_mask(lp, adv, torch.ones(2, 2), frac=1.0)
    assert picked.tolist() == [[True, False], [False, True]]
    assert not cov_clip_mask(lp, adv, torch.ones(2, 2), frac=1.0, low=5.0, high=9.0).any()
    assert not cov_clip_mask(lp, adv, torch.ones(2, 2), frac=0.0).any()
    exclude = torch.tensor([[True, False], [False, False]])
    assert cov_clip_mask(lp, adv, torch.ones(2, 2), frac=1.0, exclude=exclude).tolist() == [[False, False], [False, True]]


def test_draws_frac_of_the_tokens_at_least_one_among_candidates():
    lp = torch.tensor([[-1.0, -3.0], [0.0, -4.0]])
    adv = torch.tensor([2.0, -2.0])
    seen = set()
    for seed in range(20):
        picked = cov_clip_mask(lp, adv, torch.ones(2, 2), frac=0.1, generator=torch.Generator().manual_seed(seed))
        assert picked.sum().item() == 1                   # int(0.1 * 4) = 0 -> at least one
        seen.add(tuple(picked.flatten().nonzero().squeeze(1).tolist()))
    assert seen == {(0,), (3,)}                            # only candidates, both drawn


def test_bad_frac_or_bounds_fail():
    with pytest.raises(ValueError, match="cov_clip_frac"):
        cov_clip_mask(torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1), frac=1.5)
    with pytest.raises(ValueError, match="low < high"):
        cov_clip_mask(torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1), frac=0.1, low=5.0, high=1.0)


def test_picked_tokens_keep_their_loss_value_and_pass_no_gradient():
    lp = torch.tensor([[-1.0, -3.0], [0.0, -4.0]], requires_grad=True)
    adv, mask = torch.tensor([2.0, -2.0]), torch.ones(2, 2)
    plain, _ = grpo_loss(lp, lp.detach(), adv, mask)
    plain.backward()
    g_plain = lp.grad.clone()
    lp.grad = None
    loss, metrics = grpo_loss(lp, lp.detach(), adv, mask, cov_clip_frac=1.0)
    loss.backward()
    assert loss.item() == pytest.approx(plain.item())
    assert metrics["cov_clip/frac"].item() == 0.5
    assert lp.grad[0, 0].item() == 0.0 and lp.grad[1, 1].item() == 0.0            # the two candidates
    assert lp.grad[0, 1].item() == g_plain[0, 1].item() != 0.0
    assert lp.grad[1, 0].item() == g_plain[1, 0].item() != 0.0
