"""How the trainer's weights live across processes: one small class per mode behind one interface (base.py),
chosen once per run by name from `STRATEGIES`.

    single  one process holding everything (no launcher)                       single.py
    ddp     N processes, each holding everything; one gradient all-reduce      ddp.py
    fsdp    PyTorch FSDP2: weights, gradients and AdamW state sharded          fsdp.py
    zero    DeepSpeed ZeRO-2/3                                                 zero.py

The mode follows how the job was launched: no launcher (or 1 process) = single; an accelerate FSDP or
DeepSpeed config file = fsdp / zero; any other multi-process launch = ddp.
"""
from __future__ import annotations

from reasonrl.train.distributed import Dist
from reasonrl.train.parallel.base import GatheredEngine, Strategy, held_state_mb
from reasonrl.train.parallel.ddp import DDP
from reasonrl.train.parallel.fsdp import FSDP, fsdp_requested
from reasonrl.train.parallel.single import Single
from reasonrl.train.parallel.zero import Zero, deepspeed_requested

STRATEGIES: dict[str, type[Strategy]] = {"single": Single, "ddp": DDP, "fsdp": FSDP, "zero": Zero}


def launched_mode(world: int) -> str:
    """The `STRATEGIES` name for a job of `world` processes, from what `accelerate launch` put in the environment."""
    if world <= 1:
        return "single"
    return "fsdp" if fsdp_requested() else "zero" if deepspeed_requested() else "ddp"


def get_strategy(name: str, dist: Dist, *, max_grad_norm: float, pad_id: int = 0) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"unknown parallel mode {name!r}; valid: {', '.join(STRATEGIES)}")
    return STRATEGIES[name](dist, max_grad_norm=max_grad_norm, pad_id=pad_id)


__all__ = ["STRATEGIES", "GatheredEngine", "Strategy", "get_strategy", "held_state_mb", "launched_mode"]
