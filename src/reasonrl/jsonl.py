"""The one JSONL reader: task files, traces, score rows, run logs (metrics.jsonl, samples.jsonl) all go through it.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
>>> _ = p.write_text('{"a": 1}\\n\\n{"a": \\n[2]\\n')
>>> list(iter_jsonl(p))
[(1, {'a': 1}, None), (3, None, 'not valid JSON (Expecting value at column 7)'), (4, [2], None)]
>>> read_jsonl(p)
Traceback (most recent call last):
...
ValueError: ...rows.jsonl:3: not valid JSON (Expecting value at column 7)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed value or None, what is wrong with the line or None) for every non-blank line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line.rstrip("\r\n")), None
            except json.JSONDecodeError as e:
                yield line_no, None, f"not valid JSON ({e.msg} at column {e.colno})"


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """[(line number, row)] of a JSONL file of objects; the first bad line raises `path:line: what is wrong`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    rows = []
    for line_no, row, error in iter_jsonl(path):
        if error is None and not isinstance(row, dict):
            error = f"expected a JSON object, got {type(row).__name__}"
        if error is not None:
            raise ValueError(f"{path}:{line_no}: {error}")
        rows.append((line_no, row))
    return rows
