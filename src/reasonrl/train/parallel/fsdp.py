"""Sharded data parallelism: PyTorch FSDP2 (`fully_shard`), set up by an accelerate FSDP config file.

    reasonrl train --launcher accelerate --accelerate-config configs/accelerate/cpu_fsdp.yaml [CONFIG] [key=value ...]

What changes against the DDP path (ddp.py), and why:
- weights, gradients and AdamW moments are sharded: each rank holds 1/N of them (DTensors).
  `fsdp_reshard_after_forward: true` also frees each layer's gathered weights after its forward (ZeRO-3's
  memory); `false` keeps them until the backward (ZeRO-2's: less traffic, more memory);
- each layer's forward all-gathers its weights and each backward reduce-scatters its gradients, so every rank
  must make the same calls in the same order: a micro-batch is ONE forward (forward.py packs the prompt and
  its completions into one row, whatever their lengths), and ranks with fewer micro-batches run
  zero-loss dummies until all have run the longest rank's count (base.Sharded.micro_batches);
- gradients are SUMMED over ranks (divide factor 1, not FSDP's mean): the loss is already divided by the
  global counts, as on the DDP path;
- the rollout engine cannot sample from shards: it samples from a full copy of the model
  (base.GatheredEngine), refreshed by all-gathers after each update. That copy is what checkpoints save, in the plain
  `save_pretrained` format, and the optimizer state is gathered to rank 0 in torch's index-keyed format, so an
  FSDP checkpoint resumes on one process or under DDP, and the other way round.
"""
from __future__ import annotations

import os

import torch

from reasonrl.train.parallel.base import Sharded
from reasonrl.train.setup import build_optimizer

FSDP_ENV = "ACCELERATE_USE_FSDP"   # set by `accelerate launch` from `distributed_type: FSDP`


def fsdp_requested() -> bool:
    return os.environ.get(FSDP_ENV, "false").lower() == "true"


def shard_model(model, *, bf16: bool):
    """Apply `fully_shard` to every decoder layer, then to the root (embeddings, final norm, tied head),
    with the settings accelerate's launcher put in the environment. Returns the same (now sharded) module."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* variables accelerate launch set
    if plugin.fsdp_version != 2:
        raise SystemExit("reasonrl: FSDP1 is not supported; set `fsdp_version: 2` in the accelerate config")
    if plugin.activation_checkpointing:
        raise SystemExit("reasonrl: fsdp_activation_checkpointing is not supported; set it to false")
    names = set(plugin.transformer_cls_names_to_wrap or getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise SystemExit(f"reasonrl: FSDP found no module of class {sorted(names)} to shard in "
                         f"{type(model).__name__}; set fsdp_transformer_layer_cls_to_wrap")
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    offload = plugin.cpu_offload if isinstance(plugin.cpu_offload, OffloadPolicy) else OffloadPolicy()
    kw = dict(reshard_after_forward=plugin.reshard_after_forward, mp_policy=mp, offload_policy=offload)
    for layer in layers:
        fully_shard(layer, **kw)
    fully_shard(model, **kw)
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.set_gradient_divide_factor(1.0)   # sum, not mean: see the module docstring
            m.set_force_sum_reduction_for_comms(True)   # a plain SUM: gloo has no PREMUL_SUM
    return model


def full_params(model):
    """(name, full tensor) of every parameter: an all-gather per parameter that every rank must join."""
    for name, p in model.named_parameters():
        yield name, p.full_tensor() if hasattr(p, "full_tensor") else p


def _param_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]   # = the optimizer's param order


def gathered_optimizer_state(model, optimizer) -> dict | None:
    """The full optimizer state on rank 0 (None elsewhere), keyed like `optimizer.state_dict()` of an
    unsharded model. A collective: every rank must call it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    osd = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if torch.distributed.get_rank() != 0:
        return None
    index = {n: i for i, n in enumerate(_param_names(model))}
    return {"state": {index[n]: s for n, s in osd["state"].items()},
            "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in osd["param_groups"]]}


def load_optimizer_state(model, optimizer, state: dict) -> None:
    """Load an index-keyed full optimizer state (any checkpoint of this trainer) into sharded optimizer state."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    names = _param_names(model)
    osd = {"state": {names[i]: s for i, s in state["state"].items()},
           "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]}
    set_optimizer_state_dict(model, optimizer, optim_state_dict=osd, options=StateDictOptions(full_state_dict=True))
    for group, saved in zip(optimizer.param_groups, state["param_groups"]):   # as saved (it turns tuples into lists)
        group.update({k: v for k, v in saved.items() if k != "params"})


class FSDP(Sharded):
    """Weights, gradients and AdamW moments sharded over the ranks (FSDP2 DTensors)."""

    name = "fsdp"

    def prepare(self, cfg, model, tok, model_path, bf16: bool):
        self.refuse_lora(model)
        replica = self.replica_of(model)   # before sharding: the engine's full copy
        self.model = shard_model(model, bf16=bf16)
        self.optimizer, scheduler = build_optimizer(cfg, model)
        return model, self.gathered_engine(cfg, replica, tok, model_path, full_params), self.optimizer, scheduler

    def step(self) -> float:
        # no reduction here: FSDP summed the gradients already (a reduce-scatter in every backward)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)

    def state_dict(self) -> dict | None:
        return gathered_optimizer_state(self.model, self.optimizer)

    def load_state_dict(self, state: dict) -> None:
        load_optimizer_state(self.model, self.optimizer, state)
