"""Durable, verified checkpoints: RUN_DIR/checkpoints/step_000050/ holds a plain `save_pretrained` model
(loadable by transformers alone), the tokenizer, the resolved config, `trainer_state.pt` (optimizer,
scheduler, RNG states, data cursor, step, log offsets) and, written last, `manifest.json` (size and sha256
of every other file).

The commit order is what makes a kill or a power cut at any moment safe (docs/reliability.md):
files into `step_N.tmp` -> fsync each -> manifest -> fsync it and the directory -> rename to `step_N`
-> fsync `checkpoints/` -> `latest.tmp` -> fsync -> replace `latest` -> fsync `checkpoints/`.
On resume a checkpoint whose files do not match its manifest is skipped with one line naming it and the
newest complete one is used. `trainer_state.pt` holds only tensors and plain containers: it loads with
`torch.load(weights_only=True)`, so a run directory someone sent you cannot run code when resumed.
"""
from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from reasonrl.manifest import MANIFEST, files as _files, fsync as _fsync, verify, write_manifest
from reasonrl.train.faults import fault_point

LOGS = ("metrics.jsonl", "samples.jsonl")  # rewound to the checkpoint's offsets on resume


class CheckpointError(RuntimeError):
    """A checkpoint could not be written (disk full, ...) or is unsafe to load; the message is one line."""


def rng_state() -> dict:
    """Python, numpy and torch RNG states as tensors, ints and tuples only (weights_only-loadable)."""
    key, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": {"key": key, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)}}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["key"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])


def _save_model(model, path: Path) -> None:
    if hasattr(model, "merge_and_unload"):
        # LoRA: the adapter (for resume) plus a merged copy that plain transformers loads.
        model.save_pretrained(path / "adapter")
        merged = _merged_copy(model)
        merged.save_pretrained(path)
    else:
        model.save_pretrained(path)


def _merged_copy(peft_model):
    import copy

    base = copy.deepcopy(peft_model)
    return base.merge_and_unload()


def _log_offsets(run_dir: Path) -> dict[str, int]:
    """Bytes of each run log now (fsync'd): a resume truncates the logs back to these, so every step is logged once."""
    out = {}
    for name in LOGS:
        p = run_dir / name
        if p.is_file():
            _fsync(p)
            out[name] = p.stat().st_size
    return out


def save_checkpoint(run_dir: Path, step: int, *, model, tokenizer, trainer_state: dict, config_yaml: str, keep: int) -> Path:
    """Write checkpoints/step_N durably and point `latest` at it; CheckpointError (one line) if the disk refuses,
    with the previous checkpoints untouched."""
    ckpts = Path(run_dir) / "checkpoints"
    name = f"step_{step:06d}"
    tmp = ckpts / (name + ".tmp")
    try:
        ckpts.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _save_model(model, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "config.yaml").write_text(config_yaml)
        torch.save({**trainer_state, "log_bytes": _log_offsets(Path(run_dir))}, tmp / "trainer_state.pt")
        fault_point("checkpoint_files_written")
        write_manifest(tmp)
    except Exception as e:
        why = write_failure(e)
        if why is None:
            raise  # a bug, not the disk: keep its traceback
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written step_N.tmp would only fill the disk further
        raise CheckpointError(f"checkpoint {name} not saved in {ckpts}: {why} ({_free_mb(ckpts)} MB free); "
                              f"the previous checkpoint ({_marker(ckpts) or 'none'}) is intact") from None
    try:
        final = _commit(ckpts, tmp, name)
    except OSError as e:  # the step is complete on disk; only `latest` may still name the one before it
        raise CheckpointError(f"checkpoint {name} written but not committed in {ckpts}: {e.strerror or e}; "
                              f"`latest` names {_marker(ckpts) or 'none'}, which is intact") from None
    _prune(ckpts, keep, protect=final)
    return final


# What the writers raise when the disk refuses a write and the error is not an OSError: torch.save's zip writer
# ("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534", the disk never named) and safetensors
# ("Error while serializing: I/O error: No space left on device (os error 28)"), both seen on a full disk.
_WRITE_FAILED = ("No space left", "os error 28", "unexpected pos", "PytorchStreamWriter failed", "Disk quota")


