"""Step rewards: partial credit for an intermediate value the task can verify, written in the thinking.

Why (issue 19): on two lookups in sequence (tasks/nth_number.py, hops=2) the answer is right only when the
first lookup's value is known, and a 135M model cannot hold it silently: after RL on one lookup its thinking is
"The answer is 3." and its answer that same 3, which is never right on two (the asked value is a position, and
the digits are distinct). A group whose samples all miss carries no signal, so the runs sat at chance (0.14-0.21).
Paying for the middle value stated in the thinking keeps the thinking on the step that the answer needs while
the answer itself is explored. It is verified from the question alone, like TinyZero's 0.1 for a valid but
wrong expression: no label, no model.

`copy_after` does the same for the relative lookup ("What is the 3rd number after 45 in the list …?", nth_number
after=N): partial credit for the thinking continuing the list from the named item, the copy that turns a
two-hop forward pass into k one-hop steps. Verified from the question alone as well. `count_after` pays the
same copy written with a count beside each item ("1: 70, 2: 51, 3: 29") and stopped at the k-th: session 20's
copy was learned but its length ignored k, and a label next to each item makes the stop a match against the k in
the question rather than a silent count; `copy_stop` pays the plain copy only when it stops at the k-th item.
`arrow_steps` pays the walk of the arrows task (tasks/arrows.py) written out hop by hop from its start;
`walked_answer` pays the right answer only when the thinking writes the whole walk (session 23: paid silently,
the answer was learned as a two-hop forward pass and a one-in-three shortcut, and the thinking went unused).
"""
from __future__ import annotations

import re

from reasonrl.rewards.format import thinking_text

# standalone numbers, not ordinals ("6th", "3rd") and not digits inside longer numbers
_NUMBER = re.compile(r"(?<![\d.])\d+(?![\d]|st\b|nd\b|rd\b|th\b)")


def middle_value_of(meta: dict | None) -> int | None:
    """The first lookup's value of a two-lookup nth_number row (None for any other row, and for a hinted one:
    its question states the value, so a thinking that repeats it shows no step; measured, session 16: paid
    there, the thinking learned to copy the hint and the answer stayed at 0.00).

    >>> middle_value_of({"items": [6, 0, 4, 7, 3, 5, 2], "pos": 6, "hops": 2}), middle_value_of(
    ...     {"items": [6, 0, 4, 7, 3, 5, 2], "pos": 6, "hops": 2, "hint": True})
    (5, None)
    """
    if not meta or meta.get("hops") != 2 or meta.get("hint"):
        return None
    return int(meta["items"][int(meta["pos"]) - 1])


def states_middle(thinking: str | None, middle: int, most: int = 2) -> bool:
    """True if the thinking names `middle` among at most `most` distinct numbers: a thinking that copies
    the whole list (every digit in it) is not a step.

    >>> states_middle("The 6th number is 3. The 3rd number is 9.", 3), states_middle("6, 0, 4, 7, 3, 5", 3)
    (True, False)
    >>> states_middle("The answer is 9.", 3), states_middle(None, 3)
    (False, False)
    """
    if thinking is None:
        return False
    numbers = {int(n) for n in _NUMBER.findall(thinking)}
    return middle in numbers and len(numbers) <= most


def middle_value(completions: list[str], **columns) -> list[float | None]:
    """1.0 if the closed thinking states the first lookup's value (`states_middle`), 0.0 if not; None (does not
    apply) on rows without a middle value, so a curriculum's one-lookup level is not touched.

    >>> meta = {"items": [6, 0, 4, 7, 3, 5, 2], "pos": 6, "hops": 2}
    >>> middle_value(["<think>The 6th number is 5.</think><answer>3</answer>", "<think>It is 2.</think><answer>5</answer>",
    ...               "<think>5</think>"], meta=[meta, meta, {"hops": 1}])
    [1.0, 0.0, None]
    """
    out: list[float | None] = []
    for completion, meta in zip(completions, _metas(completions, columns)):
        middle = middle_value_of(meta)
        out.append(None if middle is None else float(states_middle(thinking_text(completion), middle)))
    return out


