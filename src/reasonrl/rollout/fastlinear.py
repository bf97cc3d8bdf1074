"""Decode-time Linear layers: per batch size, the matmul layout this CPU's BLAS runs fastest.

Decoding multiplies a skinny batch (one row per active sample, M <= 64) by every weight. The same product
has four spellings, and the CPU BLAS picks a different kernel for each, whose speed depends on the CPU and
on M far more than on the arithmetic:
- `linear`       F.linear(x, W): what the trainer's forward runs;
- `transposed`   x @ Wt with a contiguous [in, out] copy Wt, refreshed per rollout (one model's worth of RAM);
- `weight_major` (W @ x.T).T: the weight's own layout as the long side of the product, no copy (output made contiguous);
- `packed`       oneDNN's own blocked copy of W in its dtype (mkldnn prepacked linear), refreshed per rollout.
Measured over all of SmolLM2-135M's linears, weights read from RAM (2 threads):
- Intel Xeon (AVX-512): `transposed` 2-4x faster than `linear` at M=16 (1536x576 0.9 -> 0.27 ms);
- AMD EPYC (AVX-512, Zen 4 class): `transposed` 81 ms at M=4, `weight_major` 33 ms; `transposed` wins at M=1 (43 vs 51).
- AMD EPYC (AVX2 only): every fp32 layout is memory-bound at M <= 4 (~10 GB/s of weights, 4-5 GFLOP/s at M=1);
  `fp16` (fbgemm's fp16-weight kernel, fp32 activations and accumulation) reads half the bytes: 9.7-11.5 GFLOP/s at
  M=1, 1.3-1.8x the best fp32 layout at M=2-8, par at M=16.
- Intel Xeon with AMX (2026-12-06, sum over all 211 weights, ms): fp32 24.7 / 41.8 / 58.0 at M=1/4/16, fp16 27.6 /
  35.5 / 74.8 (slower than fp32 from M=8), `bf16` (a bf16 weight copy, bf16 activations: AMX tiles) 27.8 / 29.7 / 29.4.
So `layout="auto"` times each layout per weight shape and row count on the model's own weights (`tune`, a few
seconds at the first rollout) and decodes each step with the winners; a weight is copied only if its shape
chose `transposed` for some row count. The three give the same float32 values up to summation order: rollouts sample the trained
policy (tests/rollout/test_fastlinear.py). `fp16` is never chosen by `auto`: its weights are rounded to 11 significant
bits (matmul outputs ~2e-4 relative off), so the sampler's policy differs slightly from the trainer's; pair it with
`algo.rollout_correction` and watch `kl/rollout_vs_train`. `bf16` (8 significant bits, CPUs with native bf16 only)
is the same trade, larger. `fast` picks, once per machine, whichever of the two inexact layouts decodes the model
faster (fp16 on AVX2 and AVX512-BF16 EPYCs, bf16 with AMX), then tunes like `auto`, per weight shape and row count,
between that lossy copy and the two no-copy fp32 layouts (on the AMX Xeon: fp32 at 1-2 rows, bf16 from 4). `int8` is
weight-only int8 with bf16 activations (torch's `_weight_int8pack_mm`): ~0.8% off per matmul, a quarter of fp32's
bytes, so the fastest at 1-4 rows where decoding streams the weights from RAM (AMX Xeon: 14 / 19 ms at M=1/4 vs fp32
22 / 40, bf16 26 / 27), slower than bf16 from ~8 rows. Storing the trainer's weights transposed instead made its backward
~25% slower (gradients come out [out, in]), so the rollout gets its own copy.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

LAYOUTS = ("transposed", "weight_major", "linear", "packed")  # exact: what `auto` chooses among
NO_COPY = ("weight_major", "linear")                  # the layouts that read the model's own weight
EXACT_COPIES = ("transposed", "packed")               # a per-rollout copy in the weight's own dtype, same values
LOSSY = ("fp16", "bf16", "int8")                      # rounded weight copies: the sampler is ~1e-3 off the trainer
COPIES = (*EXACT_COPIES, *LOSSY)
FIXED = (*LAYOUTS, *LOSSY)                            # may be asked for by name
# what `fast` compares: int8 is asked for by name only (its per-rollout quantisation, 0.27-0.34 s for 135M params, cost more
# than its faster small-row matmuls saved in the one end-to-end run: docs/performance.md, session 21)
FAST_KINDS = ("fp16", "bf16")
TUNED = ("auto", "fast")                              # chosen per weight shape and row count by timing
FAST_ROWS = (1, 4, 8, 16)                             # where `fast` compares the lossy layouts (decode shrinks 16 -> 1)
TUNE_ROWS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # row counts timed; a count between two uses the next one up
# a copy costs one strided read of every weight per rollout (~0.3 s for 135M params, what ~40 decode steps
# save at a 15% gain): `transposed` must beat the no-copy layouts by 25% to be worth it. oneDNN's packed copy costs a
# third of that (~0.1 s, AMX Xeon), and in a real rollout it gains more than in the isolated timing (its output feeds
# the next op without a copy): 5% is enough (end to end 3.6 vs 3.7 s a rollout against auto's no-copy picks)
COPY_MARGIN = 0.75
MARGIN = {"packed": 0.95}
_DTYPES = (torch.float32, torch.bfloat16)  # a bf16 rollout copy (model.bf16) is routed the same way


def _bucket(m: int) -> int:
    return next((r for r in TUNE_ROWS if r >= m), 10**9)  # beyond every tuned count (a prefill): never tuned


class DecodeLinears:
    """The float32 / bfloat16 CPU `nn.Linear`s of `model`, re-routed inside `active()` to the layout chosen per weight shape
    and row count.

    layout: one of FIXED for every shape and row count, "auto" (tuned at the first `active()` among the exact
    LAYOUTS) or "fast" (tuned among the no-copy layouts and this machine's fastest lossy copy, `fastest_lossy`).
    Prefill-sized inputs (more rows than TUNE_ROWS covers) always use `linear`.
    """

    def __init__(self, model: torch.nn.Module, *, layout: str = "auto", keep_between: bool = False,
                 cache: Path | None = None):
        if layout not in ("auto", "fast") and layout not in FIXED:
            raise ValueError(f"unknown decode layout {layout!r}; valid: auto, fast, {', '.join(FIXED)}")
        # the copies a tuned layout may make (one per weight shape): the exact ones, and for fast the lossy winner
        self.copy_kind = "transposed"
        if layout == "fast":
            lossy = fastest_lossy(model, cache)
            layout, self.copy_kind = ("fast", lossy) if lossy in LOSSY else ("auto", "transposed")
        if layout in AVAILABLE and not AVAILABLE[layout]():   # a config asks for it: it must still run elsewhere
            print(f"reasonrl: decode layout {layout} needs {NEEDS[layout]}; decoding with layout auto", file=sys.stderr)
            layout = "auto"
        if layout in LOSSY and not any(m.weight.dtype == torch.float32 for m in model.modules() if type(m) is torch.nn.Linear):
            # a bf16 model (model.bf16: the default job's fp16 on a native-bf16 CPU) has no fp32 weight to round: its
            # Linears decoded through plain F.linear; tuned, the AMX Xeon's rollout takes 3.6-4.0 s instead of 3.8-4.4
            layout = "auto"
        self.copy_kinds = tuple(k for k in (*((self.copy_kind,) if layout == "fast" else ()), *EXACT_COPIES)
                                if k not in AVAILABLE or AVAILABLE[k]())
        self.model = model
        self.layout = layout
        # keep_between=False frees the copies when the block ends: a trainer's update then runs without them
        # resident (513 MB for SmolLM2-135M); the next refresh re-copies every weight anyway
        self.keep_between = keep_between
        self.choice: dict[tuple[int, int, int], str] = {}  # (in, out, row bucket) -> layout, when auto
        # auto's choices per machine, kept across processes: the layouts round differently, so a resumed run (or a
        # second run of one seed) samples the same tokens only if it decodes through the same choices
        self.cache = cache
        self.tuned_rows = 0
        self.tune_seconds = 0.0
        self._buf: dict[torch.nn.Linear, torch.Tensor] = {}
        self.copied = 0  # weights copied by the last refresh

    def _linears(self):
        for m in self.model.modules():
            if type(m) is torch.nn.Linear and m.weight.dtype in _DTYPES and m.weight.device.type == "cpu":
                yield m

    @property
    def tuned(self) -> bool:
        return self.layout in TUNED

    @property
    def candidates(self) -> tuple[str, ...]:
        """What tuning chooses among: the no-copy layouts and every copy this machine can make (the lossy one: fast)."""
        return (*NO_COPY, *self.copy_kinds)

    def pick(self, shape: tuple[int, int], rows: int) -> str:
        if not self.tuned:
            return self.layout
        return self.choice.get((*shape, _bucket(rows)), "linear")

    def copy_of(self, m: torch.nn.Linear) -> str | None:
        """The copy `m` decodes through at some row count (at most one per weight shape), or None."""
        if not self.tuned:
            kind = self.layout if self.layout in COPIES else None
        else:
            kind = next((v for (i, o, _), v in self.choice.items() if (i, o) == _shape(m) and v in COPIES), None)
        if kind in LOSSY and m.weight.dtype != torch.float32:   # a bf16 model (model.bf16) already decodes in bf16
            return None
        return kind

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy in the current weights of every Linear that decodes through a copy; tied weights once."""
        by_weight: dict[tuple[int, str], torch.Tensor] = {}
        pending: list[tuple[torch.nn.Linear, torch.Tensor]] = []   # fp16: (module, weight) to pack
        self.copied = 0
        for m in self._linears():
            kind = self.copy_of(m)
            if kind is None:
                self._buf.pop(m, None)
                continue
            # Every weight is re-copied each time. Neither `_version` (fused AdamW updates in place without
            # bumping it: a version check served stale weights to every rollout) nor requires_grad (an
            # inference engine's frozen weights still receive load_state_dict syncs) says reliably "unchanged".
            if kind == "fp16":
                pending.append((m, m.weight))   # packed below, tied weights once
                continue
            key = (id(m.weight), kind)
            if key not in by_weight:
                by_weight[key] = make_copy(kind, m.weight, self._buf.get(m))
                self.copied += 1
            self._buf[m] = by_weight[key]
        if pending:
            self._pack_all(pending)

    def _pack_all(self, pending: list[tuple[torch.nn.Linear, torch.Tensor]]) -> None:
        """fp16 packs, one weight per thread: fbgemm's packer is a scalar single-threaded loop (~0.8 s per
        rollout for 135M parameters on 2 cores, a third of a default-job rollout), and it releases the GIL."""
        # largest first (the tied head is a fifth of the model): the threads then finish together
        unique = sorted({id(w): w for _, w in pending}.values(), key=lambda w: -w.numel())
        workers = max(1, min(torch.get_num_threads(), len(unique)))
        if workers == 1:
            packed = [_pack_fp16(w) for w in unique]
        else:
            with ThreadPoolExecutor(workers) as pool:
                packed = list(pool.map(_pack_fp16, unique))
        by_id = {id(w): p for w, p in zip(unique, packed)}
        for m, w in pending:
            self._buf[m] = by_id[id(w)]
        self.copied += len(unique)

    @torch.no_grad()
    def tune(self, max_rows: int = 16, rounds: int = 2) -> dict[tuple[int, int, int], str]:
        """Per weight shape and row count <= max_rows, time every layout over all the model's linears of that
        shape (real weights, so read from RAM as in decoding), `rounds` times (min kept); record the fastest,
        with at most one kind of copy per shape (the one that saves the most over the timed row counts)."""
        t0 = time.perf_counter()
        mods = list(self._linears())
        rows = [r for r in TUNE_ROWS if r <= max(1, max_rows)]
        rows += [r for r in TUNE_ROWS if r > max_rows][:1]  # the bucket max_rows falls in
        shapes = {_shape(m) for m in mods}
        rows = [r for r in rows if any((*sh, r) not in self.choice for sh in shapes)]  # earlier choices stay
        best: dict[tuple[int, int, int, str], float] = {}
        gen = torch.Generator().manual_seed(0)  # not the global RNG: tuning must not change what a seed samples
        xs = {r: {k: torch.randn(r, k, generator=gen).to(mods[0].weight.dtype) for k in {m.in_features for m in mods}}
              for r in rows}
        for name in self.candidates:
            # one kind of copy alive at a time (a copy of a 135M model is 0.3-0.5 GB), made only for this timing
            copies: dict[int, torch.Tensor] = {}
            if name in COPIES:
                for m in mods:
                    if id(m.weight) not in copies and not (name in LOSSY and m.weight.dtype != torch.float32):
                        copies[id(m.weight)] = make_copy(name, m.weight)
            for _ in range(rounds):
                for r in rows:
                    spent: dict[tuple[int, int], float] = {}
                    for m in mods:
                        wt = copies.get(id(m.weight))
                        if name in COPIES and wt is None:   # a bf16 weight has no lossy copy: decodes through linear
                            continue
                        t = time.perf_counter()
                        _FORWARDS[name](xs[r][m.in_features], m.weight, wt)
                        spent[_shape(m)] = spent.get(_shape(m), 0.0) + time.perf_counter() - t
                    for shape, dt in spent.items():
                        key = (*shape, r, name)
                        best[key] = min(best.get(key, dt), dt)
            del copies
        for shape in shapes:
            cost = lambda r, n: best.get((*shape, r, n), float("inf"))
            plain = {r: min(NO_COPY, key=lambda n: cost(r, n)) for r in rows}
            earlier = {v for (i, o, _), v in self.choice.items() if (i, o) == shape and v in COPIES}
            options = [{r: k if cost(r, k) < MARGIN.get(k, COPY_MARGIN) * cost(r, plain[r]) else plain[r] for r in rows}
                       for k in (earlier or self.copy_kinds)]
            picked = min([plain, *options], key=lambda c: sum(cost(r, n) for r, n in c.items()))
            for r, n in picked.items():
                self.choice[(*shape, r)] = n
        self.tuned_rows = max(self.tuned_rows, _bucket(min(max_rows, TUNE_ROWS[-1])))
        self.tune_seconds = time.perf_counter() - t0
        return dict(self.choice)

    def _cache_key(self) -> str:
        from reasonrl.model import machine_description

        dtype = next((m.weight.dtype for m in self._linears()), torch.float32)
        mode = f" | fast {self.copy_kind}" if self.layout == "fast" else ""
        # the copies compared: choices tuned before `packed` existed are not read as if it had lost
        return (f"{machine_description()} | torch {torch.__version__} | {torch.get_num_threads()} threads | {dtype}{mode}"
                f" | copies {'+'.join(self.copy_kinds)}")

    def _load(self, max_rows: int) -> None:
        """Adopt the cached choices for this machine; a missing or unreadable cache just means tuning."""
        try:
            table = json.loads(self.cache.read_text()).get(self._cache_key(), {})
        except (OSError, ValueError, AttributeError):
            return
        for k, v in table.items():
            i, o, r = (int(x) for x in k.split(","))
            if v in self.candidates:
                self.choice[i, o, r] = v
        need = _bucket(min(max_rows, TUNE_ROWS[-1]))
        shapes = {_shape(m) for m in self._linears()}
        if all((*sh, r) in self.choice for sh in shapes for r in TUNE_ROWS if r <= need):
            self.tuned_rows = max(self.tuned_rows, need)

    def _save(self) -> None:
        _cache_put(self.cache, self._cache_key(), {f"{i},{o},{r}": v for (i, o, r), v in sorted(self.choice.items())})

    @contextmanager
    def active(self, max_rows: int = 16):
        """Inside the block every Linear routes by row count through fresh copies; restored on exit."""
        need = _bucket(min(max_rows, TUNE_ROWS[-1]))
        if self.tuned and self.tuned_rows < need and self.cache is not None:
            self._load(max_rows)
        if self.tuned and self.tuned_rows < need:
            self.tune(max_rows)
            if self.cache is not None:
                self._save()
        self.refresh()
        patched = []
        try:
            for m in self._linears():
                m.forward = self._forward(m.weight, self._buf.get(m), m.bias, self.copy_of(m))
                patched.append(m)
            yield
        finally:
            for m in patched:
                del m.forward  # back to the class's forward
            if not self.keep_between:
                self._buf.clear()

    def _forward(self, w: torch.Tensor, wt: torch.Tensor | None, bias: torch.Tensor | None, kind: str | None):
        shape, pick = (w.shape[1], w.shape[0]), self.pick

        def forward(x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // x.shape[-1]
            name = pick(shape, rows)
            if name in COPIES and (wt is None or name != kind):  # a prefill beyond the tuned rows, or a bf16 weight
                name = "linear"
            y = _FORWARDS[name](x.reshape(rows, x.shape[-1]), w, wt).reshape(*x.shape[:-1], w.shape[0])
            return y if bias is None else y + bias
        return forward


def _shape(m: torch.nn.Linear) -> tuple[int, int]:
    return m.in_features, m.out_features


_FORWARDS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]] = {
    "transposed": lambda x, w, wt: x @ wt,
    # made contiguous: a transposed output sends attention down SDPA's slow math path and every elementwise op after
    # it onto strided reads (rollout 4.9 -> 3.8 s on the AMX Xeon, session 22), for a copy of rows x out values
    "weight_major": lambda x, w, wt: (w @ x.t()).t().contiguous(),
    "linear": lambda x, w, wt: F.linear(x, w),
    "packed": lambda x, w, wt: torch.ops.mkldnn._linear_pointwise(x.contiguous(), wt, None, "none", [], ""),
    "fp16": lambda x, w, wt: torch.ops.aten.fbgemm_linear_fp16_weight_fp32_activation(x, wt, None),
    "bf16": lambda x, w, wt: (torch.ops.mkldnn._linear_pointwise(x.to(torch.bfloat16).contiguous(), wt, None, "none", [], "")
                              if _packs() else F.linear(x.to(torch.bfloat16), wt)).to(x.dtype),
    "int8": lambda x, w, wt: torch._weight_int8pack_mm(x.to(torch.bfloat16), *wt).to(x.dtype),
}


