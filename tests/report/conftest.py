"""Fixture run directories in the trainer's on-disk format, built from code (no binary fixtures).

`make_run` writes what a small 40-step GRPO run on a 135M model would leave: config.yaml,
metrics.jsonl (train + eval lines), samples.jsonl (train samples and three fixed held-out
problems at every eval, one Chinese, one completion containing <script>), summary.json and an
eval/*.json from `reasonrl eval`. `finished=False` leaves a crashed run: no summary, no final eval.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import yaml

# tests/browser.py is shared by the report and serve tests; make `import browser` work whatever
# the rootdir/import mode.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HELDOUT = [
    ("heldout-0", "What is 17 * 3 + 4?", "55"),
    ("heldout-1", "A train travels 120 km in 2 hours. What is its speed in km/h?", "60"),
    ("heldout-2", "小明有3个苹果，又买了5个，吃了2个。他还有几个苹果？", "6"),
]


def _completion(pid: str, t: float, correct: bool, ref: str) -> str:
    """A reply whose thinking grows and starts to reflect as training goes on (t in [0, 1])."""
    ans = ref if correct else str(int(ref) + 1)
    if pid == "heldout-2":
        think = "3加5等于8，8减2等于6。" if correct else "3加5等于8，8减2等于7。"
        if t > 0.4:
            think += "等等，我重新检查一下：3+5=8，8-2=6。"
    elif pid == "heldout-1":
        # the model quoting code at us: must be shown as text, never run
        think = 'speed = distance / time <script>alert("xss")</script> so 120/2.'
        if t > 0.6:
            think += " Wait, let me check: 60 * 2 = 120. Yes."
    else:
        think = "17 * 3 = 51, plus 4."
        if t > 0.3:
            think += " Wait, let me verify: 17 * 3 = 51. 51 + 4 = 55."
    if t < 0.1:  # at the start the format is often wrong: no closing tag, answer inline
        return f"{think} The answer is {ans}"
    return f"{think}</think> <answer>{ans}</answer>"


def write_run(root: Path, name: str, steps: int = 40, finished: bool = True, beta: float = 0.04,
              seed: int = 0, loss_agg: str = "seq-mean-token-mean") -> Path:
    rng = random.Random(seed)
    run = root / name
    (run / "eval").mkdir(parents=True)
    config = {
        "model": {"name": "HuggingFaceTB/SmolLM2-135M-Instruct", "dtype": "float32"},
        "task": {"name": "gsm8k-mini", "split": "train", "heldout_n": 50},
        "rollout": {"engine": "hf", "group_size": 8, "max_new_tokens": 256, "temperature": 1.0},
        "reward": {"names": ["accuracy", "format"], "weights": [1.0, 0.5]},
        "algo": {"advantage": "grpo", "loss_agg": loss_agg, "beta": beta, "clip": {"low": 0.2, "high": 0.2}},
        "optim": {"lr": 1e-6, "weight_decay": 0.0},
        "train": {"steps": steps, "batch_prompts": 4, "eval_every": 10, "seed": seed},
        "run_dir": str(run),
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    metrics, samples = [], []
    eval_steps = [s for s in range(0, steps + 1, 10)]
    for step in range(1, steps + 1):
        t = step / 40
        reward = min(0.95, 0.15 + 0.5 * t + rng.uniform(-0.06, 0.06))
        row = {
            "kind": "train", "step": step, "time_s": round(28.5 * step + rng.uniform(0, 3), 2),
            "reward/mean": reward, "reward/std": 0.42 - 0.1 * t, "acc/mean": reward * 0.85,
            "format/rate": min(1.0, 0.25 + 0.7 * t), "len/response_mean": 82 + 95 * t + rng.uniform(-8, 8),
            "len/response_max": 256 if step > 5 else 190, "len/truncated_frac": 0.04 + 0.05 * t,
            "loss/pg": rng.uniform(-0.02, 0.02), "clip/frac": 0.01 + 0.03 * t, "entropy/mean": 1.25 - 0.4 * t,
            "grad/norm": 0.4 + rng.uniform(0, 0.3), "lr": 1e-6, "groups/zero_var_frac": 0.55 - 0.25 * t,
            "reward/errors": 0, "reward/timeouts": 1 if step == 17 else 0,
            "rollout/tokens_per_s": 44 + rng.uniform(-4, 4), "train/tokens_per_s": 150 + rng.uniform(-10, 10),
            "time/rollout_s": 20.1 + rng.uniform(-1, 1), "time/train_s": 8.2 + rng.uniform(-0.5, 0.5),
            "time/step_s": 28.5 + rng.uniform(-1, 1), "mem/peak_rss_mb": 2100 + 4 * step,
            "curriculum/level": int(step > 25),
        }
        if beta > 0:
            row["kl/ref"] = 0.0005 + 0.02 * t
        metrics.append(row)
        for i in range(4):
            correct = rng.random() < reward
            ref = str(10 + step + i)
            think = f"Add {step} and {10 + i}."
            if rng.random() < t:
                think += " Wait, let me check that again." if i != 3 else " 等等，验证一下。"
            ans = ref if correct else str(int(ref) + 2)
            samples.append({"step": step, "kind": "train", "problem_id": f"train-{step}-{i}",
                            "question": f"What is {step} + {10 + i}?", "completion": f"{think}</think> {ans}",
                            "reference": ref, "reward": float(correct),  # the trainer logs no "extracted" here
                            "correct": correct, "format_ok": True})
    for step in eval_steps:
        if step > steps or (not finished and step == steps):
            continue
        t = step / 40
        label = "before" if step == 0 else ("after" if step == steps else "periodic")
        acc = 0.12 + 0.3 * t
        metrics.append({"kind": "eval", "step": step, "label": label, "eval/accuracy": acc,
                        "eval/format_rate": min(1.0, 0.3 + 0.65 * t), "eval/n": 50, "eval/pass@1": acc,
                        "eval/pass@8": min(1.0, acc + 0.25), "eval/maj@8": acc + 0.05})
        for pid, question, ref in HELDOUT:
            correct = t >= 0.5 or pid == "heldout-0"
            completion = _completion(pid, t, correct, ref)
            samples.append({"step": step, "kind": "eval", "problem_id": pid, "question": question,
                            "completion": completion, "reference": ref,
                            "extracted": ref if correct else None, "reward": 1.0 if correct else 0.0,
                            "correct": correct, "format_ok": "</think>" in completion})
    metrics.sort(key=lambda m: (m["step"], m["kind"] == "train"))  # eval at step s logs before train step s
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics), encoding="utf-8")
    (run / "samples.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples),
                                       encoding="utf-8")
    if finished:
        (run / "summary.json").write_text(json.dumps({
            "heldout_before": 0.12, "heldout_after": 0.42, "heldout_n": 50, "steps": steps,
            "wall_s": 28.5 * steps + 2.0,
            "s_per_step": 28.6, "rollout_tokens_per_s": 44.1, "peak_rss_mb": 2100 + 4 * steps}))
        (run / "eval" / "gsm8k-mini.json").write_text(json.dumps({
            "model": str(run / "final"), "task": "gsm8k-mini",
            "metrics": {"pass@1": 0.41, "pass@8": 0.66, "maj@8": 0.47, "format_rate": 0.93}}))
    return run


@pytest.fixture
def make_run(tmp_path):
    """make_run(name, parent="", **kw) -> Path of a fixture run directory under tmp_path/parent."""
    return lambda name="run", parent="", **kw: write_run(tmp_path / parent, name, **kw)


@pytest.fixture(scope="module")
def grpo_report(tmp_path_factory) -> Path:
    """report.html of one finished 40-step run, built once per module: drawing the figures is the
    slow part (a few seconds on a shared 2-core machine), and these tests only read the page."""
    from reasonrl.report import write_report

    return write_report(write_run(tmp_path_factory.mktemp("report"), "grpo"))
