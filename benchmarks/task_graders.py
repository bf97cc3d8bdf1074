"""Audit: does our `accuracy` reward agree with each reasoning-gym task's own grader? One run, no model.

    python benchmarks/task_graders.py                       # 300 entries of each task below
    python benchmarks/task_graders.py --n 50 --tasks countdown puzzle24

For N entries of each task (generated as `reasonrl train` would: `task.kwargs: null` = the easy preset),
candidate answers are built: the reference, an off-by-one (the number, or an expression's last number),
reformatted ones (`12.0`, `1,234`; an expression without spaces or in parentheses), and where the task
has a target the target alone and two hacks (`target + 0`; puzzle24 `1*2*3*4`). Each is written two ways,
`<think>…</think><answer>X</answer>` (strict) and "… The final answer is X." (lenient), scored by
`REWARDS["accuracy"]`, and compared with the dataset's own `score_answer(X, entry) == 1.0`. The old rule
(`verify` on values, or the gym grader) is scored beside it, to show what the task's grader changed.
A disagreement explained by one of our two deliberate departures (verifiers.py: an answer the grader would
run as code; puzzle24 answers not using the puzzle's numbers) is listed with that reason; any other is
UNEXPLAINED. Ends with `agreement=… explained=… unexplained=… old_agreement=… rows=…`.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

from reasonrl.eval.heldout import reward_columns
from reasonrl.rewards import REWARDS, extract_answer, verify
from reasonrl.rewards.verifiers import _GRADER_GAPS, gym_answer_safe
from reasonrl.tasks.gym_source import iter_gym, make_gym_dataset
from reasonrl.tasks.load import EASY_PRESETS

# chain_sum: every shipped config; basic_arithmetic: the other easy preset (tasks/load.py); countdown and
# puzzle24: the "construct an expression" tasks of issue 23; products, simple_equations: docs/FINDINGS.
TASKS = ["chain_sum", "basic_arithmetic", "countdown", "puzzle24", "products", "simple_equations"]


def _bump_last_int(text: str) -> str:
    """The text with its last integer one larger: a near miss of the same shape."""
    matches = list(re.finditer(r"\d+", text))
    if not matches:
        return text + "1"
    m = matches[-1]
    return text[:m.start()] + str(int(m.group()) + 1) + text[m.end():]


def candidates(entry: dict) -> list[tuple[str, str]]:
    """(kind, answer text) pairs for one entry."""
    ref = str(entry["answer"])
    out = [("reference", ref), ("off_by_one", _bump_last_int(ref))]
    if re.fullmatch(r"-?\d+", ref):
        out += [("reformatted", ref + ".0"), ("reformatted", f"{int(ref):,}"), ("reformatted", f"+{ref}".replace("+-", "-0"))]
    else:
        out += [("reformatted", ref.replace(" ", "")), ("reformatted", f"({ref})")]
    meta = entry["metadata"]
    target = meta.get("target", 24 if meta.get("source_dataset") == "puzzle24" else None)
    if target is not None:
        out += [("target_alone", str(target)), ("hack", f"{target} + 0")]
    if meta.get("source_dataset") == "puzzle24":
        out.append(("hack", "1*2*3*4"))
    return out


def reason(name: str, answer: str | None, entry: dict) -> str:
    """Why our reward may rightly differ from the gym grader on this answer, or UNEXPLAINED."""
    if answer is not None and not gym_answer_safe(name, answer):
        return "refused: the grader would run it as code"
    gap = _GRADER_GAPS.get(name)
    if answer is not None and gap is not None and not gap(answer, entry):
        return f"{name}'s grader does not check the given numbers are the ones used"
    return "UNEXPLAINED"


def audit(name: str, n: int, seed: int) -> dict:
    kwargs = EASY_PRESETS.get(name, {})
    grader = make_gym_dataset(name, n, seed, kwargs).score_answer  # the dataset that made the entries
    rows = []
    for p in iter_gym(name, n, seed, kwargs):
        for kind, ans in candidates(p.entry):
            rows.append((p, kind, f"<think>Let me check.</think><answer>{ans}</answer>", False))
            rows.append((p, kind, f"Let me check. The final answer is {ans}.", True))
    stats, old_kinds = Counter(), Counter()
    disagreements = []
    for lenient in (False, True):
        part = [r for r in rows if r[3] == lenient]
        ours = REWARDS["accuracy"]([r[2] for r in part], **reward_columns([r[0] for r in part], 1, lenient))
        for (p, kind, completion, _), score in zip(part, ours):
            answer = extract_answer(completion, lenient=lenient)
            gym_ok = answer is not None and grader(answer, p.entry) == 1.0
            old_ok = verify(completion, p.answer, lenient=lenient, timeout_s=5.0) or gym_ok
            stats["rows"] += 1
            stats["agree"] += (score == 1.0) == gym_ok
            stats["old_agree"] += old_ok == gym_ok
            if old_ok != gym_ok:
                old_kinds[f"{kind} (old={int(old_ok)})"] += 1
            if (score == 1.0) != gym_ok:
                why = reason(name, answer, p.entry)
                stats["unexplained"] += why == "UNEXPLAINED"
                disagreements.append((kind, answer, score, gym_ok, why))
    return {"stats": stats, "disagreements": disagreements, "old_kinds": old_kinds}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="entries per task")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--show", type=int, default=5, help="disagreements printed per (task, reason)")
    args = ap.parse_args(argv)
    total = Counter()
    print(f"{'task':<18} {'rows':>6} {'ours=gym':>9} {'old=gym':>8} {'unexplained':>12}")
    results = {}
    for name in args.tasks:
        results[name] = res = audit(name, args.n, args.seed)
        s = res["stats"]
        total.update(s)
        print(f"{name:<18} {s['rows']:>6} {s['agree'] / s['rows']:>9.1%} {s['old_agree'] / s['rows']:>8.1%} "
              f"{s['unexplained']:>12}", flush=True)
    for name, res in results.items():
        shown = Counter()
        for kind, answer, score, gym_ok, why in res["disagreements"]:
            shown[why] += 1
            if shown[why] <= args.show:
                print(f"  {name}: {kind:<12} {answer!r:<28} ours={score:.0f} gym={int(gym_ok)}  {why}")
        for why, count in shown.items():
            print(f"  {name}: {count} disagreement(s): {why}")
        if res["old_kinds"]:
            print(f"  {name}: the old rule disagreed on " + ", ".join(f"{k}: {v}" for k, v in res["old_kinds"].items()))
    print(f"agreement={total['agree'] / total['rows']:.4f} explained={total['rows'] - total['agree'] - total['unexplained']} "
          f"unexplained={total['unexplained']} "
          f"old_agreement={total['old_agree'] / total['rows']:.4f} rows={total['rows']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
