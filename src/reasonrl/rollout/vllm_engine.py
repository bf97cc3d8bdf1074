"""`rollout.engine: vllm`: vLLM on this rank's GPU, colocated with training (pip install 'reasonrl[gpu]').

WRITTEN AGAINST vLLM's DOCUMENTED API, NOT YET RUN: no GPU was available where this was written
(tests/rollout/test_vllm_engine.py, marked `gpu`, is the check to run first on one; docs/scaling.md).

One vLLM engine per training process, in that process (`distributed_executor_backend="external_launcher"`,
engine core in-process), as TRL's colocate mode does, so weights move GPU to GPU in memory:
- **memory handed back and forth**: after each `generate` the engine sleeps at level 2 (weights and KV cache
  released: the weights are replaced after every update anyway); before the next one it wakes its weight
  memory, loads the trainer's current weights (`load_weights` on HF names, run on the model inside the worker
  by `LLM.apply_model`), then wakes the KV cache, so the two never peak together;
- **prefix caching on**, and reset after each weight load (a cached prompt prefix of the old weights is stale);
- **sampling agrees with the trainer**: temperature and top-p as given, no top-k, one seed per prompt when
  given (vLLM's per-request seed), and `logprobs_mode="processed_logprobs"` returns the sampled tokens'
  log-probs after temperature, which is what the training forward computes (with top_p < 1 they are
  also renormalised over the nucleus, and kl/rollout_vs_train includes that difference).
The engine always returns sampled-token log-probs, so the loop logs kl/rollout_vs_train.
"""
from __future__ import annotations

import os
import time

import torch

from reasonrl.rollout.base import Rollouts, SamplingParams, cut_at_stop
from reasonrl.rollout.hf import _merged_named_params


class VLLMEngine:
    """`generate(prompts, params) -> Rollouts` and `sync_weights(model)` on an in-process vLLM `LLM`."""

    def __init__(self, model, tokenizer, *, path: str, gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, seed: int = 0, dtype: str = "bfloat16") -> None:
        if not torch.cuda.is_available():
            raise SystemExit("reasonrl: rollout.engine=vllm needs a CUDA GPU; use rollout.engine=hf on a CPU")
        try:
            from vllm import LLM
        except ImportError:
            raise SystemExit("reasonrl: rollout.engine=vllm needs vLLM: pip install 'reasonrl[gpu]'") from None
        # external_launcher reads the torch.distributed variables; a plain 1-GPU run has none yet
        for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": "29512"}.items():
            os.environ.setdefault(key, value)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine core in this process: no pickled weights
        self.tok, self.model = tokenizer, model
        self.llm = LLM(model=str(path), tokenizer=str(path), dtype=dtype, seed=seed, enable_sleep_mode=True,
                       enable_prefix_caching=True, gpu_memory_utilization=gpu_memory_utilization,
                       max_model_len=max_model_len, distributed_executor_backend="external_launcher",
                       logprobs_mode="processed_logprobs")
        self.stale = True    # copy the trainer's weights in before the first generate (a resumed LoRA run is base + adapter)
        self.asleep = False

    def sync_weights(self, model) -> None:
        """Note the trainer's new weights; they are copied in just before the next generate, while the
        KV cache is still released (so weights + KV cache + training memory never coexist)."""
        self.model, self.stale = model, True

    def _wake(self) -> None:
        if self.asleep:
            self.llm.wake_up(tags=["weights"])
        if self.stale or self.asleep:  # level-2 sleep dropped the weights: always reload after one
            weights = list(_merged_named_params(self.model).items())   # HF names; vLLM maps and fuses them
            self.llm.apply_model(lambda m: m.load_weights(weights))
            self.llm.reset_prefix_cache()
        if self.asleep:
            self.llm.wake_up(tags=["kv_cache"])
        self.stale = self.asleep = False

    def _sleep(self) -> None:
        torch.cuda.synchronize()
        self.llm.sleep(level=2)
        self.asleep = True

    @torch.no_grad()
    def generate(self, prompts: list[str], params: SamplingParams) -> Rollouts:
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        t0 = time.perf_counter()
        self._wake()
        ids = [self.tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        seeds = params.seeds if params.seeds is not None else [None] * len(prompts)
        sp = [VSamplingParams(n=params.n, max_tokens=params.max_new_tokens, temperature=params.temperature,
                              top_p=params.top_p, stop=params.stop or None, include_stop_str_in_output=True,
                              seed=seed, logprobs=0) for seed in seeds]
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in ids], sp, use_tqdm=False)
        self._sleep()
        ro = Rollouts([], [], [], [], 0.0, logprobs=[])
        for prompt, out in zip(ids, outs):
            for c in out.outputs:                              # the n samples of this prompt, in order
                toks = list(c.token_ids)
                ro.prompt_ids.append(prompt)
                ro.completion_ids.append(toks)
                ro.texts.append(cut_at_stop(self.tok.decode(toks, skip_special_tokens=True), params.stop))
                ro.truncated.append(c.finish_reason == "length")
                ro.logprobs.append([step[t].logprob for step, t in zip(c.logprobs, toks)])
        ro.seconds = time.perf_counter() - t0
        return ro
