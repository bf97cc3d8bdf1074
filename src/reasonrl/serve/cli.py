"""`reasonrl serve`: an OpenAI-compatible server with `reasoning_content`, and a chat page at `/`.

    reasonrl serve runs/default30                # a run: its latest checkpoint, prompted as it was trained
    reasonrl serve exported/ --port 8001         # an exported folder (`reasonrl export --format hf`) or FILE.gguf
    reasonrl serve --model PATH --plain-chat --prefill-think   # the tokenizer's chat template + "<think>\\n"
    reasonrl serve --engine vllm --model PATH               # GPU machines with `pip install 'reasonrl[gpu]'`

Then: `curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
      -d '{"messages": [{"role": "user", "content": "What is 7*6?"}]}'` (docs/serve.md has more).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys

from reasonrl.serve import security
from reasonrl.tasks.prompts import TEMPLATES

ENGINES = ("hf", "vllm")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reasonrl serve", description=__doc__.split("\n")[0])
    p.add_argument("model_pos", nargs="?", metavar="MODEL", help="run directory, HF folder or .gguf file (= --model)")
    p.add_argument("--model", default=None, help="HF folder or run directory (default: SmolLM2-135M-Instruct)")
    p.add_argument("--host", default="127.0.0.1", help="bind address; 0.0.0.0 exposes it to the network")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-name", default=None, help="model id in /v1/models (default: the folder name)")
    p.add_argument("--prefill-think", action=argparse.BooleanOptionalAction, default=None,
                   help='end the prompt with "<think>\\n" (default: as the run trained); text before </think> is reasoning')
    p.add_argument("--plain-chat", action="store_true",
                   help="ignore the run's prompt settings: the tokenizer's chat template as is")
    p.add_argument("--template", choices=TEMPLATES, default=None,
                   help="prompt template (default: the run's task.template)")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default=None,
                   help="instruction language (default: the run's; auto = Chinese for a Chinese question)")
    p.add_argument("--system", default=None, help="system message when a request has none (default: the tokenizer's)")
    p.add_argument("--stop", action="append", default=None, metavar="TEXT",
                   help="stop string applied to every request (repeatable; default: the run's rollout.stop)")
    p.add_argument("--engine", choices=ENGINES, default="hf", help="hf: transformers (CPU/GPU); vllm: GPU")
    p.add_argument("--max-batch", type=int, default=8, help="requests generated together in one batch")
    p.add_argument("--max-queue", type=int, default=64, help="waiting requests beyond this get HTTP 429")
    p.add_argument("--dtype", default="float32", help="torch dtype for the hf engine (bfloat16 halves memory)")
    security.add_arguments(p)  # --api-key, --allow-no-key, --max-body-bytes, --request-timeout
    return p


def served_name(model_path, override: str | None) -> str:
    """The id clients must send: `--served-name`, else the run directory or model folder name."""
    if override:
        return override
    parts = model_path.parts
    if "checkpoints" in parts:  # runs/NAME/checkpoints/step_000100 -> NAME
        return parts[parts.index("checkpoints") - 1]
    return model_path.name


def make_profile(args, model_path):
    """How prompts are built: the run's settings (serve/profile.py), then the flags on top."""
    from reasonrl.serve.profile import PLAIN_CHAT, profile_for_model, profile_from_template

    try:
        profile = PLAIN_CHAT if args.plain_chat else profile_for_model(model_path)
    except Exception as e:  # a broken config.yaml beside the model: say which, don't serve the wrong prompt
        raise SystemExit(f"reasonrl serve: cannot read the run config beside {model_path}: {e}") from None
    if args.template is not None:
        profile = profile_from_template(args.template, base=profile)
    prefill = None if args.prefill_think is None else ("<think>\n" if args.prefill_think else "")
    stop = None if args.stop is None else tuple(args.stop)
    return profile.override(lang=args.lang, system=args.system, stop=stop, prefill=prefill)


def make_engine(args):
    """Load the model and build the engine that `args.engine` names; one-line SystemExit on failure."""
    from reasonrl.model import ModelNotFound, resolve_model_path

    try:
        path = resolve_model_path(args.model)
    except ModelNotFound as e:
        raise SystemExit(f"reasonrl serve: {e}") from None
    name = served_name(path, args.served_name)
    if args.engine == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise SystemExit("reasonrl serve: --engine vllm needs the vllm package, which is not installed "
                             "(on a CUDA machine: pip install 'reasonrl[gpu]'); use --engine hf on CPU")
        from reasonrl.serve.engine_vllm import VLLMEngine

        return VLLMEngine(path, name=name, max_queue=args.max_queue)
    from reasonrl.model import load_model
    from reasonrl.serve.engine import HFEngine

    model, tok, _ = load_model(path, dtype=args.dtype)
    return HFEngine(model, tok, name=name, max_batch=args.max_batch, max_queue=args.max_queue)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.model_pos and args.model and args.model_pos != args.model:
        raise SystemExit(f"reasonrl serve: two models given ({args.model_pos}, --model {args.model}); give one")
    args.model = args.model or args.model_pos
    guard = security.app_kwargs(args)  # before loading the model: an exposed bind without a key fails at once
    import uvicorn

    from reasonrl.serve.app import create_app

    from reasonrl.model import ModelNotFound, resolve_model_path

    try:
        profile = make_profile(args, resolve_model_path(args.model))
    except ModelNotFound as e:
        raise SystemExit(f"reasonrl serve: {e}") from None
    engine = make_engine(args)
    print(f"reasonrl serve: '{engine.name}' on http://{args.host}:{args.port}/ (chat page at /); prompts: "
          f"{profile.describe()}", file=sys.stderr)
    try:
        uvicorn.run(create_app(engine, profile=profile, **guard), host=args.host, port=args.port, log_level="warning")
    finally:
        engine.close()
    return 0
