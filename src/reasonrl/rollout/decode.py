"""A group-aware decode loop over the transformers model and its KV cache: the fast CPU rollout engine.

Two things `model.generate` does not do, and that pay on a CPU where every decode step is compute-bound:
- **shared prompt prefill**: each prompt is encoded once and its KV cache repeated G times
  (`generate(num_return_sequences=G)` encodes the prompt G times);
- **finished rows leave the batch**: once a sample emits EOS (or a stop string) its row is dropped
  from the cache, so the long tail of one rambling sample no longer drags G-1 finished ones along.
Sampling is plain temperature + top-p from the same logits the model computes. The prefill and each decode step
are transformers' forward (`rollout.decode_forward=hf`) or, for Llama models, the same layer on the same weights
with fewer eager ops (`lean`, step.py: a cache allocated once, stacked products on oneDNN-packed bf16 weights;
torch ops only, no home-made kernels).
"""
from __future__ import annotations

import time

import torch

from reasonrl.rollout.base import Rollouts, SamplingParams, cut_at_stop
from reasonrl.model import cache_dir
from reasonrl.rollout.fastlinear import DecodeLinears
from reasonrl.rollout.hf import HFEngine, _merged_named_params
from reasonrl.rollout.step import LlamaStep, make_step


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token per row from logits [N, V]: greedy when temperature == 0, else temperature + top-p.

    >>> sample_next(torch.tensor([[0.0, 2.0, 1.0]]), 0.0, 1.0).tolist()
    [1]
    >>> sample_next(torch.tensor([[0.0, 9.0, 1.0]]), 1.0, 0.5, torch.Generator().manual_seed(0)).tolist()
    [1]
    """
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)            # [N, V]
    if top_p < 1.0:
        sorted_p, idx = probs.sort(dim=-1, descending=True)
        outside = sorted_p.cumsum(-1) - sorted_p >= top_p                  # keep the smallest prefix with mass >= top_p
        sorted_p = sorted_p.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, idx, sorted_p)
    return inverse_cdf(probs, generator)


def inverse_cdf(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row of the (unnormalised) distribution `probs` [N, V]: the first index whose cumulative
    mass exceeds a uniform. One random number per row; `torch.multinomial` draws V exponentials per row,
    which cost more than the softmax itself at a 49k vocabulary (15 ms of a ~70 ms decode step on 2 cores).
    A zero-mass index is never drawn (its cumulative mass equals its predecessor's).

    >>> inverse_cdf(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])).tolist()
    [1, 2]
    """
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def sample_groups(logits: torch.Tensor, groups: torch.Tensor, gens: list[torch.Generator], temperature: float,
                  top_p: float) -> torch.Tensor:
    """`sample_next` with the rows of group g [N] drawn from `gens[g]` alone: a group's samples then
    depend only on its own seed and logits, not on which prompts share the batch (or the rank).
    One multinomial call per group and decode step instead of one per step.

    >>> lg = torch.tensor([[0.0, 9.0], [9.0, 0.0], [0.0, 9.0]])
    >>> sample_groups(lg, torch.tensor([0, 1, 1]), [torch.Generator().manual_seed(s) for s in (1, 2)], 1.0, 0.5).tolist()
    [1, 0, 1]
    """
    out = torch.empty(len(groups), dtype=torch.long, device=logits.device)
    for g in groups.unique().tolist():
        sel = (groups == g).nonzero().squeeze(-1)
        out[sel.to(logits.device)] = sample_next(logits[sel.to(logits.device)], temperature, top_p, gens[g])
    return out


def draw(probs: torch.Tensor, groups: torch.Tensor, gens: list[torch.Generator] | None) -> torch.Tensor:
    """`inverse_cdf` of `probs` [N, V], the rows of group g [N] drawn from `gens[g]` alone (as `sample_groups`).

    >>> draw(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1]), [torch.Generator().manual_seed(s) for s in (1, 2)]).tolist()
    [1, 0]
    """
    if gens is None:
        return inverse_cdf(probs)
    out = torch.empty(len(groups), dtype=torch.long, device=probs.device)
    for g in groups.unique().tolist():
        sel = (groups == g).nonzero().squeeze(-1).to(probs.device)
        out[sel] = inverse_cdf(probs[sel], gens[g])
    return out


