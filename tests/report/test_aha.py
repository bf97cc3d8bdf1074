"""Thinking/answer split and reflection-phrase counting, on values worked out by hand."""
from __future__ import annotations

import pytest

from reasonrl.report.aha import aha_by_step, reflection_hits, reflection_text, split_thinking


@pytest.mark.parametrize("text, expected", [
    ("<think>a</think>b", ("a", "b")),
    ("<think>\n a \n</think>\n b \n", ("a", "b")),  # whitespace around the parts is not content
    ("pre-filled opener, so only the close</think>b", ("pre-filled opener, so only the close", "b")),
    ("<think>a</think>b</think>c", ("a", "b</think>c")),  # only the first close ends the thinking
    ("<think></think>b", ("", "b")),  # empty thinking is not "no tags"
    ("<think>cut off by max_new_tokens", ("cut off by max_new_tokens", "")),
    ("no tags at all", (None, "no tags at all")),
])
def test_split_thinking(text, expected):
    assert split_thinking(text) == expected


def test_reflection_scans_thinking_only_when_tagged():
    assert reflection_text("<think>wait</think>no reflection here") == "wait"
    assert reflection_hits(reflection_text("<think>ok</think>Wait, what?")) == []  # answer not scanned
    assert reflection_hits(reflection_text("Wait, what?")) == ["wait"]  # no tags: whole reply
    assert reflection_hits("WAIT. Let Me Check. double-check. 验证") == ["wait", "let me check", "double-check", "验证"]
    assert reflection_hits("awaiting waits") == []


def test_aha_by_step_values():
    rows = [
        {"step": 1, "completion": "<think>abcd</think>x"},  # 4 chars, no phrase
        {"step": 1, "completion": "<think>wait</think>x"},  # 4 chars, wait
        {"step": 2, "completion": "<think>检查一下</think>x"},  # 4 chars, 检查
        {"step": 2, "completion": "<think>wait, 检查</think>x"},  # 8 chars, wait + 检查
        {"step": 2, "completion": "<think>fine</think>x"},  # 4 chars
        {"step": 3, "completion": None},  # not a completion: ignored
    ]
    p1, p2 = aha_by_step(rows)
    assert (p1.step, p1.n, p1.reflect_frac, p1.think_chars) == (1.0, 2, 0.5, 4.0)
    assert (p2.step, p2.n, p2.think_chars) == (2.0, 3, 16 / 3)
    assert p2.reflect_frac == pytest.approx(2 / 3)
    assert p2.phrases["wait"] == pytest.approx(1 / 3) and p2.phrases["检查"] == pytest.approx(2 / 3)


def test_aha_by_step_buckets():
    rows = [{"step": s, "completion": "wait" if s > 5 else "ok"} for s in range(1, 11)]
    pts = aha_by_step(rows, max_points=2)  # steps 1-5 and 6-10
    assert [(p.step, p.n, p.reflect_frac) for p in pts] == [(3.0, 5, 0.0), (8.0, 5, 1.0)]
    assert aha_by_step([]) == []
