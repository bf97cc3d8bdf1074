"""`Problem`: one question with its reference answer, the unit every later stage (prompt, rollout,
reward, eval) passes around. Frozen, picklable and JSON-able so it can cross process boundaries and
be written to samples.jsonl as is.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One task instance.

    id: stable across runs with the same config, e.g. "chain_sum:42:17" (task:seed:index) or "gsm8k:12" (file stem:line).
    question: the question text, without any prompt template.
    answer: the reference answer, always a string ("12", not 12).
    task: the task name (gym name, 'zh_arithmetic', or the data file's stem).
    lang: 'en' or 'zh'; render_prompt(lang='auto') picks the template language from it.
    entry: the reasoning-gym entry dict (question, answer, metadata) for gym tasks, for the gym's own
        score_answer; None for other sources.
    meta: anything else worth keeping (zh_arithmetic keeps its operands here).

    >>> p = Problem(id="t:0", question="1+1?", answer="2", task="t", lang="en")
    >>> p.to_dict()["answer"], Problem.from_dict(p.to_dict()) == p, len({p, p})
    ('2', True, 1)
    """

    id: str
    question: str
    answer: str
    task: str
    lang: str
    entry: dict | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lang not in ("en", "zh"):
            raise ValueError(f"Problem {self.id}: lang must be 'en' or 'zh', got {self.lang!r}")
        if not isinstance(self.answer, str):
            raise ValueError(f"Problem {self.id}: answer must be a str, got {type(self.answer).__name__}")

    def __hash__(self) -> int:
        # entry/meta are dicts (unhashable); hashing the identifying fields keeps Problems usable in sets.
        return hash((self.id, self.question, self.answer))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        return cls(**d)


def normalize_question(text: str) -> str:
    """The key used to decide that two questions are the same: NFKC (full-width → half-width, so
    '１２' == '12'), lower case, whitespace collapsed.

    >>> normalize_question("  What is\\n 2 + ２ ? ") == normalize_question("what is 2 + 2 ?")
    True
    """
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def has_cjk(text: str) -> bool:
    """True if the text holds a CJK ideograph: how a file row's language is guessed.

    >>> has_cjk("小明有7个苹果"), has_cjk("Tom has 7 apples")
    (True, False)
    """
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)
