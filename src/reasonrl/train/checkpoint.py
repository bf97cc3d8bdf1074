"""Atomic checkpoints: RUN_DIR/checkpoints/step_000050/ holds a plain `save_pretrained` model (loadable by
transformers alone), the tokenizer, the resolved config and `trainer_state.pt` (optimizer, scheduler, RNG
states, data cursor, step). Written into `step_N.tmp`, then renamed, then `latest` is replaced: a kill at
any moment leaves the previous checkpoint intact and `latest` pointing at a complete one.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from reasonrl.model import latest_checkpoint


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
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


def save_checkpoint(run_dir: Path, step: int, *, model, tokenizer, trainer_state: dict, config_yaml: str, keep: int) -> Path:
    ckpts = Path(run_dir) / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    tmp = ckpts / (name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _save_model(model, tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "config.yaml").write_text(config_yaml)
    torch.save(trainer_state, tmp / "trainer_state.pt")
    final = ckpts / name
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    marker_tmp = ckpts / "latest.tmp"
    marker_tmp.write_text(name)
    os.replace(marker_tmp, ckpts / "latest")
    _prune(ckpts, keep, protect=final)
    return final


def _prune(ckpts: Path, keep: int, protect: Path) -> None:
    done = sorted(p for p in ckpts.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in done[:-keep]:
        if old != protect:
            shutil.rmtree(old, ignore_errors=True)


def load_trainer_state(run_dir: Path) -> tuple[Path, dict]:
    """(checkpoint dir, trainer state) of the latest complete checkpoint; FileNotFoundError if none."""
    ckpt = latest_checkpoint(Path(run_dir))
    if ckpt is None or not (ckpt / "trainer_state.pt").is_file():
        raise FileNotFoundError(f"{run_dir}: no complete checkpoint to resume from (checkpoints/latest)")
    # weights_only=False: the state holds Python RNG tuples and numpy arrays we wrote ourselves.
    return ckpt, torch.load(ckpt / "trainer_state.pt", weights_only=False)
