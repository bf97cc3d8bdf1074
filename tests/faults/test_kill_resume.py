"""SIGKILL the trainer at 20 seeded moments, `--resume`, and demand the uninterrupted run's result:
the same final weights, every step in metrics.jsonl exactly once, samples.jsonl line for line the same.

Half the kills come from fault points (REASONRL_FAULT, see reasonrl/train/faults.py): after the optimizer
step, after the step's log lines, inside a checkpoint write (files written, manifest not yet), between the
rename and the `latest` marker, and inside the reward worker. The other half land at a random time.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

import reasonrl
from reasonrl.config import load_config
from reasonrl.train.checkpoint import complete_checkpoint

from faults.trials import FAULT_REWARD, Runner, check_against, fresh

pytestmark = pytest.mark.faults

STEPS = 4
INJECTED = ["after_optimizer_step:1", "after_optimizer_step:3", "after_step_logged:2", "after_step_logged:4",
            "checkpoint_files_written:1", "checkpoint_files_written:3", "checkpoint_files_written:5",  # 5 = end-of-run save
            "checkpoint_renamed:2", "checkpoint_renamed:4", "in_reward:3:kill_parent"]
RANDOM_KILLS = 10


def _cfg(run: Path, model_dir: Path):
    return load_config(None, [
        f"run_dir={run}", f"model.path={model_dir}", "task.name=chain_sum", "task.num_train=20", "task.num_heldout=4",
        "rollout.num_generations=4", "rollout.prompts_per_step=2", "rollout.max_new_tokens=8",
        "rollout.temperature=1.0", "reward.funcs=[tiny_faults:parity_with_fault]", f"train.max_steps={STEPS}",
        "train.save_every=1", "train.keep_checkpoints=2", "train.eval_before_after=false",
        "train.log_samples_every=1", "train.max_minutes=null", "optim.lr=1e-3", "optim.micro_batch_size=3",
        "train.threads=1",  # two trainers' thread pools on 2 loaded cores spin against each other
    ])


@pytest.fixture
def runner(tmp_path, monkeypatch):
    d = tmp_path / "rewards"
    d.mkdir()
    (d / "tiny_faults.py").write_text(FAULT_REWARD)
    monkeypatch.syspath_prepend(str(d))
    src = str(Path(reasonrl.__file__).resolve().parents[1])  # this checkout's code, in the reward worker too
    return Runner({"PYTHONPATH": f"{src}:{d}", "REASONRL_WORKER_WARM": "no"})


def test_twenty_kills_then_resume_equal_an_uninterrupted_run(tmp_path, tiny_model_dir, runner):
    ref = tmp_path / "ref"
    done = runner.run(_cfg(ref, tiny_model_dir))
    assert done.exitcode == 0
    rng = random.Random(21)
    # later trials run faster than the first (warm caches): kills past ~0.7 of its time mostly hit a finished run
    plans = [(f, None) for f in INJECTED] + [(None, rng.uniform(0.1, 0.7) * done.seconds) for _ in range(RANDOM_KILLS)]
    survived, log = 0, []
    for i, (fault, kill_s) in enumerate(plans):
        run = tmp_path / f"trial{i:02d}"
        killed = runner.run(_cfg(run, tiny_model_dir), fault=fault, kill_after_s=kill_s)
        if fault:
            assert killed.exitcode == -9, f"{fault}: the fault point never fired (exit {killed.exitcode})"
        if complete_checkpoint(run) is None:  # killed before the first checkpoint: the user starts again
            fresh(run)
            again = runner.run(_cfg(run, tiny_model_dir))
        else:
            again = runner.run(load_config(run / "config.yaml"), resume=run)
        problems = [f"resume exit {again.exitcode}"] if again.exitcode != 0 else check_against(run, ref, STEPS)
        survived += not problems
        log.append(f"trial {i:2d} {fault or f'kill at {kill_s:.1f}s'}: exit {killed.exitcode} -> "
                   f"{'ok' if not problems else '; '.join(problems)}")
    print("\n".join(log) + f"\nkill trials survived {survived}/{len(plans)}", file=sys.stderr)
    assert sum("exit -9" in l for l in log[len(INJECTED):]) >= 3, "the random kills all came too late"
    assert survived == len(plans), "\n".join(log)
