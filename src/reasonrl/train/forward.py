"""From rollouts to the tensors the loss needs: padded batches and per-token log-probabilities.

Layout (`rollout.batch.pack`): every row is [left-padded prompt (P) | completion right-padded (T)], so
completion token t of every row sits at column P + t and one `logits_to_keep=T+1` forward yields exactly
the logits we need (no full-sequence logits over the prompt).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from reasonrl.algos import kl_k3, masked_mean, rollout_is_weights
from reasonrl.rollout.batch import PackedBatch, pack


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
    with torch.autocast(batch.input_ids.device.type, dtype=torch.bfloat16, enabled=bf16):
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


def length_buckets(lengths: list[int], overhead: float = 16.0) -> list[list[int]]:
    """Split rows into buckets that minimise padded tokens: sum over buckets of (rows x longest + overhead).

    A padded token costs a full forward+backward (~13 ms for 135M params on 2 cores); an extra bucket
    costs one more call whose small matmuls run slower, measured here at about 16 tokens' worth (8
    samples, lengths [48, 20, 19, ..., 15]: forward+backward 6.9 s in one bucket, 5.4 s in two). Rows are
    sorted longest first; an O(n^2) dynamic programme over the cut points finds the optimum.

    >>> length_buckets([48, 3, 4, 2])      # one rambling sample no longer pads the three short ones to 48
    [[0], [2, 1, 3]]
    >>> length_buckets([5, 5, 4, 5])       # nearly equal lengths: one call is cheaper than two
    [[0, 1, 3, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    L = [max(1, lengths[i]) for i in order]
    n = len(L)
    best, cut = [0.0] + [float("inf")] * n, [0] * (n + 1)      # best[j]: cost of the first j sorted rows
    for j in range(1, n + 1):
        for i in range(j):                                      # bucket = sorted rows i..j-1, longest is L[i]
            c = best[i] + (j - i) * L[i] + overhead
            if c < best[j]:
                best[j], cut[j] = c, i
    out, j = [], n
    while j > 0:
        out.append(order[cut[j] : j])
        j = cut[j]
    return out[::-1]


def group_logprobs(
    model, prompt: list[int], completions: list[list[int]], pad_id: int, *, temperature: float = 1.0,
    bf16: bool = False, with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Like `completion_logprobs` for n completions of ONE prompt, encoding the prompt once.

    The prompt's forward runs once (batch 1) with autograd on; its KV cache is repeated for the
    completions, which attend to it; gradients flow back through the repeat into that single prompt
    forward, so the result and its gradient are exact. Completions run in length buckets
    (`length_buckets`), each padded only to its own longest row: padding is computed like real tokens,
    and one 48-token sample would otherwise make seven 10-token ones cost 48 each.
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
    rows_lp: list[torch.Tensor | None] = [None] * n
    rows_ent: list[torch.Tensor | None] = [None] * n
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        head = model(input_ids=torch.tensor([prompt], device=dev), use_cache=True, logits_to_keep=1)
        kv = [(layer.keys, layer.values) for layer in head.past_key_values.layers]   # [1, H, P, D] each
        first = head.logits[:, -1:]                                                  # [1, 1, V] predicts token 0
        for idx in length_buckets([len(c) for c in completions]):
            nb, Tb = len(idx), max(1, max(len(completions[i]) for i in idx))
            ids, m = comp[idx, :Tb], mask[idx, :Tb]                                  # [nb, Tb]
            cache = DynamicCache(ddp_cache_data=[(k.expand(nb, -1, -1, -1), v.expand(nb, -1, -1, -1)) for k, v in kv],
                                 config=model.config)                                # differentiable, no copy
            attn = torch.cat([torch.ones(nb, P, dtype=torch.long, device=dev), m.long()], 1)  # [nb, P+Tb]
            body = model(input_ids=ids, attention_mask=attn, position_ids=torch.arange(P, P + Tb, device=dev).expand(nb, Tb),
                         past_key_values=cache, use_cache=True)
            logits = torch.cat([first.expand(nb, 1, -1), body.logits[:, :-1]], dim=1).float() / temperature  # [nb, Tb, V]
            lse = torch.logsumexp(logits, dim=-1)                                    # [nb, Tb]
            lp = logits.gather(-1, ids.unsqueeze(-1)).squeeze(-1) - lse              # [nb, Tb]
            ent = None
            if with_entropy:
                with torch.no_grad():
                    ent = lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)
            for r, i in enumerate(idx):
                rows_lp[i] = F.pad(lp[r], (0, T - Tb))
                if ent is not None:
                    rows_ent[i] = F.pad(ent[r], (0, T - Tb))
    logprobs = torch.stack(rows_lp)                                                  # [n, T]
    entropy = torch.stack(rows_ent) if with_entropy else None
    return logprobs * mask, entropy, mask


def padded_logprobs(
    model, prompt: list[int], completions: list[list[int]], pad_id: int, *, temperature: float = 1.0,
    bf16: bool = False, with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """`group_logprobs` in ONE padded forward (the prompt repeated in every row): always one model call,
    which sharded training (FSDP) needs, as every rank must make the same calls. Same returns."""
    b = pack([prompt] * len(completions), completions, pad_id)
    dev = model.device
    b = PackedBatch(b.input_ids.to(dev), b.attention_mask.to(dev), b.mask.to(dev), b.prompt_len)
    lp, ent = completion_logprobs(model, b, temperature=temperature, bf16=bf16, with_entropy=with_entropy)
    return lp, ent, b.mask


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
    ro = rollout_logprobs_tensor(rollout_logprobs, logprobs)
    # sampled from the rollout policy, so k3 with log-ratio (train - rollout) estimates KL(rollout || train)
    return masked_mean(kl_k3(ro, torch.where(mask.bool(), logprobs, ro)), mask)


def rollout_logprobs_tensor(rollout_logprobs: list[list[float]], like: torch.Tensor) -> torch.Tensor:
    """The engine's per-token log-probs ([n] lists) as an [n, T] tensor shaped, typed and placed like `like`; 0 on padding."""
    ro = torch.zeros_like(like)
    for i, row in enumerate(rollout_logprobs):
        ro[i, : len(row)] = torch.tensor(row, dtype=like.dtype)
    return ro


def rollout_correction(name: str, cap: float, rollout_logprobs: list[list[float]] | None, old_logprobs: torch.Tensor,
                       mask: torch.Tensor) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
    """Off-policy weights `[n, T]` for the PG loss and their `is/*` metrics (algos/rollout_correction.py), from
    the engine's log-probs and the trainer's `old_logprobs`; (None, {}) when off or the engine returned none."""
    if name == "none" or rollout_logprobs is None:
        return None, {}
    ro = rollout_logprobs_tensor(rollout_logprobs, old_logprobs)
    return rollout_is_weights(name, old_logprobs.detach(), ro, mask, cap=cap)
