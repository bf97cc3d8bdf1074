"""The distillation stage's commands: `reasonrl sample`, `reasonrl sft`, `reasonrl distill` (docs/distill.md).

    reasonrl sample --model TEACHER --task chain_sum --n 8 --out traces.jsonl
    reasonrl sft --model STUDENT --data traces.jsonl [--run-dir RUN_DIR]      (or: reasonrl sft --resume RUN_DIR)
    reasonrl distill --teacher T --student S --task chain_sum [--kd reverse]

Settings errors (a bad task override, a value out of range) come back as one line and exit code 2, as in
`reasonrl train` (reasonrl.cli.exit_code).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from reasonrl.cli import exit_code
from reasonrl.config import ConfigError, load_config
from reasonrl.config.schema import TaskConfig
from reasonrl.distill.config import KDConfig, SampleConfig, SFTConfig
from reasonrl.tasks.prompts import TEMPLATES

SAMPLE_DOC = """`reasonrl sample --model TEACHER --task NAME --n 8 [--out traces.jsonl]`: rejection sampling.

Keeps verified, well-formed, single-language, untruncated, distinct traces; rerun the same command to
resume (prompts listed in `<out>.done` are skipped). See docs/distill.md."""

SFT_DOC = """`reasonrl sft --model STUDENT --data traces.jsonl [--run-dir RUN_DIR]` or `reasonrl sft --resume RUN_DIR`.

Loss on completion tokens only, length-bucketed batches, optional LoRA, checkpoints as in training;
`reasonrl eval --model RUN_DIR --greedy` evaluates the result. See docs/distill.md."""

DISTILL_DOC = """`reasonrl distill --teacher T --student S --task NAME [--kd forward|reverse]`: sample -> filter -> SFT (-> KD).

