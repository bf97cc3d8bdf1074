"""Run reward functions in a persistent worker process, so nothing they do can hurt the trainer.

Why a process: math-verify's and our own time limits use signals, which work only in a main
thread; a reward function that hangs in C code or raises must cost the trainer one batch of zeros,
not the run. The worker is a plain `python -m reasonrl.rewards.worker` subprocess (not
multiprocessing spawn, which would re-import the trainer's `__main__` and with it torch), so it
starts in ~0.3 s plus sympy's import the first time a symbolic answer shows up.

    with RewardRunner(["accuracy", "format_partial"], [1.0, 0.5], timeout_s=10) as run:
        result = run(completions, answer=answers, task=tasks)
        result.total, result.per_func, result.errors, result.timeouts
"""
from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field


_GRACE_S = 1.0  # the worker enforces the limit itself; the parent kills only if that fails
_START_ALLOWANCE_S = 30.0  # a fresh worker's imports, on a loaded 2-core machine


# Protocol, shared with worker.py: an 8-byte big-endian length, then a pickle (both ends are our code).
def read_message(fd: int):
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    return pickle.loads(_read_exactly(fd, struct.unpack(">Q", header)[0]) or b"")


def write_message(fd: int, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack(">Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)



class WorkerTimeout(Exception):
    """The worker did not answer within its limit and was killed."""


class Worker:
    """One persistent subprocess that calls `module:function` (or a REWARDS name) on request."""

    def __init__(self, warm: str = "after") -> None:
        self.proc: subprocess.Popen | None = None
        self.warm = warm
        self.calls_since_start = 0

    def _start(self) -> subprocess.Popen:
        # warm="after": the worker imports sympy/math-verify right after its first reply (~1-4 s, once
        # per start), so no answer's time limit pays for the import; "before": ahead of any reply; "no".
        env = dict(os.environ, PYTHONUNBUFFERED="1", REASONRL_WORKER_WARM=self.warm)
        self.calls_since_start = 0
        return subprocess.Popen([sys.executable, "-m", "reasonrl.rewards.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env, start_new_session=True)

    def call(self, spec: str, args: tuple, kwargs: dict, timeout_s: float):
        """Return the function's value; raise WorkerTimeout, or RuntimeError('Type: message') if it raised."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        try:
            write_message(self.proc.stdin.fileno(), (spec, args, kwargs, timeout_s))
            # The first call waits for the imports, the second may wait for the warm-up.
            starting = self.calls_since_start < 2
            self.calls_since_start += 1
            reply = self._read(timeout_s + _GRACE_S + (_START_ALLOWANCE_S if starting else 0.0))
        except (BrokenPipeError, EOFError, OSError) as exc:
            self.kill()
            raise RuntimeError(f"reward worker died: {type(exc).__name__}") from None
        status, value = reply
        if status == "timeout":
            raise WorkerTimeout(spec)
        if status == "error":
            raise RuntimeError(value)
        return value

    def _read(self, wait_s: float):
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], wait_s)
        if not ready:  # stuck where its own alarm cannot reach (C code): kill and restart next call
            self.kill()
            raise WorkerTimeout("killed")
        reply = read_message(fd)
        if reply is None:
            self.kill()
            raise EOFError("worker exited")
        return reply

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@dataclass
class RewardResult:
    """Weighted total per completion, each function's scores, and how many calls failed."""
    total: list[float]
    per_func: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    timeouts: int = 0


def weighted_total(per_func: dict[str, list[float]], funcs: list[str], weights: list[float]) -> list[float]:
    """Each completion's reward: the weighted sum of its functions' scores.

    >>> weighted_total({"a": [1.0, 0.0], "b": [0.5, 1.0]}, ["a", "b"], [1.0, 2.0])
    [2.0, 2.0]
    """
    n = len(per_func[funcs[0]]) if funcs else 0
    return [sum(w * per_func[f][i] for f, w in zip(funcs, weights)) for i in range(n)]


def concat_results(parts: list[RewardResult]) -> RewardResult:
    """Results of consecutive chunks of one batch, as one result (failure counts add up)."""
    cat = lambda xs: [x for part in xs for x in part]  # noqa: E731
    return RewardResult(total=cat(r.total for r in parts),
                        per_func={k: cat(r.per_func[k] for r in parts) for k in parts[0].per_func},
                        errors=sum(r.errors for r in parts), timeouts=sum(r.timeouts for r in parts))


class RewardRunner:
    """Call reward functions by name in a worker process; errors and timeouts score 0 and are counted.
    `weights` may be replaced between calls (a curriculum level's own weights: train/loop.py)."""

    def __init__(self, funcs: list[str], weights: list[float] | None = None, timeout_s: float = 10.0) -> None:
        if not funcs:
            raise ValueError("RewardRunner: funcs is empty; give at least one reward name")
        if weights is not None and len(weights) != len(funcs):
            raise ValueError(f"RewardRunner: {len(weights)} weights for {len(funcs)} funcs; give one per func")
        if timeout_s <= 0:
            raise ValueError(f"RewardRunner: timeout_s={timeout_s}; must be > 0")
        self.funcs, self.timeout_s = list(funcs), timeout_s
        self.weights = list(weights) if weights is not None else [1.0] * len(funcs)
        self.worker = Worker()
        # Resolve every name now, in the worker, so a typo fails at start-up with the valid names.
        try:
            self.worker.call("reasonrl.rewards.registry:check_reward_names", (self.funcs,), {}, 30.0)
        except RuntimeError as exc:
            self.close()
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    def __call__(self, completions: list[str], **columns) -> RewardResult:
        per_func, errors, timeouts = {}, 0, 0
        for name in self.funcs:
            scores = [0.0] * len(completions)
            try:
                values = self.worker.call(name, (list(completions),), columns, self.timeout_s)
                if len(values) != len(completions):
                    raise RuntimeError(f"{name} returned {len(values)} scores for {len(completions)} completions")
                scores = [0.0 if v is None else float(v) for v in values]
            except WorkerTimeout:
                timeouts += 1
            except RuntimeError:
                errors += 1
            per_func[name] = scores
        return RewardResult(total=weighted_total(per_func, self.funcs, self.weights), per_func=per_func, errors=errors, timeouts=timeouts)

    def close(self) -> None:
        self.worker.close()

    def __enter__(self) -> "RewardRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.worker.kill()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down modules
            pass


def measure_start_s() -> float:
    """Seconds from nothing to a worker answering its first call (for docs and tests)."""
    start, worker = time.monotonic(), Worker()
    worker.call("reasonrl.rewards.registry:check_reward_names", (["accuracy"],), {}, 30.0)
    elapsed = time.monotonic() - start
    worker.kill()
    return elapsed
