"""Every metric name the loop logs is documented in docs/metrics.md (STYLE: names defined once)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from reasonrl.config import load_config
from reasonrl.train.loop import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
STRUCTURE = {"kind", "step", "label"}   # what a line is, not a measurement


def documented_names(doc: str) -> set[str]:
    """The backticked names in the first column of the doc's table (`think/*` = a prefix)."""
    rows = [line.split("|")[1] for line in doc.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`([^`]+)`", cell)}


def undocumented(logged: set[str], names: set[str]) -> set[str]:
    prefixes = tuple(n[:-1] for n in names if n.endswith("/*"))
    return {k for k in logged if k not in names and not k.startswith(prefixes)}


def test_the_check_itself_catches_a_missing_name():
    names = documented_names("| name | meaning |\n|---|---|\n| `reward/mean`, `reward/std` | x |\n| `think/*` | y |\n")
    assert names == {"reward/mean", "reward/std", "think/*"}
    assert undocumented({"reward/mean", "think/words_mean", "made/up"}, names) == {"made/up"}


def test_every_logged_metric_is_documented(tmp_path, tiny_model_dir, parity_reward):
    run = tmp_path / "run"
    # every optional metric on: held-out evals (before, periodic, after), a KL reference, engine log-probs
    main(load_config(None, [
        f"run_dir={run}", f"model.path={tiny_model_dir}", "task.num_train=8", "task.num_heldout=2",
        "rollout.num_generations=4", "rollout.max_new_tokens=6", "rollout.temperature=1.0", "rollout.return_logprobs=true",
        "reward.funcs=[tiny_rewards:length_parity]", "algo.beta=0.04", "train.max_steps=3", "train.eval_every=1",
        "train.eval_subset=1", "train.save_every=3", "train.max_minutes=null", "optim.micro_batch_size=4",
    ]))
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = {k for line in lines for k in line} - STRUCTURE
    assert "loss/pg" in logged and "kl/ref" in logged and "kl/rollout_vs_train" in logged, "no update ran"
    assert {"train", "eval"} == {line["kind"] for line in lines}
    missing = undocumented(logged, documented_names(DOC.read_text()))
    assert not missing, f"logged but not in docs/metrics.md: {sorted(missing)}"
