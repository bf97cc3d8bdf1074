"""Write a transformers model + tokenizer as one GGUF file with the `gguf` package (llama.cpp's own writer).

    write_gguf(model, tokenizer, Path("model-q8_0.gguf"), "q8_0", chat_template=..., name="my-run")

What goes in, and why it is laid out so (llama.cpp's `convert_hf_to_gguf.py` is the reference layout;
transformers' GGUF loader undoes the same steps, which is how the round trip is tested):
- architecture metadata under `llama.*` (context, widths, heads, rope base, RMS eps);
- tensors renamed `model.layers.N.self_attn.q_proj.weight` -> `blk.N.attn_q.weight` (NAMES), q and k rows
  permuted from transformers' rotate-half rotary layout to llama.cpp's interleaved one (`to_llama_rope_rows`);
  the tied output head is not written (llama.cpp reuses `token_embd`);
- the byte-level BPE tokenizer: every token by id, its type (control / user-defined / normal), the merges,
  BOS/EOS/UNK/PAD ids, and `tokenizer.chat_template` (the trained one, with the think prefill);
- f32 / f16 / q8_0 weights; norms stay f32 (1-D, tiny); a q8_0 tensor whose rows are not a multiple of 32
  (the Q8_0 block) falls back to f16, as llama.cpp does.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

SUPPORTED = {"LlamaForCausalLM": "llama"}  # transformers class -> GGUF architecture
QUANTS = ("f32", "f16", "q8_0")
NAMES = [  # transformers name pattern -> GGUF name (the llama.cpp tensor names)
    (r"model\.embed_tokens\.weight", "token_embd.weight"),
    (r"model\.norm\.weight", "output_norm.weight"),
    (r"lm_head\.weight", "output.weight"),
    (r"model\.layers\.(\d+)\.input_layernorm\.weight", r"blk.\1.attn_norm.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.q_proj\.weight", r"blk.\1.attn_q.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.k_proj\.weight", r"blk.\1.attn_k.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.v_proj\.weight", r"blk.\1.attn_v.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.o_proj\.weight", r"blk.\1.attn_output.weight"),
    (r"model\.layers\.(\d+)\.post_attention_layernorm\.weight", r"blk.\1.ffn_norm.weight"),
    (r"model\.layers\.(\d+)\.mlp\.gate_proj\.weight", r"blk.\1.ffn_gate.weight"),
    (r"model\.layers\.(\d+)\.mlp\.up_proj\.weight", r"blk.\1.ffn_up.weight"),
    (r"model\.layers\.(\d+)\.mlp\.down_proj\.weight", r"blk.\1.ffn_down.weight"),
]
# llama.cpp picks its pre-tokenizer regex by this name; it cannot be read off a tokenizer.json, so known
# vocabularies are recognised by a fingerprint of their tokens and merges (see `vocab_fingerprint`).
PRE_TOKENIZERS = {"e86e5bd807a389e1": "smollm"}  # SmolLM2 (135M/360M/1.7B share it)
DEFAULT_PRE = "gpt2"


class ExportError(ValueError):
    """A model this exporter cannot write; the message names what is supported."""


def gguf_arch(config, class_name: str | None = None) -> str:
    """The GGUF architecture of a transformers config; ExportError naming what is supported."""
    arch = (config.architectures or [class_name or config.model_type])[0]
    if arch not in SUPPORTED:
        raise ExportError(f"cannot export architecture {arch} to GGUF; supported: {', '.join(SUPPORTED)}")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise ExportError(f"cannot export {arch} with attention/MLP biases to GGUF; supported: bias-free Llama")
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ExportError(f"cannot export rope_type={rope['rope_type']!r} to GGUF; supported: default rope")
    if config.hidden_act != "silu":
        raise ExportError(f"cannot export hidden_act={config.hidden_act!r} to GGUF; supported: silu")
    return SUPPORTED[arch]


def gguf_name(hf_name: str) -> str:
    """The llama.cpp name of a transformers tensor.

    >>> gguf_name("model.layers.3.self_attn.k_proj.weight")
    'blk.3.attn_k.weight'
    """
    for pattern, target in NAMES:
        if re.fullmatch(pattern, hf_name):
            return re.sub(pattern, target, hf_name)
    raise ExportError(f"tensor {hf_name} has no GGUF name; supported: plain Llama decoder tensors")


def to_llama_rope_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder q/k projection rows [n_heads * head_dim, in] from transformers' rotary layout (the two
    halves of each head rotate together) to llama.cpp's (adjacent pairs rotate together).

    Within a head, row h*D/2 + i (first half) and D/2 + i (second half) become rows 2i and 2i + 1:
    >>> to_llama_rope_rows(np.arange(8).reshape(8, 1), 2).ravel().tolist()
    [0, 2, 1, 3, 4, 6, 5, 7]
    """
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensor_type(name: str, w: np.ndarray, quant: str):
    from gguf import GGMLQuantizationType as T

    if w.ndim == 1 or quant == "f32":
        return T.F32
    if quant == "q8_0" and w.shape[-1] % 32 == 0:
        return T.Q8_0
    return T.F16