def _metas(completions: list[str], columns: dict) -> list:
    metas = columns.get("meta") or [None] * len(completions)
    if len(metas) != len(completions):
        raise ValueError(f"column 'meta' has {len(metas)} values for {len(completions)} completions")
    return metas


def _score_after_rows(completions: list[str], columns: dict, score) -> list[float | None]:
    """score(thinking, items, anchor, k) on each relative-lookup row, closed thinking or not (the text after
    <think>, up to </think> if there is one); None on rows without a named item."""
    out: list[float | None] = []
    for completion, meta in zip(completions, _metas(completions, columns)):
        if not meta or not meta.get("after"):
            out.append(None)
            continue
        body = completion.split("<think>", 1)[-1].split("</think>", 1)[0]
        out.append(score(body, list(meta["items"]), int(meta["anchor"]), int(meta["after"])))
    return out


def copied_after(thinking: str, items: list[int], anchor: int, k: int) -> int:
    """How many of the k items after `anchor` the thinking writes out in order, right after `anchor`, which must be
    one of its first two numbers: a copy that starts at the named item, not the whole list copied from its start
    (after which the answer would still be the two-hop lookup a forward pass does badly).

    >>> copied_after("45, 70, 51, 29", [46, 11, 45, 70, 51, 29, 77], 45, 3), copied_after("45, 70, 29", [46, 11, 45, 70, 51, 29, 77], 45, 3)
    (3, 1)
    >>> copied_after("The 3rd number after 45 is 29", [46, 11, 45, 70, 51, 29, 77], 45, 3)   # no copy, "3rd" is not a number
    0
    >>> copied_after("46, 11, 45, 70, 51, 29", [46, 11, 45, 70, 51, 29, 77], 45, 3)   # the whole list from its start
    0
    """
    numbers = [int(n) for n in _NUMBER.findall(thinking)]
    if anchor not in numbers[:2]:
        return 0
    start, want = numbers.index(anchor), items[items.index(anchor) + 1 : items.index(anchor) + 1 + k]
    got = numbers[start + 1 : start + 1 + k]
    return next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), len(got))


def copy_after(completions: list[str], **columns) -> list[float | None]:
    """Share of the k items after the named item that the thinking copies in order (`copied_after`), closed or
    not: the copy is the step, paid while the tags are still being learned (the answer is paid only when closed,
    so an unclosed guess earns nothing here: session 20's nthafter run learned exactly that guess when it was paid).
    None on rows without a named item.

    >>> meta = {"items": [46, 11, 45, 70, 51, 29, 77], "after": 3, "anchor": 45}
    >>> copy_after(["<think>45, 70, 51, 29</think><answer>29</answer>", "<think>\\n45, 70", "<think>29</think>", "x"],
    ...            meta=[meta, meta, meta, {"hops": 1}])
    [1.0, 0.3333333333333333, 0.0, None]
    """
    return _score_after_rows(completions, columns,
                             lambda body, items, anchor, k: copied_after(body, items, anchor, k) / k)


def copy_stop(completions: list[str], **columns) -> list[float | None]:
    r"""`copy_after` that also pays the stop: a copy that reaches the k-th item and goes on loses 1/k per number
    written past it (floored at 0), so only the copy of exactly k items earns 1. Why: session 20's `copy_after`
    paid a copy of k or more items alike, its copies ran 2-6 items whatever k was, and the model answered the
    number after the copy; paying the stop gives the length one best value per k, and the answer its last item.

    >>> meta = {"items": [46, 11, 45, 70, 51, 29, 77], "after": 2, "anchor": 45}
    >>> copy_stop(["<think>45, 70, 51</think><answer>51</answer>", "<think>45, 70, 51, 29", "<think>45, 70", "x"],
    ...           meta=[meta, meta, meta, {"hops": 1}])
    [1.0, 0.5, 0.5, None]
    """
    def score(body: str, items: list[int], anchor: int, k: int) -> float:
        right = copied_after(body, items, anchor, k)
        numbers = [int(n) for n in _NUMBER.findall(body)]
        extra = len(numbers) - numbers.index(anchor) - 1 - k if right == k else 0
        return max(0, right - extra) / k

    return _score_after_rows(completions, columns, score)


