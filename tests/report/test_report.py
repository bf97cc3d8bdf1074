"""write_report on fixture run directories: every figure and table is there, model text is escaped,
partial / crashed / running runs still report, and two runs overlay."""
from __future__ import annotations

import base64
import json
import re

from reasonrl.report import write_report
from reasonrl.report.cli import main
from reasonrl.report.figures import FIGURES
from reasonrl.report.load import load_run
from reasonrl.report.traces import render_traces

IMG = re.compile(r'<figure id="fig-([a-z_]+)"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')


def figures(page: str) -> dict[str, tuple[bytes, str]]:
    """slug -> (decoded PNG, alt text) for every embedded figure."""
    return {slug: (base64.b64decode(b64), alt) for slug, b64, alt in IMG.findall(page)}


def test_report_has_every_figure_and_table(grpo_report):
    run = grpo_report.parent
    assert grpo_report.name == "report.html"
    page = grpo_report.read_text(encoding="utf-8")
    figs = figures(page)
    assert sorted(figs) == sorted(s.slug for s in FIGURES)  # every metric in the fixture gets its figure
    assert page.count("data:image/png;base64,") == len(FIGURES)
    for slug, (png, _) in figs.items():  # the PNGs on disk are the ones embedded
        assert png.startswith(b"\x89PNG") and (run / "report" / f"{slug}.png").read_bytes() == png
    assert "Finished: 40 steps." in page
    # config table: dotted keys with their values
    assert "<td>algo.beta</td><td class=\"num\">0.04</td>" in page
    assert "<td>model.name</td><td>HuggingFaceTB/SmolLM2-135M-Instruct</td>" in page
    # held-out eval table: one row per eval, every eval/* key as a column
    eval_table = re.search(r'<table class="eval-table">.*?</table>', page).group(0)
    assert eval_table.count("<tr>") == 1 + 5  # header + steps 0, 10, 20, 30, 40
    for col in ("eval/accuracy", "eval/format_rate", "eval/n", "eval/pass@8", "eval/maj@8"):
        assert f"<th>{col}</th>" in eval_table
    assert ">before<" in eval_table and ">after<" in eval_table and eval_table.count(">periodic<") == 3
    # eval/*.json from `reasonrl eval`
    assert "gsm8k-mini.json" in page and '<td>pass@8</td><td class="num">0.66</td>' in page
    # summary numbers come from summary.json
    assert '<td>heldout_after</td><td class="num">0.42</td>' in page


def test_model_text_is_escaped(grpo_report):
    page = grpo_report.read_text(encoding="utf-8")
    assert "<script" not in page  # the page has no scripts at all, and the model's are text
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in page


def test_traces_start_middle_end(grpo_report):
    page = grpo_report.read_text(encoding="utf-8")
    for pid in ("heldout-0", "heldout-1", "heldout-2"):
        assert f"<h3>problem {pid}</h3>" in page
    assert page.count("start · step 0 ·") == 3
    assert page.count("middle · step 20 ·") == 3
    assert page.count("end · step 40 ·") == 3
    # at step 0 the fixture replies have no think tags: all answer, marked incorrect where wrong
    assert page.count("(no &lt;think&gt; tags)") == 3
    assert page.count("✗ incorrect") == 2 and page.count("✓ correct") == 7
    # thinking and answer apart, Chinese kept, reflection phrases highlighted
    assert '<pre class="think">3加5等于8，8减2等于6。<mark>等等</mark>，我<mark>重新</mark><mark>检查</mark>' in page
    assert '<pre class="answer">&lt;answer&gt;6&lt;/answer&gt;</pre>' in page
    assert "<mark>Wait</mark>, <mark>let me verify</mark>" in page
    assert "extracted: <code>55</code> · reference: <code>55</code>" in page
    assert "extracted: <code>None</code> · reference: <code>60</code>" in page  # nothing extracted at step 0


def test_aha_table_counts_phrases(grpo_report):
    run = load_run(grpo_report.parent)
    first, last = run.aha[0], run.aha[-1]
    assert len(run.aha) == 25  # 40 steps pooled into 25 buckets
    assert first.n == 4 and last.n == 8  # 40 * i // 25 bucket edges: 1 step first, 2 steps last
    assert last.reflect_frac > first.reflect_frac
    page = grpo_report.read_text(encoding="utf-8")
    assert '<table class="aha-table">' in page and "<td>等等</td>" in page


