"""The rest of the R1 pipeline: rejection-sampling traces from a teacher, SFT of a student on them, and
on-policy logit distillation when the two share a vocabulary.

    reasonrl sample --model TEACHER --task chain_sum --n 8 --out traces.jsonl
    reasonrl sft --model STUDENT --data traces.jsonl
    reasonrl distill --teacher T --student S --task chain_sum [--kd reverse]

See docs/distill.md.
"""
from reasonrl.distill.config import KDConfig, SampleConfig, SFTConfig
from reasonrl.distill.kd import KD_KINDS, kd_loss

__all__ = ["SampleConfig", "SFTConfig", "KDConfig", "kd_loss", "KD_KINDS"]
