"""GRPO-family algorithms as pure tensor functions: advantages, policy losses, KL, loss aggregation.

No model, config object or I/O in here: the trainer passes tensors and the scalars a function uses,
and picks variants by name from `ADVANTAGES`, `LOSS_AGG` and `ROLLOUT_CORRECTIONS`. `docs/algorithms.md` maps each option
to its paper. Shapes: B prompts, G samples per prompt, T completion tokens.
"""
from reasonrl.algos.advantages import (
    ADVANTAGES,
    drgrpo_advantages,
    get_advantage_fn,
    group_has_variance,
    grpo_advantages,
    rloo_advantages,
    weight_positive,
)
from reasonrl.algos.aggregation import LOSS_AGG, agg_loss
from reasonrl.algos.covariance import cov_clip_mask, token_covariance
from reasonrl.algos.losses import clipped_pg_loss, grpo_loss, kl_k3, masked_mean
from reasonrl.algos.rollout_correction import ROLLOUT_CORRECTIONS, rollout_is_weights

__all__ = [
    "ADVANTAGES",
    "LOSS_AGG",
    "ROLLOUT_CORRECTIONS",
    "agg_loss",
    "clipped_pg_loss",
    "cov_clip_mask",
    "drgrpo_advantages",
    "get_advantage_fn",
    "group_has_variance",
    "grpo_advantages",
    "grpo_loss",
    "kl_k3",
    "masked_mean",
    "rloo_advantages",
    "rollout_is_weights",
    "token_covariance",
    "weight_positive",
]