def test_truncated_last_line_is_ignored(make_run):
    run = make_run()
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"kind": "train", "step": 41, "reward/me')  # the trainer is mid-write
    with open(run / "samples.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 41, "kind": "train", "compl')
    loaded = load_run(run)
    assert [r["step"] for r in loaded.train] == list(range(1, 41))
    assert loaded.notes == []
    assert [s["step"] for s in loaded.samples][-1] == 40


def test_bad_middle_line_is_skipped_and_noted(make_run):
    run = make_run()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[3] = lines[3][:20] + lines[4]  # crash mid-write, then --resume appended after it
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    page = write_report(run).read_text(encoding="utf-8")
    assert "skipped unreadable line metrics.jsonl:4" in page


def test_crashed_run_without_summary(make_run):
    run = make_run("crashed", steps=25, finished=False)
    page = write_report(run).read_text(encoding="utf-8")
    assert "No summary.json: the run is still going or it crashed. Showing 25 logged steps (last step 25" in page
    assert '<td>steps</td><td class="num">25</td>' in page  # derived from metrics, not summary
    assert '<td>heldout_before</td><td class="num">0.12</td>' in page
    assert '<td>heldout_after</td><td>—</td>' in page  # no final eval yet
    assert len(figures(page)) == len(FIGURES)
    assert "end · step 20 ·" in page  # the last eval so far is the trace's end


def test_missing_keys_skip_figure_with_note(make_run):
    run = make_run(beta=0.0)  # no kl/ref logged when beta = 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("entropy/mean", None)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = write_report(run).read_text(encoding="utf-8")
    assert "KL to reference: no data for kl/ref" in page
    assert "Policy entropy: no data for entropy/mean" in page
    assert set(figures(page)) == {s.slug for s in FIGURES} - {"kl", "entropy"}
    assert not (run / "report" / "kl.png").exists()


def test_traces_fall_back_to_train_samples(make_run):
    samples = [s for s in load_run(make_run()).samples if s["kind"] == "train"]
    page = render_traces(samples)
    assert "No eval samples logged; showing train samples" in page
    assert page.count("start · step 1 ·") == 3 and page.count("end · step 40 ·") == 3
    assert "What is 21 + 10?" in page  # middle step 21's first train question
    assert "extracted:" not in page and "reference: <code>11</code>" in page


def test_overlay_two_runs(make_run):
    a = make_run("grpo", seed=0)
    b = make_run("drgrpo", beta=0.0, seed=1, loss_agg="token-mean")
    path = write_report(a, compare=b)
    assert path == a / "report_vs_drgrpo.html"
    page = path.read_text(encoding="utf-8")
    figs = figures(page)
    assert sorted(figs) == sorted(s.slug for s in FIGURES)  # one figure per metric
    for slug, (png, alt) in figs.items():
        assert (a / "report_vs_drgrpo" / f"{slug}.png").read_bytes() == png
        if slug != "kl":
            assert "grpo" in alt and "drgrpo" in alt, slug
    assert figs["kl"][1] == "KL to reference: grpo"  # Dr. GRPO ran with beta = 0: only one line
    assert figs["length"][1] == ("Response length: grpo len/response_mean, grpo len/response_max, "
                                 "drgrpo len/response_mean, drgrpo len/response_max")
    diff = re.search(r'<table class="config-diff">.*?</table>', page).group(0)
    assert "<td>algo.beta</td>" in diff and "<td>token-mean</td>" in diff and "model.name" not in diff


def test_overlay_same_dir_names_get_parent(make_run, tmp_path):
    a = make_run("latest", parent="x")
    b = make_run("latest", parent="y", beta=0.0)
    page = write_report(a, b, out=tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert "reasonrl: x/latest vs y/latest" in page
    assert (tmp_path / "cmp" / "reward.png").exists()


def test_run_without_metrics_yet(tmp_path):
    run = tmp_path / "fresh"
    run.mkdir()
    (run / "config.yaml").write_text("algo:\n  beta: 0.04\n")
    page = write_report(run).read_text(encoding="utf-8")
    assert "no metrics logged yet" in page and "No samples logged" in page
    assert len(figures(page)) == 0 and page.count("no data for") == len(FIGURES)


def test_cli(make_run, tmp_path, capsys):
    a, b = make_run("grpo"), make_run("drgrpo", beta=0.0)
    assert main([str(a)]) == 0
    assert capsys.readouterr().out.strip() == str(a / "report.html")
    assert main([str(a), str(b), "--out", str(tmp_path / "out" / "cmp.html")]) == 0
    assert (tmp_path / "out" / "cmp.html").exists() and (tmp_path / "out" / "cmp" / "reward.png").exists()
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"reasonrl report: run directory not found: {tmp_path / 'nope'}"


def test_reasoning_section_per_level_and_thinking(make_run):
    """Issue 19's report: train accuracy per curriculum level, thinking words of right vs wrong answers, check rate."""
    run = make_run(steps=40)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        if r["kind"] == "train":   # level 0 on steps 1-10 at accuracy 0.2, level 1 on 11-40 at 0.4 then 0.8
            s = r["step"]
            r["curriculum/level"], r["acc/mean"] = int(s > 10), 0.2 if s <= 10 else (0.4 if s <= 20 else 0.8)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = [{"step": s, "kind": "train", "completion": "<think>" + ("a " * s).strip() + "</think><answer>1</answer>",
                "correct": s % 2 == 0} for s in range(1, 41)]
    samples[0]["completion"] = "<think>1 + 1 = 3, wait</think><answer>2</answer>"   # step 1, wrong, checks
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    page = write_report(run).read_text(encoding="utf-8")
    levels = re.search(r'<table class="level-table">.*?</table>', page).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", levels)
    # level 0: steps 1-10, accuracy 0.2 over its first and last 20 steps; level 1: 11-40, first 20 at 0.4 / 0.8
    # (10 of each: 0.6), last 20 at 0.8
    assert cells == ["0", "1", "10", "10", "0.2", "0.2", "1", "11", "40", "30", "0.6", "0.8"]
    thinking = re.search(r'<table class="thinking-table">.*?</table>', page).group(0)
    first = re.findall(r"<td[^>]*>([^<]*)</td>", thinking)[:6]
    # steps 1-10: right at 2, 4, .. 10 (2..10 words: mean 6), wrong at 1 (6 words), 3, 5, 7, 9 (mean 6); 1 check in 10
    assert first == ["1", "10", "10", "6", "6", "0.1"]
    assert '<figure id="fig-curriculum">' in page
