"""write_report: the one call the trainer makes at the end of every run (and `reasonrl report`).

    from reasonrl.report import write_report
    write_report(Path("runs/grpo"))                            # -> runs/grpo/report.html + runs/grpo/report/*.png
    write_report(Path("runs/grpo"), compare=Path("runs/drgrpo"))  # -> runs/grpo/report_vs_drgrpo.html
"""
from __future__ import annotations

from pathlib import Path

from reasonrl.report.figures import draw_all
from reasonrl.report.load import load_run, run_name
from reasonrl.report.page import compare_page, single_page


def report_path(run_dir: Path, compare: Path | None = None) -> Path:
    """Where the HTML goes by default: RUN_DIR/report.html, or RUN_DIR/report_vs_<B>.html.

    >>> report_path(Path("runs/a")).as_posix(), report_path(Path("runs/a"), Path("runs/b")).as_posix()
    ('runs/a/report.html', 'runs/a/report_vs_b.html')
    """
    if compare is None:
        return Path(run_dir) / "report.html"
    return Path(run_dir) / f"report_vs_{run_name(Path(compare))}.html"


def write_report(run_dir: Path, compare: Path | None = None, *, out: Path | None = None) -> Path:
    """Write the HTML report of `run_dir` (overlaid with `compare` if given) and return its path.

    Figures are written as PNGs beside the HTML, in a folder named after it (report.html ->
    report/*.png), and also embedded as data URIs so the HTML alone is self-contained.
    Works on a run that is still going or has crashed: it reports what is on disk.
    """
    html_path = Path(out) if out is not None else report_path(Path(run_dir), compare)
    fig_dir = html_path.with_suffix("")
    run = load_run(run_dir)
    if compare is None:
        text = single_page(run, draw_all([run], fig_dir))
    else:
        other = load_run(compare)
        if other.name == run.name:  # e.g. runs/a/latest vs runs/b/latest: legends must differ
            run.name = f"{run.path.resolve().parent.name}/{run.name}"
            other.name = f"{other.path.resolve().parent.name}/{other.name}"
        text = compare_page(run, other, draw_all([run, other], fig_dir))
    html_path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a browser refreshing the report during a run never sees half a page.
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(html_path)
    return html_path