# a count that labels an item: at a line's start or after a comma, "1:", "2)", "(3)" or "4." + space; the item is
# the first number after it ("1: 70", "2: The second number after it is 51"), so the base model's wordy lists count
_LABEL = re.compile(r"(?:^|(?<=\n)|(?<=[,;]))[ \t]*\(?(\d{1,2})[ \t]*(?:[:)]|\.(?=\s))")


def counted_after(thinking: str, items: list[int], anchor: int, k: int) -> tuple[int, int]:
    r"""(right, extra): how many of the k items after `anchor` the thinking writes with their counts 1, 2, … in
    order from its first label, and how many labelled items it writes past the k-th.

    >>> items = [46, 11, 45, 70, 51, 29, 77]
    >>> counted_after("45\n1: 70\n2: 51\n3: 29", items, 45, 3), counted_after("45, 1: 70, 2: 51, 3: 29, 4: 77", items, 45, 3)
    ((3, 0), (3, 1))
    >>> counted_after("1. The first is 70.\n2. The second is 51", items, 45, 3)   # "70." is not a label
    (2, 0)
    >>> counted_after("1: 70\n2: 29", items, 45, 3), counted_after("45, 70, 51, 29", items, 45, 3)   # a wrong item; no counts
    ((1, 0), (0, 0))
    """
    labels = list(_LABEL.finditer(thinking))
    pairs = []
    for label, after in zip(labels, labels[1:] + [None]):
        segment = thinking[label.end() : after.start() if after else len(thinking)]
        value = _NUMBER.search(segment)
        pairs.append((int(label.group(1)), int(value.group()) if value else None))
    start = items.index(anchor) + 1
    want = [(i + 1, v) for i, v in enumerate(items[start : start + k])]
    right = next((j for j, (a, b) in enumerate(zip(pairs, want)) if a != b), min(len(pairs), len(want)))
    return right, max(0, len(pairs) - k)


def count_after(completions: list[str], **columns) -> list[float | None]:
    r"""Share of the k items after the named item that the thinking writes with their counts (`counted_after`),
    less 1/k per labelled item past the k-th (floored at 0): the stop is the half of the task the plain copy did not
    learn. Closed or not, as `copy_after`. None on rows without a named item.

    >>> meta = {"items": [46, 11, 45, 70, 51, 29, 77], "after": 2, "anchor": 45}
    >>> count_after(["<think>1: 70\n2: 51</think><answer>51</answer>", "<think>1: 70\n2: 51\n3: 29", "<think>1: 51", "x"],
    ...             meta=[meta, meta, meta, {"hops": 1}])
    [1.0, 0.5, 0.0, None]
    """
    def score(body: str, items: list[int], anchor: int, k: int) -> float:
        right, extra = counted_after(body, items, anchor, k)
        return max(0, right - extra) / k

    return _score_after_rows(completions, columns, score)


def walked(thinking: str, path: list[int]) -> tuple[int, int]:
    """(right, extra): how many hops of `path` the thinking writes in order from the start (which must be one of its
    first two numbers), and how many numbers it writes past the end once it got there. A number repeated at once
    counts once, so "23 -> 57, 57 -> 36" and "23 -> 57 -> 36" are the same two hops.

    >>> walked("23 -> 57, 57 -> 36, 36 -> 90. So 90.", [23, 57, 36, 90]), walked("23 -> 57 -> 36 -> 90 -> 14", [23, 57, 36, 90])
    ((3, 0), (3, 1))
    >>> walked("Start at 23: 23 -> 57, 57 -> 40", [23, 57, 36, 90]), walked("81 -> 14, 23 -> 57", [23, 57, 36, 90])
    ((1, 0), (0, 0))
    """
    numbers = [int(n) for n in _NUMBER.findall(thinking)]
    if path[0] not in numbers[:2]:
        return 0, 0
    seq = numbers[numbers.index(path[0]):]
    seq = [n for i, n in enumerate(seq) if i == 0 or n != seq[i - 1]]
    hops = len(path) - 1
    right = next((j for j, (a, b) in enumerate(zip(seq[1:], path[1:])) if a != b), min(len(seq) - 1, hops))
    return right, (len(seq) - 1 - hops if right == hops else 0)


