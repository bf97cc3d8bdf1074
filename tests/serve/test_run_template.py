"""`reasonrl serve RUN_DIR` prompts the model as the run trained it: the served greedy answers to 20 held-out
questions equal `reasonrl eval --greedy` on the same run (official openai client, streaming and not,
English and Chinese); the prompt equals tasks.prompts.render_prompt; flags override the run."""
import json
import shutil

import openai
import pytest

from reasonrl.config import dump_config, load_config
from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving
from reasonrl.serve.cli import build_parser, make_profile
from reasonrl.serve.parse import split_reasoning
from reasonrl.serve.profile import PLAIN_CHAT, PromptProfile, profile_for_model, profile_from_template
from reasonrl.tasks import Problem, render_prompt
from reasonrl.train.cli import DEFAULT_JOB

N = 20


def make_run(root, model_dir, overrides):
    """RUN/config.yaml + RUN/checkpoints/step_000001 (the tiny model and its config), as training leaves them."""
    cfg = load_config(DEFAULT_JOB, [f"task.num_heldout={N}", "task.num_train=40", "rollout.max_new_tokens=12",
                                    *overrides])
    ckpt = root / "checkpoints" / "step_000001"
    shutil.copytree(model_dir, ckpt)
    dump_config(cfg, root / "config.yaml")
    dump_config(cfg, ckpt / "config.yaml")
    (root / "checkpoints" / "latest").write_text("step_000001")
    return root


@pytest.mark.parametrize("template", ["chat_think", "chat", "plain", "r1zero"])
@pytest.mark.parametrize("question,lang", [("What is 4 + 5?", "en"), ("小明有3个苹果，又买了4个，现在有几个？", "zh")])
def test_profile_prompt_equals_the_training_prompt(real_tokenizer, template, question, lang):
    profile = profile_from_template(template)  # lang auto: detected from the question, as eval follows problem.lang
    problem = Problem(id="t:0", question=question, answer="7", task="t", lang=lang)
    assert profile.render(real_tokenizer, [{"role": "user", "content": question}]) == \
        render_prompt(real_tokenizer, problem, template)[0]


def test_profile_keeps_earlier_turns_and_a_system_message(real_tokenizer):
    profile = profile_from_template("chat_think")
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"},
            {"role": "assistant", "content": "2"}, {"role": "user", "content": "2+2?"}]
    text = profile.render(real_tokenizer, msgs)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>")
    assert text.endswith("2+2?\n\nFirst think step by step inside <think> </think> tags, then give only the final "
                         "answer inside <answer> </answer> tags.<|im_end|>\n<|im_start|>assistant\n<think>\n")


def test_profile_read_from_the_run_and_overridden_by_flags(tmp_path, tiny_model_dir):
    run = make_run(tmp_path / "run", tiny_model_dir, [])
    ckpt = run / "checkpoints" / "step_000001"
    assert profile_for_model(ckpt) == PromptProfile("chat_think", "auto", "<think>\n", ("</answer>",), True)
    assert profile_for_model(tiny_model_dir) == PLAIN_CHAT  # no reasonrl config beside it
    args = build_parser().parse_args([str(run), "--no-prefill-think", "--stop", "\n\n", "--lang", "zh"])
    assert make_profile(args, ckpt) == PromptProfile("chat_think", "zh", "", ("\n\n",), True)
    args = build_parser().parse_args([str(run), "--template", "plain"])
    assert make_profile(args, ckpt) == PromptProfile("plain", "auto", "", ("</answer>",), False)
    assert make_profile(build_parser().parse_args([str(run), "--plain-chat"]), ckpt) == PLAIN_CHAT


def test_content_is_the_answer_inside_the_tags(scripted):
    engine = scripted("4 + 5 = 9</think>\nSo the answer: <answer> 9 </answer>")
    seen = []
    submit = engine.submit
    engine.submit = lambda req: (seen.append(req), submit(req))[1]
    with serving(create_app(engine, profile=profile_from_template("chat_think", PromptProfile(stop=("</answer>",))))) as url:
        c = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)
        msg = c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "4+5?"}]).choices[0].message
        stream = c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "4+5?"}], stream=True)
        parts = [(ch.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for ch in stream if ch.choices]
    assert (msg.reasoning_content, msg.content) == ("4 + 5 = 9", "9")
    prompt = engine.tokenizer.decode(seen[0].prompt_ids)
    assert prompt.endswith("inside <answer> </answer> tags.<|im_end|>\n<|im_start|>assistant\n<think>\n")
    assert seen[0].params.stop == ["</answer>"]
    assert "".join(parts).strip() == "4 + 5 = 9"


def _serve_answers(url: str, name: str, questions: list[str], stream: bool) -> list[tuple[str, str]]:
    c = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
    out = []
    for q in questions:
        kw = dict(model=name, messages=[{"role": "user", "content": q}], temperature=0, max_tokens=12)
        if not stream:
            m = c.chat.completions.create(**kw).choices[0].message
            out.append((m.reasoning_content or "", m.content))
            continue
        reasoning = content = ""
        for ch in c.chat.completions.create(**kw, stream=True):
            for x in ch.choices:
                reasoning += (x.delta.model_extra or {}).get("reasoning_content") or ""
                content += x.delta.content or ""
        out.append((reasoning.strip(), content.strip()))
    return out


@pytest.mark.parametrize("task", ["chain_sum", "zh_arithmetic"])
def test_served_greedy_answers_equal_reasonrl_eval_greedy(tmp_path, tiny_model_dir, task):
    from reasonrl.eval.cli import main as eval_main
    from reasonrl.model import load_model
    from reasonrl.serve.engine import HFEngine

    run = make_run(tmp_path / task, tiny_model_dir, [f"task.name={task}", "task.kwargs={}"] if task != "chain_sum" else [])
    out = tmp_path / "eval.json"
    assert eval_main(["--model", str(run), "--greedy", "--out", str(out)]) == 0
    problems = json.loads(out.read_text())["problems"]
    assert len(problems) == N and {p["lang"] for p in problems} == {"en" if task == "chain_sum" else "zh"}
    # eval's response = the "<think>\n" prefill + the completion (up to and including </answer>)
    texts = [p["samples"][0]["response"].removeprefix("<think>\n") for p in problems]
    want = [split_reasoning(t, prefill_think=True, answer_only=True) for t in texts]
    # A stream sends text as reasoning while </think> may still come, so a reply that never closes the
    # thinking stays reasoning there (docs/serve.md); the non-streaming reply calls it content.
    want_stream = [w if "</think>" in t else (t.strip(), "") for t, w in zip(texts, want)]
    ckpt = run / "checkpoints" / "step_000001"
    model, tok, _ = load_model(ckpt)
    engine = HFEngine(model, tok, name=task, max_batch=1)
    try:
        with serving(create_app(engine, profile=profile_for_model(ckpt))) as url:
            questions = [p["question"] for p in problems]
            assert _serve_answers(url, task, questions, stream=False) == want
            assert _serve_answers(url, task, questions, stream=True) == want_stream
    finally:
        engine.close()
