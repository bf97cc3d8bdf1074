"""Off-policy rollout correction (algo.rollout_correction) against hand-computed weights and losses."""
import json
import math

import pytest
import torch

from reasonrl.algos import ROLLOUT_CORRECTIONS, grpo_loss, rollout_is_weights
from reasonrl.config import load_config
from reasonrl.config.load import ConfigError

LOG = math.log


def _pair(old_probs, rollout_probs):
    old = torch.log(torch.tensor([old_probs]))
    return old, torch.log(torch.tensor([rollout_probs])), torch.ones_like(old)


@pytest.mark.parametrize("name,expected,hit", [
    # ratios old/rollout = 0.6/0.2 = 3, 0.4/0.4 = 1, 0.1/0.4 = 0.25, 0.3/0.2 = 1.5; cap C = 2
    ("none", [1.0, 1.0, 1.0, 1.0], [False, False, False, False]),
    ("tis", [2.0, 1.0, 0.25, 1.5], [True, False, False, False]),      # only the top is capped
    ("mask", [0.0, 1.0, 0.0, 1.5], [True, False, True, False]),       # outside [1/2, 2] both ways: dropped
])
def test_weights_by_hand(name, expected, hit):
    old, ro, mask = _pair([0.6, 0.4, 0.1, 0.3], [0.2, 0.4, 0.4, 0.2])
    w, m = rollout_is_weights(name, old, ro, mask, cap=2.0)
    assert w[0].tolist() == pytest.approx(expected)
    assert m["is/clip_frac"].item() == pytest.approx(sum(hit) / 4)
    assert m["is/weight_mean"].item() == pytest.approx(sum(expected) / 4)


def test_padding_counts_nowhere_and_stays_finite():
    old = torch.tensor([[LOG(0.9), 0.0, 0.0]])
    ro = torch.tensor([[LOG(0.3), -math.inf, float("nan")]])   # garbage past the completion's end
    mask = torch.tensor([[1.0, 0.0, 0.0]])
    for name in ROLLOUT_CORRECTIONS:
        w, m = rollout_is_weights(name, old, ro, mask, cap=2.0)
        assert torch.isfinite(w).all(), name
        assert m["is/clip_frac"].item() == (0.0 if name == "none" else 1.0)   # 1 of 1 real token hit the cap


def test_weights_carry_no_gradient():
    old = torch.log(torch.tensor([[0.5, 0.5]])).requires_grad_()
    w, _ = rollout_is_weights("tis", old, torch.log(torch.tensor([[0.25, 0.5]])), torch.ones(1, 2), cap=3.0)
    assert not w.requires_grad and w[0].tolist() == pytest.approx([2.0, 1.0])


def test_bad_name_and_cap_are_one_line_errors():
    old, ro, mask = _pair([0.5], [0.5])
    with pytest.raises(ValueError, match="unknown rollout correction 'clip'; valid: none, tis, mask"):
        rollout_is_weights("clip", old, ro, mask, cap=2.0)
    with pytest.raises(ValueError, match="cap must be >= 1, got 0.5"):
        rollout_is_weights("tis", old, ro, mask, cap=0.5)
    with pytest.raises(ValueError, match="must all be"):
        rollout_is_weights("tis", old, ro[:, :0], mask, cap=2.0)


def test_loss_reweights_the_pg_term_only():
    lp = torch.zeros(1, 2, requires_grad=True)            # ratio 1 to old = lp
    adv, mask = torch.tensor([1.0]), torch.ones(1, 2)
    w = torch.tensor([[2.0, 0.5]])
    loss, m = grpo_loss(lp, lp.detach(), adv, mask, is_weights=w)
    # per token -A * ratio * w = [-2, -0.5]; seq_mean_token_mean: -(2 + 0.5) / 2
    assert loss.item() == pytest.approx(-1.25) and m["loss/pg"].item() == pytest.approx(-1.25)
    loss.backward()
    # d/dlp of -A * exp(lp - old) * w / |o| at ratio 1 = -w / 2
    assert lp.grad[0].tolist() == pytest.approx([-1.0, -0.25])
    # the KL term is not reweighted: ref = lp - 1 gives k3 = e^-1 - (-1) - 1 = e^-1 on both tokens
    ref = torch.full((1, 2), -1.0)
    loss, m = grpo_loss(torch.zeros(1, 2), torch.zeros(1, 2), adv, mask, ref_logprobs=ref, beta=0.1, is_weights=w)
    assert loss.item() == pytest.approx(-1.25 + 0.1 * math.exp(-1))
    with pytest.raises(ValueError, match="is_weights must be"):
        grpo_loss(lp, lp.detach(), adv, mask, is_weights=w[:, :1])


