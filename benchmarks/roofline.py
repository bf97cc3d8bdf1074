"""How close an RL step gets to this machine's limits.

    .venv/bin/python benchmarks/roofline.py                 # measures the machine, then 6 default-job steps
    .venv/bin/python benchmarks/roofline.py --run RUN_DIR   # or reads an existing run's metrics.jsonl
    .venv-vllm/bin/python benchmarks/roofline.py rollout.engine=vllm   # overrides go to the 6-step run

Machine: dense matmul GFLOP/s (fp32, and bf16 where it runs) at a large square size and at the model's own
shapes, and memory bandwidth (a large tensor copy). Step: model FLOPs from the token counts each step logs —
generation 2·N per generated token plus 2·N_body per prefilled prompt token; the update 6·N_body per token the
model ran plus 6·N_head per completion token (N_head = the tied LM head, applied only where a loss is taken) —
divided by the step's wall time, as a fraction of the fp32 matmul peak; the rollout also as a fraction of the
fp32 rate at the decode shape (16 rows through an MLP matrix), the best a 16-row decode step can do here.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def matmul_gflops(n: int, m: int, k: int, dtype: torch.dtype, reps: int = 20, rounds: int = 7) -> float:
    """The best of `rounds` timings of `reps` products: the machine's limit, not one sample of it. One round of the
    decode shape lasts ~30 ms, and single rounds read 114-218 GFLOP/s on one machine in one afternoon (session 25),
    which moved rollout_decode_fraction 0.35-0.53 with the rollout itself at 61-66 GFLOP/s."""
    a, b = torch.randn(n, k, dtype=dtype), torch.randn(k, m, dtype=dtype)
    a @ b  # warm-up: first call pays allocation and kernel selection
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n * m * k * reps / best / 1e9


def copy_gbs(mb: int = 512, reps: int = 10) -> float:
    x = torch.empty(mb * 2**20 // 4)
    y = torch.empty_like(x)
    y.copy_(x)
    t = time.perf_counter()
    for _ in range(reps):
        y.copy_(x)
    return 2 * x.numel() * 4 * reps / (time.perf_counter() - t) / 1e9  # read + write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="existing run dir to analyse instead of running 6 steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("overrides", nargs="*", help="config overrides for the 6-step run, e.g. rollout.engine=vllm")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    big = matmul_gflops(1024, 1024, 1024, torch.float32)
    mlp = matmul_gflops(16, 1536, 576, torch.float32, reps=200)      # decode: 16 rows through an MLP matrix
    mlp_t = matmul_gflops(1024, 1536, 576, torch.float32, reps=20)   # training: ~1k tokens through it
    bf = matmul_gflops(1024, 1024, 1024, torch.bfloat16)
    bw = copy_gbs()
    print(f"machine ({a.threads} threads): fp32 matmul {big:.0f} GFLOP/s (1024^3), {mlp_t:.0f} at training shape "
          f"1024x576x1536, {mlp:.0f} at decode shape 16x576x1536; bf16 {bf:.0f} GFLOP/s; copy {bw:.1f} GB/s")
    run = Path(a.run) if a.run else _short_run(a.overrides)
    if not a.run:   # only its metrics are read: the 6-step run's checkpoints (1.6 GB) would pile up in /tmp
        from grpo_vs_trl import drop_weights

        drop_weights(run)
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    # every step counts (a step whose groups all had equal rewards runs no update: its update FLOPs are 0)
    train = [l for l in lines if l.get("kind") == "train" and "rollout/new_tokens" in l][1:]  # skip warm-up step
    if not train:
        sys.exit(f"{run}: no training steps with token counts in metrics.jsonl")
    from transformers import AutoConfig

    from reasonrl.model import resolve_model_path

    cfg_path = json.loads(json.dumps(__import__("yaml").safe_load((run / "config.yaml").read_text())))["model"]["path"]
    mc = AutoConfig.from_pretrained(resolve_model_path(cfg_path))
    n_head = mc.vocab_size * mc.hidden_size
    n_body = sum(p.numel() for p in _params(mc)) - n_head  # tied embedding counted once, as the head
    gen = sum(2 * (n_body + n_head) * l["rollout/new_tokens"] + 2 * n_body * l["rollout/prompt_tokens"] for l in train)
    upd = sum(6 * n_body * l.get("train/model_tokens", 0) + 6 * n_head * l.get("train/completion_tokens", 0) for l in train)
    t_roll = sum(l["time/rollout_s"] for l in train)
    t_train = sum(l["time/train_s"] for l in train)
    print(f"run {run}: {len(train)} steps, {t_roll + t_train:.1f} s")
    for name, flops, secs in [("rollout", gen, t_roll), ("update", upd, t_train), ("whole step", gen + upd, t_roll + t_train)]:
        rate = flops / max(secs, 1e-9) / 1e9
        print(f"  {name:<10} {flops / 1e12:7.2f} TFLOP in {secs:6.1f} s = {rate:6.1f} GFLOP/s = {rate / big:5.1%} of fp32 peak")
    roll = gen / max(t_roll, 1e-9) / 1e9
    print(f"  rollout at {roll:.1f} GFLOP/s = {roll / mlp:5.1%} of the fp32 decode-shape rate ({mlp:.0f} GFLOP/s)")
    print(f"rollout_decode_fraction={roll / mlp:.3f} roofline_fraction={(gen + upd) / (t_roll + t_train) / 1e9 / big:.3f}")


def _params(mc):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return list(AutoModelForCausalLM.from_config(mc).parameters())


def _short_run(overrides: list[str]) -> Path:
    out = Path(tempfile.mkdtemp(prefix="roofline-")) / "run"
    cmd = [sys.executable, "-m", "reasonrl.cli", "train", f"run_dir={out}", "train.max_steps=6",
           "train.eval_before_after=false", "train.max_minutes=null", *overrides]
    subprocess.run(cmd, check=True)
    return out


if __name__ == "__main__":
    main()
