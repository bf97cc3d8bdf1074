"""SFT on a tiny random model: resume equals an uninterrupted run, run-dir contents, one-line row errors."""
import json

import pytest
import torch

from reasonrl.config.schema import TaskConfig
from reasonrl.distill.config import SFTConfig
from reasonrl.distill.sft import run_sft
from reasonrl.distill.traces import read_examples

TASK = TaskConfig(name="chain_sum", kwargs={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1},
                  num_train=20, num_heldout=5, template="plain")


@pytest.fixture
def traces(tmp_path):
    path = tmp_path / "traces.jsonl"
    rows = [{"problem_id": f"p{i}", "prompt": f"{i} + {i + 1} =", "completion": str(2 * i + 1), "reasoning": "",
             "answer": str(2 * i + 1), "source_model": "test", "score": 1.0, "template": "plain", "lang": "en"}
            for i in range(10)]
    rows.append({"prompt": "Say hi in a sentence.", "completion": "Hi there, nice to meet you!"})
    rows.append({"messages": [{"role": "user", "content": "2 + 2 ="}, {"role": "assistant", "content": "4"}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(model_dir, data, **kw):
    args = dict(model=str(model_dir), data=str(data), task=TASK, lr=1e-3, batch_size=4, micro_batch_size=2,
                max_steps=4, save_every=100, bucket_size=2, threads=1)
    return SFTConfig(**{**args, **kw})


def _weights(run_dir):
    from reasonrl.model import load_model

    model, _, _ = load_model(run_dir)  # a run dir resolves to its latest checkpoint
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_equals_uninterrupted(tiny_model_dir, traces, tmp_path):
    full = run_sft(_cfg(tiny_model_dir, traces), tmp_path / "full")
    run_sft(_cfg(tiny_model_dir, traces), tmp_path / "split", stop_after=2)     # N = 2 steps, then "killed"
    rest = run_sft(_cfg(tiny_model_dir, traces), tmp_path / "split", resume=True)  # M = 2 more
    assert full["steps"] == rest["steps"] == 4 and len(rest["losses"]) == 2
    assert rest["losses"] == pytest.approx(full["losses"][2:], rel=1e-5)
    assert full["losses"][-1] < full["losses"][0]                          # it learns
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "split")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_run_dir_is_what_eval_reads(tiny_model_dir, traces, tmp_path):
    from reasonrl.eval.run import is_run_dir, resolve_config

    run = tmp_path / "run"
    run_sft(_cfg(tiny_model_dir, traces, max_steps=1), run)
    assert is_run_dir(run) and (run / "sft_config.yaml").is_file()
    assert (run / "checkpoints" / "step_000001" / "model.safetensors").is_file()
    cfg = resolve_config(str(run), None, None, [])                        # the task comes from the run
    assert cfg.task.kwargs["max_terms"] == 2 and cfg.task.template == "plain"
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert line["kind"] == "sft" and line["step"] == 1 and line["sft/loss"] > 0 and line["sft/tokens_per_s"] > 0


@pytest.mark.parametrize("line, error", [
    ("not json", "traces.jsonl:2: not valid JSON"),
    ('{"prompt": "1+1"}', "traces.jsonl:2: missing key 'completion'"),
    ('{"prompt": "1+1", "completion": 2}', "traces.jsonl:2: 'completion' is a int, not a string"),
    ('{"messages": [{"role": "user", "content": "x"}]}', "traces.jsonl:2: 'messages' must be a list of at least two"),
    ('{"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}',
     "traces.jsonl:2: the last message must be the assistant's"),
    ('{"prompt": "1+1", "completion": "<think>\\n", "template": "chat_think"}', "traces.jsonl:2: 'completion' is empty once"),
])
def test_malformed_rows_fail_with_file_and_line(tiny_model_dir, tmp_path, line, error):
    from reasonrl.model import load_tokenizer

    path = tmp_path / "traces.jsonl"
    path.write_text('{"prompt": "1+1", "completion": "2"}\n' + line + "\n")
    with pytest.raises(ValueError) as e:
        read_examples(path, load_tokenizer(tiny_model_dir))
    assert str(e.value).startswith(str(tmp_path / error.split(":")[0]) + ":2:") and error.split(":", 2)[2].strip() in str(e.value)
    assert "\n" not in str(e.value)


def test_cli_bad_row_is_one_line_and_exit_2(tiny_model_dir, tmp_path, capsys):
    from reasonrl.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "1+1", "completion": "2"}\n{"prompt": ""}\n')
    rc = main(["sft", "--model", str(tiny_model_dir), "--data", str(bad), "--run-dir", str(tmp_path / "r"), "--threads", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1] == f"reasonrl sft: {bad}:2: 'prompt' is empty"
