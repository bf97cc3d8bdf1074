"""DeepSpeed ZeRO-2/3, set up by an accelerate DeepSpeed config file.

    reasonrl train --launcher accelerate --accelerate-config configs/accelerate/cpu_zero3.yaml [CONFIG] [key=value ...]

DeepSpeed's engine runs the update: ZeRO-2 shards gradients and AdamW state (weights stay whole on every
rank), ZeRO-3 shards the weights too. The trainer keeps its own AdamW (handed to DeepSpeed, which points
it at the flat shards), its own LR schedule and `optim.max_grad_norm` (written into DeepSpeed's config);
what else changes is what FSDP changes (fsdp.py, base.Sharded): same calls on every rank, rollouts from a
gathered full copy, optimizer state gathered into the plain checkpoint format. DeepSpeed averages gradients
over ranks; the trainer's loss is already divided by global counts, so it is multiplied by the world size
before `backward` to make that average the sum.
Refused in one line: ZeRO stages 0/1 (use DDP), fp16 loss scaling, CPU/NVMe offload (not tested here).
"""
from __future__ import annotations

import copy
import math
import os

import torch

from reasonrl.train.parallel.base import Sharded, held_state_mb
from reasonrl.train.setup import build_optimizer

DS_ENV = "ACCELERATE_USE_DEEPSPEED"   # set by `accelerate launch` from `distributed_type: DEEPSPEED`


# communication buffers in elements; 2e7 fp32 = 80 MB (measured on SmolLM2-135M: see docs/scaling.md)
BUCKETS = {"reduce_bucket_size": 20_000_000, "allgather_bucket_size": 20_000_000,
           "stage3_prefetch_bucket_size": 20_000_000, "stage3_max_live_parameters": 100_000_000,
           "stage3_max_reuse_distance": 100_000_000}


def deepspeed_requested() -> bool:
    return os.environ.get(DS_ENV, "false").lower() == "true"


def ds_config(world: int, max_grad_norm: float, bf16: bool) -> dict:
    """DeepSpeed's config from the accelerate file (inline `deepspeed_config:` or a JSON it names), with the
    fields the trainer owns filled in. The batch sizes are nominal: the trainer feeds micro-batches itself
    and marks the accumulation boundary (`set_gradient_accumulation_boundary`)."""
    from accelerate.utils import DeepSpeedPlugin

    c = copy.deepcopy(DeepSpeedPlugin().deepspeed_config)
    zc = c.setdefault("zero_optimization", {})
    stage = int(zc.get("stage", 0))
    if stage not in (2, 3):
        raise SystemExit(f"reasonrl: DeepSpeed ZeRO stage {stage} is not supported; use zero_stage 2 or 3, "
                         "or a DDP config (configs/accelerate/cpu_ddp.yaml)")
    for part in ("offload_optimizer", "offload_param"):
        if str((zc.get(part) or {}).get("device", "none")).lower() not in ("none", "auto"):
            raise SystemExit(f"reasonrl: DeepSpeed {part} is not supported yet; set its device to none")
    if str((c.get("fp16") or {}).get("enabled", False)).lower() == "true":
        raise SystemExit("reasonrl: DeepSpeed fp16 is not supported (no loss scaling here); use model.bf16=on")
    for k, v in BUCKETS.items():   # DeepSpeed's defaults (5e8 elements = 2 GB of fp32 per buffer) are sized for
        if zc.get(k) in (None, "auto"):   # big GPU models; ours unless the file sets them
            zc[k] = v
    c.update(train_micro_batch_size_per_gpu=1, gradient_accumulation_steps=1, train_batch_size=world,
             gradient_clipping=max_grad_norm, steps_per_print=2**31 - 1, zero_allow_untested_optimizer=True,
             bf16={"enabled": bf16}, fp16={"enabled": False})
    for k in ("optimizer", "scheduler"):  # ours: AdamW from build_optimizer, the LambdaLR warm-up
        c.pop(k, None)
    return c


def initialize(model, optimizer, config: dict):
    """DeepSpeed's engine around `model`, updating with `optimizer` (the trainer's AdamW)."""
    import deepspeed

    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=config, dist_init_required=False)
    return engine


def stage(engine) -> int:
    return engine.zero_optimization_stage()


def full_params(engine):
    """(name, full tensor) of every ZeRO-3 parameter: an all-gather per parameter that every rank must join
    (one at a time: never the whole model twice)."""
    import deepspeed

    for name, p in engine.module.named_parameters():
        with deepspeed.zero.GatheredParameters([p], modifier_rank=None):
            yield name, p.data


def backward(engine, loss: torch.Tensor, world: int, last: bool) -> None:
    engine.set_gradient_accumulation_boundary(last)   # reduce/step only after this rank's last micro-batch
    engine.backward(loss * world)