def arrow_steps(completions: list[str], **columns) -> list[float | None]:
    """Share of the walk's hops the thinking writes in order from the start (`walked`), less one hop per number past
    the end (floored at 0), closed thinking or not, as `copy_after`. None on rows that are not an arrows walk.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> arrow_steps(["<think>23 -> 57, 57 -> 36, 36 -> 90</think><answer>90</answer>", "<think>\\n23 -> 57", "x"],
    ...             meta=[meta, meta, {"after": 0}])
    [1.0, 0.3333333333333333, None]
    """
    def share(completion: str, path: list[int]) -> float:
        right, extra = walked(completion.split("<think>", 1)[-1].split("</think>", 1)[0], path)
        return max(0, right - extra) / (len(path) - 1)

    return _per_walk(completions, columns, share)


def closed_arrow_steps(completions: list[str], **columns) -> list[float | None]:
    """`arrow_steps`, paid only when `</think>` closes the thinking; None on rows that are not an arrows walk.

    Why (issue 19, session 34): with the thinking begun at the start number (`task.think_prefix`), the base model
    writes the whole 2-3-hop walk on 1 sample in 6 and the strict shape on about none; paid open or closed, the walk
    sharpened within 30 steps (`arrow_steps` 0.98, entropy 0.01) with the format at 0.00 and nothing left to teach
    the closing tag (session 33's cc02-s2 again). Paid only once closed, an open walk earns what a wrong guess does.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> closed_arrow_steps(["<think>23 -> 57 -> 36 -> 90</think><answer>90</answer>", "<think>23 -> 57 -> 36 -> 90",
    ...                     "<think>23 -> 57</think>", "x"], meta=[meta, meta, meta, {"after": 0}])
    [1.0, 0.0, 0.3333333333333333, None]
    """
    return _when_closed(completions, arrow_steps(completions, **columns))


def chained(thinking: str, path: list[int]) -> tuple[int, int]:
    """`walked`, with the hops written as one chain: each number after the start joined to the one before it by "->"
    alone (spaces allowed), so "23 -> 57, 57 -> 36" is one hop where `walked` counts two.

    >>> chained("23 -> 57 -> 36 -> 90. So 90.", [23, 57, 36, 90]), chained("23 -> 57, 57 -> 36", [23, 57, 36, 90])
    ((3, 0), (1, 0))
    >>> chained("23 -> 57 -> 36 -> 90 -> 14", [23, 57, 36, 90]), chained("Start 23 -> 57 -> 40", [23, 57, 36, 90])
    ((3, 1), (1, 0))
    """
    found = list(_NUMBER.finditer(thinking))
    starts = [i for i, m in enumerate(found[:2]) if int(m.group()) == path[0]]
    if not starts:
        return 0, 0
    seq = [path[0]]
    for before, m in zip(found[starts[0]:], found[starts[0] + 1:]):
        if thinking[before.end():m.start()].strip() != "->":
            break
        seq.append(int(m.group()))
    hops = len(path) - 1
    right = next((j for j, (a, b) in enumerate(zip(seq[1:], path[1:])) if a != b), min(len(seq) - 1, hops))
    return right, (len(seq) - 1 - hops if right == hops else 0)


