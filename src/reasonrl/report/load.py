"""Read a run directory as it is on disk: finished, still running, or crashed.

The trainer appends to metrics.jsonl and samples.jsonl while it runs, so the last line may be
half-written when we read it; that line is dropped without a word. A bad line in the middle
(e.g. a crash mid-write followed by `--resume` appending after it) is skipped and noted, so the
report still builds and says what it left out. summary.json only exists for finished runs.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reasonrl.jsonl import iter_jsonl
from reasonrl.report.aha import AhaPoint, aha_by_step


@dataclass
class Run:
    """Everything the report shows about one run, already parsed."""

    path: Path
    name: str
    config: dict
    train: list[dict]  # one row per step (a resumed run's re-logged steps replace the old ones), by step
    evals: list[dict]  # kind == "eval" rows, by step
    samples: list[dict]
    summary: dict | None  # None: the run is still going or crashed
    eval_files: dict[str, dict]  # eval/*.json file name -> its content
    notes: list[str] = field(default_factory=list)  # what was skipped or missing, shown on the page
    _aha: list[AhaPoint] | None = None

    @property
    def aha(self) -> list[AhaPoint]:
        """Reflection-phrase frequency over training; from train samples, else all samples."""
        if self._aha is None:
            train = [s for s in self.samples if s.get("kind") == "train"]
            self._aha = aha_by_step(train or self.samples)
        return self._aha

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) for a metric; `eval/*` from eval rows, `aha/*` from samples, else train rows.

        Missing keys and non-numeric values are skipped, so a line without `kl/ref` leaves a gap.
        """
        if key.startswith("aha/"):
            attr = key.split("/", 1)[1]
            pairs = [(p.step, getattr(p, attr)) for p in self.aha]
        else:
            rows = self.evals if key.startswith("eval/") else self.train
            pairs = [(r.get("step"), r.get(key)) for r in rows]
        pairs = [(s, v) for s, v in pairs if _is_num(s) and _is_num(v)]
        return [float(s) for s, _ in pairs], [float(v) for _, v in pairs]


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_jsonl(path: Path, notes: list[str]) -> list[dict]:
    """Parse a JSONL file that may be being written right now.

    A half-written last line is dropped silently; any other unreadable line is skipped and a note
    naming `file:line` is appended to `notes`.
    """
    if not path.exists():
        return []
    parsed = list(iter_jsonl(path))
    rows: list[dict] = []
    for k, (line_no, row, bad) in enumerate(parsed):
        if bad:
            if k != len(parsed) - 1:  # the last line may simply not be finished yet
                notes.append(f"skipped unreadable line {path.name}:{line_no}")
        elif isinstance(row, dict):
            rows.append(row)
        else:
            notes.append(f"skipped non-object line {path.name}:{line_no}")
    return rows


def _read_json(path: Path, notes: list[str]) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        notes.append(f"could not read {path.name}: {e}")
        return None
    if not isinstance(data, dict):
        notes.append(f"could not read {path.name}: expected a JSON object, got {type(data).__name__}")
        return None
    return data


def _by_step(rows: list[dict], key_fn) -> list[dict]:
    # Later lines win: after `--resume` the trainer re-logs steps from the checkpoint on.
    latest = {key_fn(r): r for r in rows if _is_num(r.get("step"))}
    return sorted(latest.values(), key=lambda r: r["step"])


def run_name(path: Path) -> str:
    """The label a run gets in tables and legends: its directory name."""
    return path.resolve().name or str(path)


def load_run(run_dir: Path | str) -> Run:
    """Load a run directory; raises FileNotFoundError if it is not one."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory not found: {path}")
    if not (path / "metrics.jsonl").exists() and not (path / "config.yaml").exists():
        raise FileNotFoundError(f"{path} has neither metrics.jsonl nor config.yaml; is it a reasonrl run directory?")
    notes: list[str] = []
    config: dict = {}
    if (path / "config.yaml").exists():
        try:
            loaded = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            loaded = None
            notes.append(f"could not read config.yaml: {str(e).splitlines()[0]}")
        config = loaded if isinstance(loaded, dict) else {}
    else:
        notes.append("no config.yaml")
    metrics = read_jsonl(path / "metrics.jsonl", notes)
    if not metrics:
        notes.append("no metrics logged yet (metrics.jsonl missing or empty)")
    train = _by_step([m for m in metrics if m.get("kind", "train") == "train"], lambda r: r["step"])
    evals = _by_step([m for m in metrics if m.get("kind") == "eval"], lambda r: (r["step"], r.get("label")))
    samples = read_jsonl(path / "samples.jsonl", notes)
    summary = _read_json(path / "summary.json", notes)
    eval_files = {}
    for f in sorted((path / "eval").glob("*.json")) if (path / "eval").is_dir() else []:
        data = _read_json(f, notes)
        if data is not None:
            eval_files[f.name] = data
    return Run(path, run_name(path), config, train, evals, samples, summary, eval_files, notes)
