"""Advantage estimators: one scalar reward per completion -> one advantage per completion.

Rewards arrive flat, `[B*G]`, with the G samples of a prompt next to each other (prompt-major),
which is the order the rollout produces them in. Every estimator here has the same signature,
`fn(rewards, group_size, *, std_eps) -> Tensor[B*G]`, so the trainer picks one by name from
`ADVANTAGES` and never branches on it.

    grpo    DeepSeekMath (arXiv:2402.03300) outcome supervision: (r - mean_group) / (std_group + eps)
    drgrpo  Dr. GRPO (arXiv:2503.20783): r - mean_group, no std division (removes the difficulty bias)
    rloo    RLOO (arXiv:2402.14740): r_i - mean of the other G-1 rewards of the group
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    """Check `rewards` is `[B*G]` and return it as a float `[B, G]` view."""
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [B*G], got shape {tuple(rewards.shape)}")
    if rewards.numel() % group_size != 0:
        raise ValueError(f"rewards has {rewards.numel()} entries, not a multiple of group_size={group_size}")
    if not rewards.is_floating_point():
        rewards = rewards.float()  # integer 0/1 rewards are common; mean/std need floats
    return rewards.view(-1, group_size)


def grpo_advantages(rewards: Tensor, group_size: int, *, std_eps: float = 1e-4, scale_std: bool = True) -> Tensor:
    """GRPO group-normalised advantage (DeepSeekMath, eq. for outcome supervision).

    `A_i = (r_i - mean(r_group)) / (std(r_group) + std_eps)`, with the *unbiased* std (divide by G-1),
    as `torch.std` computes it and as TRL's GRPOTrainer uses it (with eps 1e-4). `scale_std=False`
    gives the Dr. GRPO advantage. A group of one (G=1) has advantage 0: there is nothing to compare
    with, and the unbiased std of one sample would be NaN.

    Args:
        rewards: `[B*G]` one reward per completion, groups contiguous.
        group_size: G, samples per prompt.
        std_eps: added to the std so an all-equal group gives 0, not 0/0.
        scale_std: divide by the group std (GRPO) or not (Dr. GRPO).

    Returns:
        `[B*G]` float advantages.

    >>> [round(a, 3) for a in grpo_advantages(torch.tensor([1., 0., 0., 1.]), 4).tolist()]
    [0.866, -0.866, -0.866, 0.866]
    """
    grouped = _grouped(rewards, group_size)  # [B, G]
    centered = grouped - grouped.mean(dim=1, keepdim=True)  # [B, G]
    if scale_std and group_size > 1:
        centered = centered / (grouped.std(dim=1, keepdim=True) + std_eps)  # [B, G]
    return centered.reshape(-1)  # [B*G]


def drgrpo_advantages(rewards: Tensor, group_size: int, *, std_eps: float = 1e-4) -> Tensor:
    """Dr. GRPO advantage: `r_i - mean(r_group)`, no std division (arXiv:2503.20783, sec. 3.2).

    `std_eps` is accepted and unused, so every estimator in `ADVANTAGES` has one signature.

    Args:
        rewards: `[B*G]` one reward per completion, groups contiguous.
        group_size: G, samples per prompt.

    Returns:
        `[B*G]` float advantages.

    >>> drgrpo_advantages(torch.tensor([1., 0., 0., 1.]), 4).tolist()
    [0.5, -0.5, -0.5, 0.5]
    """
    return grpo_advantages(rewards, group_size, std_eps=std_eps, scale_std=False)


def rloo_advantages(rewards: Tensor, group_size: int, *, std_eps: float = 1e-4) -> Tensor:
    """REINFORCE leave-one-out advantage: `r_i - mean(r_j for j != i)` (arXiv:2402.14740).

    Computed as `G/(G-1) * (r_i - mean(r_group))`, which is the same thing without a G x G loop.
    G=1 has no other sample to use as a baseline: advantage 0. `std_eps` is accepted and unused.

    Args:
        rewards: `[B*G]` one reward per completion, groups contiguous.
        group_size: G, samples per prompt.

    Returns:
        `[B*G]` float advantages.

    >>> [round(a, 3) for a in rloo_advantages(torch.tensor([1., 0., 0., 1.]), 4).tolist()]
    [0.667, -0.667, -0.667, 0.667]
    """
    grouped = _grouped(rewards, group_size)  # [B, G]
    if group_size == 1:
        return torch.zeros_like(grouped).reshape(-1)  # [B*G]
    centered = grouped - grouped.mean(dim=1, keepdim=True)  # [B, G]
    return (centered * (group_size / (group_size - 1))).reshape(-1)  # [B*G]


def group_has_variance(rewards: Tensor, group_size: int) -> Tensor:
    """Which groups have at least two different rewards (DAPO dynamic sampling, arXiv:2503.14476).

    A group whose rewards are all equal has advantage 0 for every sample under all three
    estimators, so it adds no policy gradient, only cost (and, under `token_mean`, dilutes the
    denominator). Equality is exact: rewards of one verifier are repeated values, not noisy ones.
    G=1 never has variance.

    Args:
        rewards: `[B*G]` one reward per completion, groups contiguous.
        group_size: G, samples per prompt.

    Returns:
        `[B]` bool, True where the group is worth training on. Expand to sequences with
        `.repeat_interleave(group_size)`.

    >>> group_has_variance(torch.tensor([1., 0., 1., 1.]), 2).tolist()
    [True, False]
    """
    grouped = _grouped(rewards, group_size)  # [B, G]
    return grouped.amax(dim=1) > grouped.amin(dim=1)  # [B]


def weight_positive(advantages: Tensor, positive_weight: float) -> Tensor:
    """Scale the positive advantages by `positive_weight`, leave the negative ones (W-REINFORCE, arXiv:2506.01347).

    Why (issue 19, session 29): on the arrows curriculum GRPO sharpens a 135M policy to one thinking per question
    within ~60 steps, before the content match is sampled, and a collapsed policy never samples it. Zhu et al.
    ("The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning") find that the negative samples'
    term alone keeps the entropy up (it moves a wrong sample's mass onto the other tokens in proportion to their
    probability) and that down-weighting the positive term (lambda = 0.1) keeps most of the accuracy gain.
    1.0 = plain GRPO.

    Args:
        advantages: `[N]` advantages from any estimator in `ADVANTAGES`.
        positive_weight: lambda >= 0, the factor on advantages > 0.

    Returns:
        `[N]` float advantages.

    >>> [round(a, 3) for a in weight_positive(torch.tensor([0.5, -0.5, 0.0, 2.0]), 0.1).tolist()]
    [0.05, -0.5, 0.0, 0.2]
    """
    if positive_weight < 0:
        raise ValueError(f"positive_weight must be >= 0, got {positive_weight}")
    return torch.where(advantages > 0, advantages * positive_weight, advantages)


AdvantageFn = Callable[..., Tensor]

ADVANTAGES: dict[str, AdvantageFn] = {
    "grpo": grpo_advantages,
    "drgrpo": drgrpo_advantages,
    "rloo": rloo_advantages,
}


def get_advantage_fn(name: str) -> AdvantageFn:
    """Look up an advantage estimator by its config name (`algo.advantage`).

    >>> get_advantage_fn("rloo") is rloo_advantages
    True
    """
    if name not in ADVANTAGES:
        raise ValueError(f"unknown advantage estimator {name!r}; valid: {', '.join(ADVANTAGES)}")
    return ADVANTAGES[name]
