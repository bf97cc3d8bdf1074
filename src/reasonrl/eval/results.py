"""Scored samples -> per-problem records -> summary figures -> JSON and a Markdown table.

Per-problem records keep every sample (its text, extracted answer, vote key, verdict, length), so any
figure in the summary can be recomputed from the file, and `--compare` can pair two files problem by
problem. Metric names: `pass@1`, `pass@K` and `maj@K` for the run's k (plus `pass@2`, `pass@4`, ... below
it, same estimator), `strict_rate` (right and inside the strict tags), `format_rate`, `len_mean`, `len_max`, `truncated_rate`; see docs/eval.md.
"""
from __future__ import annotations

import json
from pathlib import Path

from reasonrl.eval.metrics import maj_at_k, pass_at_k, vote_key

SCHEMA = "reasonrl.eval/1"  # bump when the JSON layout changes, so --compare can refuse old files


def pass_ks(k: int) -> list[int]:
    """The k values reported for pass@k: 1, the powers of two below k, and k itself.

    >>> pass_ks(8), pass_ks(6), pass_ks(1)
    ([1, 2, 4, 8], [1, 2, 4, 6], [1])
    """
    ks, j = [1], 2
    while j < k:
        ks.append(j)
        j *= 2
    return ks + [k] if k > 1 else ks


def problem_record(problem, responses: list[str], extracted: list[str | None], correct: list[bool],
                   formatted: list[bool], lengths: list[int], truncated: list[bool]) -> dict:
    """One problem with its k samples and its own figures (each list is [k], in sample order)."""
    k = len(responses)
    keys = [vote_key(a) for a in extracted]
    c = sum(correct)
    figures = {f"pass@{j}": pass_at_k(k, c, j) for j in pass_ks(k)}
    if k > 1:
        figures[f"maj@{k}"] = maj_at_k(keys, correct)
    # strict_rate: right AND the answer inside the strict <think>…</think><answer>…</answer> (R1-Zero's score)
    figures.update(strict_rate=sum(bool(ok) and bool(f) for ok, f in zip(correct, formatted)) / k,
                   format_rate=sum(formatted) / k, len_mean=sum(lengths) / k, len_max=max(lengths),
                   truncated_rate=sum(truncated) / k)
    samples = [
        {"response": r, "extracted": a, "vote_key": v, "correct": bool(ok), "formatted": bool(f),
         "tokens": n, "truncated": bool(t)}
        for r, a, v, ok, f, n, t in zip(responses, extracted, keys, correct, formatted, lengths, truncated)
    ]
    return {"id": problem.id, "lang": problem.lang, "question": problem.question, "answer": problem.answer,
            "n_correct": c, **figures, "samples": samples}


def records_from_scored(scored) -> list[dict]:
    """Per-problem records from `heldout.Scored` (sample j of problem i at i * k + j)."""
    k, ro = scored.k, scored.rollouts
    out = []
    for i, p in enumerate(scored.problems):
        s = slice(i * k, (i + 1) * k)
        out.append(problem_record(
            p, scored.responses[s], scored.extracted[s], [x >= 1.0 for x in scored.correct[s]],
            scored.formatted[s], [len(c) for c in ro.completion_ids[s]], ro.truncated[s]))
    return out


def summarize(records: list[dict]) -> dict:
    """Mean of every per-problem figure (max for `len_max`), plus the counts.

    >>> from reasonrl.tasks import Problem
    >>> p = Problem("t:0", "1+1?", "2", "t", "en")
    >>> r1 = problem_record(p, ["a", "b"], ["2", "3"], [True, False], [True, True], [3, 5], [False, True])
    >>> r2 = problem_record(p, ["a", "b"], ["2", "2"], [True, True], [False, True], [4, 4], [False, False])
    >>> s = summarize([r1, r2])
    >>> s["pass@1"], s["pass@2"], s["maj@2"], s["format_rate"], s["len_mean"], s["len_max"], s["n_samples"]
    (0.75, 1.0, 0.5, 0.75, 4.0, 5, 4)
    """
    if not records:
        raise ValueError("summarize: no problems were evaluated")
    names = [n for n in records[0] if n.startswith(("pass@", "maj@")) or n in
             ("strict_rate", "format_rate", "len_mean", "truncated_rate")]
    out = {n: sum(r[n] for r in records) / len(records) for n in names}
    out["len_max"] = max(r["len_max"] for r in records)
    out["n_problems"] = len(records)
    out["n_samples"] = sum(len(r["samples"]) for r in records)
    return out


def summarize_by_lang(records: list[dict]) -> dict[str, dict]:
    """Figures per language, only where the problems mix languages (else {})."""
    langs = sorted({r["lang"] for r in records})
    if len(langs) < 2:
        return {}
    return {lang: summarize([r for r in records if r["lang"] == lang]) for lang in langs}


def headline_names(k: int) -> list[str]:
    """The rows of the Markdown table, in order."""
    names = ["pass@1"] + ([f"pass@{k}", f"maj@{k}"] if k > 1 else [])
    return names + ["strict_rate", "format_rate", "len_mean", "len_max", "truncated_rate"]


def _fmt(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def markdown_table(result: dict) -> str:
    """The summary as a Markdown table: one row per figure, a column for all problems and one per language."""
    meta, k = result["meta"], result["meta"]["k"]
    cols = [("all", result["metrics"])] + list(result.get("by_lang", {}).items())
    sampling = "greedy" if meta["greedy"] else f"T={meta['temperature']}, top-p={meta['top_p']}"
    lines = [
        f"**{meta['model']}** on **{meta['task']['name']}** ({meta['split']}, {result['metrics']['n_problems']} problems, "
        f"k={k}, {sampling}, max_new_tokens={meta['max_new_tokens']}, seed={meta['seed']})",
        "",
        "| metric | " + " | ".join(f"{name} ({m['n_problems']})" for name, m in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    lines += [f"| {n} | " + " | ".join(_fmt(m[n]) for _, m in cols) + " |" for n in headline_names(k)]
    return "\n".join(lines) + "\n"


def write_result(result: dict, path: Path) -> tuple[Path, Path]:
    """Write the JSON file and its Markdown table beside it (same name, .md). Returns both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    md = path.with_suffix(".md")
    md.write_text(markdown_table(result))
    return path, md


def read_result(path: str | Path) -> dict:
    """Load an eval JSON file written by `write_result`; one-line error for anything else."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such eval file")
    try:
        result = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise ValueError(f"{p}: not a reasonrl eval file (expected schema {SCHEMA!r})")
    return result
