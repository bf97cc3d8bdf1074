"""Names chosen from a registry are checked when the config loads: a typo fails in one line, listing the valid
names, before any model is loaded."""
from __future__ import annotations

import subprocess
import sys

import pytest

from reasonrl.config import ConfigError, load_config


@pytest.mark.parametrize("override, message", [
    ("algo.advantage=grpoo", "unknown algo.advantage 'grpoo'; valid: grpo, drgrpo, rloo (did you mean 'grpo'?)"),
    ("algo.loss_agg=token_man", "unknown algo.loss_agg 'token_man'; valid: token_mean, seq_mean_token_mean, "
                                "seq_mean_token_sum_norm (did you mean 'token_mean'?)"),
    ("reward.funcs=[accuracy,fromat]", "unknown reward.funcs 'fromat'; valid: accuracy, accuracy_lenient, accuracy_any, format, "
                                       "format_partial, format_if_correct, format_reasoned, accuracy_strict, "
                                       "exact_match, multiple_choice, code, accuracy_partial, random, middle_value, copy_after, copy_stop, count_after, arrow_steps, closed_arrow_steps, chain_steps, closed_chain_steps, walked_answer, chained_answer, or module:function (did you mean 'format'?)"),
    ("rollout.engine=vlm", "bad value for 'rollout.engine': 'vlm' (Value error, unknown rollout engine 'vlm'; "
                           "valid: hf_decode, hf_generate, vllm)"),
])
def test_unknown_registry_name_fails_at_load_in_one_line(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert str(e.value) == message


def test_checks_read_the_registries_themselves(monkeypatch):
    from reasonrl.algos import advantages

    with pytest.raises(ConfigError):
        load_config(None, ["algo.advantage=mine"])
    monkeypatch.setitem(advantages.ADVANTAGES, "mine", advantages.drgrpo_advantages)
    assert load_config(None, ["algo.advantage=mine"]).algo.advantage == "mine"


def test_user_rewards_and_the_old_engine_name_load():
    cfg = load_config(None, ["reward.funcs=[accuracy,my_pkg.rewards:score]", "rollout.engine=hf"])
    assert cfg.reward.funcs == ["accuracy", "my_pkg.rewards:score"]   # imported by the reward worker, not here
    assert cfg.rollout.engine == "hf_decode"                          # a saved config's old name


def test_train_refuses_a_typo_before_loading_any_model(tmp_path):
    missing = tmp_path / "no-such-model"
    r = subprocess.run([sys.executable, "-m", "reasonrl", "train", f"model.path={missing}", "algo.loss_agg=seq_mean"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "reasonrl train: unknown algo.loss_agg 'seq_mean'; valid: token_mean, seq_mean_token_mean, "
        "seq_mean_token_sum_norm (did you mean 'seq_mean_token_mean'?)"]
    assert not (tmp_path / "runs").exists()
