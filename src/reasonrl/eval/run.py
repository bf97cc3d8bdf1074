"""One evaluation, end to end: which problems (the run's own held-out split when given a run dir), which
model, k samples each in chunks under a progress bar, scored by `heldout.generate_and_score` (the path
training's own evals take), then the result dict that `results.write_result` saves.
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from reasonrl.config import Config, load_config
from reasonrl.eval.heldout import generate_and_score
from reasonrl.eval.results import SCHEMA, records_from_scored, summarize, summarize_by_lang
from reasonrl.rollout.base import SamplingParams
from reasonrl.tasks import Problem, check_no_overlap, load_task

SWEEP_SCHEMA = "reasonrl.eval-sweep/1"
REWARD_TIMEOUT_S = 60.0  # per chunk of problems*k completions; a timeout would score the whole chunk 0


@dataclass
class EvalSettings:
    """How to sample and score; every field maps to one `reasonrl eval` flag."""

    k: int = 8                       # samples per problem
    greedy: bool = False             # one deterministic sample (temperature 0), k must be 1
    temperature: float = 0.6         # DeepSeek-R1's evaluation setting
    top_p: float = 0.95              # DeepSeek-R1's evaluation setting
    max_new_tokens: int | None = None  # None = the config's eval cap (train.eval_max_new_tokens or rollout's)
    split: str = "heldout"           # 'heldout' or 'train'
    limit: int | None = None         # first N problems of the split
    seed: int = 0                    # sampling seed (torch is seeded before generating)
    lenient: bool | None = None      # None = lenient only for the plain template, as in training
    chunk: int = 8                   # problems per generate call (the progress bar's step)
    reward_timeout_s: float = REWARD_TIMEOUT_S
    think_budget: int | None = None  # cut the thinking at N tokens and force </think> (0 = empty); None = off


def is_run_dir(spec: str | Path | None) -> bool:
    """A training run directory: its resolved config.yaml and a checkpoints folder."""
    return spec is not None and (Path(spec) / "config.yaml").is_file() and (Path(spec) / "checkpoints").is_dir()


def resolve_config(model_spec: str | None, task: str | None, config_path: str | None,
                   overrides: list[str]) -> Config:
    """The config the eval reads its task (and generation caps) from.

    A run dir whose task is the one asked for (or none is asked for) gives its own config.yaml: same
    seed and kwargs, hence the very held-out split that training held out. Otherwise `config_path`
    (or the defaults) with `task.name=task`. `overrides` are `task.*=value` strings applied last.
    """
    bad = [o for o in overrides if not o.startswith("task.")]
    if bad:
        raise ValueError(f"eval takes only task.* overrides, got {bad[0]!r}; sampling has its own flags")
    base = config_path
    if base is None and is_run_dir(model_spec):
        run_cfg = load_config(Path(model_spec) / "config.yaml")
        if task is None or task == run_cfg.task.name:
            base = str(Path(model_spec) / "config.yaml")
    if base is None and task is None:
        raise ValueError("no task: give --task NAME_OR_FILE (or --model a run dir, whose task is used)")
    return load_config(base, ([f"task.name={task}"] if task else []) + list(overrides))


def select_problems(cfg: Config, split: str, limit: int | None) -> list[Problem]:
    """The split's problems (the first `limit`); held-out ones never overlap the config's train split."""
    if split not in ("heldout", "train"):
        raise ValueError(f"split {split!r}; valid: heldout, train")
    splits = load_task(cfg.task)
    check_no_overlap(splits.train, splits.heldout)  # by construction; checked so a regression cannot pass silently
    problems = splits.heldout if split == "heldout" else splits.train
    return problems[:limit] if limit else problems


def check_against_run(model_spec: str | None, cfg: Config, problems: list[Problem], split: str) -> None:
    """A run's checkpoint evaluated on held-out problems must not have trained on any of them, even when
    the eval's task settings differ from the run's (another seed or kwargs draw other questions)."""
    if split != "heldout" or not is_run_dir(model_spec):
        return
    run_task = load_config(Path(model_spec) / "config.yaml").task
    if run_task.name != cfg.task.name:
        return  # another task altogether: nothing of it was trained on
    if run_task.model_dump() == cfg.task.model_dump():
        return  # the run's own split, already checked in select_problems
    check_no_overlap(load_task(run_task).train, problems)
    if run_task.curriculum is not None:  # every level trained too
        from reasonrl.tasks.curriculum import build_curriculum

        for level in build_curriculum(run_task, []).levels:
            check_no_overlap(level, problems)


class CountingRunner:
    """Wraps a RewardRunner to keep the errors and timeouts that `Scored` does not carry."""

    def __init__(self, runner) -> None:
        self.runner, self.errors, self.timeouts = runner, 0, 0

    def __call__(self, completions, **columns):
        result = self.runner(completions, **columns)
        self.errors += result.errors
        self.timeouts += result.timeouts
        return result


def sampling_params(cfg: Config, s: EvalSettings) -> SamplingParams:
    max_new = s.max_new_tokens or cfg.train.eval_max_new_tokens or cfg.rollout.max_new_tokens
    if s.greedy:
        if s.k != 1:
            raise ValueError(f"--greedy gives one deterministic sample per problem; drop --k {s.k}")
        return SamplingParams(n=1, max_new_tokens=max_new, temperature=0.0, top_p=1.0, stop=cfg.rollout.stop)
    if s.temperature <= 0:
        raise ValueError(f"temperature {s.temperature}: must be > 0 when sampling; use --greedy for greedy")
    return SamplingParams(n=s.k, max_new_tokens=max_new, temperature=s.temperature, top_p=s.top_p, stop=cfg.rollout.stop)


def check_think_budget(cfg: Config, budget: int | None) -> None:
    """A think budget needs a template whose reply thinks inside <think> tags."""
    if budget is None:
        return
    if budget < 0:
        raise ValueError(f"--think-budget {budget}: must be >= 0")
    if cfg.task.template == "plain":
        raise ValueError("--think-budget needs a template with <think> tags (chat_think, chat, r1zero); "
                         "the task's template is plain: add --template chat_think")


def load_engine(model_spec: str | None, cfg: Config, threads: int | None = None):
    """(engine, tokenizer, resolved path): loaded once, shared by every budget of a sweep."""
    import torch

    from reasonrl.model import load_model
    from reasonrl.rollout.hf import HFEngine

    if threads:
        torch.set_num_threads(threads)
    model, tok, path = load_model(model_spec, cfg.model.dtype)
    return HFEngine(model, tok), tok, path


def evaluate(model_spec: str | None, cfg: Config, s: EvalSettings, *, threads: int | None = None,
             loaded: tuple | None = None) -> dict:
    """Load the model (or take `loaded` from `load_engine`), sample and score every problem;
    returns {schema, meta, metrics, by_lang, problems}."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from reasonrl.rewards import RewardRunner

    check_think_budget(cfg, s.think_budget)
    params = sampling_params(cfg, s)
    problems = select_problems(cfg, s.split, s.limit)
    check_against_run(model_spec, cfg, problems, s.split)
    lenient = s.lenient if s.lenient is not None else (
        cfg.reward.lenient if cfg.reward.lenient is not None else cfg.task.template == "plain")
    t0 = time.perf_counter()
    engine, tok, path = loaded or load_engine(model_spec, cfg, threads)
    # Seeded right before the first generate: same seed, same model, same chunking -> same samples.
    random.seed(s.seed)
    np.random.seed(s.seed)
    torch.manual_seed(s.seed)
    records, gen_s, forced, think = [], 0.0, [], []
    with RewardRunner(["accuracy"], timeout_s=s.reward_timeout_s) as base_runner:
        runner = CountingRunner(base_runner)
        bar = tqdm(total=len(problems), desc="eval", unit="problem", dynamic_ncols=True, file=sys.stderr)
        for i in range(0, len(problems), s.chunk):
            scored = generate_and_score(engine, tok, problems[i:i + s.chunk], params, template=cfg.task.template,
                                        lang=cfg.task.lang, lenient=lenient, runner=runner,
                                        think_budget=s.think_budget, think_prefix=cfg.task.think_prefix)
            records += records_from_scored(scored)
            gen_s += scored.rollouts.seconds
            forced += scored.forced or []
            think += scored.think_tokens or []
            bar.update(len(scored.problems))
        bar.close()
    if runner.errors or runner.timeouts:
        print(f"reasonrl eval: WARNING {runner.errors} reward errors and {runner.timeouts} timeouts: those chunks "
              f"scored 0; raise --reward-timeout and rerun", file=sys.stderr)
    meta = {
        "model": str(model_spec) if model_spec else "default", "model_path": str(path),
        "task": cfg.task.model_dump(mode="json"), "split": s.split, "limit": s.limit, "k": params.n,
        "greedy": s.greedy, "temperature": params.temperature, "top_p": params.top_p,
        "max_new_tokens": params.max_new_tokens, "stop": list(params.stop), "template": cfg.task.template,
        "lang": cfg.task.lang, "lenient": lenient, "seed": s.seed, "chunk": s.chunk, "reward_funcs": ["accuracy"],
        "reward_errors": runner.errors, "reward_timeouts": runner.timeouts, "think_budget": s.think_budget,
        "wall_s": time.perf_counter() - t0, "generate_s": gen_s, "threads": torch.get_num_threads(),
    }
    metrics = summarize(records)
    if s.think_budget is not None:
        metrics.update(forced_rate=sum(forced) / len(forced), think_tokens_mean=sum(think) / len(think))
    return {"schema": SCHEMA, "meta": meta, "metrics": metrics, "by_lang": summarize_by_lang(records),
            "problems": records}


