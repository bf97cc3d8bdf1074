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
    meta: anything else worth keeping (zh_arithmetic keeps its operands here, gym tasks their generator
        kwargs as `gym_kwargs`, code rows their assert statements as `tests`).
    verifier: who grades this problem (rewards/verifiers.py): 'math' (verify: numbers, math objects),
        'exact', 'code' or 'gym:<name>' (reasoning-gym's own score_answer). The source declares it.

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
    verifier: str = "math"

    def __post_init__(self) -> None:
        if self.lang not in ("en", "zh"):
            raise ValueError(f"Problem {self.id}: lang must be 'en' or 'zh', got {self.lang!r}")
        if not isinstance(self.answer, str):
            raise ValueError(f"Problem {self.id}: answer must be a str, got {type(self.answer).__name__}")
        check_verifier_spec(self.verifier)

    def __hash__(self) -> int:
        # entry/meta are dicts (unhashable); hashing the identifying fields keeps Problems usable in sets.
        return hash((self.id, self.question, self.answer))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        return cls(**d)


VERIFIER_SPEC = re.compile(r"math|exact|code|gym:\w+")


def check_verifier_spec(spec) -> str:
    """The spec if it has a verifier's shape (rewards/verifiers.py), else a one-line ValueError.

    >>> check_verifier_spec("gym:countdown")
    'gym:countdown'
    >>> check_verifier_spec("sympy")
    Traceback (most recent call last):
    ...
    ValueError: verifier 'sympy': must be math, exact, code or gym:<reasoning-gym name>
    """
    if not isinstance(spec, str) or not VERIFIER_SPEC.fullmatch(spec):
        raise ValueError(f"verifier {spec!r}: must be math, exact, code or gym:<reasoning-gym name>")
    return spec


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