One run directory holds the traces, both stages' settings, metrics.jsonl and the student's checkpoints;
rerunning the same command with the same --run-dir resumes. Logit KD (on-policy, GKD-style) needs the
teacher and student to share a vocabulary. See docs/distill.md."""


def _parser(prog: str, doc: str, models: dict[str, str], run_dir_help: str, *, sampling: bool) -> argparse.ArgumentParser:
    """A stage's parser: its model flags (`--model`, or `--teacher`/`--student`), `--run-dir`, the task arguments
    and, for the stages that sample, the sampling arguments."""
    ap = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, help in models.items():
        ap.add_argument(flag, help=help)
    ap.add_argument("--run-dir", help=run_dir_help)
    add_task_args(ap)
    if sampling:
        add_sample_args(ap)
    return ap


def add_task_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("overrides", nargs="*", help="task.key=value overrides, e.g. 'task.kwargs={max_terms: 2}' task.num_train=200")
    ap.add_argument("--task", help="reasoning-gym name, zh_arithmetic or a .jsonl/.parquet file (= task.name)")
    ap.add_argument("--template", choices=TEMPLATES, help="prompt template (= task.template)")


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


def sample_config(a, model: str | None) -> SampleConfig:
    return SampleConfig(model=model, task=task_config(a), split=a.split, limit=a.limit, n=a.n,
                        max_new_tokens=a.max_new_tokens, temperature=a.temperature, top_p=a.top_p, chunk=a.chunk,
                        max_per_prompt=a.max_per_prompt, seed=a.seed, threads=a.threads)


def model_spec(spec: str | None) -> str | None:
    return None if spec in (None, "", "default") else spec


def sample_main(argv: list[str]) -> int:
    ap = _parser("reasonrl sample", SAMPLE_DOC, {"--model": "teacher: HF folder, run dir or 'default' (SmolLM2-135M-Instruct)"},
                 "where config, metrics and summary go (default: --out's folder, else runs/sample-<task>-<time>)", sampling=True)
    ap.add_argument("--out", help="traces JSONL (default RUN_DIR/traces.jsonl)")
    a = ap.parse_args(argv)

    def work():
        from reasonrl.distill.pipeline import default_run_dir, run_sample

        cfg = sample_config(a, model_spec(a.model))
        run_dir = Path(a.run_dir) if a.run_dir else Path(a.out).parent if a.out else default_run_dir("sample", cfg.task.name)
        run_sample(cfg, run_dir, Path(a.out) if a.out else None)

    return exit_code("reasonrl sample", work)


def sft_parser() -> argparse.ArgumentParser:
    ap = _parser("reasonrl sft", SFT_DOC, {"--model": "student: HF folder, run dir or 'default' (SmolLM2-135M-Instruct)"},
                 "output folder (default runs/sft-<task>-<time>)", sampling=False)
    ap.add_argument("--data", help="JSONL of trace, {prompt, completion} or {messages} rows")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue an SFT run from its latest checkpoint (its own settings)")
    for name, typ, default, doc in [("lr", float, 1e-5, "AdamW learning rate"), ("epochs", float, 1.0, "passes over the data"),
                                    ("max-steps", int, None, "optimizer steps (wins over --epochs)"),
                                    ("batch-size", int, 8, "sequences per step"), ("micro-batch-size", int, 8, "sequences per forward"),
                                    ("max-len", int, 512, "drop longer examples"), ("save-every", int, 50, "checkpoint every N steps"),
                                    ("warmup-steps", int, 0, "linear warm-up steps"), ("seed", int, 0, "data-order seed"),
                                    ("threads", int, None, "torch CPU threads")]:
        ap.add_argument(f"--{name}", type=typ, default=default, help=doc)
    ap.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    return ap


def sft_config(a) -> SFTConfig:
    if not a.data:
        raise ValueError("give --data FILE.jsonl (or --resume RUN_DIR)")
    return SFTConfig(model=model_spec(a.model), data=a.data, task=task_config(a), template=None, lora=a.lora, lr=a.lr,
                     epochs=a.epochs, max_steps=a.max_steps, batch_size=a.batch_size, micro_batch_size=a.micro_batch_size,
                     max_len=a.max_len, save_every=a.save_every, warmup_steps=a.warmup_steps, seed=a.seed, threads=a.threads)


def sft_main(argv: list[str]) -> int:
    a = sft_parser().parse_args(argv)

    def work():
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

    return exit_code("reasonrl sft", work)


def distill_main(argv: list[str]) -> int:
    ap = _parser("reasonrl distill", DISTILL_DOC, {"--teacher": "HF folder, run dir or 'default'",
                                                   "--student": "HF folder, run dir or 'default'"},
                 "output folder (default runs/distill-<task>-<time>)", sampling=True)
    ap.add_argument("--lr", type=float, default=1e-5, help="SFT learning rate")
    ap.add_argument("--epochs", type=float, default=1.0, help="SFT passes over the kept traces")
    ap.add_argument("--batch-size", type=int, default=8, help="SFT sequences per step")
    ap.add_argument("--lora", action="store_true", help="SFT a LoRA adapter")
    ap.add_argument("--kd", choices=["forward", "reverse"], help="after SFT, on-policy logit KD with this KL direction")
    ap.add_argument("--kd-steps", type=int, default=20, help="KD optimizer steps")
    a = ap.parse_args(argv)

    def work():
        from reasonrl.distill.pipeline import default_run_dir, run_distill

        sample = sample_config(a, model_spec(a.teacher))
        sft = SFTConfig(model=model_spec(a.student), data="(traces of this run)", task=sample.task, lora=a.lora, lr=a.lr,
                        epochs=a.epochs, batch_size=a.batch_size, micro_batch_size=a.batch_size, seed=a.seed, threads=a.threads)
        kd = KDConfig(kind=a.kd, steps=a.kd_steps) if a.kd else None
        run_dir = Path(a.run_dir) if a.run_dir else default_run_dir("distill", sample.task.name)
        out = run_distill(sample, sft, run_dir, kd)
        print(json.dumps(out["times"]), f"-> evaluate with: reasonrl eval --model {run_dir} --greedy")

    return exit_code("reasonrl distill", work)
