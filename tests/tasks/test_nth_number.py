"""nth_number: the generated answer is the asked item, the same seed gives the same problems, bad kwargs fail in one line."""
from __future__ import annotations

import pytest

from reasonrl.config.schema import TaskConfig
from reasonrl.tasks import load_task
from reasonrl.tasks.nth_number import iter_nth_number, ordinal


def test_answers_are_the_asked_item_and_positions_avoid_the_easy_ones():
    probs = list(iter_nth_number(300, seed=3))
    for p in probs:
        items, pos = p.meta["items"], p.meta["pos"]
        assert len(set(items)) == len(items) and 6 <= len(items) <= 8
        assert 3 <= pos <= len(items) - 1 and p.answer == str(items[pos - 1])
        listed = p.question.split("list ")[1].rstrip("?")
        assert [int(x) for x in listed.split(", ")] == items
    assert {p.meta["pos"] for p in probs} == {3, 4, 5, 6, 7}
    assert "What is the 3rd number" in {p.question[:22] for p in probs}


def test_same_seed_same_problems_and_heldout_never_trained_on():
    a = load_task(TaskConfig(name="nth_number", num_train=50, num_heldout=20, seed=1))
    b = load_task(TaskConfig(name="nth_number", num_train=50, num_heldout=20, seed=1))
    assert [p.question for p in a.train] == [p.question for p in b.train]
    assert not {p.question for p in a.heldout} & {p.question for p in a.train}
    assert all(p.verifier == "math" and p.lang == "en" for p in a.train)


@pytest.mark.parametrize("kwargs, match", [({"length": 5}, "unknown kwargs"), ({"max_len": 11}, "max_len <= 10"),
                                           ({"min_pos": 6}, "min_pos must be in 1..min_len-1")])
def test_bad_kwargs_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_task(TaskConfig(name="nth_number", kwargs=kwargs, num_train=5, num_heldout=2))


def test_two_hops_answer_the_item_at_the_position_the_first_item_names():
    probs = list(iter_nth_number(300, seed=5, kwargs={"hops": 2}))
    for p in probs:
        items, pos = p.meta["items"], p.meta["pos"]
        middle = items[pos - 1]
        assert 1 <= middle <= len(items) and middle != pos
        assert p.answer == str(items[middle - 1])
        assert p.question.startswith(f"Take the list {', '.join(map(str, items))}. Its ")
    assert len({p.answer for p in probs}) == 10   # every digit can be the answer: not a fixed position
    one_hop = next(iter_nth_number(1, seed=5))
    assert one_hop.question.startswith("What is the ") and one_hop.meta["hops"] == 1


def test_hops_other_than_one_or_two_is_a_one_line_error():
    with pytest.raises(ValueError, match="hops must be 1 or 2"):
        load_task(TaskConfig(name="nth_number", kwargs={"hops": 3}, num_train=5, num_heldout=2))


def test_a_hint_states_the_middle_value_and_hint_zero_keeps_the_old_stream():
    hinted = list(iter_nth_number(200, seed=5, kwargs={"hops": 2, "hint": 50}))
    plain = list(iter_nth_number(50, seed=5, kwargs={"hops": 2}))
    with_hint = [p for p in hinted if p.meta.get("hint")]
    assert 60 <= len(with_hint) <= 140                            # about half of 200
    for p in with_hint:
        items, pos = p.meta["items"], p.meta["pos"]
        middle = items[pos - 1]
        assert p.question == f"{p.meta['base_question']} Hint: its {ordinal(pos)} number is {middle}."
        assert p.answer == str(items[middle - 1])
    assert all("Hint" not in p.question and "base_question" not in p.meta for p in plain)
    assert [p.question for p in plain] == [p.question for p in iter_nth_number(50, seed=5, kwargs={"hops": 2, "hint": 0})]


def test_a_lookup_hint_names_the_position_to_read_and_keeps_the_same_lists():
    value = list(iter_nth_number(40, seed=3, kwargs={"hops": 2, "hint": 100}))
    lookup = list(iter_nth_number(40, seed=3, kwargs={"hops": 2, "hint": 100, "hint_form": "lookup"}))
    for v, p in zip(value, lookup):
        items, pos = p.meta["items"], p.meta["pos"]
        assert (v.meta["items"], v.answer, v.meta["base_question"]) == (items, p.answer, p.meta["base_question"])
        middle = items[pos - 1]          # the hint names the position to read: its item is the answer
        assert p.question.endswith(f"Hint: so the answer is the {ordinal(middle)} number in the list.")
        assert p.answer == str(items[middle - 1])
    with pytest.raises(ValueError, match="hint_form must be one of value, lookup, got 'word'"):
        load_task(TaskConfig(name="nth_number", kwargs={"hops": 2, "hint": 50, "hint_form": "word"}, num_train=5, num_heldout=2))


