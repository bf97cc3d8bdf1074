"""One decode step over the KV cache (`rollout.decode_forward`): transformers' forward, or a lean one for Llama.

A decode step of SmolLM2-135M on 16 rows is ~53 ms on 2 cores, of which the matmuls are a third (session 25,
docs/performance.md): the rest is ~40 small eager ops a layer and transformers' per-call machinery (a mask
built each step, a cache that grows by `torch.cat`, a dozen module calls a layer). `LlamaStep` runs the same
layer on the same weights through the same Linear modules (the decode layouts of fastlinear.py still apply)
with about half the ops: a cache allocated once and written in place, one rotary pass for q and k together
from a table computed once by the model's own rotary module, SDPA over grouped heads (no repeat_kv), no
module-call overhead. The prefill stays transformers' own. Only `LlamaForCausalLM` without hooks takes it
(SmolLM2); any other model decodes through `HFStep`.

    step = make_step("lean", model, cache, attention_mask, max_new_tokens)
    logits = step(next_ids, positions)        # [N, V] for the N active rows
    step.drop(keep)                           # rows that finished leave the batch
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


class HFStep:
    """transformers' own forward over its DynamicCache: any model, the reference LlamaStep is tested against."""

    def __init__(self, model, cache, attn: torch.Tensor, max_new: int):
        self.model, self.cache, self.attn = model, cache, attn

    def drop(self, keep: torch.Tensor) -> None:
        self.cache.batch_select_indices(keep)
        self.attn = self.attn[keep]

    def __call__(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        self.attn = torch.cat([self.attn, self.attn.new_ones(len(ids), 1)], dim=1)
        res = self.model(input_ids=ids[:, None], attention_mask=self.attn, position_ids=pos, past_key_values=self.cache,
                         use_cache=True)
        return res.logits[:, -1]


class LlamaStep:
    """The Llama decoder layer for one new token per row, on a cache preallocated for the whole rollout."""

    @staticmethod
    def supports(model, cache) -> bool:
        inner = getattr(model, "model", None)
        layers = getattr(cache, "layers", None)
        return (type(model).__name__ == "LlamaForCausalLM" and inner is not None and hasattr(inner, "rotary_emb")
                and layers is not None and len(layers) == len(inner.layers)
                and all(hasattr(c, "keys") and c.keys is not None and c.keys.dim() == 4 for c in layers)
                # module hooks (accelerate offload, a profiler's wrappers) would be skipped by the direct forwards
                and not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()))

    def __init__(self, model, cache, attn: torch.Tensor, max_new: int):
        inner, cfg = model.model, model.config
        self.embed, self.layers, self.norm, self.head = inner.embed_tokens, list(inner.layers), inner.norm, model.lm_head
        a0 = self.layers[0].self_attn
        self.H, self.KV, self.D = cfg.num_attention_heads, cfg.num_key_value_heads, a0.head_dim
        n, p = attn.shape
        self.t, size = p, p + max_new                      # next cache slot; every slot this rollout can write
        self.k, self.v = [], []
        for c in cache.layers:                             # [n, KV, p, D] after the prefill (and its repeat per group)
            k = c.keys.new_empty(n, self.KV, size, self.D)
            v = c.values.new_empty(n, self.KV, size, self.D)
            k[:, :, :p], v[:, :, :p] = c.keys, c.values
            self.k.append(k)
            self.v.append(v)
        self.mask = torch.zeros(n, 1, 1, size, dtype=torch.bool, device=attn.device)
        self.mask[:, 0, 0, :p] = attn.bool()
        # cos / sin for every position, in the model's dtype, by its own rotary module (its scaling included);
        # rotate_half(x) * sin == x.roll(D/2) * [-sin_lo, sin_hi]: one roll instead of two slices, a neg and a cat
        w = self.embed.weight
        cos, sin = inner.rotary_emb(w[:1], torch.arange(size, device=w.device)[None])
        half = self.D // 2
        self.cos, self.sin = cos[0], torch.cat([-sin[0, :, :half], sin[0, :, half:]], dim=-1)

    def drop(self, keep: torch.Tensor) -> None:
        # only the slots written so far are copied: the whole buffer (prompt + every new token) made a 64-row
        # rollout, whose rows finish one by one, slower than transformers' cache
        self.k = [_select(c, keep, self.t) for c in self.k]
        self.v = [_select(c, keep, self.t) for c in self.v]
        self.mask = self.mask[keep]

    def __call__(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        t, n, H, KV, D = self.t, len(ids), self.H, self.KV, self.D
        x = self.embed.forward(ids)                        # [n, hidden]
        p = pos.reshape(-1)
        cos, sin = self.cos[p][:, None], self.sin[p][:, None]   # [n, 1, D], broadcast over heads
        self.mask[:, :, :, t] = True
        mask = self.mask[..., : t + 1]
        for layer, kc, vc in zip(self.layers, self.k, self.v):
            att, mlp = layer.self_attn, layer.mlp
            h = _rms(layer.input_layernorm, x)
            qk = torch.cat([att.q_proj.forward(h).view(n, H, D), att.k_proj.forward(h).view(n, KV, D)], dim=1)
            qk = qk * cos + qk.roll(D // 2, -1) * sin
            kc[:, :, t] = qk[:, H:]
            vc[:, :, t] = att.v_proj.forward(h).view(n, KV, D)
            o = F.scaled_dot_product_attention(qk[:, :H, None], kc[:, :, : t + 1], vc[:, :, : t + 1], attn_mask=mask,
                                               scale=att.scaling, enable_gqa=True)   # [n, H, 1, D]
            x = x + att.o_proj.forward(o.reshape(n, H * D))
            h = _rms(layer.post_attention_layernorm, x)
            x = x + mlp.down_proj.forward(mlp.act_fn(mlp.gate_proj.forward(h)) * mlp.up_proj.forward(h))
        self.t = t + 1
        return self.head.forward(_rms(self.norm, x))


def _select(buf: torch.Tensor, keep: torch.Tensor, t: int) -> torch.Tensor:
    out = buf.new_empty(len(keep), *buf.shape[1:])
    torch.index_select(buf[:, :, :t], 0, keep, out=out[:, :, :t])
    return out


def _rms(norm, x: torch.Tensor) -> torch.Tensor:
    """LlamaRMSNorm's forward as one kernel (its module runs seven ops; same values in fp32 and bf16, tested)."""
    return F.rms_norm(x, (x.shape[-1],), norm.weight, norm.variance_epsilon)


def _lean(model, cache, attn, max_new):
    return (LlamaStep if LlamaStep.supports(model, cache) else HFStep)(model, cache, attn, max_new)


# rollout.decode_forward -> builder(model, cache after the prefill, attention mask [N, P], max new tokens)
STEPS: dict[str, Callable] = {"lean": _lean, "hf": HFStep}


def make_step(name: str, model, cache, attn: torch.Tensor, max_new: int):
    if name not in STEPS:
        raise ValueError(f"unknown decode forward {name!r}; valid: {', '.join(STEPS)}")
    return STEPS[name](model, cache, attn, max_new)
