"""Local JSONL / Parquet files: one problem per row, columns picked by question_key / answer_key.

Who grades a row: its own `verifier` column (math | exact | code | gym:<name>), else `task.verifier`,
else math. Code rows carry `tests` (assert statements); gym rows the gym entry's `metadata`.

A malformed row fails with `ValueError("<file>:<line>: <what is wrong>")` (Parquet: the 0-based row
index in place of the line), or is skipped and counted when skip_bad_rows is set. GSM8K-style answers
("reasoning ... #### 42") keep only the text after the last '####'.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from reasonrl.jsonl import iter_jsonl
from reasonrl.tasks.gym_source import check_gym_name
from reasonrl.tasks.problem import Problem, check_verifier_spec, has_cjk

FILE_SUFFIXES = (".jsonl", ".parquet")


def is_file_task(name: str) -> bool:
    return name.endswith(FILE_SUFFIXES)


def answer_to_str(value) -> str:
    """A scalar reference answer as a string; GSM8K '#### 42' keeps only the final answer.

    >>> answer_to_str(42), answer_to_str(2.0), answer_to_str(0.5), answer_to_str("He eats 3.\\n#### 1,200")
    ('42', '2', '0.5', '1,200')
    >>> answer_to_str([1, 2])
    Traceback (most recent call last):
    ...
    ValueError: answer is a list, not a scalar
    """
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict, tuple)):
        raise ValueError(f"answer is {'null' if value is None else 'a ' + type(value).__name__}, not a scalar")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"answer is {value}, not a finite number")
        # 2.0 → "2": a float column (Parquet, pandas exports) must not turn integer answers into "2.0".
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"answer is a {type(value).__name__}, not a scalar")
    if "####" in value:
        value = value.rsplit("####", 1)[1]
    value = value.strip()
    if not value:
        raise ValueError("answer is empty")
    return value


def _row_verifier(row: dict, question: str, answer: str, verifier: str) -> dict:
    """The Problem fields that say who grades this row: its own `verifier` column wins over the config's."""
    spec = check_verifier_spec(row.get("verifier", verifier))
    if spec == "code":
        tests = row.get("tests")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError("verifier 'code' needs 'tests': a non-empty list of assert statements")
        return {"verifier": spec, "meta": {"tests": tests}}
    if spec.startswith("gym:"):
        check_gym_name(spec[len("gym:"):])
        metadata = row.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ValueError(f"verifier {spec!r} needs 'metadata' to be an object (the gym entry's metadata)")
        # the gym grader reads entry["answer"] and entry["metadata"] (countdown: the numbers and the target)
        return {"verifier": spec, "entry": {"question": question, "answer": answer, "metadata": metadata}}
    return {"verifier": spec}


def _row_to_problem(row, question_key: str, answer_key: str, task: str, index: int,
                    verifier: str = "math") -> Problem:
    if not isinstance(row, dict):
        raise ValueError(f"row is a {type(row).__name__}, not a JSON object")
    # a code row is graded by its tests alone: it needs no reference answer
    code_row = row.get("verifier", verifier) == "code" and row.get(answer_key) in (None, "")
    for key in (question_key,) if code_row else (question_key, answer_key):
        if key not in row:
            raise ValueError(f"missing key {key!r} (row has: {', '.join(map(str, row))})")
    question = row[question_key]
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question {question_key!r} is empty or not a string")
    answer = "" if code_row else answer_to_str(row[answer_key])
    return Problem(id=f"{task}:{index}", question=question.strip(), answer=answer, task=task,
                   lang="zh" if has_cjk(question) else "en",
                   **_row_verifier(row, question.strip(), answer, verifier))


def _raw_rows(path: Path) -> Iterator[tuple[int, object, str | None]]:
    """(line or row index, parsed row, parse error or None), blank JSONL lines skipped silently."""
    if path.suffix == ".jsonl":
        yield from iter_jsonl(path)
    else:
        import pyarrow.parquet as pq

        for i, row in enumerate(pq.read_table(path).to_pylist()):
            yield i, row, None


def read_problem_file(path: str | Path, question_key: str = "question", answer_key: str = "answer",
                      skip_bad_rows: bool = False, verifier: str | None = None) -> tuple[list[Problem], int]:
    """All problems in a .jsonl or .parquet file, in file order, and the number of bad rows skipped.

    Problem ids are "<file stem>:<line>" (JSONL, 1-based) or "<file stem>:<row>" (Parquet, 0-based).
    `verifier` grades rows without their own `verifier` column (None = math); a `code` row needs `tests`
    (a list of assert statements), a `gym:<name>` row may carry the gym entry's `metadata`.
    """
    path = Path(path)
    if path.suffix not in FILE_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(FILE_SUFFIXES)}")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    problems: list[Problem] = []
    bad = 0
    for index, row, error in _raw_rows(path):
        try:
            if error is not None:
                raise ValueError(error)
            problems.append(_row_to_problem(row, question_key, answer_key, path.stem, index, verifier or "math"))
        except ValueError as e:
            if not skip_bad_rows:
                raise ValueError(f"{path}:{index}: {e}") from None
            bad += 1
    if not problems:
        raise ValueError(f"{path}: no usable rows ({bad} bad)")
    return problems, bad
