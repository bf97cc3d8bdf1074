"""Fuzzing the verifiers with hypothesis: random Unicode, deeply nested LaTeX, huge numbers and mixed
scripts, inside the answer formats a model writes. `extract_answer` and `verify` must never raise, and
every `verify` call must end within its time limit (plus a grace for the signal on a loaded machine).
The counts and the slowest call are printed for docs/reliability.md."""
from __future__ import annotations

import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonrl.rewards import extract_answer, verify
from reasonrl.rewards.check import warm_up_sympy

pytestmark = pytest.mark.faults

LIMIT_S, GRACE_S = 1.0, 1.0
SCRIPTS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९零一二三四五六七八九十百千万亿负点"
SYMBOLS = "+-*/^=.,()[]{}\\ $%πe√∞−×÷·‰\u200f\u202e\u0301\ufeff"


def nested_latex(depth: int, leaf: str) -> str:
    """\\frac{\\sqrt{\\frac{...}{2}}}{2} nested `depth` times around `leaf`."""
    out = leaf
    for i in range(depth):
        out = [f"\\frac{{{out}}}{{2}}", f"\\sqrt{{{out}}}", f"{{{out}}}^{{2}}", f"\\left({out}\\right)"][i % 4]
    return out


numbers = st.one_of(
    st.integers(-10**400, 10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.tuples(st.integers(1, 9), st.integers(0, 10**6)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.integers(1, 3000).map(lambda n: "9" * n),
)
latex = st.builds(nested_latex, st.integers(0, 120), st.one_of(numbers, st.just("x")))
mixed = st.text(alphabet=st.sampled_from(SCRIPTS + SYMBOLS), max_size=80)
answers = st.one_of(st.text(max_size=200), numbers, latex, mixed)
WRAPS = ["{}", "<think>{}</think><answer>{}</answer>", "\\boxed{{{}}}", "The answer is {}.", "{} = {}",
         "<think>{}</think>", "<answer>{}", "\\boxed{{\\boxed{{{}}}}}"]
completions = st.builds(lambda w, a, b: w.format(a, b) if w.count("{}") == 2 else w.format(a),
                        st.sampled_from(WRAPS), answers, answers)

STATS = {"extract": 0, "verify": 0, "slowest_verify_s": 0.0}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions, st.booleans())
def test_extract_answer_never_raises(completion, lenient):
    out = extract_answer(completion, lenient=lenient)
    assert out is None or isinstance(out, str)
    STATS["extract"] += 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions, answers, st.booleans())
def test_verify_never_raises_and_keeps_its_time_limit(completion, reference, lenient):
    # sympy's import (~10 s on a loaded 2-core box) happens once per process, outside every answer's
    # limit by design (check.judge); the limit covers the verification itself
    warm_up_sympy()
    t0 = time.perf_counter()
    out = verify(completion, reference, lenient=lenient, timeout_s=LIMIT_S)
    dt = time.perf_counter() - t0
    assert isinstance(out, bool)
    assert dt < LIMIT_S + GRACE_S, f"verify took {dt:.2f} s (limit {LIMIT_S} s): {completion[:80]!r} vs {reference[:80]!r}"
    STATS["verify"] += 1
    STATS["slowest_verify_s"] = max(STATS["slowest_verify_s"], dt)


def test_fuzz_report():
    """Runs after the two above (file order): the figures the docs quote."""
    print(f"\nfuzz: extract_answer examples={STATS['extract']} verify examples={STATS['verify']} raises=0 "
          f"slowest_verify_s={STATS['slowest_verify_s']:.3f}", file=sys.stderr)


def test_known_nasty_inputs_are_answered():
    """Hand-picked: each once raised or hung somewhere in a math verifier; here each must just answer."""
    assert verify("<answer>" + nested_latex(200, "1") + "</answer>", "1") in (True, False)
    assert verify("<answer>1e999999999</answer>", "1") is False
    assert verify("<answer>" + "9" * 5000 + "</answer>", "9" * 5000) is True
    assert verify("<answer>十二</answer>", "12") is True
    out = extract_answer("\\boxed{" * 500)  # unbalanced braces: no answer, and no exception
    assert out is None or isinstance(out, str)
