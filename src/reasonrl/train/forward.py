"""From rollouts to the tensors the loss needs: padded batches and per-token log-probabilities.

Layout (`rollout.batch.pack`): every row is [left-padded prompt (P) | completion right-padded (T)], so
completion token t of every row sits at column P + t and one `logits_to_keep=T+1` forward yields exactly
the logits we need (no full-sequence logits over the prompt).
"""
from __future__ import annotations

import torch

from reasonrl.algos import kl_k3, masked_mean, rollout_is_weights
from reasonrl.rollout.batch import PackedBatch, pack


def completion_logprobs(
    model, batch: PackedBatch, *, temperature: float = 1.0, bf16: bool = False, with_entropy: bool = False,
    entropy_grad: bool = False,
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
    entropy = token_entropy(logits, lse, entropy_grad) if with_entropy else None   # [N, T]
    return logprobs * batch.mask, entropy


def tree_layout(P: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One packed row for a prompt of P tokens followed by n completions of `lengths`, each completion
    attending to the prompt and to its own earlier tokens only (a tree with the prompt as its trunk).
    Returns (allowed [L, L] bool, position ids [L], source [sum lengths]: the packed index whose hidden
    state predicts each completion token: the prompt's last token for a completion's first, then its own).

    >>> allowed, pos, src = tree_layout(2, [2, 1])     # row: p0 p1 | a0 a1 | b0
    >>> allowed.int().tolist()
    [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 0, 0, 1]]
    >>> pos.tolist(), src.tolist()
    ([0, 1, 2, 3, 2], [1, 2, 1])
    """
    seg = torch.cat([torch.full((P,), -1)] + [torch.full((n,), i) for i, n in enumerate(lengths)])  # -1: prompt
    pos = torch.cat([torch.arange(P)] + [torch.arange(P, P + n) for n in lengths])
    L = len(seg)
    causal = torch.arange(L)[:, None] >= torch.arange(L)[None, :]
    allowed = causal & ((seg[None, :] == -1) | (seg[:, None] == seg[None, :]))
    starts = [P + sum(lengths[:i]) for i in range(len(lengths))]
    src = [torch.cat([torch.tensor([P - 1]), s + torch.arange(n - 1)]) for s, n in zip(starts, lengths) if n]
    return allowed, pos, torch.cat(src) if src else torch.zeros(0, dtype=torch.long)


def _mask_for(model, allowed: torch.Tensor) -> torch.Tensor:
    """`allowed` as the 4D mask the model's attention takes as-is: boolean for SDPA/flex (True = attend),
    additive float (0 / most negative) for eager attention, which adds the mask to the scores."""
    if getattr(getattr(model, "config", None), "_attn_implementation", "sdpa") == "eager":
        dtype = next(model.parameters()).dtype
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)[None, None]
    return allowed[None, None]


def token_entropy(logits: torch.Tensor, lse: torch.Tensor, grad: bool = False) -> torch.Tensor:
    """Entropy of each position's next-token distribution, `lse - sum(p * logits)` ([..., V] -> [...]); with
    `grad`, differentiable (for `algo.entropy_coef`), else computed without building a graph.

    >>> logits = torch.log(torch.tensor([[0.5, 0.5], [1.0, 1e-9]]))
    >>> [round(v, 4) for v in token_entropy(logits, torch.logsumexp(logits, -1)).tolist()]
    [0.6931, 0.0]
    """
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        return lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)


def group_logprobs(
    model, prompt: list[int], completions: list[list[int]], pad_id: int, *, temperature: float = 1.0,
    bf16: bool = False, with_entropy: bool = False, entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Like `completion_logprobs` for n completions of ONE prompt, in ONE forward with no padding.

    The prompt and all completions are packed into one row (`tree_layout`): the prompt is encoded once,
    every completion attends to it and to itself, position ids restart after the prompt for each
    completion, so each token sees exactly what it sees in its own padded row: values and gradients are
    exact. Against encoding the prompt once and then running padded length buckets on its repeated KV cache
    (the previous path), one call means one gradient contribution per weight per group instead of one per
    bucket (the autograd engine sums those out of place), one embedding backward instead of one per call
    (each fills a vocab-sized buffer), no padded tokens, and taller matmuls: forward + backward + AdamW step
    of two groups on the 2-core EPYC 5.6-6.5 s -> 2.6-3.3 s (benchmarks/levers.py).
    The LM head runs only on the hidden states that predict a completion token (`logits_to_keep` indices).
    Returns (logprobs [n, T], entropy [n, T] or None, mask [n, T]).
    """
    n, P = len(completions), len(prompt)
    lengths = [len(c) for c in completions]
    T = max(1, max(lengths))
    dev = model.device  # cpu, or this rank's GPU
    allowed, pos, src = tree_layout(P, lengths)
    ids = torch.tensor([prompt + [t for c in completions for t in c]], device=dev)        # [1, L]
    targets = torch.tensor([t for c in completions for t in c], dtype=torch.long, device=dev)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(input_ids=ids, attention_mask=_mask_for(model, allowed).to(dev), position_ids=pos[None].to(dev),
                    logits_to_keep=src.to(dev), use_cache=False)
    logits = out.logits[0].float() / temperature                                          # [sum lengths, V]
    lse = torch.logsumexp(logits, dim=-1)
    flat = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - lse                     # [sum lengths]
    mask = torch.zeros((n, T), dtype=torch.float32, device=dev)
    for i, k in enumerate(lengths):
        mask[i, :k] = 1
    where = mask.bool()
    # scatter the packed values into [n, T] (row-major order = packing order); differentiable
    logprobs = torch.zeros((n, T), dtype=flat.dtype, device=dev).masked_scatter(where, flat)
    entropy = None
    if with_entropy:
        ent = token_entropy(logits, lse, entropy_grad)
        entropy = torch.zeros((n, T), dtype=ent.dtype, device=dev).masked_scatter(where, ent)
    return logprobs, entropy, mask


def padded_logprobs(
    model, prompt: list[int], completions: list[list[int]], pad_id: int, *, temperature: float = 1.0,
    bf16: bool = False, with_entropy: bool = False, entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """`group_logprobs` as one padded forward with the prompt repeated in every row: the plain layout, kept
    as the baseline `benchmarks/levers.py` measures the packed row against. Same returns."""
    b = pack([prompt] * len(completions), completions, pad_id)
    dev = model.device
    b = PackedBatch(b.input_ids.to(dev), b.attention_mask.to(dev), b.mask.to(dev), b.prompt_len)
    lp, ent = completion_logprobs(model, b, temperature=temperature, bf16=bf16, with_entropy=with_entropy,
                                  entropy_grad=entropy_grad)
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
