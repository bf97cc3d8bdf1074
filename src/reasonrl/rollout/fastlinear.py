"""Decode with a transposed copy of each Linear weight: the fast CPU matmul path for skinny batches.

`F.linear(x, W)` multiplies by W's transpose. With W stored the usual way ([out, in] contiguous), the CPU
BLAS call it makes for the skinny batches of decoding (one row per active sample, M <= 64) ran here at
~4 GB/s of weight traffic; `x @ Wt` with Wt stored contiguous [in, out] runs at 10-15 GB/s (2-core Xeon,
M=16: 1536x576 0.9 -> 0.27 ms, the 49152x576 lm_head 31 -> 15 ms; `benchmarks/roofline.py` prints both).
Storing the trainer's own weights transposed would avoid the copy but made the backward ~25% slower
(gradients come out [out, in] and are re-laid on every accumulation), so the rollout gets its own copy,
refreshed once per rollout after the optimizer step: one strided read of the weights (~0.2-0.4 s for
135M params) against 2-4 s saved per step. Same float32 values: rollouts sample the exact trained policy.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


class TransposedLinears:
    """One contiguous [in, out] copy per float32 CPU `nn.Linear` weight of `model`, kept between steps."""

    def __init__(self, model: torch.nn.Module, *, keep_between: bool = False):
        self.model = model
        # keep_between=False frees the copies when the block ends: a trainer's update then runs without
        # them resident (one fp32 model's worth: 513 MB for SmolLM2-135M); the next refresh re-copies every
        # weight anyway, so keeping them saves only the allocation (benchmarks/memory.py measures both)
        self.keep_between = keep_between
        self._buf: dict[torch.nn.Linear, torch.Tensor] = {}
        self.copied = 0  # weights copied by the last refresh

    def _linears(self):
        for m in self.model.modules():
            if type(m) is torch.nn.Linear and m.weight.dtype == torch.float32 and m.weight.device.type == "cpu":
                yield m

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy the current weights in; shared (tied) weights are copied once."""
        by_weight: dict[int, torch.Tensor] = {}
        self.copied = 0
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

    @contextmanager
    def active(self):
        """Inside the block every Linear computes `x @ Wt (+ b)` from fresh copies; restored on exit."""
        self.refresh()
        patched = []
        try:
            for m, wt in self._buf.items():
                m.forward = _matmul_forward(wt, m.bias)
                patched.append(m)
            yield
        finally:
            for m in patched:
                del m.forward  # back to the class's forward
            if not self.keep_between:
                self._buf.clear()


def _matmul_forward(wt: torch.Tensor, bias: torch.Tensor | None):
    def forward(x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(x, wt)
        return y if bias is None else y + bias
    return forward
