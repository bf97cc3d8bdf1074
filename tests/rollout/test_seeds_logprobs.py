"""Per-prompt sampling seeds and sampled-token log-probs: what multi-process training and the
kl/rollout_vs_train metric rely on."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from reasonrl.model import load_tokenizer
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.rollout.hf import HFEngine
from reasonrl.train.forward import group_logprobs, rollout_logprob_gap

A, B = "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n", "A longer prompt, so A gets left-padded."


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), load_tokenizer(tiny_model_dir)


@pytest.mark.parametrize("engine", [DecodeEngine, HFEngine])
def test_a_prompts_samples_depend_on_its_seed_only(tiny, engine):
    """The same prompt and seed give the same G samples alone or batched with another prompt (as on
    another rank); the global RNG's state does not matter; another seed gives other samples."""
    model, tok = tiny
    eng, p = engine(model, tok), dict(n=4, max_new_tokens=8, temperature=1.0)
    torch.manual_seed(1)
    both = eng.generate([B, A], SamplingParams(**p, seeds=[5, 11]))
    torch.manual_seed(2)
    alone = eng.generate([A], SamplingParams(**p, seeds=[11]))
    assert both.completion_ids[4:] == alone.completion_ids
    assert len({tuple(c) for c in alone.completion_ids}) > 1          # G different samples, not one repeated
    other = eng.generate([A], SamplingParams(**p, seeds=[12]))
    assert other.completion_ids != alone.completion_ids


def test_decode_engine_logprobs_equal_the_training_forward(tiny):
    model, tok = tiny
    ro = DecodeEngine(model, tok).generate([A, B], SamplingParams(n=3, max_new_tokens=8, temperature=0.7,
                                                                   seeds=[1, 2], logprobs=True))
    assert ro.logprobs is not None and [len(l) for l in ro.logprobs] == [len(c) for c in ro.completion_ids]
    with torch.no_grad():
        lp, _, mask = group_logprobs(model, ro.prompt_ids[0], ro.completion_ids[:3], tok.pad_token_id, temperature=0.7)
    for i in range(3):
        torch.testing.assert_close(torch.tensor(ro.logprobs[i]), lp[i, : len(ro.logprobs[i])], atol=1e-4, rtol=0)
    assert 0.0 <= rollout_logprob_gap(ro.logprobs[:3], lp, mask).item() < 1e-6
    assert DecodeEngine(model, tok).generate([A], SamplingParams(n=2, max_new_tokens=4)).logprobs is None