class DecodeEngine(HFEngine):
    """Same interface and weight handling as `HFEngine`; a faster `generate` for groups of samples."""

    def __init__(self, model, tokenizer, *, dtype: torch.dtype | None = None, max_batch: int = 64,
                 transposed_weights: bool = True, layout: str = "auto", forward: str = "lean"):
        super().__init__(model, tokenizer, dtype=dtype, max_batch=max_batch)
        self.decode_forward = forward   # step.py: "lean" (Llama's layer without transformers' per-call machinery) or "hf"
        # transposed_weights=False: the model's own Linear forward (the reference the fast layouts are checked against)
        self._fast = (DecodeLinears(self.model, layout=layout, cache=cache_dir() / "decode_layouts.json")
                      if transposed_weights else None)

    def _packs_from_source(self) -> bool:
        # the lean step packs its bf16 products straight from the trainer's weights: no bf16 copy is cast
        return self.decode_forward == "lean" and self.owns_copy and LlamaStep.packs(self.model)

    def _materialize(self) -> None:
        if not self._packs_from_source():
            super()._materialize()

    @torch.no_grad()
    def _generate_chunk(self, prompts: list[str], params: SamplingParams, out: Rollouts) -> None:
        if self._fast is None or (self.decode_forward == "lean" and LlamaStep.packs(self.model)):
            return self._decode(prompts, params, out)   # the lean step packs its own bf16 products (step.py)
        # inside the chunk: a bf16 copy's weights exist only once `generate` has cast them (hf.py)
        with self._fast.active(len(prompts) * params.n):  # this CPU's fastest matmul layout per batch size
            self._decode(prompts, params, out)

    def _decode(self, prompts: list[str], params: SamplingParams, out: Rollouts) -> None:
        tok, G, model = self.tok, params.n, self.model
        dev = model.device
        enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False).to(dev)
        gens = [torch.Generator(dev).manual_seed(s) for s in params.seeds] if params.seeds is not None else None
        temp = params.temperature if params.temperature > 0 else 1.0  # logprobs of greedy picks: plain softmax
        attn = enc["attention_mask"]                                       # [B, P]
        if self.decode_forward == "lean" and LlamaStep.supports(model):   # it prefills too, once per prompt
            weights = _merged_named_params(self.source) if self._packs_from_source() else None
            step_fn, logits = LlamaStep.prefill(model, enc["input_ids"], attn, G, params.max_new_tokens, weights)
        else:
            pos = (attn.cumsum(-1) - 1).clamp(min=0)
            res = model(input_ids=enc["input_ids"], attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1)
            cache = res.past_key_values
            cache.batch_repeat_interleave(G)                               # share the prefill across the group
            logits = res.logits[:, -1].repeat_interleave(G, dim=0)         # [B*G, V]
            step_fn = make_step(self.decode_forward, model, cache, attn.repeat_interleave(G, dim=0), params.max_new_tokens)
        attn = attn.repeat_interleave(G, dim=0)                            # [B*G, P]
        next_pos = attn.sum(-1, keepdim=True)                              # [B*G, 1]
        rows = torch.arange(len(prompts) * G)                              # original row of each active row
        gen: list[list[int]] = [[] for _ in range(len(rows))]
        done = [False] * len(rows)
        stop_ids = {tok.eos_token_id, tok.pad_token_id}
        lps: list[list[float]] = [[] for _ in range(len(rows))]
        for step in range(params.max_new_tokens):
            if params.logprobs and params.temperature > 0 and params.top_p >= 1:
                # one log-softmax serves both: the draw from its exp, the sampled token's log-prob from a gather
                logp = torch.log_softmax(logits.float().div_(temp), dim=-1)               # [n_active, V]
                nxt = draw(logp.exp(), rows // G, gens)
            elif gens is None:
                nxt, logp = sample_next(logits, params.temperature, params.top_p), None    # [n_active]
            else:
                nxt, logp = sample_groups(logits, rows // G, gens, params.temperature, params.top_p), None
            if params.logprobs:  # the sampled token under logits / temperature, as the training forward scores it
                if logp is None:
                    logp = torch.log_softmax(logits.float() / temp, dim=-1)
                for r, v in zip(rows.tolist(), logp.gather(-1, nxt[:, None]).squeeze(-1).tolist()):
                    lps[r].append(v)
            keep = []
            for j, (r, t) in enumerate(zip(rows.tolist(), nxt.tolist())):
                gen[r].append(t)
                if t in stop_ids or (params.stop and self._hit_stop(gen[r], params.stop)):
                    done[r] = True
                else:
                    keep.append(j)
            if not keep or step == params.max_new_tokens - 1:
                break
            if len(keep) < len(rows):                                      # drop finished rows from the batch
                k = torch.tensor(keep, device=dev)
                step_fn.drop(k)
                rows, nxt, next_pos = rows[k.cpu()], nxt[k], next_pos[k]
            logits = step_fn(nxt, next_pos)
            next_pos = next_pos + 1
        for r in range(len(gen)):
            prompt = enc["input_ids"][r // G][enc["attention_mask"][r // G].bool()].tolist()
            out.prompt_ids.append(prompt)
            out.completion_ids.append(gen[r])
            out.texts.append(cut_at_stop(tok.decode(gen[r], skip_special_tokens=True), params.stop))
            out.truncated.append(not done[r])
            if out.logprobs is not None:
                out.logprobs.append(lps[r])

    def _hit_stop(self, ids: list[int], stop: list[str]) -> bool:
        tail = self.tok.decode(ids[-8:], skip_special_tokens=True)  # a stop string spans only a few tokens
        return any(s in tail for s in stop)
