"""The report's figures: one PNG per metric, one line per (run, key), drawn with matplotlib's Agg canvas.

We build `matplotlib.figure.Figure` objects directly instead of going through pyplot, so the
report never switches the process-wide backend of the trainer that calls it, and keeps no
global figure registry alive between calls.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reasonrl.report.load import Run


@dataclass(frozen=True)
class FigureSpec:
    """One figure: which metric keys it draws and where it goes on the page."""

    slug: str  # file name stem of the PNG
    section: str
    title: str
    ylabel: str
    keys: tuple[str, ...]
    band: str | None = None  # key of a std to shade around the first key (single-run only)


FIGURES = (
    FigureSpec("reward", "Training", "Reward", "mean reward", ("reward/mean",), band="reward/std"),
    FigureSpec("accuracy", "Training", "Accuracy reward", "fraction correct", ("acc/mean",)),
    FigureSpec("format", "Training", "Strict format rate", "fraction", ("format/rate",)),
    FigureSpec("length", "Training", "Response length", "tokens", ("len/response_mean", "len/response_max")),
    FigureSpec("truncated", "Training", "Truncated responses", "fraction", ("len/truncated_frac",)),
    FigureSpec("kl", "Training", "KL to reference", "KL", ("kl/ref",)),
    FigureSpec("clip", "Training", "Clip fraction", "fraction of tokens", ("clip/frac",)),
    FigureSpec("entropy", "Training", "Policy entropy", "nats / token", ("entropy/mean",)),
    FigureSpec("loss", "Training", "Policy-gradient loss", "loss", ("loss/pg",)),
    FigureSpec("grad_norm", "Training", "Gradient norm", "norm", ("grad/norm",)),
    FigureSpec("zero_var", "Training", "Groups with zero reward variance", "fraction", ("groups/zero_var_frac",)),
    FigureSpec("reward_errors", "Training", "Verifier errors and timeouts", "count",
               ("reward/errors", "reward/timeouts")),
    FigureSpec("lr", "Training", "Learning rate", "lr", ("lr",)),
    FigureSpec("curriculum", "Training", "Curriculum level", "level", ("curriculum/level",)),
    FigureSpec("heldout", "Held-out eval", "Held-out eval", "fraction",
               ("eval/accuracy", "eval/format_rate")),
    FigureSpec("throughput", "Throughput and memory", "Throughput", "tokens / s",
               ("rollout/tokens_per_s", "train/tokens_per_s")),
    FigureSpec("step_time", "Throughput and memory", "Seconds per step", "seconds",
               ("time/step_s", "time/rollout_s", "time/train_s")),
    FigureSpec("memory", "Throughput and memory", "Peak memory (RSS)", "MB", ("mem/peak_rss_mb",)),
    FigureSpec("aha_reflection", "Aha signals", "Completions with a reflection phrase", "fraction",
               ("aha/reflect_frac",)),
    FigureSpec("aha_thinking_len", "Aha signals", "Mean thinking length", "characters",
               ("aha/think_chars",)),
    FigureSpec("aha_response_len", "Aha signals", "Response length growth", "tokens",
               ("len/response_mean",)),
)


@dataclass
class Plot:
    """A drawn figure (png set) or the reason it was skipped (note set)."""

    spec: FigureSpec
    labels: list[str]  # legend labels actually drawn
    png: bytes | None = None
    path: Path | None = None
    note: str | None = None


def _rolling_mean(values: list[float], window: int) -> list[float]:
    """Trailing mean over `window` points (shorter at the start).

    >>> _rolling_mean([1.0, 3.0, 5.0, 7.0], 2)
    [1.0, 2.0, 4.0, 6.0]
    """
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1):i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def _draw_line(ax, steps, values, label, color, style, marker_only_few: bool) -> None:
    # RL metrics are noisy step to step: past a dozen points draw the raw curve faint and a
    # trailing mean on top, so the trend is readable without hiding the spread.
    if len(values) >= 12:
        ax.plot(steps, values, color=color, linestyle=style, alpha=0.3, linewidth=1)
        ax.plot(steps, _rolling_mean(values, max(3, len(values) // 10)), color=color, linestyle=style,
                linewidth=2, label=label)
    else:
        ax.plot(steps, values, color=color, linestyle=style, linewidth=2, label=label,
                marker="o" if marker_only_few else None)


def draw(spec: FigureSpec, runs: list[Run]) -> Plot:
    """Draw one figure for the given runs (one run, or two overlaid); a Plot with a note if no data."""
    fig = Figure(figsize=(6.4, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels: list[str] = []
    for r_i, run in enumerate(runs):
        for k_i, key in enumerate(spec.keys):
            steps, values = run.series(key)
            if not steps:
                continue
            label = " ".join(x for x in (run.name if len(runs) > 1 else "",
                                         key if len(spec.keys) > 1 or len(runs) == 1 else "") if x)
            # One run: a colour per key. Two runs: a colour per run, a line style per key.
            color = f"C{k_i if len(runs) == 1 else r_i}"
            style = "-" if len(runs) == 1 else ("-", "--", ":")[k_i % 3]
            if spec.band and key == spec.keys[0] and len(runs) == 1:
                _, std = run.series(spec.band)
                if len(std) == len(values):
                    ax.fill_between(steps, [v - s for v, s in zip(values, std)],
                                    [v + s for v, s in zip(values, std)], color=color, alpha=0.12, linewidth=0)
            _draw_line(ax, steps, values, label, color, style, marker_only_few=key.startswith(("eval/", "aha/")))
            labels.append(label)
    if not labels:
        return Plot(spec, [], note=f"no data for {', '.join(spec.keys)}")
    ax.set_title(spec.title)
    ax.set_xlabel("step")
    ax.set_ylabel(spec.ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    # Fixed margins instead of tight_layout(): that re-measures every tick label and was a third of
    # the report's run time; these fit our labels at this size.
    fig.subplots_adjust(left=0.14, right=0.97, top=0.9, bottom=0.15)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return Plot(spec, labels, png=buf.getvalue())


def draw_all(runs: list[Run], fig_dir: Path) -> list[Plot]:
    """Draw every figure in FIGURES and write the drawn ones to fig_dir/<slug>.png."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for spec in FIGURES:
        plot = draw(spec, runs)
        if plot.png is not None:
            plot.path = fig_dir / f"{spec.slug}.png"
            plot.path.write_bytes(plot.png)
        plots.append(plot)
    return plots
