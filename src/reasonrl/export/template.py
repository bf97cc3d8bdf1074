"""The chat template an exported model carries: the tokenizer's own, plus what training added.

A runtime that only reads `tokenizer.chat_template` (llama.cpp, LM Studio, transformers, vLLM) must build
the prompt the run trained on, so the exported template (1) wraps the last user message in the run's
instruction, (2) ends the generation prompt with the think prefill. For one user message it renders
exactly `tasks.prompts.render_prompt` (tested). The tokenizer's template is kept verbatim between two
Jinja comments, so reasonrl can take it back out (`base_chat_template`) and build prompts itself
without wrapping twice.

Jinja used: `set`, list `+`, dict literals, `~`: what transformers' sandbox and llama.cpp's minja both run.
"""
from __future__ import annotations

import json

from reasonrl.serve.profile import INSTRUCTIONS, PromptProfile
from reasonrl.tasks.prompts import R1ZERO

MARK_TRAINED, MARK_BASE, MARK_END = "{# reasonrl:trained #}", "{# reasonrl:base #}", "{# reasonrl:end #}"


def _lit(text: str) -> str:
    """A Jinja string literal (JSON escapes are Jinja escapes; non-ASCII stays as is)."""
    return json.dumps(text, ensure_ascii=False)


def trained_chat_template(base: str | None, profile: PromptProfile, lang: str) -> str:
    """The Jinja chat template that renders the run's prompts; `lang` is fixed ('en'/'zh') since a
    template cannot detect the question's language the way `reasonrl serve` does."""
    if lang not in ("en", "zh"):
        raise ValueError(f"lang {lang!r}: an exported template needs 'en' or 'zh'")
    prefill = _lit(profile.prefill)
    if profile.template == "r1zero":  # not a chat format: the R1-Zero text around the last user message
        before, after = R1ZERO[lang].split("{question}")
        kept = f"{{% if false %}}{MARK_BASE}{base or ''}{MARK_END}{{% endif %}}"  # kept, never rendered
        return (f"{MARK_TRAINED}{{{{ {_lit(before)} ~ messages[-1]['content'] ~ {_lit(after)} }}}}"
                f"{{% if add_generation_prompt %}}{{{{ {prefill} }}}}{{% endif %}}{kept}")
    if base is None:
        raise ValueError("the tokenizer has no chat template to build on; export a model with one")
    wrap = ""
    if profile.template in INSTRUCTIONS:
        before, after = INSTRUCTIONS[profile.template][lang].split("{question}")
        wrap = ("{% if messages and messages[-1]['role'] == 'user' %}"
                "{% set messages = messages[:-1] + [{'role': 'user', 'content': "
                f"{_lit(before)} ~ messages[-1]['content'] ~ {_lit(after)}}}] %}}{{% endif %}}")
    system = ""
    if profile.system is not None:
        system = ("{% if not messages or messages[0]['role'] != 'system' %}"
                  f"{{% set messages = [{{'role': 'system', 'content': {_lit(profile.system)}}}] + messages %}}"
                  "{% endif %}")
    tail = f"{{% if add_generation_prompt %}}{{{{ {prefill} }}}}{{% endif %}}" if profile.prefill else ""
    return f"{MARK_TRAINED}{wrap}{system}{MARK_BASE}{base}{MARK_END}{tail}"


def base_chat_template(template: str | None) -> str | None:
    """The tokenizer's own template inside a trained one; any other template is returned unchanged.

    >>> base_chat_template(MARK_TRAINED + "{% set x = 1 %}" + MARK_BASE + "BASE" + MARK_END + "{{ 'x' }}")
    'BASE'
    >>> base_chat_template("{{ messages }}")
    '{{ messages }}'
    """
    if not template or not template.startswith(MARK_TRAINED) or MARK_BASE not in template:
        return template
    return template.split(MARK_BASE, 1)[1].rsplit(MARK_END, 1)[0] or None
