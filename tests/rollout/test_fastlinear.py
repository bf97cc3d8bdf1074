"""Decoding through transposed weight copies must change nothing but speed."""
from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from reasonrl.rollout.fastlinear import TransposedLinears


def test_active_copies_give_same_logits_and_restore_forward(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = torch.randint(0, model.config.vocab_size, (3, 9))
    fast = TransposedLinears(model)
    with torch.no_grad():
        want = model(input_ids=ids).logits
        with fast.active():
            got = model(input_ids=ids).logits
            assert all("forward" in vars(m) for m in fast._buf)           # really patched
            assert all(b.is_contiguous() and b.shape == (m.in_features, m.out_features) for m, b in fast._buf.items())
            patched = list(fast._buf)
        assert not any("forward" in vars(m) for m in patched)             # and restored
        assert fast._buf == {}                                            # and the copies freed until the next rollout
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert len(patched) >= 7 * model.config.num_hidden_layers
    kept = TransposedLinears(model, keep_between=True)
    with torch.no_grad(), kept.active():
        pass
    assert len(kept._buf) == len(patched)                                 # kept: reused by the next refresh


def test_refresh_follows_every_optimizer_and_in_place_copy(tiny_model_dir):
    """Fused AdamW updates in place without bumping `_version`: the copies must follow it anyway."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    fast = TransposedLinears(model)
    fast.refresh()
    n_all = fast.copied
    assert n_all > 0
    ids = torch.randint(0, model.config.vocab_size, (2, 6))
    for opt in (torch.optim.AdamW(model.parameters(), lr=0.05, fused=True), torch.optim.SGD(model.parameters(), lr=0.5)):
        model.train()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
        model.eval()
        with torch.no_grad():
            want = model(input_ids=ids).logits
            with fast.active():
                assert fast.copied == n_all     # every trained weight re-copied after the step
                got = model(input_ids=ids).logits
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    model.requires_grad_(False)                 # an inference engine's frozen weights, synced in place
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p * 0.5)
        want = model(input_ids=ids).logits
        with fast.active():
            got = model(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
