"""Task sources and splits: determinism, no train/held-out overlap, file loading and its errors."""
import json
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reasonrl.config.schema import TaskConfig
from reasonrl.tasks import Problem, check_no_overlap, load_task
from reasonrl.tasks.problem import normalize_question
from reasonrl.tasks.zh_arithmetic import solve


def _questions(ps):
    return [p.question for p in ps]


@pytest.mark.parametrize("name", ["chain_sum", "zh_arithmetic"])
def test_same_seed_same_problems_other_seed_differs(name):
    a = load_task(TaskConfig(name=name, num_train=30, num_heldout=10, seed=3))
    b = load_task(TaskConfig(name=name, num_train=30, num_heldout=10, seed=3))
    c = load_task(TaskConfig(name=name, num_train=30, num_heldout=10, seed=4))
    assert a.train == b.train and a.heldout == b.heldout
    assert _questions(a.train) != _questions(c.train)
    assert (len(a.train), len(a.heldout)) == (30, 10)


def test_heldout_does_not_change_with_num_train():
    a = load_task(TaskConfig(name="chain_sum", num_train=10, num_heldout=10))
    b = load_task(TaskConfig(name="chain_sum", num_train=50, num_heldout=10))
    assert a.heldout == b.heldout and b.train[:10] == a.train


def test_gym_duplicates_removed_from_train():
    # 1-digit, 2-term sums: ~180 distinct questions, so 300 draws repeat many held-out questions.
    kw = {"min_digits": 1, "max_digits": 1, "min_terms": 2, "max_terms": 2}
    s = load_task(TaskConfig(name="chain_sum", kwargs=kw, num_train=100, num_heldout=50))
    check_no_overlap(s.train, s.heldout)
    assert s.info["heldout_duplicates_dropped"] > 0
    held = {normalize_question(p.question) for p in s.heldout}
    assert not any(normalize_question(p.question) in held for p in s.train)
    e = s.train[0].entry
    assert e["answer"] == s.train[0].answer and e["metadata"]["source_dataset"] == "chain_sum"
    json.dumps([p.to_dict() for p in s.train])  # JSON-able, for samples.jsonl
    assert pickle.loads(pickle.dumps(s.train)) == s.train


def test_check_no_overlap_names_the_question():
    a = Problem("f:1", "What is 2+2?", "4", "f", "en")
    b = Problem("f:9", "what is  2+2?", "4", "f", "en")
    with pytest.raises(ValueError, match=r"train f:1 and held-out f:9 share the question 'What is 2\+2\?'"):
        check_no_overlap([a], [b])
    check_no_overlap([a], [Problem("f:2", "What is 3+3?", "6", "f", "en")])


def test_unknown_gym_name_lists_close_names():
    with pytest.raises(ValueError) as e:
        load_task(TaskConfig(name="chain_summ"))
    msg = str(e.value)
    assert "\n" not in msg and "unknown task 'chain_summ'" in msg and "chain_sum" in msg


def test_bad_gym_kwargs_one_line():
    with pytest.raises(ValueError, match=r"reasoning-gym 'chain_sum' rejected kwargs \{'nope': 1\}"):
        load_task(TaskConfig(name="chain_sum", kwargs={"nope": 1}))


def test_zh_arithmetic_answers_are_correct():
    s = load_task(TaskConfig(name="zh_arithmetic", num_train=200, num_heldout=50, seed=7))
    ops = set()
    for p in s.train + s.heldout:
        m = p.meta
        ops.add(m["op"])
        assert p.lang == "zh" and p.task == "zh_arithmetic"
        assert p.answer == str(solve(m["op"], m["a"], m["b"]))
        assert int(p.answer) >= 0
        assert str(m["a"]) in p.question and str(m["b"]) in p.question
        if m["op"] in ("add", "sub"):
            assert 1 <= m["a"] <= 20 and 1 <= m["b"] <= 20
    assert ops == {"add", "sub", "mul", "div"}
    assert solve("add", 7, 5) == 12 and solve("div", 12, 3) == 4
    with pytest.raises(ValueError, match="not exact"):
        solve("div", 7, 2)


def test_zh_arithmetic_kwargs():
    s = load_task(TaskConfig(name="zh_arithmetic", kwargs={"ops": ["sub"], "max_value": 5}, num_train=40, num_heldout=5))
    assert all(p.meta["op"] == "sub" and p.meta["a"] <= 5 and "剩下" in p.question for p in s.train)
    with pytest.raises(ValueError, match=r"zh_arithmetic: unknown kwargs \['max_val'\]"):
        load_task(TaskConfig(name="zh_arithmetic", kwargs={"max_val": 5}))


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8")


