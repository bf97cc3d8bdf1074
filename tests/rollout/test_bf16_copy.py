"""An engine decoding from its own bf16 copy: the copy follows every update and is not resident between rollouts."""
from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from reasonrl.model import load_tokenizer
from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import DecodeEngine


def test_bf16_copy_samples_the_current_weights_and_is_freed_between_rollouts(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = load_tokenizer(tiny_model_dir)
    engine = DecodeEngine(model, tok, dtype=torch.bfloat16)
    assert engine.owns_copy and all(p.numel() == 0 for p in engine.model.parameters())   # nothing resident yet
    sp = SamplingParams(n=2, max_new_tokens=6, temperature=0.0, logprobs=True)
    prompts = ["What is 2 + 3?"]

    def trainer_logprobs(ro) -> list[float]:   # the sampled tokens as the trainer scores them: its weights, bf16 autocast
        ids = torch.tensor([ro.prompt_ids[0] + ro.completion_ids[0]])
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        P = len(ro.prompt_ids[0])
        return [lp[P - 1 + t, tok_id].item() for t, tok_id in enumerate(ro.completion_ids[0])]

    before = engine.generate(prompts, sp)
    assert all(p.numel() == 0 for p in engine.model.parameters())   # freed when the rollout ended
    torch.testing.assert_close(torch.tensor(before.logprobs[0]), torch.tensor(trainer_logprobs(before)), atol=2e-2, rtol=0)

    torch.manual_seed(0)
    with torch.no_grad():   # an "update" the copy must follow: a large one, so the samples change
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    engine.sync_weights(model)
    after = engine.generate(prompts, sp)
    assert after.completion_ids != before.completion_ids
    # After this update the logits reach ~10, where one bf16 step is 0.06: with 1 thread the decode and the full
    # forward round differently (up to 0.10 measured over 12 updates; 0.0 with 2 threads). Old weights: ~10 away.
    torch.testing.assert_close(torch.tensor(after.logprobs[0]), torch.tensor(trainer_logprobs(after)), atol=0.25, rtol=0)
    again = engine.generate(prompts, sp)   # a second rollout without a sync (re-drawn groups, held-out eval)
    assert again.completion_ids == after.completion_ids
