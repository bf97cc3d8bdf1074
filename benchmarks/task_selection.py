"""Which task needs thinking? The base model's three figures on each candidate, in one process.

    PYTHONPATH=src .venv/bin/python benchmarks/task_selection.py            # ~25 min on 2 loaded cores
    PYTHONPATH=src .venv/bin/python benchmarks/task_selection.py --n 20 --k 8 --only chain_sum_3x1

Per candidate, on the first N held-out questions (SmolLM2-135M-Instruct, `DecodeEngine`, fp32):
- `strict`: greedy, `chat_think` template, right AND in the strict <think>…</think><answer>…</answer> shape
  (the R1-Zero score the trained model is judged by; must be <= 0.10);
- `any_form`: greedy, `plain` template ("Answer with just the number."), the last number read leniently
  (the base model allowed to answer in any form: the "beyond the format" baseline);
- `pass@K`: K samples at T=0.8 under `chat_think` (or `--sample-template plain`), right read leniently (what a GRPO group can find and
  reinforce; must be > 0), and `pass@K_strict` for the same samples in the strict shape.
A candidate is eligible when strict <= 0.10 and pass@K > 0. Ends with one key=value line naming the
eligible candidates; the choice among them (and why) is in docs/r1zero-reasoning.md.
"""
from __future__ import annotations

import argparse
import time

import torch

from reasonrl.config.schema import TaskConfig
from reasonrl.eval.heldout import generate_and_score
from reasonrl.eval.metrics import pass_at_k
from reasonrl.model import load_model
from reasonrl.rewards import RewardRunner
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.tasks import load_task

CANDIDATES: dict[str, tuple[str, dict]] = {
    "chain_sum_2x1": ("chain_sum", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}),  # the default job
    "chain_sum_3x1": ("chain_sum", {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 1}),
    "chain_sum_2x2": ("chain_sum", {"min_terms": 2, "max_terms": 2, "min_digits": 2, "max_digits": 2}),
    "basic_arith_3x1": ("basic_arithmetic", {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 1}),
    # additions only, no negatives or brackets: both steps of a two-step thinking stay within what the base
    # model computes (chain_sum's subtractions go below zero, where its steps fail: "1 - 4 = 3")
    "add_3x1": ("basic_arithmetic", {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 1,
                                     "operators": ["+"], "allow_parentheses": False, "allow_negation": False}),
    # a copy step instead of an arithmetic one: the k-th item of a digit list (tasks/nth_number.py)
    "nth_number": ("nth_number", {"min_len": 6, "max_len": 8, "min_pos": 3}),
    # two lookups in sequence: after RL one lookup needed no thinking (empty thinking 0.99 held-out)
    "nth_number_2hop": ("nth_number", {"min_len": 6, "max_len": 8, "min_pos": 3, "hops": 2}),
    # the k-th item after a named one (k = 2..4), and the same with k fixed at 3 (session 21)
    "nth_after": ("nth_number", {"digits": 2, "min_len": 8, "max_len": 12, "after": 4}),
    "nth_after3": ("nth_number", {"digits": 2, "min_len": 8, "max_len": 12, "after": 3, "after_min": 3}),
    "arrows": ("arrows", {"min_hops": 2, "max_hops": 3, "chains": 2}),   # a walk of 2-3 content matches (session 22)
    "arrows_first": ("arrows", {"min_hops": 2, "max_hops": 3, "chains": 2, "start_first": 1}),   # configs/r1zero_reasoning_arrows.yaml
    "arrows34_first": ("arrows", {"min_hops": 3, "max_hops": 4, "chains": 2, "start_first": 1}),  # the held-out of ..._arrows_walk.yaml
}


def measure(engine, tok, name: str, kwargs: dict, n: int, k: int, max_new: int, runner,
            sample_template: str = "chat_think") -> dict:
    problems = load_task(TaskConfig(name=name, kwargs=kwargs, num_train=1, num_heldout=n)).heldout
    greedy = SamplingParams(n=1, max_new_tokens=max_new, temperature=0.0, stop=["</answer>"])
    think = generate_and_score(engine, tok, problems, greedy, template="chat_think", lang="en", lenient=False, runner=runner)
    plain = generate_and_score(engine, tok, problems, SamplingParams(n=1, max_new_tokens=24, temperature=0.0),
                               template="plain", lang="en", lenient=True, runner=runner)
    print(f"  {name} {kwargs}: greedy strict={think.strict_accuracy:.2f} (lenient {think.accuracy:.2f}) "
          f"any_form={plain.accuracy:.2f}; sampling k={k}...", flush=True)
    torch.manual_seed(0)
    sampled = SamplingParams(n=k, max_new_tokens=max_new, temperature=0.8, stop=["</answer>"])
    s = generate_and_score(engine, tok, problems, sampled, template=sample_template, lang="en", lenient=True, runner=runner)
    right = [sum(s.correct[i * k:(i + 1) * k]) for i in range(n)]
    right_strict = [sum(c for c, f in zip(s.correct[i * k:(i + 1) * k], s.formatted[i * k:(i + 1) * k]) if f)
                    for i in range(n)]
    return {"strict": think.strict_accuracy, "any_form": plain.accuracy,
            f"pass@{k}": sum(pass_at_k(k, int(c), k) for c in right) / n,
            f"pass@{k}_strict": sum(pass_at_k(k, int(c), k) for c in right_strict) / n,
            "sample_acc": s.accuracy, "example": s.responses[0][:120]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30, help="held-out questions per candidate")
    ap.add_argument("--k", type=int, default=16, help="samples per question for pass@k")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--only", nargs="*", default=None, help="candidate names (default: all)")
    ap.add_argument("--sample-template", default="chat_think", help="template of the pass@K samples (plain: no tags)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 is faster on an oversubscribed machine)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok, _ = load_model(None, "float32")
    engine = DecodeEngine(model, tok)
    eligible = []
    with RewardRunner(["accuracy"], timeout_s=60) as runner:
        for cand in a.only or list(CANDIDATES):
            name, kwargs = CANDIDATES[cand]
            t0 = time.perf_counter()
            r = measure(engine, tok, name, kwargs, a.n, a.k, a.max_new_tokens, runner, a.sample_template)
            ok = r["strict"] <= 0.10 and r[f"pass@{a.k}"] > 0
            eligible += [cand] if ok else []
            print(f"{cand}: strict={r['strict']:.2f} any_form={r['any_form']:.2f} pass@{a.k}={r[f'pass@{a.k}']:.2f} "
                  f"pass@{a.k}_strict={r[f'pass@{a.k}_strict']:.2f} sample_acc={r['sample_acc']:.3f} "
                  f"eligible={ok} ({time.perf_counter() - t0:.0f} s) e.g. {r['example']!r}", flush=True)
    print(f"eligible={','.join(eligible) or 'none'}")


if __name__ == "__main__":
    main()
