"""Verifier speed and agreement: reasonrl.rewards.verify vs plain math_verify.parse + verify, same rows, one run.

    python benchmarks/verifier_bench.py                 # conformance suite + shared examples x5 + 1,000 numeric rows
    python benchmarks/verifier_bench.py --numeric 5000 --repeat 20

Rows: the conformance suite of tests/rewards/test_conformance.py (graded; ours with `lenient=True`, as
`reasonrl score --lenient` reads free-form replies), /work/shared/verifier_examples.jsonl (graded, strict)
replicated `--repeat` times, and a generated numeric set in the training job's shape (half right, half
wrong, half in Chinese numerals). Both verifiers are warmed up first (imports and parser construction are
not counted), then each row is timed alone; calls/s = rows / total time, p50/p99 per call.
Ends with one line for the conformance suite:
`agreement_vs_label=… plain_math_verify=… false_accepts=… plain_false_accepts=… p99_ms=… plain_p99_ms=…`.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path

import cn2an

from reasonrl.rewards import verify as ours
from reasonrl.rewards.check import warm_up_sympy

SHARED = Path("/work/shared/verifier_examples.jsonl")
CONFORMANCE = Path(__file__).resolve().parent.parent / "tests" / "rewards" / "test_conformance.py"


def conformance_rows() -> list[dict]:
    """The graded rows of the conformance test file (loaded by path: tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("test_conformance", CONFORMANCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [{"completion": c, "reference": r, "expected": label} for c, r, label in module.ROWS]


def plain_math_verify(completion: str, reference: str) -> bool:
    """What most projects do: parse both with math-verify's defaults and compare."""
    from math_verify import parse, verify
    try:
        return bool(verify(parse(reference), parse(completion)))
    except Exception:  # noqa: BLE001 - a baseline that raised counts as a rejection
        return False


def numeric_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        right = i % 2 == 0
        value = a + b if right else a + b + rng.choice([-10, -1, 1, 10])
        shown = cn2an.an2cn(value) if i % 4 < 2 else str(value)
        rows.append({"completion": f"<think>{a} + {b} = {a + b}</think><answer>{shown}</answer>",
                     "reference": str(a + b), "expected": right})
    return rows


def time_calls(fn, rows: list[dict]) -> tuple[list[float], list[bool]]:
    times, results = [], []
    for row in rows:
        start = time.perf_counter()
        results.append(fn(row["completion"], row["reference"]))
        times.append(time.perf_counter() - start)
    return times, results


def p99(times: list[float]) -> float:
    return sorted(times)[min(len(times) - 1, int(0.99 * len(times)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numeric", type=int, default=1000, help="generated numeric rows")
    parser.add_argument("--repeat", type=int, default=5, help="times the shared examples are replicated")
    args = parser.parse_args(argv)
    shared = [json.loads(line) for line in SHARED.read_text(encoding="utf-8").splitlines() if line.strip()]
    sets = {"conformance": conformance_rows(), "shared x%d" % args.repeat: shared * args.repeat,
            "numeric": numeric_rows(args.numeric)}
    warm_up_sympy()
    plain_math_verify("$1$", "1")
    print(f"{'set':<12} {'verifier':<20} {'rows':>6} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'agree':>8} {'FA':>4}")
    summary = {}
    for set_name, rows in sets.items():
        stats = {}
        ours_fn = functools.partial(ours, lenient=True) if set_name == "conformance" else ours
        for name, fn in (("reasonrl.verify", ours_fn), ("math_verify plain", plain_math_verify)):
            times, results = time_calls(fn, rows)
            agree = sum(r == row["expected"] for r, row in zip(results, rows)) / len(rows)
            false_accepts = sum(r and not row["expected"] for r, row in zip(results, rows))
            stats[name] = (len(rows) / sum(times), p99(times), agree, false_accepts)
            print(f"{set_name:<12} {name:<20} {len(rows):>6} {stats[name][0]:>9.0f} "
                  f"{statistics.median(times) * 1e3:>8.2f} {stats[name][1] * 1e3:>8.2f} {agree:>8.1%} {false_accepts:>4}")
        ours_stats, mv_stats = stats["reasonrl.verify"], stats["math_verify plain"]
        print(f"{set_name:<12} ratio ours/plain: calls/s x{ours_stats[0] / mv_stats[0]:.1f}, "
              f"p99 x{ours_stats[1] / mv_stats[1]:.2f}")
        summary[set_name] = (ours_stats, mv_stats)
    ours_stats, mv_stats = summary["conformance"]
    print(f"agreement_vs_label={ours_stats[2]:.3f} plain_math_verify={mv_stats[2]:.3f} false_accepts={ours_stats[3]} "
          f"plain_false_accepts={mv_stats[3]} p99_ms={ours_stats[1] * 1e3:.2f} plain_p99_ms={mv_stats[1] * 1e3:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
