"""How faithful an exported GGUF is: a run's checkpoint exported to f32 and q8_0, loaded back with transformers.

    .venv/bin/python benchmarks/export_roundtrip.py runs/default30            # the default job's checkpoint
    .venv/bin/python benchmarks/export_roundtrip.py --model default           # the base model, no run needed

Figures, each against the checkpoint in the same run of this script: file sizes (and as a fraction of the
checkpoint's safetensors), the largest |logit difference| of the f32 file over every position of the
held-out prompts, and for q8_0 the greedy continuations of `--tokens` tokens that are equal on `--prompts`
held-out prompts, plus the top-1 agreement teacher-forced along the checkpoint's own continuation (so one
early flip does not hide how close the rest is). Accuracy is `reasonrl eval` (docs/export.md gives the
two commands). Ends with one key=value line.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def _greedy(model, ids: torch.Tensor, n: int, pad: int) -> torch.Tensor:
    out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=pad)
    return out[0, ids.shape[1]:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", help="run directory (its latest checkpoint and its held-out split)")
    ap.add_argument("--model", help="a model instead of a run ('default' = SmolLM2-135M-Instruct); the default "
                    "job's held-out split and template are used")
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--out", default=None, help="folder for the .gguf files (default: RUN/export or ./export)")
    a = ap.parse_args(argv)
    from transformers import AutoModelForCausalLM

    from reasonrl.config import load_config
    from reasonrl.export.cli import main as export_main
    from reasonrl.model import load_model, resolve_model_path
    from reasonrl.tasks import load_task, render_prompt
    from reasonrl.train.cli import DEFAULT_JOB

    spec = a.run or (None if a.model in (None, "default") else a.model)
    cfg = load_config(Path(a.run) / "config.yaml" if a.run else DEFAULT_JOB)
    path = resolve_model_path(spec)
    out = Path(a.out or (Path(a.run) / "export" if a.run else "export"))
    model, tok, _ = load_model(spec)
    model.eval()
    files = {}
    for quant in ("f32", "q8_0"):
        files[quant] = out / f"roundtrip-{quant}.gguf"
        t0 = time.perf_counter()
        args = [str(a.run or path), "--format", "gguf", "--quant", quant, "--out", str(files[quant])]
        if export_main(args) != 0:
            return 1
        print(f"export {quant}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    back = {q: AutoModelForCausalLM.from_pretrained(f.parent, gguf_file=f.name, dtype=torch.float32).eval()
            for q, f in files.items()}
    prompts = [render_prompt(tok, p, cfg.task.template, cfg.task.lang)[0]
               for p in load_task(cfg.task).heldout[: a.prompts]]
    diff, equal, agree, total = 0.0, 0, 0, 0
    with torch.no_grad():
        for text in prompts:
            ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
            diff = max(diff, (model(ids).logits - back["f32"](ids).logits).abs().max().item())
            ref = _greedy(model, ids, a.tokens, tok.pad_token_id)
            equal += bool(torch.equal(ref, _greedy(back["q8_0"], ids, a.tokens, tok.pad_token_id)))
            forced = torch.cat([ids[0], ref])[None]
            top1 = back["q8_0"](forced).logits[0, ids.shape[1] - 1:-1].argmax(-1)
            agree += int((top1 == ref).sum())
            total += len(ref)
    ckpt_mb = sum(f.stat().st_size for f in Path(path).glob("*.safetensors")) / 1e6
    sizes = {q: f.stat().st_size / 1e6 for q, f in files.items()}
    print(f"checkpoint {path}: {ckpt_mb:.1f} MB safetensors; CPU threads {torch.get_num_threads()}")
    for q in files:
        print(f"{q}: {files[q]} {sizes[q]:.1f} MB ({sizes[q] / ckpt_mb:.2f} of the checkpoint)")
    print(f"f32 max |logit diff| over {len(prompts)} held-out prompts: {diff:.2e}")
    print(f"q8_0 greedy {a.tokens} tokens equal on {equal}/{len(prompts)} prompts; teacher-forced top-1 "
          f"agreement {agree}/{total}")
    print(f"f32_mb={sizes['f32']:.1f} q8_0_mb={sizes['q8_0']:.1f} checkpoint_mb={ckpt_mb:.1f} "
          f"f32_max_logit_diff={diff:.2e} q8_0_greedy_equal={equal}/{len(prompts)} "
          f"q8_0_top1_agreement={agree / max(total, 1):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
