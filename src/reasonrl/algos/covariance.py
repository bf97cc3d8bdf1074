"""Clip-Cov: no gradient through a few tokens whose log-prob and advantage co-vary most (Cui et al., "The Entropy
Mechanism of Reinforcement Learning for Reasoning Language Models", arXiv:2505.22617).

    cov_i = (logp_i - mean(logp)) * (A_i - mean(A))          over the completion tokens of the call
    pick  = max(int(frac * N), 1) tokens at random among those with low < cov_i < high

Why (issue 19): the paper shows that under a policy-gradient step the policy's entropy falls by about the covariance
of a token's log-prob with its advantage, so the few tokens where both are high together (a confident token in a
rewarded sample, a rare token in a punished one) are what sharpen a policy; dropping their gradient keeps it sampling.
Every failed arrows run froze at level 0 onto one thinking per question (entropy ~0.02) before the step it needed
was sampled. The paper's frac is 2e-4 of batches of millions of tokens; a step here holds ~500, so the fraction is
a config value (`algo.cov_clip_frac`), and the bounds are the paper's (1, 5).
"""
from __future__ import annotations

import torch
from torch import Tensor


def token_covariance(logprobs: Tensor, advantages: Tensor, mask: Tensor) -> Tensor:
    """`[B*G, T]` per-token covariance term `(logp - mean logp) * (A - mean A)`, means over the masked tokens; 0 on
    padding. `advantages` is `[B*G]`, one per completion, broadcast over its tokens.

    >>> lp = torch.tensor([[-1.0, -3.0], [-2.0, 0.0]])
    >>> cov = token_covariance(lp, torch.tensor([1.0, -1.0]), torch.tensor([[1, 1], [1, 0]]))   # mean lp -2, A 1/3
    >>> [[round(v, 4) for v in row] for row in cov.tolist()]
    [[0.6667, -0.6667], [-0.0, 0.0]]
    """
    keep = mask.bool()
    lp = logprobs.detach()
    adv = advantages.detach().unsqueeze(1).expand_as(lp)                                # [B*G, T]
    count = keep.sum().clamp(min=1)
    zero = torch.zeros((), dtype=lp.dtype)
    lp_mean = torch.where(keep, lp, zero).sum() / count
    adv_mean = torch.where(keep, adv, zero).sum() / count                               # token-weighted, as the paper
    return torch.where(keep, (lp - lp_mean) * (adv - adv_mean), zero)


def cov_clip_mask(logprobs: Tensor, advantages: Tensor, mask: Tensor, *, frac: float, low: float = 1.0,
                  high: float = 5.0, exclude: Tensor | None = None,
                  generator: torch.Generator | None = None) -> Tensor:
    """`[B*G, T]` bool: the tokens Clip-Cov takes the gradient from. None when `frac` is 0.

    Args:
        logprobs: `[B*G, T]` the sampled tokens' log-probs (detached here).
        advantages: `[B*G]`.
        mask: `[B*G, T]` 1 on completion tokens.
        frac: share of the masked tokens to pick (at least one when any token is a candidate); 0 picks none.
        low, high: a token is a candidate when `low < cov < high`.
        exclude: `[B*G, T]` bool, tokens that are never picked (the ones the ratio clip already holds, as verl does).
        generator: the random choice among the candidates; None = torch's global generator.

    >>> lp = torch.tensor([[-1.0, -3.0], [-2.0, 0.0]])
    >>> cov_clip_mask(lp, torch.tensor([3.0, -3.0]), torch.ones(2, 2), frac=1.0).tolist()   # cov 1.5 -4.5 1.5 -4.5
    [[True, False], [True, False]]
    """
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"cov_clip_frac must be in [0, 1], got {frac}")
    if not low < high:
        raise ValueError(f"cov_clip bounds need low < high, got ({low}, {high})")
    cov = token_covariance(logprobs, advantages, mask)
    candidates = mask.bool() & (cov > low) & (cov < high)
    if exclude is not None:
        candidates &= ~exclude.bool()
    picked = torch.zeros_like(candidates)
    where = candidates.flatten().nonzero().squeeze(1)
    if frac == 0.0 or where.numel() == 0:
        return picked
    n = min(max(int(frac * int(mask.bool().sum())), 1), where.numel())
    chosen = where[torch.randperm(where.numel(), generator=generator, device=where.device)[:n]]
    picked.view(-1)[chosen] = True
    return picked
