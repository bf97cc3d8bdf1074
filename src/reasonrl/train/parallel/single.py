"""`single`: one process, the whole model; `reasonrl train` without a launcher. The interface is in base.py."""
from __future__ import annotations

from reasonrl.train.parallel.base import Strategy


class Single(Strategy):
    """Everything in this process: no collective, nothing added to the update."""

    name = "single"