@pytest.mark.parametrize("kwargs", [{"hint": 50}, {"hops": 2, "hint": 101}, {"hops": 2, "hint": -1}])
def test_a_hint_needs_two_lookups_and_a_percent(kwargs):
    with pytest.raises(ValueError, match="hint is a percent"):
        next(iter_nth_number(1, seed=0, kwargs=kwargs))


def test_two_digit_items_make_long_lists_of_distinct_numbers_and_keep_the_one_digit_stream():
    probs = list(iter_nth_number(200, seed=4, kwargs={"digits": 2, "min_len": 12, "max_len": 16, "min_pos": 5}))
    for p in probs:
        items, pos = p.meta["items"], p.meta["pos"]
        assert 12 <= len(items) <= 16 and len(set(items)) == len(items) and all(10 <= x <= 99 for x in items)
        assert 5 <= pos <= len(items) - 1 and p.answer == str(items[pos - 1])
        assert p.question == f"What is the {ordinal(pos)} number in the list {', '.join(map(str, items))}?"
    assert max(p.meta["pos"] for p in probs) == 15
    one = [p.question for p in iter_nth_number(30, seed=4)]
    assert one == [p.question for p in iter_nth_number(30, seed=4, kwargs={"digits": 1})]   # digits=1 is the old stream


@pytest.mark.parametrize("kwargs, match", [({"digits": 3}, "digits must be 1 or 2, got 3"),
                                           ({"digits": 2, "max_len": 31}, r"max_len <= 30 \(distinct 2-digit items\)"),
                                           ({"digits": 2, "hops": 2}, "hops=2 reads an item as a position")])
def test_bad_digit_kwargs_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_task(TaskConfig(name="nth_number", kwargs=kwargs, num_train=5, num_heldout=2))


def test_after_asks_for_the_kth_number_past_a_named_item():
    probs = list(iter_nth_number(300, seed=6, kwargs={"digits": 2, "min_len": 8, "max_len": 12, "after": 4}))
    for p in probs:
        items, k, anchor = p.meta["items"], p.meta["after"], p.meta["anchor"]
        start = items.index(anchor)
        assert 2 <= k <= 4 and p.answer == str(items[start + k]) and p.meta["pos"] == start + k + 1
        assert p.question == f"What is the {ordinal(k)} number after {anchor} in the list {', '.join(map(str, items))}?"
    assert {p.meta["after"] for p in probs} == {2, 3, 4}
    assert {p.meta["items"].index(p.meta["anchor"]) for p in probs} >= set(range(0, 6))   # named items anywhere, not a fixed slot


@pytest.mark.parametrize("kwargs", [{"after": 1}, {"after": 8, "min_len": 8, "digits": 2}, {"after": 3, "hops": 2}])
def test_bad_after_is_a_one_line_error(kwargs):
    with pytest.raises(ValueError, match="after counts 2..after places past a named item"):
        next(iter_nth_number(1, seed=0, kwargs=kwargs))


def test_after_min_fixes_or_narrows_k_and_the_default_keeps_the_stream():
    kw = {"digits": 2, "min_len": 8, "max_len": 12, "after": 4}
    fixed = list(iter_nth_number(100, seed=6, kwargs=kw | {"after_min": 3, "after": 3}))
    assert {p.meta["after"] for p in fixed} == {3} and all(p.question.startswith("What is the 3rd number after") for p in fixed)
    assert {p.meta["after"] for p in iter_nth_number(200, seed=6, kwargs=kw | {"after_min": 3})} == {3, 4}
    default = [p.question for p in iter_nth_number(20, seed=6, kwargs=kw)]
    assert default == [p.question for p in iter_nth_number(20, seed=6, kwargs=kw | {"after_min": 2})]
    with pytest.raises(ValueError, match="after_min is the fewest places past the named item, 2..after = 2..4, got 5"):
        next(iter_nth_number(1, seed=0, kwargs=kw | {"after_min": 5}))
