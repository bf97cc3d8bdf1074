"""Sample traces over training: what the model wrote for a few fixed held-out prompts at the
start, middle and end of the run, with thinking and answer shown apart.

All model text goes through html.escape: completions are arbitrary and do contain `<script>`.
"""
from __future__ import annotations

import html
import re

from reasonrl.report.aha import REFLECTION_PHRASES, split_thinking

MAX_CHARS = 3000  # per thinking/answer block; long degenerate replies would bury the page


def _phase_steps(steps: list) -> list[tuple[str, object]]:
    """(phase, step) for start / middle / end of the sorted distinct `steps`, without repeats.

    >>> _phase_steps([0, 10, 20, 30, 40])
    [('start', 0), ('middle', 20), ('end', 40)]
    >>> _phase_steps([0, 40])
    [('start', 0), ('end', 40)]
    """
    if not steps:
        return []
    picks = [("start", steps[0]), ("middle", steps[len(steps) // 2]), ("end", steps[-1])]
    out, seen = [], set()
    for phase, step in picks:
        if step not in seen:
            seen.add(step)
            out.append((phase, step))
    if len(out) == 2 and out[1][0] == "middle":  # two distinct steps: call the later one the end
        out[1] = ("end", out[1][1])
    return out


def pick_traces(samples: list[dict], n_problems: int = 3) -> tuple[str, list[tuple[str, list[tuple[str, dict]]]]]:
    """(source, groups): each group is (title, [(phase, sample row), ...]).

    Eval rows are the fixed held-out prompts, so each group is one problem followed over the run;
    its problems are the ones logged at the most eval steps. Without eval rows we fall back to
    train rows: the i-th sample logged at the start, middle and end steps (different problems).
    """
    evals = [s for s in samples if s.get("kind") == "eval" and "step" in s]
    if evals:
        by_problem: dict[str, dict] = {}
        for s in evals:
            by_problem.setdefault(str(s.get("problem_id")), {}).setdefault(s["step"], s)  # first per step
        ranked = sorted(by_problem, key=lambda pid: -len(by_problem[pid]))  # stable: ties keep log order
        groups = []
        for pid in ranked[:n_problems]:
            steps = sorted(by_problem[pid])
            groups.append((f"problem {pid}", [(ph, by_problem[pid][st]) for ph, st in _phase_steps(steps)]))
        return "eval", groups
    train = [s for s in samples if "step" in s]
    by_step: dict = {}
    for s in train:
        by_step.setdefault(s["step"], []).append(s)
    phases = _phase_steps(sorted(by_step))
    groups = []
    for i in range(n_problems):
        cells = [(ph, by_step[st][i]) for ph, st in phases if i < len(by_step[st])]
        if cells:
            groups.append((f"train sample #{i + 1}", cells))
    return "train", groups


_MARK = re.compile("|".join(
    (r"(?<![a-z])" + re.escape(p) + r"(?![a-z])") if p.isascii() else re.escape(p)
    for p in REFLECTION_PHRASES), re.IGNORECASE)


def _block(text: str, cls: str) -> str:
    """Escaped, length-capped text with reflection phrases highlighted."""
    extra = ""
    if len(text) > MAX_CHARS:
        extra = f"\n… ({len(text) - MAX_CHARS} more characters)"
        text = text[:MAX_CHARS]
    # Escape first, then mark: the phrases contain no characters that html.escape changes.
    body = _MARK.sub(lambda m: f"<mark>{m.group(0)}</mark>", html.escape(text))
    return f'<pre class="{cls}">{body}{html.escape(extra)}</pre>'


def render_cell(phase: str, row: dict, show_question: bool) -> str:
    """One completion: verdict, thinking, answer, extracted vs reference."""
    ok = bool(row.get("correct"))
    verdict = "✓ correct" if ok else "✗ incorrect"
    reward = row.get("reward")
    reward_s = f" · reward {reward:.3g}" if isinstance(reward, (int, float)) else ""
    fmt = "" if row.get("format_ok", True) else " · bad format"
    thinking, answer = split_thinking(str(row.get("completion", "")))
    parts = [f'<div class="trace {"ok" if ok else "bad"}">',
             f'<div class="trace-head">{html.escape(phase)} · step {html.escape(str(row.get("step")))} · '
             f'<b>{verdict}</b>{html.escape(reward_s + fmt)}</div>']
    if show_question:
        parts.append(f'<div class="q">{html.escape(str(row.get("question", "")))}</div>')
    if thinking is None:
        parts.append('<div class="lbl">thinking</div><div class="none">(no &lt;think&gt; tags)</div>')
    else:
        parts.append('<div class="lbl">thinking</div>' + _block(thinking, "think"))
    parts.append('<div class="lbl">answer</div>' + _block(answer, "answer"))
    # Train rows from the trainer carry no "extracted"; eval rows have it (null: nothing extracted).
    extracted = (f'extracted: <code>{html.escape(str(row["extracted"]))}</code> · ' if "extracted" in row else "")
    parts.append(f'<div class="ref">{extracted}reference: '
                 f'<code>{html.escape(str(row.get("reference", "")))}</code></div></div>')
    return "".join(parts)


def render_traces(samples: list[dict], n_problems: int = 3) -> str:
    """The traces section's HTML body."""
    source, groups = pick_traces(samples, n_problems)
    if not groups:
        return '<p class="note">No samples logged (samples.jsonl missing or empty).</p>'
    out = []
    if source == "train":
        out.append('<p class="note">No eval samples logged; showing train samples, which are different '
                   'problems at each step.</p>')
    for title, cells in groups:
        out.append(f"<h3>{html.escape(title)}</h3>")
        if source == "eval":
            first = cells[0][1]
            out.append(f'<div class="q">{html.escape(str(first.get("question", "")))}</div>')
        out.append('<div class="traces">')
        out.extend(render_cell(ph, row, show_question=source == "train") for ph, row in cells)
        out.append("</div>")
    return "\n".join(out)
