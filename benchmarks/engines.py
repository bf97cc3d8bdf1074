"""Rollout engines side by side on the real model (SmolLM2-135M), in one run: which one should sample?

    .venv-vllm/bin/python benchmarks/engines.py                  # every engine importable here (vllm needs .venv-vllm)
    .venv/bin/python benchmarks/engines.py --engines hf,hf_int8  # without vLLM

For each engine: start-up (construction) and first-call (warm-up at the default shape) seconds, then tokens/s
at the default job's shape (2 prompts x 8 samples x 64 new tokens) and at 64 rows x 128 (8 prompts x 8), the
memory it adds (RSS after its first call minus before it was built), and the log-prob gap to the trainer (fp32
transformers forward of the same sampled tokens): the max absolute per-token difference and the k3 estimate
logged in training as kl/rollout_vs_train. Speeds are reported as
ratios to our decode loop (`hf`) measured in the same run: this 2-core machine is shared, absolute tok/s drift.

Engines: hf = our decode loop (fp32, matmul layout tuned per weight shape and batch size, each decode step through
rollout/step.py's lean Llama layer: the default), hf_lean = the same, named, hf_tfstep = the same loop with
transformers' forward for the prefill and each step (`rollout.decode_forward=hf`, the default before session 27),
hf_plain = the same through the model's own Linear forward, hf_transposed = transposed weight copies for every
batch size (the default before the tuning), hf_fp16 = fbgemm fp16 weight copies (`rollout.decode_layout=fp16`), hf_bf16w = bf16 weight copies
and activations in the Linears only (`rollout.decode_layout=bf16`, native bf16 CPUs), hf_fast = whichever of those two
this machine decodes faster (`rollout.decode_layout=fast`), hf_int8w = weight-only int8 copies, bf16 activations
(`rollout.decode_layout=int8`, native bf16 CPUs), hf_int8 = the loop over a dynamically int8-quantised copy (fbgemm), hf_bf16 = a bf16
copy (emulated on CPUs without AVX512-BF16, ~1 GFLOP/s on the AVX2 EPYC: default shape only, not in the default list), vllm = vLLM's CPU build.
Ends with one key=value line.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from reasonrl.model import default_model_dir, load_tokenizer  # noqa: E402
from reasonrl.rollout.base import SamplingParams  # noqa: E402
from reasonrl.rollout.decode import DecodeEngine  # noqa: E402
from reasonrl.tasks import load_task, render_prompt  # noqa: E402
from reasonrl.config import load_config  # noqa: E402
from reasonrl.train.forward import group_logprobs, rollout_logprob_gap  # noqa: E402


def _int8(model, tok):
    q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    return DecodeEngine(q, tok, transposed_weights=False)


def _vllm(model, tok):
    from reasonrl.rollout.vllm_engine import VLLMEngine

    return VLLMEngine(model, tok, path=default_model_dir(), max_model_len=512, dtype="float32", cpu_kv_cache_gb=1)


ENGINES = {
    "hf": lambda m, t: DecodeEngine(m, t),
    "hf_plain": lambda m, t: DecodeEngine(m, t, transposed_weights=False),
    "hf_lean": lambda m, t: DecodeEngine(m, t, forward="lean"),   # the default since session 27: the same as hf
    "hf_tfstep": lambda m, t: DecodeEngine(m, t, forward="hf"),
    "hf_transposed": lambda m, t: DecodeEngine(m, t, layout="transposed"),
    "hf_fp16": lambda m, t: DecodeEngine(m, t, layout="fp16"),
    "hf_bf16w": lambda m, t: DecodeEngine(m, t, layout="bf16"),
    "hf_fast": lambda m, t: DecodeEngine(m, t, layout="fast"),
    "hf_int8w": lambda m, t: DecodeEngine(m, t, layout="int8"),
    "hf_int8": _int8,
    "hf_bf16": lambda m, t: DecodeEngine(m, t, dtype=torch.bfloat16, transposed_weights=False),
    "vllm": _vllm,
}


def _prompts(tok, k: int) -> list[str]:
    cfg = load_config(None, ["task.num_train=64", "task.num_heldout=1"])
    return [render_prompt(tok, p, cfg.task.template, cfg.task.lang)[0] for p in load_task(cfg.task).train[:k]]


def _gap(model, tok, ro, G: int) -> tuple[float, float]:
    """(max |engine - trainer| per-token log-prob, k3 gap) over the rollout's samples."""
    worst, gaps = 0.0, []
    with torch.no_grad():
        for g in range(0, len(ro.completion_ids), G):
            comps = ro.completion_ids[g : g + G]
            lp, _, mask = group_logprobs(model, ro.prompt_ids[g], comps, tok.pad_token_id, temperature=0.7)
            rows = ro.logprobs[g : g + G]
            worst = max([worst] + [abs(x - y) for r, ref in zip(rows, lp.tolist()) for x, y in zip(r, ref)])
            gaps.append(rollout_logprob_gap(rows, lp, mask).item())
    return worst, sum(gaps) / len(gaps)


