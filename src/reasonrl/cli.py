"""`reasonrl <command> ...`: a thin dispatcher; each stage owns its own argument parser.

    reasonrl train [CONFIG.yaml] [key.sub=value ...] [--resume RUN_DIR]
    reasonrl eval --model PATH_OR_RUN_DIR --task NAME_OR_FILE [--k 8] [--greedy]
    reasonrl score ROWS.jsonl
    reasonrl sample | sft | distill ...
    reasonrl serve --model PATH_OR_RUN_DIR
    reasonrl report RUN_DIR [RUN_DIR_B]
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("reasonrl.train.cli", "RL training (GRPO family) from verified rewards"),
    "eval": ("reasonrl.eval.cli", "pass@k / maj@k evaluation on held-out problems"),
    "score": ("reasonrl.rewards.cli", "score completion/reference rows with the verifiers"),
    "sample": ("reasonrl.train.sample_cli", "rejection sampling: keep verified reasoning traces"),
    "sft": ("reasonrl.train.sft_cli", "supervised fine-tuning on traces"),
    "distill": ("reasonrl.train.distill_cli", "teacher -> student distillation"),
    "serve": ("reasonrl.serve.cli", "OpenAI-compatible server with reasoning_content"),
    "report": ("reasonrl.report.cli", "HTML report of one run or two runs overlaid"),
    "export": ("reasonrl.export.cli", "GGUF (llama.cpp/Ollama/LM Studio) or HF folder + model card"),
}


def _usage() -> str:
    lines = ["usage: reasonrl <command> [args]", "", "commands:"]
    lines += [f"  {name:<8} {doc}" for name, (_, doc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        # `reasonrl` alone runs the default job: the newcomer's first command.
        if not argv:
            argv = ["train"]
        else:
            print(_usage())
            return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"reasonrl: unknown command '{cmd}'; valid: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[cmd][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
