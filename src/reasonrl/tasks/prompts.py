"""Prompt templates: a Problem → the exact text to tokenize, plus the part of the reply it pre-fills.

    prompt_text, prefill = render_prompt(tokenizer, problem, "chat_think")
    # generate from prompt_text; verify prefill + completion (so "<think>\n" counts toward the format)

| template     | rendering                         | prefill     |
|--------------|-----------------------------------|-------------|
| `r1zero`     | DeepSeek-R1-Zero text, no chat    | ""          |
| `chat`       | chat template, asks for tags      | ""          |
| `chat_think` | chat, reply opened with <think>   | "<think>\n" |
| `chat_think_steps` | chat_think, asks for one operation per step | "<think>\n" |
| `chat_think_positions` | chat_think, asks to number the list's items up to the asked one | "<think>\n" |
| `chat_think_count` | chat_think, asks to number the items after the named one up to the asked count | "<think>\n" |
| `chat_think_copy` | chat_think, asks to write the list on from the named item up to the asked one | "<think>\n" |
| `chat_think_walk` | chat_think, asks to write each arrow followed, one per line, from the start to the end | "<think>\n" |
| `chat_think_path` | chat_think, asks to write the numbers visited joined by "->", from the start to the end | "<think>\n" |
| `plain`      | chat, "Answer with just the number." | ""       |

Each has an English and a Chinese text; lang='auto' follows problem.lang. The chat instructions hold
no worked example with a copyable answer: a run once collapsed onto copying the example's answer.
`plain` gave the best base accuracy for a 135M model in an earlier project measurement (not redone here). The tokenizer's own default system prompt
(SmolLM2: "You are a helpful AI assistant named SmolLM...") is kept: we pass no system message.
Measured (SmolLM2-135M-Instruct, greedy, `plain`, 20 held-out 1-digit 2-term chain_sum, 10 new tokens):
default system 4/20, "You are a helpful assistant." 6/20, a "final number only" system 5/20: within
noise, so no replacement. On zh_arithmetic it scores 0/20 with either language's instruction (it
echoes the question): the 135M model has no Chinese to reinforce; use a bigger model for zh.

A tokenizer with no chat template (e.g. the Gemma 3 base model) gets the chat-based templates as
plain text: "User: {message}\\nAssistant:" + prefill, so a base model still sees a turn to complete.
"""
from __future__ import annotations

from reasonrl.tasks.problem import Problem

TEMPLATES = ("r1zero", "chat", "chat_think", "chat_think_steps", "chat_think_positions", "chat_think_count", "chat_think_copy",
             "chat_think_walk", "chat_think_path", "plain")
TAGGED_TEMPLATES = ("r1zero", "chat", "chat_think", "chat_think_steps", "chat_think_positions", "chat_think_count",
                    "chat_think_copy", "chat_think_walk", "chat_think_path")   # they ask for <think>/<answer>
THINK_PREFILL = "<think>\n"

