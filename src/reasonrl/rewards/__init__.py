"""Verifiers: answer extraction, equivalence (English and Chinese), format, code sandbox, bounded runner.

    from reasonrl.rewards import verify, extract_answer, normalize_answer, format_ok, format_score
    verify("<think>...</think><answer>十二</answer>", "12")  # True

See docs/verifiers.md for what each verifier accepts and rejects.
"""
from reasonrl.rewards.check import judge, verify
from reasonrl.rewards.extract import extract_answer
from reasonrl.rewards.format import format_ok, format_score, thinking_stats
from reasonrl.rewards.normalize import normalize_answer
from reasonrl.rewards.registry import REWARDS, get_reward_fn
from reasonrl.rewards.runner import RewardResult, RewardRunner

__all__ = ["verify", "judge", "extract_answer", "normalize_answer", "format_ok", "format_score", "thinking_stats",
           "REWARDS", "get_reward_fn", "RewardRunner", "RewardResult"]