def step(engine) -> float:
    """Clip (DeepSpeed, at optim.max_grad_norm), step, zero the gradients; returns the pre-clip norm."""
    engine.step()
    norm = engine.get_global_grad_norm()
    return float(norm) if norm is not None else math.nan


def _inner(engine) -> torch.optim.Optimizer:
    return engine.optimizer.optimizer   # the torch AdamW, now over DeepSpeed's flat fp32 shards


def _trainable(engine) -> list:
    return [p for p in engine.module.parameters() if p.requires_grad]   # = build_optimizer's order


def gathered_optimizer_state(engine) -> dict | None:
    """AdamW's full state on rank 0 (None elsewhere), keyed like an unsharded `optimizer.state_dict()`.
    A collective: every rank must call it."""
    from deepspeed.utils import safe_get_full_optimizer_state

    inner = _inner(engine)
    step_t = next((s["step"] for s in inner.state.values() if "step" in s), None)
    state = {}
    for i, p in enumerate(_trainable(engine)):
        moments = {k: safe_get_full_optimizer_state(p, k) for k in ("exp_avg", "exp_avg_sq")} if step_t is not None else {}
        if moments and all(v is not None for v in moments.values()):
            state[i] = {"step": step_t.detach().clone().cpu(),
                        **{k: v.detach().reshape(p.ds_shape if hasattr(p, "ds_shape") else p.shape).cpu()
                           for k, v in moments.items()}}
    if torch.distributed.get_rank() != 0:
        return None
    groups = [{k: v for k, v in g.items() if k != "params"} for g in inner.param_groups]
    groups[0]["params"] = list(range(len(_trainable(engine))))
    return {"state": state, "param_groups": groups}


def load_optimizer_state(engine, state: dict) -> None:
    """An index-keyed full AdamW state (any checkpoint of this trainer) into DeepSpeed's shards."""
    from deepspeed.utils import safe_set_full_optimizer_state

    inner = _inner(engine)
    for saved, group in zip(state["param_groups"], inner.param_groups):
        group.update({k: v for k, v in saved.items() if k != "params"})   # lr, betas, initial_lr ...
    if not state["state"]:
        return
    step_t = next(iter(state["state"].values()))["step"]
    # AdamW creates its state lazily at the first step: create it now for each flat shard (ZeRO-3 lists its
    # shards in the groups only while stepping, hence fp32_partitioned_groups_flat)
    flats = getattr(engine.optimizer, "fp32_partitioned_groups_flat", None) or \
        [f for g in inner.param_groups for f in g["params"]]
    for flat in flats:
        inner.state[flat] = {"step": step_t.clone().to(flat.device), "exp_avg": torch.zeros_like(flat),
                             "exp_avg_sq": torch.zeros_like(flat)}
    if stage(engine) < 3:
        engine.optimizer._lazy_init_hp_params_optimizer_state()   # link each weight to its slice of that state
    for i, p in enumerate(_trainable(engine)):
        for k in ("exp_avg", "exp_avg_sq"):
            safe_set_full_optimizer_state(p, state["state"][i][k].to(torch.float32), k)


class Zero(Sharded):
    """DeepSpeed's engine around the model; `self.model` is that engine (`.module`: the plain model)."""

    name = "zero"

    def prepare(self, cfg, model, tok, model_path, bf16: bool):
        self.refuse_lora(model)
        config = ds_config(self.dist.world, cfg.optim.max_grad_norm, bf16)
        stage3 = config["zero_optimization"]["stage"] == 3
        replica = self.replica_of(model) if stage3 else None
        self.optimizer, scheduler = build_optimizer(cfg, model)   # DeepSpeed re-points it at its flat shards
        self.model = initialize(model, self.optimizer, config)
        if stage3:
            gather = full_params
        else:   # ZeRO-2 keeps whole weights on every rank: the engine samples from them, nothing to gather
            replica, gather = self.model.module, lambda _: ()
        return self.model, self.gathered_engine(cfg, replica, tok, model_path, gather), self.optimizer, scheduler

    def zero_grad(self) -> None:
        pass   # DeepSpeed zeroes its own after each step

    def backward(self, loss: torch.Tensor) -> None:
        backward(self.model, loss, self.dist.world, self._last)

    def step(self) -> float:
        return step(self.model)

    def state_dict(self) -> dict | None:
        return gathered_optimizer_state(self.model)

    def load_state_dict(self, state: dict) -> None:
        load_optimizer_state(self.model, state)

    def held_state_mb(self) -> float:
        ds_opt = self.model.optimizer   # + DeepSpeed's fp32 master shards, which the inner AdamW steps
        flats = getattr(ds_opt, "fp32_partitioned_groups_flat", None) or getattr(ds_opt, "single_partition_of_fp32_groups", [])
        return held_state_mb(self.model.parameters(), _inner(self.model), flats)
