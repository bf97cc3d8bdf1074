"""`reasonrl eval`: pass@1, pass@k, maj@k, format rate and lengths on held-out problems; `--compare` two.

    reasonrl eval --task chain_sum --k 8                              # the base model, R1 sampling
    reasonrl eval --model runs/chain_sum-20261123-1300 --greedy       # the run's own held-out split
    reasonrl eval --model /path/hf --task data/gsm8k.jsonl task.num_heldout=100 --limit 50
    reasonrl eval --compare base.json runs/x/eval/chain_sum-heldout-k8.json
    reasonrl eval --compare default runs/x --task chain_sum           # evaluates both, then compares
    reasonrl eval --model runs/x --greedy --think-budget 0            # the thinking forced empty
    reasonrl eval --model runs/x --greedy --think-budget-sweep 0,8,16,32,64   # accuracy per thinking budget

Writes a JSON file (every problem and sample) and a Markdown table beside it; see docs/eval.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasonrl.config import ConfigError
from reasonrl.tasks.prompts import TEMPLATES


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="reasonrl eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="task.key=value overrides, e.g. task.num_heldout=100 'task.kwargs={max_terms: 2}'")
    ap.add_argument("--model", help="HF folder, run dir (its latest checkpoint) or 'default'; default: SmolLM2-135M-Instruct")
    ap.add_argument("--task", help="reasoning-gym name, zh_arithmetic or a .jsonl/.parquet file; default: the run's task")
    ap.add_argument("--config", help="YAML config to read the task section from (default: the run's, else the defaults)")
    ap.add_argument("--k", type=int, default=None, help="samples per problem (default 8; 1 with --greedy)")
    ap.add_argument("--greedy", action="store_true", help="one deterministic sample per problem (temperature 0)")
    ap.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (R1: 0.6)")
    ap.add_argument("--top-p", type=float, default=0.95, help="nucleus mass (R1: 0.95)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="completion cap (default: the config's eval cap)")
    ap.add_argument("--template", choices=TEMPLATES, help="prompt template (= task.template)")
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N problems of the split")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed (task.seed picks the problems)")
    lenient = ap.add_mutually_exclusive_group()
    lenient.add_argument("--lenient", dest="lenient", action="store_true", default=None,
                         help="accept an untagged final number (default: only for the plain template)")
    lenient.add_argument("--strict", dest="lenient", action="store_false", help="an explicit answer only (<answer>, \\boxed, \"the answer is\"), never a bare number")
    ap.add_argument("--chunk", type=int, default=8, help="problems per generate call")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--reward-timeout", type=float, default=60.0, help="seconds per chunk for the verifier")
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--think-budget", type=int, default=None, metavar="N",
                        help="cut the thinking at N tokens and force </think><answer> (0 = an empty thinking)")
    budget.add_argument("--think-budget-sweep", type=_budgets, default=None, metavar="N,N,...",
                        help="one eval per budget plus the unlimited one, on the same problems: a table of accuracy per budget")
    ap.add_argument("--out", help="output JSON path (the Markdown table goes beside it); with --compare: the table")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"),
                    help="two eval JSON files, or two models/run dirs to evaluate on the same problems")
    return ap


def _budgets(text: str) -> list[int]:
    """'0,8,16' -> [0, 8, 16]; argparse turns the ValueError into a one-line usage error."""
    try:
        budgets = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated token counts, e.g. 0,8,16,32") from None
    if not budgets or min(budgets) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated token counts >= 0, e.g. 0,8,16,32")
    return budgets


def _settings(a):
    from reasonrl.eval.run import EvalSettings

    for name in ("k", "limit", "chunk", "max_new_tokens"):
        value = getattr(a, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: must be >= 1")
    if not 0 < a.top_p <= 1:
        raise ValueError(f"--top-p {a.top_p}: must be in (0, 1]")
    k = a.k if a.k is not None else (1 if a.greedy else 8)
    return EvalSettings(k=k, greedy=a.greedy, temperature=a.temperature, top_p=a.top_p,
                        max_new_tokens=a.max_new_tokens, split=a.split, limit=a.limit, seed=a.seed,
                        lenient=a.lenient, chunk=a.chunk, reward_timeout_s=a.reward_timeout,
                        think_budget=a.think_budget)


def _model_spec(spec: str | None) -> str | None:
    return None if spec in (None, "", "default") else spec


def _evaluate_and_write(spec, cfg, s, out, threads) -> dict:
    from reasonrl.eval.results import markdown_table, write_result
    from reasonrl.eval.run import default_out, evaluate

    result = evaluate(spec, cfg, s, threads=threads)
    path, md = write_result(result, Path(out) if out else default_out(spec, cfg, s))
    print(markdown_table(result))
    print(f"wrote {path} and {md} ({result['meta']['wall_s']:.0f} s)", file=sys.stderr)
    return result


def _sweep_and_write(spec, cfg, s, budgets, out, threads) -> dict:
    import json

    from reasonrl.eval.run import default_out, evaluate_sweep, sweep_markdown

    sweep = evaluate_sweep(spec, cfg, s, budgets, threads=threads)
    path = Path(out) if out else default_out(spec, cfg, s).with_name(default_out(spec, cfg, s).stem + "-sweep.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sweep, ensure_ascii=False, indent=1))
    table = sweep_markdown(sweep)
    path.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return sweep


def _overrides(a) -> list[str]:
    return list(a.overrides) + ([f"task.template={a.template}"] if a.template else [])


def _compare(a) -> int:
    from reasonrl.eval.compare import compare, compare_markdown
    from reasonrl.eval.results import read_result
    from reasonrl.eval.run import is_run_dir, resolve_config

    specs = list(a.compare)
    results: list[dict | None] = [read_result(x) if x.endswith(".json") else None for x in specs]
    if None in results:
        s = _settings(a)
        # One config for both (the first run dir's task, unless --task/--config say otherwise): same problems.
        models = [x for x, r in zip(specs, results) if r is None]
        source = next((x for x in models if is_run_dir(x)), models[0])
        cfg = resolve_config(_model_spec(source), a.task, a.config, _overrides(a))
        results = [r if r is not None else _evaluate_and_write(_model_spec(x), cfg, s, None, a.threads)
                   for x, r in zip(specs, results)]
    rows = compare(results[0], results[1])
    table = compare_markdown(results[0], results[1], rows, specs[0], specs[1])
    print(table)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(table)
        print(f"wrote {a.out}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    try:
        if a.compare:
            return _compare(a)
        from reasonrl.eval.run import resolve_config

        spec = _model_spec(a.model)
        cfg = resolve_config(spec, a.task, a.config, _overrides(a))
        if a.think_budget_sweep:
            _sweep_and_write(spec, cfg, _settings(a), a.think_budget_sweep, a.out, a.threads)
        else:
            _evaluate_and_write(spec, cfg, _settings(a), a.out, a.threads)
        return 0
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reasonrl eval: {e}", file=sys.stderr)
        return 2
