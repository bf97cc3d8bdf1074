"""The RL loop, top to bottom: rollout -> reward -> advantage -> loss -> update -> checkpoint.

    reasonrl train                                   # the default job (SmolLM2-135M, ~10 min on 2 cores)
    reasonrl train configs/x.yaml rollout.num_generations=8
    reasonrl train --resume runs/chain_sum-20261123-1300

How this departs from DeepSeekMath's GRPO (arXiv:2402.03300), on purpose:
- beta defaults to 0 (no reference model: half the memory and one forward less per step on a CPU);
- with num_iterations=1 the old log-probs are the current ones detached (ratio 1, no second forward);
- groups whose G rewards are all equal are dropped before the update (DAPO's dynamic sampling): they have
  zero advantage and only cost a forward/backward; rollout.redraw_rounds > 0 draws new prompts to refill them.
How the weights live across processes (one, DDP, FSDP, ZeRO) is the `Strategy`'s business (parallel/).
"""
from __future__ import annotations

import json
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from reasonrl.algos import get_advantage_fn, group_has_variance, weight_positive
from reasonrl.config import Config, dump_config
from reasonrl.eval.heldout import ACCURACY_FUNCS, correctness, generate_and_score, reward_columns
from reasonrl.jsonl import iter_jsonl
from reasonrl.model import load_model, machine_description, use_bf16
from reasonrl.rewards import RewardResult, RewardRunner, format_ok, thinking_stats
from reasonrl.rewards.runner import concat_results
from reasonrl.rollout.base import RolloutEngine, Rollouts, SamplingParams, concat_rollouts
from reasonrl.tasks import load_task, render_prompt
from reasonrl.tasks.cursor import Cursor
from reasonrl.tasks.curriculum import Curriculum, build_curriculum
from reasonrl.train.checkpoint import load_trainer_state, rewind_logs, rng_state, save_checkpoint, set_rng_state
from reasonrl.train.distributed import Dist, NullLogger, gather_step, init_dist, sampling_seeds
from reasonrl.train.faults import fault_point
from reasonrl.train.parallel import Strategy, get_strategy, launched_mode
from reasonrl.train.runlog import RunLogger, memory_metrics, peak_rss_mb, write_report_quietly
from reasonrl.train.setup import (UPDATE_HEAP, build_model, build_reward_runner, default_run_dir, heap_reused,
                                  return_freed_memory, seed_everything)
from reasonrl.train.stop import StopRequest
from reasonrl.train.update import update


@dataclass
class Trainer:
    """What every step uses, built once per run by `build_trainer`."""

    cfg: Config
    dist: Dist
    strategy: Strategy             # how the weights live across processes: forward calls, backward, step
    model: torch.nn.Module         # what the optimizer updates (sharded, or DeepSpeed's engine, in those modes)
    tok: object                    # the tokenizer
    engine: RolloutEngine
    scheduler: torch.optim.lr_scheduler.LRScheduler
    runner: object                 # reward runner: (responses, **columns) -> RewardResult
    ref_model: torch.nn.Module | None
    bf16: bool


@dataclass
class Progress:
    """What a checkpoint records besides weights and optimizer state, so a resumed run continues exactly."""

    cursor: Cursor
    train: list                    # the problems the cursor indexes: the task's train split, or the curriculum's level
    curriculum: Curriculum | None = None   # swaps `train` as it levels up; held-out stays the task's own
    step: int = 0
    elapsed_s: float = 0.0
    heldout_before: float | None = None

    @property
    def pool(self) -> list:
        return self.curriculum.problems if self.curriculum else self.train


def lenient_for(cfg: Config) -> bool:
    """Untagged answers ("5 + 3 = 8") are only accepted where the prompt asked for no tags."""
    return cfg.reward.lenient if cfg.reward.lenient is not None else cfg.task.template == "plain"


