"""The policy update of one step: forward -> loss -> backward -> step, over micro-batches of the kept samples.

Why the micro-batches (and the ranks) add up to the full batch: each micro-batch's loss is divided by the
GLOBAL counts (kept samples N and their completion tokens, `grpo_loss(num_seqs=, num_tokens=)`), so the sum
of their gradients is the gradient of the whole batch's loss; the metrics are token-weighted for the same
reason, except `loss/pg`, which is already a share of the total and is summed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from reasonrl.algos import grpo_loss
from reasonrl.rollout.base import Rollouts
from reasonrl.train.distributed import sum_metrics
from reasonrl.train.forward import rollout_correction, rollout_logprob_gap

if TYPE_CHECKING:
    from reasonrl.train.loop import Trainer


@dataclass(frozen=True)
class MicroBatch:
    """Samples of ONE prompt trained in one forward: the prompt is encoded once (forward.group_logprobs)."""

    prompt: list[int]    # the prompt's token ids
    samples: list[int]   # indices into the step's B*G rollouts


def micro_batches(rollouts: Rollouts, keep: list[int], G: int, size: int) -> list[MicroBatch]:
    """The kept samples grouped by prompt, at most `size` per micro-batch, in sample order.

    >>> ro = Rollouts([[1], [1], [1], [2], [2], [2]], [[]] * 6, [""] * 6, [False] * 6, 0.0)
    >>> [(mb.prompt, mb.samples) for mb in micro_batches(ro, [0, 1, 2, 4], G=3, size=2)]
    [([1], [0, 1]), ([1], [2]), ([2], [4])]
    """
    by_prompt: dict[int, list[int]] = {}
    for i in keep:
        by_prompt.setdefault(i // G, []).append(i)
    return [MicroBatch(rollouts.prompt_ids[idx[0]], idx[s : s + size])
            for idx in by_prompt.values() for s in range(0, len(idx), size)]


def update(t: "Trainer", rollouts: Rollouts, advantages: torch.Tensor, keep: list[int]) -> dict[str, float]:
    """`algo.num_iterations` optimizer passes over this rank's share of the kept samples `keep` (indices into
    the B*G `rollouts`; `advantages` [B*G]). Returns the update's metrics, averaged over the passes."""
    cfg, G, strategy = t.cfg, t.cfg.rollout.num_generations, t.strategy
    mu = cfg.algo.num_iterations
    everyone = micro_batches(rollouts, keep, G, cfg.optim.micro_batch_size)
    lo, hi = t.dist.bounds(len(rollouts.prompt_ids) // G)
    mine = [mb for mb in everyone if lo <= mb.samples[0] // G < hi]   # this rank's groups (all, on 1 process)
    num_seqs = len(keep)                                               # global counts: the loss divides by them
    num_tokens = sum(len(rollouts.completion_ids[i]) for i in keep)
    kw = dict(pad_id=t.tok.pad_token_id, temperature=cfg.rollout.temperature, bf16=t.bf16)

    def forward(model, mb: MicroBatch, **extra):   # -> (logprobs [n, T], entropy [n, T] or None, mask [n, T])
        return strategy.logprobs_fn(model, mb.prompt, [rollouts.completion_ids[i] for i in mb.samples], **kw, **extra)

    t.model.train()
    old = ref = None
    if mu > 1 or t.ref_model is not None:
        with torch.no_grad():  # one extra forward per micro-batch: only when mu > 1 or a KL term needs it
            old = [forward(t.model, mb)[0] for mb in strategy.micro_batches(mine, backward=False)] if mu > 1 else None
            ref = [forward(t.ref_model, mb)[0] for mb in mine] if t.ref_model is not None else None
    sums: dict[str, float] = {}
    t0 = time.perf_counter()
    for it in range(mu):
        strategy.zero_grad()
        for j, mb in enumerate(strategy.micro_batches(mine, backward=True)):
            logprobs, entropy, mask = forward(t.model, mb, with_entropy=True,
                                              entropy_grad=cfg.algo.entropy_coef > 0)                # [n, T]
            old_logprobs = old[j] if old else logprobs.detach()
            is_weights, is_metrics = rollout_correction(   # off-policy correction: the engine that sampled vs the trainer
                cfg.algo.rollout_correction, cfg.algo.rollout_correction_cap,
                [rollouts.logprobs[i] for i in mb.samples] if rollouts.logprobs is not None else None, old_logprobs, mask)
            loss, metrics = grpo_loss(logprobs, old_logprobs, advantages[mb.samples].to(logprobs.device), mask,
                                      ref_logprobs=ref[j] if ref else None, beta=cfg.algo.beta,
                                      clip_low=cfg.algo.clip_low, clip_high=cfg.algo.clip_high, agg=cfg.algo.loss_agg,
                                      max_tokens=cfg.rollout.max_new_tokens, num_seqs=num_seqs, num_tokens=num_tokens,
                                      is_weights=is_weights, entropy=entropy, entropy_coef=cfg.algo.entropy_coef,
                                      cov_clip_frac=cfg.algo.cov_clip_frac, cov_clip_bounds=cfg.algo.cov_clip_bounds)
            metrics.update(is_metrics)
            strategy.backward(loss)
            metrics["entropy/mean"] = (entropy.detach() * mask).sum() / mask.sum().clamp(min=1)
            if rollouts.logprobs is not None and it == 0:  # only if the engine returned them; pass 1 = the sampling policy
                gap = rollout_logprob_gap([rollouts.logprobs[i] for i in mb.samples], logprobs.detach(), mask)
                metrics["kl/rollout_vs_train"] = gap * mu   # added in pass 1 only; sums are averaged over mu
            weight = mask.sum().item() / max(num_tokens, 1)   # token-weighted so metrics match a full batch
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v) * (1.0 if k == "loss/pg" else weight)
        grad_norm = strategy.step()
        t.scheduler.step()
    seconds = time.perf_counter() - t0
    out = {k: v / mu for k, v in sum_metrics(t.dist, sums).items()}
    out["grad/norm"] = grad_norm
    # sample tokens (prompt + completion, as a padded-batch trainer would count them) per update second
    seen = sum(len(rollouts.prompt_ids[i]) + len(rollouts.completion_ids[i]) for i in keep)
    out["train/tokens_per_s"] = seen * mu / max(seconds, 1e-9)
    out["train/num_seqs"] = num_seqs
    # tokens the model actually ran (each prompt once per micro-batch): the roofline benchmark's FLOP count
    out["train/model_tokens"] = sum(len(mb.prompt) + sum(len(rollouts.completion_ids[i]) for i in mb.samples)
                                    for mb in everyone)
    out["train/completion_tokens"] = num_tokens
    return out
