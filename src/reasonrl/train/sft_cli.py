"""`reasonrl sft --model STUDENT --data traces.jsonl [--run-dir RUN_DIR]` or `reasonrl sft --resume RUN_DIR`.

Loss on completion tokens only, length-bucketed batches, optional LoRA, checkpoints as in training;
`reasonrl eval --model RUN_DIR --greedy` evaluates the result. See docs/distill.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from reasonrl.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    from reasonrl.distill.args import add_task_args

    ap = argparse.ArgumentParser(prog="reasonrl sft", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="student: HF folder, run dir or 'default' (SmolLM2-135M-Instruct)")
    ap.add_argument("--data", help="JSONL of trace, {prompt, completion} or {messages} rows")
    ap.add_argument("--run-dir", help="output folder (default runs/sft-<task>-<time>)")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue an SFT run from its latest checkpoint (its own settings)")
    add_task_args(ap)
    for name, typ, default, doc in [("lr", float, 1e-5, "AdamW learning rate"), ("epochs", float, 1.0, "passes over the data"),
                                    ("max-steps", int, None, "optimizer steps (wins over --epochs)"),
                                    ("batch-size", int, 8, "sequences per step"), ("micro-batch-size", int, 8, "sequences per forward"),
                                    ("max-len", int, 512, "drop longer examples"), ("save-every", int, 50, "checkpoint every N steps"),
                                    ("warmup-steps", int, 0, "linear warm-up steps"), ("seed", int, 0, "data-order seed"),
                                    ("threads", int, None, "torch CPU threads")]:
        ap.add_argument(f"--{name}", type=typ, default=default, help=doc)
    ap.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    return ap


def sft_config(a):
    from reasonrl.distill.args import model_spec, task_config
    from reasonrl.distill.config import SFTConfig

    if not a.data:
        raise ValueError("give --data FILE.jsonl (or --resume RUN_DIR)")
    return SFTConfig(model=model_spec(a.model), data=a.data, task=task_config(a), template=None, lora=a.lora, lr=a.lr,
                     epochs=a.epochs, max_steps=a.max_steps, batch_size=a.batch_size, micro_batch_size=a.micro_batch_size,
                     max_len=a.max_len, save_every=a.save_every, warmup_steps=a.warmup_steps, seed=a.seed, threads=a.threads)


def main(argv: list[str]) -> int:
    from reasonrl.distill.args import one_line

    a = build_parser().parse_args(argv)
    try:
        from reasonrl.distill.pipeline import default_run_dir
        from reasonrl.distill.sft import load_sft_config, run_sft

        if a.resume:
            cfg, run_dir = load_sft_config(Path(a.resume)), Path(a.resume)
        else:
            cfg = sft_config(a)
            run_dir = Path(a.run_dir) if a.run_dir else default_run_dir("sft", cfg.task.name)
        s = run_sft(cfg, run_dir, resume=bool(a.resume))
        print(f"sft: {s['steps']} steps on {s['examples']} examples, final loss {s['final_loss']}; "
              f"evaluate with: reasonrl eval --model {run_dir} --greedy")
    except ValidationError as e:
        print(f"reasonrl sft: {one_line(e)}", file=sys.stderr)
        return 2
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reasonrl sft: {e}", file=sys.stderr)
        return 2
    return 0
