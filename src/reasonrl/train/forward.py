"""From rollouts to the tensors the loss needs: padded batches and per-token log-probabilities.

Layout: every row is [left-padded prompt (P) | completion right-padded (T)], so completion token t of
every row sits at column P + t and one `logits_to_keep=T+1` forward yields exactly the logits we need
(no full-sequence logits over the prompt).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reasonrl.algos import kl_k3, masked_mean


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


def completion_logprobs(
    model, batch: PackedBatch, *, temperature: float = 1.0, bf16: bool = False, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities [N, T] of the completion tokens under `model` (and entropy [N, T] if asked).

    Logits are divided by the sampling temperature so the ratio compares the policy that actually
    sampled (TRL and verl do the same). Position ids follow the attention mask, as `generate` computes
    them for left-padded prompts; without this the training forward would not match the rollout.
    """
    T = batch.mask.shape[1]
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=position_ids,
            logits_to_keep=T + 1,
            use_cache=False,
        )
    logits = out.logits[:, :-1].float() / temperature          # [N, T, V] predicts tokens P..P+T-1
    targets = batch.input_ids[:, batch.prompt_len :]           # [N, T]
    lse = torch.logsumexp(logits, dim=-1)                      # [N, T]
    logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - lse  # [N, T]
    entropy = None
    if with_entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            entropy = lse - (probs * logits).sum(-1)           # [N, T]
    return logprobs * batch.mask, entropy


def group_logprobs(
    model, prompt: list[int], completions: list[list[int]], pad_id: int, *, temperature: float = 1.0,
    bf16: bool = False, with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Like `completion_logprobs` for n completions of ONE prompt, encoding the prompt once.

    The prompt's forward runs once (batch 1) with autograd on, its KV cache is repeated n times, and the
    completions attend to it; gradients flow back through the repeat into that single prompt forward, so
    the result and its gradient are exact. Prompt tokens usually outnumber completion tokens in these
    tasks, so training does ~G times less prompt work than packing every sample with its own prompt copy.
    Returns (logprobs [n, T], entropy [n, T] or None, mask [n, T]).
    """
    n, P = len(completions), len(prompt)
    T = max(1, max(len(c) for c in completions))
    comp = torch.full((n, T), pad_id, dtype=torch.long)
    mask = torch.zeros((n, T), dtype=torch.float32)
    for i, c in enumerate(completions):
        if c:
            comp[i, : len(c)] = torch.tensor(c)
            mask[i, : len(c)] = 1
    dev = model.device  # cpu, or this rank's GPU
    comp, mask = comp.to(dev), mask.to(dev)
    attn = torch.cat([torch.ones(n, P, dtype=torch.long, device=dev), mask.long()], dim=1)   # [n, P+T]
    pos = torch.arange(P, P + T, device=dev).expand(n, T)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        head = model(input_ids=torch.tensor([prompt], device=dev), use_cache=True, logits_to_keep=1)
        cache = head.past_key_values
        cache.batch_repeat_interleave(n)                                          # differentiable repeat
        body = model(input_ids=comp, attention_mask=attn, position_ids=pos, past_key_values=cache, use_cache=True)
    first = head.logits[:, -1:].expand(n, 1, -1)                                  # [n, 1, V] predicts token 0
    logits = torch.cat([first, body.logits[:, :-1]], dim=1).float() / temperature # [n, T, V]
    lse = torch.logsumexp(logits, dim=-1)                                         # [n, T]
    logprobs = logits.gather(-1, comp.unsqueeze(-1)).squeeze(-1) - lse            # [n, T]
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)
    return logprobs * mask, entropy, mask


def rollout_logprob_gap(rollout_logprobs: list[list[float]], logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """How far the engine that sampled is from the trainer: masked mean k3 estimate of KL(rollout || train),
    from the sampled tokens' log-probs under each ([n] lists of per-token values; [n, T] tensors).
    0 when they agree; a bf16 rollout copy or a vLLM kernel shows up here as a small positive number.

    >>> train, mask = torch.log(torch.tensor([[0.25, 0.5]])), torch.ones(1, 2)
    >>> rollout_logprob_gap([train[0].tolist()], train, mask).item()
    0.0
    >>> half = torch.tensor(0.5).log().item()    # token 0: p=0.5 when sampled, 0.25 in training; k3 = 0.1931
    >>> round(rollout_logprob_gap([[half, half]], train, mask).item(), 4)
    0.0966
    """
    ro = torch.zeros_like(logprobs)
    for i, row in enumerate(rollout_logprobs):
        ro[i, : len(row)] = torch.tensor(row, dtype=logprobs.dtype)
    # sampled from the rollout policy, so k3 with log-ratio (train - rollout) estimates KL(rollout || train)
    return masked_mean(kl_k3(ro, torch.where(mask.bool(), logprobs, ro)), mask)
