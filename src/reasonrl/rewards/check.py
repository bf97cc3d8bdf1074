"""`verify(completion, reference)`: extraction + equivalence, bounded in time, never raising.

How it is bounded (measured choice): extraction and the fast path are linear-time pure Python with
size caps, so they need no guard beyond the alarm below. Only the symbolic path (sympy through
math-verify) can run long. In the main thread we arm `signal.setitimer` (a few microseconds; a
worker process per call would cost ~1 ms of pickling and pipe round trip, and spawning one costs
~1 s); sympy is Python code, so the alarm interrupts it, and the input guards in `equivalence.py`
keep it away from the big-integer C loops that no signal can interrupt (9^{9^{9^{9^{9}}}}).
Outside the main thread signals are unavailable (math-verify's own timeouts raise there), so the
symbolic step goes to a module-level worker process that is killed past the limit.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager

from reasonrl.rewards.equivalence import fast_match, symbolic_allowed, symbolic_match
from reasonrl.rewards.extract import extract_answer
from reasonrl.rewards.latex_span import clean_reference, strip_math_delimiters

log = logging.getLogger(__name__)
MAX_ANSWER_CHARS = 20_000  # no real final answer is longer; longer ones only count if identical text
_offthread_lock = threading.Lock()
_offthread_worker = None


class VerifierTimeout(BaseException):
    """Raised inside a verifier call when its time limit passes.

    A BaseException on purpose: math-verify wraps its sympy calls in `except Exception` and would
    swallow the timeout and answer False as if it had decided.
    """


def _raise_timeout(signum, frame):
    raise VerifierTimeout("verifier time limit")


@contextmanager
def time_limit(timeout_s: float):
    """Raise VerifierTimeout after `timeout_s` seconds (main thread only; elsewhere a no-op).

    Nested use (a reward function calling `verify` inside a worker's own limit) re-arms the outer
    timer with what was left of it, so the outer limit still holds.
    """
    if threading.current_thread() is not threading.main_thread() or timeout_s <= 0:
        yield
        return
    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, _raise_timeout)
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, timeout_s)
    if outer_left and outer_left < timeout_s:
        signal.setitimer(signal.ITIMER_REAL, outer_left)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 1e-3))


_warm = False


def warm_up_sympy() -> None:
    """Import sympy/math-verify and build the LaTeX parser once (~1 s), outside any answer's time limit."""
    global _warm
    if not _warm:
        logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled": we bound it here
        from reasonrl.rewards.equivalence import symbolic_match
        # First calls build the LaTeX parser and import sympy's solvers (~1.5 s on a loaded 2-core box).
        symbolic_match("(-\\infty, 3)", "x<3")
        symbolic_match("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}")
        _warm = True


def _symbolic_off_thread(answer: str, reference: str, timeout_s: float) -> bool:
    global _offthread_worker
    from reasonrl.rewards.runner import Worker, WorkerTimeout
    with _offthread_lock:
        if _offthread_worker is None:
            _offthread_worker = Worker(warm="before")
        try:
            return bool(_offthread_worker.call("reasonrl.rewards.equivalence:symbolic_match",
                                               (answer, reference), {}, timeout_s))
        except WorkerTimeout:
            return False


def judge(completion: str, reference: str, *, lenient: bool = False,
          timeout_s: float = 1.0) -> tuple[bool, str | None, str]:
    """(correct, extracted answer, status) where status is 'ok', 'no_answer', 'timeout' or 'error'.

    >>> judge("<think>8×5=40</think><answer>40元</answer>", "40")
    (True, '40元', 'ok')
    >>> judge("<think>unclosed", "1")
    (False, None, 'no_answer')
    """
    if not isinstance(completion, str) or not isinstance(reference, str):
        return False, None, "error"
    answer = None
    try:
        with time_limit(timeout_s):
            answer = extract_answer(completion, lenient=lenient)
            if answer is None:
                return False, None, "no_answer"
            if len(answer) > MAX_ANSWER_CHARS:
                return answer.strip() == reference.strip(), answer[:200], "ok"
            # "$125$ miles", "\\([0,1)\\)", a worked solution ending in \\boxed{…}: compare the math inside
            core, gold = strip_math_delimiters(answer), clean_reference(reference)
            decided = fast_match(core, gold)
        if decided is None and not symbolic_allowed(core, gold):
            decided = False
        if decided is None and threading.current_thread() is threading.main_thread():
            warm_up_sympy()  # one-time import cost, outside the limit: it is not this answer's fault
            with time_limit(timeout_s):
                decided = symbolic_match(core, gold)
        elif decided is None:
            decided = _symbolic_off_thread(core, gold, timeout_s)
        return bool(decided), answer, "ok"
    except VerifierTimeout:
        return False, answer, "timeout"
    except Exception as exc:  # noqa: BLE001 - a verifier must never raise into the trainer
        log.debug("verifier error on %r: %s: %s", (answer or "")[:80], type(exc).__name__, exc)
        return False, answer, "error"


def verify(completion: str, reference: str, *, lenient: bool = False, timeout_s: float = 1.0) -> bool:
    """True iff the completion's final answer equals the reference; bounded by `timeout_s`, never raises.

    >>> verify("<think>...</think><answer>2 1/3</answer>", "7/3")
    True
    >>> verify("<think>...</think><answer>12或13</answer>", "12")
    False
    """
    return judge(completion, reference, lenient=lenient, timeout_s=timeout_s)[0]
