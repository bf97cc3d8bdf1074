"""Stopping a run cleanly on Ctrl-C or SIGTERM (a scheduler's pre-emption) without losing a step."""
from __future__ import annotations

import signal
import sys
import threading


class StopRequest:
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
