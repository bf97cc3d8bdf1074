"""Rejection sampling: n completions per prompt from a teacher, keep the verified, well-formed,
single-language, complete, distinct ones, and append them to a JSONL of trace rows.

    reasonrl sample --model runs/chain_sum-... --task chain_sum --n 8 --out traces.jsonl

Resumable. After each chunk of prompts, the rows are flushed, then one line per prompt is appended to
the sidecar `<out>.done`: {"id", "sampled", "kept", "end"} where `end` is the traces file's size after
that chunk. A rerun skips every id in the sidecar and first cuts the traces file back to the last
recorded `end`, dropping the rows of a chunk that was killed before its ids were recorded: no row is
ever written twice.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reasonrl.distill.config import SampleConfig
from reasonrl.distill.traces import dedup_key, language_consistent, reasoning_of
from reasonrl.jsonl import iter_jsonl
from reasonrl.rewards import format_ok
from reasonrl.tasks.prompts import TAGGED_TEMPLATES  # the ones whose instruction asks for <think>/<answer>

if TYPE_CHECKING:  # type only: importing eval at module load would make this file depend on it for doctests
    from reasonrl.eval.heldout import Scored


def lenient_for(template: str, lenient: bool | None) -> bool:
    """As in training: an untagged final number counts only where the prompt asked for no tags."""
    return lenient if lenient is not None else template == "plain"


def keep_reason(response: str, correct: float, truncated: bool, template: str, lang: str, extracted: str | None) -> str | None:
    """Why a sample is dropped ("wrong", "truncated", "format", "language", "no_answer"), or None to keep it.

    >>> keep_reason("<think>1+1=2</think><answer>2</answer>", 1.0, False, "chat", "en", "2") is None
    True
    >>> keep_reason("2", 1.0, True, "plain", "en", "2"), keep_reason("2", 0.0, False, "plain", "en", "2")
    ('truncated', 'wrong')
    >>> keep_reason("the answer is 2", 1.0, False, "chat", "en", "2")   # tags asked for, none given
    'format'
    """
    if correct < 1.0:
        return "wrong"
    if truncated:
        return "truncated"
    if template in TAGGED_TEMPLATES and not format_ok(response):
        return "format"
    if not language_consistent(response, lang):
        return "language"
    if extracted is None:
        return "no_answer"
    return None


def select_traces(scored: "Scored", template: str, source_model: str, max_per_prompt: int | None) -> tuple[list[dict], dict]:
    """Kept trace rows of one scored chunk and the drop counts by reason (duplicates included)."""
    rows, drops, seen = [], {}, set()
    per_prompt: dict[str, int] = {}
    for i, response in enumerate(scored.responses):
        p = scored.problems[i // scored.k]
        why = keep_reason(response, scored.correct[i], scored.rollouts.truncated[i], template, p.lang, scored.extracted[i])
        key = dedup_key(p.id, response)
        if why is None and key in seen:
            why = "duplicate"
        if why is None and max_per_prompt is not None and per_prompt.get(p.id, 0) >= max_per_prompt:
            why = "over_max_per_prompt"
        if why is not None:
            drops[why] = drops.get(why, 0) + 1
            continue
        seen.add(key)
        per_prompt[p.id] = per_prompt.get(p.id, 0) + 1
        rows.append({"problem_id": p.id, "prompt": p.question, "reasoning": reasoning_of(response),
                     "answer": scored.extracted[i], "completion": response, "source_model": source_model,
                     "score": scored.correct[i], "template": template, "lang": p.lang, "reference": p.answer})
    return rows, drops


@dataclass
class DoneState:
    """What the `.done` sidecar says: prompts already sampled, totals, and the traces file's valid size."""

    ids: set
    sampled: int = 0
    kept: int = 0
    end: int = 0


