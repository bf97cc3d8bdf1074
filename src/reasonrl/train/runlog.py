"""Run-directory writers: metrics.jsonl (one JSON line per step or eval), samples.jsonl, TensorBoard.

Metric names are fixed and documented in docs/metrics.md. Lines are flushed as they are written so a
report can be built while the run is going and after a crash.
"""
from __future__ import annotations

import json
import math
import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def memory_metrics(device, held_state_mb: float) -> dict[str, float]:
    """Peak host RSS and the rank's training state; on a GPU also its peak allocated memory (RSS misses it)."""
    out = {"mem/peak_rss_mb": peak_rss_mb(), "mem/held_state_mb": held_state_mb}
    if getattr(device, "type", None) == "cuda":
        import torch
        out["mem/cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; a reader sees a gap, not a parse error
    return v


class RunLogger:
    def __init__(self, run_dir: Path, *, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self._samples = open(self.run_dir / "samples.jsonl", "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"))

    def log(self, record: dict) -> None:
        """record: {"kind": "train"|"eval", "step": int, name: value, ...}"""
        self._metrics.write(json.dumps({k: _clean(v) for k, v in record.items()}, ensure_ascii=False) + "\n")
        self._metrics.flush()
        if self._tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step" and math.isfinite(v):
                    self._tb.add_scalar(k, v, record["step"])

    def samples(self, rows: list[dict]) -> None:
        for row in rows:
            self._samples.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._samples.flush()

    def close(self) -> None:
        self._metrics.close()
        self._samples.close()
        if self._tb is not None:
            self._tb.close()


def write_report_quietly(run_dir: Path) -> None:
    """The run's HTML report, if the report extras are installed; a failure is one line, not a failed run."""
    try:
        from reasonrl.report import write_report
    except ImportError:
        return
    try:
        path = write_report(run_dir)
        print(f"report: {path}", file=sys.stderr)
    except Exception as e:  # a broken figure must not turn a finished run into a failed one
        print(f"reasonrl: report not written: {type(e).__name__}: {e}", file=sys.stderr)
