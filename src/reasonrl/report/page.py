"""The report page: one self-contained HTML file (inline CSS, PNGs as base64 data URIs, no scripts),
so it can be opened offline, mailed, or archived next to the run.
"""
from __future__ import annotations

import base64
import html
import statistics

from reasonrl.report.aha import REFLECTION_PHRASES
from reasonrl.report.figures import Plot
from reasonrl.report.load import Run
from reasonrl.report.reasoning import level_rows, thinking_rows
from reasonrl.report.traces import render_traces

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1250px;
color:#1d2330;background:#fff;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:2px solid #e3e7ef;padding-bottom:4px;margin-top:32px}
.sub{color:#5b6577}.status{padding:8px 12px;border-radius:6px;margin:12px 0}
.done{background:#e8f6ec}.partial{background:#fff4dd}.notes{background:#fdecec;padding:8px 12px;border-radius:6px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9em}
td,th{border:1px solid #d9dee8;padding:4px 10px;text-align:left;vertical-align:top}th{background:#f3f5f9}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:12px}.figs figure{margin:0;width:562px}.figs img{width:560px;border:1px solid #e3e7ef}
figcaption{font-size:.8em;color:#5b6577}.note{color:#5b6577;font-style:italic}
.traces{display:grid;grid-template-columns:repeat(3,1fr);gap:10px;margin-bottom:12px}
.trace{border:1px solid #d9dee8;border-left:6px solid #999;border-radius:4px;padding:6px 8px;min-width:0}
.trace.ok{border-left-color:#2f9e44}.trace.bad{border-left-color:#d9480f}.trace-head{font-size:.85em;margin-bottom:4px}
.lbl{font-size:.75em;text-transform:uppercase;color:#5b6577;margin-top:6px}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;padding:6px;border-radius:4px;font-size:.82em;
max-height:320px;overflow:auto}pre.think{background:#f4f1fa}pre.answer{background:#eef6f1}
.q{background:#f3f5f9;padding:6px;border-radius:4px;font-size:.9em;white-space:pre-wrap}
.ref{font-size:.8em;margin-top:4px}.none{font-size:.8em;color:#888}mark{background:#ffe066}
"""


def fmt(v) -> str:
    """A table cell's text: floats to 4 significant digits, everything escaped.

    >>> fmt(0.123456), fmt(3), fmt(None), fmt("<b>")
    ('0.1235', '3', '—', '&lt;b&gt;')
    """
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def table(header: list[str], rows: list[list], cls: str = "") -> str:
    """An HTML table; numeric cells are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{fmt(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f"<td>{fmt(c)}</td>" for c in row) + "</tr>"
        for row in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested config to dotted keys.

    >>> flatten({"algo": {"beta": 0.0, "clip": {"low": 0.2}}, "run_dir": "runs/x"})
    {'algo.beta': 0.0, 'algo.clip.low': 0.2, 'run_dir': 'runs/x'}
    """
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def status_html(run: Run) -> str:
    """Finished (summary.json present) or still running / crashed, with how far it got."""
    last = run.train[-1] if run.train else {}
    if run.summary is not None:
        return f'<div class="status done">Finished: {fmt(run.summary.get("steps"))} steps.</div>'
    return (f'<div class="status partial">No summary.json: the run is still going or it crashed. '
            f'Showing {len(run.train)} logged steps (last step {fmt(last.get("step"))}, '
            f'{fmt(last.get("time_s"))} s wall).</div>')


def key_numbers(run: Run) -> dict:
    """Headline numbers: from summary.json when finished, else derived from the metrics so far."""
    def med(key):
        vals = run.series(key)[1]
        return statistics.median(vals) if vals else None
    mem = run.series("mem/peak_rss_mb")[1]
    times = run.series("time_s")[1]
    before = [e.get("eval/accuracy") for e in run.evals if e.get("label") == "before"]
    after = [e.get("eval/accuracy") for e in run.evals if e.get("label") == "after"]
    derived = {
        "steps": len(run.train),
        "wall_s": times[-1] if times else None,
        "s_per_step": med("time/step_s"),
        "rollout_tokens_per_s": med("rollout/tokens_per_s"),
        "peak_rss_mb": max(mem) if mem else None,
        "heldout_before": before[0] if before else None,
        "heldout_after": after[-1] if after else None,
    }
    return {**derived, **(run.summary or {})}


def notes_html(runs: list[Run]) -> str:
    notes = [f"{r.name}: {n}" for r in runs for n in r.notes]
    if not notes:
        return ""
    return '<div class="notes">' + "<br>".join(html.escape(n) for n in notes) + "</div>"


def figures_html(plots: list[Plot]) -> str:
    """Figures grouped by section; a skipped figure leaves a one-line note instead."""
    out, section = [], None
    for p in plots:
        if p.spec.section != section:
            if section is not None:
                out.append("</div>")
            section = p.spec.section
            out.append(f'<h2>{html.escape(section)}</h2><div class="figs">')
        if p.png is None:
            out.append(f'<p class="note">{html.escape(p.spec.title)}: {html.escape(p.note or "")}</p>')
            continue
        b64 = base64.b64encode(p.png).decode("ascii")
        alt = f"{p.spec.title}: {', '.join(p.labels)}"
        out.append(f'<figure id="fig-{p.spec.slug}"><img src="data:image/png;base64,{b64}" '
                   f'alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>')
    if section is not None:
        out.append("</div>")
    return "\n".join(out)


def eval_rows_html(run: Run) -> str:
    """The held-out eval lines of metrics.jsonl as a table: one row per (step, label)."""
    if not run.evals:
        return '<p class="note">No held-out eval logged yet.</p>'
    keys = sorted({k for e in run.evals for k in e if k.startswith("eval/")},
                  key=lambda k: (k not in ("eval/accuracy", "eval/format_rate", "eval/n"), k))
    rows = [[e.get("step"), e.get("label")] + [e.get(k) for k in keys] for e in run.evals]
    return table(["step", "label"] + keys, rows, "eval-table")


def eval_files_html(run: Run) -> str:
    """One table per eval/*.json file (from `reasonrl eval`): its metrics dict."""
    out = []
    for name, data in run.eval_files.items():
        metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        title = f"{name} — model {data.get('model', '?')}, task {data.get('task', '?')}"
        out.append(f"<h3>{html.escape(title)}</h3>")
        out.append(table(["metric", "value"], [[k, v] for k, v in metrics.items()], "eval-file-table"))
    return "\n".join(out)


def aha_table_html(run: Run) -> str:
    """Per-phrase frequency at the first and last logged step (bucket)."""
    pts = run.aha
    if not pts:
        return '<p class="note">No samples to count reflection phrases in.</p>'
    first, last = pts[0], pts[-1]
    rows = [[p, first.phrases[p], last.phrases[p]] for p in REFLECTION_PHRASES]
    rows.append(["any phrase", first.reflect_frac, last.reflect_frac])
    return table(["phrase", f"fraction at step {first.step:g} (n={first.n})",
                  f"fraction at step {last.step:g} (n={last.n})"], rows, "aha-table")


def reasoning_html(run: Run) -> str:
    """Train accuracy per curriculum level, and the thinking of right vs wrong answers over training."""
    levels, thinking = level_rows(run.train), thinking_rows(run.samples)
    out = ["<h3>Train accuracy per curriculum level</h3>",
           table(["level", "first step", "last step", "steps", "accuracy, first 20 steps", "accuracy, last 20 steps"],
                 levels, "level-table") if levels else '<p class="note">No curriculum: one level throughout.</p>',
           "<h3>Thinking of right and wrong answers (train samples)</h3>"]
    out.append(table(["first step", "last step", "samples", "words, right", "words, wrong", "checks or retries"],
                     thinking, "thinking-table") if thinking else '<p class="note">No train samples logged.</p>')
    return "\n".join(out)


def _page(title: str, body: list[str]) -> str:
    # The empty data: favicon stops the browser from requesting /favicon.ico (a console error
    # when the page is served over HTTP).
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" href=\"data:,\"><title>{html.escape(title)}</title><style>{CSS}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def single_page(run: Run, plots: list[Plot]) -> str:
    """The report of one run."""
    nums = key_numbers(run)
    body = [f"<h1>reasonrl run: {html.escape(run.name)}</h1>",
            f'<div class="sub">{html.escape(str(run.path.resolve()))}</div>',
            status_html(run), notes_html([run]),
            "<h2>Summary</h2>", table(["", "value"], [[k, v] for k, v in nums.items()], "summary-table"),
            figures_html(plots),
            "<h3>Reflection phrases, first vs last step</h3>", aha_table_html(run),
            "<h2>Reasoning</h2>", reasoning_html(run),
            "<h2>Held-out eval</h2>", eval_rows_html(run), eval_files_html(run),
            "<h2>Sample traces: start, middle, end</h2>", render_traces(run.samples),
            "<h2>Resolved config</h2>",
            table(["key", "value"], [[k, v] for k, v in flatten(run.config).items()], "config-table")
            if run.config else '<p class="note">No config.yaml.</p>']
    return _page(f"reasonrl report: {run.name}", body)


def compare_page(a: Run, b: Run, plots: list[Plot]) -> str:
    """Two runs overlaid: headline numbers side by side, config differences, overlaid figures."""
    na, nb = key_numbers(a), key_numbers(b)
    keys = list(dict.fromkeys([*na, *nb]))
    ca, cb = flatten(a.config), flatten(b.config)
    diff = [[k, ca.get(k), cb.get(k)] for k in dict.fromkeys([*ca, *cb]) if ca.get(k) != cb.get(k)]
    body = [f"<h1>reasonrl: {html.escape(a.name)} vs {html.escape(b.name)}</h1>",
            f'<div class="sub">{html.escape(str(a.path.resolve()))}<br>{html.escape(str(b.path.resolve()))}</div>',
            f"<div><b>{html.escape(a.name)}</b>: {status_html(a)}</div>",
            f"<div><b>{html.escape(b.name)}</b>: {status_html(b)}</div>",
            notes_html([a, b]),
            "<h2>Summary</h2>", table(["", a.name, b.name], [[k, na.get(k), nb.get(k)] for k in keys], "summary-table"),
            "<h2>Config differences</h2>",
            table(["key", a.name, b.name], diff, "config-diff") if diff
            else '<p class="note">The resolved configs are identical.</p>',
            figures_html(plots),
            f"<h2>Held-out eval: {html.escape(a.name)}</h2>", eval_rows_html(a), eval_files_html(a),
            f"<h2>Held-out eval: {html.escape(b.name)}</h2>", eval_rows_html(b), eval_files_html(b)]
    return _page(f"reasonrl: {a.name} vs {b.name}", body)
