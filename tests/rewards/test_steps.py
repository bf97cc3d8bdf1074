"""middle_value: pays the first lookup's value stated in the thinking of a two-lookup nth_number row."""
from reasonrl.rewards import RewardRunner
from reasonrl.rewards.steps import middle_value, middle_value_of, states_middle
from reasonrl.tasks.nth_number import iter_nth_number


def test_middle_value_of_a_generated_two_lookup_row_is_the_asked_item():
    for p in iter_nth_number(20, seed=3, kwargs={"hops": 2}):
        k = middle_value_of(p.meta)
        assert k == p.meta["items"][p.meta["pos"] - 1]
        assert str(p.meta["items"][k - 1]) == p.answer      # the answer is the item at the middle value
    assert middle_value_of(next(iter_nth_number(1, seed=3)).meta) is None   # one lookup: no middle value


def test_ordinals_are_not_numbers_and_a_copied_list_is_not_a_step():
    assert states_middle("The 3rd number is 4.", 4)
    assert not states_middle("The 3rd number is 5.", 3)           # "3rd" names a position, not a value
    assert not states_middle("7, 2, 4, 9, 1, 8", 4)              # every digit of the list
    assert states_middle("k = 4, and the 4th number is 9", 4)
    assert not states_middle("k = 14", 4)                         # a digit inside a longer number


def test_unclosed_thinking_and_other_rows_get_nothing():
    meta = {"items": [7, 2, 4, 9, 1, 8], "pos": 3, "hops": 2}
    scores = middle_value(["<think>The 3rd number is 4", "<think>It is 4.</think><answer>9</answer>", "x"],
                          meta=[meta, meta, None])
    assert scores == [0.0, 1.0, None]


def test_runner_weights_it_and_turns_not_applicable_into_zero():
    meta2 = {"items": [7, 2, 4, 9, 1, 8], "pos": 3, "hops": 2}
    with RewardRunner(["middle_value"], timeout_s=30) as runner:
        result = runner(["<think>It is 4.</think><answer>9</answer>"] * 2, answer=["9", "9"],
                        meta=[meta2, {"hops": 1}])
    assert list(result.total) == [1.0, 0.0]


def test_a_hinted_row_pays_nothing_for_repeating_the_value_its_question_states():
    rows = list(iter_nth_number(10, seed=5, kwargs={"hops": 2, "hint": 100}))
    assert all(p.meta.get("hint") for p in rows)
    middles = [p.meta["items"][p.meta["pos"] - 1] for p in rows]
    copied = [f"<think>The hint says {k}.</think><answer>{k}</answer>" for k in middles]
    assert middle_value(copied, meta=[p.meta for p in rows]) == [None] * len(rows)
    plain = [p.meta | {"hint": False} for p in rows]                     # the same rows, unhinted: paid
    assert middle_value(copied, meta=plain) == [1.0] * len(rows)


def test_copy_after_pays_the_continuation_from_the_named_item_on_generated_rows():
    """On real relative-lookup rows: the exact continuation earns 1, a broken copy earns up to the break, a copy of
    the whole list from its start earns nothing unless the named item is among its first two, other rows are None."""
    from reasonrl.rewards.registry import REWARDS
    from reasonrl.tasks.nth_number import iter_nth_number

    rows = list(iter_nth_number(50, seed=2, kwargs={"digits": 2, "min_len": 8, "max_len": 12, "after": 4}))
    copy_after = REWARDS["copy_after"]
    for p in rows:
        items, k, anchor = p.meta["items"], p.meta["after"], p.meta["anchor"]
        i = items.index(anchor)
        exact = ", ".join(map(str, items[i : i + k + 1]))
        broken = ", ".join(map(str, [anchor, items[i + 1], 100]))                 # 100 is never an item
        whole = ", ".join(map(str, items))                                          # the list from its start
        got = copy_after([f"<think>\n{exact}</think><answer>{p.answer}</answer>", f"<think>\n{broken}",
                          f"<think>\nThe answer is {p.answer}.</think>"], meta=[p.meta] * 3)
        assert got == [1.0, 1 / k, 0.0]
        assert copy_after([f"<think>\n{whole}</think>"], meta=[p.meta]) == [1.0 if i < 2 else 0.0]
    assert copy_after(["<think>45, 70</think>"], meta=[{"items": [45, 70], "hops": 1}]) == [None]


def _after_rows(n=50, seed=2):
    from reasonrl.tasks.nth_number import iter_nth_number
    return list(iter_nth_number(n, seed=seed, kwargs={"digits": 2, "min_len": 8, "max_len": 12, "after": 4}))


def test_copy_stop_pays_only_the_copy_that_ends_at_the_kth_item():
    """Exactly k items after the named one earn 1; one short or one past earn (k-1)/k; a copy that runs to the list's
    end loses 1/k per extra number; a broken copy keeps its partial credit; other rows are None."""
    from reasonrl.rewards.registry import REWARDS
    copy_stop = REWARDS["copy_stop"]
    for p in _after_rows():
        items, k, anchor = p.meta["items"], p.meta["after"], p.meta["anchor"]
        i = items.index(anchor)
        copies = [items[i : i + k + 1], items[i : i + k], items[i : i + k + 2], items[i:], [anchor, items[i + 1], 100]]
        got = copy_stop([f"<think>\n{', '.join(map(str, c))}</think>" for c in copies], meta=[p.meta] * len(copies))
        past = len(items) - i - 1 - k                                                 # numbers after the k-th
        assert got[:2] == [1.0, (k - 1) / k]
        assert got[2] == ((k - 1) / k if i + k + 1 < len(items) else 1.0)             # no item past the k-th: exact
        assert got[3] == max(0, k - past) / k
        assert got[4] == 1 / k
    assert copy_stop(["<think>45, 70</think>"], meta=[{"items": [45, 70], "hops": 1}]) == [None]