def evaluate_sweep(model_spec: str | None, cfg: Config, s: EvalSettings, budgets: list[int], *,
                   threads: int | None = None) -> dict:
    """One eval per think budget, then one with the thinking unlimited (budget None), same problems and
    seed: does accuracy depend on the thinking? Returns {schema, budgets, results}."""
    for b in budgets:
        check_think_budget(cfg, b)
    loaded = load_engine(model_spec, cfg, threads)
    runs = [*budgets, None]
    results = [evaluate(model_spec, cfg, replace(s, think_budget=b), loaded=loaded) for b in runs]
    return {"schema": SWEEP_SCHEMA, "budgets": runs, "results": results}


def sweep_markdown(sweep: dict) -> str:
    """One row per budget: strict accuracy, accuracy in any tag, format, thinking tokens, forced share."""
    meta = sweep["results"][0]["meta"]
    lines = [f"**{meta['model']}** on **{meta['task']['name']}**, think-budget sweep "
             f"({sweep['results'][0]['metrics']['n_problems']} problems, k={meta['k']}, "
             f"{'greedy' if meta['greedy'] else 'T=' + str(meta['temperature'])}, max_new_tokens={meta['max_new_tokens']})",
             "", "| think budget | strict | pass@1 | format | think tokens | forced |", "|---|---|---|---|---|---|"]
    for b, r in zip(sweep["budgets"], sweep["results"]):
        m = r["metrics"]
        think = f"{m['think_tokens_mean']:.1f}" if b is not None else "-"
        forced = f"{m['forced_rate']:.2f}" if b is not None else "-"
        lines.append(f"| {'full' if b is None else b} | {m['strict_rate']:.3f} | {m['pass@1']:.3f} | "
                     f"{m['format_rate']:.3f} | {think} | {forced} |")
    return "\n".join(lines) + "\n"


def default_out(model_spec: str | None, cfg: Config, s: EvalSettings) -> Path:
    """RUN_DIR/eval/<task>-<split>-k<k>.json for a run dir, else ./eval-<model>-<task>-<split>-k<k>.json."""
    name = cfg.task.name
    task = Path(name).stem if name.endswith((".jsonl", ".parquet")) else name
    stem = f"{task}-{s.split}-" + ("greedy" if s.greedy else f"k{s.k}")
    if s.limit:
        stem += f"-n{s.limit}"
    if s.think_budget is not None:
        stem += f"-think{s.think_budget}"
    if is_run_dir(model_spec):
        return Path(model_spec) / "eval" / f"{stem}.json"
    model = Path(model_spec).name if model_spec else "default"
    return Path(f"eval-{model}-{stem}.json")
