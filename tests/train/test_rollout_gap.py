"""kl/rollout_vs_train: ~0 when the sampler is the trained model, > 0 when it is a cheaper copy."""
from __future__ import annotations

import json

from reasonrl.config import load_config
from reasonrl.train.loop import main


def _gaps(tmp_path, tiny_model_dir, run, *extra):
    args = [f"run_dir={tmp_path / run}", f"model.path={tiny_model_dir}", "task.num_train=20", "task.num_heldout=4",
            "rollout.num_generations=4", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
            "reward.funcs=[tiny_rewards:length_parity]", "train.max_steps=1", "train.eval_before_after=false",
            "train.max_minutes=null", "optim.lr=1e-3", *extra]
    main(load_config(None, args))
    lines = [json.loads(l) for l in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
    assert any("loss/pg" in l for l in lines), "no update: the metric would not be computed at all"
    return [l["kl/rollout_vs_train"] for l in lines if "kl/rollout_vs_train" in l]


def test_gap_is_zero_for_the_same_model_and_positive_for_a_bf16_copy(tmp_path, tiny_model_dir, parity_reward):
    same = _gaps(tmp_path, tiny_model_dir, "fp32", "rollout.return_logprobs=true", "model.bf16=off")
    assert same and all(0.0 <= g < 1e-9 for g in same)
    bf16 = _gaps(tmp_path, tiny_model_dir, "bf16", "rollout.return_logprobs=true", "model.bf16=on")
    assert bf16 and min(bf16) > 1e-8   # measured ~3e-7: the bf16 rollout copy samples from a slightly other policy