def test_jsonl_column_mapping_and_split(tmp_path):
    f = tmp_path / "mine.jsonl"
    rows = [{"q": f"What is {i} + 1?", "a": i + 1} for i in range(20)]
    rows += [{"q": "What is 0 + 1?", "a": 1}, {"q": "小明有3个苹果，又买了2个，现在一共有几个苹果？", "a": "5"}]
    _write_jsonl(f, rows)
    cfg = TaskConfig(name=str(f), question_key="q", answer_key="a", num_train=100, num_heldout=5, seed=1)
    s = load_task(cfg)
    assert len(s.heldout) == 5 and s.bad_rows == 0
    check_no_overlap(s.train, s.heldout)
    # "What is 0 + 1?" appears twice: exactly one copy can be in train, none if held out.
    assert len(s.train) + len(s.heldout) in (21, 22)
    by_q = {p.question: p for p in s.train + s.heldout}
    assert by_q["What is 7 + 1?"].answer == "8"
    assert by_q["小明有3个苹果，又买了2个，现在一共有几个苹果？"].lang == "zh"
    assert by_q["What is 7 + 1?"].id == "mine:8" and by_q["What is 7 + 1?"].entry is None
    assert load_task(cfg).train == s.train
    assert _questions(load_task(cfg.model_copy(update={"seed": 2})).heldout) != _questions(s.heldout)


def test_parquet_loading(tmp_path):
    f = tmp_path / "p.parquet"
    pq.write_table(pa.table({"problem": [f"{i} * 2 = ?" for i in range(10)], "solution": [float(2 * i) for i in range(10)]}), f)
    s = load_task(TaskConfig(name=str(f), question_key="problem", answer_key="solution", num_train=100, num_heldout=3))
    assert len(s.train) == 7 and len(s.heldout) == 3
    assert {p.question: p.answer for p in s.train + s.heldout}["4 * 2 = ?"] == "8"  # 8.0 → "8"


def test_parquet_bad_row_uses_row_index(tmp_path):
    f = tmp_path / "p.parquet"
    pq.write_table(pa.table({"question": ["a?", "", "c?"], "answer": ["1", "2", "3"]}), f)
    with pytest.raises(ValueError, match=rf"^{f}:1: question 'question' is empty or not a string$"):
        load_task(TaskConfig(name=str(f), num_heldout=1))


def test_gsm8k_final_answer_extracted(tmp_path):
    f = tmp_path / "gsm8k.jsonl"
    _write_jsonl(f, [{"question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
                      "answer": "In May she sold 48/2 = <<48/2=24>>24 clips.\n48+24 = <<48+24=72>>72\n#### 72"},
                     {"question": "A big number?", "answer": "It is large.\n#### 1,200"}])
    s = load_task(TaskConfig(name=str(f), num_train=5, num_heldout=1))
    assert sorted(p.answer for p in s.train + s.heldout) == ["1,200", "72"]


@pytest.mark.parametrize("line, why", [
    ('{"question": "q2?", "answer": ', "not valid JSON (Expecting value at column 31)"),
    ('{"question": "q2?"}', "missing key 'answer' (row has: question)"),
    ('{"question": "   ", "answer": "1"}', "question 'question' is empty or not a string"),
    ('{"question": "q2?", "answer": [1, 2]}', "answer is a list, not a scalar"),
    ('{"question": "q2?", "answer": null}', "answer is null, not a scalar"),
    ('[1, 2]', "row is a list, not a JSON object"),
])
def test_bad_row_exact_message(tmp_path, line, why):
    f = tmp_path / "bad.jsonl"
    _write_jsonl(f, [{"question": "q1?", "answer": 1}, line, {"question": "q3?", "answer": 3}])
    with pytest.raises(ValueError) as e:
        load_task(TaskConfig(name=str(f), num_heldout=1))
    assert str(e.value) == f"{f}:2: {why}"


def test_skip_bad_rows_counts(tmp_path):
    f = tmp_path / "bad.jsonl"
    _write_jsonl(f, [{"question": "q1?", "answer": 1}, "{not json", "", {"question": "q3?"},
                     {"question": "q4?", "answer": "4"}, {"question": "", "answer": 5}])
    s = load_task(TaskConfig(name=str(f), num_heldout=1, num_train=10, skip_bad_rows=True))
    assert s.bad_rows == 3
    assert sorted(_questions(s.train + s.heldout)) == ["q1?", "q4?"]


def test_too_few_rows_for_heldout(tmp_path):
    f = tmp_path / "small.jsonl"
    _write_jsonl(f, [{"question": "q1?", "answer": 1}])
    with pytest.raises(ValueError, match=r"1 usable rows, fewer than num_heldout=5"):
        load_task(TaskConfig(name=str(f), num_heldout=5))
