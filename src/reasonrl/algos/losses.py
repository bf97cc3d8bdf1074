"""Policy losses: the clipped GRPO surrogate and Schulman's k3 KL to a reference policy.

    per_token = -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A) + beta * k3
    ratio     = exp(logprobs - old_logprobs)                     (PPO / DeepSeekMath, arXiv:2402.03300)
    k3        = exp(ref - lp) - (ref - lp) - 1 >= 0               (Schulman, "Approximating KL Divergence", 2020)

then aggregated with `agg_loss` (see aggregation.py). `clip_high > clip_low` is DAPO's clip-higher
(arXiv:2503.14476, 0.28 / 0.2). Metrics are detached tensors with the fixed names of docs/metrics.md;
they are averages over the tokens of this call (one micro-batch), so the trainer averages them.
"""
from __future__ import annotations

import torch
from torch import Tensor

from reasonrl.algos.aggregation import agg_loss
from reasonrl.algos.covariance import cov_clip_mask


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `x` over positions where `mask` is 1; 0 (not NaN) where nothing is unmasked.

    Args:
        x: any shape, e.g. `[B*G, T]`.
        mask: same shape as `x`, 1 (or True) where the entry counts.
        dim: reduce over this dim only; None reduces over everything.

    Returns:
        `[]` if `dim` is None, else `x` with `dim` removed.

    >>> masked_mean(torch.tensor([[1., 3., 100.], [5., 0., 0.]]), torch.tensor([[1, 1, 0], [0, 0, 0]]), dim=1).tolist()
    [2.0, 0.0]
    """
    keep = mask.bool()
    total = torch.where(keep, x, torch.zeros((), dtype=x.dtype))
    count = keep.to(x.dtype)
    if dim is None:
        return total.sum() / count.sum().clamp(min=1)
    return total.sum(dim=dim) / count.sum(dim=dim).clamp(min=1)


def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Schulman's k3 estimator of KL(policy || reference), per token: `exp(d) - d - 1` with `d = ref - lp`.

    Unbiased for KL(pi || ref) when tokens are sampled from pi, and never negative (e^d >= 1 + d).
    Not clamped: verl clamps it to 10, we leave any such cap to the caller so values stay exact.

    Args:
        logprobs: `[B*G, T]` log-probs of the sampled tokens under the policy.
        ref_logprobs: `[B*G, T]` log-probs of the same tokens under the reference model.

    Returns:
        `[B*G, T]` per-token KL estimate (mask it before averaging).

    >>> round(kl_k3(torch.tensor([0.5]).log(), torch.tensor([0.25]).log()).item(), 4)
    0.1931
    """
    log_ratio = ref_logprobs - logprobs  # [B*G, T]
    return torch.exp(log_ratio) - log_ratio - 1  # [B*G, T]


def _clipped_surrogate(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, *,
                       clip_low: float, clip_high: float) -> tuple[Tensor, Tensor, Tensor]:
    """Per-token clipped PG loss, the tokens where the clip is active, and the ratio (all `[B*G, T]`)."""
    if logprobs.dim() != 2 or logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(f"logprobs, old_logprobs and mask must all be [B*G, T], got {tuple(logprobs.shape)}, "
                         f"{tuple(old_logprobs.shape)} and {tuple(mask.shape)}")
    if advantages.shape != logprobs.shape[:1]:
        raise ValueError(f"advantages must be [B*G]={logprobs.shape[0]}, got shape {tuple(advantages.shape)}")
    keep = mask.bool()  # [B*G, T]
    # Zero the log-ratio on padding *before* exp: padding log-probs may be -inf or garbage, and
    # exp of that would put NaN into the backward pass even though the loss masks it out.
    log_ratio = torch.where(keep, logprobs - old_logprobs, torch.zeros((), dtype=logprobs.dtype))  # [B*G, T]
    ratio = torch.exp(log_ratio)  # [B*G, T]
    adv = advantages.unsqueeze(1)  # [B*G, 1]
    pg_unclipped = -adv * ratio  # [B*G, T]
    pg_clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)  # [B*G, T]
    per_token = torch.maximum(pg_unclipped, pg_clipped)  # [B*G, T]; max of the negated = -min
    clipped = (pg_clipped > pg_unclipped) & keep  # [B*G, T]; clip chosen *and* different
    return per_token, clipped, ratio