def sample_round(t: Trainer, problems: list, seeds: list[int] | None) -> tuple[list, Rollouts, RewardResult]:
    """B prompts x G samples, scored: (rendered prompts [B], rollouts [B*G], rewards [B*G]). With several
    processes this rank samples and scores its share of the B prompts, then every rank holds all of them."""
    cfg, G, dist, rc = t.cfg, t.cfg.rollout.num_generations, t.dist, t.cfg.rollout
    rendered = [render_prompt(t.tok, p, cfg.task.template, cfg.task.lang, cfg.task.think_prefix)   # (text, prefill)
                for p in problems]
    params = SamplingParams(n=G, max_new_tokens=rc.max_new_tokens, temperature=rc.temperature, top_p=rc.top_p,
                            stop=rc.stop, seeds=dist.shard(seeds) if seeds else None,
                            logprobs=rc.return_logprobs or cfg.algo.rollout_correction != "none")
    mine = dist.shard(rendered)                                              # whole groups: this rank's prompts
    with heap_reused():  # decode allocates and frees a KV cache per token: reuse it, trim after (setup.py)
        rollouts = t.engine.generate([text for text, _ in mine], params)
    scored = t.runner([mine[i // G][1] + text for i, text in enumerate(rollouts.texts)],
                      **reward_columns(dist.shard(problems), G, lenient_for(cfg)))
    rollouts, scored = gather_step(dist, rollouts, scored)
    return rendered, rollouts, scored


def train_step(t: Trainer, draw) -> tuple[dict, list[dict]]:
    """One optimizer step on B prompts x G samples; `draw()` returns the next B problems and their sampling
    seeds. Returns (metrics, sample rows for logging).

    With rollout.redraw_rounds > 0 this is DAPO's dynamic sampling with re-draw: while fewer than B groups
    have two different rewards, another B prompts are drawn and sampled (at most that many extra rounds),
    and the update takes the first B groups that have variance. Metrics cover every sample drawn."""
    cfg, G, rc = t.cfg, t.cfg.rollout.num_generations, t.cfg.rollout
    t0 = time.perf_counter()
    problems, seeds = draw()
    B = len(problems)
    rendered, rollouts, scored = sample_round(t, problems, seeds)
    rewards = torch.tensor(scored.total, dtype=torch.float32)               # [n*G], n = B per round drawn
    rounds = 1
    while rc.skip_zero_variance and rounds <= rc.redraw_rounds and int(group_has_variance(rewards, G).sum()) < B:
        more, more_seeds = draw()
        more_rendered, more_rollouts, more_scored = sample_round(t, more, more_seeds)
        problems, rendered = problems + more, rendered + more_rendered
        rollouts = concat_rollouts([rollouts, more_rollouts], rollouts.seconds + more_rollouts.seconds)
        scored = concat_results([scored, more_scored])
        rewards = torch.tensor(scored.total, dtype=torch.float32)
        rounds += 1
    responses = [rendered[i // G][1] + text for i, text in enumerate(rollouts.texts)]   # what the verifiers saw
    advantages = get_advantage_fn(cfg.algo.advantage)(rewards, G, std_eps=cfg.algo.std_eps)   # per group
    advantages = weight_positive(advantages, cfg.algo.positive_weight)
    has_var = group_has_variance(rewards, G)
    kept_groups = has_var if rc.skip_zero_variance else torch.ones(len(problems), dtype=torch.bool)
    kept_groups = kept_groups & (kept_groups.cumsum(0) <= B)                # re-drawn: the first B that carry signal
    keep = kept_groups.repeat_interleave(G).nonzero().squeeze(-1).tolist()  # sample indices that train
    entropy_only = not keep and cfg.algo.entropy_coef > 0
    if entropy_only:
        # no group has reward spread: no policy gradient, and a policy that samples one answer per prompt would
        # skip every step from here on (session 27: seed 0, entropy 0.00, 50 steps without an update). The entropy
        # bonus covers every sample, as PPO's c2 does: it alone trains on the first B groups (advantages zeroed).
        keep, advantages = list(range(B * G)), torch.zeros_like(advantages)
    t_rollout = time.perf_counter() - t0

    with heap_reused(UPDATE_HEAP):   # sub-MiB temporaries reused, big activations unmapped (setup.py)
        stats = update(t, rollouts, advantages, keep) if keep else {}
    t.engine.sync_weights(t.model)
    t_step = time.perf_counter() - t0
    correct = correctness(scored.per_func, scored.total)
    formatted = [format_ok(r) for r in responses]
    metrics = {**step_metrics(rollouts, rewards, scored, responses, correct, formatted, G), **stats,
               "groups/zero_var_frac": 1.0 - has_var.float().mean().item(),
               "time/rollout_s": t_rollout, "time/train_s": t_step - t_rollout, "time/step_s": t_step,
               "lr": t.scheduler.get_last_lr()[0]}
    if rc.redraw_rounds:
        metrics["groups/redraws"] = rounds - 1
        metrics["groups/trained"] = int(kept_groups.sum())
    if cfg.algo.entropy_coef > 0:
        metrics["update/entropy_only"] = float(entropy_only)
    rows = [
        {"kind": "train", "problem_id": problems[i // G].id, "question": problems[i // G].question,
         "completion": responses[i], "reference": problems[i // G].answer, "reward": scored.total[i],
         "correct": correct[i] >= 1.0, "format_ok": formatted[i]}
        for i in range(len(responses))
    ]
    return metrics, rows


def step_metrics(rollouts: Rollouts, rewards: torch.Tensor, scored: RewardResult, responses: list[str],
                 correct: list[float], formatted: list[bool], G: int) -> dict[str, float]:
    """The rollout's and rewards' metrics of one step (names: docs/metrics.md); `rewards` [B*G]."""
    lens, n = [len(c) for c in rollouts.completion_ids], len(rewards)
    return {
        "reward/mean": rewards.mean().item(),
        "reward/std": rewards.std().item() if n > 1 else 0.0,
        "acc/mean": sum(correct) / n,
        "format/rate": sum(formatted) / n,
        "acc/strict": sum(a for a, f in zip(correct, formatted) if f) / n,   # right and in the strict format
        **thinking_stats(responses),   # guards against an empty or boilerplate <think> (reward hacking)
        "len/response_mean": sum(lens) / n,
        "len/response_max": max(lens),
        "len/truncated_frac": sum(rollouts.truncated) / n,
        "reward/errors": scored.errors,
        "reward/timeouts": scored.timeouts,
        **{f"reward/fn/{name}": sum(v) / max(len(v), 1) for name, v in scored.per_func.items()},   # unweighted
        "rollout/tokens_per_s": rollouts.num_tokens / max(rollouts.seconds, 1e-9),
        "rollout/new_tokens": rollouts.num_tokens,
        "rollout/prompt_tokens": sum(len(rollouts.prompt_ids[i]) for i in range(0, n, G)),
    }


@contextmanager
def accuracy_runner(t: Trainer):
    """The run's own reward runner when it pays an accuracy term; else a fresh one that grades `accuracy`
    for the eval alone: a control run's reward (format only, a coin) says nothing about being right, and
    its held-out "accuracy" would be that reward (a format-only control read 1.00 at step 25)."""
    if any(f in ACCURACY_FUNCS for f in t.cfg.reward.funcs):
        yield t.runner
        return
    with RewardRunner(["accuracy"], timeout_s=t.cfg.reward.timeout_s) as runner:
        yield runner


def heldout_eval(t: Trainer, problems, logger: RunLogger, step: int, label: str) -> float:
    """Greedy accuracy on held-out problems; logs `eval/*` and the first few traces for the report.
    Returns the score the template asks for: any correct answer for `plain`, else the strict one
    (right AND the answer inside <answer> in the strict format)."""
    cfg, t0 = t.cfg, time.perf_counter()
    params = SamplingParams(n=1, max_new_tokens=cfg.train.eval_max_new_tokens or cfg.rollout.max_new_tokens,
                            temperature=0.0, stop=cfg.rollout.stop)
    with heap_reused(), accuracy_runner(t) as runner:  # greedy decoding: the rollout's KV-cache churn
        s = generate_and_score(t.engine, t.tok, problems, params, template=cfg.task.template, lang=cfg.task.lang,
                               lenient=lenient_for(cfg), runner=runner, think_prefix=cfg.task.think_prefix)
    logger.log({"kind": "eval", "step": step, "label": label, "eval/accuracy": s.accuracy,
                "eval/format_rate": s.format_rate, "eval/strict_accuracy": s.strict_accuracy, "eval/n": len(problems),
                "eval/seconds": time.perf_counter() - t0, "eval/reward_errors": s.errors,
                "eval/reward_timeouts": s.timeouts})
    logger.samples([
        {"step": step, "kind": "eval", "label": label, "problem_id": p.id, "question": p.question,
         "completion": s.responses[i], "reference": p.answer, "extracted": s.extracted[i],
         "reward": s.correct[i], "correct": s.correct[i] >= 1.0, "format_ok": s.formatted[i]}
        for i, p in enumerate(problems[:6])
    ])
    return s.accuracy if cfg.task.template == "plain" else s.strict_accuracy


def build_trainer(cfg: Config, dist: Dist, ckpt: Path | None) -> Trainer:
    """Model (from `ckpt` when resuming), the parallel strategy for how the job was launched, rollout engine,
    optimizer, the frozen reference (only when beta > 0) and the reward runner."""
    model, tok, model_path = build_model(cfg, ckpt)
    model.to(dist.device)
    bf16 = use_bf16(cfg)
    strategy = get_strategy(launched_mode(dist.world), dist, max_grad_norm=cfg.optim.max_grad_norm,
                            pad_id=tok.pad_token_id)
    model, engine, _, scheduler = strategy.prepare(cfg, model, tok, model_path, bf16)
    ref_model = None
    if cfg.algo.beta > 0:  # the frozen start policy; never loaded when beta == 0
        ref_model = load_model(cfg.model.path, cfg.model.dtype)[0].eval().requires_grad_(False).to(dist.device)
    return Trainer(cfg, dist, strategy, model, tok, engine, scheduler, None, ref_model, bf16)


def restore(t: Trainer, state: dict | None, splits) -> Progress:
    """The progress a checkpoint's trainer state records (optimizer, LR schedule, data order, curriculum level,
    RNGs), or a fresh start."""
    curriculum = build_curriculum(t.cfg.task, splits.heldout) if t.cfg.task.curriculum else None
    p = Progress(Cursor(seed=t.cfg.train.seed, n=0), splits.train, curriculum)
    p.cursor.n = len(p.pool)
    if state is None:
        return p
    t.strategy.load_state_dict(state["optimizer"])
    t.scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    if curriculum:
        curriculum.load_state(state.get("curriculum"))
    p.cursor, p.step, p.elapsed_s = Cursor(**state["cursor"]), state["step"], state["elapsed_s"]
    p.heldout_before = state.get("heldout_before")
    return p


def level_rewards(t: Trainer, p: Progress) -> None:
    """The reward weights of the curriculum level now trained (reward.level_weights), when the config gives some."""
    if p.curriculum and t.cfg.reward.level_weights:
        t.runner.weights = list(t.cfg.reward.level_weights[p.curriculum.level])


def save(t: Trainer, p: Progress, run_dir: Path, config_yaml: str) -> None:
    """A checkpoint of the whole run; every rank calls it (sharded: the optimizer state is a gather)."""
    opt_state = t.strategy.state_dict()
    if not t.dist.main:  # every rank holds the same weights and state: one copy is written
        return
    save_checkpoint(run_dir, p.step, model=t.strategy.full_model(), tokenizer=t.tok, config_yaml=config_yaml,
                    keep=t.cfg.train.keep_checkpoints,
                    trainer_state={"optimizer": opt_state, "scheduler": t.scheduler.state_dict(),
                                   "cursor": vars(p.cursor), "step": p.step, "elapsed_s": p.elapsed_s,
                                   "rng": rng_state(), "heldout_before": p.heldout_before,
                                   "curriculum": p.curriculum.state() if p.curriculum else None})


def draw(cfg: Config, p: Progress) -> tuple[list, list[int] | None]:
    """The next B problems of the data order and their sampling seeds: the same on every rank."""
    idx = p.cursor.take(cfg.rollout.prompts_per_step)
    seeds = sampling_seeds(cfg.train.seed, p.step, idx) if cfg.rollout.seed_per_prompt else None
    return [p.pool[i] for i in idx], seeds


def run_steps(t: Trainer, splits, p: Progress, logger, stop: StopRequest, checkpoint) -> bool:
    """Train until max_steps, the time budget or a stop request; True when stopped by a request."""
    cfg, halt = t.cfg, False
    budget = cfg.train.max_minutes * 60 if cfg.train.max_minutes else math.inf
    bar = tqdm(total=cfg.train.max_steps, initial=p.step, desc="train", dynamic_ncols=True, disable=not t.dist.main)
    while p.step < cfg.train.max_steps and p.elapsed_s < budget and not halt:
        t0 = time.perf_counter()
        metrics, rows = train_step(t, lambda: draw(cfg, p))
        p.step += 1
        fault_point("after_optimizer_step")
        # every rank must leave the loop at the same step: the slowest rank's time, anyone's Ctrl-C
        dt, stopping = t.dist.max([time.perf_counter() - t0, float(stop.requested)])
        p.elapsed_s, halt = p.elapsed_s + dt, stopping > 0
        if p.curriculum:  # the level this step trained on; a level-up starts the new pool from its beginning
            metrics["curriculum/level"] = p.curriculum.level
            # a schedule (the controls) ignores the metric, which the control's own reward.funcs may not log
            cc = cfg.task.curriculum   # several metrics: the step's lowest, so all must be high on the same steps
            value = None if cc.schedule else min(metrics[k] for k in cc.metrics)
            if p.curriculum.observe(value, p.step):
                p.cursor = Cursor(seed=cfg.train.seed, n=len(p.pool))
                level_rewards(t, p)
        logger.log({"kind": "train", "step": p.step, "time_s": p.elapsed_s, **metrics,
                    **memory_metrics(t.dist.device, t.strategy.held_state_mb())})
        if p.step % cfg.train.log_samples_every == 0:
            logger.samples([{"step": p.step, **r} for r in rows])
        fault_point("after_step_logged")
        if cfg.train.eval_every and p.step % cfg.train.eval_every == 0 and t.dist.main:
            heldout_eval(t, splits.heldout[: cfg.train.eval_subset], logger, p.step, "periodic")
        if p.step % cfg.train.save_every == 0:
            checkpoint()
        bar.update(1)
        bar.set_postfix(reward=f"{metrics['reward/mean']:.2f}", acc=f"{metrics['acc/mean']:.2f}",
                        fmt=f"{metrics['format/rate']:.2f}", s_step=f"{metrics['time/step_s']:.1f}")
    bar.close()
    return halt


def start(cfg: Config, resume: str | Path | None) -> tuple[Dist, Path, Path | None, dict | None]:
    """This process's place in the job, the run directory (config saved there) and the checkpoint to resume."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    return_freed_memory()   # the update's peak must not sit on top of the rollout's freed memory (setup.py)
    dist = init_dist()  # rank 0 of 1 unless started by a launcher (see distributed.py)
    if cfg.rollout.prompts_per_step < dist.world:
        raise ValueError(f"rollout.prompts_per_step={cfg.rollout.prompts_per_step} < {dist.world} processes; "
                         "every process needs at least one prompt per step")
    if cfg.rollout.seed_per_prompt is None:  # resolved now and saved, so a resume on any process count samples alike
        cfg.rollout.seed_per_prompt = dist.world > 1 or cfg.ray.num_rollout_workers > 0
    run_dir = Path(resume) if resume else Path(cfg.run_dir) if cfg.run_dir else default_run_dir(cfg)
    ckpt, state = load_trainer_state(run_dir) if resume else (None, None)
    if state is not None and dist.main:  # lines logged after that checkpoint are for steps that will run again
        rewind_logs(run_dir, state)
    cfg.run_dir = str(run_dir)
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, run_dir / "config.yaml")
    return dist, run_dir, ckpt, state


def main(cfg: Config, resume: str | Path | None = None) -> dict:
    """Train with `cfg` (or continue the run in `resume`); returns the run summary."""
    dist, run_dir, ckpt, state = start(cfg, resume)
    seed_everything(cfg.train.seed)
    splits = load_task(cfg.task)
    t = build_trainer(cfg, dist, ckpt)
    p = restore(t, state, splits)
    if state is not None:
        print(f"reasonrl: resumed {run_dir} at step {p.step}", file=sys.stderr)
    logger = RunLogger(run_dir) if dist.main else NullLogger()
    t.runner = build_reward_runner(cfg)
    level_rewards(t, p)   # a resumed run continues with its level's weights
    config_yaml = (run_dir / "config.yaml").read_text() if dist.main else ""
    checkpoint = lambda: save(t, p, run_dir, config_yaml)  # noqa: E731
    stop, finished = StopRequest(), False
    try:
        if p.heldout_before is None and cfg.train.eval_before_after and dist.main:  # rank 0 evaluates; the others wait
            p.heldout_before = heldout_eval(t, splits.heldout, logger, p.step, "before")
            print(f"heldout accuracy before training: {p.heldout_before:.3f} ({len(splits.heldout)} prompts)", file=sys.stderr)
        if run_steps(t, splits, p, logger, stop, checkpoint):
            checkpoint()
            print(f"\nreasonrl: stopped at step {p.step}; checkpoint saved. Continue with: reasonrl train --resume {run_dir}",
                  file=sys.stderr)
            raise SystemExit(130)
        finished = True
    except KeyboardInterrupt:  # a second Ctrl-C: leave now; the last checkpoint on disk is complete (atomic)
        print(f"\nreasonrl: interrupted mid-step; resume from the last checkpoint: reasonrl train --resume {run_dir}",
              file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop.restore()
        if not finished:  # stopped or crashed: flush the logs; the worker process must not outlive us
            logger.close()
            t.runner.close()
    checkpoint()
    return finish(t, p, splits.heldout, logger, run_dir)


def finish(t: Trainer, p: Progress, heldout: list, logger, run_dir: Path) -> dict:
    """The after-training eval, summary.json and the report (rank 0); closes what the run opened."""
    cfg, dist = t.cfg, t.dist
    if not dist.main:
        t.runner.close()
        dist.close()
        return {"steps": p.step, "rank": dist.rank}
    before = p.heldout_before
    after = heldout_eval(t, heldout, logger, p.step, "after") if cfg.train.eval_before_after else None
    speeds = [row["rollout/tokens_per_s"] for _, row, bad in iter_jsonl(run_dir / "metrics.jsonl")
              if bad is None and isinstance(row, dict) and row.get("kind") == "train"]
    summary = {
        "heldout_before": before, "heldout_after": after, "heldout_n": len(heldout), "steps": p.step,
        "wall_s": p.elapsed_s, "s_per_step": p.elapsed_s / max(p.step, 1),
        "rollout_tokens_per_s": float(np.mean(speeds)) if speeds else None, "peak_rss_mb": peak_rss_mb(),
        "machine": machine_description(),
    }
    if "mem/cuda_peak_mb" in (m := memory_metrics(dist.device, 0.0)):
        summary["cuda_peak_mb"] = m["mem/cuda_peak_mb"]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    logger.close()
    t.runner.close()
    dist.close()
    write_report_quietly(run_dir)
    if before is not None and after is not None:
        kind = "" if cfg.task.template == "plain" else " (strict: right and inside <answer>)"
        print(f"heldout accuracy{kind}: before {before:.2f} -> after {after:.2f} ({len(heldout)} prompts)")
    return summary
