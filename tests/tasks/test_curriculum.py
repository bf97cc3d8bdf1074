"""The difficulty curriculum: levels from their own kwargs, none of them held out, a level-up at the
rolling threshold, logged as curriculum/level, kept across a resume."""
from __future__ import annotations

import json
import re

import pytest

from reasonrl.config import ConfigError, load_config
from reasonrl.config.schema import CurriculumConfig, TaskConfig
from reasonrl.tasks import load_task
from reasonrl.tasks.curriculum import Curriculum, build_curriculum
from reasonrl.tasks.problem import normalize_question
from reasonrl.train.loop import main

LEVELS = [{"min_terms": n, "max_terms": n, "min_digits": 1, "max_digits": 1} for n in (2, 3, 4)]


def _terms(question: str) -> int:
    return len(re.findall(r"\d+", question.split(":")[-1]))


def test_levels_use_their_own_kwargs_and_never_a_heldout_question():
    # the target is the 2-term task, which is also level 0: 1-digit 2-term sums repeat a lot, so many of
    # level 0's questions are held-out ones and must be dropped
    task = TaskConfig(name="chain_sum", kwargs=LEVELS[0], num_train=200, num_heldout=60,
                      curriculum=CurriculumConfig(levels=LEVELS))
    held = load_task(task).heldout
    c = build_curriculum(task, held)
    assert [sorted({_terms(p.question) for p in level}) for level in c.levels] == [[2], [3], [4]]
    keys = {normalize_question(p.question) for p in held}
    assert all(normalize_question(p.question) not in keys for level in c.levels for p in level)
    assert len(c.levels[0]) < 201 and len(c.levels[2]) == 201   # level 0 lost its held-out duplicates
    assert c.levels[0][0].id.startswith("chain_sum:1042:") and c.levels[1][0].id.startswith("chain_sum:2042:")


def test_level_up_needs_a_full_window_at_the_threshold():
    c = Curriculum(levels=[[], []], threshold=0.7, window=3)
    assert [c.observe(a) for a in (1.0, 1.0)] == [False, False]       # mean 1.0, but the window is not full
    # rolling means 2/3, 2/3, 2/3 (< 0.7), then 1.0: only the last one levels up
    assert [c.observe(a) for a in (0.0, 1.0, 1.0, 1.0)] == [False, False, False, True] and c.level == 1


def test_threshold_is_inclusive_and_levels_stop_at_the_last():
    c = Curriculum(levels=[[], []], threshold=0.5, window=2)
    assert [c.observe(a) for a in (0.25, 0.75)] == [False, True] and c.level == 1
    assert [c.observe(a) for a in (1.0, 1.0, 1.0)] == [False, False, False] and c.level == 1
    c2 = Curriculum(levels=[[], []], threshold=0.5, window=2)
    c2.load_state(c.state())
    assert (c2.level, list(c2.recent)) == (1, [1.0, 1.0])


def test_a_schedule_levels_up_at_its_steps_whatever_the_accuracy():
    c = Curriculum(levels=[[], [], []], threshold=0.7, window=1, schedule=[2, 3])
    assert [c.observe(1.0, step) for step in (1, 2, 3, 4)] == [False, True, True, False] and c.level == 2
    c = Curriculum(levels=[[], []], threshold=0.7, window=1, schedule=[5])
    assert [c.observe(1.0, step) for step in (1, 2, 3)] == [False] * 3 and c.level == 0


def test_bad_curricula_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="task.curriculum.levels"):
        load_config(None, ["task.curriculum={levels: []}"])
    with pytest.raises(ConfigError, match="schedule has 2 steps for 2 levels"):
        load_config(None, ["task.curriculum={levels: [{}, {}], schedule: [3, 4]}"])


def _cfg(tmp_path, tiny_model_dir, run, reward, steps, *extra):
    return load_config(None, [
        f"run_dir={tmp_path / run}", f"model.path={tiny_model_dir}", "task.name=chain_sum", "task.num_train=30",
        "task.num_heldout=4", f"task.kwargs={json.dumps(LEVELS[2])}",
        f"task.curriculum={json.dumps({'levels': LEVELS, 'threshold': 0.7, 'window': 1})}",
        "rollout.num_generations=2", "rollout.prompts_per_step=2", "rollout.max_new_tokens=4",
        f"reward.funcs=[{reward}]", f"train.max_steps={steps}", "train.eval_before_after=false",
        "train.log_samples_every=1", "train.max_minutes=null", "train.save_every=1", *extra])


