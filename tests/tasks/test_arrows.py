"""arrows: the answer is the end of the walk from the start, other chains never join it, bad kwargs fail in one line."""
from __future__ import annotations

import pytest

from reasonrl.config.schema import TaskConfig
from reasonrl.tasks import load_task
from reasonrl.tasks.arrows import iter_arrows


def _arrows(question: str) -> dict[int, int]:
    listed = question.split("Arrows: ")[1].split(". Start")[0]
    return dict((int(a), int(b)) for a, b in (pair.split(" -> ") for pair in listed.split(", ")))


def test_following_the_question_arrows_from_the_start_reaches_the_answer():
    probs = list(iter_arrows(300, seed=4))
    for p in probs:
        arrows, path = _arrows(p.question), p.meta["path"]
        assert len(arrows) == len(p.meta["arrows"])                        # every source has one arrow
        at, walk = path[0], [path[0]]
        while at in arrows:
            at = arrows[at]
            walk.append(at)
        assert walk == path and p.answer == str(at) and f"Start at {path[0]} " in p.question
        sinks = set(arrows.values()) - set(arrows)                          # the numbers no arrow leaves
        assert len(sinks) == 3 and at in sinks and arrows[path[0]] != at   # one end per chain; one hop never answers
        assert all(10 <= v <= 99 for v in (*arrows, *arrows.values()))
    assert {len(p.meta["path"]) - 1 for p in probs} == {2, 3}
    assert len({p.question.split(", ")[0] for p in probs}) > 250            # shuffled: the walk's arrow is not always first


def test_same_seed_same_problems_and_heldout_never_trained_on():
    a = load_task(TaskConfig(name="arrows", num_train=50, num_heldout=20, seed=1))
    b = load_task(TaskConfig(name="arrows", num_train=50, num_heldout=20, seed=1))
    assert [p.question for p in a.train] == [p.question for p in b.train]
    assert not {p.question for p in a.heldout} & {p.question for p in a.train}
    assert all(p.verifier == "math" and p.task == "arrows" for p in a.train)


@pytest.mark.parametrize("kwargs, match", [({"hops": 3}, "unknown kwargs"), ({"min_hops": 1}, "2 <= min_hops"),
                                           ({"min_hops": 4, "max_hops": 3}, "min_hops <= max_hops"),
                                           ({"chains": 9}, "chains"), ({"start_first": 9}, "start_first"),
                                           ({"second_elsewhere": 1}, "needs start_first=1"),
                                           ({"second_elsewhere": 2, "start_first": 1}, "second_elsewhere is 0 or 1"),
                                           ({"inorder_pct": 101}, "inorder_pct")])
def test_bad_kwargs_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_task(TaskConfig(name="arrows", kwargs=kwargs, num_train=5, num_heldout=2))


def test_start_first_lists_the_walks_first_arrow_first_and_keeps_the_rest_shuffled():
    plain = list(iter_arrows(100, seed=2))
    first = list(iter_arrows(100, seed=2, kwargs={"start_first": 1}))
    for p in first:
        path = p.meta["path"]
        assert p.question.startswith(f"Arrows: {path[0]} -> {path[1]}, ") and p.meta["arrows"][0] == path[:2]
        assert p.answer == str(path[-1])
    assert sum(p.question.startswith(f"Arrows: {p.meta['path'][0]} -> ") for p in plain) < 50   # by chance: 1 in 4-7
    assert sorted(map(tuple, first[0].meta["arrows"])) == sorted(map(tuple, plain[0].meta["arrows"]))  # same arrows


@pytest.mark.parametrize("k", [2, 3, 8])
def test_start_first_k_lists_the_walks_first_k_arrows_in_walk_order_then_the_rest_as_before(k):
    plain = list(iter_arrows(60, seed=5, kwargs={"min_hops": 2, "max_hops": 4}))
    led = list(iter_arrows(60, seed=5, kwargs={"min_hops": 2, "max_hops": 4, "start_first": k}))
    for p, q in zip(plain, led):
        path, arrows = q.meta["path"], [tuple(a) for a in q.meta["arrows"]]
        n = min(k, len(path) - 1)
        assert path == p.meta["path"] and q.answer == p.answer
        assert arrows[:n] == list(zip(path, path[1:]))[:n]            # the walk's first n hops lead, in order
        assert arrows[n:] == [tuple(a) for a in p.meta["arrows"] if tuple(a) not in arrows[:n]]   # the rest: as shuffled
        assert q.question.startswith("Arrows: " + ", ".join(f"{a} -> {b}" for a, b in arrows[:n]))
    assert any(len(q.meta["path"]) - 1 > k for q in led) == (k < 4)   # k below the hops leaves the later hops to find


def test_second_elsewhere_never_lists_the_walks_second_arrow_second():
    kw = {"min_hops": 2, "max_hops": 3, "start_first": 1}
    plain = list(iter_arrows(200, seed=3, kwargs=kw))
    moved = list(iter_arrows(200, seed=3, kwargs={**kw, "second_elsewhere": 1}))
    second = lambda p: p.meta["arrows"][1] == p.meta["path"][1:3]
    assert sum(map(second, plain)) > 20                      # the shuffle lists it second 1 time in 3-6
    for p in moved:
        path, arrows = p.meta["path"], p.meta["arrows"]
        assert arrows[0] == path[:2] and not second(p) and p.answer == str(path[-1])
        assert path[1:3] in arrows                               # still listed, elsewhere
        assert p.question.startswith("Arrows: " + ", ".join(f"{a} -> {b}" for a, b in arrows[:2]))


def test_inorder_pct_lists_the_whole_walk_in_order_on_that_share_and_the_rest_as_before():
    kw = {"min_hops": 2, "max_hops": 3, "start_first": 1, "second_elsewhere": 1}
    mixed = list(iter_arrows(400, seed=4, kwargs={**kw, "inorder_pct": 50}))
    walk = lambda p: [tuple(a) for a in p.meta["arrows"][: len(p.meta["path"]) - 1]] == list(zip(p.meta["path"], p.meta["path"][1:]))
    second = lambda p: p.meta["arrows"][1] == p.meta["path"][1:3]
    inorder = [p for p in mixed if walk(p)]
    assert 160 <= len(inorder) <= 240                         # half, give or take the draw
    assert all(not second(p) for p in mixed if not walk(p))   # the rest: second_elsewhere still holds
    assert all(p.answer == str(p.meta["path"][-1]) for p in mixed)
    assert [p.question for p in iter_arrows(30, seed=4, kwargs={**kw, "inorder_pct": 0})] == \
        [p.question for p in iter_arrows(30, seed=4, kwargs=kw)]   # 0: the same stream as without the key