def read_done(out: Path) -> DoneState:
    side = done_path(out)
    state = DoneState(ids=set())
    if not side.is_file():
        return state
    for i, d, bad in iter_jsonl(side):
        try:
            if bad:
                raise ValueError(bad)
            state.ids.add(d["id"])
            state.sampled += int(d["sampled"])
            state.kept += int(d["kept"])
            state.end = max(state.end, int(d["end"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{side}:{i}: not a done record {{id, sampled, kept, end}} ({type(e).__name__})") from None
    return state


def done_path(out: Path) -> Path:
    return out.with_name(out.name + ".done")


def _truncate_to(out: Path, end: int) -> None:
    """Drop rows past the last recorded chunk (a kill between writing rows and recording their ids)."""
    if out.is_file() and out.stat().st_size > end:
        with open(out, "r+b") as f:
            f.truncate(end)


def sample_traces(cfg: SampleConfig, out: str | Path, *, logger=None) -> dict:
    """Sample, filter and append traces to `out`; skips prompts recorded in `<out>.done`. Returns totals."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from reasonrl.eval.run import select_problems
    from reasonrl.config import Config
    from reasonrl.eval.heldout import generate_and_score
    from reasonrl.model import load_model
    from reasonrl.rewards import RewardRunner
    from reasonrl.rollout.base import SamplingParams
    from reasonrl.rollout.decode import DecodeEngine

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = read_done(out)
    _truncate_to(out, state.end)
    problems = select_problems(Config(task=cfg.task), cfg.split, cfg.limit)
    todo = [p for p in problems if p.id not in state.ids]
    totals = {"prompts": len(problems), "skipped_done": len(problems) - len(todo), "sampled": state.sampled,
              "kept": state.kept, "drops": {}, "seconds": 0.0, "generated_tokens": 0}
    if not todo:
        return totals
    model, tok, path = load_model(cfg.model)
    engine = DecodeEngine(model, tok)
    params = SamplingParams(n=cfg.n, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
    lenient = lenient_for(cfg.task.template, cfg.lenient)
    source = str(cfg.model) if cfg.model else "default"
    # Seeded by (seed, prompts already done): a resumed run does not replay the first chunk's random stream.
    seed = cfg.seed * 1_000_003 + len(state.ids)
    random.seed(seed), np.random.seed(seed % 2**32), torch.manual_seed(seed)
    bar = tqdm(total=len(problems), initial=totals["skipped_done"], desc="sample", unit="prompt", file=sys.stderr, dynamic_ncols=True)
    t0 = time.perf_counter()
    with RewardRunner(["accuracy"], timeout_s=60.0) as runner, open(out, "a", encoding="utf-8") as f, \
            open(done_path(out), "a", encoding="utf-8") as done:
        for c in range(0, len(todo), cfg.chunk):
            chunk = todo[c:c + cfg.chunk]
            scored = generate_and_score(engine, tok, chunk, params, template=cfg.task.template, lang=cfg.task.lang,
                                        lenient=lenient, runner=runner, think_prefix=cfg.task.think_prefix)
            rows, drops = select_traces(scored, cfg.task.template, source, cfg.max_per_prompt)
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())  # rows on disk before their ids are recorded: the order resume relies on
            end = f.tell()
            kept_by = {p.id: 0 for p in chunk}
            for r in rows:
                kept_by[r["problem_id"]] += 1
            for p in chunk:
                done.write(json.dumps({"id": p.id, "sampled": cfg.n, "kept": kept_by[p.id], "end": end}) + "\n")
            done.flush()
            totals["sampled"] += len(scored.responses)
            totals["kept"] += len(rows)
            totals["generated_tokens"] += scored.rollouts.num_tokens
            for k, v in drops.items():
                totals["drops"][k] = totals["drops"].get(k, 0) + v
            if logger is not None:
                logger.log({"kind": "sample", "step": totals["sampled"], "sample/sampled": totals["sampled"],
                            "sample/kept": totals["kept"], "sample/accept_rate": len(rows) / max(1, len(scored.responses)),
                            "rollout/tokens_per_s": scored.rollouts.num_tokens / max(scored.rollouts.seconds, 1e-9)})
            bar.update(len(chunk))
            bar.set_postfix(kept=totals["kept"], sampled=totals["sampled"])
        bar.close()
    totals["seconds"] = time.perf_counter() - t0
    return totals
