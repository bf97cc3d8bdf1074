"""Fixtures for the serve tests: a tiny random Llama with the real tokenizer, and a scripted engine.

The tiny model writes noise, so tests that need <think> tags in the output use `ScriptedEngine`, which
replays a fixed completion through the same Delta interface as `HFEngine`.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
import torch

from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving
from reasonrl.serve.engine import Delta, GenRequest, HFEngine, QueueFull

# tests/browser.py (shared with the report tests) is imported as `browser`, whatever the import mode.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    from reasonrl.model import default_model_dir, load_tokenizer

    tok = load_tokenizer(default_model_dir())
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=512, eos_token_id=tok.eos_token_id,
                                         pad_token_id=tok.pad_token_id))
    out = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def make_hf_engine(path, **kw) -> HFEngine:
    from reasonrl.model import load_model

    model, tok, _ = load_model(path)
    return HFEngine(model, tok, name=path.name, **kw)


@pytest.fixture(scope="module")
def tiny_server(tiny_model_dir):
    """(base_url, engine) of the tiny model served on a loopback thread."""
    engine = make_hf_engine(tiny_model_dir, max_batch=8, max_queue=16)
    with serving(create_app(engine)) as url:
        yield url, engine
    engine.close()


class ScriptedEngine:
    """Replays `text` as one delta per character (one "token" each): exercises the splitter over HTTP."""

    def __init__(self, text: str, tokenizer, name: str = "scripted"):
        self.text, self.tokenizer, self.name, self.max_context = text, tokenizer, name, 4096
        self.full = False

    def queued(self) -> int:
        return 0

    def submit(self, req: GenRequest) -> None:
        if self.full:
            raise QueueFull("server busy: scripted")

        def run():
            out = self.text[: req.params.max_new_tokens]
            for i in range(req.n):
                for k, ch in enumerate(out):
                    req.emit(Delta(i, ch, k + 1))
                req.emit(Delta(i, "", len(out), finish_reason="stop"))

        threading.Thread(target=run, daemon=True).start()

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def real_tokenizer():
    from reasonrl.model import default_model_dir, load_tokenizer

    return load_tokenizer(default_model_dir())


@pytest.fixture(scope="session")
def scripted(real_tokenizer):
    """Factory: scripted(text) -> a ScriptedEngine replaying `text` (tests can't import conftest)."""
    return lambda text: ScriptedEngine(text, real_tokenizer)
