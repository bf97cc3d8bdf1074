"""The shared-prompt training forward must equal the plain padded forward: values and gradients."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from reasonrl.rollout.batch import pack
from reasonrl.train.forward import completion_logprobs, group_logprobs


def test_group_logprobs_equal_packed_values_and_grads(tiny_model_dir):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt = [5, 17, 300, 42, 9]
    comps = [[11, 12, 13], [7], [100, 200, 300, 400, 2], []]
    adv = torch.tensor([1.0, -0.5, 0.25, 2.0])

    batch = pack([prompt] * len(comps), comps, pad_id=2)
    lp_a, ent_a = completion_logprobs(model, batch, temperature=0.7, with_entropy=True)
    (lp_a.sum(-1) * adv).sum().backward()
    grads_a = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    lp_b, ent_b, mask = group_logprobs(model, prompt, comps, pad_id=2, temperature=0.7, with_entropy=True)
    (lp_b.sum(-1) * adv).sum().backward()
    torch.testing.assert_close(mask, batch.mask)
    torch.testing.assert_close(lp_b, lp_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent_b * mask, ent_a * batch.mask, atol=1e-4, rtol=1e-4)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads_a[n], atol=1e-5, rtol=1e-4, msg=n)
    assert lp_b[3].abs().sum() == 0  # the empty completion contributes nothing


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_group_logprobs_mixed_lengths_equal_packed(tiny_model_dir, attn):
    """Long and short completions in one packed row, under both mask kinds (SDPA: boolean; eager: additive):
    each completion sees only the prompt and itself, so values and gradients equal the padded forward."""
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn)
    prompt = [5, 17, 300, 42]
    comps = [[11] * 30, [7, 8], [100, 200, 2], [9, 9], [31] * 29]
    adv = torch.tensor([1.0, -0.5, 0.25, 2.0, -1.0])
    batch = pack([prompt] * len(comps), comps, pad_id=2)
    lp_a, _ = completion_logprobs(model, batch)
    (lp_a.sum(-1) * adv).sum().backward()
    grads_a = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    lp_b, _, _ = group_logprobs(model, prompt, comps, pad_id=2)
    (lp_b.sum(-1) * adv).sum().backward()
    torch.testing.assert_close(lp_b, lp_a, atol=1e-5, rtol=1e-5)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads_a[n], atol=1e-5, rtol=1e-4, msg=n)


def test_entropy_grad_makes_the_same_entropy_differentiable_in_both_layouts(tiny_model_dir):
    torch.manual_seed(2)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt, comps = [5, 17, 300], [[11, 12, 13], [7, 8]]
    _, plain, mask = group_logprobs(model, prompt, comps, pad_id=2, with_entropy=True)
    _, ent, _ = group_logprobs(model, prompt, comps, pad_id=2, with_entropy=True, entropy_grad=True)
    assert not plain.requires_grad and ent.requires_grad
    torch.testing.assert_close(ent.detach(), plain)
    (ent * mask).sum().backward()                        # the gradient reaches the weights
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad()
    batch = pack([prompt] * len(comps), comps, pad_id=2)
    _, padded = completion_logprobs(model, batch, with_entropy=True, entropy_grad=True)
    assert padded.requires_grad
    torch.testing.assert_close(padded.detach() * batch.mask, plain * mask, atol=1e-4, rtol=1e-4)