PACK_ROWS = 16   # the row count oneDNN blocks a packed weight for (the default job decodes 16 rows, shrinking)


def make_copy(kind: str, w: torch.Tensor, reuse: torch.Tensor | None = None) -> torch.Tensor | tuple:
    """The per-rollout copy of weight `w` [out, in] that layout `kind` multiplies by (`reuse`: last rollout's buffer)."""
    w = w.detach()
    if kind == "transposed":
        buf = reuse if reuse is not None and reuse.shape == w.shape[::-1] and reuse.dtype == w.dtype else None
        buf = torch.empty(w.shape[1], w.shape[0], dtype=w.dtype) if buf is None else buf
        for s in range(0, w.shape[0], 256):  # blocked: a cache-sized slab at a time, ~1.4x a whole-matrix copy
            buf[:, s : s + 256].copy_(w[s : s + 256].t())
        return buf
    if kind == "packed":
        # oneDNN's own blocked layout, in the weight's dtype: with a bf16 weight (model.bf16) the AMX Xeon runs all
        # of SmolLM2-135M's matmuls in 18 ms at 1-16 rows against 27 for F.linear on the plain bf16 weight
        return torch.ops.mkldnn._reorder_linear_weight(w, PACK_ROWS)
    if kind == "bf16":   # packed too where oneDNN is there: the same bf16 values, 18 vs 27 ms a pass (AMX Xeon)
        return torch.ops.mkldnn._reorder_linear_weight(w.to(torch.bfloat16), PACK_ROWS) if _packs() else w.to(torch.bfloat16)
    if kind == "int8":
        return _quant_int8(w)
    if kind == "fp16":
        return _pack_fp16(w)
    raise ValueError(f"no copy for decode layout {kind!r}")


