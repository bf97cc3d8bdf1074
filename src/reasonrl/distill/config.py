"""Typed settings of the three distillation stages (sample, SFT, on-policy KD), in the style of
`reasonrl.config.schema`: extra='forbid', one doc line per field, ranges checked at load.

The task section is the RL config's own `TaskConfig`, so a trace set and a held-out eval agree on the split.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reasonrl.config.schema import TaskConfig


class _Strict(BaseModel):
    # extra="forbid" turns a typo into an error at load instead of a silently ignored key.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SampleConfig(_Strict):
    model: str | None = Field(None, description="teacher: HF folder or run dir; None = SmolLM2-135M-Instruct")
    task: TaskConfig = Field(default_factory=TaskConfig, description="problems to sample on (its train split by default)")
    split: Literal["train", "heldout"] = Field("train", description="which split of the task to sample; held-out traces would leak into eval")
    limit: int | None = Field(None, ge=1, description="sample only the first N problems of the split")
    n: int = Field(8, ge=1, description="samples per prompt")
    max_new_tokens: int = Field(64, ge=1, description="completion cap; a trace that hits it is truncated and dropped")
    temperature: float = Field(0.7, gt=0.0, description="sampling temperature")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass")
    chunk: int = Field(8, ge=1, description="prompts per generate call; the resume granularity")
    max_per_prompt: int | None = Field(None, ge=1, description="keep at most this many distinct traces per prompt; None = all")
    lenient: bool | None = Field(None, description="accept an untagged final number; None = only for the plain template")
    seed: int = Field(0, description="sampling seed")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default")


class SFTConfig(_Strict):
    model: str | None = Field(None, description="student: HF folder or run dir; None = SmolLM2-135M-Instruct")
    data: str = Field(..., description="JSONL of trace rows {prompt, completion, ...}, {prompt, completion} or {messages}")
    task: TaskConfig = Field(default_factory=TaskConfig, description="task recorded in RUN_DIR/config.yaml, so `reasonrl eval --model RUN_DIR` uses its held-out split")
    template: str | None = Field(None, description="override the prompt template of trace rows; None = each row's own")
    lora: bool = Field(False, description="train a LoRA adapter (peft) instead of all weights")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha")
    lr: float = Field(1e-5, gt=0.0, description="AdamW learning rate")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps, then constant")
    max_grad_norm: float = Field(1.0, gt=0.0, description="gradient clipping norm")
    batch_size: int = Field(8, ge=1, description="sequences per optimizer step")
    micro_batch_size: int = Field(8, ge=1, description="sequences per forward/backward (accumulate over the rest)")
    epochs: float = Field(1.0, gt=0.0, description="passes over the data; max_steps wins when both are set")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; None = from epochs")
    max_len: int = Field(512, ge=8, description="examples longer than this (prompt + completion tokens) are dropped, and counted")
    bucket_size: int = Field(64, ge=1, description="length-bucketing: batches are cut from windows of this many batches sorted by length")
    seed: int = Field(0, description="seed for data order")
    save_every: int = Field(50, ge=1, description="checkpoint every N steps (and always at the end and on Ctrl-C)")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept on disk")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default")


class KDConfig(_Strict):
    kind: Literal["forward", "reverse"] = Field("forward", description="KL direction: forward KL(teacher||student), reverse KL(student||teacher)")
    steps: int = Field(20, ge=1, description="on-policy KD optimizer steps after SFT")
    prompts_per_step: int = Field(4, ge=1, description="prompts the student answers per step")
    n: int = Field(2, ge=1, description="student samples per prompt")
    max_new_tokens: int = Field(32, ge=1, description="student completion cap")
    temperature: float = Field(1.0, gt=0.0, description="sampling temperature and KD softmax temperature")
    lr: float = Field(1e-5, gt=0.0, description="AdamW learning rate of the KD stage")
