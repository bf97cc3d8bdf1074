"""How far does a model walk the arrows task on its own? Samples per variant, scored by `rewards.steps.walked`.

    PYTHONPATH=src .venv/bin/python benchmarks/arrows_walks.py --n 20 --k 8     # the base model, ~4 min on 2 cores
    PYTHONPATH=src .venv/bin/python benchmarks/arrows_walks.py --model runs/<run> --variants '[{"template": "chat_think"}]'

Per variant (template, task kwargs, optional text pre-filled after the template's own prefill, `{s}` = the start
number): right answers inside <answer>, samples in the strict <think>…</think><answer>…</answer> shape, samples whose thinking writes the whole walk, and samples writing at least
1 / 2 / 3 hops in order from the start (and 2 / 3 of them written as one chain, `chained`): what a GRPO group on that variant has to reinforce (docs/r1zero-reasoning.md,
session 23). Ends with one key=value line.
"""
from __future__ import annotations

import argparse
import json
import re

import torch

from reasonrl.config.schema import TaskConfig
from reasonrl.model import load_model
from reasonrl.rewards.format import format_ok
from reasonrl.rewards.steps import chained, walked
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.tasks import load_task, render_prompt

HOPS34 = {"min_hops": 3, "max_hops": 4, "chains": 4}
DEFAULT_VARIANTS = [
    {"template": "chat_think_path", "kwargs": HOPS34},
    {"template": "chat_think_path", "kwargs": {"min_hops": 2, "max_hops": 3, "chains": 2}},
    {"template": "chat_think_walk", "kwargs": HOPS34},
    {"template": "chat_think", "kwargs": HOPS34},
    {"template": "chat_think_path", "kwargs": HOPS34, "prefill": "{s} ->"},
]


def measure(engine, tok, v: dict, n: int, k: int) -> dict:
    problems = load_task(TaskConfig(name="arrows", kwargs=v.get("kwargs", HOPS34), num_train=1, num_heldout=n)).heldout
    prompts, prefills = [], []
    for p in problems:
        text, pre = render_prompt(tok, p, v["template"], "en")
        extra = v.get("prefill", "").format(s=p.meta["path"][0])
        prompts.append(text + extra)
        prefills.append(pre + extra)
    torch.manual_seed(0)
    out = engine.generate(prompts, SamplingParams(n=k, max_new_tokens=v.get("max_new", 64),
                                                  temperature=v.get("T", 0.8), stop=["</answer>"]))
    hops, chain, right, whole, closed = [], [], 0, 0, 0
    for i, text in enumerate(out.texts):
        p = problems[i // k]
        reply = prefills[i // k] + text
        thinking = reply.split("<think>", 1)[-1].split("</think>", 1)[0]
        h = walked(thinking, p.meta["path"])[0]
        hops.append(h)
        chain.append(chained(thinking, p.meta["path"])[0])
        whole += h == len(p.meta["path"]) - 1
        closed += format_ok(reply)   # the strict shape: what the format and strict-answer rewards need
        answers = re.findall(r"<answer>\s*(\d+)", reply)
        right += bool(answers) and answers[-1] == p.answer
    return {"samples": len(hops), "right": right, "whole": whole, "formatted": closed,
            **{f"hops>={j}": sum(h >= j for h in hops) for j in (1, 2, 3)},
            **{f"chain>={j}": sum(h >= j for h in chain) for j in (2, 3)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="HF folder or run dir (default: SmolLM2-135M-Instruct)")
    ap.add_argument("--variants", default=None, help="JSON list of {template, kwargs, prefill, T, max_new}")
    ap.add_argument("--n", type=int, default=20, help="held-out questions per variant")
    ap.add_argument("--k", type=int, default=8, help="samples per question")
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, tok, _ = load_model(a.model, "float32")
    engine = DecodeEngine(model, tok)
    best = 0.0
    for v in json.loads(a.variants) if a.variants else DEFAULT_VARIANTS:
        r = measure(engine, tok, v, a.n, a.k)
        best = max(best, r["whole"] / r["samples"])
        print(json.dumps(v), " ".join(f"{key}={val}" for key, val in r.items()), flush=True)
    print(f"best_whole_walk_frac={best:.3f}")


if __name__ == "__main__":
    main()
