"""`load_task(cfg.task)`: task name → source → (train, held-out) split.

    from reasonrl.config.schema import TaskConfig
    splits = load_task(TaskConfig(name="chain_sum", num_train=100, num_heldout=20))

Sources: a reasoning-gym dataset name, 'zh_arithmetic', 'nth_number', 'arrows', or a .jsonl/.parquet path. Each declares who grades
its problems (`Problem.verifier`): reasoning-gym its own `score_answer` (gym:<name>), zh_arithmetic, nth_number and arrows `math`,
files a row's `verifier` column or `math`; `task.verifier` overrides the source (files: rows without one). Every source gives
a deterministic order (generators: by seed; files: shuffled by seed), and `split_stream` takes the
held-out problems first, then train problems whose question is not held out.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from reasonrl.tasks import arrows, nth_number, zh_arithmetic
from reasonrl.tasks.file_source import is_file_task, read_problem_file
from reasonrl.tasks.gym_source import check_gym_name, iter_gym
from reasonrl.tasks.problem import Problem
from reasonrl.tasks.prompts import think_prefix_of
from reasonrl.tasks.splits import TaskSplits, split_stream


# What `task.kwargs: null` means per task: settings where SmolLM2-135M-Instruct is right some of the
# time (greedy, plain template: 0.35 on chain_sum below), so GRPO groups have reward variance from step 1.
EASY_PRESETS: dict[str, dict] = {
    "chain_sum": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1},
    "basic_arithmetic": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1},
}


def with_verifier(stream: Iterator[Problem], spec: str, name: str) -> Iterator[Problem]:
    """The problems graded by `spec` (task.verifier) instead of their source's own verifier."""
    if spec == "code":
        raise ValueError(f"task.verifier 'code' needs per-row tests: only JSONL/Parquet rows carry them, not {name!r}")
    if spec.startswith("gym:"):
        check_gym_name(spec[len("gym:"):])
        if name in (zh_arithmetic.NAME, nth_number.NAME, arrows.NAME):
            raise ValueError(f"task.verifier {spec!r} needs reasoning-gym entries; {name!r} has none")
    for p in stream:
        yield dataclasses.replace(p, verifier=spec)


def _pool_size(num_train: int, num_heldout: int) -> int:
    # Slack for train questions dropped as held-out duplicates; lazy generators never build the unused rest.
    return num_heldout + 2 * num_train + 100


def load_task(cfg) -> TaskSplits:
    """Train and held-out problems for a TaskConfig (only its task fields are read).

    >>> from reasonrl.config.schema import TaskConfig
    >>> s = load_task(TaskConfig(name="zh_arithmetic", num_train=5, num_heldout=3, seed=1))
    >>> len(s.train), len(s.heldout), s.heldout[0].id, s.bad_rows
    (5, 3, 'zh_arithmetic:1:0', 0)
    """
    name, seed = cfg.name, cfg.seed
    kwargs = cfg.kwargs if cfg.kwargs is not None else EASY_PRESETS.get(name, {})
    bad = 0
    if is_file_task(name):
        problems, bad = read_problem_file(name, cfg.question_key, cfg.answer_key, cfg.skip_bad_rows, cfg.verifier)
        if len(problems) < cfg.num_heldout:
            raise ValueError(f"{name}: {len(problems)} usable rows, fewer than num_heldout={cfg.num_heldout}")
        random.Random(seed).shuffle(problems)
        stream = iter(problems)
    elif name == zh_arithmetic.NAME:
        stream = zh_arithmetic.iter_zh_arithmetic(_pool_size(cfg.num_train, cfg.num_heldout), seed, kwargs)
    elif name == nth_number.NAME:
        stream = nth_number.iter_nth_number(_pool_size(cfg.num_train, cfg.num_heldout), seed, kwargs)
    elif name == arrows.NAME:
        stream = arrows.iter_arrows(_pool_size(cfg.num_train, cfg.num_heldout), seed, kwargs)
    else:
        check_gym_name(name)
        stream = iter_gym(name, _pool_size(cfg.num_train, cfg.num_heldout), seed, kwargs)
    if cfg.verifier is not None and not is_file_task(name):
        stream = with_verifier(stream, cfg.verifier, name)
    train, heldout, dropped = split_stream(stream, cfg.num_train, cfg.num_heldout)
    if len(heldout) < cfg.num_heldout:
        raise ValueError(f"{name}: only {len(heldout)} distinct questions for task.num_heldout={cfg.num_heldout}; "
                         "lower it or widen task.kwargs")
    for p in (*train, *heldout):   # a think_prefix some problem cannot fill fails here, before any model loads
        think_prefix_of(p, getattr(cfg, "think_prefix", None))
    return TaskSplits(train=train, heldout=heldout, bad_rows=bad,
                      info={"heldout_duplicates_dropped": dropped, "short_train": len(train) < cfg.num_train})