def test_weights_of_one_change_nothing():
    torch.manual_seed(0)
    lp, old = torch.randn(3, 4), torch.randn(3, 4)
    adv, mask = torch.tensor([1.0, -0.5, 0.2]), torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]).float()
    w, _ = rollout_is_weights("tis", old, old, mask, cap=2.0)     # engine == trainer: ratio 1
    assert grpo_loss(lp, old, adv, mask, is_weights=w)[0].item() == pytest.approx(grpo_loss(lp, old, adv, mask)[0].item())


def test_config_fields_and_the_engine_check():
    cfg = load_config(None, ["algo.rollout_correction=mask", "algo.rollout_correction_cap=3"])
    assert (cfg.algo.rollout_correction, cfg.algo.rollout_correction_cap) == ("mask", 3.0)
    from reasonrl.config.schema import AlgoConfig
    assert AlgoConfig().rollout_correction == "none"                  # the schema's default: trust the sampler
    from reasonrl.train.cli import DEFAULT_JOB
    assert load_config(DEFAULT_JOB, []).algo.rollout_correction == "tis"  # the default job samples from fp16 copies
    with pytest.raises(ConfigError, match="rollout.engine=hf_generate has none"):
        load_config(None, ["algo.rollout_correction=tis", "rollout.engine=hf_generate"])
    with pytest.raises(ConfigError, match="'algo.rollout_correction_cap': 0.5"):
        load_config(None, ["algo.rollout_correction_cap=0.5"])


def test_loop_logs_is_metrics_when_on(tmp_path, tiny_model_dir, parity_reward):
    from reasonrl.train.loop import main

    def run(name, *extra):
        args = [f"run_dir={tmp_path / name}", f"model.path={tiny_model_dir}", "task.num_train=20", "task.num_heldout=4",
                "rollout.num_generations=4", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
                "reward.funcs=[tiny_rewards:length_parity]", "train.max_steps=1", "train.eval_before_after=false",
                "train.max_minutes=null", "optim.lr=1e-3", "model.bf16=off", *extra]
        main(load_config(None, args))
        lines = [json.loads(l) for l in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        return [l for l in lines if "loss/pg" in l]

    on = run("tis", "algo.rollout_correction=tis", "algo.rollout_correction_cap=2")
    assert on, "no update ran"
    # the fp32 decode engine samples the trainer's own policy (gap < 1e-9): no weight reaches the cap of 2
    assert all(l["is/clip_frac"] == 0.0 and l["is/weight_mean"] == pytest.approx(1.0, abs=1e-4) for l in on)
    assert all("kl/rollout_vs_train" in l for l in on)            # the correction asks the engine for log-probs


def test_trainer_side_is_off_without_a_correction_or_engine_logprobs():
    from reasonrl.train.forward import rollout_correction

    old, mask = torch.log(torch.tensor([[0.9, 0.5]])), torch.ones(1, 2)
    assert rollout_correction("none", 2.0, [[LOG(0.3), LOG(0.5)]], old, mask) == (None, {})
    assert rollout_correction("tis", 2.0, None, old, mask) == (None, {})   # the engine returned no log-probs
    w, m = rollout_correction("tis", 2.0, [[LOG(0.3)]], old, torch.tensor([[1.0, 0.0]]))   # 1 token + padding
    assert w[0].tolist() == pytest.approx([2.0, 1.0]) and m["is/clip_frac"].item() == 1.0   # 0.9/0.3 = 3 -> 2
