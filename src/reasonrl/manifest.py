"""A checkpoint's `manifest.json`: the size and sha256 of every other file in it, written last.

Training writes it (train/checkpoint.py); everything that loads a run's checkpoint (resume, eval, serve,
export) checks it first, so a truncated or bit-flipped file is named in one line instead of loaded.
Light on purpose (no torch): `reasonrl.model` imports it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MANIFEST = "manifest.json"


def fsync(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to the disk: rename alone orders nothing after a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def files(ckpt: Path) -> list[Path]:
    return sorted(p for p in ckpt.rglob("*") if p.is_file() and p.name != MANIFEST)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(ckpt: Path) -> None:
    """fsync every file, then write manifest.json (relative path -> size, sha256) and fsync it and the dirs."""
    entries = {}
    for p in files(ckpt):
        fsync(p)
        entries[p.relative_to(ckpt).as_posix()] = {"size": p.stat().st_size, "sha256": sha256(p)}
    (ckpt / MANIFEST).write_text(json.dumps({"files": entries}, indent=1))
    fsync(ckpt / MANIFEST)
    for d in sorted({p.parent for p in files(ckpt)} | {ckpt}):
        fsync(d)


def verify(ckpt: Path) -> str | None:
    """None if every file matches the manifest, else the first problem in a few words."""
    try:
        entries = json.loads((ckpt / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        return "no manifest.json (an unfinished write, or saved by an older reasonrl)"
    except (ValueError, KeyError, TypeError):
        return "manifest.json is not valid"
    for rel, want in entries.items():
        p = ckpt / rel
        if not p.is_file():
            return f"{rel} is missing"
        if p.stat().st_size != want["size"]:
            return f"{rel} has {p.stat().st_size} bytes, manifest says {want['size']}"
        if sha256(p) != want["sha256"]:
            return f"{rel} does not match its sha256"
    extra = sorted(set(p.relative_to(ckpt).as_posix() for p in files(ckpt)) - set(entries))
    return f"{extra[0]} is not in the manifest" if extra else None
