"""Shared fixtures: a tiny randomly initialised Llama with the real SmolLM2 tokenizer (seconds, not minutes)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reasonrl.model import default_model_dir, load_tokenizer

    tok = load_tokenizer(default_model_dir())
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


PARITY_REWARD = '''
def length_parity(completions, **columns):
    """A reward even a random model earns half the time: groups get mixed rewards, so updates happen."""
    return [float(len(c) % 2) for c in completions]
'''


@pytest.fixture
def parity_reward(tmp_path, monkeypatch):
    """Makes `tiny_rewards:length_parity` importable here and in the reward worker process."""
    d = tmp_path / "userrewards"
    d.mkdir()
    (d / "tiny_rewards.py").write_text(PARITY_REWARD)
    monkeypatch.syspath_prepend(str(d))
    # prepended, not replaced: a worktree's PYTHONPATH=src must still win over the editable install
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(d), os.environ.get("PYTHONPATH")])))
    return d
