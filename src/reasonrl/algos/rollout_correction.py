"""Off-policy correction for rollouts sampled by a different engine than the one that trains.

A fast engine (vLLM's kernels, an int8 or bf16 weight copy, a stale copy) samples from a policy
`pi_rollout` slightly different from the trainer's `pi_old`, which the loss assumes sampled the tokens.
Importance weighting the policy-gradient term by `pi_old / pi_rollout` per token undoes that bias; the
ratio is capped (or the token dropped) because a few tokens with a tiny rollout probability would
otherwise carry the whole gradient:

    ratio = exp(old_logprobs - rollout_logprobs)                 [B*G, T]
    tis   w = min(ratio, C)                                       truncated IS (Yao et al., "Your efficient RL
                                                                  framework secretly brings you off-policy RL
                                                                  training", 2025; TRL's token_truncate)
    mask  w = ratio if 1/C <= ratio <= C else 0                   masked IS (verl's rollout_is mode "mask";
                                                                  TRL's token_mask drops only ratio > C)
    none  w = 1

The weights carry no gradient: they multiply the per-token PG loss (not the KL term) as a constant.
`is/clip_frac` is the fraction of completion tokens whose weight was capped or dropped; a value that
keeps rising means the engine has drifted from the trainer (check `kl/rollout_vs_train`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from reasonrl.algos.losses import masked_mean


def _log_ratio(old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor) -> Tensor:
    if old_logprobs.shape != rollout_logprobs.shape or old_logprobs.shape != mask.shape:
        raise ValueError(f"old_logprobs, rollout_logprobs and mask must all be [B*G, T], got {tuple(old_logprobs.shape)}, "
                         f"{tuple(rollout_logprobs.shape)} and {tuple(mask.shape)}")
    # 0 on padding before the exp: padded log-probs may be -inf, and the weight there must be finite
    return torch.where(mask.bool(), (old_logprobs - rollout_logprobs).detach(), torch.zeros((), dtype=old_logprobs.dtype))


def no_correction(old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor, *, cap: float) -> tuple[Tensor, Tensor]:
    """Weights 1 everywhere (the engine is trusted to sample the trainer's policy).

    >>> w, hit = no_correction(torch.zeros(1, 2), torch.full((1, 2), -5.0), torch.ones(1, 2), cap=2.0)
    >>> w.tolist(), hit.tolist()
    ([[1.0, 1.0]], [[False, False]])
    """
    _log_ratio(old_logprobs, rollout_logprobs, mask)   # same shape checks as the others
    return torch.ones_like(old_logprobs), torch.zeros_like(mask, dtype=torch.bool)


def truncated_is(old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor, *, cap: float) -> tuple[Tensor, Tensor]:
    """Truncated importance weights `min(exp(old - rollout), cap)`; 1 on padding.

    Args:
        old_logprobs: `[B*G, T]` sampled tokens' log-probs under the trainer's policy at sampling time.
        rollout_logprobs: `[B*G, T]` the same tokens' log-probs as the engine that sampled them reported.
        mask: `[B*G, T]` 1 on completion tokens.
        cap: C >= 1, the largest weight a token may get.

    Returns:
        (`[B*G, T]` detached weights, `[B*G, T]` bool: completion tokens where the cap bit).

    >>> old = torch.log(torch.tensor([[0.5, 0.9, 0.1]]))
    >>> ro = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))    # ratios 1, 3, 0.5
    >>> w, hit = truncated_is(old, ro, torch.ones(1, 3), cap=2.0)
    >>> [round(x, 4) for x in w[0].tolist()], hit[0].tolist()
    ([1.0, 2.0, 0.5], [False, True, False])
    """
    ratio = torch.exp(_log_ratio(old_logprobs, rollout_logprobs, mask))   # [B*G, T]; 1 on padding
    hit = (ratio > cap) & mask.bool()                                   # [B*G, T]
    return ratio.clamp(max=cap), hit


def masked_is(old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor, *, cap: float) -> tuple[Tensor, Tensor]:
    """Importance weights `exp(old - rollout)`, set to 0 where the ratio leaves `[1/cap, cap]`.

    Same arguments and returns as `truncated_is`; the bool marks the dropped tokens.

    >>> old = torch.log(torch.tensor([[0.5, 0.9, 0.1]]))
    >>> ro = torch.log(torch.tensor([[0.5, 0.3, 0.4]]))    # ratios 1, 3, 0.25
    >>> w, hit = masked_is(old, ro, torch.ones(1, 3), cap=2.0)
    >>> [round(x, 4) for x in w[0].tolist()], hit[0].tolist()
    ([1.0, 0.0, 0.0], [False, True, True])
    """
    ratio = torch.exp(_log_ratio(old_logprobs, rollout_logprobs, mask))   # [B*G, T]
    out = (ratio > cap) | (ratio < 1.0 / cap)                            # [B*G, T]
    hit = out & mask.bool()
    return torch.where(out, torch.zeros((), dtype=ratio.dtype), ratio), hit


CorrectionFn = Callable[..., tuple[Tensor, Tensor]]

ROLLOUT_CORRECTIONS: dict[str, CorrectionFn] = {
    "none": no_correction,
    "tis": truncated_is,
    "mask": masked_is,
}


def rollout_is_weights(name: str, old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor, *,
                       cap: float) -> tuple[Tensor, dict[str, Tensor]]:
    """The weights of correction `name` (`algo.rollout_correction`) and their metrics.

    Returns:
        (`[B*G, T]` detached weights for the per-token PG loss, `{"is/clip_frac", "is/weight_mean"}`
        as detached `[]` tensors averaged over completion tokens).

    >>> old, ro = torch.log(torch.tensor([[0.9, 0.5]])), torch.log(torch.tensor([[0.3, 0.5]]))
    >>> w, m = rollout_is_weights("tis", old, ro, torch.ones(1, 2), cap=2.0)
    >>> w.tolist(), m["is/clip_frac"].item(), m["is/weight_mean"].item()
    ([[2.0, 1.0]], 0.5, 1.5)
    """
    if name not in ROLLOUT_CORRECTIONS:
        raise ValueError(f"unknown rollout correction {name!r}; valid: {', '.join(ROLLOUT_CORRECTIONS)}")
    if cap < 1.0:
        raise ValueError(f"rollout correction cap must be >= 1, got {cap}")
    w, hit = ROLLOUT_CORRECTIONS[name](old_logprobs, rollout_logprobs, mask, cap=cap)
    metrics = {"is/clip_frac": masked_mean(hit.to(w.dtype), mask), "is/weight_mean": masked_mean(w, mask)}
    return w, metrics