def converted_tensors(state: dict, config, quant: str):
    """Yield (gguf name, numpy array, GGML type) for every tensor, q/k permuted, already quantised."""
    from gguf import GGMLQuantizationType as T
    from gguf.quants import quantize

    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, t in state.items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when output.weight is absent
        name = gguf_name(hf_name)
        w = t.detach().float().cpu().numpy()
        if ".attn_q." in name:
            w = to_llama_rope_rows(w, config.num_attention_heads)
        elif ".attn_k." in name:
            w = to_llama_rope_rows(w, config.num_key_value_heads)
        kind = _tensor_type(name, w, quant)
        data = {T.F32: lambda a: a.astype(np.float32), T.F16: lambda a: a.astype(np.float16),
                T.Q8_0: lambda a: quantize(a, T.Q8_0)}[kind](w)
        yield name, data, kind


def vocab_fingerprint(tokens: list[str], merges: list[str]) -> str:
    h = hashlib.sha256("\n".join(tokens).encode() + b"\0" + "\n".join(merges).encode())
    return h.hexdigest()[:16]


def tokenizer_fields(tokenizer, vocab_size: int) -> dict:
    """Tokens by id (padded to the model's vocab), their types, merges, special ids, pre-tokenizer name."""
    from gguf import TokenType

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    if model.get("type") != "BPE":
        raise ExportError(f"cannot export a {model.get('type')} tokenizer to GGUF; supported: byte-level BPE")
    by_id = {i: t for t, i in model["vocab"].items()}
    added = {a["id"]: a for a in spec.get("added_tokens", [])}
    tokens, types = [], []
    for i in range(vocab_size):
        if i in added:
            tokens.append(added[i]["content"])
            types.append(TokenType.CONTROL if added[i]["special"] else TokenType.USER_DEFINED)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(TokenType.NORMAL)
        else:  # the model's embedding is wider than the vocabulary: llama.cpp's padding convention
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    pre = PRE_TOKENIZERS.get(vocab_fingerprint(tokens, merges))
    if pre is None:
        print(f"reasonrl export: unknown vocabulary; tokenizer.ggml.pre={DEFAULT_PRE} (llama.cpp's GPT-2 split)",
              file=sys.stderr)
    probe = tokenizer.encode("a")
    ids = {k: getattr(tokenizer, f"{k}_token_id") for k in ("bos", "eos", "unk", "pad")}
    return {"tokens": tokens, "types": types, "merges": merges, "pre": pre or DEFAULT_PRE, "ids": ids,
            "add_bos": bool(probe) and probe[0] == ids["bos"]}


def _add_metadata(w, config, fields: dict, quant: str, name: str, chat_template: str | None, extra: dict) -> None:
    from gguf import GGML_QUANT_VERSION, LlamaFileType

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    w.add_name(name)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    w.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // config.num_attention_heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_vocab_size(config.vocab_size)
    w.add_file_type({"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16,
                     "q8_0": LlamaFileType.MOSTLY_Q8_0}[quant])
    if quant == "q8_0":
        w.add_quantization_version(GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(fields["pre"])
    w.add_token_list(fields["tokens"])
    w.add_token_types(fields["types"])
    w.add_token_merges(fields["merges"])
    setters = {"bos": w.add_bos_token_id, "eos": w.add_eos_token_id, "unk": w.add_unk_token_id,
               "pad": w.add_pad_token_id}
    for key, token_id in fields["ids"].items():
        if token_id is not None:
            setters[key](token_id)
    w.add_add_bos_token(fields["add_bos"])
    if chat_template:
        w.add_chat_template(chat_template)
    for key, value in extra.items():
        w.add_string(key, value)


def write_gguf(model, tokenizer, out: Path, quant: str = "f32", *, chat_template: str | None = None,
               name: str = "model", extra: dict | None = None, progress: bool = True) -> Path:
    """Write `out` (via `out.tmp`, renamed when complete). `extra`: more string metadata, e.g. the run config."""
    import gguf
    from tqdm import tqdm

    if quant not in QUANTS:
        raise ExportError(f"--quant {quant}: supported {', '.join(QUANTS)}")
    config = model.config
    arch = gguf_arch(config, type(model).__name__)
    fields = tokenizer_fields(tokenizer, config.vocab_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    _add_metadata(writer, config, fields, quant, name, chat_template, extra or {})
    state = model.state_dict()
    bar = tqdm(total=len(state), desc=f"gguf {quant}", unit="tensor", file=sys.stderr, disable=not progress)
    for tname, data, kind in converted_tensors(state, config, quant):
        writer.add_tensor(tname, data, raw_dtype=kind if kind == gguf.GGMLQuantizationType.Q8_0 else None)
        bar.update(1)
    bar.close()
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=progress)
    finally:
        writer.close()
    os.replace(tmp, out)
    return out
