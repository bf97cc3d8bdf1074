"""The fast decode engine must sample from the same distribution as plain `generate`."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from reasonrl.model import load_tokenizer
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine, sample_next
from reasonrl.rollout.hf import HFEngine
from reasonrl.rollout.batch import pack
from reasonrl.train.forward import completion_logprobs

PROMPTS = ["<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n", "Hi", "A longer prompt than the others, padded left."]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), load_tokenizer(tiny_model_dir)


def test_greedy_tokens_equal_generate(tiny):
    model, tok = tiny
    p = SamplingParams(n=1, max_new_tokens=12, temperature=0.0)
    a, b = HFEngine(model, tok).generate(PROMPTS, p), DecodeEngine(model, tok).generate(PROMPTS, p)
    assert a.completion_ids == b.completion_ids
    assert a.prompt_ids == b.prompt_ids


def test_sampled_logprobs_match_training_forward(tiny):
    """Replaying the shared-prefix, row-dropping decode with a plain full forward gives the same
    per-token log-probs: the KV-cache sharing changes nothing the policy computes."""
    model, tok = tiny
    eng = DecodeEngine(model, tok)
    torch.manual_seed(0)
    ro = eng.generate(PROMPTS, SamplingParams(n=4, max_new_tokens=10, temperature=1.0))
    assert len(ro.completion_ids) == 12 and len({tuple(c) for c in ro.completion_ids}) > 1
    batch = pack(ro.prompt_ids, ro.completion_ids, tok.pad_token_id)
    lp, _ = completion_logprobs(model, batch, temperature=1.0)
    # recompute the same log-probs one sequence at a time, unpadded: no cache, no padding, no sharing
    for i, (p, c) in enumerate(zip(ro.prompt_ids, ro.completion_ids)):
        ids = torch.tensor([p + c])
        logits = model(ids).logits[0, len(p) - 1 : -1].float()
        ref = torch.log_softmax(logits, -1).gather(-1, torch.tensor(c)[:, None]).squeeze(-1)
        torch.testing.assert_close(lp[i, : len(c)], ref, atol=1e-4, rtol=1e-4)


def test_same_seed_same_samples_and_stop_handling(tiny):
    model, tok = tiny
    eng = DecodeEngine(model, tok)
    p = SamplingParams(n=3, max_new_tokens=6, temperature=1.0)
    torch.manual_seed(7)
    a = eng.generate(PROMPTS[:2], p)
    torch.manual_seed(7)
    b = eng.generate(PROMPTS[:2], p)
    assert a.completion_ids == b.completion_ids
    for ids, trunc in zip(a.completion_ids, a.truncated):
        ended = ids[-1] == tok.eos_token_id
        assert trunc == (not ended) and len(ids) <= 6


def test_top_p_keeps_only_the_nucleus():
    torch.manual_seed(0)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(2000, 1)
    draws = sample_next(logits, 1.0, 0.7)
    assert set(draws.tolist()) == {0, 1}  # 0.5 + 0.3 >= 0.7: tokens 2 and 3 are cut
    frac0 = (draws == 0).float().mean().item()
    assert abs(frac0 - 0.5 / 0.8) < 0.05


def test_inverse_cdf_draws_each_token_at_its_probability():
    from reasonrl.rollout.decode import inverse_cdf

    p = torch.tensor([0.1, 0.2, 0.0, 0.7])
    draws = inverse_cdf((3 * p).repeat(20000, 1), torch.Generator().manual_seed(1))  # unnormalised mass is fine
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert freq[2] == 0                                       # zero mass: never drawn
    torch.testing.assert_close(freq, p, atol=0.015, rtol=0)   # 4 sigma of a 20,000-draw frequency


def test_stop_string_ends_the_reply_text(tiny):
    """Whatever a token carries past a stop string is cut from the text the verifiers see."""
    model, tok = tiny
    torch.manual_seed(3)
    eng = DecodeEngine(model, tok)
    ro = eng.generate(PROMPTS[:1], SamplingParams(n=4, max_new_tokens=12, temperature=1.0))
    stop = tok.decode(ro.completion_ids[0][2:4], skip_special_tokens=True)  # a string this sample will produce
    assert stop
    torch.manual_seed(3)
    ro2 = eng.generate(PROMPTS[:1], SamplingParams(n=4, max_new_tokens=12, temperature=1.0, stop=[stop]))
    assert ro2.texts[0].endswith(stop) and len(ro2.completion_ids[0]) <= 4
