"""Checkpoints under damage: a corrupt latest one falls back to the previous complete one, a planted
malicious pickle is refused without running, a full disk leaves the previous checkpoint intact."""
from __future__ import annotations

import json
import os
import random
import shutil

import numpy as np
import pytest
import torch

from reasonrl.train import faults
from reasonrl.train.checkpoint import (CheckpointError, complete_checkpoint, load_trainer_state, rewind_logs,
                                       rng_state, save_checkpoint, set_rng_state, verify, write_manifest)

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from reasonrl.model import load_model

    model, tok, _ = load_model(tiny_model_dir)
    return model, tok


def _save(run, step, tiny, **state):
    model, tok = tiny
    return save_checkpoint(run, step, model=model, tokenizer=tok, config_yaml="x: 1\n", keep=3,
                           trainer_state={"step": step, "rng": rng_state(), **state})


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {  # what a kill, a power cut or a half-finished `rm -r` can leave behind
    "truncated weights": lambda c: os.truncate(c / "model.safetensors", 100),
    "flipped byte, same size": lambda c: _flip_byte(c / "model.safetensors"),
    "trainer state deleted": lambda c: (c / "trainer_state.pt").unlink(),
    "manifest deleted (write never finished)": lambda c: (c / "manifest.json").unlink(),
    "manifest garbage": lambda c: (c / "manifest.json").write_text("{not json"),
    "directory deleted, latest still names it": lambda c: shutil.rmtree(c),
    "stray file added": lambda c: (c / "extra.bin").write_bytes(b"x"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_latest_falls_back_to_previous(tmp_path, tiny, capsys, damage):
    run = tmp_path / "run"
    _save(run, 1, tiny)
    second = _save(run, 2, tiny)
    assert (run / "checkpoints" / "latest").read_text() == "step_000002"
    DAMAGE[damage](second)
    capsys.readouterr()  # drop save_pretrained's progress bars
    ckpt, state = load_trainer_state(run)
    assert ckpt.name == "step_000001" and state["step"] == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "skipping checkpoint" in err[0] and "step_000002" in err[0], err


def test_intact_checkpoint_verifies_and_manifest_lists_every_file(tmp_path, tiny):
    ckpt = _save(tmp_path / "run", 3, tiny)
    files = json.loads((ckpt / "manifest.json").read_text())["files"]
    assert {"model.safetensors", "config.json", "trainer_state.pt", "config.yaml", "tokenizer.json"} <= set(files)
    assert files["config.yaml"]["size"] == 5
    assert verify(ckpt) is None
    assert not list((tmp_path / "run" / "checkpoints").glob("*.tmp")) and not list(ckpt.parent.glob("*.old"))


def test_no_complete_checkpoint_is_a_file_not_found(tmp_path, tiny):
    ckpt = _save(tmp_path / "run", 1, tiny)
    (ckpt / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        load_trainer_state(tmp_path / "run")


class _Payload:
    """Unpickling this runs `touch MARKER` through os.system: any code could stand there instead."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_malicious_pickle_is_refused_and_never_runs(tmp_path, tiny):
    run = tmp_path / "run"
    ckpt = _save(run, 1, tiny)
    marker = tmp_path / "pwned"
    torch.save({"step": 1, "rng": _Payload(marker)}, ckpt / "trainer_state.pt")
    write_manifest(ckpt)  # a sha256 is no signature: the attacker can make the manifest match
    with pytest.raises(CheckpointError) as e:
        load_trainer_state(run)
    msg = str(e.value)
    assert "\n" not in msg and "refusing" in msg and "trainer_state.pt" in msg and "weights_only" in msg
    assert not marker.exists()
    torch.load(ckpt / "trainer_state.pt", weights_only=False)  # the old loader: the payload does run
    assert marker.exists()


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached Gaussian in numpy's state: it must survive too
    torch.save(rng_state(), tmp_path / "rng.pt")
    want = (random.random(), np.random.standard_normal(), torch.rand(1).item())
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.standard_normal(), torch.rand(1).item()) == want


def test_disk_full_during_save_keeps_the_previous_checkpoint(tmp_path, tiny, monkeypatch):
    run = tmp_path / "run"
    _save(run, 1, tiny)
    monkeypatch.setenv("REASONRL_FAULT", "checkpoint_files_written:1:enospc")
    monkeypatch.setattr(faults, "_counts", {})
    with pytest.raises(CheckpointError) as e:
        _save(run, 2, tiny)
    msg = str(e.value)
    assert "\n" not in msg and "step_000002 not saved" in msg and "No space left on device" in msg
    assert "previous checkpoint (step_000001) is intact" in msg
    ckpts = run / "checkpoints"
    assert (ckpts / "latest").read_text() == "step_000001"
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step_000001"]  # no half-written .tmp left
    assert verify(ckpts / "step_000001") is None


@pytest.mark.parametrize("fault, said", [
    ("checkpoint_files_written:2:enospc", ("step_000002 not saved", "step_000001) is intact")),
    ("after_step_logged:2:enospc", ("No space left on device", "--resume")),   # the second step's log line
])
def test_disk_full_stops_the_cli_run_with_one_line(tmp_path, tiny_model_dir, parity_reward, monkeypatch, capsys,
                                                    fault, said):
    from reasonrl.train.cli import main

    monkeypatch.setenv("REASONRL_FAULT", fault)
    monkeypatch.setattr(faults, "_counts", {})
    monkeypatch.setattr("reasonrl.train.loop.write_report_quietly", lambda run_dir: None)
    run = tmp_path / "run"
    rc = main([f"run_dir={run}", f"model.path={tiny_model_dir}", "task.num_train=8", "task.num_heldout=2",
               "rollout.num_generations=2", "rollout.prompts_per_step=2", "rollout.max_new_tokens=4",
               "reward.funcs=[tiny_rewards:length_parity]", "train.max_steps=3", "train.save_every=1",
               "train.eval_before_after=false", "train.max_minutes=null"])
    err = [l for l in capsys.readouterr().err.splitlines() if "reasonrl train:" in l]   # may follow the progress bar's \r
    assert rc == 1
    assert len(err) == 1 and all(x in err[0] for x in said), err
    assert complete_checkpoint(run).name == "step_000001"


def test_kill_between_rename_aside_and_commit_keeps_the_old_copy(tmp_path, tiny):
    """Saving the same step twice (the end of a run) moves the old copy aside first, never deletes it first."""
    run = tmp_path / "run"
    first = _save(run, 2, tiny)
    first.rename(first.with_name("step_000002.old"))   # what a kill right after the aside-rename leaves
    assert complete_checkpoint(run).name == "step_000002.old"
    _save(run, 2, tiny)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000002"]


def test_rewind_logs_cuts_lines_after_the_checkpoint(tmp_path, capsys):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "half')
    rewind_logs(tmp_path, {"log_bytes": {"metrics.jsonl": 24, "samples.jsonl": 10}})
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1}\n{"step": 2}\n'
    assert "samples.jsonl is shorter" in capsys.readouterr().err  # missing entirely: said, not hidden


@pytest.mark.parametrize("spec, msg", [("after_optimizer_step", "point:n"), ("x:0", "n >= 1"),
                                       ("x:2:explode", "unknown action 'explode'; valid: kill, kill_parent, enospc")])
def test_bad_fault_spec_is_one_line(spec, msg):
    with pytest.raises(ValueError, match=msg):
        faults.parse(spec)


@pytest.mark.parametrize("damage", ["truncated weights", "flipped byte, same size", "manifest garbage",
                                    "stray file added", "directory deleted, latest still names it"])
def test_eval_and_serve_load_the_newest_intact_checkpoint(tmp_path, tiny, capsys, damage):
    """`reasonrl eval/serve/export RUN_DIR` resolve through resolve_model_path: the same fallback as resume."""
    from reasonrl.model import resolve_model_path

    run = tmp_path / "run"
    _save(run, 1, tiny)
    DAMAGE[damage](_save(run, 2, tiny))
    capsys.readouterr()
    assert resolve_model_path(run).name == "step_000001"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 1 and all("skipping checkpoint" in e and "step_000002" in e for e in err), err


def test_eval_of_a_run_with_no_intact_checkpoint_is_one_line(tmp_path, tiny):
    from reasonrl.model import ModelNotFound, resolve_model_path

    run = tmp_path / "run"
    _flip_byte(_save(run, 1, tiny) / "model.safetensors")
    with pytest.raises(ModelNotFound, match="no complete checkpoint") as e:
        resolve_model_path(run)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("raised, said", [
    # what torch.save's zip writer raised when the disk filled in a real run (it never names the disk)
    (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 69120 vs 69012"), "write failed"),
    # what safetensors raises on a full disk
    (Exception("Error while serializing: I/O error: No space left on device (os error 28)"), "No space left on device"),
])
def test_a_writer_that_is_not_an_oserror_failing_on_a_full_disk_is_one_line(tmp_path, tiny, monkeypatch, raised, said):
    from reasonrl.train import checkpoint

    run = tmp_path / "run"
    _save(run, 1, tiny)

    def full_disk(*a, **k):
        raise raised
    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as e:
        _save(run, 2, tiny)
    msg = str(e.value)
    assert "\n" not in msg and "step_000002 not saved" in msg and said in msg and "MB free" in msg
    assert "previous checkpoint (step_000001) is intact" in msg
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000001"]


def test_a_bug_while_saving_keeps_its_traceback(tmp_path, tiny, monkeypatch):
    from reasonrl.train import checkpoint

    def bug(*a, **k):
        raise TypeError("an object torch cannot pickle")
    monkeypatch.setattr(checkpoint.torch, "save", bug)
    with pytest.raises(TypeError):  # not dressed up as a disk problem
        _save(tmp_path / "run", 1, tiny)
