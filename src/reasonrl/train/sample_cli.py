"""`reasonrl sample --model TEACHER --task NAME --n 8 [--out traces.jsonl]`: rejection sampling.

Keeps verified, well-formed, single-language, untruncated, distinct traces; rerun the same command to
resume (prompts listed in `<out>.done` are skipped). See docs/distill.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from reasonrl.config import ConfigError


def main(argv: list[str]) -> int:
    from reasonrl.distill.args import add_sample_args, add_task_args, model_spec, one_line, sample_config

    ap = argparse.ArgumentParser(prog="reasonrl sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="teacher: HF folder, run dir or 'default' (SmolLM2-135M-Instruct)")
    ap.add_argument("--out", help="traces JSONL (default RUN_DIR/traces.jsonl)")
    ap.add_argument("--run-dir", help="where config, metrics and summary go (default: --out's folder, else runs/sample-<task>-<time>)")
    add_task_args(ap)
    add_sample_args(ap)
    a = ap.parse_args(argv)
    try:
        from reasonrl.distill.pipeline import default_run_dir, run_sample

        cfg = sample_config(a, model_spec(a.model))
        run_dir = Path(a.run_dir) if a.run_dir else Path(a.out).parent if a.out else default_run_dir("sample", cfg.task.name)
        run_sample(cfg, run_dir, Path(a.out) if a.out else None)
    except ValidationError as e:
        print(f"reasonrl sample: {one_line(e)}", file=sys.stderr)
        return 2
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reasonrl sample: {e}", file=sys.stderr)
        return 2
    return 0
