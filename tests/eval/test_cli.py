"""`reasonrl eval` end to end on the tiny random Llama: files, structure, determinism, run dirs, --compare."""
from __future__ import annotations

import json
import shutil

import pytest

from reasonrl.config import dump_config, load_config
from reasonrl.eval.cli import main
from reasonrl.eval.results import problem_record, summarize, write_result
from reasonrl.tasks import Problem, load_task

SAMPLE_KEYS = {"response", "extracted", "vote_key", "correct", "formatted", "tokens", "truncated"}


@pytest.fixture
def mixed_jsonl(tmp_path):
    """A GSM8K-format file mixing English and Chinese, so per-language figures appear."""
    rows = [{"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"} for i in range(4)]
    rows += [{"question": f"{i}加1等于多少?", "answer": f"#### {i + 1}"} for i in range(4)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    return path


def _eval(tiny_model_dir, out, *extra):
    rc = main(["--model", str(tiny_model_dir), "--max-new-tokens", "6", "--out", str(out), *extra])
    assert rc == 0
    return json.loads(out.read_text())


def test_sampled_eval_structure_and_seed(tiny_model_dir, mixed_jsonl, tmp_path):
    args = ["--task", str(mixed_jsonl), "task.num_heldout=4", "task.num_train=4", "--k", "3", "--chunk", "3"]
    r = _eval(tiny_model_dir, tmp_path / "a.json", *args)
    assert r["schema"] == "reasonrl.eval/1"
    m = r["meta"]
    assert (m["k"], m["temperature"], m["top_p"], m["greedy"], m["split"]) == (3, 0.6, 0.95, False, "heldout")
    assert m["lenient"] is True and m["template"] == "plain"  # plain template -> lenient, as in training
    assert set(r["metrics"]) == {"pass@1", "pass@2", "pass@3", "maj@3", "strict_rate", "format_rate", "len_mean", "len_max",
                                 "truncated_rate", "n_problems", "n_samples"}
    assert (r["metrics"]["n_problems"], r["metrics"]["n_samples"]) == (4, 12)
    held = load_task(load_config(None, [f"task.name={mixed_jsonl}", "task.num_heldout=4", "task.num_train=4"]).task).heldout
    assert [p["id"] for p in r["problems"]] == [p.id for p in held]
    for p in r["problems"]:
        assert len(p["samples"]) == 3 and set(p["samples"][0]) == SAMPLE_KEYS
        assert all(1 <= s["tokens"] <= 6 for s in p["samples"])
    langs = sorted({p["lang"] for p in r["problems"]})
    assert sorted(r["by_lang"]) == (langs if len(langs) > 1 else [])
    md = (tmp_path / "a.md").read_text()
    assert "| pass@1 |" in md and "| maj@3 |" in md
    # same seed, same samples; sampling really samples (another seed gives other text)
    again = _eval(tiny_model_dir, tmp_path / "b.json", *args)
    assert again["problems"] == r["problems"] and again["metrics"] == r["metrics"]
    other = _eval(tiny_model_dir, tmp_path / "c.json", *args, "--seed", "1")
    assert [s["response"] for p in other["problems"] for s in p["samples"]] != \
           [s["response"] for p in r["problems"] for s in p["samples"]]


def test_per_language_figures(tiny_model_dir, mixed_jsonl, tmp_path):
    r = _eval(tiny_model_dir, tmp_path / "g.json", "--task", str(mixed_jsonl), "task.num_heldout=8",
              "task.num_train=1", "--greedy", "--limit", "8")
    assert sorted(r["by_lang"]) == ["en", "zh"]
    assert r["by_lang"]["en"]["n_problems"] == r["by_lang"]["zh"]["n_problems"] == 4
    assert "en (4)" in (tmp_path / "g.md").read_text()


def test_greedy_is_deterministic_and_run_dir_uses_its_own_split(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "checkpoints" / "step_000001")
    (run / "checkpoints" / "latest").write_text("step_000001")
    cfg = load_config(None, [f"model.path={tiny_model_dir}", "task.name=zh_arithmetic", "task.num_heldout=3",
                             "task.num_train=5", "task.seed=7", "task.template=r1zero"])
    dump_config(cfg, run / "config.yaml")
    assert main(["--model", str(run), "--greedy", "--max-new-tokens", "6"]) == 0
    out = run / "eval" / "zh_arithmetic-heldout-greedy.json"
    first = json.loads(out.read_text())
    assert [p["id"] for p in first["problems"]] == [p.id for p in load_task(cfg.task).heldout]
    assert first["meta"]["template"] == "r1zero" and first["meta"]["lenient"] is False
    assert first["meta"]["k"] == 1 and set(first["metrics"]) == {
        "pass@1", "strict_rate", "format_rate", "len_mean", "len_max", "truncated_rate", "n_problems", "n_samples"}
    assert main(["--model", str(run), "--greedy", "--max-new-tokens", "6"]) == 0
    second = json.loads(out.read_text())
    assert second["metrics"] == first["metrics"] and second["problems"] == first["problems"]


def _result(model: str, verdicts: list[list[bool]]) -> dict:
    problems = [Problem(f"t:{i}", f"q{i}", "2", "t", "en") for i in range(len(verdicts))]
    records = [problem_record(p, ["x"] * len(v), ["2" if ok else "3" for ok in v], v, [False] * len(v),
                              [4] * len(v), [False] * len(v)) for p, v in zip(problems, verdicts)]
    meta = {"model": model, "k": len(verdicts[0]), "greedy": False, "temperature": 0.6, "top_p": 0.95,
            "task": {"name": "t"}, "split": "heldout", "max_new_tokens": 8, "seed": 0}
    return {"schema": "reasonrl.eval/1", "meta": meta, "metrics": summarize(records), "by_lang": {}, "problems": records}


def test_compare_two_files_hand_checked(tmp_path, capsys):
    # A: pass@1 per problem 0, .5, .5, 1 -> 0.5;  B: .5, 1, .5, 1 -> 0.75;  B - A = 0.25
    a = _result("base", [[False, False], [True, False], [False, True], [True, True]])
    b = _result("trained", [[True, False], [True, True], [True, False], [True, True]])
    write_result(a, tmp_path / "a.json")
    write_result(b, tmp_path / "b.json")
    assert main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "c.md")]) == 0
    table = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    # per-problem differences (0.5, 0.5, 0, 0): a resample of 4 averages to at least 0 and at most 0.5
    assert rows["pass@1"].startswith("| pass@1 | 0.500 | 0.750 | +0.250 | [0.000, 0.500]")
    # pass@2: A 0,1,1,1 -> 0.75; B all 1 -> 1.0.  maj@2: A 0,0(tie),0(tie),1 -> 0.25; B 0(tie),1,0(tie),1 -> 0.5
    assert "| pass@2 | 0.750 | 1.000 | +0.250 |" in rows["pass@2"]
    assert "| maj@2 | 0.250 | 0.500 | +0.250 |" in rows["maj@2"]
    assert "| len_max | 4 | 4 | +0 |  |" in table
    assert (tmp_path / "c.md").read_text() + "\n" == table  # print() adds the last newline


def test_compare_refuses_other_problems(tmp_path, capsys):
    write_result(_result("a", [[True]] * 3), tmp_path / "a.json")
    write_result(_result("b", [[True]] * 2), tmp_path / "b.json")
    assert main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "3 problems and B 2" in capsys.readouterr().err
    (tmp_path / "x.json").write_text("{}")
    assert main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "x.json")]) == 2
    assert "not a reasonrl eval file" in capsys.readouterr().err


def test_compare_two_models_same_problems(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main(["--compare", str(tiny_model_dir), str(tiny_model_dir), "--task", "zh_arithmetic",
               "task.num_heldout=3", "--greedy", "--max-new-tokens", "4"])
    assert rc == 0
    assert "| pass@1 | 0.000 | 0.000 | +0.000 | [0.000, 0.000] |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--task", "chain_sum", "--greedy", "--k", "4"], "drop --k 4"),
    (["--task", "chain_sum", "--k", "0"], "--k 0: must be >= 1"),
    (["--task", "chain_sum", "--temperature", "0"], "use --greedy"),
    (["--task", "no_such_task_xyz"], "no_such_task_xyz"),
    (["--model", "/nonexistent/model", "--task", "chain_sum"], "not a Hugging Face model folder"),
])
def test_bad_input_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
