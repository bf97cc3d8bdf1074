"""Fault injection for the reliability tests: `fault_point(name)` does nothing unless REASONRL_FAULT asks.

    REASONRL_FAULT=after_optimizer_step:3 reasonrl train ...          # SIGKILL itself at the 3rd optimizer step
    REASONRL_FAULT=checkpoint_files_written:2:enospc reasonrl train ... # the 2nd checkpoint write hits a full disk

The value is `point:n[:action]`: the n-th time (counted from 1, per process) this process reaches `point`,
`action` runs (default `kill`). Points named in the code: after_optimizer_step, after_step_logged,
checkpoint_files_written, checkpoint_renamed (train/loop.py, train/checkpoint.py). tests/faults/ uses them;
a run without the variable pays one dict lookup per point.
"""
from __future__ import annotations

import errno
import os
import signal

_counts: dict[str, int] = {}


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit, no flush: what a power cut or OOM kill does


def _kill_parent() -> None:
    os.kill(os.getppid(), signal.SIGKILL)  # from the reward worker: the trainer dies while it waits on us


def _enospc() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


ACTIONS = {"kill": _kill, "kill_parent": _kill_parent, "enospc": _enospc}


def parse(spec: str) -> tuple[str, int, str]:
    """'after_optimizer_step:3' -> ('after_optimizer_step', 3, 'kill'); one-line ValueError if malformed."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ValueError(f"REASONRL_FAULT={spec!r}: expected point:n[:action] with n >= 1")
    action = parts[2] if len(parts) == 3 else "kill"
    if action not in ACTIONS:
        raise ValueError(f"REASONRL_FAULT={spec!r}: unknown action {action!r}; valid: {', '.join(ACTIONS)}")
    return parts[0], int(parts[1]), action


def fault_point(name: str) -> None:
    spec = os.environ.get("REASONRL_FAULT")
    if not spec:
        return
    point, n, action = parse(spec)
    if point != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == n:
        ACTIONS[action]()
