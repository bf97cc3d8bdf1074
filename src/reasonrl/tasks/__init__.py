"""Where problems and prompts come from: task sources (reasoning-gym, local JSONL/Parquet,
zh_arithmetic), the train/held-out split, and the prompt templates.

    from reasonrl.tasks import load_task, render_prompt
    splits = load_task(cfg.task)
    text, prefill = render_prompt(tokenizer, splits.train[0], cfg.task.template, cfg.task.lang)
"""
from reasonrl.tasks.load import load_task
from reasonrl.tasks.problem import Problem
from reasonrl.tasks.prompts import TEMPLATES, render_prompt
from reasonrl.tasks.splits import TaskSplits, check_no_overlap

__all__ = ["Problem", "TaskSplits", "load_task", "render_prompt", "check_no_overlap", "TEMPLATES"]
