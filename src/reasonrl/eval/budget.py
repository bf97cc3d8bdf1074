"""Budget forcing (s1, arXiv:2501.19393): cut the thinking at N tokens, close it, let the model answer.

Does accuracy depend on the thinking? Generate in two phases:
1. at most N tokens of thinking, stopping early at `</think>` (N = 0: no thinking at all);
2. where the thinking did not close by itself (the cap was hit, or the reply ended), append
   `FORCED_CLOSE` ("</think>\\n<answer>", plus "<think>\\n" first when the reply never opened one, so
   N = 0 gives an empty thinking), then generate the answer from there.
A thinking that closed within N tokens gets nothing forced: phase 2 just continues it.

The answer tag is forced along with `</think>`: s1 forces "Final Answer:" for the same reason, a cut
thought otherwise runs on past the tag and the score would measure the format, not the answer.
Phase 2 re-tokenises prompt + phase-1 text (the engines take strings), so a token pair merged across the
cut can split differently than one uninterrupted generation would; greedy phase-1 tokens are exact.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from reasonrl.rollout.base import Rollouts, SamplingParams

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
FORCED_CLOSE = "</think>\n<answer>"
ANSWER_MIN_TOKENS = 16  # phase 2 always has room for an answer, however much of the cap the thinking took


@dataclass
class Budgeted:
    """Phase 1 + forced text + phase 2, per sample ([B*G], grouped as the engine groups them)."""

    rollouts: Rollouts        # texts and completion_ids are the whole reply after the prompt
    forced: list[bool]        # the thinking was cut (or never opened) and FORCED_CLOSE was appended
    think_tokens: list[int]   # tokens generated in phase 1 (<= budget)


def forced_text(reply_so_far: str) -> str:
    """What to append to a thinking that did not close: open one first if the reply has none.

    >>> forced_text("<think>\\n3 + 4 = 7")
    '\\n</think>\\n<answer>'
    >>> forced_text("")                     # budget 0 with a template that does not pre-fill <think>
    '<think>\\n</think>\\n<answer>'

    A cut that lands inside the model's own closing tag ("…= 23\\n</") finishes that tag instead of starting another:
    forcing a fresh "</think>" after "</" broke the strict format of replies whose thinking was complete (session 23:
    a 16-token budget scored 0.07 where 32 scored 0.99 with the same walks).

    >>> forced_text("<think>\\n41 -> 38 = 27\\n</")
    'think>\\n<answer>'
    """
    opened = THINK_OPEN in reply_so_far
    if opened:
        partial = next((k for k in range(len(THINK_CLOSE) - 1, 0, -1) if reply_so_far.endswith(THINK_CLOSE[:k])), 0)
        if partial:
            return FORCED_CLOSE[partial:]
    sep = "" if not reply_so_far or reply_so_far[-1].isspace() else "\n"
    return sep + ("" if opened else THINK_OPEN + "\n") + FORCED_CLOSE


def generate_with_budget(engine, tokenizer, prompts: list[str], prefills: list[str], params: SamplingParams,
                         budget: int) -> Budgeted:
    """`params.n` samples per prompt with the thinking capped at `budget` tokens.

    prompts [B] end with their prefills [B] (what the template pre-filled of the reply). Phase 2 gets
    max(params.max_new_tokens - budget, ANSWER_MIN_TOKENS) tokens and `params.stop`.
    """
    if budget < 0:
        raise ValueError(f"think budget {budget}: must be >= 0")
    n = params.n
    rows = len(prompts) * n
    if budget > 0:
        p1 = engine.generate(prompts, replace(params, max_new_tokens=budget, stop=[THINK_CLOSE]))
    else:  # nothing to generate: every row starts from the bare prefill
        p1 = Rollouts([[]] * rows, [[] for _ in range(rows)], [""] * rows, [False] * rows, 0.0)
    heads, forced = [], []
    for i, text in enumerate(p1.texts):
        closed = THINK_CLOSE in text
        heads.append(text if closed else text + forced_text(prefills[i // n] + text))
        forced.append(not closed)
    seeds = None if params.seeds is None else [params.seeds[i // n] + 7919 * (1 + i % n) for i in range(rows)]
    tail = replace(params, n=1, max_new_tokens=max(params.max_new_tokens - budget, ANSWER_MIN_TOKENS), seeds=seeds)
    p2 = engine.generate([prompts[i // n] + heads[i] for i in range(rows)], tail)
    ids = []
    for i in range(rows):
        extra = tokenizer.encode(heads[i][len(p1.texts[i]):], add_special_tokens=False) if forced[i] else []
        ids.append(list(p1.completion_ids[i]) + extra + list(p2.completion_ids[i]))
    prompt_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    out = Rollouts(prompt_ids=[prompt_ids[i // n] for i in range(rows)], completion_ids=ids, texts=[h + t for h, t in zip(heads, p2.texts)],
                   truncated=list(p2.truncated), seconds=p1.seconds + p2.seconds)
    return Budgeted(out, forced, [len(c) for c in p1.completion_ids])
