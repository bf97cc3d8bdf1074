"""Which matmul should a decode step use on this CPU? Every Linear of SmolLM2-135M's shapes, per row count, in one run.

    .venv/bin/python benchmarks/decode_kernels.py            # ~30 s on 2 cores

For each row count (active samples in a decode step) the sum over all 211 weights (random, the model's shapes, read
from RAM as in decoding) of: fp32 `F.linear`, fp32 against a transposed copy, fbgemm's fp16-weight kernel
(`rollout.decode_layout=fp16`) and bf16 `F.linear` on bf16 copies (`rollout.decode_layout=bf16`; emulated and slow on
CPUs without AVX512-BF16/AMX). Best of 3 calls. Ends with one key=value line: each lossy kernel's speed as a ratio to
the best fp32 spelling, at 1 and 16 rows (> 1 = faster than fp32).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from reasonrl.model import machine_description  # noqa: E402
from reasonrl.rollout.fastlinear import fp16_available  # noqa: E402

LAYERS, HIDDEN, KV, MLP, VOCAB = 30, 576, 192, 1536, 49152   # SmolLM2-135M


def shapes() -> list[tuple[int, int]]:
    """(out, in) of every Linear: q/o, k/v, gate/up, down per layer, and the tied head."""
    per_layer = [(HIDDEN, HIDDEN)] * 2 + [(KV, HIDDEN)] * 2 + [(MLP, HIDDEN)] * 2 + [(HIDDEN, MLP)]
    return per_layer * LAYERS + [(VOCAB, HIDDEN)]


def best_ms(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1,2,4,8,16,32")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ws = [torch.randn(o, i) * 0.02 for o, i in shapes()]
    kernels = {"fp32": lambda x, k: F.linear(x, ws[k]),
               "fp32_transposed": lambda x, k: x @ wt[k]}
    wt = [w.t().contiguous() for w in ws]
    wb = [w.to(torch.bfloat16) for w in ws]
    kernels["bf16"] = lambda x, k: F.linear(x.to(torch.bfloat16), wb[k]).float()
    if fp16_available():
        packed = [torch.ops.aten.fbgemm_pack_gemm_matrix_fp16(w) for w in ws]
        kernels["fp16"] = lambda x, k: torch.ops.aten.fbgemm_linear_fp16_weight_fp32_activation(x, packed[k], None)
    print(f"machine: {machine_description()}; torch {torch.__version__}, {a.threads} threads")
    print("| rows | " + " | ".join(kernels) + " |  (ms per decode step, all 211 weights)")
    print("|---" * (len(kernels) + 1) + "|")
    table = {}
    for r in (int(x) for x in a.rows.split(",")):
        xs = {n: torch.randn(r, n) for n in (HIDDEN, MLP)}
        table[r] = {name: best_ms(lambda: [fn(xs[w.shape[1]], k) for k, w in enumerate(ws)]) for name, fn in kernels.items()}
        print(f"| {r} | " + " | ".join(f"{v:.1f}" for v in table[r].values()) + " |", flush=True)
    out = []
    for r in (min(table), 16 if 16 in table else max(table)):
        fp32 = min(table[r]["fp32"], table[r]["fp32_transposed"])
        out += [f"{name}_vs_fp32_rows{r}={fp32 / table[r][name]:.2f}" for name in ("fp16", "bf16") if name in table[r]]
    print(" ".join(out))


if __name__ == "__main__":
    main()
