"""Rollouts with transformers `generate` (KV cache, batched, left-padded): the CPU engine.

The engine may decode from its own copy of the weights in a cheaper dtype (bf16 halves the memory traffic of
decoding where the CPU has native bf16); the copy is cast from the trainer's current weights when a rollout
starts and freed when it ends (~270 MB for 135M params, a fraction of a second against a step of seconds).
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

import torch

from reasonrl.rollout.base import Rollouts, SamplingParams, cut_at_stop


def _merged_named_params(model) -> dict[str, torch.Tensor]:
    """Trainer parameters by plain-model name; a peft LoRA model is merged on the fly."""
    if hasattr(model, "merge_adapter"):  # peft PeftModel: fold LoRA into the base weights for the copy
        model.merge_adapter()
        try:
            base = model.get_base_model()
            return {
                n.replace(".base_layer", ""): p.detach().clone()
                for n, p in base.named_parameters()
                if "lora_" not in n
            }
        finally:
            model.unmerge_adapter()
    return {n: p.detach() for n, p in model.named_parameters()}


class HFEngine:
    """`generate(prompts, params) -> Rollouts` with `model.generate`; see `RolloutEngine`."""

    def __init__(self, model, tokenizer, *, dtype: torch.dtype | None = None, max_batch: int = 64):
        self.tok = tokenizer
        self.max_batch = max_batch  # prompts*G rows per generate call: bounds the KV-cache memory
        peft = hasattr(model, "merge_and_unload")
        base = model.get_base_model() if peft else model
        self.source, self.dtype = model, dtype
        if dtype is None or dtype == next(base.parameters()).dtype:
            # generate with the trainer's own modules (LoRA layers included, live): nothing to sync
            self.model, self.owns_copy = base, False
        else:
            # The copy's weights exist only during `generate`: cast from the trainer's weights at its start and
            # dropped at its end, so a bf16 copy (256 MB for 135M params) is not resident through the update.
            # A cast per rollout costs what the in-place sync after every update cost before.
            plain = copy.deepcopy(model).merge_and_unload() if peft else copy.deepcopy(base)
            self.model, self.owns_copy = plain.to(dtype), True
            self._release()
        self.model.eval()

    @torch.no_grad()
    def sync_weights(self, model) -> None:
        """The next `generate` samples from `model`'s current weights (the copy is cast from them then)."""
        self.source = model

    @torch.no_grad()
    def _materialize(self) -> None:
        src = _merged_named_params(self.source)
        for name, p in self.model.named_parameters():   # tied weights are one Parameter: cast once
            p.data = src[name].to(self.dtype, copy=True)

    def _release(self) -> None:
        for p in self.model.parameters():
            p.data = torch.empty(0, dtype=self.dtype, device=p.device)

    @torch.no_grad()
    def generate(self, prompts: list[str], params: SamplingParams) -> Rollouts:
        t0 = time.perf_counter()
        per_call = max(1, self.max_batch // params.n)
        out = Rollouts([], [], [], [], 0.0, logprobs=[] if params.logprobs else None)
        training = self.model.training  # shared with the trainer: sample without dropout, then hand it back
        self.model.eval()
        if self.owns_copy:
            self._materialize()
        try:
            for i in range(0, len(prompts), per_call):
                seeds = None if params.seeds is None else params.seeds[i : i + per_call]
                self._generate_chunk(prompts[i : i + per_call], replace(params, seeds=seeds), out)
        finally:
            self.model.train(training)
            if self.owns_copy:
                self._release()
        out.seconds = time.perf_counter() - t0
        return out

    def _generate_chunk(self, prompts: list[str], params: SamplingParams, out: Rollouts) -> None:
        if params.logprobs:
            raise ValueError("rollout.engine=hf_generate does not return sampled-token logprobs; use rollout.engine=hf_decode or vllm")
        if params.seeds is not None:  # model.generate takes no generator: one prompt at a time, each under its seed
            for prompt, seed in zip(prompts, params.seeds):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    self._generate_chunk([prompt], replace(params, seeds=None), out)
            return
        tok = self.tok
        enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False).to(self.model.device)
        sample = params.temperature > 0
        kwargs = dict(do_sample=sample, temperature=params.temperature, top_p=params.top_p) if sample else {"do_sample": False}
        gen = self.model.generate(
            **enc,
            max_new_tokens=params.max_new_tokens,
            num_return_sequences=params.n,
            top_k=None,  # pure temperature / top-p sampling, as the GRPO papers do
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            stop_strings=params.stop or None,
            tokenizer=tok if params.stop else None,
            **kwargs,
        )
        gen = gen[:, enc["input_ids"].shape[1] :]
        stop_ids = {tok.eos_token_id, tok.pad_token_id}
        for row, ids in enumerate(gen.tolist()):
            prompt = enc["input_ids"][row // params.n][enc["attention_mask"][row // params.n].bool()].tolist()
            end = next((j for j, t in enumerate(ids) if t in stop_ids), None)
            completion = ids if end is None else ids[: end + 1]  # keep the stop token: the model learns to stop
            out.prompt_ids.append(prompt)
            out.completion_ids.append(completion)
            out.texts.append(cut_at_stop(tok.decode(completion, skip_special_tokens=True), params.stop))
            stopped_by_string = bool(params.stop) and any(s in out.texts[-1] for s in params.stop)
            out.truncated.append(end is None and len(ids) >= params.max_new_tokens and not stopped_by_string)
