"""Held-out problems never overlap training prompts: per config, and against a run trained on other settings."""
from __future__ import annotations

import json

import pytest

from reasonrl.config import dump_config, load_config
from reasonrl.eval.run import check_against_run, resolve_config, select_problems
from reasonrl.tasks.problem import normalize_question

ONE_DIGIT = "task.kwargs={min_terms: 2, max_terms: 2, min_digits: 1, max_digits: 1}"


def _questions(problems):
    return {normalize_question(p.question) for p in problems}


def _assert_disjoint(cfg):
    held = select_problems(cfg, "heldout", None)
    train = select_problems(cfg, "train", None)
    assert len(held) == cfg.task.num_heldout and train
    assert not _questions(held) & _questions(train)
    return held, train


def test_gym_task_split_disjoint():
    # 1-digit chain_sum repeats itself often: the split must drop the repeats from train.
    cfg = resolve_config(None, "chain_sum", None, [ONE_DIGIT, "task.num_heldout=30", "task.num_train=100"])
    _assert_disjoint(cfg)


def test_zh_arithmetic_split_disjoint():
    cfg = resolve_config(None, "zh_arithmetic", None, ["task.num_heldout=20", "task.num_train=60"])
    held, _ = _assert_disjoint(cfg)
    assert {p.lang for p in held} == {"zh"}


def test_jsonl_with_duplicate_questions_split_disjoint(tmp_path):
    path = tmp_path / "dups.jsonl"
    rows = []
    for i in range(10):  # each question three times, spelled with other spaces, case and full-width digits
        for q in (f"What is {i} + {i}?", f"what  is {i} + {i}?", f"What is {chr(0xFF10 + i)} + {i}?"):
            rows.append({"question": q, "answer": str(2 * i)})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    cfg = resolve_config(None, str(path), None, ["task.num_heldout=4", "task.num_train=20"])
    held, train = _assert_disjoint(cfg)
    assert len(train) == 18  # 30 rows; the 4 held-out questions' 12 rows leave 18 for train


def test_run_trained_on_other_settings_is_refused(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    dump_config(load_config(None, ["task.name=chain_sum", ONE_DIGIT, "task.num_train=300", "task.seed=1"]),
                run / "config.yaml")
    own = resolve_config(str(run), None, None, ["task.num_heldout=10"])
    assert own.task.seed == 1  # the run's own task settings
    check_against_run(str(run), own, select_problems(own, "heldout", None), "heldout")
    # reasoning-gym's stream for seed s + d is the seed-s stream shifted by d items, so seed 301 holds out
    # what seed 1 trained on (its train part starts after its 200 held-out items).
    other = resolve_config(str(run), None, None, ["task.seed=301", "task.num_heldout=30"])
    with pytest.raises(ValueError, match="overlap"):
        check_against_run(str(run), other, select_problems(other, "heldout", None), "heldout")


def test_resolve_config_errors():
    with pytest.raises(ValueError, match="no task"):
        resolve_config(None, None, None, [])
    with pytest.raises(ValueError, match="only task"):
        resolve_config(None, "chain_sum", None, ["rollout.temperature=0.1"])
    with pytest.raises(ValueError, match="split"):
        select_problems(resolve_config(None, "zh_arithmetic", None, []), "test", None)
