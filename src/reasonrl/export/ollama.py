"""An Ollama `Modelfile` beside the GGUF: `ollama create NAME -f Modelfile`, then `ollama run NAME`.

Ollama does not run Jinja; its TEMPLATE is a Go template. It is made here by rendering the trained chat
template (export/template.py) with marker messages and putting Ollama's `{{ .System }}` and
`{{ .Prompt }}` where the markers land, so the Go template writes byte for byte the prompt training saw
(the instruction around the question, the `<think>` prefill). Single-turn, as the run was trained.
"""
from __future__ import annotations

from pathlib import Path

SYS, USER = "\x00SYSTEM\x00", "\x00PROMPT\x00"


def _render(tokenizer, template: str, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, add_generation_prompt=True,
                                         tokenize=False)


def ollama_template(tokenizer, chat_template: str) -> tuple[str, str | None]:
    """(Go TEMPLATE text, the default system prompt the chat template writes when none is given, or None)."""
    with_system = _render(tokenizer, chat_template, [{"role": "system", "content": SYS},
                                                     {"role": "user", "content": USER}])
    without = _render(tokenizer, chat_template, [{"role": "user", "content": USER}])
    default_system = None
    if SYS in with_system:
        head, tail = with_system.split(SYS, 1)
        if without.startswith(head) and without.endswith(tail) and len(without) > len(head) + len(tail):
            default_system = without[len(head):len(without) - len(tail)]  # what the template fills in itself
        with_system = head + "{{ .System }}" + tail
    return with_system.replace(USER, "{{ .Prompt }}"), default_system


def modelfile_text(gguf_name: str, template: str, system: str | None, stops: list[str],
                   temperature: float | None = None) -> str:
    """The Modelfile: FROM the GGUF (a path relative to the Modelfile), TEMPLATE, SYSTEM, PARAMETER stop."""
    if '"""' in template or (system and '"""' in system):
        raise ValueError('the chat template contains """, which a Modelfile cannot quote')
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f"PARAMETER stop {_quote(s)}" for s in stops]
    if temperature is not None:
        lines.append(f"PARAMETER temperature {temperature:g}")
    return "\n".join(lines) + "\n"


def _quote(s: str) -> str:
    """A Modelfile string: double quotes, with backslash, quote and newline escaped.

    >>> _quote("</answer>")
    '"</answer>"'
    """
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_modelfile(folder: Path, gguf_file: Path, tokenizer, chat_template: str, stops: list[str]) -> Path:
    template, system = ollama_template(tokenizer, chat_template)
    path = Path(folder) / "Modelfile"
    path.write_text(modelfile_text(Path(gguf_file).name, template, system, stops), encoding="utf-8")
    return path
