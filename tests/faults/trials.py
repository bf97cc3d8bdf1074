"""Kill -9 trials: run the trainer in a child process, SIGKILL it (at a random time or at an injected
fault point), `--resume`, and compare with an uninterrupted run.

Children are forked from a forkserver that has already imported the trainer: a trial then costs a tiny
model's few steps, not torch's import (tens of seconds on a loaded 2-core machine). The forkserver runs
no torch op before forking, so the children's thread pools start clean.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

FAULT_REWARD = '''
from reasonrl.train.faults import fault_point


def parity_with_fault(completions, **columns):
    """length parity (mixed rewards, so updates happen); REASONRL_FAULT=in_reward:N:kill_parent fires here."""
    fault_point("in_reward")
    return [float(len(c) % 2) for c in completions]
'''


def _child(cfg, resume, env: dict) -> None:
    os.environ.update(env)
    if "REASONRL_FAULT" not in env:
        os.environ.pop("REASONRL_FAULT", None)
    from reasonrl.train import loop

    loop.write_report_quietly = lambda run_dir: None  # the HTML report (matplotlib, ~15 s here) is not under test
    loop.main(cfg, resume=resume)


@dataclass
class Outcome:
    exitcode: int | None   # -9: killed; 0: ran to the end
    seconds: float


class Runner:
    """Starts trainer children; `env` (PYTHONPATH for the reward worker, ...) is applied in each child."""

    def __init__(self, env: dict):
        self.ctx = mp.get_context("forkserver")
        self.ctx.set_forkserver_preload(["reasonrl.train.loop"])
        self.env = env

    def run(self, cfg, *, resume=None, fault: str | None = None, kill_after_s: float | None = None,
            limit_s: float = 300) -> Outcome:
        env = dict(self.env, **({"REASONRL_FAULT": fault} if fault else {}))
        p = self.ctx.Process(target=_child, args=(cfg, str(resume) if resume else None, env))
        t0 = time.perf_counter()
        p.start()
        p.join(kill_after_s if kill_after_s is not None else limit_s)
        if p.is_alive():
            p.kill()  # SIGKILL: no handler, no flush, no atexit
            p.join()
        return Outcome(p.exitcode, time.perf_counter() - t0)


def train_steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(l)["step"] for l in lines if json.loads(l)["kind"] == "train"]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from reasonrl.train.checkpoint import complete_checkpoint

    return load_file(complete_checkpoint(run_dir) / "model.safetensors")


def check_against(run_dir: Path, ref_dir: Path, steps: int) -> list[str]:
    """What differs from the uninterrupted run (empty = the trial survived)."""
    problems = []
    got = train_steps(run_dir)
    if got != list(range(1, steps + 1)):
        problems.append(f"metrics steps {got}")
    lines = (run_dir / "samples.jsonl").read_text().splitlines()
    if len(set(lines)) != len(lines):
        problems.append(f"{len(lines) - len(set(lines))} duplicate sample lines")
    if lines != (ref_dir / "samples.jsonl").read_text().splitlines():
        problems.append("samples.jsonl differs from the uninterrupted run")
    ref, new = final_weights(ref_dir), final_weights(run_dir)
    worst = max((ref[k] - new[k]).abs().max().item() for k in ref)
    if worst > 1e-6:
        problems.append(f"weights differ by up to {worst:.2e}")
    return problems


def fresh(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
