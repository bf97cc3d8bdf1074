"""A control run's held-out eval grades accuracy, not the control's own reward (format only, a coin)."""
from __future__ import annotations

from types import SimpleNamespace

from reasonrl.config.schema import Config
from reasonrl.train.loop import accuracy_runner

RIGHT = "<think>\n7</think>\n<answer>7</answer>"
WRONG = "<think>\n7</think>\n<answer>8</answer>"   # well formed, wrong: format_reasoned may pay it, accuracy does not


def trainer(funcs: list[str]):
    cfg = Config.model_validate({"reward": {"funcs": funcs, "weights": [1.0] * len(funcs)}})
    return SimpleNamespace(cfg=cfg, runner="the run's own runner")


def test_a_run_that_pays_accuracy_is_graded_by_its_own_runner():
    with accuracy_runner(trainer(["accuracy_strict", "format_reasoned"])) as runner:
        assert runner == "the run's own runner"


def test_format_only_and_random_controls_are_graded_for_accuracy():
    for funcs in (["format_reasoned"], ["random@0.5"]):
        with accuracy_runner(trainer(funcs)) as runner:
            result = runner([RIGHT, WRONG], answer=["7", "7"], question=["q", "q"])
            assert list(result.per_func) == ["accuracy"], funcs
            assert result.per_func["accuracy"] == [1.0, 0.0], funcs
