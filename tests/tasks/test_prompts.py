"""Every template renders in English and Chinese with the real SmolLM2 tokenizer (~1 s to load)."""
import pytest

from reasonrl.tasks import TEMPLATES, Problem, render_prompt
from reasonrl.tasks.prompts import R1ZERO

EN = Problem("chain_sum:0:0", "State the final answer to the following arithmetic problem: 4 - 1 - 7 =", "-4", "chain_sum", "en")
ZH = Problem("zh_arithmetic:0:0", "小明有7个苹果，又买了5个，现在一共有几个苹果？", "12", "zh_arithmetic", "zh")


@pytest.fixture(scope="module")
def tok():
    from reasonrl.model import default_model_dir, load_tokenizer

    return load_tokenizer(default_model_dir())


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("problem", [EN, ZH], ids=["en", "zh"])
def test_every_template_renders(tok, template, problem):
    text, prefill = render_prompt(tok, problem, template)
    assert problem.question in text and text.endswith(prefill)
    zh = problem.lang == "zh"
    if template == "r1zero":
        assert "<|im_start|>" not in text and prefill == ""
        assert text.endswith("助手：" if zh else "Assistant:")
    else:
        # ChatML with SmolLM2's default system prompt kept, the turn open for the assistant.
        assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
        assert f"<|im_start|>user\n{problem.question}" in text
        assert text.endswith("<|im_start|>assistant\n" + prefill)
    if template != "plain":
        assert "<think>" in text and "<answer>" in text
    if template == "chat_think_steps":
        assert ("先计算前两个数" if zh else "First add or subtract the first two numbers") in text
    if template == "chat_think_positions":
        assert ("每个数前写上它的位置" if zh else "each with its position (1: the first number") in text
    if template == "chat_think_count":
        assert ("每个数前写上它的序号" if zh else "each with its count (1: the first number after it") in text
    if template == "chat_think_copy":
        assert ("从它开始把列表往后写" if zh else "write the list on from it, up to the asked number") in text
    if template == "chat_think_walk":
        assert ("把你走过的每个箭头逐行写出" if zh else "write each arrow you follow, one per line") in text
    if template == "chat_think_path":
        assert ("用 -> 连接" if zh else "and so on, joined by ->") in text
    if template == "plain":
        assert ("只回答数字。" if zh else "Answer with just the number.") in text
    if template.startswith("chat_think"):
        assert prefill == "<think>\n"
    else:
        assert prefill == ""
    # The instructions never contain a copyable worked answer.
    assert problem.answer not in text.replace(problem.question, "")
    ids = tok(text)["input_ids"]
    # Chinese costs ~3x the tokens in SmolLM2's byte-level BPE (zh r1zero: 208 tokens vs en 108).
    assert len(ids) < 300
    if template != "r1zero":
        assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3  # special tokens, not text


def test_lang_override_and_exact_r1zero(tok):
    text, _ = render_prompt(tok, ZH, "plain", lang="en")
    assert "Answer with just the number." in text and "只回答数字" not in text
    assert render_prompt(tok, EN, "r1zero", lang="zh")[0] == R1ZERO["zh"].format(question=EN.question)
    assert render_prompt(tok, EN, "r1zero")[0] == (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
        "The assistant first thinks about the reasoning process in the mind and then provides the user with "
        "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
        "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
        "</answer>. User: State the final answer to the following arithmetic problem: 4 - 1 - 7 = Assistant:")


def test_unknown_template_and_lang():
    with pytest.raises(ValueError, match=r"^unknown template 'cot'; valid: r1zero, chat, chat_think, chat_think_steps, chat_think_positions, chat_think_count, chat_think_copy, chat_think_walk, chat_think_path, plain$"):
        render_prompt(None, EN, "cot")
    with pytest.raises(ValueError, match=r"^unknown lang 'fr'; valid: auto, en, zh$"):
        render_prompt(None, EN, "plain", lang="fr")


def test_no_chat_template_falls_back_to_plain_text(tok):
    class Base:  # a base model's tokenizer, e.g. Gemma 3 pt: no chat template
        chat_template = None

    text, prefill = render_prompt(Base(), ZH, "chat_think")
    assert text.startswith("User: " + ZH.question) and text.endswith("\nAssistant: <think>\n")
    assert prefill == "<think>\n"
    assert render_prompt(Base(), EN, "plain")[0] == f"User: {EN.question}\nAnswer with just the number.\nAssistant:"


ARROWS = Problem("arrows:0:0", "Arrows: 81 -> 14, 23 -> 57, 57 -> 90. Start at 23 and follow the arrows ...", "90",
                 "arrows", "en", meta={"path": [23, 57, 90], "arrows": [[81, 14], [23, 57], [57, 90]]})


def test_think_prefix_opens_the_thinking_with_the_problems_own_field(tok):
    text, prefill = render_prompt(tok, ARROWS, "chat_think_path", think_prefix="{path[0]} ->")
    plain_text, plain_prefill = render_prompt(tok, ARROWS, "chat_think_path")
    assert prefill == "<think>\n23 ->" and plain_prefill == "<think>\n"
    assert text == plain_text + "23 ->"   # the same prompt, the reply begun further


def test_a_think_prefix_a_problem_cannot_fill_is_a_one_line_error(tok):
    with pytest.raises(ValueError, match=r"problem arrows:0:0 has no meta field 'start' \(its meta: path, arrows\)"):
        render_prompt(tok, ARROWS, "chat_think", think_prefix="{start} ->")
    with pytest.raises(ValueError, match="problem chain_sum:0:0 has no meta field 'path'"):
        render_prompt(tok, EN, "chat_think", think_prefix="{path[0]} ->")


def test_think_prefix_is_checked_at_load_and_needs_a_thinking_template():
    from pydantic import ValidationError

    from reasonrl.config.schema import TaskConfig
    from reasonrl.tasks import load_task

    arrows = dict(name="arrows", kwargs={"min_hops": 2, "max_hops": 3}, num_train=4, num_heldout=2)
    splits = load_task(TaskConfig(**arrows, template="chat_think", think_prefix="{path[0]} ->"))
    assert len(splits.train) == 4
    with pytest.raises(ValueError, match="has no meta field 'start'"):
        load_task(TaskConfig(**arrows, template="chat_think", think_prefix="{start} ->"))
    with pytest.raises(ValidationError, match="task.think_prefix needs a chat_think template"):
        TaskConfig(**arrows, template="plain", think_prefix="{path[0]} ->")