def _quant_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight-only int8: one symmetric scale per output row (bf16, as the kernel takes it), 127 levels. Outputs are
    ~0.8% off fp32 (bf16's copy ~0.3%), for a quarter of fp32's bytes: the win where decoding reads weights from RAM
    at 1-4 rows (AMX Xeon, all 211 weights: 14 ms at 1 row vs fp32 22, bf16 26)."""
    w = w.detach().float()
    scale = w.abs().amax(1).clamp(min=1e-12) / 127
    # times the reciprocal, rounded and clamped in place: 1.45x faster than round(w / scale) (0.14 vs 0.20 s per 81M
    # params, AMX Xeon), the same int8 values on the model's weights
    q = (w * (1 / scale)[:, None]).round_().clamp_(-127, 127).to(torch.int8)
    return q, scale.to(torch.bfloat16)


def _pack_fp16(w: torch.Tensor) -> torch.Tensor:
    """fbgemm's packed fp16 copy of `w`. Rounded by `.half()` first: the same packed values (round to nearest), and
    ~1.7x faster than letting the packer convert fp32 itself (0.53 vs 0.90 s for 80M params, AVX2 EPYC)."""
    return torch.ops.aten.fbgemm_pack_gemm_matrix_fp16(w.detach().half().float())


def fp16_available() -> bool:
    """fbgemm's fp16 kernels exist only on x86 CPUs with AVX2 (and in torch builds with fbgemm)."""
    try:
        w = torch.ops.aten.fbgemm_pack_gemm_matrix_fp16(torch.ones(8, 8))
        torch.ops.aten.fbgemm_linear_fp16_weight_fp32_activation(torch.ones(1, 8), w, None)
        return True
    except (RuntimeError, AttributeError):
        return False


def bf16_available() -> bool:
    """bf16 matmuls at speed need native bf16 (AVX512-BF16 or AMX); elsewhere they are emulated, ~0.6x fp32."""
    from reasonrl.model import cpu_has_bf16

    return cpu_has_bf16()


def int8_available() -> bool:
    """torch's weight-only int8 kernel takes bf16 activations (fp32 ones run ~4x slower than fp32 itself, measured
    on the AMX Xeon), so it needs native bf16 as well as the kernel."""
    if not bf16_available():
        return False
    try:
        torch._weight_int8pack_mm(torch.ones(1, 32, dtype=torch.bfloat16), *_quant_int8(torch.ones(8, 32)))
        return True
    except (RuntimeError, AttributeError):
        return False


def packed_available() -> bool:
    """oneDNN's prepacked linear: in every x86 CPU build of torch (mkldnn), absent from some ARM ones."""
    try:
        w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(8, 8), PACK_ROWS)
        torch.ops.mkldnn._linear_pointwise(torch.ones(1, 8), w, None, "none", [], "")
        return torch.backends.mkldnn.is_available()
    except (RuntimeError, AttributeError):
        return False


