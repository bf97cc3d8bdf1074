"""pass@k, maj@k and the paired bootstrap against values computed by hand."""
from __future__ import annotations

import math

import pytest

from reasonrl.eval.metrics import bootstrap_diff, maj_at_k, pass_at_k, vote_key
from reasonrl.eval.results import problem_record, summarize, summarize_by_lang
from reasonrl.tasks import Problem


@pytest.mark.parametrize("k, expected", [(1, 0.4), (2, 0.7), (3, 0.9), (4, 1.0), (5, 1.0)])
def test_pass_at_k_n5_c2(k, expected):
    # 1 - C(3,k)/C(5,k): k=1 1-3/5, k=2 1-3/10, k=3 1-1/10, k>=4 C(3,k)=0
    assert pass_at_k(5, 2, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_combinations_and_stays_finite_for_large_n():
    for n, c, k in [(10, 3, 4), (20, 1, 5), (16, 7, 16), (8, 0, 3)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    # C(1000, 500) overflows a float; the product form does not.
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_bad_counts(n, c, k):
    with pytest.raises(ValueError, match="pass_at_k"):
        pass_at_k(n, c, k)


def test_answer_forms_vote_together():
    keys = [vote_key(a) for a in ["12", "十二", r"\boxed{12}", "１２", "13", "13"]]
    assert keys == ["12"] * 4 + ["13", "13"]
    # four equivalent spellings of 12 beat two 13s
    assert maj_at_k(keys, [True] * 4 + [False] * 2) == 1.0


def test_maj_ties_count_wrong_unless_every_tied_answer_is_right():
    assert maj_at_k(["12", "13"], [True, False]) == 0.0        # 1-1 tie, one wrong
    assert maj_at_k(["13", "12"], [False, True]) == 0.0        # order does not matter
    assert maj_at_k(["12", "13", "13", "12"], [True, False, False, True]) == 0.0
    # two different keys the verifier both accepts (e.g. a gym grader's tolerance) tie as right
    assert maj_at_k(["0.5", "1/3"], [True, True]) == 1.0
    assert maj_at_k(["12", "13", "12"], [True, False, True]) == 1.0  # no tie: the plain majority


def test_maj_none_never_wins():
    assert maj_at_k([None, None, None, "12"], [False, False, False, True]) == 1.0
    assert maj_at_k([None, None, None, "13"], [False, False, False, False]) == 0.0
    assert maj_at_k([None, None], [False, False]) == 0.0
    assert maj_at_k([vote_key(None), vote_key("")], [False, False]) == 0.0


def test_maj_key_is_right_only_if_all_its_samples_are():
    assert maj_at_k(["12", "12", "13"], [True, False, False]) == 0.0


def test_bootstrap_hand_values():
    diff, low, high = bootstrap_diff([0, 0, 1, 1], [1, 0, 1, 1])
    assert diff == 0.25                    # one problem of four flipped to right
    # d = [1, 0, 0, 0]: (3/4)^4 = 32% of resamples draw no flipped problem, so the 2.5th percentile is 0;
    # P(mean >= 0.75) = 4 (1/4)^3 (3/4) + (1/4)^4 = 5.1% > 2.5% but P(mean = 1) = 0.4%, so the 97.5th is 0.75.
    assert (low, high) == (0.0, 0.75)
    assert bootstrap_diff([0, 0, 1, 1], [1, 0, 1, 1]) == (diff, low, high)  # fixed seed
    assert bootstrap_diff([1.0, 1.0], [0.0, 0.0]) == (-1.0, -1.0, -1.0)
    with pytest.raises(ValueError, match="same problems"):
        bootstrap_diff([1.0], [1.0, 0.0])


def test_summary_and_per_language():
    en = Problem("t:0", "1+1?", "2", "t", "en")
    zh = Problem("t:1", "一加一?", "2", "t", "zh")
    r_en = problem_record(en, ["a"] * 4, ["2", "2", "3", None], [True, True, False, False],
                          [True, False, False, False], [10, 20, 30, 40], [False, False, False, True])
    r_zh = problem_record(zh, ["b"] * 4, ["二", "3", "3", "2"], [True, False, False, True],
                          [True, True, True, True], [5, 5, 5, 5], [False] * 4)
    assert r_en["pass@1"] == 0.5 and r_en["pass@4"] == 1.0 and r_en["maj@4"] == 1.0
    assert r_en["pass@2"] == pytest.approx(1 - 1 / 6)      # 1 - C(2,2)/C(4,2)
    assert r_zh["maj@4"] == 0.0                             # "二"+"2" vs "3"+"3": a 2-2 tie, one side wrong
    s = summarize([r_en, r_zh])
    assert s["pass@1"] == 0.5 and s["maj@4"] == 0.5 and s["format_rate"] == 0.625
    assert s["len_mean"] == 15.0 and s["len_max"] == 40 and s["truncated_rate"] == 0.125
    by = summarize_by_lang([r_en, r_zh])
    assert sorted(by) == ["en", "zh"] and by["zh"]["pass@1"] == 0.5 and by["en"]["len_mean"] == 25.0
    assert summarize_by_lang([r_en]) == {}


def test_strict_rate_counts_only_right_and_formatted_samples():
    from reasonrl.eval.results import problem_record
    from reasonrl.tasks import Problem

    p = Problem("t:0", "1+1?", "2", "t", "en")
    # right+formatted, right but untagged, wrong but formatted, wrong and untagged
    r = problem_record(p, ["a", "b", "c", "d"], ["2", "2", "3", None], [True, True, False, False],
                       [True, False, True, False], [5, 5, 5, 5], [False] * 4)
    assert r["strict_rate"] == 0.25 and r["pass@1"] == 0.5 and r["format_rate"] == 0.5
