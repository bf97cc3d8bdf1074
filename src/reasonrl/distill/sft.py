"""Supervised fine-tuning on traces, loss on completion tokens only: a plain loop, checkpoints as in RL.

    reasonrl sft --model default --data traces.jsonl --run-dir runs/sft-x
    reasonrl sft --resume runs/sft-x

RUN_DIR holds `sft_config.yaml` (this stage's resolved settings), `config.yaml` (a valid RL `Config`
naming the student and the task, so `reasonrl eval --model RUN_DIR` finds the task's held-out split),
`metrics.jsonl` (`sft/loss`, `sft/tokens_per_s`, ...) and `checkpoints/step_N/` written by
`reasonrl.train.checkpoint` (a plain save_pretrained model + optimizer, data cursor and RNG states).
A resumed run continues the same batch order and ends where an uninterrupted one would.
"""
from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path

import torch
import yaml

from reasonrl.config import Config, dump_config
from reasonrl.config.schema import ModelConfig
from reasonrl.distill.batches import bucket_batches, collate, completion_nll, tokenize_example
from reasonrl.distill.config import SFTConfig
from reasonrl.distill.traces import read_examples


def rl_config(cfg: SFTConfig, run_dir: Path) -> Config:
    """The RL-shaped config written to RUN_DIR/config.yaml: what eval and `--model RUN_DIR` read."""
    return Config(run_dir=str(run_dir), task=cfg.task, model=ModelConfig(path=cfg.model, lora=cfg.lora, lora_r=cfg.lora_r,
                                                                          lora_alpha=cfg.lora_alpha))


def load_sft_config(run_dir: Path) -> SFTConfig:
    path = Path(run_dir) / "sft_config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no sft_config.yaml; not an SFT run directory")
    return SFTConfig.model_validate(yaml.safe_load(path.read_text()))


def build_student(cfg: SFTConfig, resume_ckpt: Path | None):
    """(trainable model, tokenizer). LoRA resumes from the adapter saved beside the merged checkpoint."""
    from reasonrl.model import load_model

    lora_resume = cfg.lora and resume_ckpt is not None
    spec = resume_ckpt if resume_ckpt is not None and not lora_resume else cfg.model
    model, tok, _ = load_model(spec)
    model.config.use_cache = False
    if lora_resume:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, resume_ckpt / "adapter", is_trainable=True)
    elif cfg.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    return model, tok


def _optimizer(cfg: SFTConfig, model):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = cfg.warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
    return opt, sched


class BatchCursor:
    """Position in the bucketed batch order: epoch e's order is a pure function of (seed, e)."""

    def __init__(self, lengths: list[int], cfg: SFTConfig, epoch: int = 0, pos: int = 0):
        self.lengths, self.cfg, self.epoch, self.pos = lengths, cfg, epoch, pos
        self._order = self._make()

    def _make(self):
        return bucket_batches(self.lengths, self.cfg.batch_size, self.cfg.bucket_size, self.cfg.seed, self.epoch)

    def next(self) -> list[int]:
        if self.pos >= len(self._order):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._make()
        self.pos += 1
        return self._order[self.pos - 1]

    def state(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}


def sft_step(cfg: SFTConfig, model, optimizer, scheduler, batch_examples, pad_id: int) -> dict:
    """One optimizer step: token-mean NLL over the batch's completion tokens, in micro-batches."""
    t0 = time.perf_counter()
    model.train()
    optimizer.zero_grad(set_to_none=True)
    n_tokens = sum(sum(e.loss_mask[1:]) for e in batch_examples)  # targets, as completion_nll counts them
    total_loss, seen = 0.0, 0
    for s in range(0, len(batch_examples), cfg.micro_batch_size):
        mb = collate(batch_examples[s:s + cfg.micro_batch_size], pad_id)
        nll, _ = completion_nll(model, mb)
        (nll / max(n_tokens, 1)).backward()
        total_loss += nll.item()
        seen += int(mb.attention_mask.sum().item())
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    dt = time.perf_counter() - t0
    padded = sum(max(len(e.input_ids) for e in batch_examples[s:s + cfg.micro_batch_size]) * len(batch_examples[s:s + cfg.micro_batch_size])
                 for s in range(0, len(batch_examples), cfg.micro_batch_size))
    return {"sft/loss": total_loss / max(n_tokens, 1), "sft/tokens_per_s": seen / max(dt, 1e-9),
            "sft/completion_tokens": n_tokens, "sft/pad_frac": 1.0 - seen / max(padded, 1),
            "grad/norm": float(gnorm), "lr": scheduler.get_last_lr()[0], "time/step_s": dt}


