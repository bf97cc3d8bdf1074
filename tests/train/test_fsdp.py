"""Sharded training (FSDP2) on this CPU: 2 gloo processes holding half the weights each must train like
1 process, and FSDP checkpoints must move freely between FSDP and one process (both directions).

Runs the user's command with the shipped config (configs/accelerate/cpu_fsdp.yaml). ~60 s on 2 cores.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from launch import ARGS, assert_same_training, launch, train_lines

from reasonrl.config import load_config
from reasonrl.train.cli import DEFAULT_JOB
from reasonrl.train.loop import main

FSDP_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "accelerate" / "cpu_fsdp.yaml")


@pytest.mark.dist
def test_fsdp_two_processes_equal_one_and_checkpoints_cross_over(tmp_path, tiny_model_dir, parity_reward):
    common = ARGS + [f"model.path={tiny_model_dir}", "rollout.seed_per_prompt=true", "optim.warmup_steps=2"]
    one, two, mixed = tmp_path / "one", tmp_path / "two", tmp_path / "mixed"
    main(load_config(DEFAULT_JOB, common + [f"run_dir={one}", "train.max_steps=3"]))
    assert all("loss/pg" in l for l in train_lines(one)), "a step without an update would prove nothing"
    # a dropped group leaves one rank with fewer micro-batches: the zero-loss dummies must have run
    assert any(l["train/num_seqs"] < 8 for l in train_lines(one)[:2])

    r = launch(common + [f"run_dir={two}", "train.max_steps=2"], 2, parity_reward, FSDP_CONFIG)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [l["step"] for l in train_lines(two)] == [1, 2]              # only rank 0 logged
    assert_same_training(one, two, [1, 2])   # full weights and AdamW state, not a shard
    # what sharding buys: rank 0 holds half the weights and AdamW moments (every tensor splits in two)
    held = train_lines(two)[-1]["mem/held_state_mb"] / train_lines(one)[1]["mem/held_state_mb"]
    assert 0.49 < held < 0.52, held

    main(load_config(two / "config.yaml", ["train.max_steps=3"]), resume=two)   # FSDP -> 1 process
    assert_same_training(one, two, [3])

    main(load_config(DEFAULT_JOB, common + [f"run_dir={mixed}", "train.max_steps=1"]))
    r = launch(["--resume", str(mixed), "train.max_steps=3"], 2, parity_reward, FSDP_CONFIG)   # 1 process -> FSDP
    assert r.returncode == 0, r.stderr[-3000:]
    assert [l["step"] for l in train_lines(mixed)] == [1, 2, 3]
    assert_same_training(one, mixed, [2, 3])


def test_unsupported_fsdp_settings_fail_in_one_line(tiny_model_dir, monkeypatch):
    from peft import LoraConfig, get_peft_model

    from reasonrl.model import load_model
    from reasonrl.train.distributed import Dist
    from reasonrl.train.parallel import STRATEGIES
    from reasonrl.train.parallel.fsdp import shard_model

    model = load_model(str(tiny_model_dir), "float32")[0]
    monkeypatch.setenv("FSDP_VERSION", "1")
    with pytest.raises(SystemExit, match="FSDP1 is not supported"):
        shard_model(model, bf16=False)
    monkeypatch.setenv("FSDP_VERSION", "2")
    lora = get_peft_model(model, LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    for mode in ("fsdp", "zero"):
        with pytest.raises(SystemExit, match="LoRA"):
            STRATEGIES[mode](Dist(), max_grad_norm=1.0).prepare(None, lora, None, None, False)
