"""Argument groups shared by `reasonrl sample`, `sft` and `distill`, turned into the stage configs.

Settings errors (a bad task override, a value out of range) come back as one line, as in `reasonrl train`.
"""
from __future__ import annotations

import argparse

from pydantic import ValidationError

from reasonrl.config import ConfigError, load_config
from reasonrl.config.schema import TaskConfig
from reasonrl.distill.config import SampleConfig


def add_task_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("overrides", nargs="*", help="task.key=value overrides, e.g. 'task.kwargs={max_terms: 2}' task.num_train=200")
    ap.add_argument("--task", help="reasoning-gym name, zh_arithmetic or a .jsonl/.parquet file (= task.name)")
    ap.add_argument("--template", choices=["r1zero", "chat", "chat_think", "plain"], help="prompt template (= task.template)")


def add_sample_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--n", type=int, default=8, help="samples per prompt")
    ap.add_argument("--split", choices=["train", "heldout"], default="train", help="split to sample (train: keeps eval honest)")
    ap.add_argument("--limit", type=int, help="only the first N problems of the split")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="completion cap; truncated traces are dropped")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--chunk", type=int, default=8, help="prompts per generate call (the resume granularity)")
    ap.add_argument("--max-per-prompt", type=int, help="keep at most N distinct traces per prompt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch CPU threads")


def task_config(a) -> TaskConfig:
    overrides = list(a.overrides)
    bad = [o for o in overrides if not o.startswith("task.")]
    if bad:
        raise ConfigError(f"only task.* overrides are taken here, got {bad[0]!r}; other settings have flags")
    if a.task:
        overrides.insert(0, f"task.name={a.task}")
    if a.template:
        overrides.append(f"task.template={a.template}")
    return load_config(None, overrides).task


def one_line(e: ValidationError) -> str:
    err = e.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    return f"bad value for '{key}': {err.get('input')!r} ({err['msg']})"


def sample_config(a, model: str | None) -> SampleConfig:
    return SampleConfig(model=model, task=task_config(a), split=a.split, limit=a.limit, n=a.n,
                        max_new_tokens=a.max_new_tokens, temperature=a.temperature, top_p=a.top_p, chunk=a.chunk,
                        max_per_prompt=a.max_per_prompt, seed=a.seed, threads=a.threads)


def model_spec(spec: str | None) -> str | None:
    return None if spec in (None, "", "default") else spec
