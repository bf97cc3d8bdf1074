"""`reasonrl score ROWS.jsonl [--out OUT.jsonl] [--lenient] [--timeout-s 1.0]`

Reads rows `{"completion", "reference"[, "task", "tests", "expected"]}`, writes each row with its
`score`, `extracted` answer and `status` (ok / no_answer / timeout / error), and prints a summary:
accepted, rejected, timed out (and agreement with `expected` when rows carry it).
Rows with task "code" are scored by the sandbox against their `tests`; all others by `verify`.
"""
from __future__ import annotations

import argparse
import json
import sys

from reasonrl.jsonl import read_jsonl
from reasonrl.rewards.check import judge
from reasonrl.rewards.code_sandbox import extract_code, run_tests


def _load_rows(path: str) -> list[dict]:
    rows = []
    for lineno, row in read_jsonl(path):
        for key in ("completion", "reference"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"{path}:{lineno}: '{key}' must be a string, got {row.get(key)!r:.40}")
        if row.get("task") == "code" and not isinstance(row.get("tests"), list):
            raise ValueError(f"{path}:{lineno}: a 'code' row needs 'tests': a list of assert statements")
        rows.append(row)
    return rows


def score_row(row: dict, *, lenient: bool, timeout_s: float) -> dict:
    """The row with `score`, `extracted` and `status` added."""
    if row.get("task") == "code":
        program = extract_code(row["completion"])
        score = 0.0 if program is None else run_tests(program, [str(t) for t in row["tests"]])
        return {**row, "score": score, "extracted": program, "status": "ok" if program else "no_answer"}
    ok, answer, status = judge(row["completion"], row["reference"], lenient=lenient, timeout_s=timeout_s)
    return {**row, "score": 1.0 if ok else 0.0, "extracted": answer, "status": status}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="reasonrl score", description=__doc__.split("\n\n")[1])
    parser.add_argument("rows", help="JSONL file with completion and reference per row")
    parser.add_argument("--out", help="write scored rows here (default: ROWS.scored.jsonl)")
    parser.add_argument("--lenient", action="store_true", help="fall back on the last number for untagged replies")
    parser.add_argument("--timeout-s", type=float, default=1.0, help="time limit per row (default 1.0)")
    args = parser.parse_args(argv)
    try:
        rows = _load_rows(args.rows)
    except (OSError, ValueError) as exc:
        print(f"reasonrl score: {exc}", file=sys.stderr)
        return 2
    out_path = args.out or (args.rows[:-6] if args.rows.endswith(".jsonl") else args.rows) + ".scored.jsonl"
    scored = [score_row(row, lenient=args.lenient, timeout_s=args.timeout_s) for row in rows]
    with open(out_path, "w", encoding="utf-8") as f:
        for row in scored:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    accepted = sum(r["score"] == 1.0 for r in scored)
    timeouts = sum(r["status"] == "timeout" for r in scored)
    print(f"rows {len(scored)}  accepted {accepted}  rejected {len(scored) - accepted}  timed out {timeouts}"
          f"  errors {sum(r['status'] == 'error' for r in scored)}  -> {out_path}")
    graded = [r for r in scored if isinstance(r.get("expected"), bool)]
    if graded:
        agree = sum((r["score"] == 1.0) == r["expected"] for r in graded)
        print(f"agreement with 'expected': {agree}/{len(graded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
