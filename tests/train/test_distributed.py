"""Data-parallel training on this CPU: 2 gloo processes must train exactly like 1 process.

The 2-process run goes through the user's command (`reasonrl train --launcher accelerate --num-processes 2`),
so accelerate's launcher, gloo and the summed-gradient all-reduce are all exercised. ~45 s on 2 cores.
"""
from __future__ import annotations

import pytest
import torch
from launch import ARGS, launch as _launch, train_lines as _train_lines, weights as _weights

from reasonrl.config import load_config
from reasonrl.train.distributed import Dist
from reasonrl.train.cli import DEFAULT_JOB
from reasonrl.train.loop import main


@pytest.mark.dist
def test_two_processes_equal_one_and_resume_on_one(tmp_path, tiny_model_dir, parity_reward):
    """Same global batch (B=2, G=4) and seed: 2 processes (1 prompt each) give 1 process's weights after
    2 steps; the 2-process checkpoint then resumes on 1 process and matches step 3; only rank 0 wrote."""
    common = ARGS + [f"model.path={tiny_model_dir}"]
    one, two = tmp_path / "one", tmp_path / "two"
    # the CLI (the 2-process run) starts from the default job file; the 1-process reference must too
    main(load_config(DEFAULT_JOB, common + [f"run_dir={one}", "train.max_steps=3", "rollout.seed_per_prompt=true"]))
    r = _launch(common + [f"run_dir={two}", "train.max_steps=2"], 2, parity_reward)
    assert r.returncode == 0, r.stderr[-3000:]

    lines_one, lines_two = _train_lines(one), _train_lines(two)
    assert [l["step"] for l in lines_two] == [1, 2]            # rank 1 logged nothing: no duplicate lines
    assert all("loss/pg" in l for l in lines_one[:3]), "a step without an update would prove nothing"
    assert "kl/rollout_vs_train" not in lines_one[0]              # logprobs not asked for: not computed
    for a, b in zip(lines_one, lines_two):                     # identical samples, rewards and loss
        assert a["reward/mean"] == b["reward/mean"] and a["len/response_mean"] == b["len/response_mean"]
        assert a["train/num_seqs"] == b["train/num_seqs"]
        assert abs(a["loss/pg"] - b["loss/pg"]) < 1e-6 and abs(a["grad/norm"] - b["grad/norm"]) < 1e-5
    for k, w in _weights(one, 2).items():
        torch.testing.assert_close(_weights(two, 2)[k], w, rtol=0, atol=1e-5)
    assert len((two / "samples.jsonl").read_text().splitlines()) == 2 * 8
    assert len(list((two / "tb").glob("events.*"))) == 1
    assert load_config(two / "config.yaml").rollout.seed_per_prompt is True  # resolved and saved for resumes

    main(load_config(two / "config.yaml", ["train.max_steps=3"]), resume=two)  # 2 processes -> 1
    assert [l["step"] for l in _train_lines(two)] == [1, 2, 3]
    assert _train_lines(two)[2]["reward/mean"] == lines_one[2]["reward/mean"]
    for k, w in _weights(one, 3).items():
        torch.testing.assert_close(_weights(two, 3)[k], w, rtol=0, atol=1e-5)


def test_shards_keep_whole_groups_in_global_order():
    shards = [Dist(r, 3).shard(list(range(7))) for r in range(3)]
    assert shards == [[0, 1], [2, 3], [4, 5, 6]]
    assert Dist(0, 1).shard([1, 2]) == [1, 2]

