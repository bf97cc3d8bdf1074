"""Seconds per step and rank-0 peak memory of each way to spread training over processes, against one process,
measured in the same run (same config, same machine, one after the other).

    .venv/bin/python benchmarks/sharding.py                  # SmolLM2-135M, ~8 minutes on 2 cores
    .venv/bin/python benchmarks/sharding.py --steps 3 --modes one ddp fsdp

Modes: one (1 process x 2 threads), ddp / fsdp / zero2 / zero3 (2 processes x 1 thread, through
`reasonrl train --launcher accelerate` and the configs in configs/accelerate/). Config:
configs/chain_sum_plain.yaml without held-out evals. Seconds per step = mean over steps 2.. (step 1 warms up).
On 2 cores nothing here can beat one process (see docs/scaling.md); what this shows is the price of each
mode's collectives and gathered rollout copy, and rank 0's memory.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"ddp": "cpu_ddp.yaml", "fsdp": "cpu_fsdp.yaml", "zero2": "cpu_zero2.yaml", "zero3": "cpu_zero3.yaml"}


def run(mode: str, steps: int, out: Path) -> dict:
    args = [str(ROOT / "configs" / "chain_sum_plain.yaml"), f"run_dir={out / mode}", f"train.max_steps={steps}",
            "train.eval_before_after=false", "train.save_every=1000", "rollout.seed_per_prompt=true"]
    cmd = [sys.executable, "-m", "reasonrl.cli", "train"]
    if mode == "one":
        cmd += [*args, "train.threads=2"]
    else:
        cmd += ["--launcher", "accelerate", "--accelerate-config", str(ROOT / "configs" / "accelerate" / CONFIGS[mode]),
                *args, "train.threads=1"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{mode}: exit {r.returncode}\n{r.stderr[-2000:]}")
    lines = [json.loads(l) for l in (out / mode / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
    return {"s_per_step": statistics.mean(l["time/step_s"] for l in lines[1:]),
            "rollout_s": statistics.mean(l["time/rollout_s"] for l in lines[1:]),
            "train_s": statistics.mean(l["time/train_s"] for l in lines[1:]),
            "peak_rss_mb": max(l["mem/peak_rss_mb"] for l in lines),
            "held_mb": lines[-1]["mem/held_state_mb"],   # weights (shards) + AdamW moments rank 0 holds
            "rewards": [round(l["reward/mean"], 4) for l in lines]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--modes", nargs="+", default=["one", "ddp", "fsdp", "zero2", "zero3"])
    a = ap.parse_args()
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for mode in a.modes:
            res[mode] = run(mode, a.steps, Path(d))
            r = res[mode]
            print(f"{mode:6s} {r['s_per_step']:6.2f} s/step (rollout {r['rollout_s']:.2f}, update {r['train_s']:.2f})  "
                  f"rank-0 peak RSS {r['peak_rss_mb']:7.0f} MB  held state {r['held_mb']:6.0f} MB  rewards {r['rewards']}", flush=True)
    base = res.get("one") or next(iter(res.values()))
    print(" ".join(f"{m}_time_ratio={r['s_per_step'] / base['s_per_step']:.2f} "
                   f"{m}_rss_ratio={r['peak_rss_mb'] / base['peak_rss_mb']:.2f} "
                   f"{m}_held_ratio={r['held_mb'] / base['held_mb']:.2f}" for m, r in res.items()))


if __name__ == "__main__":
    main()
