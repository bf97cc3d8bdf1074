"""The order training visits its problems in, shared by RL (train/loop.py) and SFT (distill/): epoch by
epoch, each epoch a fresh order seeded by (seed, epoch), so a resumed run draws what an uninterrupted one does.

>>> c = Cursor(seed=0, n=3)
>>> sorted(c.take(3)), c.epoch, c.pos
([0, 1, 2], 0, 3)
>>> len(c.take(2)), c.epoch
(2, 1)
"""
from __future__ import annotations

import random
from dataclasses import dataclass


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
