"""The lean Llama decode step computes what transformers' forward computes, step by step, rows dropping."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from reasonrl.model import load_tokenizer
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine
from reasonrl.rollout.step import HFStep, LlamaStep, make_step

PROMPTS = ["<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n", "Hi", "A longer prompt than the others, padded left."]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), load_tokenizer(tiny_model_dir)


def _prefill(model, tok, G: int):
    enc = tok(PROMPTS, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    attn = enc["attention_mask"]
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    res = model(input_ids=enc["input_ids"], attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1)
    res.past_key_values.batch_repeat_interleave(G)
    attn = attn.repeat_interleave(G, dim=0)
    return res.past_key_values, attn, attn.sum(-1, keepdim=True)


def _both_steps(model, tok, steps: int, drop_at: int, G: int = 2):
    """Logits of HFStep and LlamaStep fed the same tokens, rows 0 and 3 dropped before step `drop_at`."""
    cache, attn, pos = _prefill(model, tok, G)
    ref, lean = HFStep(model, copy.deepcopy(cache), attn, steps), make_step("lean", model, cache, attn, steps)
    gen = torch.Generator().manual_seed(0)
    out = []
    for s in range(steps):
        if s == drop_at:
            keep = torch.tensor([r for r in range(len(pos)) if r not in (0, 3)])
            ref.drop(keep)
            lean.drop(keep)
            pos = pos[keep]
        ids = torch.randint(0, model.config.vocab_size, (len(pos),), generator=gen)
        out.append((ref(ids, pos), lean(ids, pos)))
        pos = pos + 1
    return lean, out


@torch.no_grad()
def test_lean_step_equals_transformers_forward(tiny):
    model, tok = tiny
    lean, out = _both_steps(model, tok, steps=6, drop_at=3)
    assert isinstance(lean, LlamaStep)
    for s, (a, b) in enumerate(out):
        assert a.shape == b.shape == (6 if s < 3 else 4, model.config.vocab_size)
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[0][0], out[1][0][:6])   # the steps differ: the test sees the cache grow


@torch.no_grad()
def test_lean_step_in_bf16_within_rounding(tiny):
    model, tok = tiny
    bf = copy.deepcopy(model).to(torch.bfloat16)
    _, out = _both_steps(bf, tok, steps=4, drop_at=2)
    for a, b in out:
        assert b.dtype == a.dtype == torch.bfloat16
        # bf16 keeps 8 bits: the two differ only by summation order inside SDPA (grouped vs repeated heads)
        assert (a.float() - b.float()).abs().max() <= 0.01 * a.float().abs().max()


@torch.no_grad()
def test_own_prefill_equals_transformers_prefill_then_steps(tiny):
    model, tok = tiny
    enc = tok(PROMPTS, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    assert not enc["attention_mask"].all()                      # left padding: the pad rows must not leak
    cache, attn, pos = _prefill(model, tok, 2)
    res = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                position_ids=(enc["attention_mask"].cumsum(-1) - 1).clamp(min=0), logits_to_keep=1)
    lean, logits = LlamaStep.prefill(model, enc["input_ids"], enc["attention_mask"], 2, 4)
    torch.testing.assert_close(logits, res.logits[:, -1].repeat_interleave(2, dim=0), atol=1e-5, rtol=1e-5)
    ref = HFStep(model, cache, attn, 4)
    ids = logits.argmax(-1)
    for _ in range(3):
        a, b = ref(ids, pos), lean(ids, pos)
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
        ids, pos = a.argmax(-1), pos + 1


@torch.no_grad()
def test_bf16_products_packed_from_fp32_weights_follow_those_weights(tiny):
    from reasonrl.rollout.fastlinear import packed_available

    model, tok = tiny
    if not packed_available():
        pytest.skip("oneDNN packing not in this torch build")
    enc = tok(PROMPTS, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    shell = copy.deepcopy(model).to(torch.bfloat16)
    for p in shell.parameters():                                 # the engine's released copy: shapes' dtype, no values
        p.data = torch.empty(0, dtype=torch.bfloat16)
    weights = {n: p.detach() for n, p in model.named_parameters()}
    step, logits = LlamaStep.prefill(shell, enc["input_ids"], enc["attention_mask"], 1, 2, weights)
    want = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                 position_ids=(enc["attention_mask"].cumsum(-1) - 1).clamp(min=0), logits_to_keep=1).logits[:, -1]
    assert logits.dtype == torch.bfloat16
    assert (logits.float() - want).abs().max() <= 0.02 * want.abs().max()
    with pytest.raises(ValueError, match="need packed bf16 products"):
        LlamaStep.prefill(model, enc["input_ids"], enc["attention_mask"], 1, 2, weights)


@torch.no_grad()
def test_stacked_products_equal_each_linear(tiny):
    from reasonrl.rollout.fastlinear import packed_available
    from reasonrl.rollout.step import _product

    att = tiny[0].model.layers[0].self_attn
    x = torch.randn(5, att.q_proj.in_features)
    want = torch.cat([att.q_proj(x), att.k_proj(x), att.v_proj(x)], dim=-1)
    qkv = [att.q_proj, att.k_proj, att.v_proj]
    torch.testing.assert_close(_product(False, torch.float32, qkv, [m.weight for m in qkv])(x), want)
    assert _product(False, torch.float32, [att.o_proj], [att.o_proj.weight]) == att.o_proj.forward   # its own forward
    if packed_available():   # packed from the fp32 weights: the bf16 model's products
        b = copy.deepcopy(att).to(torch.bfloat16)
        got = _product(True, torch.bfloat16, qkv, [m.weight for m in qkv])(x.bfloat16())
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), torch.cat([b.q_proj(x.bfloat16()), b.k_proj(x.bfloat16()),
                                                           b.v_proj(x.bfloat16())], dim=-1).float(), atol=2e-2, rtol=2e-2)


def test_other_models_and_hooked_models_take_transformers_forward(tiny, tiny_model_dir):
    model, tok = tiny
    cache, attn, _ = _prefill(model, tok, 1)
    h = model.model.layers[0].mlp.register_forward_hook(lambda *a: None)
    try:
        assert isinstance(make_step("lean", model, cache, attn, 4), HFStep)
    finally:
        h.remove()
    torch.manual_seed(0)
    qwen = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2)).eval()
    cache, attn, _ = _prefill(qwen, tok, 1)
    assert isinstance(make_step("lean", qwen, cache, attn, 4), HFStep)
    with pytest.raises(ValueError, match="unknown decode forward 'fast'; valid: lean, hf"):
        make_step("fast", model, cache, attn, 4)


def test_engine_greedy_tokens_same_with_either_forward(tiny):
    model, tok = tiny
    p = SamplingParams(n=2, max_new_tokens=12, temperature=0.0)
    a = DecodeEngine(model, tok, forward="hf").generate(PROMPTS, p)
    b = DecodeEngine(model, tok, forward="lean").generate(PROMPTS, p)
    assert a.completion_ids == b.completion_ids and a.truncated == b.truncated


def test_engine_sampled_logprobs_same_with_either_forward(tiny):
    model, tok = tiny
    p = SamplingParams(n=4, max_new_tokens=10, temperature=1.0, logprobs=True, seeds=[1, 2, 3])
    a = DecodeEngine(model, tok, forward="hf").generate(PROMPTS, p)
    b = DecodeEngine(model, tok, forward="lean").generate(PROMPTS, p)
    assert a.completion_ids == b.completion_ids
    for x, y in zip(a.logprobs, b.logprobs):
        torch.testing.assert_close(torch.tensor(y), torch.tensor(x), atol=1e-5, rtol=1e-5)
