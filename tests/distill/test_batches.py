"""Completion-only loss mask against the tokenized text, and length bucketing (our alternative to packing)."""
import pytest
import torch

from reasonrl.distill.batches import bucket_batches, collate, completion_nll, tokenize_example
from reasonrl.distill.traces import Example, row_to_example


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from reasonrl.model import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def test_mask_is_zero_on_every_prompt_token_and_one_on_the_reply_and_eos(tok):
    row = {"prompt": "3 + 4 =", "completion": "7", "template": "plain", "lang": "en"}
    ex = row_to_example(tok, row, "t:1")
    te = tokenize_example(tok, ex)
    prompt_ids = [t for t, m in zip(te.input_ids, te.loss_mask) if m == 0]
    reply_ids = [t for t, m in zip(te.input_ids, te.loss_mask) if m == 1]
    # the masked-out part is exactly the rendered prompt: system turn, user turn, and the assistant header
    assert tok.decode(prompt_ids) == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                                      "<|im_end|>\n<|im_start|>user\n3 + 4 =\nAnswer with just the number.<|im_end|>\n"
                                      "<|im_start|>assistant\n")
    assert tok.decode(reply_ids) == "7<|im_end|>"
    assert te.loss_mask == [0] * len(prompt_ids) + [1] * len(reply_ids)  # one contiguous block at the end


def test_prefill_moves_from_completion_to_prompt(tok):
    row = {"prompt": "3 + 4 =", "completion": "<think>\n3+4=7</think><answer>7</answer>", "template": "chat_think"}
    ex = row_to_example(tok, row, "t:1")
    assert ex.prompt.endswith("<|im_start|>assistant\n<think>\n") and ex.completion == "3+4=7</think><answer>7</answer>"


def test_loss_ignores_prompt_and_padding(tiny_model_dir, tok):
    from reasonrl.model import load_model

    model, _, _ = load_model(tiny_model_dir)
    a = tokenize_example(tok, Example("<|im_start|>user\nhi<|im_end|>\n", "hello there", "a"))
    b = tokenize_example(tok, Example("<|im_start|>user\na much longer prompt than the other one<|im_end|>\n", "yo", "b"))
    nll_ab, n_ab = completion_nll(model, collate([a, b], tok.pad_token_id))
    nll_a, n_a = completion_nll(model, collate([a], tok.pad_token_id))
    nll_b, n_b = completion_nll(model, collate([b], tok.pad_token_id))
    assert (n_a, n_b) == (sum(a.loss_mask), sum(b.loss_mask)) and n_ab == n_a + n_b
    # batching with right padding changes nothing: no loss or attention reaches across rows or onto pads
    assert nll_ab.item() == pytest.approx(nll_a.item() + nll_b.item(), rel=1e-5)
    # hand check of one token: the loss is -log softmax(logits at the position before the first reply token)
    logits = model(input_ids=torch.tensor([b.input_ids])).logits[0]
    first = b.loss_mask.index(1)
    by_hand = sum(-torch.log_softmax(logits[t - 1], -1)[b.input_ids[t]].item() for t in range(first, len(b.input_ids)))
    assert nll_b.item() == pytest.approx(by_hand, rel=1e-5)


def test_bucketing_covers_every_example_once_and_sorts_within_windows():
    lengths = [37, 5, 90, 12, 64, 8, 41, 3, 77, 20, 55, 14]
    batches = bucket_batches(lengths, batch_size=2, bucket_size=3, seed=1, epoch=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(12)) and len(batches) == 6
    # one window holding everything: batches are consecutive slices of the length-sorted list
    one = bucket_batches(lengths, batch_size=2, bucket_size=6, seed=1, epoch=0)
    spans = sorted((min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in one)
    assert spans == [(3, 5), (8, 12), (14, 20), (37, 41), (55, 64), (77, 90)]
    assert bucket_batches(lengths, 2, 3, seed=1, epoch=0) == batches          # deterministic
    assert bucket_batches(lengths, 2, 3, seed=1, epoch=1) != batches          # reshuffled per epoch


def test_bucketing_reduces_padding_against_random_batches():
    lengths = [(i * 37) % 97 + 3 for i in range(64)]

    def pad(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    bucketed = bucket_batches(lengths, batch_size=8, bucket_size=8, seed=0, epoch=0)
    unsorted = bucket_batches(lengths, batch_size=8, bucket_size=1, seed=0, epoch=0)  # window of one batch: no sorting across
    assert pad(bucketed) < pad(unsorted) / 4