def total_steps(cfg: SFTConfig, n_examples: int) -> int:
    """max_steps, else ceil(epochs * batches per epoch).

    >>> total_steps(SFTConfig(data="x", batch_size=4, epochs=1.5), 10)
    5
    """
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * math.ceil(n_examples / cfg.batch_size)))


def run_sft(cfg: SFTConfig, run_dir: str | Path, *, resume: bool = False, stop_after: int | None = None) -> dict:
    """Train (or continue the run in run_dir). `stop_after` ends early after that many steps of this call,
    with a checkpoint (used to test resume). Returns a summary dict."""
    from reasonrl.train.checkpoint import load_trainer_state, rng_state, save_checkpoint, set_rng_state
    from reasonrl.train.setup import seed_everything
    from reasonrl.train.runlog import RunLogger, peak_rss_mb

    run_dir = Path(run_dir)
    if not Path(cfg.data).is_file():  # before any model is loaded or run dir made
        raise FileNotFoundError(f"{cfg.data}: no such file")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt, state = load_trainer_state(run_dir) if resume else (None, None)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "sft_config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
    dump_config(rl_config(cfg, run_dir), run_dir / "config.yaml")
    seed_everything(cfg.seed)
    model, tok = build_student(cfg, ckpt)
    examples = [tokenize_example(tok, e) for e in read_examples(cfg.data, tok, cfg.template)]
    too_long = sum(len(e.input_ids) > cfg.max_len for e in examples)
    examples = [e for e in examples if len(e.input_ids) <= cfg.max_len]
    if not examples:
        raise ValueError(f"{cfg.data}: every example is longer than max_len={cfg.max_len}")
    optimizer, scheduler = _optimizer(cfg, model)
    cursor = BatchCursor([len(e.input_ids) for e in examples], cfg)
    step, elapsed = 0, 0.0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        cursor = BatchCursor(cursor.lengths, cfg, **state["cursor"])
        step, elapsed = state["step"], state["elapsed_s"]
        set_rng_state(state["rng"])
        print(f"reasonrl sft: resumed {run_dir} at step {step}", file=sys.stderr)
    n_steps = total_steps(cfg, len(examples))
    logger = RunLogger(run_dir, tensorboard=False)
    config_yaml = (run_dir / "config.yaml").read_text()

    def checkpoint() -> None:
        save_checkpoint(run_dir, step, model=model, tokenizer=tok, config_yaml=config_yaml, keep=cfg.keep_checkpoints,
                        trainer_state={"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                       "cursor": cursor.state(), "step": step, "elapsed_s": elapsed, "rng": rng_state()})

    from tqdm import tqdm

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` saves like Ctrl-C does
    losses, this_call = [], 0
    try:
        bar = tqdm(total=n_steps, initial=step, desc="sft", dynamic_ncols=True, file=sys.stderr)
        while step < n_steps and (stop_after is None or this_call < stop_after):
            m = sft_step(cfg, model, optimizer, scheduler, [examples[i] for i in cursor.next()], tok.pad_token_id)
            step, this_call, elapsed = step + 1, this_call + 1, elapsed + m["time/step_s"]
            losses.append(m["sft/loss"])
            logger.log({"kind": "sft", "step": step, "time_s": elapsed, "epoch": cursor.epoch, **m,
                        "mem/peak_rss_mb": peak_rss_mb()})
            if step % cfg.save_every == 0:
                checkpoint()
            bar.update(1)
            bar.set_postfix(loss=f"{m['sft/loss']:.3f}")
        bar.close()
    except KeyboardInterrupt:
        checkpoint()
        logger.close()
        print(f"\nreasonrl sft: interrupted at step {step}; continue with: reasonrl sft --resume {run_dir}", file=sys.stderr)
        raise SystemExit(130)
    checkpoint()
    logger.close()
    return {"steps": step, "examples": len(examples), "dropped_too_long": too_long, "wall_s": elapsed,
            "final_loss": losses[-1] if losses else None, "losses": losses, "run_dir": str(run_dir)}