def write_failure(e: BaseException) -> str | None:
    """One line saying why a write failed when `e` is the disk refusing it; None when `e` is anything else."""
    if isinstance(e, OSError):
        return e.strerror or str(e)
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if any(s in text for s in _WRITE_FAILED):
        return "No space left on device" if "os error 28" in text else f"write failed ({text[:160]})"
    return None


def _free_mb(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free >> 20
    except OSError:
        return -1


def _commit(ckpts: Path, tmp: Path, name: str) -> Path:
    final, aside = ckpts / name, ckpts / (name + ".old")
    if final.exists():  # the same step saved again (the end of a run): never delete it before the new one is in place
        shutil.rmtree(aside, ignore_errors=True)
        final.rename(aside)
    tmp.rename(final)
    _fsync(ckpts)
    fault_point("checkpoint_renamed")
    marker_tmp = ckpts / "latest.tmp"
    marker_tmp.write_text(name)
    _fsync(marker_tmp)
    os.replace(marker_tmp, ckpts / "latest")
    _fsync(ckpts)
    shutil.rmtree(aside, ignore_errors=True)
    return final


def _marker(ckpts: Path) -> str | None:
    try:
        return (ckpts / "latest").read_text().strip()
    except FileNotFoundError:
        return None


def _prune(ckpts: Path, keep: int, protect: Path) -> None:
    done = sorted(p for p in ckpts.glob("step_*") if p.is_dir() and not p.name.endswith((".tmp", ".old")))
    for old in done[:-keep]:
        if old != protect:
            shutil.rmtree(old, ignore_errors=True)


def _step_of(p: Path) -> int:
    return int(p.name.split("_")[1].split(".")[0])


def complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose files match its manifest (`latest` first); each one skipped is named on stderr."""
    ckpts = Path(run_dir) / "checkpoints"
    found = [p for p in ckpts.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")]
    # newest step first; at equal steps the committed step_N before a step_N.old left by a kill mid-commit
    found.sort(key=lambda p: (_step_of(p), not p.name.endswith(".old")), reverse=True)
    marker = _marker(ckpts)
    if marker and not (ckpts / marker).is_dir():
        print(f"reasonrl: skipping checkpoint {ckpts / marker}: `latest` names it but it is gone", file=sys.stderr)
    found.sort(key=lambda p: p.name != marker)  # stable: `latest` first, the rest newest first
    for p in found:
        problem = verify(p)
        if problem is None:
            return p
        print(f"reasonrl: skipping checkpoint {p}: {problem}", file=sys.stderr)
    return None


def load_trainer_state(run_dir: Path) -> tuple[Path, dict]:
    """(checkpoint dir, trainer state) of the newest complete checkpoint; FileNotFoundError if none,
    CheckpointError if its trainer_state.pt holds anything but tensors and plain containers."""
    ckpt = complete_checkpoint(Path(run_dir))
    if ckpt is None or not (ckpt / "trainer_state.pt").is_file():
        raise FileNotFoundError(f"{run_dir}: no complete checkpoint to resume from (checkpoints/step_*/{MANIFEST})")
    try:
        # weights_only=True: tensors, numbers, strings and containers only; a pickled object that would
        # run code when loaded is refused here instead of executed.
        return ckpt, torch.load(ckpt / "trainer_state.pt", weights_only=True)
    except pickle.UnpicklingError as e:  # its message is pages long; the one line says what and where
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"refusing {ckpt / 'trainer_state.pt'}: not a plain tensor/container file "
                              f"(torch.load weights_only=True: {first[:160]})") from None


def rewind_logs(run_dir: Path, state: dict) -> None:
    """Cut metrics.jsonl and samples.jsonl back to where they stood at the checkpoint: the steps after it
    will run (and be logged) again, so each step appears exactly once."""
    for name, size in state.get("log_bytes", {}).items():
        p = Path(run_dir) / name
        if p.is_file() and p.stat().st_size > size:
            with open(p, "r+b") as f:
                f.truncate(size)
                os.fsync(f.fileno())
        elif not p.is_file() or p.stat().st_size < size:
            print(f"reasonrl: {p} is shorter than at the checkpoint ({size} bytes): some log lines were lost",
                  file=sys.stderr)
