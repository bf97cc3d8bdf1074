"""Every config the repository ships loads and validates: a typo in one is caught here, not an hour into a run."""
from __future__ import annotations

from pathlib import Path

import pytest

from reasonrl.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_configs_are_found():
    assert len(CONFIGS) > 10 and any(p.name == "r1zero_reasoning_arrows_g16.yaml" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    cfg = load_config(path, [])
    assert cfg.rollout.num_generations >= 1 and cfg.task.name