@lru_cache(maxsize=1)
def _packs() -> bool:
    return packed_available()


LOSSY_AVAILABLE = {"fp16": fp16_available, "bf16": bf16_available, "int8": int8_available}
LOSSY_NEEDS = {"fp16": "fbgemm (an x86 CPU with AVX2)", "bf16": "native bf16 (AVX512-BF16 or AMX)",
               "int8": "torch's weight-only int8 kernel and native bf16 (AVX512-BF16 or AMX)"}
AVAILABLE = {**LOSSY_AVAILABLE, "packed": packed_available}        # the layouts some machines lack
NEEDS = {**LOSSY_NEEDS, "packed": "oneDNN (torch built with mkldnn)"}


@torch.no_grad()
def time_lossy(model: torch.nn.Module, rows: tuple[int, ...] = FAST_ROWS, rounds: int = 2) -> dict[str, float]:
    """Seconds per pass of every float32 Linear of `model` through each available lossy layout, summed over
    `rows` (min of `rounds`): what one decode step at each of those batch sizes spends in the matmuls."""
    mods = [m for m in model.modules() if type(m) is torch.nn.Linear and m.weight.dtype == torch.float32]
    gen = torch.Generator().manual_seed(0)
    spent: dict[str, float] = {}
    for name in (n for n in FAST_KINDS if LOSSY_AVAILABLE[n]()):
        copy = DecodeLinears(model, layout=name)
        copy.refresh()
        best = float("inf")
        for _ in range(rounds):
            t = time.perf_counter()
            for r in rows:
                xs = {k: torch.randn(r, k, generator=gen) for k in {m.in_features for m in mods}}
                for m in mods:
                    _FORWARDS[name](xs[m.in_features], m.weight, copy._buf[m])
            best = min(best, time.perf_counter() - t)
        spent[name] = best
    return spent


