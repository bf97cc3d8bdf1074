"""Rollouts and rewards on a Ray cluster of several nodes, as `reasonrl train --ray-address HEAD` runs them.

`ray.cluster_utils.Cluster` starts a head node with no CPUs (it schedules no actor) and two worker nodes,
each with its own raylet and object store, on this machine: Ray's own way to test multi-node code on one
host. What crosses machines on a real cluster crosses nodes here: the trainer connects to the head by
address as a driver, every actor is placed on a worker node, the weights reach the rollout actors through
the object store, and the reward modules are imported where the actors run. What it cannot show is a
slow or lossy network between the nodes. Which node an actor runs on is read from its process's
RAY_RAYLET_PID (the raylet that started it). ~30 s on 2 cores.
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
from ray._private import ray_constants  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

REWARDS = '''
import os

def parity_node(completions, **columns):
    """Length parity (mixed rewards even for a random model), and the raylet of the node that scored it."""
    with open(os.environ["REASONRL_TEST_NODE_LOG"], "a") as f:
        f.write(os.environ.get("RAY_RAYLET_PID", "none") + "\\n")
    return [float(len(c) % 2) for c in completions]
'''


def _raylet(pid: int) -> int | None:
    """The raylet pid in a local process's environment: which node started it."""
    env = dict(kv.split("=", 1) for kv in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in kv)
    return int(env["RAY_RAYLET_PID"]) if "RAY_RAYLET_PID" in env else None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(head address, raylet pids of the two worker nodes, log of the nodes that scored rewards)."""
    if ray.is_initialized():
        ray.shutdown()  # another module's local instance: this test is a driver of its own cluster
    d = tmp_path_factory.mktemp("cluster_rewards")
    (d / "cluster_rewards.py").write_text(REWARDS)
    src = str(Path(reasonrl.__file__).resolve().parents[1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(d), src]))   # the nodes' workers inherit it
        mp.setenv("REASONRL_TEST_NODE_LOG", str(d / "nodes.log"))
        mp.syspath_prepend(str(d))
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        workers = [c.add_node(num_cpus=2) for _ in range(2)]
        c.wait_for_nodes()
        raylets = {n.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid for n in workers}
        try:
            yield c.address, raylets, d / "nodes.log"
        finally:
            if ray.is_initialized():
                ray.shutdown()
            c.shutdown()


def _scored_on(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


CODE_OK = "<answer>```python\ndef sq(x):\n    return x * x\n```</answer>"
CODE_BAD = "<answer>```python\ndef sq(x):\n    return x + x\n```</answer>"


def test_code_rewards_run_on_actors_on_both_worker_nodes(cluster):
    from reasonrl.rewards.ray_pool import RayRewardPool

    address, raylets, log = cluster
    tests = [["assert sq(3) == 9", "assert sq(0) == 0"]] * 4
    # 2 CPUs per actor on nodes of 2 CPUs: one actor per worker node, none on the head
    with RayRewardPool(["code", "cluster_rewards:parity_node"], [1.0, 0.0], timeout_s=5.0, num_workers=2,
                       address=address, cpus_per_worker=2) as pool:
        res = pool([CODE_OK, CODE_BAD, CODE_BAD, CODE_OK], tests=tests, answer=[""] * 4, lenient=True)
        assert {_raylet(p) for p in pool.pids} == raylets
    assert res.per_func["code"] == [1.0, 0.5, 0.5, 1.0]      # x + x passes sq(0) == 0 only
    assert res.total == [1.0, 0.5, 0.5, 1.0] and (res.errors, res.timeouts) == (0, 0)
    assert {int(r) for r in _scored_on(log)} == raylets      # each chunk scored on its actor's node
    assert not ray.is_initialized()                          # the pool connected, so it disconnected


def test_training_across_nodes_equals_local(tmp_path, tiny_model_dir, cluster, monkeypatch):
    """2 rollout actors and 2 reward actors on the worker nodes train exactly like one process."""
    from reasonrl.rollout.ray_engine import RayRolloutEngine

    address, raylets, log = cluster
    rollout_nodes, generate = set(), RayRolloutEngine.generate
    monkeypatch.setattr(RayRolloutEngine, "generate",
                        lambda self, *a: rollout_nodes.update(_raylet(p) for p in self.pids()) or generate(self, *a))
    args = [f"model.path={tiny_model_dir}", "task.num_train=20", "task.num_heldout=4", "rollout.num_generations=4",
            "rollout.prompts_per_step=2", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
            "reward.funcs=[cluster_rewards:parity_node]", "train.max_steps=2", "train.eval_before_after=false",
            "optim.lr=1e-3", "train.max_minutes=null",
            # fp32 as in tests/launch.py: on a native-bf16 CPU `auto` decodes a bf16 copy, which rounded differently in
            # the actors than in the trainer (AMX Xeon: step-2 reward 0.5 vs 0.375)
            "model.bf16=off"]
    main(load_config(None, args + [f"run_dir={tmp_path / 'cluster'}", f"ray.address={address}",
                                   "ray.num_reward_workers=2", "ray.num_rollout_workers=2", "ray.cpus_per_worker=1"]))
    reward_nodes = {int(r) for r in _scored_on(log)}
    main(load_config(None, args + [f"run_dir={tmp_path / 'local'}", "rollout.seed_per_prompt=true"]))
    assert _scored_on(log) == ["none", "none"]               # the local run scored outside Ray, once a step

    assert rollout_nodes and rollout_nodes <= raylets and reward_nodes <= raylets   # none on the head or in the trainer
    assert rollout_nodes | reward_nodes == raylets                # 4 one-CPU actors fill both 2-CPU nodes
    read = lambda run: [json.loads(l) for l in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    for a, b in zip(read("cluster"), read("local"), strict=True):
        assert a["reward/mean"] == b["reward/mean"] and a.get("loss/pg") == b.get("loss/pg")
    w_cluster = load_file(tmp_path / "cluster/checkpoints/step_000002/model.safetensors")
    w_local = load_file(tmp_path / "local/checkpoints/step_000002/model.safetensors")
    assert all(torch.equal(w_cluster[k], w_local[k]) for k in w_local)
