"""The think budget (s1 budget forcing): the forced `</think>` lands exactly where the thinking was cut."""
from __future__ import annotations

import json

import pytest

from reasonrl.eval.budget import ANSWER_MIN_TOKENS, FORCED_CLOSE, forced_text, generate_with_budget
from reasonrl.eval.cli import main
from reasonrl.eval.heldout import generate_and_score
from reasonrl.rewards import RewardRunner
from reasonrl.rollout.base import Rollouts, SamplingParams
from reasonrl.tasks import Problem, render_prompt

PROBLEMS = [Problem("t:0", "3 + 4 =", "7", "t", "en"), Problem("t:1", "5 + 1 =", "6", "t", "en")]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from reasonrl.model import load_model
    from reasonrl.rollout.hf import HFEngine

    model, tok, _ = load_model(str(tiny_model_dir))
    return HFEngine(model, tok), tok


class ScriptedEngine:
    """Returns the texts it is given, call by call, and records each call's prompts and params."""

    def __init__(self, tok, *replies: list[str]):
        self.tok, self.replies, self.calls = tok, list(replies), []

    def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        texts = self.replies.pop(0)
        ids = [self.tok.encode(t, add_special_tokens=False) for t in texts]
        return Rollouts([[1]] * len(texts), ids, texts, [False] * len(texts), 0.0)


def test_forced_close_follows_the_cut_thinking_token_for_token(tiny):
    engine, tok = tiny
    prompt, prefill = render_prompt(tok, PROBLEMS[0], "chat_think")
    greedy = SamplingParams(n=1, max_new_tokens=20, temperature=0.0)
    # the unbudgeted greedy reply's first 3 tokens are what the budgeted run must keep before the forced tag
    first3 = engine.generate([prompt], SamplingParams(n=1, max_new_tokens=3, temperature=0.0))
    assert "</think>" not in first3.texts[0]  # a random model does not close it: the budget must
    b = generate_with_budget(engine, tok, [prompt], [prefill], greedy, budget=3)
    head = first3.texts[0] + forced_text(prefill + first3.texts[0])
    assert b.forced == [True] and b.think_tokens == [len(first3.completion_ids[0])] == [3]
    assert b.rollouts.texts[0].startswith(head)
    assert head[len(first3.texts[0]):].lstrip("\n") == FORCED_CLOSE  # right after the cut: nothing else inserted
    # phase 2 is the greedy continuation of prompt + cut thinking + forced tags, with the cap that is left
    tail = engine.generate([prompt + head], SamplingParams(n=1, max_new_tokens=20 - 3, temperature=0.0))
    assert b.rollouts.texts[0] == head + tail.texts[0]
    assert b.rollouts.completion_ids[0][:3] == first3.completion_ids[0][:3]


def test_budget_zero_is_an_empty_thinking_for_both_kinds_of_template(tiny):
    engine, tok = tiny
    for template, opening in (("chat_think", ""), ("chat", "<think>\n")):
        prompt, prefill = render_prompt(tok, PROBLEMS[0], template)
        b = generate_with_budget(engine, tok, [prompt], [prefill], SamplingParams(n=2, max_new_tokens=8, temperature=0.7), 0)
        assert b.think_tokens == [0, 0] and b.forced == [True, True]
        for text in b.rollouts.texts:
            assert (prefill + text).startswith("<think>\n</think>\n<answer>")
            assert text.startswith(opening + FORCED_CLOSE)


def test_a_thinking_closed_within_the_budget_gets_nothing_forced(tiny):
    _, tok = tiny
    engine = ScriptedEngine(tok, ["3 + 4 = 7</think>", "2 + 2"], ["\n<answer>7</answer>", "\n</think>\n<answer>6</answer>"])
    params = SamplingParams(n=1, max_new_tokens=40, temperature=0.0, stop=["</answer>"])
    with RewardRunner(["accuracy"], timeout_s=30) as runner:
        s = generate_and_score(engine, tok, PROBLEMS, params, template="chat_think", lang="en", lenient=False,
                               runner=runner, think_budget=12)
    (p1_prompts, p1), (p2_prompts, p2) = engine.calls
    assert (p1.max_new_tokens, p1.stop, p1.n) == (12, ["</think>"], 1)
    assert (p2.max_new_tokens, p2.stop, p2.n) == (40 - 12, ["</answer>"], 1)
    assert p2_prompts[0] == p1_prompts[0] + "3 + 4 = 7</think>"              # continued, not forced
    assert p2_prompts[1] == p1_prompts[1] + "2 + 2\n</think>\n<answer>"     # cut and closed
    assert s.forced == [False, True]
    assert s.responses == ["<think>\n3 + 4 = 7</think>\n<answer>7</answer>",
                           "<think>\n2 + 2\n</think>\n<answer>\n</think>\n<answer>6</answer>"]
    assert s.correct == [1.0, 0.0] and s.formatted == [True, False]


