"""How a model was trained to be prompted: the run's template, language, think prefill and stop strings.

A run trains on prompts built by `tasks.prompts.render_prompt` (an instruction around the question, a
pre-filled "<think>\\n", generation stopped at "</answer>"). Served with the plain chat template the same
model gets none of that and rambles; served with its `PromptProfile` it sees exactly the prompt its
held-out eval saw, so the served greedy answer equals `reasonrl eval --greedy`.

    profile = profile_for_model(Path("runs/x/checkpoints/step_000030"))  # reads its config.yaml
    prompt = profile.render(tokenizer, [{"role": "user", "content": "What is 4 + 5?"}])

`PLAIN_CHAT` (no config found) is the tokenizer's chat template as is.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from reasonrl.tasks.problem import has_cjk
from reasonrl.tasks.prompts import INSTRUCTIONS, R1ZERO, TAGGED_TEMPLATES, prefill_of
TAGGED = TAGGED_TEMPLATES  # templates that ask for <answer>...</answer>
CONFIG_NAMES = ("config.yaml", "reasonrl.yaml")  # in a checkpoint / in an exported HF folder


@dataclass(frozen=True)
class PromptProfile:
    """template: a `tasks.prompts` template name, or None for the tokenizer's chat template untouched.
    lang: 'en', 'zh' or 'auto' (per request: Chinese if the question has CJK characters).
    prefill: text the prompt ends with, i.e. the start of the reply ("<think>\\n" for chat_think).
    stop: stop strings always applied (the request's own are added).
    answer_only: `content` is the text inside <answer>...</answer> when the reply has one.
    system: a system message added when the request has none; None = the tokenizer's default.
    """

    template: str | None = None
    lang: str = "auto"
    prefill: str = ""
    stop: tuple[str, ...] = ()
    answer_only: bool = False
    system: str | None = None

    def resolve_lang(self, text: str) -> str:
        if self.lang != "auto":
            return self.lang
        return "zh" if has_cjk(text) else "en"

    def wrap_question(self, text: str, lang: str | None = None) -> str:
        """The user turn as training wrote it: the template's instruction around the question."""
        if self.template not in INSTRUCTIONS:
            return text
        return INSTRUCTIONS[self.template][lang or self.resolve_lang(text)].format(question=text)

    def render(self, tokenizer, messages: list[dict]) -> str:
        """The exact prompt text (special tokens included, ending with the prefill) for chat `messages`.

        The last user message is wrapped with the template's instruction; earlier turns are kept as
        sent. r1zero is a single-turn plain-text prompt: only the last user message is used.
        """
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
        question = messages[last_user]["content"] if last_user is not None else ""
        lang = self.resolve_lang(question)
        if self.template == "r1zero":
            return R1ZERO[lang].format(question=question) + self.prefill
        msgs = [dict(m) for m in messages]
        if last_user is not None:
            msgs[last_user]["content"] = self.wrap_question(question, lang)
        if self.system is not None and not any(m["role"] == "system" for m in msgs):
            msgs.insert(0, {"role": "system", "content": self.system})
        if getattr(tokenizer, "chat_template", None) is None:  # a base model: tasks.prompts' plain-text turn
            turns = "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}"
                              for m in msgs if m["role"] != "system")
            return f"{turns}\nAssistant: {self.prefill}" if self.prefill else f"{turns}\nAssistant:"
        text = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return text + self.prefill

    def describe(self) -> str:
        """One line for the server's start-up message.

        >>> profile_from_template("chat_think").describe()
        "template=chat_think lang=auto prefill='<think>\\\\n' stop=[] content=<answer> text"
        """
        content = "<answer> text" if self.answer_only else "text after </think>"
        return (f"template={self.template or 'tokenizer chat'} lang={self.lang} prefill={self.prefill!r} "
                f"stop={list(self.stop)} content={content}")

    def override(self, **changes) -> PromptProfile:
        """A copy with the non-None `changes` applied (how CLI flags override the run's settings)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


PLAIN_CHAT = PromptProfile()


def profile_from_template(template: str, base: PromptProfile = PLAIN_CHAT) -> PromptProfile:
    """`base` with `template` and what it implies: the think prefill (chat_think), answers in tags."""
    return replace(base, template=template, prefill=prefill_of(template),
                   answer_only=template in TAGGED)


def profile_from_config(cfg) -> PromptProfile:
    """The profile of a run's resolved `Config`: its task template and language, its rollout stops."""
    return profile_from_template(cfg.task.template, PromptProfile(lang=cfg.task.lang, stop=tuple(cfg.rollout.stop)))


def find_run_config(model_path: Path) -> Path | None:
    """The reasonrl config beside a model: a checkpoint's config.yaml, an export's reasonrl.yaml, or the
    run directory's config.yaml two levels up (RUN/checkpoints/step_N)."""
    model_path = Path(model_path)
    for folder in (model_path, model_path.parent.parent):
        for name in CONFIG_NAMES:
            if (folder / name).is_file() and (folder == model_path or model_path.parent.name == "checkpoints"):
                return folder / name
    return None


def gguf_run_config(path: Path) -> str | None:
    """The run config YAML that `reasonrl export` stores in a GGUF file (`reasonrl.config`), or None."""
    import gguf

    field = gguf.GGUFReader(path).fields.get("reasonrl.config")
    return field.contents() if field is not None else None


def profile_for_model(model_path: Path) -> PromptProfile:
    """The trained profile of a checkpoint, exported folder or exported .gguf; `PLAIN_CHAT` without a config."""
    import tempfile

    from reasonrl.config import load_config

    model_path = Path(model_path)
    if model_path.suffix == ".gguf":
        text = gguf_run_config(model_path)
        if text is None:
            return PLAIN_CHAT
        with tempfile.TemporaryDirectory() as d:  # load_config reads files: one path for every source
            (Path(d) / "config.yaml").write_text(text)
            return profile_from_config(load_config(Path(d) / "config.yaml"))
    path = find_run_config(model_path)
    return profile_from_config(load_config(path)) if path is not None else PLAIN_CHAT
