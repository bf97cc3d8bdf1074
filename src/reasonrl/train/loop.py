"""The RL loop, top to bottom: rollout -> reward -> advantage -> loss -> update -> checkpoint.

    reasonrl train                                   # the default job (SmolLM2-135M, ~10 min on 2 cores)
    reasonrl train configs/x.yaml rollout.num_generations=8
    reasonrl train --resume runs/chain_sum-20261123-1300

How this departs from DeepSeekMath's GRPO (arXiv:2402.03300), on purpose:
- beta defaults to 0 (no reference model: half the memory and one forward less per step on a CPU);
- with num_iterations=1 the old log-probs are the current ones detached (ratio 1, no second forward);
- groups whose G rewards are all equal are dropped before the update (DAPO's dynamic sampling, without
  re-drawing): they have zero advantage and only cost a forward/backward.
"""
from __future__ import annotations

import json
import math
import random
import signal
import threading
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from reasonrl.algos import get_advantage_fn, grpo_loss, group_has_variance
from reasonrl.config import Config, dump_config
from reasonrl.model import load_model
from reasonrl.eval.heldout import correctness, generate_and_score, reward_columns
from reasonrl.rewards import format_ok, thinking_stats
from reasonrl.rollout.base import SamplingParams
from reasonrl.tasks import load_task, render_prompt
from reasonrl.train.checkpoint import load_trainer_state, rewind_logs, rng_state, save_checkpoint, set_rng_state
from reasonrl.train.distributed import Dist, NullLogger, gather_step, init_dist, sampling_seeds, sum_metrics
from reasonrl.train.faults import fault_point
from reasonrl.train.forward import group_logprobs, padded_logprobs, rollout_logprob_gap
from reasonrl.train import parallel
from reasonrl.train.runlog import RunLogger, peak_rss_mb
from reasonrl.train.setup import build_model, build_reward_runner, default_run_dir, use_bf16