def test_a_cut_inside_the_models_own_closing_tag_finishes_that_tag(tiny):
    from reasonrl.rewards.format import format_ok

    _, tok = tiny
    engine = ScriptedEngine(tok, ["41 -> 38 = 27\n</", "41 -> 38\n</think"], ["27</answer>", "27</answer>"])
    params = SamplingParams(n=1, max_new_tokens=40, temperature=0.0, stop=["</answer>"])
    b = generate_with_budget(engine, tok, ["P<think>\n", "Q<think>\n"], ["<think>\n"] * 2, params, 16)
    assert engine.calls[1][0] == ["P<think>\n41 -> 38 = 27\n</think>\n<answer>", "Q<think>\n41 -> 38\n</think>\n<answer>"]
    assert b.forced == [True, True]
    assert b.rollouts.texts == ["41 -> 38 = 27\n</think>\n<answer>27</answer>", "41 -> 38\n</think>\n<answer>27</answer>"]
    assert all(format_ok("<think>\n" + t) for t in b.rollouts.texts)


def test_phase_two_keeps_room_for_an_answer(tiny):
    _, tok = tiny
    engine = ScriptedEngine(tok, ["a b c"], ["7</answer>"])
    b = generate_with_budget(engine, tok, ["P<think>\n"], ["<think>\n"], SamplingParams(n=1, max_new_tokens=20), 64)
    assert engine.calls[1][1].max_new_tokens == ANSWER_MIN_TOKENS
    assert b.rollouts.texts == ["a b c" + "\n" + FORCED_CLOSE + "7</answer>"]


def test_sweep_cli_writes_one_row_per_budget_and_the_unlimited_one(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    rc = main(["--model", str(tiny_model_dir), "--task", "chain_sum", "--template", "chat_think", "task.num_heldout=3",
               "task.num_train=3", "--greedy", "--max-new-tokens", "6", "--think-budget-sweep", "0,2", "--out", str(out)])
    assert rc == 0
    sweep = json.loads(out.read_text())
    assert sweep["budgets"] == [0, 2, None]
    zero, two, full = sweep["results"]
    assert [r["meta"]["think_budget"] for r in sweep["results"]] == [0, 2, None]
    assert zero["metrics"]["think_tokens_mean"] == 0 and zero["metrics"]["forced_rate"] == 1.0
    assert all(s["response"].startswith("<think>\n</think>\n<answer>") for p in zero["problems"] for s in p["samples"])
    assert 0 < two["metrics"]["think_tokens_mean"] <= 2
    assert "think_tokens_mean" not in full["metrics"]
    assert [p["id"] for p in zero["problems"]] == [p["id"] for p in full["problems"]]   # the same problems
    table = (tmp_path / "sweep.md").read_text()
    assert "| 0 |" in table and "| 2 |" in table and "| full |" in table
    assert table in capsys.readouterr().out


def test_bad_budgets_are_one_line_errors(tiny_model_dir, tmp_path, capsys):
    base = ["--model", str(tiny_model_dir), "--task", "chain_sum", "task.num_heldout=2", "task.num_train=2", "--greedy"]
    assert main(base + ["--think-budget", "4", "--out", str(tmp_path / "x.json")]) == 2   # the plain template
    assert "needs a template with <think> tags" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    for bad in ("a,b", "-1", ""):
        with pytest.raises(SystemExit) as e:
            main(base + ["--think-budget-sweep", bad])
        assert e.value.code == 2
        assert "comma-separated token counts" in capsys.readouterr().err


def test_budget_zero_after_a_think_prefix_closes_right_after_it(tiny):
    """A think_prefix is the prompt's, not the model's: budget 0 closes the thinking right after it."""
    _, tok = tiny
    arrows = Problem("arrows:0:0", "Arrows: 23 -> 57, 57 -> 90. Start at 23 ...", "90", "arrows", "en",
                     meta={"path": [23, 57, 90]})
    engine = ScriptedEngine(tok, ["90</answer>"])
    with RewardRunner(["accuracy"]) as runner:
        s = generate_and_score(engine, tok, [arrows], SamplingParams(n=1, max_new_tokens=8, temperature=0.0),
                               template="chat_think_path", lang="en", lenient=False, runner=runner, think_budget=0,
                               think_prefix="{path[0]} ->")
    assert engine.calls[0][0][0].endswith("<think>\n23 ->\n</think>\n<answer>")   # phase 2's prompt
    assert s.responses == ["<think>\n23 ->\n</think>\n<answer>90</answer>"] and s.think_tokens == [0]
