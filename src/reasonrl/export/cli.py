"""`reasonrl export`: a trained model as a GGUF file, an Ollama folder, or a Hugging Face folder.

    reasonrl export runs/default30 --format gguf --quant q8_0     # runs/default30/export/default30-q8_0.gguf
    reasonrl export runs/default30 --format gguf --quant f32 --out model.gguf
    reasonrl export runs/default30 --format ollama                # export/ollama/: the GGUF + Modelfile
    reasonrl export runs/default30 --format hf --out my-reasoner  # safetensors, tokenizer, README.md card

Every format carries the prompt the run trained on (its instruction, the `<think>` prefill, the stop at
`</answer>`): see docs/export.md for running the result in llama.cpp, Ollama and LM Studio.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("gguf", "ollama", "hf")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="reasonrl export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="run directory (its latest checkpoint) or HF model folder")
    ap.add_argument("--format", choices=FORMATS, default="gguf", help="gguf file, ollama folder or hf folder")
    ap.add_argument("--quant", choices=["f32", "f16", "q8_0"], default="q8_0",
                    help="GGUF weight type (gguf/ollama); norms are always f32")
    ap.add_argument("--out", help="output file (gguf) or folder (ollama, hf); default: RUN_DIR/export/...")
    ap.add_argument("--name", help="model name in the metadata and the card (default: the run's folder name)")
    ap.add_argument("--lang", choices=["en", "zh"], help="instruction language of the exported chat template "
                    "(default: the run's task.lang, or its held-out questions' language when 'auto')")
    return ap


def run_dir_of(model_path: Path) -> Path | None:
    """The run directory a checkpoint belongs to (RUN/checkpoints/step_N), or None."""
    run = model_path.parent.parent
    return run if model_path.parent.name == "checkpoints" and (run / "config.yaml").is_file() else None


def template_lang(cfg) -> str:
    """'en'/'zh' for the exported template: fixed by the config, else the language of the run's questions."""
    if cfg.task.lang != "auto":
        return cfg.task.lang
    from reasonrl.tasks import load_task

    return load_task(cfg.task).heldout[0].lang


def default_out(fmt: str, quant: str, name: str, model_path: Path, run_dir: Path | None) -> Path:
    base = (run_dir or model_path.parent) / "export"
    return {"gguf": base / f"{name}-{quant}.gguf", "ollama": base / "ollama", "hf": base / "hf"}[fmt]


def export(a) -> list[Path]:
    from transformers import AutoConfig

    from reasonrl.config import load_config
    from reasonrl.export.gguf_file import gguf_arch, write_gguf
    from reasonrl.export.template import trained_chat_template
    from reasonrl.model import load_model, resolve_model_path
    from reasonrl.serve.profile import PLAIN_CHAT, find_run_config, profile_from_config

    model_path = resolve_model_path(a.model)
    run_dir = run_dir_of(model_path)
    name = a.name or (run_dir or model_path).name
    if a.format != "hf":  # fail before loading weights
        gguf_arch(AutoConfig.from_pretrained(model_path))
    cfg_path = find_run_config(model_path)
    cfg = load_config(cfg_path) if cfg_path else None
    profile = profile_from_config(cfg) if cfg else PLAIN_CHAT
    model, tok, _ = load_model(model_path)
    chat_template = tok.chat_template
    if profile.template is not None:
        chat_template = trained_chat_template(tok.chat_template, profile, a.lang or template_lang(cfg))
    out = Path(a.out) if a.out else default_out(a.format, a.quant, name, model_path, run_dir)
    config_yaml = cfg_path.read_text() if cfg_path else None
    extra = {"reasonrl.config": config_yaml} if config_yaml else {}
    if a.format == "gguf":
        return [write_gguf(model, tok, out, a.quant, chat_template=chat_template, name=name, extra=extra)]
    if a.format == "ollama":
        from reasonrl.export.ollama import write_modelfile

        gguf = write_gguf(model, tok, out / f"{name}-{a.quant}.gguf", a.quant, chat_template=chat_template,
                          name=name, extra=extra)
        return [gguf, write_modelfile(out, gguf, tok, chat_template, list(profile.stop))]
    from reasonrl.export.hf import card_from_run, write_hf_folder

    card = card_from_run(name, run_dir, [])
    return [write_hf_folder(model, tok, out, chat_template=chat_template, stops=list(profile.stop),
                            config_yaml=config_yaml, card=card)]


def _size(path: Path) -> str:
    n = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    from reasonrl.config import ConfigError
    from reasonrl.export.gguf_file import ExportError
    from reasonrl.model import ModelNotFound

    try:
        written = export(a)
    except (ExportError, ModelNotFound, ConfigError) as e:
        print(f"reasonrl export: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path} ({_size(path)})")
    return 0
