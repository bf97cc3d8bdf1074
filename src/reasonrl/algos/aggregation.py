"""Loss aggregation: a per-token loss `[B*G, T]` and its mask -> one scalar.

The three modes weight tokens differently, which is most of what separates GRPO, DAPO and Dr. GRPO:

    seq_mean_token_mean      mean over each sequence's tokens, then over sequences
                             (DeepSeekMath, arXiv:2402.03300; the GRPO objective's 1/G sum 1/|o_i| sum_t)
    token_mean               sum over all tokens / number of tokens in the batch (DAPO token-level loss,
                             arXiv:2503.14476): long completions weigh in proportion to their length
    seq_mean_token_sum_norm  each sequence's token sum / a constant `max_tokens`, then mean over
                             sequences (Dr. GRPO, arXiv:2503.20783): no length normalisation bias

Gradient accumulation: the trainer splits N = B*G sequences into micro-batches. Pass the global
denominators, `num_seqs=N` and `num_tokens=<mask tokens in the whole batch>`, to every micro-batch
call; then the micro-batch losses *sum* to the full-batch loss exactly, for every mode (tested).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def _seq_count(per_token: Tensor, num_seqs: int | None) -> int:
    return per_token.shape[0] if num_seqs is None else num_seqs


def _token_mean(per_token: Tensor, mask: Tensor, *, max_tokens: int | None, num_seqs: int | None,
                num_tokens: int | None) -> Tensor:
    total = per_token.sum()  # []
    # clamp: an all-padding (micro-)batch gives 0, not 0/0
    denom = mask.sum().clamp(min=1) if num_tokens is None else max(num_tokens, 1)
    return total / denom  # []


def _seq_mean_token_mean(per_token: Tensor, mask: Tensor, *, max_tokens: int | None, num_seqs: int | None,
                         num_tokens: int | None) -> Tensor:
    seq_len = mask.sum(dim=1).clamp(min=1)  # [B*G]; clamp: a fully masked row gives 0, not 0/0
    seq_loss = per_token.sum(dim=1) / seq_len  # [B*G]
    return seq_loss.sum() / max(_seq_count(per_token, num_seqs), 1)  # []


def _seq_mean_token_sum_norm(per_token: Tensor, mask: Tensor, *, max_tokens: int | None, num_seqs: int | None,
                             num_tokens: int | None) -> Tensor:
    if max_tokens is None or max_tokens < 1:
        raise ValueError(f"loss aggregation 'seq_mean_token_sum_norm' needs max_tokens >= 1, got {max_tokens}")
    seq_loss = per_token.sum(dim=1) / max_tokens  # [B*G]
    return seq_loss.sum() / max(_seq_count(per_token, num_seqs), 1)  # []


LOSS_AGG: dict[str, Callable[..., Tensor]] = {
    "token_mean": _token_mean,
    "seq_mean_token_mean": _seq_mean_token_mean,
    "seq_mean_token_sum_norm": _seq_mean_token_sum_norm,
}


def agg_loss(per_token: Tensor, mask: Tensor, mode: str, max_tokens: int | None = None, *,
             num_seqs: int | None = None, num_tokens: int | None = None) -> Tensor:
    """Aggregate a per-token loss into a scalar with the named mode (`algo.loss_agg`).

    Padding never leaks in: masked positions are replaced by 0 (not multiplied by 0, so a NaN or
    inf at a padding position cannot turn the loss into NaN), and a fully masked row adds 0.

    Args:
        per_token: `[B*G, T]` loss per completion token.
        mask: `[B*G, T]` 1 (or True) for tokens that count, 0 for padding.
        mode: one of `LOSS_AGG`: token_mean | seq_mean_token_mean | seq_mean_token_sum_norm.
        max_tokens: the constant per-sequence divisor of `seq_mean_token_sum_norm` (the
            completion length cap); required for that mode, ignored by the others.
        num_seqs: global number of sequences when `per_token` is one micro-batch; default: rows here.
        num_tokens: global number of mask tokens when `per_token` is one micro-batch (token_mean);
            default: mask tokens here.

    Returns:
        `[]` scalar loss.

    >>> lt, m = torch.tensor([[1., 1., 0.], [4., 0., 0.]]), torch.tensor([[1, 1, 0], [1, 0, 0]])
    >>> [agg_loss(lt, m, k, max_tokens=3).item() for k in LOSS_AGG]
    [2.0, 2.5, 1.0]
    """
    if mode not in LOSS_AGG:
        raise ValueError(f"unknown loss aggregation {mode!r}; valid: {', '.join(LOSS_AGG)}")
    if per_token.dim() != 2 or per_token.shape != mask.shape:
        raise ValueError(f"per_token and mask must both be [B*G, T], "
                         f"got {tuple(per_token.shape)} and {tuple(mask.shape)}")
    keep = mask.bool()  # [B*G, T]
    per_token = torch.where(keep, per_token, torch.zeros((), dtype=per_token.dtype))  # [B*G, T]
    return LOSS_AGG[mode](per_token, keep.to(per_token.dtype), max_tokens=max_tokens,
                          num_seqs=num_seqs, num_tokens=num_tokens)
