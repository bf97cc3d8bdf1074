import json

from reasonrl.rewards.cli import main


def test_score_writes_rows_and_summary(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"completion": "<think>a</think><answer>十二</answer>", "reference": "12", "expected": True},
        {"completion": "<think>a</think><answer>13</answer>", "reference": "12", "expected": False},
        {"completion": "<think>unclosed", "reference": "12"},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main([str(rows), "--out", str(out)]) == 0
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["score"] for r in scored] == [1.0, 0.0, 0.0]
    assert [r["extracted"] for r in scored] == ["十二", "13", None]
    printed = capsys.readouterr().out
    assert "accepted 1  rejected 2  timed out 0" in printed and "agreement with 'expected': 2/2" in printed


def test_malformed_row_gives_one_line_error(tmp_path, capsys):
    rows = tmp_path / "bad.jsonl"
    rows.write_text('{"completion": "a", "reference": "1"}\n{"completion": "a"\n', encoding="utf-8")
    assert main([str(rows)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"reasonrl score: {rows}:2: not valid JSON") and "\n" not in err
