"""Logit-level distillation for a teacher and student that share a vocabulary: pure KL losses, and one
on-policy step as in GKD (Agarwal et al. 2024, arXiv:2306.13649): the student samples, the teacher scores
the student's own tokens, and the student moves toward the teacher's distribution at every position.

Departures, on purpose: only the two pure KLs (GKD's generalized JSD with beta in (0,1) is not offered);
no T^2 factor on the loss (Hinton et al. 2015 scale by T^2 to keep gradients comparable across
temperatures; GKD and TRL's GKDTrainer do not, and at the default T=1 it makes no difference).
"""
from __future__ import annotations

import time

import torch

from reasonrl.rollout.batch import PackedBatch, pack


def _forward_kl(s_logp: torch.Tensor, t_logp: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) per position [N, T]: mode-covering, the classic KD direction."""
    return (t_logp.exp() * (t_logp - s_logp)).sum(-1)


def _reverse_kl(s_logp: torch.Tensor, t_logp: torch.Tensor) -> torch.Tensor:
    """KL(student || teacher) per position [N, T]: mode-seeking (MiniLLM, GKD's on-policy default)."""
    return (s_logp.exp() * (s_logp - t_logp)).sum(-1)


KD_KINDS = {"forward": _forward_kl, "reverse": _reverse_kl}


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, *,
            kind: str = "forward", temperature: float = 1.0) -> torch.Tensor:
    """Token-mean KL between teacher and student next-token distributions over the masked positions.

    student_logits, teacher_logits: [N, T, V]; mask: [N, T] (1 = a completion position). A fully masked
    batch gives 0, not NaN. Both softmaxes use `temperature`.

    >>> s = torch.tensor([[[0.0, 0.0]]]); t = torch.tensor([[[0.0, 2.0]]]); m = torch.ones(1, 1)
    >>> round(kd_loss(s, t, m, kind="forward").item(), 4), round(kd_loss(s, s, m).item(), 4)
    (0.3278, 0.0)
    >>> kd_loss(s, t, m, kind="jsd")
    Traceback (most recent call last):
    ...
    ValueError: unknown KD kind 'jsd'; valid: forward, reverse
    """
    if kind not in KD_KINDS:
        raise ValueError(f"unknown KD kind {kind!r}; valid: {', '.join(KD_KINDS)}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ; "
                         "logit KD needs the same vocabulary")
    s_logp = torch.log_softmax(student_logits.float() / temperature, dim=-1)   # [N, T, V]
    t_logp = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)   # [N, T, V]
    per_token = KD_KINDS[kind](s_logp, t_logp)                                 # [N, T]
    return (per_token * mask).sum() / mask.sum().clamp(min=1)


def same_vocab(tok_a, tok_b) -> bool:
    """Logit KD is defined only when token i means the same string in both models."""
    return len(tok_a) == len(tok_b) and tok_a.get_vocab() == tok_b.get_vocab()


def completion_logits(model, batch: PackedBatch, vocab: int) -> torch.Tensor:
    """Logits [N, T, vocab] predicting each completion token, in `rollout.batch.pack`'s layout (left-padded
    prompt, completion at columns P..P+T-1) with the same position ids as generation. Sliced to the
    tokenizer's vocabulary: models may pad their embedding matrix to different sizes."""
    T = batch.mask.shape[1]
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=position_ids,
                logits_to_keep=T + 1, use_cache=False)
    return out.logits[:, :-1, :vocab]                                          # [N, T, vocab]


def kd_step(student, teacher, engine, tokenizer, prompts: list[str], params, optimizer, *, kind: str,
            temperature: float, max_grad_norm: float = 1.0) -> dict:
    """One on-policy step: the student (through `engine`) samples, both models score, the student steps."""
    t0 = time.perf_counter()
    ro = engine.generate(prompts, params)
    batch = pack(ro.prompt_ids, ro.completion_ids, tokenizer.pad_token_id)
    vocab = len(tokenizer)
    with torch.no_grad():
        t_logits = completion_logits(teacher, batch, vocab)
    student.train()
    optimizer.zero_grad(set_to_none=True)
    loss = kd_loss(completion_logits(student, batch, vocab), t_logits, batch.mask, kind=kind, temperature=temperature)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(student.parameters(), max_grad_norm)
    optimizer.step()
    engine.sync_weights(student)
    dt = time.perf_counter() - t0
    return {"kd/loss": loss.item(), "kd/tokens_per_s": int(batch.attention_mask.sum()) / max(dt - ro.seconds, 1e-9),
            "rollout/tokens_per_s": ro.num_tokens / max(ro.seconds, 1e-9), "grad/norm": float(gnorm),
            "len/response_mean": sum(map(len, ro.completion_ids)) / len(ro.completion_ids), "time/step_s": dt}
