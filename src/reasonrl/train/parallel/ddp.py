"""`ddp`: N processes, each holding the whole model; one all-reduce of the gradients per optimizer step.

    reasonrl train --launcher accelerate --num-processes 2 [CONFIG.yaml] [key=value ...]

Each rank back-propagates its own groups' loss (already divided by the global counts N / num_tokens), then
ONE all-reduce SUMs a flat gradient buffer (not DDP's mean, and not per tensor): the summed gradient is the
1-process gradient, up to float summation order. Ranks may train on different numbers of micro-batches
(dropped groups), which a DDP wrapper's per-backward collectives could not allow. Why the rest of the step
equals one process: distributed.py.
"""
from __future__ import annotations

import torch

from reasonrl.train.parallel.single import Single


def sum_grads(params: list[torch.Tensor]) -> None:
    """Sum `.grad` over ranks in place: one collective on a flat copy of all gradients (a rank that trained on
    nothing contributes zeros). Costs one model-sized buffer and one all-reduce per optimizer step."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p)
        offset += p.numel()


class DDP(Single):
    """Replicated weights and optimizer state; identical on every rank after each step."""

    name = "ddp"

    def step(self) -> float:
        sum_grads([p for p in self.model.parameters() if p.requires_grad])   # the one collective of the update
        return super().step()
