"""Running `reasonrl train` on N processes the way a user does (`--launcher accelerate`), for the
multi-process tests (test_distributed.py: DDP, test_fsdp.py: FSDP)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

import reasonrl

# model.bf16=off: "auto" turns on bf16 autocast on CPUs with native bf16 (AVX512-BF16/AMX), where FSDP's
# bf16 MixedPrecisionPolicy (every parameter cast) and one process's autocast (norms and softmax in fp32)
# round differently by ~1e-3 relative; equality at 1e-5 is a property of fp32 only, on every CPU.
# decode_layout=auto, rollout_correction=none: the default job's fp16 decode copies are x86-only and ask for
# sampler logprobs; these tests compare the trainers across processes, not the sampler.
ARGS = ["model.bf16=off", "rollout.decode_layout=auto", "algo.rollout_correction=none", "task.name=chain_sum", "task.num_train=20", "task.num_heldout=4", "rollout.num_generations=4",
        "rollout.prompts_per_step=2", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
        "reward.funcs=[tiny_rewards:length_parity]", "train.save_every=1", "train.keep_checkpoints=3",
        "train.eval_before_after=false", "train.log_samples_every=1", "optim.lr=1e-3", "optim.micro_batch_size=3", "train.max_minutes=null"]


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / f"step_{step:06d}" / "model.safetensors")


def train_lines(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in l]


def launch(args: list[str], nproc: int, reward_dir: Path, accelerate_config: str | None = None) -> subprocess.CompletedProcess:
    # this checkout's reasonrl (not whatever is installed) and the test's reward module, in every rank
    src = str(Path(reasonrl.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(reward_dir), src]), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "reasonrl", "train", "--launcher", "accelerate", "--num-processes", str(nproc), *args]
    if accelerate_config:
        cmd[6:6] = ["--accelerate-config", accelerate_config]
    # 900 s: a ZeRO start-up alone took over 300 s on a 2-core machine shared by six jobs (load average 15)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def optimizer_state(run: Path, step: int) -> dict:
    return torch.load(run / "checkpoints" / f"step_{step:06d}" / "trainer_state.pt", weights_only=False)["optimizer"]


def assert_same_training(ref: Path, other: Path, steps: list[int], atol: float = 1e-5) -> None:
    """`other` (a sharded or multi-process run) trained like `ref` (one process): same rewards, gradient
    norms, full weights and full AdamW state, in the plain checkpoint format, at each of `steps`."""
    a_lines = {l["step"]: l for l in train_lines(ref)}
    for l in train_lines(other):
        a = a_lines[l["step"]]
        assert a["reward/mean"] == l["reward/mean"] and a["train/num_seqs"] == l["train/num_seqs"]
        assert abs(a["grad/norm"] - l["grad/norm"]) < atol * max(1.0, a["grad/norm"]), \
            f'step {l["step"]}: grad/norm {l["grad/norm"]!r} vs one process {a["grad/norm"]!r}'
    for s in steps:
        w = weights(other, s)
        for k, v in weights(ref, s).items():
            torch.testing.assert_close(w[k], v, rtol=0, atol=atol)
        o_ref, o = optimizer_state(ref, s), optimizer_state(other, s)
        assert sorted(o["state"]) == sorted(o_ref["state"])
        for i, st in o_ref["state"].items():
            assert float(o["state"][i]["step"]) == float(st["step"])
            for k in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(o["state"][i][k], st[k], rtol=0, atol=atol)
        strip = lambda g: {k: v for k, v in g.items() if k != "params"}  # noqa: E731
        assert [strip(g) for g in o["param_groups"]] == [strip(g) for g in o_ref["param_groups"]]
