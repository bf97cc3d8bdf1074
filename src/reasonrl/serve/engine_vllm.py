"""UNTESTED thin adapter: vLLM behind the same `submit(GenRequest)` interface as `HFEngine`.

No machine in CI has vllm, so this file is deliberately minimal and unverified: it maps our
`SamplingParams` to vLLM's and runs each batch with `LLM.generate` on the queue thread both serve engines
share (engine.QueuedEngine), emitting each choice's whole text as one
delta (no token streaming yet; vLLM's AsyncLLMEngine is the way to add it). `reasonrl serve --engine vllm`
refuses with one line before importing this when vllm is not installed.
"""
from __future__ import annotations

from reasonrl.serve.engine import Delta, GenRequest, QueuedEngine


class VLLMEngine(QueuedEngine):
    def __init__(self, path, *, name: str, max_queue: int = 64, max_batch: int = 64):
        import vllm  # the CLI has checked it is installed

        super().__init__(max_batch=max_batch, max_queue=max_queue)
        self._vllm = vllm
        self.name = name
        self.llm = vllm.LLM(model=str(path))
        self.tokenizer = self.llm.get_tokenizer()
        self.max_context = int(self.llm.llm_engine.model_config.max_model_len)
        self._thread.start()

    def _run(self, batch: list[GenRequest]) -> None:
        prompts = [{"prompt_token_ids": r.prompt_ids} for r in batch]
        sps = [self._vllm.SamplingParams(n=r.n, max_tokens=r.params.max_new_tokens, temperature=r.params.temperature,
                                         top_p=r.params.top_p, stop=r.params.stop or None,
                                         seed=r.params.seeds[0] if r.params.seeds else None)
               for r in batch]
        for r, out in zip(batch, self.llm.generate(prompts, sps)):
            for c in out.outputs:
                reason = "length" if c.finish_reason == "length" else "stop"
                r.emit(Delta(c.index, c.text, len(c.token_ids), finish_reason=reason))
