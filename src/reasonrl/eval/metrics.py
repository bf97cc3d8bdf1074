"""pass@k, maj@k and a paired bootstrap: pure functions on plain lists, shared by `reasonrl eval` and its
`--compare`, so a number in a table is always computed one way.

    pass_at_k(n=8, c=3, k=1)                 # 0.375: the expected accuracy of one sample
    maj_at_k(["12", "十二", "13"], [True, True, False])   # 1.0: "12" and "十二" vote together
    bootstrap_diff(a_scores, b_scores)       # (mean(b - a), low, high) over problems, fixed seed
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from reasonrl.rewards import normalize_answer


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, arXiv:2107.03374):
    1 - C(n-c, k) / C(n, k), computed as the product prod_{i=n-c+1}^{n} (1 - k/i) so that no factorial
    overflows (C(200, 100) has 59 digits) and no float cancellation happens for large n.

    >>> [round(pass_at_k(5, 2, k), 6) for k in range(1, 6)]
    [0.4, 0.7, 0.9, 1.0, 1.0]
    >>> pass_at_k(8, 0, 8), pass_at_k(1, 1, 1)
    (0.0, 1.0)
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: c={c} correct of n={n} samples; need 0 <= c <= n")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: k={k} with n={n} samples; need 1 <= k <= n")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def vote_key(answer: str | None) -> str | None:
    """The key an extracted answer votes under; None (nothing extracted, or an empty answer) never votes.

    >>> vote_key("十二") == vote_key(r"\\boxed{12}") == vote_key("１２") == "12"
    True
    >>> vote_key(None), vote_key("  ")
    (None, None)
    """
    if answer is None:
        return None
    key = normalize_answer(answer)
    return key or None


def maj_at_k(keys: list[str | None], correct: list[bool]) -> float:
    """1.0 if the majority vote over the k samples' answer keys is correct, else 0.0.

    keys: [k] vote keys (see `vote_key`); None never votes, so k unextractable answers score 0.
    correct: [k] the verifier's verdict per sample. A key counts as correct only if every sample
        voting for it was verified correct (the verifier sees the raw text and may, rarely, split a key).
    Ties: the vote is correct only if *every* tied key is correct. This is the conservative choice: it
    never credits a coin flip, and it does not depend on sample order (picking the earliest would).

    >>> maj_at_k(["12", "12", "13"], [True, True, False])
    1.0
    >>> maj_at_k(["12", "13"], [True, False])          # 1-1 tie between a right and a wrong answer
    0.0
    >>> maj_at_k([None, None, "12"], [False, False, True])  # None never wins, even as the most common
    1.0
    """
    if len(keys) != len(correct):
        raise ValueError(f"maj_at_k: {len(keys)} keys for {len(correct)} verdicts; need one per sample")
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return 0.0
    top = max(counts.values())
    winners = [key for key, n in counts.items() if n == top]
    key_ok = {key: all(ok for k2, ok in zip(keys, correct) if k2 == key) for key in winners}
    return 1.0 if all(key_ok.values()) else 0.0


def bootstrap_diff(a: list[float], b: list[float], *, n_boot: int = 10_000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """(mean(b) - mean(a), low, high): a paired percentile bootstrap over problems.

    a, b: [P] one score per problem for systems A and B, on the same problems in the same order.
    Resampling problems (not samples) keeps each problem's pair together, so the interval reflects how
    much the difference depends on which problems happened to be held out. Fixed seed: same inputs,
    same interval.

    >>> bootstrap_diff([0.0, 0.5, 1.0], [0.5, 1.0, 1.5])   # a constant difference has no spread
    (0.5, 0.5, 0.5)
    """
    if len(a) != len(b):
        raise ValueError(f"bootstrap_diff: {len(a)} scores for A and {len(b)} for B; need the same problems")
    if not a:
        raise ValueError("bootstrap_diff: no problems to compare")
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)  # [P]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))                  # [n_boot, P]
    means = d[idx].mean(axis=1)                                            # [n_boot]
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(d.mean()), float(low), float(high)
