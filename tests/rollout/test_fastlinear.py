"""Decoding through the per-batch-size matmul layouts must change nothing but speed."""
from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

import json

import pytest

from reasonrl.rollout import fastlinear
from reasonrl.rollout.fastlinear import EXACT_COPIES, LAYOUTS, LOSSY, TUNE_ROWS, DecodeLinears


def test_active_copies_give_same_logits_and_restore_forward(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = torch.randint(0, model.config.vocab_size, (3, 9))
    fast = DecodeLinears(model, layout="transposed")
    with torch.no_grad():
        want = model(input_ids=ids).logits
        with fast.active():
            got = model(input_ids=ids).logits
            assert all("forward" in vars(m) for m in fast._buf)           # really patched
            assert all(b.is_contiguous() and b.shape == (m.in_features, m.out_features) for m, b in fast._buf.items())
            patched = list(fast._buf)
        assert not any("forward" in vars(m) for m in patched)             # and restored
        assert fast._buf == {}                                            # and the copies freed until the next rollout
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert len(patched) >= 7 * model.config.num_hidden_layers
    kept = DecodeLinears(model, layout="transposed", keep_between=True)
    with torch.no_grad(), kept.active():
        pass
    assert len(kept._buf) == len(patched)                                 # kept: reused by the next refresh


def test_refresh_follows_every_optimizer_and_in_place_copy(tiny_model_dir):
    """Fused AdamW updates in place without bumping `_version`: the copies must follow it anyway."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    fast = DecodeLinears(model, layout="transposed")
    fast.refresh()
    n_all = fast.copied
    assert n_all > 0
    ids = torch.randint(0, model.config.vocab_size, (2, 6))
    for opt in (torch.optim.AdamW(model.parameters(), lr=0.05, fused=True), torch.optim.SGD(model.parameters(), lr=0.5)):
        model.train()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
        model.eval()
        with torch.no_grad():
            want = model(input_ids=ids).logits
            with fast.active():
                assert fast.copied == n_all     # every trained weight re-copied after the step
                got = model(input_ids=ids).logits
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    model.requires_grad_(False)                 # an inference engine's frozen weights, synced in place
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p * 0.5)
        want = model(input_ids=ids).logits
        with fast.active():
            got = model(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])   # bf16: the rollout copy of model.bf16
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_same_logits_for_prefill_and_decode_rows(tiny_model_dir, layout, dtype):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=dtype).eval()
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=0.1, rtol=0.05)  # bf16: 8-bit mantissa
    fast = DecodeLinears(model, layout=layout)
    for shape in ((5, 1), (1, 3), (2, 40)):          # decode-sized row counts and one beyond TUNE_ROWS (prefill)
        ids = torch.randint(0, model.config.vocab_size, shape)
        with torch.no_grad():
            want = model(input_ids=ids).logits
            with fast.active(max_rows=5):
                got = model(input_ids=ids).logits
                assert sum("forward" in vars(m) for m in model.modules()) >= 7   # really routed
        torch.testing.assert_close(got.float(), want.float(), **tol)
    assert (fast.copied > 0) == (layout in EXACT_COPIES)  # only the copying layouts keep copies


def test_auto_times_each_row_count_and_copies_only_when_chosen(tiny_model_dir, monkeypatch):
    import reasonrl.rollout.fastlinear as fl

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    calls = []
    slow = {"transposed": 1e-3, "weight_major": 0.0, "linear": 2e-3, "packed": 1e-3}  # make weight_major win everywhere
    clock = [0.0]     # a virtual clock the forwards advance: busy-waits lost to a loaded machine (CI beside a run)
    monkeypatch.setattr(fl, "time", type("FakeTime", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    for name in LAYOUTS:
        def timed(x, w, wt, name=name):   # the same product for all three, plus a layout's fixed delay
            calls.append((name, x.shape[0]))
            clock[0] += slow[name]
            return torch.nn.functional.linear(x, w)
        monkeypatch.setitem(fl._FORWARDS, name, timed)
    fast = DecodeLinears(model)
    ids = torch.randint(0, model.config.vocab_size, (3, 1))
    with torch.no_grad():
        want = model(input_ids=ids).logits
        with fast.active(max_rows=3):
            got = model(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert {r for _, r in calls} == {1, 2, 3, 4}                            # each count up to 3, and the next bucket
    shapes = {(m.in_features, m.out_features) for m in model.modules() if type(m) is torch.nn.Linear}
    assert fast.choice == {(*sh, r): "weight_major" for sh in shapes for r in (1, 2, 3, 4)}
    assert fast._buf == {} and fast.tune_seconds > 0
    n = len(calls)
    with torch.no_grad(), fast.active(max_rows=3):
        pass
    assert len(calls) == n and fast.copied == 0                              # tuned once; no copies after
    assert {r for _, r in calls[:n]} <= set(TUNE_ROWS)


def test_unknown_layout_is_one_line_error(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="unknown decode layout 'quick'; valid: auto, fast, transposed"):
        DecodeLinears(model, layout="quick")


def test_tuned_choices_are_cached_per_machine_and_reused(tiny_model_dir, tmp_path, monkeypatch):
    """A resumed run must decode through the choices the interrupted one used (they round differently)."""
    import reasonrl.rollout.fastlinear as fl

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    cache = tmp_path / "layouts.json"
    first = DecodeLinears(model, cache=cache)
    with torch.no_grad(), first.active(max_rows=3):
        pass
    assert cache.is_file() and first.choice
    timed = []
    for name, f in list(fl._FORWARDS.items()):
        monkeypatch.setitem(fl._FORWARDS, name, lambda x, w, wt, f=f: timed.append(1) or f(x, w, wt))
    second = DecodeLinears(model, cache=cache)
    with torch.no_grad(), second.active(max_rows=3):
        pass
    assert second.choice == first.choice and timed == []          # read, not re-timed
    cache.write_text("{not json")
    third = DecodeLinears(model, cache=cache)
    with torch.no_grad(), third.active(max_rows=3):                # unreadable: tuned again and rewritten
        pass
    assert timed and third.choice.keys() == first.choice.keys()
    assert json.loads(cache.read_text())


@pytest.mark.parametrize("layout, tol", [("fp16", 2e-3), ("bf16", 3e-2), ("int8", 6e-2)])
def test_lossy_layouts_are_close_not_exact_follow_updates_and_round_no_bf16_weight(tiny_model_dir, monkeypatch, layout, tol):
    """fbgemm fp16 / bf16 / weight-only int8 copies: logits within their rounding of the fp32 forward (not bit-equal, hence not
    in `auto`), re-made from the current weights at every rollout; bf16 weights (model.bf16's copy) keep F.linear.
    bf16 runs here even without native bf16 (emulated: slow, same values)."""
    monkeypatch.setitem(fastlinear.LOSSY_AVAILABLE, "bf16", lambda: True)
    monkeypatch.setitem(fastlinear.LOSSY_AVAILABLE, "int8", lambda: True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    fast = DecodeLinears(model, layout=layout)
    assert fast.layout == layout
    ids = torch.randint(0, model.config.vocab_size, (4, 7))
    for _ in range(2):
        with torch.no_grad():
            want = model(input_ids=ids).logits
            with fast.active(max_rows=4):
                got = model(input_ids=ids).logits
                step = model(input_ids=ids[:, :1]).logits          # a 4-row decode-sized call
                n_linears = sum(1 for m in model.modules() if type(m) is torch.nn.Linear)
                assert fast.copied == n_linears                           # every weight packed afresh
            assert not any("forward" in vars(m) for m in model.modules())
        gap = (got - want).abs().max().item()
        assert 0 < gap < tol * want.abs().max().item()              # rounded weights: close, and really used
        torch.testing.assert_close(step, want[:, :1], atol=tol * want.abs().max().item(), rtol=0)
        with torch.no_grad():                                       # an update: the next rollout must see it
            for p in model.parameters():
                p.mul_(0.5)
    bf16 = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).eval()
    fast = DecodeLinears(bf16, layout=layout)
    with torch.no_grad():
        want = bf16(input_ids=ids).logits
        with fast.active(max_rows=4):
            got = bf16(input_ids=ids).logits
    assert fast.layout == "auto"                                    # nothing to round: the exact layouts, tuned
    torch.testing.assert_close(got.float(), want.float(), atol=0.1, rtol=0.05)   # bf16: 8-bit mantissa, any sum order


def test_fp16_packs_on_threads_equal_serial_packs_and_tied_weights_share_one(tiny_model_dir):
    """The packs run one weight per thread (fbgemm's packer is single-threaded): the values must not depend on
    the thread count, and two Linears sharing a weight (a tied head) must share one pack."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    lin = [m for m in model.modules() if type(m) is torch.nn.Linear]
    a, b = next((x, y) for i, x in enumerate(lin) for y in lin[i + 1:] if x.weight.shape == y.weight.shape)
    b.weight = a.weight                                             # tie two same-shape Linears
    ids = torch.randint(0, model.config.vocab_size, (3, 1))
    threads, outs = torch.get_num_threads(), []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            fast = DecodeLinears(model, layout="fp16", keep_between=True)
            with torch.no_grad(), fast.active(max_rows=3):
                outs.append(model(input_ids=ids).logits)
            unique = len({id(m.weight) for m in lin})
            assert fast.copied == unique
            assert fast._buf[a] is fast._buf[b]
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(outs[0], outs[1])


def test_fast_times_the_lossy_layouts_once_per_machine_and_falls_back_where_none_runs(tiny_model_dir, tmp_path, monkeypatch):
    """`fast` decodes through the lossy layout that timed fastest here, and a second process reads the choice from the
    cache instead of timing again; with no lossy kernel available (an ARM CPU) it decodes exactly (`auto`)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    monkeypatch.setitem(fastlinear.LOSSY_AVAILABLE, "bf16", lambda: True)
    timed = []
    real = fastlinear.time_lossy
    monkeypatch.setattr(fastlinear, "time_lossy", lambda m: timed.append(1) or real(m))
    cache = tmp_path / "layouts.json"
    first = DecodeLinears(model, layout="fast", cache=cache)
    spent = real(model)
    assert first.layout == "fast" and first.copy_kind in fastlinear.FAST_KINDS
    assert set(spent) == {n for n in fastlinear.FAST_KINDS if fastlinear.LOSSY_AVAILABLE[n]()} and all(t > 0 for t in spent.values())
    assert timed == [1]
    again = DecodeLinears(model, layout="fast", cache=cache)
    assert again.copy_kind == first.copy_kind and timed == [1]             # read back, not re-timed
    for name in LOSSY:
        monkeypatch.setitem(fastlinear.LOSSY_AVAILABLE, name, lambda: False)
    assert DecodeLinears(model, layout="fast").layout == "auto"


def test_fast_tunes_per_row_count_between_the_lossy_copy_and_the_no_copy_layouts(tiny_model_dir, monkeypatch):
    """Where the lossy copy is faster (here: from 3 rows) `fast` decodes through it, elsewhere through fp32; only
    shapes that chose the copy get one, and the logits stay within bf16 rounding of the fp32 forward."""
    import reasonrl.rollout.fastlinear as fl

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    monkeypatch.setitem(fl.LOSSY_AVAILABLE, "bf16", lambda: True)
    monkeypatch.setitem(fl.LOSSY_AVAILABLE, "fp16", lambda: False)
    monkeypatch.setitem(fl.LOSSY_AVAILABLE, "int8", lambda: False)
    real = dict(fl._FORWARDS)
    clock = [0.0]     # a virtual clock the forwards advance: the choice must not depend on this machine's load
    monkeypatch.setattr(fl, "time", type("FakeTime", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    for name in ("weight_major", "linear", "bf16", "transposed", "packed"):   # the exact copies never pay here
        def timed(x, w, wt, name=name):
            clock[0] += {"weight_major": 2e-3, "linear": 1e-3, "bf16": 0.0 if x.shape[0] >= 3 else 1e-2,
                         "transposed": 5e-3, "packed": 5e-3}[name]
            return real[name](x, w, wt)
        monkeypatch.setitem(fl._FORWARDS, name, timed)
    fast = DecodeLinears(model, layout="fast")
    assert (fast.layout, fast.copy_kind) == ("fast", "bf16")
    ids = torch.randint(0, model.config.vocab_size, (4, 1))
    with torch.no_grad():
        want = model(input_ids=ids).logits
        with fast.active(max_rows=4):
            got = model(input_ids=ids).logits
            assert fast._buf and all(b.dtype == torch.bfloat16 for b in fast._buf.values())
    picks = {r: {v for (i, o, rr), v in fast.choice.items() if rr == r} for r in (1, 2, 3, 4)}
    assert picks[1] == picks[2] == {"linear"} and picks[3] == picks[4] == {"bf16"}
    gap = (got - want).abs().max().item()
    assert 0 < gap < 3e-2 * want.abs().max().item()


@pytest.mark.parametrize("lossy", LOSSY)
def test_a_lossy_layout_on_a_bf16_model_tunes_its_exact_layouts_instead(tiny_model_dir, lossy, monkeypatch):
    """The default job asks for fp16; on a native-bf16 CPU its rollout model is already bf16: nothing to round."""
    monkeypatch.setitem(fastlinear.LOSSY_AVAILABLE, lossy, lambda: True)
    bf16 = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).eval()
    fp32 = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert DecodeLinears(bf16, layout=lossy).layout == "auto"
    assert DecodeLinears(fp32, layout=lossy).layout == lossy
