"""The interface every parallel mode implements, and the pieces the two sharded modes share.

The loop holds one `Strategy` and calls, per optimizer step:

    strategy.zero_grad()
    for mb in strategy.micro_batches(parts, backward=True):   # this rank's micro-batches
        loss = ...(strategy.logprobs_fn(model, mb.prompt, ...)) # forward -> loss
        strategy.backward(loss)
    grad_norm = strategy.step()                                # reduce (if any), clip, step

and, around the run, `prepare` (model, rollout engine, optimizer), `full_model` (what a checkpoint saves),
`state_dict` / `load_state_dict` (the optimizer state, always in the plain 1-process format, so a checkpoint
moves between modes) and `held_state_mb` (what sharding divides).
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable, Iterator

import torch

from reasonrl.rollout.registry import build_engine
from reasonrl.train.distributed import Dist
from reasonrl.train.forward import group_logprobs
from reasonrl.train.setup import build_optimizer


class Strategy:
    """One process holding everything: no collective anywhere (`reasonrl train` without a launcher)."""

    name = "single"
    # forward of one micro-batch (one prompt, its kept samples); the prompt is encoded once (forward.py)
    logprobs_fn: Callable = staticmethod(group_logprobs)

    def __init__(self, dist: Dist, *, max_grad_norm: float, pad_id: int = 0):
        self.dist, self.max_grad_norm, self.pad_id = dist, max_grad_norm, pad_id
        self.model = self.optimizer = None

    def prepare(self, cfg, model, tok, model_path, bf16: bool):
        """(model the loop trains, rollout engine, optimizer, LR scheduler)."""
        self.model = model
        self.optimizer, scheduler = build_optimizer(cfg, model)
        return model, build_engine(cfg, model, tok, model_path), self.optimizer, scheduler

    def micro_batches(self, parts: list, *, backward: bool) -> Iterator:
        """This rank's micro-batches, in order. `backward`: the caller back-propagates each one."""
        yield from parts

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=False)   # reuse the grad buffers: a fresh 540 MB each step costs page faults

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> float:
        """Clip and step; returns the gradient norm before clipping."""
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return float(norm)

    def full_model(self):
        """The whole model, as a checkpoint saves it."""
        return self.model

    def state_dict(self) -> dict | None:
        """The full optimizer state in `optimizer.state_dict()`'s format, on rank 0 (a collective when sharded)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def held_state_mb(self) -> float:
        """MB of training state this rank holds (see `held_state_mb`)."""
        return held_state_mb(self.model.parameters(), self.optimizer)


def held_state_mb(params: Iterable[torch.Tensor], optimizer: torch.optim.Optimizer, extra: Iterable = ()) -> float:
    """MB of training state: weights (or this rank's weight shards), `extra` tensors (DeepSpeed's fp32 master
    shards) and the optimizer's moments; not gradients (DeepSpeed frees its own after each step) nor the
    rollout copy. A storage shared by two tensors counts once; 0-dim tensors (AdamW's `step`) not at all.
    What sharding divides: ~3 x the fp32 model for DDP, about half that per rank for FSDP at 2 ranks."""
    seen: set[int] = set()

    def mb(t) -> float:
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            return 0.0
        t = getattr(t, "ds_tensor", None) if hasattr(t, "ds_tensor") else t   # ZeRO-3 weight: its partition
        t = t.to_local() if hasattr(t, "to_local") else t                       # FSDP DTensor: the local shard
        if t is None or t.data_ptr() in seen:
            return 0.0
        seen.add(t.data_ptr())
        return t.numel() * t.element_size() / 2**20

    moments = [v for st in optimizer.state.values() for v in st.values()]
    return sum(mb(t) for t in params) + sum(mb(t) for t in extra) + sum(mb(t) for t in moments)


class GatheredEngine:
    """A rollout engine running on a full copy of the weights; `sync_weights` gathers the trainer's shards
    into that copy (collectives: every rank calls it after every update), then lets the engine refresh
    whatever it derives from the weights (bf16 or transposed copies)."""

    def __init__(self, engine, replica, gather: Callable):
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


def dummy_forward(model, pad_id: int) -> torch.Tensor:
    """A one-token forward whose loss is 0 with zero gradients: it runs the collectives a real micro-batch
    runs (all-gathers, and reductions on backward) without changing anything."""
    ids = torch.full((1, 1), pad_id, dtype=torch.long, device=next(model.parameters()).device)
    return model(input_ids=ids, use_cache=False, logits_to_keep=1).logits.sum() * 0.0


class Sharded(Strategy):
    """What FSDP and ZeRO share. Every forward and backward runs collectives, so every rank must make the same
    model calls in the same order: a micro-batch is ONE forward (`group_logprobs` packs it into one row, so
    the call count does not depend on the lengths), and a rank with fewer micro-batches than the longest rank
    runs zero-loss dummies after its own (`micro_batches`). The rollout engine samples from a full copy
    (`GatheredEngine`)."""

    def __init__(self, dist: Dist, **kw):
        super().__init__(dist, **kw)
        self.engine: GatheredEngine | None = None
        self._last = True   # the next backward is this rank's last of the step (ZeRO's accumulation boundary)

    def refuse_lora(self, model) -> None:
        if hasattr(model, "merge_and_unload"):
            raise SystemExit(f"reasonrl: model.lora=true with {self.name} is not supported; LoRA's trainable state "
                             "is small: use the DDP config (configs/accelerate/cpu_ddp.yaml or gpu_ddp_8.yaml)")

    def gathered_engine(self, cfg, replica, tok, model_path, gather: Callable) -> GatheredEngine:
        self.engine = GatheredEngine(build_engine(cfg, replica, tok, model_path), replica, gather)
        return self.engine

    def micro_batches(self, parts: list, *, backward: bool) -> Iterator:
        (most,) = self.dist.max([float(len(parts))])   # a collective: the longest rank's count
        total = int(most)
        for j, part in enumerate(parts):
            self._last = j == total - 1
            yield part
        for j in range(len(parts), total):   # after the caller's last real micro-batch: the dummies
            self._last = j == total - 1
            loss = dummy_forward(self.model, self.pad_id)
            if backward:
                self.backward(loss)

    def full_model(self):
        return self.engine.replica

    @staticmethod
    def replica_of(model):
        """The engine's full copy, taken before sharding."""
        return copy.deepcopy(model)
