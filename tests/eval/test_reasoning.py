"""Thinking figures from an eval file: length of right vs wrong thinking, checks and retries."""
from __future__ import annotations

import json

from reasonrl.eval.reasoning import checks, main, reasoning_figures
from reasonrl.eval.results import SCHEMA


def test_checks_cues_retries_and_plain_steps():
    assert checks("先算 3 + 4 = 7，再验证一下")
    assert checks("Wait, that is not right")
    assert checks("9 - 2 = 7 then 9 - 2 = 7 again")            # the same step twice: a recomputation
    assert not checks("9 - 2 = 7, 7 + 1 = 8")                   # two different steps
    assert not checks("The switch is on")                        # 'check' only as a word, not inside one


def test_figures_and_cli(tmp_path, capsys):
    samples = [
        {"response": "<think>\n2 + 2 = 4, 4 + 1 = 5</think><answer>5</answer>", "correct": True},   # 10 words
        {"response": "<think>\n2 + 2 = 4, 4 + 1 = 5, wait 4 + 1 = 5</think><answer>5</answer>", "correct": True},
        {"response": "<think>\n6</think><answer>6</answer>", "correct": False},
        {"response": "unclosed <think> thinking", "correct": False},
    ]
    result = {"schema": SCHEMA, "problems": [{"samples": samples}]}
    f = reasoning_figures(result)
    assert f == {"think_words_correct": (10 + 16) / 2, "think_words_wrong": 1.0, "check_rate": 1 / 3,
                 "n_thinking": 3, "n_samples": 4}
    path = tmp_path / "e.json"
    path.write_text(json.dumps(result))
    assert main([str(path)]) == 0 and json.loads(capsys.readouterr().out) == f
    assert main([str(tmp_path / "missing.json")]) == 2 and "no such eval file" in capsys.readouterr().err