R1ZERO = {
    "en": (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
        "The assistant first thinks about the reasoning process in the mind and then provides the user with "
        "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
        "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
        "</answer>. User: {question} Assistant:"
    ),
    "zh": (
        "这是用户与助手之间的对话。用户提出一个问题，助手解决它。助手先在脑海中思考推理过程，然后向用户给出答案。"
        "推理过程和答案分别写在 <think> </think> 和 <answer> </answer> 标签内，即 <think> 这里是推理过程 "
        "</think> <answer> 这里是答案 </answer>。用户：{question} 助手："
    ),
}
TAGS_INSTRUCTION = {
    "en": "{question}\n\nFirst think step by step inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags.",
    "zh": "{question}\n\n请先在 <think> </think> 标签内逐步思考，然后只把最终答案写在 <answer> </answer> 标签内。",
}
# For multi-step arithmetic (issue 19): SmolLM2-135M then writes "First, ... 4 + 3 = 7 / Then, ... 7 + 3 = 10"
# where the plain tag instruction gets one guess; it names the procedure, not an answer to copy.
STEPS_INSTRUCTION = {
    "en": "{question}\n\nFirst add or subtract the first two numbers, then apply the last number to that result. Show each step inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags.",
    "zh": "{question}\n\n先计算前两个数，再把最后一个数作用于这个结果。在 <think> </think> 标签内写出每一步，然后只把最终答案写在 <answer> </answer> 标签内。",
}
# For a far lookup in a long list (issue 19, nth_number digits=2): the procedure that turns counting into matching
# a label. Base SmolLM2-135M under it (20 questions of 12-16 two-digit items, 8 samples, T=0.8): 25 of 160 samples
# number the items ("Fourth number: 27"), the last number is right in 8 (5%) vs 4 under the plain tag instruction.
POSITIONS_INSTRUCTION = {
    "en": "{question}\n\nInside <think> </think> tags, write the numbers of the list one per line, each with its position (1: the first number, 2: the second, ...), up to the asked position. Then give only that number inside <answer> </answer> tags.",
    "zh": "{question}\n\n在 <think> </think> 标签内，把列表中的数逐行写出，每个数前写上它的位置（1: 第一个数，2: 第二个数，……），直到所问的位置。然后只把那个数写在 <answer> </answer> 标签内。",
}
# For the relative lookup (issue 19, nth_number after=N): the copy from the named item was learned without it
# (session 20) but its length never followed k; a count written beside each copied item turns "stop after k" into
# matching a label against the k in the question.
COUNT_INSTRUCTION = {
    "en": "{question}\n\nInside <think> </think> tags, find that number in the list, then write the numbers after it one per line, each with its count (1: the first number after it, 2: the second, ...), up to the asked count. Then give only that number inside <answer> </answer> tags.",
    "zh": "{question}\n\n在 <think> </think> 标签内，先在列表中找到那个数，再把它后面的数逐行写出，每个数前写上它的序号（1: 它后面的第一个数，2: 第二个，……），直到所问的序号。然后只把那个数写在 <answer> </answer> 标签内。",
}
# The same lookup, the copy asked for without counts: the procedure session 20's copy run found by itself.
COPY_INSTRUCTION = {
    "en": "{question}\n\nInside <think> </think> tags, find that number in the list and write the list on from it, up to the asked number. Then give only the last number you wrote inside <answer> </answer> tags.",
    "zh": "{question}\n\n在 <think> </think> 标签内，先在列表中找到那个数，再从它开始把列表往后写，直到所问的那个数。然后只把你写的最后一个数写在 <answer> </answer> 标签内。",
}
# For the arrows walk (issue 19, tasks/arrows.py): under the plain tag instruction 10 of 160 base samples write any
# of the walk (mostly the question's arrows copied from its start); this names the procedure, not an answer.
WALK_INSTRUCTION = {
    "en": "{question}\n\nInside <think> </think> tags, write each arrow you follow, one per line, from the start number until you reach a number with no arrow from it. Then give only that last number inside <answer> </answer> tags.",
    "zh": "{question}\n\n在 <think> </think> 标签内，从起点开始，把你走过的每个箭头逐行写出，直到到达一个没有箭头出发的数。然后只把最后那个数写在 <answer> </answer> 标签内。",
}
# The walk as one chain, "52 -> 96 -> 24 -> 84" (session 23): after writing "96 ->" the next number is what follows
# "96 ->" in the question, a two-token match (the copy small models do best), where "one arrow per line" asks the
# model to leave off copying the question's list in its order, which the arrows runs' thinking never did.
PATH_INSTRUCTION = {
    "en": "{question}\n\nInside <think> </think> tags, write the path: the start number, then the number its arrow points to, then the number that one points to, and so on, joined by ->, until you reach a number with no arrow from it. Then give only that last number inside <answer> </answer> tags.",
    "zh": "{question}\n\n在 <think> </think> 标签内写出路径：先写起点，再写它的箭头指向的数，再写那个数指向的数，依此类推，用 -> 连接，直到到达一个没有箭头出发的数。然后只把最后那个数写在 <answer> </answer> 标签内。",
}
PLAIN_INSTRUCTION = {
    "en": "{question}\nAnswer with just the number.",
    "zh": "{question}\n只回答数字。",
}
# The user-turn instruction each chat template wraps around the question (r1zero is a whole prompt of its own).
INSTRUCTIONS = {"chat": TAGS_INSTRUCTION, "chat_think": TAGS_INSTRUCTION, "chat_think_steps": STEPS_INSTRUCTION,
                "chat_think_positions": POSITIONS_INSTRUCTION, "chat_think_count": COUNT_INSTRUCTION,
                "chat_think_copy": COPY_INSTRUCTION, "chat_think_walk": WALK_INSTRUCTION,
                "chat_think_path": PATH_INSTRUCTION, "plain": PLAIN_INSTRUCTION}


