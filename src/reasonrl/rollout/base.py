"""The one small interface every rollout engine implements, so the training loop never knows which runs.

An engine turns prompt strings into G sampled completions each, and accepts fresh weights after an update.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SamplingParams:
    n: int = 1                       # G samples per prompt
    max_new_tokens: int = 64
    temperature: float = 0.7         # 0 = greedy
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    # One seed per prompt: each group samples from its own generator, so its samples do not depend on
    # the other prompts in the batch or on the rank it runs on. None = the process's global RNG.
    seeds: list[int] | None = None
    logprobs: bool = False           # also return each sampled token's log-prob (Rollouts.logprobs)


@dataclass
class Rollouts:
    """B*G samples, grouped: sample i belongs to prompt i // n."""

    prompt_ids: list[list[int]]      # [B*G] token ids of each sample's prompt (unpadded)
    completion_ids: list[list[int]]  # [B*G] generated ids, up to and including the stop token
    texts: list[str]                 # [B*G] decoded completion, special tokens dropped
    truncated: list[bool]            # [B*G] hit max_new_tokens without stopping
    seconds: float                   # wall time of generation
    # [B*G] log-prob of each sampled token under the sampling policy (logits / temperature, before top-p),
    # or None when the engine was not asked for them (SamplingParams.logprobs)
    logprobs: list[list[float]] | None = None

    @property
    def num_tokens(self) -> int:
        return sum(len(c) for c in self.completion_ids)


def concat_rollouts(parts: list[Rollouts], seconds: float) -> Rollouts:
    """Rollouts of consecutive prompt chunks (ranks, Ray actors) as one, in chunk order."""
    cat = lambda xs: [x for part in xs for x in part]  # noqa: E731
    return Rollouts(cat(r.prompt_ids for r in parts), cat(r.completion_ids for r in parts), cat(r.texts for r in parts),
                    cat(r.truncated for r in parts), seconds,
                    logprobs=cat(r.logprobs for r in parts) if parts[0].logprobs is not None else None)


def cut_at_stop(text: str, stop: list[str]) -> str:
    """Text up to and including the first stop string. A token can run past a stop string ("></" style
    merges), and whatever follows it is not part of the reply the verifiers should judge.

    >>> cut_at_stop("<answer>8</answer><", ["</answer>"])
    '<answer>8</answer>'
    >>> cut_at_stop("no stop here", ["</answer>"])
    'no stop here'
    """
    ends = [text.find(s) + len(s) for s in stop if s and s in text]
    return text[: min(ends)] if ends else text


class RolloutEngine(Protocol):
    def generate(self, prompts: list[str], params: SamplingParams) -> Rollouts: ...

    def sync_weights(self, model) -> None:
        """Copy the trainer's current weights into the engine (after each optimizer step)."""
        ...
