"""Reward functions on a pool of Ray actors, for clusters: a step's completions are split across the actors
(code-execution rewards included), each scoring its chunk with its own `RewardRunner`.

    reasonrl train --ray-address auto ...                 # the cluster `ray start --head` made
    reasonrl train --ray-address local ray.num_cpus=2 ... # a Ray instance on this machine

The contract is RewardRunner's: same `RewardResult`, and a reward that raises or hangs scores 0 and is
counted, because each actor runs the functions in its own reward subprocess (signal time limits work there,
a hang in C code is killed). An actor that dies or stops answering is replaced; its chunk scores 0 and
counts as errors / timeouts. Counts are per (function, chunk) call: a function that raises on every
chunk counts once per actor. Reward modules must be importable on the Ray workers (same install, or a
runtime_env). Each actor reserves `ray.cpus_per_worker` CPUs.
"""
from __future__ import annotations

import os

from reasonrl.rewards.runner import _GRACE_S, _START_ALLOWANCE_S, RewardResult, RewardRunner, concat_results, weighted_total


class _RewardActor:
    """Lives in a Ray worker process; holds one RewardRunner (and so one reward subprocess)."""

    def __init__(self, funcs: list[str], weights: list[float] | None, timeout_s: float) -> None:
        self.runner = RewardRunner(funcs, weights, timeout_s)

    def pid(self) -> int:
        return os.getpid()

    def score(self, completions: list[str], columns: dict) -> RewardResult:
        return self.runner(completions, **columns)

    def close(self) -> None:
        self.runner.close()


def connect_ray(address: str | None, num_cpus: int | None = None):
    """The `ray` module, connected: to `address` ('auto', 'ray://head:10001'), or a new local instance for
    'local'/None; an already initialised Ray (a test's, a user script's) is used as it is.
    Returns (ray, whether this call started it)."""
    try:
        import ray
    except ImportError:
        raise SystemExit("reasonrl: ray.address is set but Ray is not installed: pip install 'reasonrl[ray]'") from None
    if ray.is_initialized():
        return ray, False
    local = address in (None, "local")
    ray.init(address=None if local else address, num_cpus=num_cpus if local else None, include_dashboard=False)
    return ray, True


class RayRewardPool:
    """`RewardRunner`'s interface (`pool(completions, **columns) -> RewardResult`, `close()`) over Ray actors."""

    def __init__(self, funcs: list[str], weights: list[float] | None = None, timeout_s: float = 10.0, *,
                 num_workers: int = 2, address: str | None = "local", num_cpus: int | None = None,
                 cpus_per_worker: float = 1.0) -> None:
        ray, self.owns_ray = connect_ray(address, num_cpus)
        self.ray = ray
        self.args = (list(funcs), weights, timeout_s)
        self.weights = list(weights) if weights is not None else [1.0] * len(funcs)
        self.wait_s = len(funcs) * (timeout_s + _GRACE_S) + _START_ALLOWANCE_S  # past this, the actor is stuck
        self._cls = ray.remote(num_cpus=cpus_per_worker)(_RewardActor)
        self.actors = [self._start() for _ in range(num_workers)]
        try:  # the names are resolved in each actor's constructor: a typo fails here, in one line
            self.pids = ray.get([a.pid.remote() for a in self.actors])
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise ValueError(f"reward pool: {str(exc).strip().splitlines()[-1]}") from None

    def _start(self):
        return self._cls.remote(*self.args)

    def __call__(self, completions: list[str], **columns) -> RewardResult:
        n, k = len(completions), min(len(self.actors), max(len(completions), 1))
        bounds = [(n * i // k, n * (i + 1) // k) for i in range(k)]
        cut = lambda lo, hi: {c: v[lo:hi] if isinstance(v, list) and len(v) == n else v for c, v in columns.items()}  # noqa: E731
        refs = [a.score.remote(completions[lo:hi], cut(lo, hi)) for a, (lo, hi) in zip(self.actors, bounds)]
        result = concat_results([self._result(i, ref, hi - lo) for i, (ref, (lo, hi)) in enumerate(zip(refs, bounds))])
        result.total = weighted_total(result.per_func, self.args[0], self.weights)   # weights may change per level
        return result

    def _result(self, i: int, ref, n: int) -> RewardResult:
        ray, funcs = self.ray, self.args[0]
        zeros = RewardResult(total=[0.0] * n, per_func={f: [0.0] * n for f in funcs})
        try:
            return ray.get(ref, timeout=self.wait_s)
        except ray.exceptions.GetTimeoutError:
            zeros.timeouts = len(funcs)
        except ray.exceptions.RayError:  # the actor died (node lost, OOM): score 0, count, carry on
            zeros.errors = len(funcs)
        ray.kill(self.actors[i])
        self.actors[i] = self._start()
        return zeros

    def close(self) -> None:
        ray = self.ray
        try:
            ray.get([a.close.remote() for a in self.actors], timeout=10)
        except ray.exceptions.RayError:
            pass  # already gone: nothing left to close
        for a in self.actors:
            ray.kill(a)
        self.actors = []
        if self.owns_ray:
            ray.shutdown()

    def __enter__(self) -> "RayRewardPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
