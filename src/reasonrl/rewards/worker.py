"""Worker process main loop: `python -m reasonrl.rewards.worker` (started by `runner.Worker`).

Protocol on a private pipe (the real stdout is pointed at stderr so prints from reward functions
cannot corrupt it): each message is an 8-byte big-endian length then a pickle.
Request `(spec, args, kwargs, timeout_s)`; reply `("ok", value)`, `("error", "Type: message")` or
`("timeout", None)`. Functions run in this process's main thread, so signal-based limits work here.
It imports only `reasonrl.rewards` (never torch), so it starts in well under a second.
"""
from __future__ import annotations

import os
import sys

from reasonrl.rewards.runner import read_message, write_message


def main() -> int:
    in_fd, out_fd = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from reasonrl.rewards.check import VerifierTimeout, time_limit
    from reasonrl.rewards.registry import get_reward_fn
    cache = {}
    # Warm up (sympy import + LaTeX parser, ~1-4 s) right after the first reply, not before it: the
    # trainer's start-up check returns at once and the warm-up overlaps its first generation.
    # "before" (the off-thread verify worker, whose first call is a symbolic one) warms up at once.
    warm_when = os.environ.get("REASONRL_WORKER_WARM", "after")
    if warm_when == "before":
        from reasonrl.rewards.check import warm_up_sympy
        warm_up_sympy()
    warm_pending = warm_when == "after"
    while True:
        request = read_message(in_fd)
        if request is None:
            return 0
        spec, args, kwargs, timeout_s = request
        try:
            fn = cache.get(spec) or cache.setdefault(spec, get_reward_fn(spec))
            with time_limit(timeout_s):
                reply = ("ok", fn(*args, **kwargs))
        except VerifierTimeout:
            reply = ("timeout", None)
        except BaseException as exc:  # noqa: BLE001 - even sys.exit in a reward: reported, counted
            reply = ("error", f"{type(exc).__name__}: {str(exc)[:300]}")
        write_message(out_fd, reply)
        if warm_pending:
            from reasonrl.rewards.check import warm_up_sympy
            from reasonrl.rewards.verifiers import warm_up_gym
            warm_up_sympy()
            # gym rows are graded by reasoning-gym itself: its import must not count against a batch
            names = args[0] if spec.endswith(":check_reward_names") and args else [spec]
            warm_up_gym(names)
            warm_pending = False


if __name__ == "__main__":
    sys.exit(main())
