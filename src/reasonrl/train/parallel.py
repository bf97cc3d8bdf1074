"""How the trainer's weights live across processes, behind a few calls the loop makes:

    ddp   one process, or N processes each holding everything (distributed.py: one gradient all-reduce)
    fsdp  PyTorch FSDP2: weights, gradients and AdamW state sharded (fsdp.py)
    zero  DeepSpeed ZeRO-2/3 (zero.py)

The mode comes from the accelerate config the job was launched with (`Dist.mode`). In the two sharded modes
every forward and backward runs collectives, so every rank must make the same model calls (`pad_parts`,
`dummy_forward`), and the rollout engine samples from a full copy of the weights (`GatheredEngine`).
"""
from __future__ import annotations

import copy

import torch

from reasonrl.train import fsdp, zero
from reasonrl.train.distributed import Dist
from reasonrl.train.setup import build_engine, build_optimizer


class GatheredEngine:
    """A rollout engine running on a full copy of the weights; `sync_weights` gathers the trainer's shards
    into that copy (collectives: every rank calls it after every update), then lets the engine refresh
    whatever it derives from the weights (bf16 or transposed copies)."""

    def __init__(self, engine, replica, gather):
        self.engine, self.replica, self.gather = engine, replica, gather

    def generate(self, prompts, params):
        return self.engine.generate(prompts, params)

    @torch.no_grad()
    def sync_weights(self, model) -> None:
        full = dict(self.replica.named_parameters())
        for name, t in self.gather(model):
            full[name].copy_(t)
        self.engine.sync_weights(self.replica)

    def __getattr__(self, name):  # tokenizer, close(), ... of the wrapped engine
        return getattr(self.engine, name)


def setup(cfg, dist: Dist, model, tok, model_path, bf16: bool):
    """(model the loop trains, rollout engine, optimizer, LR scheduler) for `dist.mode`."""
    if dist.mode == "ddp":
        return (model, build_engine(cfg, model, tok, model_path), *build_optimizer(cfg, model))
    if hasattr(model, "merge_and_unload"):
        raise SystemExit(f"reasonrl: model.lora=true with {dist.mode} is not supported; LoRA's trainable state is "
                         "small: use the DDP config (configs/accelerate/cpu_ddp.yaml or gpu_ddp_8.yaml)")
    if dist.mode == "fsdp":
        replica = copy.deepcopy(model)  # before sharding: the engine's full copy
        fsdp.shard_model(model, bf16=bf16)
        optimizer, scheduler = build_optimizer(cfg, model)
        gather = fsdp.full_params
    else:
        ds_cfg = zero.ds_config(dist.world, cfg.optim.max_grad_norm, bf16)
        stage3 = ds_cfg["zero_optimization"]["stage"] == 3
        replica = copy.deepcopy(model) if stage3 else None
        optimizer, scheduler = build_optimizer(cfg, model)  # DeepSpeed re-points it at its flat shards
        model = zero.initialize(model, optimizer, ds_cfg)
        if stage3:
            gather = zero.full_params
        else:  # ZeRO-2 keeps whole weights on every rank: the engine samples from them, nothing to gather
            replica, gather = model.module, lambda _: ()
    return model, GatheredEngine(build_engine(cfg, replica, tok, model_path), replica, gather), optimizer, scheduler


def pad_parts(dist: Dist, parts: list) -> list:
    """This rank's micro-batches followed by `None` (a dummy) up to the longest rank's count (sharded modes)."""
    if dist.mode == "ddp":
        return parts
    (most,) = dist.max([float(len(parts))])
    return parts + [None] * (int(most) - len(parts))


def dummy_forward(model, pad_id: int) -> torch.Tensor:
    """A one-token forward whose loss is 0 with zero gradients: it runs the collectives a real micro-batch
    runs (all-gathers, and reductions on backward) without changing anything."""
    ids = torch.full((1, 1), pad_id, dtype=torch.long, device=next(model.parameters()).device)
    return model(input_ids=ids, use_cache=False, logits_to_keep=1).logits.sum() * 0.0


def zero_grad(dist: Dist, optimizer) -> None:
    if dist.mode != "zero":  # DeepSpeed zeroes its own after each step
        optimizer.zero_grad(set_to_none=False)  # reuse the grad buffers: a fresh 540 MB each step costs page faults


def backward(dist: Dist, model, loss: torch.Tensor, last: bool) -> None:
    if dist.mode == "zero":
        zero.backward(model, loss, dist.world, last)
    else:
        loss.backward()


def step(dist: Dist, model, optimizer, max_grad_norm: float) -> float:
    """Reduce (ddp), clip, step; returns the gradient norm before clipping."""
    if dist.mode == "zero":
        return zero.step(model)
    if dist.mode == "ddp":  # FSDP already summed them (reduce-scatter in every backward)
        dist.sum_grads([p for p in model.parameters() if p.requires_grad])   # the one collective of the update
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)


def optimizer_state(dist: Dist, model, optimizer) -> dict | None:
    """The full optimizer state in `optimizer.state_dict()`'s format, on rank 0 (a collective when sharded)."""
    if dist.mode == "fsdp":
        return fsdp.gathered_optimizer_state(model, optimizer)
    if dist.mode == "zero":
        return zero.gathered_optimizer_state(model)
    return optimizer.state_dict()


def load_optimizer_state(dist: Dist, model, optimizer, state: dict) -> None:
    if dist.mode == "fsdp":
        fsdp.load_optimizer_state(model, optimizer, state)
    elif dist.mode == "zero":
        zero.load_optimizer_state(model, state)
    else:
        optimizer.load_state_dict(state)


def weights_to_save(dist: Dist, model, engine):
    """The full model a checkpoint saves: the trainer's own, or (sharded) the engine's gathered copy."""
    return model if dist.mode == "ddp" else engine.replica


def held_state_mb(dist: Dist, model, optimizer) -> float:
    """MB of training state this rank holds: its weights (or weight shards, plus DeepSpeed's fp32 master
    shards) and AdamW moments; not gradients (DeepSpeed frees its own after each step) nor the rollout copy.
    What sharding divides: ~3 x the fp32 model for DDP, about half that per rank for FSDP at 2 ranks."""
    seen: set[int] = set()

    def mb(t) -> float:
        if t is None or not isinstance(t, torch.Tensor):
            return 0.0
        t = getattr(t, "ds_tensor", None) if hasattr(t, "ds_tensor") else t   # ZeRO-3 weight: its partition
        t = t.to_local() if hasattr(t, "to_local") else t                       # FSDP DTensor: the local shard
        if t is None or t.data_ptr() in seen:
            return 0.0
        seen.add(t.data_ptr())
        return t.numel() * t.element_size() / 2**20

    opt = model.optimizer.optimizer if dist.mode == "zero" else optimizer
    total = sum(mb(p) for p in model.parameters())
    if dist.mode == "zero":   # DeepSpeed's fp32 master shards, which the inner AdamW steps
        flats = getattr(model.optimizer, "fp32_partitioned_groups_flat", None) or \
            getattr(model.optimizer, "single_partition_of_fp32_groups", [])
        total += sum(mb(f) for f in flats)
    return total + sum(mb(v) for st in opt.state.values() for v in st.values() if getattr(v, "dim", lambda: 0)() > 0)
