"""`reasonrl export --format gguf`: round trip through transformers' GGUF loader, metadata read back with
gguf.GGUFReader, the rope layout, the one-line error for an architecture it cannot write, and eval of the file."""
import json

import numpy as np
import pytest
import torch

from reasonrl.export.cli import main as export_main
from reasonrl.export.gguf_file import to_llama_rope_rows
from reasonrl.tasks import Problem, render_prompt

PROMPTS = ["What is 4 + 5?", "小明有3个苹果，又买了4个，现在有几个？", "Sort these numbers: 9, 2, 7"]


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """{quant: path} of the tiny run exported to f32 and q8_0 through the CLI."""
    out = tmp_path_factory.mktemp("gguf")
    paths = {}
    for quant in ("f32", "q8_0"):
        paths[quant] = out / f"tiny-{quant}.gguf"
        assert export_main([str(tiny_run), "--format", "gguf", "--quant", quant, "--out", str(paths[quant])]) == 0
    return paths


def _load(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def source(tiny_run):
    from reasonrl.model import load_model

    model, tok, _ = load_model(tiny_run)
    return model.eval(), tok


def test_f32_logits_equal_the_checkpoint_within_1e_4(exported, source):
    model, tok = source
    back = _load(exported["f32"])
    for text in PROMPTS:
        ids = tok(text, return_tensors="pt").input_ids
        with torch.no_grad():
            diff = (model(ids).logits - back(ids).logits).abs().max().item()
        assert diff <= 1e-4, (text, diff)


def test_q8_0_greedy_32_tokens_on_10_heldout_prompts(exported, source, tiny_run):
    """Greedy continuations of the 10 held-out prompts: all 32 tokens equal, for every prompt (measured
    on this tiny random model; `benchmarks/export_roundtrip.py` measures the real checkpoint)."""
    from reasonrl.config import load_config
    from reasonrl.tasks import load_task

    model, tok = source
    back = _load(exported["q8_0"])
    cfg = load_config(tiny_run / "config.yaml")
    heldout = load_task(cfg.task).heldout[:10]
    same = 0
    for p in heldout:
        ids = tok(render_prompt(tok, p, cfg.task.template)[0], return_tensors="pt").input_ids
        kw = dict(max_new_tokens=32, min_new_tokens=32, do_sample=False, pad_token_id=tok.pad_token_id)
        a = model.generate(ids, **kw)[0, ids.shape[1]:]
        b = back.generate(ids, **kw)[0, ids.shape[1]:]
        same += bool(torch.equal(a, b))
    assert same == 10


def test_metadata_tokenizer_and_template_read_back(exported, source, tiny_run):
    import gguf

    model, tok = source
    r = gguf.GGUFReader(exported["q8_0"])
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("GGUF.")}
    c = model.config
    assert f["general.architecture"] == "llama"
    assert (f["llama.block_count"], f["llama.embedding_length"], f["llama.feed_forward_length"]) == (2, 64, 128)
    assert (f["llama.attention.head_count"], f["llama.attention.head_count_kv"], f["llama.rope.dimension_count"]) == (4, 2, 16)
    assert f["llama.context_length"] == c.max_position_embeddings and f["general.file_type"] == 7  # MOSTLY_Q8_0
    assert f["tokenizer.ggml.model"] == "gpt2" and f["tokenizer.ggml.pre"] == "smollm"
    assert f["tokenizer.ggml.tokens"] == [tok.convert_ids_to_tokens(i) for i in range(c.vocab_size)]
    assert f["tokenizer.ggml.token_type"][:3] == [3, 3, 3] and f["tokenizer.ggml.token_type"][100] == 1
    assert len(f["tokenizer.ggml.merges"]) == 48900
    assert (f["tokenizer.ggml.bos_token_id"], f["tokenizer.ggml.eos_token_id"]) == (1, 2)
    assert f["tokenizer.ggml.add_bos_token"] is False
    names = {t.name: t for t in r.tensors}
    assert "output.weight" not in names  # tied head: llama.cpp reuses token_embd
    assert names["blk.0.attn_q.weight"].tensor_type == gguf.GGMLQuantizationType.Q8_0
    assert names["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert len(names) == 2 + 9 * 2
    # the template renders the run's own prompt: instruction around the question, reply opened with <think>
    q = "What is 4 + 5?"
    rendered = tok.apply_chat_template([{"role": "user", "content": q}], chat_template=f["tokenizer.chat_template"],
                                       tokenize=False, add_generation_prompt=True)
    problem = Problem(id="t:0", question=q, answer="9", task="t", lang="en")
    assert rendered == render_prompt(tok, problem, "chat_think")[0]
    assert rendered.endswith("<|im_start|>assistant\n<think>\n")
    assert "chat_think" in f["reasonrl.config"] and "</answer>" in f["reasonrl.config"]


def test_q_rows_are_in_llama_cpp_layout(exported, source):
    """The f32 file holds q_proj permuted (not copied): the value at llama.cpp row 1 is transformers row D/2."""
    import gguf

    model, _ = source
    r = gguf.GGUFReader(exported["f32"])
    q = next(t for t in r.tensors if t.name == "blk.1.attn_q.weight")
    src = model.model.layers[1].self_attn.q_proj.weight.detach().numpy()
    stored = np.asarray(q.data).reshape(src.shape)
    np.testing.assert_array_equal(stored, to_llama_rope_rows(src, 4))
    np.testing.assert_array_equal(stored[1], src[8])  # head_dim 16: row D/2 = 8 pairs with row 0


def test_rope_permutation_is_what_transformers_undoes():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.random.default_rng(0).standard_normal((48, 5)).astype(np.float32)  # 6 q heads of 8 rows, or 3 k heads of 16
    undo = LlamaTensorProcessor({"num_attention_heads": 6, "num_key_value_heads": 3})._reverse_permute_weights
    np.testing.assert_array_equal(undo(to_llama_rope_rows(w, 3), 6, 3), w)
    np.testing.assert_array_equal(undo(to_llama_rope_rows(w, 6), 6, 6), w)


def test_unsupported_architecture_is_one_line_error(tmp_path, capsys):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=32)).save_pretrained(tmp_path)
    capsys.readouterr()  # drop save_pretrained's own progress output
    assert export_main([str(tmp_path), "--format", "gguf", "--out", str(tmp_path / "x.gguf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "reasonrl export: cannot export architecture GPT2LMHeadModel to GGUF; supported: LlamaForCausalLM"
    assert not (tmp_path / "x.gguf").exists()


def test_eval_of_the_gguf_file_equals_eval_of_the_checkpoint(exported, tiny_run, tmp_path):
    """`reasonrl eval --model FILE.gguf` (transformers' loader) on the run's own held-out split."""
    from reasonrl.eval.cli import main as eval_main

    outs = {}
    for name, spec in (("ckpt", str(tiny_run)), ("gguf", str(exported["f32"]))):
        outs[name] = tmp_path / f"{name}.json"
        assert eval_main(["--model", spec, "--config", str(tiny_run / "config.yaml"), "--greedy", "--limit", "5",
                          "--out", str(outs[name])]) == 0
    a, b = (json.loads(outs[n].read_text()) for n in ("ckpt", "gguf"))
    assert [p["id"] for p in a["problems"]] == [p["id"] for p in b["problems"]]
    assert [p["samples"][0]["response"] for p in a["problems"]] == [p["samples"][0]["response"] for p in b["problems"]]
    assert b["meta"]["model_path"].endswith("tiny-f32.gguf")
