"""A tiny "trained run" built in seconds: a random tied-embedding Llama with the real SmolLM2 tokenizer, saved
as RUN/checkpoints/step_000003 beside the default job's config (chat_think, stop at </answer>), and
the summary.json / metrics.jsonl a finished run writes (with known figures, for the model card test)."""
from __future__ import annotations

import json

import pytest

from reasonrl.config import dump_config, load_config

HELDOUT = 20


def make_run(root, tiny_model_dir, overrides: list[str]):
    """A run directory whose latest checkpoint is the tiny model, trained (as far as files say) with
    the default job's settings plus `overrides`."""
    import shutil

    from reasonrl.train.cli import DEFAULT_JOB

    cfg = load_config(DEFAULT_JOB, [f"task.num_train=40", f"task.num_heldout={HELDOUT}",
                                    "rollout.max_new_tokens=12", *overrides])
    ckpt = root / "checkpoints" / "step_000003"
    shutil.copytree(tiny_model_dir, ckpt)
    dump_config(cfg, root / "config.yaml")
    dump_config(cfg, ckpt / "config.yaml")
    (root / "checkpoints" / "latest").write_text("step_000003")
    (root / "summary.json").write_text(json.dumps({"heldout_before": 0.0, "heldout_after": 0.66, "steps": 3,
                                                   "wall_s": 604.4, "s_per_step": 201.5, "peak_rss_mb": 5012.0}))
    evals = [{"kind": "eval", "step": s, "label": lab, "eval/accuracy": acc, "eval/format_rate": fmt,
              "eval/strict_accuracy": strict, "eval/n": HELDOUT}
             for s, lab, acc, fmt, strict in [(0, "before", 0.35, 0.0, 0.0), (3, "after", 0.7, 1.0, 0.66)]]
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model_dir):
    return make_run(tmp_path_factory.mktemp("runs") / "tiny-run", tiny_model_dir, [])
