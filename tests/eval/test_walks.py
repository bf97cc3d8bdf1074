"""eval/walks.py: the positional copy and the content match tell apart from samples alone."""
import json

import pytest

from reasonrl.eval.walks import main, walk_windows
from reasonrl.tasks.arrows import iter_arrows


def _rows(problems, think, step=0):
    return [{"kind": "train", "step": step, "question": p.question, "completion": f"<think>{think(p)}</think>"}
            for p in problems]


def _copy_first_two(p):   # what a model copying the list writes
    (a, b), (c, d) = p.meta["arrows"][:2]
    return f"{a} -> {b}, {c} -> {d}"


def _lookup(p):            # the walk itself
    return " -> ".join(map(str, p.meta["path"]))


def test_the_positional_copy_writes_two_hops_only_where_the_second_hop_is_listed_second():
    problems = list(iter_arrows(200, seed=3, kwargs={"start_first": 1}))
    second = [p.meta["arrows"][1] == p.meta["path"][1:3] for p in problems]
    assert 0 < sum(second) < len(problems)              # both kinds of question are in the sample
    [copy] = walk_windows(_rows(problems, _copy_first_two), window=10)
    [walk] = walk_windows(_rows(problems, _lookup), window=10)
    # elsewhere the copy reads as two hops only when the second listed arrow starts at the walk's third number
    # ("23 -> 57, 36 -> 90" with 57 -> 36 unwritten): the same numbers as a walk, by chance
    lands = [p.meta["arrows"][1][0] == p.meta["path"][2] for p, s in zip(problems, second) if not s]
    assert (copy["two_hops_listed_second"], copy["two_hops_elsewhere"]) == (1.0, round(sum(lands) / len(lands), 2))
    assert copy["two_hops_elsewhere"] < 0.25
    assert (walk["two_hops_listed_second"], walk["two_hops_elsewhere"]) == (1.0, 1.0)
    assert walk["share"] == 1.0 and copy["share"] < 0.75


def test_windows_follow_the_steps_and_the_cli_prints_one_row_each(tmp_path, capsys):
    problems = list(iter_arrows(20, seed=4, kwargs={"start_first": 1}))
    rows = _rows(problems[:10], _copy_first_two, step=5) + _rows(problems[10:], _lookup, step=25)
    rows.append({"kind": "eval", "step": 25, "question": "not read", "completion": ""})
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main([str(path), "--window", "20"])
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:]] == ["0-19", "20-39"] and out[2].split()[1:3] == ["10", "1.00"]


def test_a_question_of_another_task_is_a_one_line_error(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps({"kind": "train", "step": 1, "question": "What is 2 + 3?", "completion": "5"}) + "\n")
    with pytest.raises(SystemExit, match="not an arrows question"):
        main([str(path)])
