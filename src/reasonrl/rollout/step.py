"""One decode step over the KV cache (`rollout.decode_forward`): transformers' forward, or a lean one for Llama.

A decode step of SmolLM2-135M on 16 rows is ~53 ms on 2 cores, of which the matmuls are a third (session 25,
docs/performance.md): the rest is ~40 small eager ops a layer and transformers' per-call machinery (a mask
built each step, a cache that grows by `torch.cat`, a dozen module calls a layer). `LlamaStep` runs the same
layer on the same weights with about half the ops: a cache allocated once and written in place, one rotary pass
for q and k together from a table computed once by the model's own rotary module, a one-query attention as two
grouped products, no module-call overhead. Session 28: on a bf16 model where oneDNN packs, q/k/v run as one product
and gate/up as another (4 products a layer, not 7: a small product costs ~30 us over its bytes), on packed bf16
copies the step makes itself; otherwise each Linear's own forward, so fastlinear.py's layouts route them. The residual
stream, norms, rotary, cache and attention stay fp32, as the trainer's autocast keeps them (KL to the fp32 policy
over 30 sampled steps 1.15e-3, transformers' bf16 forward 1.56e-3). The engine has it prefill too
(`LlamaStep.prefill`), from the trainer's own weights: a bf16 engine then casts no bf16 copy of the model, the
packing is the only per-rollout copy. Only `LlamaForCausalLM` without hooks takes it (SmolLM2); any other model
prefills with transformers and decodes through `HFStep`.

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
    """The Llama decoder layer for one new token per row, on a cache preallocated for the whole rollout.

    Built from a transformers prefill (`LlamaStep(model, cache, attn, max_new)`, what `make_step` does), or prefilling
    itself (`LlamaStep.prefill`, what the engine does): then the weights may come from another model of the same
    shape, e.g. the trainer's fp32 weights packed into bf16 products, and the engine casts no bf16 copy at all."""

    @staticmethod
    def supports(model, cache=None) -> bool:
        """Whether this step can decode `model` (and, given, the prefill's `cache`)."""
        inner = getattr(model, "model", None)
        ok = (type(model).__name__ == "LlamaForCausalLM" and inner is not None and hasattr(inner, "rotary_emb")
              # module hooks (accelerate offload, a profiler's wrappers) would be skipped by the direct forwards
              and not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()))
        if not ok or cache is None:
            return ok
        layers = getattr(cache, "layers", None)
        return (layers is not None and len(layers) == len(inner.layers)
                and all(hasattr(c, "keys") and c.keys is not None and c.keys.dim() == 4 for c in layers))

    @staticmethod
    def packs(model) -> bool:
        """Whether the step runs every product on its own oneDNN-packed bf16 weights (then the engine's per-row-count
        layouts, fastlinear.py, are not needed: they chose `packed` at every bf16 shape and row count on the AMX Xeon)."""
        from reasonrl.rollout.fastlinear import _packs

        return LlamaStep.supports(model) and model.lm_head.weight.dtype == torch.bfloat16 and _packs()

    def __init__(self, model, cache, attn: torch.Tensor, max_new: int, weights: dict[str, torch.Tensor] | None = None):
        """`weights`: parameters by name (default: the model's own); with a bf16 `model` where oneDNN packs, the
        products are packed bf16 copies of them, else they run through the model's Linear modules."""
        inner, cfg = model.model, model.config
        w = weights if weights is not None else {n: p.detach() for n, p in model.named_parameters()}
        L, a0 = len(inner.layers), inner.layers[0].self_attn
        self.H, self.KV, self.D = cfg.num_attention_heads, cfg.num_key_value_heads, a0.head_dim
        self.I, self.eps, self.scale = inner.layers[0].mlp.gate_proj.out_features, inner.norm.variance_epsilon, a0.scaling
        self.act = inner.layers[0].mlp.act_fn
        self.dtype = model.lm_head.weight.dtype                # the products' dtype
        self.embed = w["model.embed_tokens.weight"]
        n, p = attn.shape
        self.t, self.size = p, p + max_new                 # next cache slot; every slot this rollout can write
        # The residual stream, norms, rotary and attention in fp32 (the trainer's autocast keeps them there too); only
        # the products run in the weights' dtype. The cache is [n, KV, size, D] fp32.
        self.k = [torch.empty(n, self.KV, self.size, self.D, device=attn.device) for _ in range(L)]
        self.v = [torch.empty_like(k) for k in self.k]
        if cache is not None:                              # a transformers prefill's (repeated per group)
            for c, k, v in zip(cache.layers, self.k, self.v):
                k[:, :, :p], v[:, :, :p] = c.keys, c.values
        self.bias = torch.full((n, 1, 1, self.size), float("-inf"), device=attn.device)   # 0 where a row may attend
        self.bias[:, 0, 0, :p].masked_fill_(attn.bool(), 0.0)
        ln = "model.layers.{}.{}.weight".format
        self.norms = [(w[ln(i, "input_layernorm")].float(), w[ln(i, "post_attention_layernorm")].float()) for i in range(L)]
        self.final_norm = w["model.norm.weight"].float()
        # q, k, v as one product and gate, up as another: a decode step of few rows streams each weight once, and a
        # small product costs ~30 us over its bytes (k_proj: 40 us for 0.2 MB on the AMX Xeon), so 7 calls a layer become 4
        pack = self.packs(model)
        if weights is not None and not pack:
            raise ValueError("LlamaStep: weights other than the model's own need packed bf16 products (LlamaStep.packs)")
        mods = dict(model.named_modules())

        def product(*names: str) -> Callable[[torch.Tensor], torch.Tensor]:
            return _product(pack, self.dtype, [mods[n] for n in names], [w.get(f"{n}.weight") for n in names])

        self.proj = [(product(*(f"model.layers.{i}.self_attn.{x}_proj" for x in "qkv")),
                      product(f"model.layers.{i}.self_attn.o_proj"),
                      product(f"model.layers.{i}.mlp.gate_proj", f"model.layers.{i}.mlp.up_proj"),
                      product(f"model.layers.{i}.mlp.down_proj")) for i in range(L)]
        if "lm_head.weight" not in w:                      # tied to the embedding (named_parameters lists it once)
            w = {**w, "lm_head.weight": self.embed}
        self.head = product("lm_head")
        # cos / sin for every position by the model's own rotary module (its scaling included);
        # rotate_half(x) * sin == x.roll(D/2) * [-sin_lo, sin_hi]: one roll instead of two slices, a neg and a cat
        cos, sin = inner.rotary_emb(torch.ones(1, device=attn.device), torch.arange(self.size, device=attn.device)[None])
        half = self.D // 2
        self.cos, self.sin = cos[0], torch.cat([-sin[0, :, :half], sin[0, :, half:]], dim=-1)

    @classmethod
    def prefill(cls, model, ids: torch.Tensor, attn: torch.Tensor, G: int, max_new: int,
                weights: dict[str, torch.Tensor] | None = None) -> tuple["LlamaStep", torch.Tensor]:
        """(step, logits [B*G, V]) after the left-padded prompts `ids` [B, P], each row repeated G times: the prompt
        is run once per prompt, its cache written G times."""
        B, P = ids.shape
        step = cls(model, None, attn.repeat_interleave(G, dim=0), max_new, weights)
        H, KV, D, dt, eps = step.H, step.KV, step.D, step.dtype, step.eps
        pos = (attn.cumsum(-1) - 1).clamp(min=0)                                      # [B, P]
        cos, sin = step.cos[pos][:, :, None], step.sin[pos][:, :, None]                # [B, P, 1, D]
        causal = torch.ones(P, P, dtype=torch.bool, device=ids.device).tril()
        # a padding query attends to itself alone: its row stays finite (all-masked rows give NaN, and NaN times the
        # zero weight later queries give it is still NaN); no real query attends to it
        eye = torch.eye(P, dtype=torch.bool, device=ids.device)
        mask = ((causal & attn.bool()[:, None, :]) | eye)[:, None]                     # [B, 1, P, P]
        x = F.embedding(ids, step.embed).float()                                       # [B, P, hidden]
        for (w1, w2), kc, vc, (qkv_p, o_p, gu_p, down_p) in zip(step.norms, step.k, step.v, step.proj):
            h = F.rms_norm(x, (x.shape[-1],), w1, eps).to(dt).reshape(B * P, -1)
            qkv = qkv_p(h).view(B, P, H + 2 * KV, D).float()
            qk = qkv[:, :, : H + KV]
            qk = torch.addcmul(qk * cos, qk.roll(D // 2, -1), sin).transpose(1, 2)    # [B, H + KV, P, D]
            k, v = qk[:, H:], qkv[:, :, H + KV :].transpose(1, 2)                      # [B, KV, P, D]
            kc.view(B, G, KV, step.size, D)[:, :, :, :P] = k[:, None]
            vc.view(B, G, KV, step.size, D)[:, :, :, :P] = v[:, None]
            o = F.scaled_dot_product_attention(qk[:, :H], k, v, attn_mask=mask, scale=step.scale, enable_gqa=True)
            x = x + o_p(o.transpose(1, 2).reshape(B * P, H * D).to(dt)).view(B, P, -1)
            h = F.rms_norm(x, (x.shape[-1],), w2, eps).to(dt).reshape(B * P, -1)
            gu = gu_p(h)
            x = x + down_p(step.act(gu[:, : step.I]) * gu[:, step.I :]).view(B, P, -1)
        logits = step.head(F.rms_norm(x[:, -1], (x.shape[-1],), step.final_norm, eps).to(dt))   # [B, V]: left-padded
        return step, logits.repeat_interleave(G, dim=0)

    def drop(self, keep: torch.Tensor) -> None:
        # only the slots written so far are copied: the whole buffer (prompt + every new token) made a 64-row
        # rollout, whose rows finish one by one, slower than transformers' cache
        self.k = [_select(c, keep, self.t) for c in self.k]
        self.v = [_select(c, keep, self.t) for c in self.v]
        self.bias = self.bias[keep]

    def __call__(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        t, n, H, KV, D, I, dt, eps = self.t, len(ids), self.H, self.KV, self.D, self.I, self.dtype, self.eps
        x = F.embedding(ids, self.embed).float()           # [n, hidden]
        p = pos.reshape(-1)
        cos, sin = self.cos[p][:, None], self.sin[p][:, None]   # [n, 1, D], broadcast over heads
        self.bias[:, :, :, t] = 0.0
        bias = self.bias[..., : t + 1]
        for (w1, w2), kc, vc, (qkv_p, o_p, gu_p, down_p) in zip(self.norms, self.k, self.v, self.proj):
            h = F.rms_norm(x, (x.shape[-1],), w1, eps).to(dt)
            qkv = qkv_p(h).view(n, H + 2 * KV, D).float()
            qk = qkv[:, : H + KV]
            qk = torch.addcmul(qk * cos, qk.roll(D // 2, -1), sin)
            kc[:, :, t] = qk[:, H:]
            vc[:, :, t] = qkv[:, H + KV :]
            # one query per row: two grouped products (the query heads of a KV head as rows), no SDPA dispatch
            s = torch.matmul(qk[:, :H].view(n, KV, H // KV, D), kc[:, :, : t + 1].transpose(-1, -2))   # [n, KV, g, t+1]
            o = torch.matmul(torch.softmax(s.mul_(self.scale).add_(bias), dim=-1), vc[:, :, : t + 1])   # [n, KV, g, D]
            x = x + o_p(o.reshape(n, H * D).to(dt))
            h = F.rms_norm(x, (x.shape[-1],), w2, eps).to(dt)
            gu = gu_p(h)
            x = x + down_p(self.act(gu[:, :I]) * gu[:, I:])
        self.t = t + 1
        return self.head(F.rms_norm(x, (x.shape[-1],), self.final_norm, eps).to(dt))


def _product(pack: bool, dtype: torch.dtype, linears: list, weights: list) -> Callable[[torch.Tensor], torch.Tensor]:
    """x -> the outputs of bias-free Linears that share an input, side by side: with `pack`, one product on their
    stacked `weights` cast to `dtype` and oneDNN-packed; without, each Linear's own forward, so the engine's tuned
    layouts (fastlinear.py, e.g. `fast`'s bf16 copies under an fp32 model) still route every one of them."""
    if not pack:
        fs = [m.forward for m in linears]
        return fs[0] if len(fs) == 1 else (lambda x: torch.cat([f(x) for f in fs], dim=-1))
    from reasonrl.rollout.fastlinear import PACK_ROWS

    w = torch.cat([x.detach().to(dtype) for x in weights]) if len(weights) > 1 else weights[0].detach().to(dtype)
    wp = torch.ops.mkldnn._reorder_linear_weight(w, PACK_ROWS)
    return lambda x: torch.ops.mkldnn._linear_pointwise(x, wp, None, "none", [], "")


def _select(buf: torch.Tensor, keep: torch.Tensor, t: int) -> torch.Tensor:
    out = buf.new_empty(len(keep), *buf.shape[1:])
    torch.index_select(buf[:, :, :t], 0, keep, out=out[:, :, :t])
    return out


def _lean(model, cache, attn, max_new):
    return (LlamaStep if LlamaStep.supports(model, cache) else HFStep)(model, cache, attn, max_new)


# rollout.decode_forward -> builder(model, cache after the prefill, attention mask [N, P], max new tokens)
STEPS: dict[str, Callable] = {"lean": _lean, "hf": HFStep}


def make_step(name: str, model, cache, attn: torch.Tensor, max_new: int):
    if name not in STEPS:
        raise ValueError(f"unknown decode forward {name!r}; valid: {', '.join(STEPS)}")
    return STEPS[name](model, cache, attn, max_new)
