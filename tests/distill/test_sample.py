"""Rejection sampling on a tiny random model: filters, and resume (rerun skips done prompts, no row twice)."""
import json

import pytest

from reasonrl.config.schema import TaskConfig
from reasonrl.distill import sample as sample_mod
from reasonrl.distill.config import SampleConfig
from reasonrl.distill.sample import done_path, keep_reason, read_done, sample_traces


def _cfg(model_dir, **kw) -> SampleConfig:
    task = TaskConfig(name="chain_sum", kwargs={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1},
                      num_train=6, num_heldout=2, template="plain")
    return SampleConfig(model=str(model_dir), task=task, n=2, max_new_tokens=4, chunk=2, threads=1, **kw)


@pytest.fixture
def keep_all(monkeypatch):
    """A random model is never right; keep every sample so resume bookkeeping has rows to count."""
    monkeypatch.setattr(sample_mod, "keep_reason", lambda *a, **k: None)


def _rows(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_filters_name_the_reason():
    assert keep_reason("<think>3加5等于8</think><answer>8</answer>", 1.0, False, "chat", "zh", "8") is None
    assert keep_reason("<think>3 plus 5 is 8</think><answer>8</answer>", 1.0, False, "chat", "zh", "8") == "language"
    assert keep_reason("<think>3+5</think><answer>8</answer>", 1.0, True, "chat", "en", "8") == "truncated"
    assert keep_reason("8", 1.0, False, "plain", "en", None) == "no_answer"


def test_resume_skips_done_prompts_and_never_duplicates_rows(tiny_model_dir, tmp_path, keep_all):
    out = tmp_path / "traces.jsonl"
    first = sample_traces(_cfg(tiny_model_dir, limit=2), out)            # "killed" after 2 of 6 prompts
    assert (first["prompts"], first["sampled"]) == (2, 4)
    ids_first = {r["problem_id"] for r in _rows(out)}
    text_first = out.read_text()
    assert len(ids_first) == 2 and len(read_done(out).ids) == 2
    # a chunk killed after its rows were written but before its ids were recorded
    with open(out, "a") as f:
        f.write(json.dumps({"problem_id": "chain_sum:42:999", "prompt": "half-written"}) + "\n")
    second = sample_traces(_cfg(tiny_model_dir), out)
    assert second["skipped_done"] == 2 and second["sampled"] == 12      # 4 earlier + 4 new prompts x 2
    rows = _rows(out)
    assert "half-written" not in {r["prompt"] for r in rows}
    assert len({r["problem_id"] for r in rows}) == 6 and len(read_done(out).ids) == 6
    # rows of the first run are kept byte for byte and none is written again
    assert out.read_text().startswith(text_first)
    assert sum(r["problem_id"] in ids_first for r in rows) == len(text_first.splitlines())
    keys = [(r["problem_id"], " ".join(r["completion"].split())) for r in rows]
    assert len(keys) == len(set(keys))                                  # duplicates removed
    before = out.read_text()
    third = sample_traces(_cfg(tiny_model_dir), out)                     # everything done: nothing loaded or written
    assert third["skipped_done"] == 6 and out.read_text() == before
    assert set(rows[0]) >= {"prompt", "reasoning", "answer", "completion", "source_model", "score", "problem_id"}
    assert rows[0]["reasoning"] == "" and rows[0]["source_model"] == str(tiny_model_dir)


def test_malformed_done_sidecar_is_one_line(tmp_path):
    out = tmp_path / "t.jsonl"
    done_path(out).write_text('{"id": "a", "sampled": 2, "kept": 1, "end": 10}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"t.jsonl.done:2: not a done record"):
        read_done(out)


def test_distill_chains_sample_sft_and_kd_in_one_run_dir(tiny_model_dir, tmp_path, keep_all):
    from reasonrl.distill.config import KDConfig, SFTConfig
    from reasonrl.distill.pipeline import run_distill

    sample = _cfg(tiny_model_dir, limit=4)
    sft = SFTConfig(model=str(tiny_model_dir), data="(this run)", task=sample.task, batch_size=4, max_steps=2, threads=1)
    run = tmp_path / "run"
    out = run_distill(sample, sft, run, KDConfig(kind="reverse", steps=2, prompts_per_step=2, n=1, max_new_tokens=4))
    assert out["sample"]["sampled"] == 8 and out["sft"]["steps"] == 2 and out["kd"]["steps"] == 2
    assert (run / "checkpoints" / "latest").read_text() == "step_000004"        # KD continues the SFT step count
    kinds = [json.loads(l)["kind"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert kinds == ["sample", "sample", "sft", "sft", "kd", "kd"]
    assert {"sample_config.yaml", "sft_config.yaml", "kd_config.yaml", "config.yaml", "distill_summary.json"} <= {p.name for p in run.iterdir()}
