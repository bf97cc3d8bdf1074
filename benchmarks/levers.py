"""A/B of the CPU speed levers on one fixed rollout, in one process (so machine drift hits both sides).

    .venv/bin/python benchmarks/levers.py        # ~2 minutes on 2 cores

Rollout: the same 2 prompts x 8 samples, 48 tokens, T=0.7, same seed, through `DecodeEngine` with the model's
own Linear forward (plain), with the transposed weight copies for every batch size (the previous default), and
with the layout tuned per weight shape and batch size (auto, the default; rollout/fastlinear.py; its tuning
runs before the timed repetitions). Update: forward + backward over those two groups and
an AdamW step, (a) one padded forward per group (the prompt repeated in every row, `padded_logprobs`) + foreach
AdamW + fresh grad buffers (the old path) against (b) one packed tree forward per group (`group_logprobs`: the
prompt once, no padding) + fused AdamW + reused grad buffers (the current path). Prints seconds per
repetition and the ratios.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import replace

import torch

import reasonrl.train.forward as F
from reasonrl.config import load_config
from reasonrl.model import load_model
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.tasks import load_task, render_prompt


def main(reps: int = 3) -> None:
    torch.set_num_threads(2)
    cfg = load_config(None, ['task.kwargs={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}'])
    model, tok, _ = load_model(None, "float32")
    prompts = [render_prompt(tok, p, "plain", "en")[0] for p in load_task(cfg.task).train[:2]]
    sp = SamplingParams(n=8, max_new_tokens=48, temperature=0.7, top_p=1.0)
    engines = {"plain": DecodeEngine(model, tok, transposed_weights=False),
               "transposed": DecodeEngine(model, tok, layout="transposed"),
               "auto": DecodeEngine(model, tok, layout="auto")}
    engines["auto"].generate(prompts[:1], replace(sp, n=1, max_new_tokens=1))  # tune outside the timing
    roll: dict[str, list[float]] = {k: [] for k in engines}
    for rep in range(reps):
        for name, eng in engines.items():
            torch.manual_seed(rep)
            t = time.perf_counter()
            ro = eng.generate(prompts, sp)
            roll[name].append(time.perf_counter() - t)
    print("rollout s: " + "  ".join(f"{k} {[round(x, 2) for x in v]}" for k, v in roll.items()))
    print(f"auto tuning {engines['auto']._fast.tune_seconds:.1f} s")

    def update(opt, packed: bool, set_to_none: bool) -> float:
        fn = F.group_logprobs if packed else F.padded_logprobs
        t = time.perf_counter()
        opt.zero_grad(set_to_none=set_to_none)
        for g in range(2):
            lp, _, _ = fn(model, ro.prompt_ids[g * 8], ro.completion_ids[g * 8 : (g + 1) * 8],
                          pad_id=tok.pad_token_id, with_entropy=True)
            (lp.sum() * 1e-3).backward()
        opt.step()
        return time.perf_counter() - t

    model.train()
    old_opt = torch.optim.AdamW(model.parameters(), lr=1e-9, foreach=True)
    new_opt = torch.optim.AdamW(model.parameters(), lr=1e-9, fused=True)
    upd = {"old": [], "new": []}
    for _ in range(reps):
        upd["old"].append(update(old_opt, packed=False, set_to_none=True))
        upd["new"].append(update(new_opt, packed=True, set_to_none=False))
    print(f"completion lengths {sorted(len(c) for c in ro.completion_ids)}")
    print(f"update s: old {[round(x, 2) for x in upd['old']]}  new {[round(x, 2) for x in upd['new']]}")
    med = statistics.median
    print(f"rollout_speedup={med(roll['plain']) / med(roll['auto']):.2f} "
          f"auto_vs_transposed={med(roll['transposed']) / med(roll['auto']):.2f} "
          f"update_speedup={med(upd['old']) / med(upd['new']):.2f}")


if __name__ == "__main__":
    main()
