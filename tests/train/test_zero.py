"""DeepSpeed ZeRO-2/3 on this CPU (gloo), through the user's command and the shipped accelerate configs:
2 ZeRO-3 processes train like 1 process; a ZeRO-3 checkpoint resumes on 1 process; a 1-process checkpoint
resumes under ZeRO-2. Weights AND AdamW state are compared. ~2 minutes on 2 cores (the first DeepSpeed
run on a machine also builds a small C++ op, ~40 s)."""
from __future__ import annotations

from pathlib import Path

import pytest
from launch import ARGS, assert_same_training, launch, train_lines

from reasonrl.config import load_config
from reasonrl.train.cli import DEFAULT_JOB
from reasonrl.train.loop import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"


@pytest.mark.dist
def test_zero3_equals_one_process_and_checkpoints_cross_over(tmp_path, tiny_model_dir, parity_reward):
    # warm-up 2: the LR schedule must drive DeepSpeed's copy of the optimizer groups too
    common = ARGS + [f"model.path={tiny_model_dir}", "rollout.seed_per_prompt=true", "optim.warmup_steps=2"]
    one, z3, mixed = tmp_path / "one", tmp_path / "z3", tmp_path / "mixed"
    main(load_config(DEFAULT_JOB, common + [f"run_dir={one}", "train.max_steps=3"]))
    assert all("loss/pg" in l for l in train_lines(one)), "a step without an update would prove nothing"
    assert any(l["train/num_seqs"] < 8 for l in train_lines(one)[:2])  # a dropped group: dummies ran

    r = launch(common + [f"run_dir={z3}", "train.max_steps=2"], 2, parity_reward, str(CONFIGS / "cpu_zero3.yaml"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert [l["step"] for l in train_lines(z3)] == [1, 2]
    assert_same_training(one, z3, [1, 2])
    # rank 0 holds half the weights + DeepSpeed's half fp32 master copy + half the moments: 2/3 of 1 process
    held = train_lines(z3)[-1]["mem/held_state_mb"] / train_lines(one)[1]["mem/held_state_mb"]
    assert 0.64 < held < 0.69, held

    main(load_config(z3 / "config.yaml", ["train.max_steps=3"]), resume=z3)        # ZeRO-3 -> 1 process
    assert_same_training(one, z3, [3])

    main(load_config(DEFAULT_JOB, common + [f"run_dir={mixed}", "train.max_steps=1"]))
    r = launch(["--resume", str(mixed), "train.max_steps=3"], 2, parity_reward, str(CONFIGS / "cpu_zero2.yaml"))
    assert r.returncode == 0, r.stderr[-3000:]                                      # 1 process -> ZeRO-2
    assert [l["step"] for l in train_lines(mixed)] == [1, 2, 3]
    assert_same_training(one, mixed, [2, 3])
    # ZeRO-2: whole weights + half master copy + half moments = 5/6 of 1 process
    held = train_lines(mixed)[-1]["mem/held_state_mb"] / train_lines(one)[1]["mem/held_state_mb"]
    assert 0.81 < held < 0.86, held


@pytest.mark.parametrize("env, message", [
    ({"ACCELERATE_DEEPSPEED_ZERO_STAGE": "1"}, "stage 1 is not supported"),
    ({"ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE": "cpu"}, "offload_optimizer is not supported"),
])
def test_unsupported_deepspeed_settings_fail_in_one_line(monkeypatch, env, message):
    from reasonrl.train.parallel.zero import ds_config

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit, match=message):
        ds_config(2, 1.0, False)


def test_deepspeed_config_takes_the_trainers_fields(monkeypatch):
    from reasonrl.train.parallel.zero import ds_config

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2")
    monkeypatch.setenv("ACCELERATE_GRADIENT_CLIPPING", "5.0")   # the accelerate file's value loses to ours
    c = ds_config(4, 0.5, True)
    assert c["zero_optimization"]["stage"] == 2 and c["gradient_clipping"] == 0.5
    assert c["train_batch_size"] == 4 and c["gradient_accumulation_steps"] == 1 and c["bf16"] == {"enabled": True}
