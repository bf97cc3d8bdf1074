"""Rewards and rollouts on Ray actors: a local Ray instance on this machine (`ray.init(num_cpus=2)`), a tiny model.

The reward function logs the process it ran in, so the test can tell a Ray worker from the trainer.
~40 s on 2 cores, most of it Ray's start-up.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import reasonrl
from reasonrl.config import load_config
from reasonrl.train.loop import main

pytestmark = pytest.mark.dist   # a local Ray cluster: several processes

ray = pytest.importorskip("ray")

REWARDS = '''
import os, time

def parity_pid(completions, **columns):
    """Length parity (mixed rewards even for a random model), and which process scored it."""
    with open(os.environ["REASONRL_TEST_PID_LOG"], "a") as f:
        f.write(f"{os.getpid()} {os.getppid()}\\n")
    return [float(len(c) % 2) for c in completions]

def boom(completions, **columns):
    raise RuntimeError("a broken reward")

def hang(completions, **columns):
    time.sleep(60)
'''


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """Ray on this machine, started after the reward module is importable (workers inherit the env)."""
    d = tmp_path_factory.mktemp("ray_rewards")
    (d / "ray_rewards.py").write_text(REWARDS)
    src = str(Path(reasonrl.__file__).resolve().parents[1])  # this checkout, in the workers too
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(d), src]))
        mp.setenv("REASONRL_TEST_PID_LOG", str(d / "pids.log"))
        mp.syspath_prepend(str(d))
        ray.init(num_cpus=2, include_dashboard=False)
        try:
            yield d / "pids.log"
        finally:
            ray.shutdown()


def _scorers(log: Path) -> set[tuple[int, int]]:
    """(pid, parent pid) of every process that ran the reward since the last call; clears the log."""
    pairs = {tuple(map(int, l.split())) for l in log.read_text().splitlines()} if log.exists() else set()
    log.unlink(missing_ok=True)
    return pairs


def test_pool_scores_on_actors_and_counts_failures(local_ray):
    from reasonrl.rewards.ray_pool import RayRewardPool

    completions = ["a", "bb", "ccc", "dddd", "eeeee"]
    with RayRewardPool(["ray_rewards:parity_pid", "ray_rewards:boom", "ray_rewards:hang"], [1.0, 1.0, 1.0],
                       timeout_s=1.0, num_workers=2, cpus_per_worker=0.5) as pool:
        res = pool(completions, answer=["x"] * 5, lenient=True)
        assert res.total == [1.0, 0.0, 1.0, 0.0, 1.0]               # boom and hang score 0, parity counts
        assert res.per_func["ray_rewards:boom"] == [0.0] * 5
        assert (res.errors, res.timeouts) == (2, 2)                  # once per actor chunk
        parents = {ppid for _, ppid in _scorers(local_ray)}
        assert parents == set(pool.pids) and os.getpid() not in pool.pids   # each actor's reward subprocess
    with pytest.raises(ValueError, match="nope"):
        RayRewardPool(["nope"], num_workers=1, cpus_per_worker=0.5)


def test_training_with_ray_rollouts_and_rewards_equals_local(tmp_path, tiny_model_dir, local_ray, monkeypatch):
    """Rollouts on 2 Ray actors and rewards on 2 more train exactly like one process (same seeds)."""
    from reasonrl.rollout.ray_engine import RayRolloutEngine

    generators, generate = set(), RayRolloutEngine.generate
    monkeypatch.setattr(RayRolloutEngine, "generate", lambda self, *a: generators.update(self.pids()) or generate(self, *a))
    args = [f"model.path={tiny_model_dir}", "task.num_train=20", "task.num_heldout=4", "rollout.num_generations=4",
            "rollout.prompts_per_step=2", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
            "reward.funcs=[ray_rewards:parity_pid]", "train.max_steps=2", "train.eval_before_after=false",
            "optim.lr=1e-3", "train.max_minutes=null",
            # fp32 as in tests/launch.py: on a native-bf16 CPU `auto` decodes a bf16 copy, which rounded differently in
            # the actors than in the trainer (AMX Xeon: step-2 reward 0.5 vs 0.375)
            "model.bf16=off"]
    main(load_config(None, args + [f"run_dir={tmp_path / 'ray'}", "ray.address=local", "ray.num_reward_workers=2",
                                   "ray.num_rollout_workers=2", "ray.cpus_per_worker=0.5"]))
    on_ray = _scorers(local_ray)
    main(load_config(None, args + [f"run_dir={tmp_path / 'local'}", "rollout.seed_per_prompt=true"]))
    local = _scorers(local_ray)

    assert {ppid for _, ppid in local} == {os.getpid()}            # the trainer's own reward worker
    assert on_ray and os.getpid() not in {ppid for _, ppid in on_ray}
    assert len({ppid for _, ppid in on_ray}) == 2                  # both reward actors scored
    assert len(generators) == 2 and os.getpid() not in generators  # two rollout actors generated
    read = lambda run: [json.loads(l) for l in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    for a, b in zip(read("ray"), read("local"), strict=True):
        assert a["reward/mean"] == b["reward/mean"] and a.get("loss/pg") == b.get("loss/pg")
        assert a["reward/errors"] == b["reward/errors"] == 0
    assert any("loss/pg" in l for l in read("ray"))
    w_ray = load_file(tmp_path / "ray/checkpoints/step_000002/model.safetensors")
    w_local = load_file(tmp_path / "local/checkpoints/step_000002/model.safetensors")
    assert all(torch.equal(w_ray[k], w_local[k]) for k in w_local)
