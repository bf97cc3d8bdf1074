"""`reasonrl distill --teacher T --student S --task NAME [--kd forward|reverse]`: sample -> filter -> SFT (-> KD).

One run directory holds the traces, both stages' settings, metrics.jsonl and the student's checkpoints;
rerunning the same command with the same --run-dir resumes. Logit KD (on-policy, GKD-style) needs the
teacher and student to share a vocabulary. See docs/distill.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from reasonrl.config import ConfigError


def main(argv: list[str]) -> int:
    from reasonrl.distill.args import add_sample_args, add_task_args, model_spec, one_line, sample_config

    ap = argparse.ArgumentParser(prog="reasonrl distill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", help="HF folder, run dir or 'default'")
    ap.add_argument("--student", help="HF folder, run dir or 'default'")
    ap.add_argument("--run-dir", help="output folder (default runs/distill-<task>-<time>)")
    add_task_args(ap)
    add_sample_args(ap)
    ap.add_argument("--lr", type=float, default=1e-5, help="SFT learning rate")
    ap.add_argument("--epochs", type=float, default=1.0, help="SFT passes over the kept traces")
    ap.add_argument("--batch-size", type=int, default=8, help="SFT sequences per step")
    ap.add_argument("--lora", action="store_true", help="SFT a LoRA adapter")
    ap.add_argument("--kd", choices=["forward", "reverse"], help="after SFT, on-policy logit KD with this KL direction")
    ap.add_argument("--kd-steps", type=int, default=20, help="KD optimizer steps")
    a = ap.parse_args(argv)
    try:
        from reasonrl.distill.config import KDConfig, SFTConfig
        from reasonrl.distill.pipeline import default_run_dir, run_distill

        sample = sample_config(a, model_spec(a.teacher))
        sft = SFTConfig(model=model_spec(a.student), data="(traces of this run)", task=sample.task, lora=a.lora, lr=a.lr,
                        epochs=a.epochs, batch_size=a.batch_size, micro_batch_size=a.batch_size, seed=a.seed, threads=a.threads)
        kd = KDConfig(kind=a.kd, steps=a.kd_steps) if a.kd else None
        run_dir = Path(a.run_dir) if a.run_dir else default_run_dir("distill", sample.task.name)
        out = run_distill(sample, sft, run_dir, kd)
        print(json.dumps(out["times"]), f"-> evaluate with: reasonrl eval --model {run_dir} --greedy")
    except ValidationError as e:
        print(f"reasonrl distill: {one_line(e)}", file=sys.stderr)
        return 2
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reasonrl distill: {e}", file=sys.stderr)
        return 2
    return 0
