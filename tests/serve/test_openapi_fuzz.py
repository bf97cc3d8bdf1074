"""A property-based run of the app's own OpenAPI schema (schemathesis): generated requests, valid and
invalid (schemathesis' positive and negative modes), for every operation, sent in-process over ASGI (nothing listens on a socket). No case may get a 5xx.
Bounded: a fixed number of cases per operation, a scripted engine that answers at once."""
from __future__ import annotations

import sys

import pytest
import schemathesis
import hypothesis
from hypothesis import HealthCheck, given, settings

from reasonrl.serve.app import create_app

pytestmark = pytest.mark.faults

CASES_PER_OPERATION = 60
KEY = {"Authorization": "Bearer sk-fuzz"}


def test_no_server_error_for_any_generated_request(scripted):
    app = create_app(scripted("<think>r</think>a"), api_key="sk-fuzz", max_body_bytes=64_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert "POST /v1/chat/completions" in {f"{op.method.upper()} {op.path}" for op in ops}
    body = ops[[op.path for op in ops].index("/v1/chat/completions")].body
    assert len(body) == 1, "the chat body is in the schema: the fuzzer generates messages, not empty posts"
    seen: dict[str, list[int]] = {}

    for op, mode in [(op, mode) for op in ops for mode in schemathesis.GenerationMode]:  # valid and invalid data
        @settings(max_examples=CASES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(mode))
        def run(case):
            r = case.call(headers=KEY)
            seen.setdefault(f"{op.method.upper()} {op.path}", []).append(r.status_code)
            assert r.status_code < 500, f"{case.method} {case.path} {case.body!r:.200} -> {r.status_code} {r.text[:200]}"

        try:
            run()
        except hypothesis.errors.Unsatisfiable:  # no invalid input exists for a parameterless GET
            pass
    total = sum(len(v) for v in seen.values())
    codes = sorted({c for v in seen.values() for c in v})
    print(f"\nschemathesis: cases={total} server_errors=0 operations={len(seen)} status_codes={codes}", file=sys.stderr)
    assert 200 in seen["POST /v1/chat/completions"], "no generated chat request was valid: the run proved little"
