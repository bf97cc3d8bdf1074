"""From SFT examples to tensors: tokenization with a completion-only loss mask, length-bucketed batches.

Length bucketing, not packing: each row holds one example (right-padded), so no attention and no loss can
cross examples by construction, and the model's own attention path is used unchanged. Sorting by length
inside windows of `bucket_size` batches keeps padding low (measured on the demo traces in docs/distill.md)
while the batch order stays shuffled.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from reasonrl.distill.traces import Example


@dataclass
class TokenizedExample:
    input_ids: list[int]   # prompt ids + completion ids + EOS
    loss_mask: list[int]   # 1 where the token is predicted with loss (completion tokens and EOS), 0 on the prompt


def tokenize_example(tokenizer, ex: Example) -> TokenizedExample:
    """Prompt and completion are tokenized apart, as a rollout is (prompt ids, then generated ids), so the
    boundary is exact; the EOS appended is the one generation stops on, so the student learns to stop."""
    p = tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(ex.completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return TokenizedExample(p + c, [0] * len(p) + [1] * len(c))


def bucket_batches(lengths: list[int], batch_size: int, bucket_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indices cut into batches: shuffle (seeded by seed and epoch), sort each window of
    batch_size * bucket_size examples by length, cut into batches, shuffle the batches.
    Every index appears exactly once; the last batch may be short.

    >>> bucket_batches([5, 1, 4, 2, 3, 6], batch_size=2, bucket_size=3, seed=0, epoch=0)
    [[1, 3], [0, 5], [4, 2]]
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * bucket_size
    batches = []
    for w in range(0, len(order), window):
        part = sorted(order[w:w + window], key=lambda i: (lengths[i], i))
        batches += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


@dataclass
class SFTBatch:
    input_ids: torch.Tensor       # [N, L] right-padded
    attention_mask: torch.Tensor  # [N, L]
    loss_mask: torch.Tensor       # [N, L] 1 on tokens that are predicted with loss


def collate(examples: list[TokenizedExample], pad_id: int) -> SFTBatch:
    L = max(len(e.input_ids) for e in examples)
    N = len(examples)
    ids = torch.full((N, L), pad_id, dtype=torch.long)
    attn = torch.zeros((N, L), dtype=torch.long)
    mask = torch.zeros((N, L), dtype=torch.float32)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        attn[i, :n] = 1
        mask[i, :n] = torch.tensor(e.loss_mask, dtype=torch.float32)
    return SFTBatch(ids, attn, mask)


def completion_nll(model, batch: SFTBatch) -> tuple[torch.Tensor, int]:
    """(summed negative log-likelihood of the loss-masked tokens, their count). Summed, not averaged, so
    micro-batches add up to the token mean of the whole optimizer batch."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits  # [N, L, V]
    logits = logits[:, :-1].float()                         # position t predicts token t+1
    targets = batch.input_ids[:, 1:]                        # [N, L-1]
    mask = batch.loss_mask[:, 1:]                           # [N, L-1]; a prompt's first token is never a target
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return (nll.view_as(mask) * mask).sum(), int(mask.sum().item())
