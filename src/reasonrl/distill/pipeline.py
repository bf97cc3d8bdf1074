"""The stages as run-directory jobs: sample -> SFT -> (optional) on-policy KD, each leaving its resolved
settings, metrics.jsonl and outputs in RUN_DIR, as `reasonrl train` does.

    RUN_DIR/sample_config.yaml  traces.jsonl  traces.jsonl.done  sample_summary.json
    RUN_DIR/sft_config.yaml  config.yaml  metrics.jsonl  checkpoints/step_N/   (reasonrl eval --model RUN_DIR)
    RUN_DIR/kd_config.yaml   (KD steps continue the step count and checkpoints of the SFT stage)
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from reasonrl.distill.config import KDConfig, SampleConfig, SFTConfig


def _dump(model, path: Path) -> None:
    path.write_text(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


def default_run_dir(kind: str, task_name: str) -> Path:
    name = Path(task_name).stem if task_name.endswith((".jsonl", ".parquet")) else task_name
    return Path("runs") / f"{kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_sample(cfg: SampleConfig, run_dir: Path, out: Path | None = None) -> dict:
    """Rejection-sample into `out` (default RUN_DIR/traces.jsonl); resumable by rerunning the same command."""
    from reasonrl.distill.sample import sample_traces
    from reasonrl.train.runlog import RunLogger

    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "traces.jsonl"
    run_dir.mkdir(parents=True, exist_ok=True)
    _dump(cfg, run_dir / "sample_config.yaml")
    logger = RunLogger(run_dir, tensorboard=False)
    try:
        totals = sample_traces(cfg, out, logger=logger)
    finally:
        logger.close()
    totals["out"] = str(out)
    (run_dir / "sample_summary.json").write_text(json.dumps(totals, indent=2))
    print(f"sample: kept {totals['kept']} of {totals['sampled']} traces ({totals['prompts']} prompts, "
          f"{totals['skipped_done']} already done) -> {out}", file=sys.stderr)
    return totals


def run_kd(kd: KDConfig, teacher_spec, task, run_dir: Path, *, seed: int = 0) -> dict:
    """On-policy KD from the SFT run's latest checkpoint; continues its step count and checkpoints."""
    import torch

    from reasonrl.config import Config
    from reasonrl.distill.kd import kd_step, same_vocab
    from reasonrl.eval.run import select_problems
    from reasonrl.model import load_model
    from reasonrl.rollout.base import SamplingParams
    from reasonrl.rollout.decode import DecodeEngine
    from reasonrl.tasks import render_prompt
    from reasonrl.train.checkpoint import load_trainer_state, rng_state, save_checkpoint
    from reasonrl.tasks.cursor import Cursor
    from reasonrl.train.setup import seed_everything
    from reasonrl.train.runlog import RunLogger, peak_rss_mb

    run_dir = Path(run_dir)
    ckpt, state = load_trainer_state(run_dir)
    teacher, t_tok, _ = load_model(teacher_spec)
    student, tok, _ = load_model(ckpt)
    if not same_vocab(t_tok, tok):
        raise ValueError(f"logit KD needs one vocabulary: teacher has {len(t_tok)} tokens, student {len(tok)} "
                         "(or they differ in content); use sample+SFT only")
    teacher.eval().requires_grad_(False)
    _dump(kd, run_dir / "kd_config.yaml")
    seed_everything(seed)
    engine = DecodeEngine(student, tok)
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=kd.lr)
    problems = select_problems(Config(task=task), "train", None)
    cursor = Cursor(seed=seed, n=len(problems))
    params = SamplingParams(n=kd.n, max_new_tokens=kd.max_new_tokens, temperature=kd.temperature)
    logger = RunLogger(run_dir, tensorboard=False)
    step, losses = state["step"], []
    for _ in range(kd.steps):
        batch = [problems[i] for i in cursor.take(kd.prompts_per_step)]
        prompts = [render_prompt(tok, p, task.template, task.lang)[0] for p in batch]
        m = kd_step(student, teacher, engine, tok, prompts, params, optimizer, kind=kd.kind, temperature=kd.temperature)
        step += 1
        losses.append(m["kd/loss"])
        logger.log({"kind": "kd", "step": step, **m, "mem/peak_rss_mb": peak_rss_mb()})
    logger.close()
    save_checkpoint(run_dir, step, model=student, tokenizer=tok, config_yaml=(run_dir / "config.yaml").read_text(), keep=2,
                    trainer_state={"optimizer": optimizer.state_dict(), "step": step, "rng": rng_state(), "stage": "kd",
                                   "cursor": vars(cursor), "elapsed_s": state.get("elapsed_s", 0.0)})
    return {"steps": kd.steps, "first_loss": losses[0], "last_loss": losses[-1]}


def run_distill(sample: SampleConfig, sft: SFTConfig, run_dir: Path, kd: KDConfig | None = None) -> dict:
    """sample -> filter -> SFT (-> KD) in one run directory; a rerun resumes whichever stage was unfinished."""
    from reasonrl.distill.sft import run_sft
    from reasonrl.model import latest_checkpoint

    run_dir = Path(run_dir)
    times = {}
    t0 = time.perf_counter()
    totals = run_sample(sample, run_dir)
    times["sample_s"] = time.perf_counter() - t0
    if totals["kept"] == 0:
        raise ValueError(f"{run_dir}/traces.jsonl: the teacher kept no trace ({totals['sampled']} sampled); "
                         "raise --n, the token cap, or use a stronger teacher")
    t0 = time.perf_counter()
    sft.data = str(run_dir / "traces.jsonl")
    resume = latest_checkpoint(run_dir) is not None
    summary = run_sft(sft, run_dir, resume=resume)
    times["sft_s"] = time.perf_counter() - t0
    out = {"sample": totals, "sft": {k: v for k, v in summary.items() if k != "losses"}, "times": times}
    if kd is not None:
        t0 = time.perf_counter()
        out["kd"] = run_kd(kd, sample.model, sample.task, run_dir, seed=sft.seed)
        times["kd_s"] = time.perf_counter() - t0
    (run_dir / "distill_summary.json").write_text(json.dumps(out, indent=2))
    return out
