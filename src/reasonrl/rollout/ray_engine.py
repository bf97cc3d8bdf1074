"""Rollouts on Ray actors (`ray.num_rollout_workers: N`): the step's prompts are split across N actors, each
running the configured engine (`rollout.engine`) on its own copy of the model, on any machine of the cluster.

    reasonrl train --ray-address auto ray.num_rollout_workers=4 ...

`sync_weights` puts the trainer's weights in Ray's object store once per step and every actor copies them in:
~4 bytes x params per step (0.5 GB for 135M parameters), shared memory on one machine, the network across
machines. Samples equal the local engine's because sampling is seeded per prompt (`rollout.seed_per_prompt`
is switched on for Ray rollouts), whichever actor draws them. Tested on CPU with the hf engine; a vLLM
engine inside GPU actors (`num_gpus`) is the same code but has not been run.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace

import torch

from reasonrl.model import load_model
from reasonrl.rollout.base import Rollouts, SamplingParams, concat_rollouts
from reasonrl.rollout.hf import _merged_named_params
from reasonrl.rollout.registry import build_engine


class _RolloutActor:
    """Lives in a Ray worker: loads the model from `path` and builds the engine the config names."""

    def __init__(self, cfg, path: str, threads: int) -> None:
        torch.set_num_threads(threads)
        cfg = cfg.model_copy(deep=True)   # Ray pickled the trainer's Config; this actor changes its own copy
        cfg.ray.num_rollout_workers = 0  # this actor IS a rollout worker: its engine runs here
        model, self.tok, _ = load_model(path, cfg.model.dtype)
        self.model = model.eval().requires_grad_(False)
        self.engine = build_engine(cfg, self.model, self.tok, path)

    @torch.no_grad()
    def load(self, weights: dict[str, torch.Tensor]) -> None:
        for name, p in self.model.named_parameters():
            p.copy_(weights[name])
        self.engine.sync_weights(self.model)

    def generate(self, prompts: list[str], params: SamplingParams) -> Rollouts:
        return self.engine.generate(prompts, params)

    def get_pid(self) -> int:
        return os.getpid()


class RayRolloutEngine:
    """The `RolloutEngine` interface over `num_workers` Ray actors (`.pids()`: where they run)."""

    def __init__(self, cfg, model, path, *, num_workers: int, num_cpus_per_worker: float = 1.0,
                 num_gpus_per_worker: float = 0) -> None:
        from reasonrl.rewards.ray_pool import connect_ray

        self.ray, _ = connect_ray(cfg.ray.address, cfg.ray.num_cpus)
        actor = self.ray.remote(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker)(_RolloutActor)
        threads = max(1, int(num_cpus_per_worker))
        self.actors = [actor.remote(cfg, str(path), threads) for _ in range(num_workers)]
        self.model, self.loaded = model, False  # actors start from `path`; the trainer's weights go in before generating

    def pids(self) -> list[int]:
        return self.ray.get([a.get_pid.remote() for a in self.actors])

    def sync_weights(self, model) -> None:
        self.model = model
        ref = self.ray.put({n: p.detach().cpu() for n, p in _merged_named_params(model).items()})  # one copy for all
        self.ray.get([a.load.remote(ref) for a in self.actors])
        self.loaded = True

    def generate(self, prompts: list[str], params: SamplingParams) -> Rollouts:
        if params.temperature > 0 and params.seeds is None:
            raise ValueError("Ray rollouts need per-prompt seeds (rollout.seed_per_prompt=true)")
        t0 = time.perf_counter()
        if not self.loaded:  # e.g. a resumed LoRA run: base + adapter, not what `path` holds
            self.sync_weights(self.model)
        n, k = len(prompts), min(len(self.actors), len(prompts))
        bounds = [(n * i // k, n * (i + 1) // k) for i in range(k)]
        seeds = params.seeds or [None] * n
        parts = self.ray.get([a.generate.remote(prompts[lo:hi], replace(params, seeds=seeds[lo:hi] if params.seeds else None))
                              for a, (lo, hi) in zip(self.actors, bounds)])
        return concat_rollouts(parts, time.perf_counter() - t0)
