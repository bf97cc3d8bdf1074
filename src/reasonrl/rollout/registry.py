"""Rollout engines by name (`rollout.engine`): what each name runs, and the one place that builds them.

    hf_decode    transformers' model with our group-aware decode loop: one prefill per prompt, finished rows
                 leave the batch (decode.py: DecodeEngine). The CPU default. `hf` is its old name, still read.
    hf_generate  transformers' own `model.generate` (hf.py: HFEngine): the plain reference.
    vllm         vLLM in this process (vllm_engine.py: VLLMEngine).

With `ray.num_rollout_workers` > 0 the named engine runs inside Ray actors instead (ray_engine.py), each
building it here again on its own machine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from reasonrl.model import use_bf16

# builders import their engine (and torch) when called: config loading reads ENGINES without them


def _hf_decode(cfg, model, tok, path):
    import torch

    from reasonrl.rollout.decode import DecodeEngine

    return DecodeEngine(model, tok, dtype=torch.bfloat16 if use_bf16(cfg) else None,
                        transposed_weights=cfg.rollout.transposed_weights, layout=cfg.rollout.decode_layout,
                        forward=cfg.rollout.decode_forward)


def _hf_generate(cfg, model, tok, path):
    import torch

    from reasonrl.rollout.hf import HFEngine

    return HFEngine(model, tok, dtype=torch.bfloat16 if use_bf16(cfg) else None)


def _vllm(cfg, model, tok, path):
    from reasonrl.rollout.vllm_engine import VLLMEngine

    rc = cfg.rollout
    return VLLMEngine(model, tok, path=path, gpu_memory_utilization=rc.vllm_gpu_memory_utilization,
                      max_model_len=rc.vllm_max_model_len, seed=cfg.train.seed, cpu_kv_cache_gb=rc.vllm_cpu_kv_cache_gb,
                      dtype="bfloat16" if use_bf16(cfg) else "float32")


# name -> builder(cfg, model, tokenizer, path of the weights the model was loaded from)
ENGINES: dict[str, Callable] = {"hf_decode": _hf_decode, "hf_generate": _hf_generate, "vllm": _vllm}
OLD_NAMES = {"hf": "hf_decode"}   # names saved configs may still hold


def engine_name(name: str) -> str:
    """The registry name for `name` (an old name maps to its new one); one line listing the valid ones otherwise.

    >>> engine_name("hf"), engine_name("vllm")
    ('hf_decode', 'vllm')
    >>> engine_name("hf_decod")
    Traceback (most recent call last):
    ...
    ValueError: unknown rollout engine 'hf_decod'; valid: hf_decode, hf_generate, vllm
    """
    name = OLD_NAMES.get(name, name)
    if name not in ENGINES:
        raise ValueError(f"unknown rollout engine {name!r}; valid: {', '.join(ENGINES)}")
    return name


def build_engine(cfg, model, tok, path: str | Path | None = None):
    """The engine `rollout.engine` names, sampling from `model`; `path` = where its weights were loaded from
    (vLLM and Ray actors read them). With `ray.num_rollout_workers` > 0, that engine inside Ray actors."""
    path = path or cfg.model.path
    if cfg.ray.num_rollout_workers:
        from reasonrl.rollout.ray_engine import RayRolloutEngine

        return RayRolloutEngine(cfg, model, path, num_workers=cfg.ray.num_rollout_workers,
                                num_cpus_per_worker=cfg.ray.cpus_per_worker,
                                num_gpus_per_worker=1 if cfg.rollout.engine == "vllm" else 0)
    return ENGINES[engine_name(cfg.rollout.engine)](cfg, model, tok, path)
