"""rollout.engine=vllm on a GPU (marked `gpu`: deselected by default, and skipped without CUDA or vLLM).

NOT YET RUN: written where no GPU was available. Run on a GPU machine with
    pip install -e '.[gpu,test]' && pytest -m gpu tests/rollout/test_vllm_engine.py
"""
from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.gpu
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)
pytest.importorskip("vllm")

from transformers import AutoModelForCausalLM  # noqa: E402

from reasonrl.config import load_config  # noqa: E402
from reasonrl.model import load_tokenizer  # noqa: E402
from reasonrl.rollout.base import SamplingParams  # noqa: E402
from reasonrl.rollout.vllm_engine import VLLMEngine  # noqa: E402
from reasonrl.train.forward import group_logprobs, rollout_logprob_gap  # noqa: E402
from reasonrl.train.loop import main  # noqa: E402

PROMPT = "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).cuda()
    tok = load_tokenizer(tiny_model_dir)
    return VLLMEngine(model, tok, path=tiny_model_dir, gpu_memory_utilization=0.2, max_model_len=256, dtype="float32"), model, tok


def test_seeded_samples_logprobs_and_sleep_cycles(engine):
    eng, model, tok = engine
    p = SamplingParams(n=4, max_new_tokens=8, temperature=1.0, seeds=[3])
    a = eng.generate([PROMPT], p)
    assert eng.asleep                                               # memory handed back after generating
    b = eng.generate([PROMPT], p)                                   # wakes, reloads, same seed: same samples
    assert a.completion_ids == b.completion_ids and len({tuple(c) for c in a.completion_ids}) > 1
    with torch.no_grad():
        lp, _, mask = group_logprobs(model, a.prompt_ids[0], a.completion_ids, tok.pad_token_id, temperature=1.0)
    assert rollout_logprob_gap(a.logprobs, lp, mask).item() < 1e-3  # fp32 on both sides


def test_sync_weights_reaches_the_engine(engine):
    eng, model, tok = engine
    greedy = SamplingParams(n=1, max_new_tokens=6, temperature=0.0)
    before = eng.generate([PROMPT], greedy).completion_ids
    with torch.no_grad():
        model.lm_head.weight.mul_(-1.0)                             # a very different policy
    eng.sync_weights(model)
    after = eng.generate([PROMPT], greedy).completion_ids
    with torch.no_grad():
        model.lm_head.weight.mul_(-1.0)
    eng.sync_weights(model)
    assert after != before and eng.generate([PROMPT], greedy).completion_ids == before


def test_loop_runs_on_vllm_and_logs_the_gap(tmp_path, tiny_model_dir, parity_reward):
    args = [f"run_dir={tmp_path / 'v'}", f"model.path={tiny_model_dir}", "rollout.engine=vllm",
            "rollout.vllm_gpu_memory_utilization=0.2", "rollout.vllm_max_model_len=256", "task.num_train=20",
            "task.num_heldout=4", "rollout.num_generations=4", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
            "reward.funcs=[tiny_rewards:length_parity]", "train.max_steps=3", "train.eval_before_after=false",
            "train.max_minutes=null", "optim.lr=1e-3"]
    main(load_config(None, args))
    lines = [json.loads(l) for l in (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()]
    gaps = [l["kl/rollout_vs_train"] for l in lines if "loss/pg" in l]
    assert gaps and all(0.0 <= g < 0.05 for g in gaps)             # bf16 vLLM vs the trainer: small, logged
