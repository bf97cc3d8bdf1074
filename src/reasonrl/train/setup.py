"""Building what the loop needs from the config: model (+LoRA), rollout engine, optimizer, run dir."""
from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import torch

from reasonrl.config import Config
from reasonrl.model import load_model
from reasonrl.rewards import RewardRunner
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.rollout.hf import HFEngine


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Native bf16 on this CPU (AVX512-BF16 or AMX). Without it bf16 is emulated and slower than fp32:
    measured here on an AVX512F-only Xeon, bf16 decoding ran at 0.6x the fp32 speed."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(cfg: Config) -> bool:
    if cfg.model.bf16 == "auto":
        return torch.cuda.is_available() or cpu_has_bf16()
    return cfg.model.bf16 == "on"


def build_model(cfg: Config, resume_ckpt: Path | None = None):
    """(trainable model, tokenizer, resolved path); from `resume_ckpt` when continuing a run."""
    lora_resume = cfg.model.lora and resume_ckpt is not None
    spec = resume_ckpt if resume_ckpt is not None and not lora_resume else cfg.model.path
    model, tok, path = load_model(spec, cfg.model.dtype)
    model.config.use_cache = False
    if lora_resume:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, resume_ckpt / "adapter", is_trainable=True)
    elif cfg.model.lora:
        from peft import LoraConfig, get_peft_model

        lc = LoraConfig(r=cfg.model.lora_r, lora_alpha=cfg.model.lora_alpha, lora_dropout=cfg.model.lora_dropout,
                        target_modules="all-linear", task_type="CAUSAL_LM")
        model = get_peft_model(model, lc)
    return model, tok, path


def build_engine(cfg: Config, model, tok, path: str | Path | None = None):
    """The rollout engine `rollout.engine` names; `path` = the weights the model was loaded from (vllm reads them).
    With `ray.num_rollout_workers` > 0 that engine runs inside Ray actors instead of this process."""
    if cfg.ray.num_rollout_workers:
        from reasonrl.rollout.ray_engine import RayRolloutEngine

        return RayRolloutEngine(cfg, model, path or cfg.model.path, num_workers=cfg.ray.num_rollout_workers,
                                num_cpus_per_worker=cfg.ray.cpus_per_worker,
                                num_gpus_per_worker=1 if cfg.rollout.engine == "vllm" else 0)
    if cfg.rollout.engine == "vllm":
        from reasonrl.rollout.vllm_engine import VLLMEngine

        rc = cfg.rollout
        return VLLMEngine(model, tok, path=path or cfg.model.path, gpu_memory_utilization=rc.vllm_gpu_memory_utilization,
                          max_model_len=rc.vllm_max_model_len, seed=cfg.train.seed, cpu_kv_cache_gb=rc.vllm_cpu_kv_cache_gb,
                          dtype="bfloat16" if use_bf16(cfg) else "float32")
    dtype = torch.bfloat16 if use_bf16(cfg) else None
    if cfg.rollout.engine == "hf":
        return DecodeEngine(model, tok, dtype=dtype, transposed_weights=cfg.rollout.transposed_weights)
    return HFEngine(model, tok, dtype=dtype)


def build_reward_runner(cfg: Config):
    """Rewards in a local worker process, or on a pool of Ray actors when `ray.address` is set."""
    rc = cfg.reward
    if cfg.ray.address is None:
        return RewardRunner(rc.funcs, rc.weights, rc.timeout_s)
    from reasonrl.rewards.ray_pool import RayRewardPool

    return RayRewardPool(rc.funcs, rc.weights, rc.timeout_s, num_workers=cfg.ray.num_reward_workers,
                         address=cfg.ray.address, num_cpus=cfg.ray.num_cpus, cpus_per_worker=cfg.ray.cpus_per_worker)


def build_optimizer(cfg: Config, model):
    params = [p for p in model.parameters() if p.requires_grad]
    # fused: one pass over params/grads/moments instead of foreach's several; measured here 0.26 s vs
    # 3.6 s per step for 135M params on one loaded core (same AdamW math, same state_dict)
    fused = all(p.dtype in (torch.float32, torch.bfloat16) and p.device.type in ("cpu", "cuda") for p in params)
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay,
                            fused=fused or None)
    warm = cfg.optim.warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
    return opt, sched


def default_run_dir(cfg: Config) -> Path:
    name = Path(cfg.task.name).stem if cfg.task.name.endswith((".jsonl", ".parquet")) else cfg.task.name
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
