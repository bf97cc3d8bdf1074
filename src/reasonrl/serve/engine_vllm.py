"""UNTESTED thin adapter: vLLM behind the same `submit(GenRequest)` interface as `HFEngine`.

No machine in CI has vllm, so this file is deliberately minimal and unverified: it maps our
`SamplingParams` to vLLM's and runs each batch with `LLM.generate`, emitting each choice's whole text as one
delta (no token streaming yet; vLLM's AsyncLLMEngine is the way to add it). `reasonrl serve --engine vllm`
refuses with one line before importing this when vllm is not installed.
"""
from __future__ import annotations

import queue
import threading

from reasonrl.serve.engine import Delta, GenRequest, QueueFull


class VLLMEngine:
    def __init__(self, path, *, name: str, max_queue: int = 64, max_batch: int = 64):
        import vllm  # the CLI has checked it is installed

        self._vllm = vllm
        self.name, self.max_batch = name, max_batch
        self.llm = vllm.LLM(model=str(path))
        self.tokenizer = self.llm.get_tokenizer()
        self.max_context = int(self.llm.llm_engine.model_config.max_model_len)
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, req: GenRequest) -> None:
        try:
            self._queue.put_nowait(req)
        except queue.Full:
            raise QueueFull(f"server busy: {self._queue.maxsize} requests already waiting") from None

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stop = None in batch  # close() arrived while batching: finish this batch, then exit
            batch = [r for r in batch if r is not None]
            prompts = [{"prompt_token_ids": r.prompt_ids} for r in batch]
            sps = [self._vllm.SamplingParams(n=r.n, max_tokens=r.params.max_tokens, temperature=r.params.temperature,
                                             top_p=r.params.top_p, stop=r.params.stop or None, seed=r.params.seed)
                   for r in batch]
            for r, out in zip(batch, self.llm.generate(prompts, sps)):
                for c in out.outputs:
                    reason = "length" if c.finish_reason == "length" else "stop"
                    r.emit(Delta(c.index, c.text, len(c.token_ids), finish_reason=reason))
            if stop:
                return
