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
from typing import Callable

# command -> ("module" whose main(argv) runs it, or "module:function"; one line of help)
COMMANDS = {
    "train": ("reasonrl.train.cli", "RL training (GRPO family) from verified rewards"),
    "eval": ("reasonrl.eval.cli", "pass@k / maj@k evaluation on held-out problems"),
    "score": ("reasonrl.rewards.cli", "score completion/reference rows with the verifiers"),
    "sample": ("reasonrl.distill.cli:sample_main", "rejection sampling: keep verified reasoning traces"),
    "sft": ("reasonrl.distill.cli:sft_main", "supervised fine-tuning on traces"),
    "distill": ("reasonrl.distill.cli:distill_main", "teacher -> student distillation"),
    "serve": ("reasonrl.serve.cli", "OpenAI-compatible server with reasoning_content"),
    "report": ("reasonrl.report.cli", "HTML report of one run or two runs overlaid"),
    "export": ("reasonrl.export.cli", "GGUF (llama.cpp/Ollama/LM Studio) or HF folder + model card"),
}


def exit_code(prog: str, work: Callable[[], object]) -> int:
    """Run a command's `work`: 0 when it returns (or the exit code it returns, an int); 2 with ONE line `prog: what is wrong` on stderr when the
    settings or the input are bad (a ConfigError, a pydantic ValidationError, any ValueError, a missing file).
    Anything else is a bug and keeps its traceback."""
    from pydantic import ValidationError

    try:
        out = work()
    except ValidationError as e:   # before ValueError: pydantic's is one, with a many-line message
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        print(f"{prog}: bad value for '{key}': {err.get('input')!r} ({err['msg']})", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:   # ConfigError is a ValueError
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    return out if type(out) is int else 0


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
    module, _, func = COMMANDS[cmd][0].partition(":")
    return int(getattr(importlib.import_module(module), func or "main")(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