def _levels_seen(run_dir):
    lines = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
    samples = [json.loads(l) for l in (run_dir / "samples.jsonl").read_text().splitlines()]
    terms = {}
    for s in samples:
        terms.setdefault(s["step"], set()).add(_terms(s["question"]))
    return [l["curriculum/level"] for l in lines], [sorted(terms[st]) for st in sorted(terms)]


def test_loop_levels_up_logs_the_level_and_resumes_at_it(tmp_path, tiny_model_dir):
    # random@1.0 pays every sample: accuracy 1.0 each step, so each step passes the 0.7 threshold
    main(_cfg(tmp_path, tiny_model_dir, "up", "random@1.0", 2))
    cfg = load_config(tmp_path / "up" / "config.yaml", ["train.max_steps=4"])
    main(cfg, resume=tmp_path / "up")
    levels, terms = _levels_seen(tmp_path / "up")
    assert levels == [0, 1, 2, 2] and terms == [[2], [3], [4], [4]]
    # random@0.0 pays nothing: the curriculum stays on level 0
    main(_cfg(tmp_path, tiny_model_dir, "flat", "random@0.0", 3))
    assert _levels_seen(tmp_path / "flat") == ([0, 0, 0], [[2], [2], [2]])


def test_each_level_trains_with_its_own_reward_weights_and_a_resume_keeps_them(tmp_path, tiny_model_dir):
    # random@1.0 pays 1 per sample, so a step's mean reward is the weight its level gives it
    main(_cfg(tmp_path, tiny_model_dir, "lw", "random@1.0", 2, "reward.level_weights=[[1.0], [3.0], [0.5]]"))
    main(load_config(tmp_path / "lw" / "config.yaml", ["train.max_steps=3"]), resume=tmp_path / "lw")
    lines = [json.loads(l) for l in (tmp_path / "lw" / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
    assert [(l["curriculum/level"], l["reward/mean"]) for l in lines] == [(0, 1.0), (1, 3.0), (2, 0.5)]


def test_the_level_up_reads_the_metric_the_curriculum_names(tmp_path, tiny_model_dir):
    # two coins, one always paying and one never: the level moves only when the metric read is the paying one
    funcs = '"random@0.0","random@1.0"'
    for run, fn, want in (("pays", "random@1.0", [0, 1, 2]), ("silent", "random@0.0", [0, 0, 0])):
        cur = {"levels": LEVELS, "threshold": 0.7, "window": 1, "metric": f"reward/fn/{fn}"}
        main(_cfg(tmp_path, tiny_model_dir, run, funcs, 3, f"task.curriculum={json.dumps(cur)}"))
        lines = [json.loads(l) for l in (tmp_path / run / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
        assert [l["curriculum/level"] for l in lines] == want
        assert [(l["reward/fn/random@0.0"], l["reward/fn/random@1.0"]) for l in lines] == [(0.0, 1.0)] * 3


def test_a_list_of_metrics_moves_up_only_on_steps_where_every_one_passes(tmp_path, tiny_model_dir):
    # the paying coin alone moves the level each step; listed with the silent coin (the step's lowest is 0) it never
    # does: a walk written without the format must not pass a rule that names both (session 33's cc02-s2)
    funcs = '"random@0.0","random@1.0"'
    for run, metric, want in (("one", ["reward/fn/random@1.0"], [0, 1, 2]),
                              ("both", ["reward/fn/random@1.0", "reward/fn/random@0.0"], [0, 0, 0])):
        cur = {"levels": LEVELS, "threshold": 0.7, "window": 1, "metric": metric}
        main(_cfg(tmp_path, tiny_model_dir, run, funcs, 3, f"task.curriculum={json.dumps(cur)}"))
        lines = [json.loads(l) for l in (tmp_path / run / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
        assert [l["curriculum/level"] for l in lines] == want


def test_every_metric_of_a_list_must_be_logged():
    for metric, msg in ((["format/rate", "reward/fn/arrow_step"], "'reward/fn/arrow_step' is not a logged train metric"),
                        ([], "is an empty list")):
        cur = {"levels": LEVELS, "metric": metric}
        with pytest.raises(ConfigError, match=msg) as e:
            load_config(None, [f"task.curriculum={json.dumps(cur)}", "reward.funcs=[accuracy_strict,arrow_steps]"])
        assert "\n" not in str(e.value)
    cur = {"levels": LEVELS, "metric": ["format/rate", "reward/fn/arrow_steps"]}
    cfg = load_config(None, [f"task.curriculum={json.dumps(cur)}", "reward.funcs=[accuracy_strict,arrow_steps]"])
    assert cfg.task.curriculum.metrics == ["format/rate", "reward/fn/arrow_steps"]


def test_a_control_with_a_schedule_runs_without_the_metric_it_names(tmp_path, tiny_model_dir):
    # a control copies the real config (metric reward/fn/random@1.0) with its own reward.funcs, which do not log that
    # metric: the schedule moves the level, the metric is never read (session 30's format-only control crashed here)
    cur = {"levels": LEVELS, "threshold": 0.7, "window": 1, "metric": "reward/fn/random@1.0", "schedule": [2, 3]}
    main(_cfg(tmp_path, tiny_model_dir, "ctl", "random@0.0", 3, f"task.curriculum={json.dumps(cur)}"))
    lines = [json.loads(l) for l in (tmp_path / "ctl" / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
    # the level a step trained on: the move after step 2 (schedule [2, 3]) shows at step 3
    assert [l["curriculum/level"] for l in lines] == [0, 0, 1] and "reward/fn/random@1.0" not in lines[0]


def test_a_curriculum_metric_that_is_not_logged_is_a_one_line_error():
    cur = {"levels": LEVELS, "metric": "reward/fn/arrow_step"}
    with pytest.raises(ConfigError, match=r"task.curriculum.metric 'reward/fn/arrow_step' is not a logged train metric; "
                                          r"valid: acc/mean, .*reward/fn/arrow_steps") as e:
        load_config(None, [f"task.curriculum={json.dumps(cur)}", "reward.funcs=[accuracy_strict,arrow_steps]"])
    assert "\n" not in str(e.value)


def test_level_weights_must_fit_the_levels_and_the_funcs(tmp_path):
    with pytest.raises(ConfigError, match="needs task.curriculum"):
        load_config(None, ["reward.level_weights=[[1.0]]"])
    with pytest.raises(ConfigError, match="2 lists for 3 curriculum levels"):
        load_config(None, [f"task.curriculum={json.dumps({'levels': LEVELS})}", "reward.level_weights=[[1.0], [2.0]]"])
    with pytest.raises(ConfigError, match=r"level_weights\[1\] has 2 weights for 1 reward.funcs"):
        load_config(None, [f"task.curriculum={json.dumps({'levels': LEVELS})}",
                           "reward.level_weights=[[1.0], [2.0, 1.0], [1.0]]"])
    # a control's new funcs drop the file's per-level weights, as they drop its weights
    f = tmp_path / "c.yaml"
    f.write_text(json.dumps({"task": {"curriculum": {"levels": LEVELS[:2]}},
                             "reward": {"funcs": ["accuracy"], "level_weights": [[1.0], [2.0]]}}))
    assert load_config(f).reward.level_weights == [[1.0], [2.0]]
    control = load_config(f, ['reward.funcs=[accuracy_strict,"random@0.5"]', "reward.weights=[0.0,2.0]"])
    assert control.reward.level_weights is None and control.reward.weights == [0.0, 2.0]


def test_a_hinted_copy_of_a_heldout_question_is_dropped():
    # 3-item lists make the two-lookup space small, so a hinted train row often repeats a held-out list
    target = {"min_len": 3, "max_len": 3, "min_pos": 1, "hops": 2}
    task = TaskConfig(name="nth_number", kwargs=target, num_train=300, num_heldout=40,
                      curriculum=CurriculumConfig(levels=[{**target, "hint": 100}, target]))
    held = {normalize_question(p.question) for p in load_task(task).heldout}
    c = build_curriculum(task, load_task(task).heldout)
    assert all(p.meta["hint"] and "Hint: its" in p.question for p in c.levels[0])
    assert all(normalize_question(p.meta["base_question"]) not in held for p in c.levels[0])
    assert len(c.levels[0]) < 301                                  # some were held-out copies and went