def _chat(tokenizer, user_message: str, prefill: str) -> str:
    if getattr(tokenizer, "chat_template", None) is None:
        return f"User: {user_message}\nAssistant: {prefill}" if prefill else f"User: {user_message}\nAssistant:"
    text = tokenizer.apply_chat_template([{"role": "user", "content": user_message}], tokenize=False,
                                         add_generation_prompt=True)
    return text + prefill


def render_prompt(tokenizer, problem: Problem, template: str, lang: str = "auto",
                  think_prefix: str | None = None) -> tuple[str, str]:
    """(prompt_text, prefill): prompt_text is the exact string to tokenize (special tokens included,
    ending with prefill); prefill is the start of the assistant reply that the template wrote, plus
    `think_prefix` (`task.think_prefix`) filled from the problem's meta (`think_prefix_of`).

    >>> p = Problem(id="t:0", question="1 + 1 =", answer="2", task="t", lang="en")
    >>> render_prompt(None, p, "r1zero")[0][-35:]
    '</answer>. User: 1 + 1 = Assistant:'
    >>> render_prompt(None, p, "chat_think")   # None has no chat template: the plain-text fallback
    ('User: 1 + 1 =\\n\\nFirst think step by step inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags.\\nAssistant: <think>\\n', '<think>\\n')
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; valid: {', '.join(TEMPLATES)}")
    lang = problem.lang if lang == "auto" else lang
    if lang not in ("en", "zh"):
        raise ValueError(f"unknown lang {lang!r}; valid: auto, en, zh")
    if template == "r1zero":
        return R1ZERO[lang].format(question=problem.question), ""
    prefill = prefill_of(template) + think_prefix_of(problem, think_prefix)
    return _chat(tokenizer, INSTRUCTIONS[template][lang].format(question=problem.question), prefill), prefill


def think_prefix_of(problem: Problem, think_prefix: str | None) -> str:
    """`think_prefix` filled from `problem.meta` (str.format: "{path[0]} ->"), "" for None; a ValueError naming the
    problem and the field when its meta lacks it.

    Why (issue 19, session 34): the arrows walk's first written step is the start number and an arrow, "23 ->", and
    the base model, left to start its thinking itself, copies the question's list instead; begun with the start
    (a number the question states), 5x more of its samples write the walk's second hop by the content match
    (`benchmarks/arrows_walks.py`, docs/r1zero-reasoning.md). The text comes from the question, never the answer.

    >>> p = Problem(id="arrows:3", question="...", answer="90", task="arrows", lang="en", meta={"path": [23, 57, 90]})
    >>> think_prefix_of(p, "{path[0]} ->"), think_prefix_of(p, None)
    ('23 ->', '')
    >>> think_prefix_of(p, "{start} ->")
    Traceback (most recent call last):
    ...
    ValueError: task.think_prefix '{start} ->': problem arrows:3 has no meta field 'start' (its meta: path)
    """
    if not think_prefix:
        return ""
    try:
        return think_prefix.format(**(problem.meta or {}))
    except (KeyError, IndexError, AttributeError, TypeError, ValueError) as e:
        what = f"no meta field {e.args[0]!r}" if isinstance(e, KeyError) else f"meta that does not fill it ({e})"
        raise ValueError(f"task.think_prefix {think_prefix!r}: problem {problem.id} has {what} "
                         f"(its meta: {', '.join(problem.meta or {}) or 'none'})") from None


def prefill_of(template: str) -> str:
    """The start of the reply a template writes: the opened thinking for the chat_think family."""
    return THINK_PREFILL if template.startswith("chat_think") else ""