def test_count_after_reads_labelled_items_and_charges_labels_past_k():
    from reasonrl.rewards.registry import REWARDS
    count_after = REWARDS["count_after"]
    for p in _after_rows(seed=4):
        items, k, anchor = p.meta["items"], p.meta["after"], p.meta["anchor"]
        after = items[items.index(anchor) + 1 :]
        lines = [f"{j + 1}: {v}" for j, v in enumerate(after)]
        wordy = [f"{j + 1}. The next number after it is {v}." for j, v in enumerate(after[:k])]
        texts = ["\n".join(lines[:k]), "\n".join(wordy), f"{anchor}, " + ", ".join(lines[:k]),
                 "\n".join(lines[: k - 1]), ", ".join(map(str, after[:k]))]
        got = count_after([f"<think>\n{t}</think>" for t in texts], meta=[p.meta] * len(texts))
        assert got == [1.0, 1.0, 1.0, (k - 1) / k, 0.0]                    # plain copy without counts: nothing
        if len(after) > k:
            extra = len(after) - k
            assert count_after([f"<think>\n{chr(10).join(lines)}</think>"], meta=[p.meta]) == [max(0, k - extra) / k]


def test_arrow_steps_pays_the_walk_from_the_start_and_charges_numbers_past_its_end():
    from reasonrl.rewards.steps import arrow_steps
    from reasonrl.tasks.arrows import iter_arrows

    p = next(iter_arrows(1, seed=7, kwargs={"min_hops": 3, "max_hops": 3}))
    path, meta = p.meta["path"], p.meta
    full = ", ".join(f"{a} -> {b}" for a, b in zip(path, path[1:]))
    other, target = next((a, b) for a, b in meta["arrows"] if a not in path)
    texts = [f"<think>\n{full}</think><answer>{path[-1]}</answer>",                   # the whole walk: 1
             f"<think>\n{path[0]} -> {path[1]} -> {path[2]}",                          # two of three hops, unclosed
             f"<think>\n{full} -> {other}</think>",                                    # one number past the end
             f"<think>\n{other} -> {target}, {full}</think>",                          # the start not among the first two
             f"<think>\nThe answer is {path[-1]}.</think><answer>{path[-1]}</answer>"]  # no walk written
    assert arrow_steps(texts, meta=[meta] * len(texts)) == [1.0, 2 / 3, 2 / 3, 0.0, 0.0]
    assert arrow_steps(["<think>1 -> 2</think>"], meta=[{"items": [1, 2], "after": 2, "anchor": 1}]) == [None]


def test_walked_answer_pays_the_right_end_only_with_the_whole_walk_written():
    from reasonrl.rewards.registry import walked_answer
    from reasonrl.tasks.arrows import iter_arrows

    p = next(iter_arrows(1, seed=3, kwargs={"min_hops": 3, "max_hops": 3}))
    path, meta = p.meta["path"], p.meta
    chain = " -> ".join(map(str, path))
    other = next(b for a, b in meta["arrows"] if a not in path and b not in path)
    texts = [f"<think>\n{chain}\n</think>\n<answer>{path[-1]}</answer>",             # whole walk, right end: 1
             f"<think>\n{path[0]} -> {path[1]} = {path[-1]}</think><answer>{path[-1]}</answer>",  # right, walk skipped
             f"<think>\n{chain}</think><answer>{other}</answer>",                    # walk written, wrong answer
             f"<think>\n{chain} -> {other}</think><answer>{path[-1]}</answer>",      # a number past the end
             f"<think>\n{chain}</think>\nThe answer is {path[-1]}.",                  # no <answer>: not the strict shape
             f"<think>\n{chain}",                                                     # thinking never closed
             f"<think>\n{chain}\n</think>\n<answer>\nArders: {path[-1]}\n</answer>",    # a label the strict grader reads
             f"<think>\n{chain}\n</think>\n<answer>\nArrows: {path[-2]} -> {path[-1]}\n</answer>"]  # an arrow, not a number
    answers = [p.answer] * len(texts)
    assert walked_answer(texts, answer=answers, meta=[meta] * len(texts)) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    # the answer is judged as accuracy_strict judges it (session 29: it compared the raw text, "Arders: 90" earned 0)
    from reasonrl.rewards.registry import accuracy_strict
    strict = accuracy_strict(texts, answer=answers, meta=[meta] * len(texts))
    assert all(w <= s for w, s in zip(walked_answer(texts, answer=answers, meta=[meta] * len(texts)), strict))
    assert walked_answer(["<think>1 -> 2</think><answer>2</answer>"], answer=["2"], meta=[{"after": 2}]) == [None]
