"""Rollouts as padded tensors: the layout the training forward (train/forward.py) and logit distillation
(distill/kd.py) both score completions in.

Every row is [left-padded prompt (P) | completion right-padded (T)], so completion token t of every row sits
at column P + t.

>>> b = pack([[5, 6], [7]], [[1], [2, 3]], pad_id=0)
>>> b.input_ids.tolist(), b.mask.tolist(), b.prompt_len
([[5, 6, 1, 0], [0, 7, 2, 3]], [[1.0, 0.0], [1.0, 1.0]], 2)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PackedBatch:
    input_ids: torch.Tensor       # [N, P+T]
    attention_mask: torch.Tensor  # [N, P+T]
    mask: torch.Tensor            # [N, T] 1 on completion tokens
    prompt_len: int               # P

    def rows(self, idx: slice) -> "PackedBatch":
        return PackedBatch(self.input_ids[idx], self.attention_mask[idx], self.mask[idx], self.prompt_len)


def pack(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int) -> PackedBatch:
    """Left-pad prompts to P, right-pad completions to T (T >= 1 even if every completion is empty)."""
    P = max(len(p) for p in prompt_ids)
    T = max(1, max(len(c) for c in completion_ids))
    N = len(prompt_ids)
    ids = torch.full((N, P + T), pad_id, dtype=torch.long)
    attn = torch.zeros((N, P + T), dtype=torch.long)
    mask = torch.zeros((N, T), dtype=torch.float32)
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        ids[i, P - len(p) : P] = torch.tensor(p)
        attn[i, P - len(p) : P] = 1
        if c:
            ids[i, P : P + len(c)] = torch.tensor(c)
            attn[i, P : P + len(c)] = 1
            mask[i, : len(c)] = 1
    return PackedBatch(ids, attn, mask, P)