def chain_steps(completions: list[str], **columns) -> list[float | None]:
    """`arrow_steps` counting only the hops written as one chain (`chained`), closed thinking or not. None on rows
    that are not an arrows walk.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> chain_steps(["<think>23 -> 57 -> 36 -> 90</think><answer>90</answer>", "<think>23 -> 57\\n57 -> 36</think>",
    ...              "<think>\\n23 -> 57 -> 36", "x"], meta=[meta, meta, meta, {"after": 0}])
    [1.0, 0.3333333333333333, 0.6666666666666666, None]
    """
    def share(completion: str, path: list[int]) -> float:
        right, extra = chained(completion.split("<think>", 1)[-1].split("</think>", 1)[0], path)
        return max(0, right - extra) / (len(path) - 1)

    return _per_walk(completions, columns, share)


def closed_chain_steps(completions: list[str], **columns) -> list[float | None]:
    """`closed_arrow_steps` counting only the hops written as one chain (`chained`): "23 -> 57 -> 36", not
    "23 -> 57\\n41 -> 36". None on rows that are not an arrows walk.

    Why (issue 19, session 35): the questions list the arrows as pairs ("23 -> 57, 41 -> 36, ..."), and the seed that
    failed moved up on a pair-per-line copy, "23 -> 57" then the next listed pair, one right hop in two. In a chain
    the number after "57 ->" is the one the question writes after "57 ->", a content match a copy of the
    last two tokens finds; after a line break the next pair's start is free, and the listed order fills it.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> closed_chain_steps(["<think>23 -> 57 -> 36 -> 90</think><answer>90</answer>", "<think>23 -> 57\\n57 -> 36</think>",
    ...                     "<think>23 -> 57 -> 36 -> 90", "x"], meta=[meta, meta, meta, {"after": 0}])
    [1.0, 0.3333333333333333, 0.0, None]
    """
    return _when_closed(completions, chain_steps(completions, **columns))


def _when_closed(completions: list[str], scores: list[float | None]) -> list[float | None]:
    """Each score where `</think>` closes the thinking, 0.0 where it does not, None kept."""
    return [None if s is None else s * (thinking_text(c) is not None) for c, s in zip(completions, scores)]


def _per_walk(completions: list[str], columns: dict, score) -> list[float | None]:
    """score(completion, path) on arrows rows (their meta has the walk's `path`), None on every other row."""
    return [None if not meta or not meta.get("path") else score(completion, [int(v) for v in meta["path"]])
            for completion, meta in zip(completions, _metas(completions, columns))]


def whole_walk(completions: list[str], **columns) -> list[float | None]:
    """1.0 when the closed thinking writes the whole walk in order from its start and no number past its end
    (`walked`), else 0.0; None on rows that are not an arrows walk. The gate of `walked_answer`
    (rewards/registry.py), which multiplies it by the task verifier's strict accuracy.

    >>> meta = {"path": [23, 57, 36, 90]}
    >>> whole_walk(["<think>23 -> 57 -> 36 -> 90</think><answer>90</answer>", "<think>23 -> 57</think><answer>90</answer>",
    ...             "<think>23 -> 57 -> 36 -> 90", "x"], meta=[meta, meta, meta, {"after": 0}])
    [1.0, 0.0, 0.0, None]
    """
    def whole(completion: str, path: list[int]) -> float:
        thinking = thinking_text(completion)
        return float(thinking is not None and walked(thinking, path) == (len(path) - 1, 0))

    return _per_walk(completions, columns, whole)


def whole_chain(completions: list[str], **columns) -> list[float | None]:
    """`whole_walk` with the walk written as one chain (`chained`): the gate of `chained_answer`.

    >>> meta = {"path": [23, 57, 36]}
    >>> whole_chain(["<think>23 -> 57 -> 36</think><answer>36</answer>", "<think>23 -> 57\\n57 -> 36</think><answer>36</answer>"],
    ...             meta=[meta, meta])
    [1.0, 0.0]
    """
    def whole(completion: str, path: list[int]) -> float:
        thinking = thinking_text(completion)
        return float(thinking is not None and chained(thinking, path) == (len(path) - 1, 0))

    return _per_walk(completions, columns, whole)
