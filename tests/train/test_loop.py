"""End-to-end RL loop on a tiny random Llama: it runs, it logs, it resumes exactly."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from reasonrl.config import load_config
from reasonrl.tasks.cursor import Cursor
from reasonrl.train.loop import main

def _cfg(tmp_path, tiny_model_dir, run, **extra):
    overrides = [
        f"run_dir={tmp_path / run}", f"model.path={tiny_model_dir}", "task.name=chain_sum",
        "task.num_train=20", "task.num_heldout=4", "rollout.num_generations=4", "rollout.prompts_per_step=2",
        "rollout.max_new_tokens=8", "rollout.temperature=1.0", "reward.funcs=[tiny_rewards:length_parity]",
        "train.max_steps=4", "train.save_every=2", "train.eval_before_after=false", "train.log_samples_every=1",
        "optim.lr=1e-3", "optim.micro_batch_size=3", "train.max_minutes=null",
    ]
    return load_config(None, overrides + [f"{k}={v}" for k, v in extra.items()])


def _train_lines(run_dir):
    return [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if '"train"' in l]


def test_loop_runs_logs_and_updates(tmp_path, tiny_model_dir, parity_reward):
    cfg = _cfg(tmp_path, tiny_model_dir, "a", **{"train.eval_before_after": "true"})
    before = {n: p.clone() for n, p in __import__("transformers").AutoModelForCausalLM.from_pretrained(tiny_model_dir).named_parameters()}
    summary = main(cfg)
    run = tmp_path / "a"
    lines = _train_lines(run)
    assert [l["step"] for l in lines] == [1, 2, 3, 4]
    for key in ["reward/mean", "acc/mean", "format/rate", "len/response_mean", "rollout/tokens_per_s",
                "time/step_s", "mem/peak_rss_mb", "groups/zero_var_frac"]:
        assert key in lines[0], key
    assert any("loss/pg" in l for l in lines), "no step had a group with reward variance"
    assert (run / "config.yaml").is_file() and (run / "samples.jsonl").stat().st_size > 0
    assert summary["steps"] == 4 and summary["heldout_before"] is not None
    # the machine the figures were measured on, as the model card shows it: this CPU's name and core count
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    saved = json.loads((run / "summary.json").read_text())
    assert saved["machine"].startswith(f"{cpu}, {__import__('os').cpu_count()} cores")
    from reasonrl.model import latest_checkpoint
    ckpt = latest_checkpoint(run)
    assert ckpt.name == "step_000004"
    after = __import__("transformers").AutoModelForCausalLM.from_pretrained(ckpt)  # plain transformers loads it
    changed = sum(not torch.equal(before[n], p) for n, p in after.named_parameters())
    assert changed > 0


def test_resume_equals_uninterrupted(tmp_path, tiny_model_dir, parity_reward):
    main(_cfg(tmp_path, tiny_model_dir, "full"))
    main(_cfg(tmp_path, tiny_model_dir, "split", **{"train.max_steps": 2}))
    cfg = load_config(tmp_path / "split" / "config.yaml", ["train.max_steps=4"])
    main(cfg, resume=tmp_path / "split")
    full, split = _train_lines(tmp_path / "full"), _train_lines(tmp_path / "split")
    assert [l["step"] for l in split] == [1, 2, 3, 4]
    for a, b in zip(full, split):
        assert a["reward/mean"] == b["reward/mean"]
        if "loss/pg" in a:
            assert abs(a["loss/pg"] - b["loss/pg"]) < 1e-6
    assert any("loss/pg" in l for l in full[2:]), "resumed steps never updated: the test would prove nothing"
    w_full = __import__("safetensors.torch").torch.load_file(tmp_path / "full/checkpoints/step_000004/model.safetensors")
    w_split = __import__("safetensors.torch").torch.load_file(tmp_path / "split/checkpoints/step_000004/model.safetensors")
    for k in w_full:
        torch.testing.assert_close(w_full[k], w_split[k], rtol=0, atol=1e-6)


def test_cursor_visits_every_problem_once_per_epoch():
    c = Cursor(seed=3, n=5)
    first, second = c.take(5), c.take(5)
    assert sorted(first) == sorted(second) == [0, 1, 2, 3, 4]
    assert first != second  # a new epoch is a new order
    c2 = Cursor(seed=3, n=5)
    assert c2.take(3) + c2.take(2) == first


def test_bad_config_fails_with_one_line():
    r = subprocess.run([sys.executable, "-m", "reasonrl.cli", "train", "rollout.num_generation=4"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == ("reasonrl train: unknown key 'rollout.num_generation' (value 4); "
                                "did you mean 'rollout.num_generations'?")
    r = subprocess.run([sys.executable, "-m", "reasonrl.cli", "train", "algo.clip_low=-0.1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "algo.clip_low" in r.stderr and "-0.1" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_sigterm_finishes_the_step_saves_and_resumes(tmp_path, tiny_model_dir, parity_reward):
    """`kill` mid-run: exit 130 with a complete checkpoint at a step boundary; --resume goes on from it."""
    import os
    import signal
    import time

    run = tmp_path / "killed"
    args = [f"run_dir={run}", f"model.path={tiny_model_dir}", "task.num_train=20", "task.num_heldout=4",
            "rollout.num_generations=4", "rollout.max_new_tokens=8", "reward.funcs=[tiny_rewards:length_parity]",
            "train.max_steps=1000", "train.eval_before_after=false", "train.max_minutes=null", "train.save_every=1000"]
    proc = subprocess.Popen([sys.executable, "-m", "reasonrl.cli", "train", *args], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text().count("\n") >= 2):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-500:]
    assert "checkpoint saved" in err
    from reasonrl.model import latest_checkpoint
    from reasonrl.train.checkpoint import load_trainer_state
    ckpt, state = load_trainer_state(run)
    steps_logged = len(_train_lines(run))
    assert state["step"] == steps_logged == int(ckpt.name.split("_")[1]) >= 2
    cfg = load_config(run / "config.yaml", [f"train.max_steps={steps_logged + 1}"])
    main(cfg, resume=run)
    assert [l["step"] for l in _train_lines(run)] == list(range(1, steps_logged + 2))


def test_yaml_on_off_words_survive():
    """YAML reads a bare off as False; the config must still mean 'off'."""
    assert load_config(None, ["model.bf16=off"]).model.bf16 == "off"
    assert load_config(None, ["model.bf16=on"]).model.bf16 == "on"


def test_lora_kl_and_multiple_iterations_run_and_resume(tmp_path, tiny_model_dir, parity_reward):
    """The opt-in paths: LoRA adapters, a k3 KL term to a reference model, mu=2 passes over each batch."""
    extra = {"model.lora": "true", "model.lora_r": 4, "algo.beta": 0.1, "algo.num_iterations": 2,
             "algo.clip_high": 0.28, "algo.loss_agg": "token_mean", "train.max_steps": 2, "train.save_every": 1}
    main(_cfg(tmp_path, tiny_model_dir, "lora", **extra))
    lines = _train_lines(tmp_path / "lora")
    updated = [l for l in lines if "loss/pg" in l]
    assert updated, "no update happened"
    assert all("kl/ref" in l and l["kl/ref"] >= 0 for l in updated)
    ckpt = tmp_path / "lora" / "checkpoints" / "step_000002"
    assert (ckpt / "adapter" / "adapter_config.json").is_file() and (ckpt / "model.safetensors").is_file()
    cfg = load_config(tmp_path / "lora" / "config.yaml", ["train.max_steps=3"])
    main(cfg, resume=tmp_path / "lora")
    assert [l["step"] for l in _train_lines(tmp_path / "lora")] == [1, 2, 3]


ODD_ONLY_REWARD = '''
def odd_answer_parity(completions, answer, **columns):
    """Length parity for questions with an odd answer, 0 for the rest: even-answer groups never vary."""
    return [float(len(c) % 2) if int(a) % 2 else 0.0 for c, a in zip(completions, answer)]
'''


def test_redraw_refills_zero_variance_groups(tmp_path, tiny_model_dir, parity_reward):
    (parity_reward / "odd_rewards.py").write_text(ODD_ONLY_REWARD)
    cfg = _cfg(tmp_path, tiny_model_dir, "rd", **{"reward.funcs": "[odd_rewards:odd_answer_parity]",
                                                  "rollout.redraw_rounds": 3, "train.max_steps": 5})
    main(cfg)
    lines = _train_lines(tmp_path / "rd")
    samples = [json.loads(l) for l in (tmp_path / "rd" / "samples.jsonl").read_text().splitlines()]
    B, G = 2, 4
    assert sum(l["groups/redraws"] for l in lines) > 0, "no step re-drew: even answers should have forced some"
    for l in lines:
        drawn = [s for s in samples if s["step"] == l["step"] and s["kind"] == "train"]
        assert len(drawn) == (1 + l["groups/redraws"]) * B * G        # every round's samples are logged
        groups = [drawn[i:i + G] for i in range(0, len(drawn), G)]
        varied = sum(len({s["reward"] for s in g}) > 1 for g in groups)
        assert l["groups/trained"] == min(varied, B)                  # the first B groups with signal train
        if l["groups/redraws"] < 3:                                  # it stopped early only because B were found
            assert l["groups/trained"] == B
        assert abs(l["groups/zero_var_frac"] - (1 - varied / len(groups))) < 1e-6
        if varied:
            assert "loss/pg" in l


def test_entropy_coef_changes_the_update_and_nothing_before_it(tmp_path, tiny_model_dir, parity_reward):
    load = __import__("safetensors.torch").torch.load_file
    one = {"train.max_steps": 1, "train.save_every": 1}
    main(_cfg(tmp_path, tiny_model_dir, "plain", **one))
    main(_cfg(tmp_path, tiny_model_dir, "bonus", **one, **{"algo.entropy_coef": 0.5}))
    [plain], [bonus] = _train_lines(tmp_path / "plain"), _train_lines(tmp_path / "bonus")
    assert "loss/pg" in plain, "step 1 never updated: the comparison would prove nothing"
    for k in ("reward/mean", "entropy/mean", "loss/pg"):   # same samples, same entropy, same PG term ...
        assert bonus[k] == pytest.approx(plain[k], abs=1e-6), k
    w = [load(tmp_path / r / "checkpoints/step_000001/model.safetensors") for r in ("plain", "bonus")]
    assert any(not torch.equal(w[0][k], w[1][k]) for k in w[0])   # ... and a different step: the bonus's gradient


def test_memory_metrics_add_the_gpu_peak_only_on_a_gpu():
    from reasonrl.train.runlog import memory_metrics
    m = memory_metrics(torch.device("cpu"), 12.5)
    assert set(m) == {"mem/peak_rss_mb", "mem/held_state_mb"} and m["mem/held_state_mb"] == 12.5
    assert m["mem/peak_rss_mb"] > 10    # this process holds torch: tens of MB at least
    if torch.cuda.is_available():
        assert memory_metrics(torch.device("cuda"), 0.0)["mem/cuda_peak_mb"] >= 0


def test_entropy_bonus_alone_updates_a_step_without_reward_spread(tmp_path, tiny_model_dir):
    """format_reasoned pays nothing to a random tiny model: no group has spread. Without the bonus the step is
    skipped (weights unchanged); with it the bonus alone trains, the policy-gradient term exactly zero."""
    load = __import__("safetensors.torch").torch.load_file
    one = {"train.max_steps": 1, "train.save_every": 1, "reward.funcs": "[format_reasoned]"}
    main(_cfg(tmp_path, tiny_model_dir, "off", **one))
    main(_cfg(tmp_path, tiny_model_dir, "on", **one, **{"algo.entropy_coef": 0.5}))
    [off], [on] = _train_lines(tmp_path / "off"), _train_lines(tmp_path / "on")
    assert off["reward/std"] == on["reward/std"] == 0.0
    assert "loss/pg" not in off and "update/entropy_only" not in off
    assert on["update/entropy_only"] == 1.0 and on["loss/pg"] == 0.0 and on["entropy/mean"] > 0
    w = [load(tmp_path / r / "checkpoints/step_000001/model.safetensors") for r in ("off", "on")]
    first = __import__("safetensors.torch").torch.load_file(tiny_model_dir / "model.safetensors")
    assert all(torch.equal(w[0][k], first[k]) for k in w[0])        # skipped: nothing moved
    assert any(not torch.equal(w[1][k], first[k]) for k in w[1])    # the bonus's step
