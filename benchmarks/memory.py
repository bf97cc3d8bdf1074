"""Where reasonrl's memory goes: peak RSS per phase of a step and the parts that fill it, in one process.

    .venv/bin/python benchmarks/memory.py                       # grpo_vs_trl's settings, 4 steps, ~1 minute
    .venv/bin/python benchmarks/memory.py optim.micro_batch_size=4 rollout.engine=hf   # any config override

Trains SmolLM2-135M with benchmarks/grpo_vs_trl.py's settings (G=8, B=2, 48 new tokens, fp32 unless
`model.bf16=on` is given) while a thread samples the process's resident memory every 2 ms and files each
sample under the phase running (start-up, rollout + reward, update, weight sync). After the run the live
tensors are sized: weights, gradients, AdamW moments and the rollout engine's own copies (a bf16 model copy,
transposed fp32 decode weights). What the update's peak holds beyond those and the start-up floor (Python,
torch, tokenizer: RSS before the weights load) is the update's transient memory: activations, the
[rows, T, vocab] logits and their gradient.

Last line: `peak_rss_mb=… update_peak_mb=… rollout_peak_mb=… largest_part=NAME:MB` (one run, this machine).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

SETTINGS = [  # benchmarks/grpo_vs_trl.py's run, so the figures explain its peak_rss_ratio
    'task.kwargs={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}', "task.num_train=400",
    "task.num_heldout=100", "task.template=plain", "rollout.num_generations=8", "rollout.prompts_per_step=2",
    "rollout.max_new_tokens=48", "rollout.temperature=0.7", "optim.lr=1e-5", "train.max_minutes=null",
    "train.eval_before_after=false", "train.threads=2", "train.seed=0", "model.bf16=off", "train.save_every=1000",
]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler(threading.Thread):
    """Peak RSS per phase: `phase` is set by the wrappers below, a sample goes to whichever phase is current."""

    def __init__(self, every_s: float = 0.002):
        super().__init__(daemon=True)
        self.every_s, self.phase, self.peaks, self.stop = every_s, "start-up", {}, False

    def run(self) -> None:
        while not self.stop:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss_mb())
            time.sleep(self.every_s)


def tensor_mb(tensors, seen: set[int]) -> float:
    total = 0.0
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.dim() > 0 and t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size() / 2**20
    return total


def parts(t) -> dict[str, float]:
    """MB of each long-lived part, from the live tensors (a storage shared by two tensors counts once)."""
    seen: set[int] = set()
    params = list(t.model.parameters())
    out = {"weights": tensor_mb(params, seen),
           "gradients": tensor_mb([p.grad for p in params], seen),
           "adamw_moments": tensor_mb([v for st in t.strategy.optimizer.state.values() for v in st.values()], seen)}
    engine = getattr(t.engine, "engine", t.engine)   # a GatheredEngine wraps the real one
    copy = getattr(engine, "model", None)
    out["rollout_model_copy"] = tensor_mb(copy.parameters(), seen) if getattr(engine, "owns_copy", False) else 0.0
    fast = getattr(engine, "_fast", None)
    out["decode_transposed_copies"] = tensor_mb(fast._buf.values(), seen) if fast is not None else 0.0
    return out


def main(overrides: list[str]) -> None:
    import reasonrl.train.loop as loop
    from reasonrl.config import load_config

    torch.set_num_threads(2)
    sampler = Sampler()
    floor = rss_mb()   # python + torch + reasonrl imported, no weights yet
    held: dict = {}
    real_round, real_update = loop.sample_round, loop.update

    def sample_round(t, *a, **kw):
        held["t"], sampler.phase = t, "rollout + reward"
        return real_round(t, *a, **kw)

    def update(t, *a, **kw):
        sampler.phase = "update"
        try:
            return real_update(t, *a, **kw)
        finally:
            sampler.phase = "weight sync + logging"

    loop.sample_round, loop.update = sample_round, update
    steps = 4
    with tempfile.TemporaryDirectory(prefix="reasonrl-mem-") as d:
        cfg = load_config(None, SETTINGS + [f"run_dir={d}/run", f"train.max_steps={steps}"] + overrides)
        sampler.start()
        loop.main(cfg)
        sampler.stop = True
        sampler.join()
        steps_run = [json.loads(l) for l in Path(d, "run", "metrics.jsonl").read_text().splitlines()]
        s_step = [l["time/step_s"] for l in steps_run if l.get("kind") == "train"][1:]
    sizes = parts(held["t"])
    peak = max(sampler.peaks.values())
    upd = sampler.peaks.get("update", 0.0)
    transient = upd - floor - sum(sizes.values())
    print(f"\nmemory of `reasonrl train` at grpo_vs_trl's settings, {steps} steps, overrides {overrides or 'none'}; "
          f"{os.uname().machine}, {torch.get_num_threads()} threads; steady s/step {sum(s_step) / max(1, len(s_step)):.2f}\n")
    print("| phase | peak RSS MB |\n|---|---|")
    print(f"| before the weights load (python, torch, tokenizer) | {floor:,.0f} |")
    for k, v in sampler.peaks.items():
        print(f"| {k} | {v:,.0f} |")
    print("\n| part (live tensors after the last step) | MB |\n|---|---|")
    for k, v in sizes.items():
        print(f"| {k} | {v:,.0f} |")
    print(f"| update transient (update peak - start-up floor - the parts above: activations, logits) | {transient:,.0f} |")
    everything = {**sizes, "update_transient": transient, "start-up floor": floor}
    name = max(everything, key=everything.get)
    print(f"\npeak_rss_mb={peak:.0f} update_peak_mb={upd:.0f} rollout_peak_mb={sampler.peaks.get('rollout + reward', 0):.0f} "
          f"largest_part={name.replace(' ', '_')}:{everything[name]:.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
