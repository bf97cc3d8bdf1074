"""Two eval results side by side: each figure for A and B, the difference B - A, and a 95% paired
bootstrap interval over problems, so "did training help" gets an answer with its uncertainty.

Only results on the same problems compare: the problem ids and questions must match exactly (a different
seed or task kwargs would silently compare different questions otherwise).
"""
from __future__ import annotations

from reasonrl.eval.metrics import bootstrap_diff

# Figures compared per problem (a problem's own pass@k, maj@k, ...); lengths are shown, not tested.
_PAIRED = ("pass@", "maj@", "strict_rate", "format_rate", "truncated_rate")


def check_same_problems(a: dict, b: dict) -> None:
    """Raise ValueError naming the first problem that differs between two results."""
    pa, pb = a["problems"], b["problems"]
    if len(pa) != len(pb):
        raise ValueError(f"compare: A has {len(pa)} problems and B {len(pb)}; evaluate both on the same split and --limit")
    for x, y in zip(pa, pb):
        if x["id"] != y["id"] or x["question"] != y["question"]:
            raise ValueError(f"compare: problem {x['id']} in A is {y['id']} in B (or its question differs); "
                             "evaluate both with the same task, seed and split")


def compare(a: dict, b: dict, *, n_boot: int = 10_000, seed: int = 0) -> list[dict]:
    """One row per figure both results carry: {name, a, b, diff, low, high} (low/high None if not paired)."""
    check_same_problems(a, b)
    names = [n for n in a["metrics"] if n in b["metrics"] and n.startswith(_PAIRED)]
    rows = []
    for n in names:
        xa = [p[n] for p in a["problems"]]
        xb = [p[n] for p in b["problems"]]
        diff, low, high = bootstrap_diff(xa, xb, n_boot=n_boot, seed=seed)
        rows.append({"name": n, "a": a["metrics"][n], "b": b["metrics"][n], "diff": diff, "low": low, "high": high})
    for n in ("len_mean", "len_max"):
        if n in a["metrics"] and n in b["metrics"]:
            va, vb = a["metrics"][n], b["metrics"][n]
            rows.append({"name": n, "a": va, "b": vb, "diff": vb - va, "low": None, "high": None})
    return rows


def _num(x, sign: bool = False) -> str:
    if isinstance(x, int):
        return f"{x:+d}" if sign else str(x)
    return f"{x:+.3f}" if sign else f"{x:.3f}"


def compare_markdown(a: dict, b: dict, rows: list[dict], label_a: str = "A", label_b: str = "B") -> str:
    """The comparison as a Markdown table.

    >>> a = {"metrics": {"pass@1": 0.5}, "meta": {"model": "base"}, "problems": []}
    >>> b = {"metrics": {"pass@1": 0.75}, "meta": {"model": "run"}, "problems": []}
    >>> rows = [{"name": "pass@1", "a": 0.5, "b": 0.75, "diff": 0.25, "low": 0.0, "high": 0.5}]
    >>> print(compare_markdown(a, b, rows).splitlines()[-1])
    | pass@1 | 0.500 | 0.750 | +0.250 | [0.000, 0.500] |
    """
    n = len(a["problems"])
    lines = [
        f"A = {label_a} ({a['meta']['model']}), B = {label_b} ({b['meta']['model']}); {n} paired problems, "
        "95% paired bootstrap interval over problems (10,000 resamples, seed 0)",
        "",
        "| metric | A | B | B - A | 95% CI |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ci = "" if r["low"] is None else f"[{r['low']:.3f}, {r['high']:.3f}]"
        lines.append(f"| {r['name']} | {_num(r['a'])} | {_num(r['b'])} | {_num(r['diff'], sign=True)} | {ci} |")
    return "\n".join(lines) + "\n"