def clipped_pg_loss(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, *,
                    clip_low: float = 0.2, clip_high: float = 0.2, agg: str = "seq_mean_token_mean",
                    max_tokens: int | None = None, num_seqs: int | None = None,
                    num_tokens: int | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Clipped policy-gradient loss (GRPO / PPO surrogate without a value function or KL).

    Args:
        logprobs: `[B*G, T]` log-probs of the sampled tokens under the policy being trained (with grad).
        old_logprobs: `[B*G, T]` the same under the policy that sampled them (no grad). Equal to
            `logprobs.detach()` when each batch gets one update (`algo.num_iterations` = 1).
        advantages: `[B*G]` one advantage per completion, broadcast over its tokens.
        mask: `[B*G, T]` 1 for completion tokens that count, 0 for padding.
        clip_low, clip_high: the ratio is clipped to `[1 - clip_low, 1 + clip_high]`.
        agg, max_tokens, num_seqs, num_tokens: passed to `agg_loss`.

    Returns:
        `([]` loss, metrics `{"loss/pg", "clip/frac", "ratio/mean"}` as detached `[]` tensors).

    >>> lp = torch.zeros(2, 3)
    >>> loss, m = clipped_pg_loss(lp, lp, torch.tensor([1.0, -0.5]), torch.ones(2, 3))
    >>> loss.item(), m["clip/frac"].item()
    (-0.25, 0.0)
    """
    per_token, clipped, ratio = _clipped_surrogate(logprobs, old_logprobs, advantages, mask,
                                                   clip_low=clip_low, clip_high=clip_high)
    loss = agg_loss(per_token, mask, agg, max_tokens, num_seqs=num_seqs, num_tokens=num_tokens)  # []
    metrics = {
        "loss/pg": loss.detach(),
        "clip/frac": masked_mean(clipped.to(ratio.dtype), mask),
        "ratio/mean": masked_mean(ratio.detach(), mask),
    }
    return loss, metrics


def grpo_loss(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, *,
              ref_logprobs: Tensor | None = None, beta: float = 0.0, clip_low: float = 0.2,
              clip_high: float = 0.2, agg: str = "seq_mean_token_mean", max_tokens: int | None = None,
              num_seqs: int | None = None, num_tokens: int | None = None,
              is_weights: Tensor | None = None, entropy: Tensor | None = None,
              entropy_coef: float = 0.0, cov_clip_frac: float = 0.0,
              cov_clip_bounds: tuple[float, float] = (1.0, 5.0)) -> tuple[Tensor, dict[str, Tensor]]:
    """The GRPO objective: clipped surrogate plus `beta * k3` KL to a reference, minus `entropy_coef *` the
    policy's entropy (a bonus, as PPO's and verl's `entropy_coeff`), per token, then aggregated.

    The KL term sits inside the per-token sum as in DeepSeekMath's objective, so it is aggregated by
    the same `agg` mode as the policy-gradient term. With `ref_logprobs` given and `beta=0` the KL is
    only reported (`kl/ref`), not trained on.

    Args:
        logprobs, old_logprobs, advantages, mask: as in `clipped_pg_loss`.
        ref_logprobs: `[B*G, T]` log-probs under the frozen reference model (no grad), or None.
        beta: KL weight (`algo.beta`); > 0 requires `ref_logprobs`.
        clip_low, clip_high, agg, max_tokens, num_seqs, num_tokens: as in `clipped_pg_loss`.
        is_weights: `[B*G, T]` detached off-policy weights for the PG term (`rollout_is_weights`), or None.
        entropy: `[B*G, T]` the policy's entropy at each completion position, with grad; needed when
            `entropy_coef` > 0. Why (issue 19, session 26): after the format appears, GRPO sharpens a 135M policy to
            one thinking per question (mean entropy 0.00-0.02), every group's samples agree, no update runs, and a
            step the task needs (the walk's second hop) is sampled only by chance.
        entropy_coef: weight of the entropy bonus (`algo.entropy_coef`); 0 = off.
        cov_clip_frac, cov_clip_bounds: Clip-Cov (algos/covariance.py): the PG term of this share of the tokens, drawn
            among those whose log-prob x advantage covariance lies inside the bounds, passes no gradient; 0 = off.

    Returns:
        `([]` loss, metrics `{"loss/pg", "clip/frac", "ratio/mean"}` plus `"kl/ref"` (masked mean of k3)
        when `ref_logprobs` is given).

    >>> lp = torch.zeros(1, 2)
    >>> loss, m = grpo_loss(lp, lp, torch.tensor([1.0]), torch.ones(1, 2), ref_logprobs=lp - 1, beta=0.1)
    >>> round(loss.item(), 4), round(m["kl/ref"].item(), 4)
    (-0.9632, 0.3679)
    >>> loss, m = grpo_loss(lp, lp, torch.tensor([1.0]), torch.ones(1, 2), entropy=torch.tensor([[0.5, 1.5]]),
    ...                     entropy_coef=0.1)
    >>> round(loss.item(), 4), round(m["loss/pg"].item(), 4)          # -1 - 0.1 * mean(0.5, 1.5)
    (-1.1, -1.0)
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta > 0 and ref_logprobs is None:
        raise ValueError(f"beta={beta} needs ref_logprobs (the reference model's log-probs); pass them or set beta=0")
    if entropy_coef < 0:
        raise ValueError(f"entropy_coef must be >= 0, got {entropy_coef}")
    if entropy_coef > 0 and (entropy is None or entropy.shape != logprobs.shape):
        raise ValueError(f"entropy_coef={entropy_coef} needs the entropy as [B*G, T]={tuple(logprobs.shape)}, got "
                         f"{None if entropy is None else tuple(entropy.shape)}")
    per_token, clipped, ratio = _clipped_surrogate(logprobs, old_logprobs, advantages, mask,
                                                   clip_low=clip_low, clip_high=clip_high)
    if is_weights is not None:
        if is_weights.shape != per_token.shape:
            raise ValueError(f"is_weights must be [B*G, T]={tuple(per_token.shape)}, got {tuple(is_weights.shape)}")
        per_token = per_token * is_weights.detach()   # the rollout correction reweights the PG term only, not the KL
    agg_kw = dict(num_seqs=num_seqs, num_tokens=num_tokens)
    bonus = 0.0
    if entropy_coef > 0:   # 0 on padding, where the entropy may be anything
        bonus = -entropy_coef * torch.where(mask.bool(), entropy, torch.zeros((), dtype=entropy.dtype))
    metrics = {
        "clip/frac": masked_mean(clipped.to(ratio.dtype), mask),
        "ratio/mean": masked_mean(ratio.detach(), mask),
    }
    if cov_clip_frac > 0:   # same value, no gradient: the loss and its logged figure are unchanged
        picked = cov_clip_mask(logprobs, advantages, mask, frac=cov_clip_frac, low=cov_clip_bounds[0],
                               high=cov_clip_bounds[1], exclude=clipped)
        per_token = torch.where(picked, per_token.detach(), per_token)
        metrics["cov_clip/frac"] = masked_mean(picked.to(ratio.dtype), mask)
    if ref_logprobs is None:
        loss = agg_loss(per_token + bonus, mask, agg, max_tokens, **agg_kw)  # []
        with torch.no_grad():
            metrics["loss/pg"] = agg_loss(per_token, mask, agg, max_tokens, **agg_kw) if entropy_coef > 0 else loss.detach()
        return loss, metrics
    if ref_logprobs.shape != logprobs.shape:
        raise ValueError(f"ref_logprobs must be [B*G, T]={tuple(logprobs.shape)}, got {tuple(ref_logprobs.shape)}")
    keep = mask.bool()  # [B*G, T]
    zero = torch.zeros((), dtype=logprobs.dtype)
    # same reason as the ratio: padding log-probs may be -inf, so put 0 in both before the exp
    kl = kl_k3(torch.where(keep, logprobs, zero), torch.where(keep, ref_logprobs, zero))  # [B*G, T]; 0 on padding
    loss = agg_loss(per_token + beta * kl + bonus, mask, agg, max_tokens, **agg_kw)  # []
    with torch.no_grad():
        metrics["loss/pg"] = agg_loss(per_token, mask, agg, max_tokens, **agg_kw)
        metrics["kl/ref"] = masked_mean(kl, mask)
    return loss, metrics
