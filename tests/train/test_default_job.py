"""`reasonrl train` with no config runs the shipped R1-Zero job; configs/default.yaml and r1zero_laptop.yaml are it."""
from __future__ import annotations

from pathlib import Path

from reasonrl.config import load_config
from reasonrl.train.cli import DEFAULT_JOB

ROOT = Path(__file__).resolve().parents[2]


def test_default_job_is_the_r1zero_config_and_ships_in_the_package():
    assert DEFAULT_JOB.is_file() and "reasonrl" in DEFAULT_JOB.parts
    cfg = load_config(DEFAULT_JOB)
    assert cfg.task.template == "chat_think" and cfg.rollout.stop == ["</answer>"]
    assert cfg.reward.funcs == ["accuracy_strict", "accuracy_lenient", "format_reasoned"]
    assert cfg.reward.weights == [1.0, 0.5, 0.25]
    for name in ("default.yaml", "r1zero_laptop.yaml"):
        assert (ROOT / "configs" / name).resolve() == DEFAULT_JOB
    assert load_config(ROOT / "configs" / "chain_sum_plain.yaml").task.template == "plain"


def test_overriding_reward_funcs_drops_the_files_weights():
    cfg = load_config(DEFAULT_JOB, ["reward.funcs=[accuracy]"])
    assert cfg.reward.funcs == ["accuracy"] and cfg.reward.weights is None   # equal weights, not a mismatch
    cfg = load_config(DEFAULT_JOB, ["reward.funcs=[accuracy, format]", "reward.weights=[1.0, 0.1]"])
    assert cfg.reward.weights == [1.0, 0.1]
