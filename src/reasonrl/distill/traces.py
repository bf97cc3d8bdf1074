"""Trace rows: what rejection sampling keeps and SFT reads.

A trace row (one JSON line of traces.jsonl):
    {"problem_id", "prompt", "reasoning", "answer", "completion", "source_model", "score",
     "template", "lang", "reference"}
`prompt` is the bare question (no template): the student renders it with its own chat template.
`completion` is the whole reply the verifier saw (template prefill included); `reasoning` is the text
inside <think>…</think> ("" for the plain template, which asks for no tags); `answer` the extracted answer.

SFT also reads any `{prompt, completion}` rows (prompt = one user message) and `{messages}` rows
(chat turns; the last one must be the assistant's and is the only one that gets loss).
A malformed row raises `ValueError("<file>:<line>: <what is wrong>")`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reasonrl.jsonl import read_jsonl
from reasonrl.tasks import Problem, render_prompt
from reasonrl.tasks.problem import has_cjk

_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_TAG = re.compile(r"</?(?:think|answer)>")


def reasoning_of(response: str) -> str:
    """The text inside the first <think>…</think>, stripped; "" when there is none.

    >>> reasoning_of("<think> 2+3=5 </think><answer>5</answer>"), reasoning_of("5")
    ('2+3=5', '')
    >>> reasoning_of("2+3=5</think><answer>5</answer>")   # after a pre-filled <think>
    '2+3=5'
    """
    close = response.find("</think>")
    if close < 0:
        return ""
    open_ = response.find("<think>")
    start = open_ + len("<think>") if 0 <= open_ < close else 0
    return response[start:close].strip()


def language_consistent(text: str, lang: str) -> bool:
    """No mixed-language replies: a Chinese prompt's reply holds no Latin word of 3+ letters (units such
    as 'cm' pass), an English prompt's reply holds no CJK ideograph. Tags are ignored.

    >>> language_consistent("<think>3加5等于8</think><answer>8</answer>", "zh")
    True
    >>> language_consistent("<think>so 3 plus 5 is 8</think><answer>8</answer>", "zh")
    False
    >>> language_consistent("The answer is 8，对", "en"), language_consistent("8 cm", "zh")
    (False, True)
    """
    body = _TAG.sub(" ", text)
    if lang == "zh":
        return _LATIN_WORD.search(body) is None
    return not has_cjk(body)


def dedup_key(problem_id: str, completion: str) -> tuple[str, str]:
    """Two traces of one prompt are duplicates when equal up to whitespace.

    >>> dedup_key("p", " 5\\n") == dedup_key("p", "5")
    True
    """
    return problem_id, " ".join(completion.split())


@dataclass(frozen=True)
class Example:
    """One SFT example as text: the exact prompt string (template applied) and the reply to learn."""

    prompt: str       # tokenized with add_special_tokens=False; ends where the reply starts
    completion: str   # the tokens that get loss (EOS is appended at tokenization)
    where: str        # "file:line", for error messages


def _chat_prompt(tokenizer, messages: list[dict]) -> str:
    if getattr(tokenizer, "chat_template", None) is None:
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return turns + "Assistant:"
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _str_field(row: dict, key: str, *, empty_ok: bool = False) -> str:
    if key not in row:
        raise ValueError(f"missing key {key!r} (row has: {', '.join(map(str, row)) or 'nothing'})")
    value = row[key]
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is a {type(value).__name__}, not a string")
    if not empty_ok and not value.strip():
        raise ValueError(f"{key!r} is empty")
    return value


def _messages_example(tokenizer, row: dict) -> tuple[str, str]:
    msgs = row["messages"]
    if not isinstance(msgs, list) or len(msgs) < 2:
        raise ValueError("'messages' must be a list of at least two {role, content} turns")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}] must be an object with string 'role' and 'content'")
    if msgs[-1]["role"] != "assistant":
        raise ValueError(f"the last message must be the assistant's (the one that gets loss), got {msgs[-1]['role']!r}")
    if not msgs[-1]["content"].strip():
        raise ValueError("the last (assistant) message is empty")
    return _chat_prompt(tokenizer, msgs[:-1]), msgs[-1]["content"]


def row_to_example(tokenizer, row, where: str, template: str | None = None) -> Example:
    """A trace, {prompt, completion} or {messages} row -> Example. Raises ValueError('where: what is wrong').

    Trace rows (they carry `template`) are rendered with `render_prompt`, the path RL and eval use, and
    the template's prefill is moved from the completion to the prompt, as it is when generating.
    """
    try:
        if not isinstance(row, dict):
            raise ValueError(f"row is a {type(row).__name__}, not a JSON object")
        if "messages" in row:
            prompt, completion = _messages_example(tokenizer, row)
            return Example(prompt, completion, where)
        question = _str_field(row, "prompt")
        completion = _str_field(row, "completion")
        tpl = template or row.get("template")
        if tpl is None:
            return Example(_chat_prompt(tokenizer, [{"role": "user", "content": question}]), completion, where)
        lang = row.get("lang", "auto")
        if lang not in ("auto", "en", "zh"):
            raise ValueError(f"'lang' is {lang!r}; valid: auto, en, zh")
        p = Problem(id=str(row.get("problem_id", where)), question=question, answer=str(row.get("reference", "")),
                    task="sft", lang="zh" if lang == "auto" and has_cjk(question) else ("en" if lang == "auto" else lang))
        prompt, prefill = render_prompt(tokenizer, p, tpl, lang)
        if prefill and completion.startswith(prefill):
            completion = completion[len(prefill):]
        if not completion.strip():
            raise ValueError("'completion' is empty once the template's prefill is removed")
        return Example(prompt, completion, where)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def read_examples(path: str | Path, tokenizer, template: str | None = None) -> list[Example]:
    """Every row of a JSONL file as an Example; the first malformed row fails with its file:line."""
    examples = [row_to_example(tokenizer, row, f"{path}:{i}", template) for i, row in read_jsonl(path)]
    if not examples:
        raise ValueError(f"{path}: no rows")
    return examples