@dataclass
class Cursor:
    """Where we are in the training problems: epoch `epoch` visits them in an order seeded by (seed, epoch)."""

    seed: int
    n: int
    epoch: int = 0
    pos: int = 0

    def _order(self) -> list[int]:
        order = list(range(self.n))
        random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def take(self, k: int) -> list[int]:
        order, out = self._order(), []
        while len(out) < k:
            if self.pos >= self.n:
                self.epoch, self.pos = self.epoch + 1, 0
                order = self._order()
            out.append(order[self.pos])
            self.pos += 1
        return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_step(cfg: Config, model, engine, optimizer, scheduler, runner, tokenizer, problems, bf16: bool,
               ref_model=None, *, dist: Dist = Dist(), seeds: list[int] | None = None) -> tuple[dict, list[dict]]:
    """One optimizer step on B prompts x G samples. Returns (metrics, sample rows for logging).
    With several processes, this rank samples and scores its share of the B prompts (see distributed.py)."""
    G, rc, ac = cfg.rollout.num_generations, cfg.rollout, cfg.algo
    t0 = time.perf_counter()
    rendered = [render_prompt(tokenizer, p, cfg.task.template, cfg.task.lang) for p in problems]
    params = SamplingParams(n=G, max_new_tokens=rc.max_new_tokens, temperature=rc.temperature, top_p=rc.top_p,
                            stop=rc.stop, seeds=dist.shard(seeds) if seeds else None, logprobs=rc.return_logprobs)
    mine = dist.shard(rendered)                                              # whole groups: this rank's prompts
    ro = engine.generate([r[0] for r in mine], params)
    rew = runner([mine[i // G][1] + t for i, t in enumerate(ro.texts)],
                 **reward_columns(dist.shard(problems), G, lenient_for(cfg)))
    ro, rew = gather_step(dist, ro, rew)                                     # every rank now holds all B*G
    responses = [rendered[i // G][1] + t for i, t in enumerate(ro.texts)]   # [B*G] what the verifiers saw
    rewards = torch.tensor(rew.total, dtype=torch.float32)                  # [B*G]
    adv = get_advantage_fn(ac.advantage)(rewards, G, std_eps=ac.std_eps)     # [B*G]
    keep_groups = group_has_variance(rewards, G) if rc.skip_zero_variance else torch.ones(len(problems), dtype=torch.bool)
    keep = keep_groups.repeat_interleave(G).nonzero().squeeze(-1).tolist()   # sample indices that train
    t_roll = time.perf_counter() - t0

    stats = _update(cfg, model, optimizer, scheduler, ro, adv, keep, tokenizer, bf16, ref_model, dist) if keep else {}
    engine.sync_weights(model)
    t_step = time.perf_counter() - t0
    lens = [len(c) for c in ro.completion_ids]
    acc = correctness(rew.per_func, rew.total)
    fmt = [format_ok(r) for r in responses]
    metrics = {
        "reward/mean": rewards.mean().item(),
        "reward/std": rewards.std().item() if len(rewards) > 1 else 0.0,
        "acc/mean": sum(acc) / len(acc),
        "format/rate": sum(fmt) / len(fmt),
        "acc/strict": sum(a for a, f in zip(acc, fmt) if f) / len(acc),   # right and in the strict format
        **thinking_stats(responses),   # guards against an empty or boilerplate <think> (reward hacking)
        "len/response_mean": sum(lens) / len(lens),
        "len/response_max": max(lens),
        "len/truncated_frac": sum(ro.truncated) / len(ro.truncated),
        "groups/zero_var_frac": 1.0 - keep_groups.float().mean().item(),
        "reward/errors": rew.errors,
        "reward/timeouts": rew.timeouts,
        "rollout/tokens_per_s": ro.num_tokens / max(ro.seconds, 1e-9),
        "rollout/new_tokens": ro.num_tokens,
        "rollout/prompt_tokens": sum(len(ro.prompt_ids[i]) for i in range(0, len(ro.prompt_ids), G)),
        "time/rollout_s": t_roll,
        "time/train_s": t_step - t_roll,
        "time/step_s": t_step,
        "lr": scheduler.get_last_lr()[0],
        **stats,
    }
    rows = [
        {"kind": "train", "problem_id": problems[i // G].id, "question": problems[i // G].question,
         "completion": responses[i], "reference": problems[i // G].answer, "reward": rew.total[i],
         "correct": acc[i] >= 1.0, "format_ok": fmt[i]}
        for i in range(len(responses))
    ]
    return metrics, rows


def lenient_for(cfg: Config) -> bool:
    """Untagged answers ("5 + 3 = 8") are only accepted where the prompt asked for no tags."""
    return cfg.reward.lenient if cfg.reward.lenient is not None else cfg.task.template == "plain"


def _parts(ro, keep: list[int], G: int, mb: int) -> list[tuple[list[int], list[int]]]:
    """Micro-batches as (prompt ids, sample indices): one prompt's kept samples, at most `mb` at a time,
    so each prompt is encoded once per micro-batch (see `group_logprobs`)."""
    by_group: dict[int, list[int]] = {}
    for i in keep:
        by_group.setdefault(i // G, []).append(i)
    return [(ro.prompt_ids[idx[0]], idx[s : s + mb]) for idx in by_group.values() for s in range(0, len(idx), mb)]


def _update(cfg, model, optimizer, scheduler, ro, adv, keep, tokenizer, bf16, ref_model, dist: Dist) -> dict:
    ac, G = cfg.algo, cfg.rollout.num_generations
    all_parts = _parts(ro, keep, G, cfg.optim.micro_batch_size)
    lo, hi = dist.bounds(len(ro.prompt_ids) // G)
    parts = [(p, idx) for p, idx in all_parts if lo <= idx[0] // G < hi]   # this rank's groups (all, on 1 process)
    parts = parallel.pad_parts(dist, parts)   # sharded: every rank makes the same model calls; None = a dummy
    N = len(keep)                                                          # global counts: the loss divides by them
    num_tokens = sum(len(ro.completion_ids[i]) for i in keep)
    lp_kw = dict(pad_id=tokenizer.pad_token_id, temperature=cfg.rollout.temperature, bf16=bf16)

    logprobs_fn = padded_logprobs if dist.sharded else group_logprobs   # sharded: one model call per micro-batch

    def fwd(m, part, **kw):
        if part is None:
            return parallel.dummy_forward(m, tokenizer.pad_token_id), None, None
        return logprobs_fn(m, part[0], [ro.completion_ids[i] for i in part[1]], **lp_kw, **kw)

    model.train()
    old = ref = None
    if ac.num_iterations > 1 or ref_model is not None:
        with torch.no_grad():  # one extra forward per micro-batch: only when mu > 1 or a KL term needs it
            old = [fwd(model, part)[0] for part in parts] if ac.num_iterations > 1 else None
            ref = [fwd(ref_model, part)[0] if part else None for part in parts] if ref_model is not None else None
    sums: dict[str, float] = {}
    t0 = time.perf_counter()
    for it in range(ac.num_iterations):
        parallel.zero_grad(dist, optimizer)
        for j, part in enumerate(parts):
            lp, ent, mask = fwd(model, part, with_entropy=True)                  # [n, T]
            last = j == len(parts) - 1
            if part is None:
                parallel.backward(dist, model, lp, last)   # the dummy's zero loss: its collectives only
                continue
            idx = part[1]
            loss, m = grpo_loss(lp, old[j] if old else lp.detach(), adv[idx].to(lp.device), mask,
                                ref_logprobs=ref[j] if ref else None, beta=ac.beta, clip_low=ac.clip_low,
                                clip_high=ac.clip_high, agg=ac.loss_agg, max_tokens=cfg.rollout.max_new_tokens,
                                num_seqs=N, num_tokens=num_tokens)
            parallel.backward(dist, model, loss, last)
            w = mask.sum().item() / max(num_tokens, 1)   # token-weighted so metrics match a full batch
            m["entropy/mean"] = (ent * mask).sum() / mask.sum().clamp(min=1)
            if ro.logprobs is not None and it == 0:  # only if the engine returned them; pass 1 = the sampling policy
                gap = rollout_logprob_gap([ro.logprobs[i] for i in idx], lp.detach(), mask)
                m["kl/rollout_vs_train"] = gap * ac.num_iterations  # added in pass 1 only; sums are averaged over mu
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + float(v) * (1.0 if k == "loss/pg" else w)
        gnorm = parallel.step(dist, model, optimizer, cfg.optim.max_grad_norm)
        scheduler.step()
    dt = time.perf_counter() - t0
    out = {k: v / ac.num_iterations for k, v in sum_metrics(dist, sums).items()}
    out["grad/norm"] = gnorm
    # sample tokens (prompt + completion, as a padded-batch trainer would count them) per update second
    seen = sum(len(ro.prompt_ids[i]) + len(ro.completion_ids[i]) for i in keep)
    out["train/tokens_per_s"] = seen * ac.num_iterations / max(dt, 1e-9)
    out["train/num_seqs"] = N
    # tokens the model actually ran (each prompt once per micro-batch): the roofline benchmark's FLOP count
    out["train/model_tokens"] = sum(len(p) + sum(len(ro.completion_ids[i]) for i in idx) for p, idx in all_parts)
    out["train/completion_tokens"] = num_tokens
    return out

class _StopRequest:
    """First Ctrl-C or SIGTERM: finish the step, save, exit 130 (a mid-step save would pair updated weights
    with the old step count). A second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._old = {}
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            self._old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nreasonrl: stopping after this step (Ctrl-C again to stop now)", file=sys.stderr)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def heldout_eval(cfg: Config, engine, tok, problems, runner, logger: RunLogger, step: int, label: str) -> float:
    """Greedy accuracy on held-out problems; logs `eval/*` and the first few traces for the report.
    Returns the score the template asks for: any correct answer for `plain`, else the strict one
    (right AND the answer inside <answer> in the strict format)."""
    t0 = time.perf_counter()
    params = SamplingParams(n=1, max_new_tokens=cfg.train.eval_max_new_tokens or cfg.rollout.max_new_tokens,
                            temperature=0.0, stop=cfg.rollout.stop)
    s = generate_and_score(engine, tok, problems, params, template=cfg.task.template, lang=cfg.task.lang,
                           lenient=lenient_for(cfg), runner=runner)
    logger.log({"kind": "eval", "step": step, "label": label, "eval/accuracy": s.accuracy,
                "eval/format_rate": s.format_rate,
                "eval/strict_accuracy": s.strict_accuracy, "eval/n": len(problems), "eval/seconds": time.perf_counter() - t0,
                "eval/reward_errors": s.errors, "eval/reward_timeouts": s.timeouts})
    logger.samples([
        {"step": step, "kind": "eval", "label": label, "problem_id": p.id, "question": p.question,
         "completion": s.responses[i], "reference": p.answer, "extracted": s.extracted[i],
         "reward": s.correct[i], "correct": s.correct[i] >= 1.0, "format_ok": s.formatted[i]}
        for i, p in enumerate(problems[:6])
    ])
    return s.accuracy if cfg.task.template == "plain" else s.strict_accuracy


def _write_report(run_dir: Path) -> None:
    try:
        from reasonrl.report import write_report
    except ImportError:
        return
    try:
        path = write_report(run_dir)
        print(f"report: {path}", file=sys.stderr)
    except Exception as e:  # a broken figure must not turn a finished run into a failed one
        print(f"reasonrl: report not written: {type(e).__name__}: {e}", file=sys.stderr)


def main(cfg: Config, resume: str | Path | None = None) -> dict:
    """Train with `cfg` (or continue the run in `resume`); returns the run summary."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    dist = init_dist()  # rank 0 of 1 unless started by a launcher (see distributed.py)
    if cfg.rollout.prompts_per_step < dist.world:
        raise ValueError(f"rollout.prompts_per_step={cfg.rollout.prompts_per_step} < {dist.world} processes; "
                         "every process needs at least one prompt per step")
    if cfg.rollout.seed_per_prompt is None:  # resolved now and saved, so a resume on any process count samples alike
        cfg.rollout.seed_per_prompt = dist.world > 1 or cfg.ray.num_rollout_workers > 0
    run_dir = Path(resume) if resume else Path(cfg.run_dir) if cfg.run_dir else default_run_dir(cfg)
    state, ckpt = None, None
    if resume:
        ckpt, state = load_trainer_state(run_dir)
        if dist.main:  # lines logged after that checkpoint are for steps that will run again
            rewind_logs(run_dir, state)
    cfg.run_dir = str(run_dir)
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, run_dir / "config.yaml")
    seed_everything(cfg.train.seed)

    splits = load_task(cfg.task)
    model, tok, model_path = build_model(cfg, ckpt)
    model.to(dist.device)
    bf16 = use_bf16(cfg)
    model, engine, optimizer, scheduler = parallel.setup(cfg, dist, model, tok, model_path, bf16)
    ref_model = None
    if cfg.algo.beta > 0:  # the frozen start policy; never loaded when beta == 0
        ref_model = load_model(cfg.model.path, cfg.model.dtype)[0].eval().requires_grad_(False).to(dist.device)
    cursor = Cursor(seed=cfg.train.seed, n=len(splits.train))
    step, elapsed, before = 0, 0.0, None
    if state is not None:
        parallel.load_optimizer_state(dist, model, optimizer, state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        cursor = Cursor(**state["cursor"])
        step, elapsed, before = state["step"], state["elapsed_s"], state.get("heldout_before")
        set_rng_state(state["rng"])
        print(f"reasonrl: resumed {run_dir} at step {step}", file=sys.stderr)

    logger = RunLogger(run_dir) if dist.main else NullLogger()
    runner = build_reward_runner(cfg)
    heldout = splits.heldout
    config_yaml = (run_dir / "config.yaml").read_text() if dist.main else ""

    def checkpoint() -> None:
        opt_state = parallel.optimizer_state(dist, model, optimizer)   # sharded: a gather every rank joins
        if not dist.main:  # every rank holds the same weights and state: one copy is written
            return
        save_checkpoint(run_dir, step, model=parallel.weights_to_save(dist, model, engine), tokenizer=tok,
                        config_yaml=config_yaml, keep=cfg.train.keep_checkpoints,
                        trainer_state={"optimizer": opt_state, "scheduler": scheduler.state_dict(),
                                       "cursor": vars(cursor), "step": step, "elapsed_s": elapsed,
                                       "rng": rng_state(), "heldout_before": before})

    stop, finished, halt = _StopRequest(), False, False
    try:
        if before is None and cfg.train.eval_before_after and dist.main:  # rank 0 evaluates; the others wait
            before = heldout_eval(cfg, engine, tok, heldout, runner, logger, step, "before")
            print(f"heldout accuracy before training: {before:.3f} ({len(heldout)} prompts)", file=sys.stderr)
        budget = cfg.train.max_minutes * 60 if cfg.train.max_minutes else math.inf
        bar = tqdm(total=cfg.train.max_steps, initial=step, desc="train", dynamic_ncols=True, disable=not dist.main)
        while step < cfg.train.max_steps and elapsed < budget and not halt:
            idx = cursor.take(cfg.rollout.prompts_per_step)  # the global batch: the same on every rank
            problems = [splits.train[i] for i in idx]
            seeds = sampling_seeds(cfg.train.seed, step, idx) if cfg.rollout.seed_per_prompt else None
            t0 = time.perf_counter()
            metrics, rows = train_step(cfg, model, engine, optimizer, scheduler, runner, tok, problems, bf16, ref_model,
                                       dist=dist, seeds=seeds)
            step += 1
            fault_point("after_optimizer_step")
            # every rank must leave the loop at the same step: the slowest rank's time, anyone's Ctrl-C
            dt, stopping = dist.max([time.perf_counter() - t0, float(stop.requested)])
            elapsed, halt = elapsed + dt, stopping > 0
            logger.log({"kind": "train", "step": step, "time_s": elapsed, **metrics, "mem/peak_rss_mb": peak_rss_mb(),
                        "mem/held_state_mb": parallel.held_state_mb(dist, model, optimizer)})
            if step % cfg.train.log_samples_every == 0:
                logger.samples([{"step": step, **r} for r in rows])
            fault_point("after_step_logged")
            if cfg.train.eval_every and step % cfg.train.eval_every == 0 and dist.main:
                heldout_eval(cfg, engine, tok, heldout[: cfg.train.eval_subset], runner, logger, step, "periodic")
            if step % cfg.train.save_every == 0:
                checkpoint()
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward/mean']:.2f}", acc=f"{metrics['acc/mean']:.2f}",
                            fmt=f"{metrics['format/rate']:.2f}", s_step=f"{metrics['time/step_s']:.1f}")
        bar.close()
        if halt:
            checkpoint()
            print(f"\nreasonrl: stopped at step {step}; checkpoint saved. Continue with: reasonrl train --resume {run_dir}",
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
            runner.close()
    checkpoint()
    if not dist.main:
        runner.close()
        dist.close()
        return {"steps": step, "rank": dist.rank}
    after = heldout_eval(cfg, engine, tok, heldout, runner, logger, step, "after") if cfg.train.eval_before_after else None
    train_lines = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in l]
    summary = {
        "heldout_before": before, "heldout_after": after, "heldout_n": len(heldout), "steps": step,
        "wall_s": elapsed, "s_per_step": elapsed / max(step, 1),
        "rollout_tokens_per_s": float(np.mean([l["rollout/tokens_per_s"] for l in train_lines])) if train_lines else None,
        "peak_rss_mb": peak_rss_mb(),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    logger.close()
    runner.close()
    dist.close()
    _write_report(run_dir)
    if before is not None and after is not None:
        kind = "" if cfg.task.template == "plain" else " (strict: right and inside <answer>)"
        print(f"heldout accuracy{kind}: before {before:.2f} -> after {after:.2f} ({len(heldout)} prompts)")
    return summary