def fastest_lossy(model: torch.nn.Module, cache: Path | None = None) -> str:
    """`fast`: the lossy layout that decodes `model` fastest on this machine (timed once, then read from `cache`),
    or `auto` (exact) where neither is available."""
    from reasonrl.model import machine_description

    key = f"fast | {machine_description()} | torch {torch.__version__} | {torch.get_num_threads()} threads"
    try:
        known = json.loads(cache.read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        known = None
    if known in FAST_KINDS:
        return known
    spent = time_lossy(model)
    if not spent:
        return "auto"
    choice = min(spent, key=spent.get)
    print(f"reasonrl: decode layout fast -> {choice} ({', '.join(f'{k} {v * 1e3:.0f} ms' for k, v in spent.items())} "
          f"per pass at rows {FAST_ROWS})", file=sys.stderr)
    if cache is not None:
        _cache_put(cache, key, choice)
    return choice


def _cache_put(cache: Path, key: str, value) -> None:
    """Set one entry of the per-machine JSON cache, keeping the others."""
    try:
        old = json.loads(cache.read_text())
        old = old if isinstance(old, dict) else {}
    except (OSError, ValueError):
        old = {}
    old[key] = value
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(old, indent=1))
        os.replace(tmp, cache)   # atomic: a reader never sees half a file
    except OSError:
        pass                     # a read-only cache only costs the next process its own tuning


TransposedLinears = DecodeLinears  # the old name (before the layout was chosen per row count)
