"""Decode-time Linear layers: per batch size, the matmul layout this CPU's BLAS runs fastest.

Decoding multiplies a skinny batch (one row per active sample, M <= 64) by every weight. The same product
has three spellings, and the CPU BLAS picks a different kernel for each, whose speed depends on the CPU and
on M far more than on the arithmetic:
- `linear`       F.linear(x, W): what the trainer's forward runs;
- `transposed`   x @ Wt with a contiguous [in, out] copy Wt, refreshed per rollout (one model's worth of RAM);
- `weight_major` (W @ x.T).T: the weight's own layout as the long side of the product, no copy.
Measured over all of SmolLM2-135M's linears, weights read from RAM (2 threads):
- Intel Xeon (AVX-512): `transposed` 2-4x faster than `linear` at M=16 (1536x576 0.9 -> 0.27 ms);
- AMD EPYC (AVX2): `transposed` 81 ms at M=4, `weight_major` 33 ms, but `transposed` wins at M=1 (43 vs 51).
So `layout="auto"` times each layout once per row count on the model's own weights (`tune`, a few seconds at
the first rollout) and decodes each step with that row count's winner; copies exist only if some row count
chose `transposed`. The three give the same float32 values up to summation order: rollouts sample the trained
policy (tests/rollout/test_fastlinear.py). Storing the trainer's weights transposed instead made its backward
~25% slower (gradients come out [out, in]), so the rollout gets its own copy.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import torch
import torch.nn.functional as F

LAYOUTS = ("transposed", "weight_major", "linear")
TUNE_ROWS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # row counts timed; a count between two uses the next one up
# a copy costs one strided read of every weight per rollout: `transposed` must beat the no-copy layouts by this
COPY_MARGIN = 0.9


def _bucket(m: int) -> int:
    return next((r for r in TUNE_ROWS if r >= m), 0)  # 0 = larger than any tuned count (a prefill)


class DecodeLinears:
    """The float32 CPU `nn.Linear`s of `model`, re-routed inside `active()` to the layout chosen per row count.

    layout: one of LAYOUTS for every row count, or "auto" (tuned at the first `active()`). Prefill-sized
    inputs (more rows than TUNE_ROWS covers) always use `linear`.
    """

    def __init__(self, model: torch.nn.Module, *, layout: str = "auto", keep_between: bool = False):
        if layout != "auto" and layout not in LAYOUTS:
            raise ValueError(f"unknown decode layout {layout!r}; valid: auto, {', '.join(LAYOUTS)}")
        self.model = model
        self.layout = layout
        # keep_between=False frees the copies when the block ends: a trainer's update then runs without them
        # resident (513 MB for SmolLM2-135M); the next refresh re-copies every weight anyway
        self.keep_between = keep_between
        self.choice: dict[int, str] = {} if layout == "auto" else {r: layout for r in TUNE_ROWS}
        self.tune_seconds = 0.0
        self._buf: dict[torch.nn.Linear, torch.Tensor] = {}
        self.copied = 0  # weights copied by the last refresh

    def _linears(self):
        for m in self.model.modules():
            if type(m) is torch.nn.Linear and m.weight.dtype == torch.float32 and m.weight.device.type == "cpu":
                yield m

    def needs_copies(self) -> bool:
        return not self.choice or "transposed" in self.choice.values()

    @torch.no_grad()
    def refresh(self, force: bool = False) -> None:
        """Copy the current weights in (only if some row count uses them, or `force`); tied weights once."""
        self.copied = 0
        if not (force or self.needs_copies()):
            self._buf.clear()
            return
        by_weight: dict[int, torch.Tensor] = {}
        for m in self._linears():
            w = m.weight
            if id(w) in by_weight:
                self._buf[m] = by_weight[id(w)]
                continue
            # Every weight is re-copied each time. Neither `_version` (fused AdamW updates in place without
            # bumping it: a version check served stale weights to every rollout) nor requires_grad (an
            # inference engine's frozen weights still receive load_state_dict syncs) says reliably "unchanged".
            buf = self._buf.get(m)
            if buf is None or buf.shape != (m.in_features, m.out_features):
                buf = torch.empty(m.in_features, m.out_features)
            for s in range(0, w.shape[0], 256):  # blocked: a cache-sized slab at a time, ~1.4x a whole-matrix copy
                buf[:, s : s + 256].copy_(w[s : s + 256].t())
            self._buf[m] = by_weight[id(w)] = buf
            self.copied += 1

    @torch.no_grad()
    def tune(self, max_rows: int = 16, rounds: int = 2) -> dict[int, str]:
        """Time one pass over every linear per (row count <= max_rows, layout) on the real weights, interleaved
        `rounds` times (min kept), and record each count's fastest. Needs the copies (`refresh` first)."""
        t0 = time.perf_counter()
        mods = list(self._buf) or list(self._linears())
        rows = [r for r in TUNE_ROWS if r <= max(1, max_rows)]
        rows += [r for r in TUNE_ROWS if r > max_rows][:1]  # the bucket max_rows falls in
        best: dict[tuple[int, str], float] = {}
        gen = torch.Generator().manual_seed(0)  # not the global RNG: tuning must not change what a seed samples
        for _ in range(rounds):
            for r in rows:
                xs = {k: torch.randn(r, k, generator=gen) for k in {m.in_features for m in mods}}
                for name in LAYOUTS:
                    t = time.perf_counter()
                    for m in mods:
                        _FORWARDS[name](xs[m.in_features], m.weight, self._buf.get(m))
                    dt = time.perf_counter() - t
                    best[r, name] = min(best.get((r, name), dt), dt)
        for r in rows:
            plain = min(("weight_major", "linear"), key=lambda n: best[r, n])
            self.choice[r] = "transposed" if best[r, "transposed"] < COPY_MARGIN * best[r, plain] else plain
        self.tune_seconds = time.perf_counter() - t0
        return dict(self.choice)

    @contextmanager
    def active(self, max_rows: int = 16):
        """Inside the block every Linear routes by row count through fresh copies; restored on exit."""
        untuned = not all(_bucket(r) in self.choice for r in (1, max_rows))
        self.refresh(force=untuned)
        if untuned:
            self.tune(max_rows)
            if not self.needs_copies():
                self._buf.clear()
        patched = []
        try:
            for m in self._linears():
                m.forward = self._forward(m.weight, self._buf.get(m), m.bias)
                patched.append(m)
            yield
        finally:
            for m in patched:
                del m.forward  # back to the class's forward
            if not self.keep_between:
                self._buf.clear()

    def _forward(self, w: torch.Tensor, wt: torch.Tensor | None, bias: torch.Tensor | None):
        choice = self.choice

        def forward(x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // x.shape[-1]
            name = choice.get(_bucket(rows), "linear")
            y = _FORWARDS[name](x.reshape(rows, x.shape[-1]), w, wt).reshape(*x.shape[:-1], w.shape[0])
            return y if bias is None else y + bias
        return forward


_FORWARDS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]] = {
    "transposed": lambda x, w, wt: x @ wt,
    "weight_major": lambda x, w, wt: (w @ x.t()).t(),
    "linear": lambda x, w, wt: F.linear(x, w),
}


TransposedLinears = DecodeLinears  # the old name (before the layout was chosen per row count)