def _rss_mb() -> float:
    """Current resident memory of this process (not the peak): what an engine adds while it is alive."""
    import os

    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _timed(engine, prompts, n, T, reps) -> float:
    tokens, secs = 0, 0.0
    for r in range(reps):
        ro = engine.generate(prompts, SamplingParams(n=n, max_new_tokens=T, temperature=0.7, seeds=[r] * len(prompts)))
        tokens, secs = tokens + ro.num_tokens, secs + ro.seconds
    return tokens / secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="hf,hf_fp16,hf_bf16w,hf_int8,vllm", help="comma list from: " + ", ".join(ENGINES))
    ap.add_argument("--reps", type=int, default=3, help="timed calls per shape after the warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--default-only", default="hf_bf16", help="engines measured at the default shape only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(default_model_dir())
    model = AutoModelForCausalLM.from_pretrained(default_model_dir(), dtype=torch.float32).eval()
    small, big = _prompts(tok, 2), _prompts(tok, 8)
    rows = {}
    for name in a.engines.split(","):
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        eng = ENGINES[name](model, tok)
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        ro = eng.generate(small, SamplingParams(n=8, max_new_tokens=64, temperature=0.7, seeds=[99, 98], logprobs=True))
        first = time.perf_counter() - t0
        added = _rss_mb() - rss0   # the engine's weight copy, caches and libraries, after its first call
        worst, k3 = _gap(model, tok, ro, 8)
        default = _timed(eng, small, 8, 64, a.reps)
        large = None if name in a.default_only.split(",") else _timed(eng, big, 8, 128, max(1, a.reps - 1))
        rows[name] = dict(start=start, first=first, default=default, large=large, worst=worst, k3=k3, added=added)
        print(f"{name:9s} start {start:6.1f} s  first call {first:6.1f} s  default 2x8x64 {default:6.1f} tok/s  "
              f"64x128 {large if large is None else round(large, 1)} tok/s  logprob gap max {worst:.1e} k3 {k3:.1e}  "
              f"+RSS {added:.0f} MB",
              flush=True)
        del eng
    ref = rows.get("hf")
    if ref:
        print("ratios to hf (same run):", ", ".join(
            f"{n} {r['default'] / ref['default']:.2f}x / {r['large'] / ref['large']:.2f}x" if r["large"] and ref["large"]
            else f"{n} {r['default'] / ref['default']:.2f}x" for n, r in rows.items()))
    correct = {n: r for n, r in rows.items() if r["worst"] < 1e-2}   # samples the trainer's policy, within noise
    best = max(correct, key=lambda n: correct[n]["default"]) if correct else "none"
    ratio = correct[best]["default"] / ref["default"] if ref and correct else float("nan")
    print(f"fastest_correct_default={best} speedup_vs_hf={ratio:.2f}")


if __name__ == "__main__":
    main()
