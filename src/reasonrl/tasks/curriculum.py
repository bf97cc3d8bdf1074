"""A difficulty curriculum: train on level 0 until the rolling train accuracy (or the logged metric `metric` names)
passes a threshold, then level 1...

    task:
      name: chain_sum
      kwargs: {min_terms: 3, max_terms: 3, min_digits: 1, max_digits: 1}   # the target: held out from here
      curriculum:
        levels: [{min_terms: 2, max_terms: 2, ...}, {min_terms: 3, max_terms: 3, ...}]
        threshold: 0.7    # the Reasoning Gym paper's level-up rule (arXiv:2505.24760)
        window: 8         # steps in the rolling accuracy

Each level is the same task with its own `kwargs`, generated with its own seed (task.seed + 1000 * level,
so problem ids differ across levels). The held-out problems stay the task's own (`task.kwargs`), and any
level's train question equal to a held-out one is dropped: no level trains on what is evaluated.
The accuracy is the step's `acc/mean` (the run's first accuracy-type reward, `eval.heldout.correctness`), unless
`metric` names another logged train metric: `reward/fn/arrow_steps`, the written hops of an arrows walk, moves up
once the work is written rather than once the answer is right, which a silent shortcut can earn (docs/r1zero-reasoning.md,
session 25).
A list of metrics reads each step's lowest: `[reward/fn/arrow_steps, format/rate]` moves up only on steps where the walk
is written AND the thinking closed (session 33: a seed wrote the walk without ever closing `</think>`, and the walk alone
moved it up at 2.7 minutes into a level that pays only a formatted answer).
Levels only go up; the last level is kept once reached. A control run (format-only or random reward)
has no accuracy to level up on: `schedule` gives it the real run's level-up steps, so it sees the same
problems in the same order and only the reward differs. Our own levels rather than reasoning-gym's
`create_curriculum`: those exist for a few tasks only and their attribute levels do not map onto the
kwargs (`min_terms`, `max_digits`) that our configs and held-out splits are written in.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from reasonrl.tasks.load import load_task
from reasonrl.tasks.problem import Problem, normalize_question

LEVEL_SEED_STRIDE = 1000


@dataclass
class Curriculum:
    """Train problems per level and the level-up rule; `observe` once per step."""

    levels: list[list[Problem]]
    threshold: float
    window: int
    schedule: list[int] | None = None   # fixed level-up steps instead of the accuracy rule (controls)
    level: int = 0
    recent: deque = field(default_factory=deque)

    @property
    def problems(self) -> list[Problem]:
        return self.levels[self.level]

    def observe(self, value: float | None, step: int = 0) -> bool:
        """Record one step's train accuracy, or the metric read instead (after step `step`); True when this moved the
        curriculum up a level.
        With a `schedule`, the level is the number of schedule steps reached, whatever the accuracy.

        >>> c = Curriculum(levels=[[], [], []], threshold=0.7, window=2)
        >>> [c.observe(a) for a in (0.9, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0)], c.level
        ([False, False, False, True, False, True, False], 2)
        """
        if self.schedule is not None:
            level = sum(step >= s for s in self.schedule)
            moved, self.level = level > self.level, max(self.level, level)
            return moved
        self.recent.append(value)
        while len(self.recent) > self.window:
            self.recent.popleft()
        full = len(self.recent) == self.window
        if full and sum(self.recent) / self.window >= self.threshold and self.level < len(self.levels) - 1:
            self.level += 1
            self.recent.clear()  # the new level's accuracy starts from its own steps
            return True
        return False

    def state(self) -> dict:
        return {"level": self.level, "recent": list(self.recent)}

    def load_state(self, state: dict | None) -> None:
        if state:
            self.level, self.recent = int(state["level"]), deque(state["recent"])


def _unhinted(p: Problem) -> str:
    """The question without a level's hint (nth_number's `hint`), so a hinted copy of a held-out row is dropped."""
    return normalize_question((p.meta or {}).get("base_question") or p.question)


def build_curriculum(task_cfg, heldout: list[Problem]) -> Curriculum:
    """Generate every level's train problems (task_cfg.num_train each), none of them a held-out question."""
    cc = task_cfg.curriculum
    held = {_unhinted(p) for p in heldout}
    levels = []
    for i, kwargs in enumerate(cc.levels):
        level_cfg = task_cfg.model_copy(update={"kwargs": kwargs, "curriculum": None,
                                                "seed": task_cfg.seed + LEVEL_SEED_STRIDE * (i + 1), "num_heldout": 1})
        splits = load_task(level_cfg)
        train = [p for p in splits.train + splits.heldout if _unhinted(p) not in held]
        if not train:
            raise ValueError(f"task.curriculum.levels[{i}] {kwargs}: every question is held out; widen it")
        levels.append(train)
    return Curriculum(levels=levels, threshold=cc.threshold, window=cc.window, schedule=cc.schedule)
