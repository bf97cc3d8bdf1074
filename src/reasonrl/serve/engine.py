"""Generation engines behind one small interface: the HTTP app only calls `submit(GenRequest)`.

`HFEngine` runs transformers on one thread: it pulls every waiting request (up to `max_batch`), left-pads
their prompts into one batch and runs a manual decode loop with a KV cache, so each row samples with its
own temperature/top_p/seed and streams its own text. Static batching: requests that arrive while a
batch runs wait for the next one (simple; continuous batching is what `--engine vllm` is for).
Waiting requests sit in a bounded queue; a full queue raises `QueueFull` (the app answers 429).

Requests carry the rollout engines' `SamplingParams` (rollout/base.py; `seeds=[seed]`: a request is one
prompt). Seeds: each choice gets `torch.Generator().manual_seed(seed + index)`, so the same request gives the same
text. Batching a seeded request with others left-pads it, which can change float rounding; the guarantee
is "same request under the same load", as with vLLM.
"""
from __future__ import annotations

import queue
import threading
import traceback
from dataclasses import dataclass
from typing import Callable

import torch

from reasonrl.rollout.base import SamplingParams
from reasonrl.rollout.decode import sample_next as rollout_sample_next
from reasonrl.serve.parse import partial_suffix


class QueueFull(RuntimeError):
    """The engine's waiting queue is at its bound; the client should retry later (HTTP 429)."""


@dataclass
class Delta:
    """One piece of one choice's output. `n_tokens` counts that choice's generated tokens so far."""

    index: int
    text: str
    n_tokens: int
    finish_reason: str | None = None  # "stop" | "length" | "error" on the last delta of a choice
    error: str | None = None


@dataclass
class GenRequest:
    prompt_ids: list[int]
    params: SamplingParams          # max_new_tokens, temperature (0 = greedy), top_p, stop, seeds=[seed] or None
    emit: Callable[[Delta], None]  # called from the engine thread; must be thread-safe and quick
    n: int = 1
    cancelled: bool = False  # set by the app when the client goes away; the row stops at the next step


def stop_cut(text: str, stops: list[str], start: int = 0) -> int:
    """Index where the first stop string begins in `text` (searching from `start`), or -1.

    >>> stop_cut("The answer is 42.\\nUser:", ["User:", "\\n\\n"])
    18
    >>> stop_cut("no stop here", ["User:"])
    -1
    """
    hits = [i for s in stops if (i := text.find(s, start)) >= 0]
    return min(hits) if hits else -1


class _Row:
    """Detokenising state of one choice: emits only text that is final (no half UTF-8, no half stop)."""

    def __init__(self, req: GenRequest, index: int, tokenizer):
        self.req, self.index, self.tok = req, index, tokenizer
        self.ids: list[int] = []
        self.sent = 0  # characters of the decoded text already emitted
        self.done = False
        seed = req.params.seeds[0] if req.params.seeds else None
        self.gen = torch.Generator().manual_seed(seed + index) if seed is not None else None

    def push(self, token_id: int | None) -> None:
        """Add a token (None = eos) and emit what became final; finishes the row on eos/stop/length."""
        p = self.req.params
        if token_id is not None:
            self.ids.append(token_id)
        # Decoding the whole row each step costs O(T) per token; fine for chat lengths, and it is the
        # simple way to get multi-token characters (Chinese) and stop strings across tokens right.
        text = self.tok.decode(self.ids, skip_special_tokens=True)
        cut = stop_cut(text, p.stop, max(0, self.sent - max((len(s) for s in p.stop), default=0)))
        if cut >= 0:
            return self._finish(text[:cut], "stop")
        if token_id is None:
            return self._finish(text, "stop")
        if len(self.ids) >= p.max_new_tokens:
            return self._finish(text, "length")
        safe = len(text)
        if text.endswith("\ufffd"):
            safe -= 1  # an incomplete UTF-8 sequence: wait for the next token
        safe -= partial_suffix(text[:safe], tuple(p.stop))
        if safe > self.sent:
            self.req.emit(Delta(self.index, text[self.sent:safe], len(self.ids)))
            self.sent = safe

    def _finish(self, text: str, reason: str) -> None:
        self.done = True
        self.req.emit(Delta(self.index, text[self.sent:], len(self.ids), finish_reason=reason))


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator | None) -> int:
    """One token id from one row of logits [V], with the request's own generator (so `seed` is honoured).

    >>> sample_next(torch.tensor([0.0, 3.0, 1.0]), 0.0, 1.0, None)
    1
    >>> sample_next(torch.tensor([0.0, 9.0, 1.0]), 1.0, 0.5, torch.Generator().manual_seed(0))
    1
    """
    return int(rollout_sample_next(logits[None], temperature, top_p, gen)[0])


class QueuedEngine:
    """The bounded waiting queue and the engine thread both serve engines share: the thread takes every waiting
    request (up to `max_batch`) and hands the batch to the subclass's `_run(batch)`; a batch that raises is
    answered with an error delta per choice, and the thread goes on serving."""

    def __init__(self, *, max_batch: int, max_queue: int):
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, name="reasonrl-engine", daemon=True)

    def _run(self, batch: list[GenRequest]) -> None:
        raise NotImplementedError

    def queued(self) -> int:
        """Requests waiting (not counting the running batch)."""
        return self._queue.qsize()

    def submit(self, req: GenRequest) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the engine thread has stopped")
        try:
            self._queue.put_nowait(req)
        except queue.Full:
            raise QueueFull(f"server busy: {self._queue.maxsize} requests already waiting") from None

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch   # close() arrived while batching: finish this batch, then exit
            batch = [r for r in batch if r is not None]
            if batch:
                try:
                    self._run(batch)
                except Exception as e:  # a broken batch must not kill the server: tell its clients
                    traceback.print_exc()
                    for r in batch:
                        for i in range(r.n):
                            r.emit(Delta(i, "", 0, finish_reason="error", error=f"{type(e).__name__}: {e}"))
            if stop:
                return


class HFEngine(QueuedEngine):
    """transformers model + tokenizer on one engine thread; see the module docstring."""

    def __init__(self, model, tokenizer, *, name: str = "model", max_batch: int = 8, max_queue: int = 64):
        super().__init__(max_batch=max_batch, max_queue=max_queue)
        self.name, self.model, self.tokenizer = name, model.eval(), tokenizer
        self.max_context = int(model.config.max_position_embeddings)
        eos = model.generation_config.eos_token_id if model.generation_config else None
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {i for i in [*eos, tokenizer.eos_token_id] if i is not None}
        self._thread.start()

    @torch.inference_mode()
    def _run(self, batch: list[GenRequest]) -> None:
        rows = [_Row(r, i, self.tokenizer) for r in batch for i in range(r.n)]
        prompts = [r.req.prompt_ids for r in rows]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id or 0
        dev = self.model.device
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=dev)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=dev)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = None
        for _ in range(max(r.req.params.max_new_tokens for r in rows)):
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                             past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache, logits = out.past_key_values, out.logits[:, -1, :]
            nxt = []
            for b, row in enumerate(rows):
                if row.req.cancelled and not row.done:
                    row.done = True  # nobody listens; emit nothing
                if row.done:
                    nxt.append(pad)
                    continue
                p = row.req.params
                tok = sample_next(logits[b], p.temperature, p.top_p, row.gen)
                row.push(None if tok in self.eos_ids else tok)
                nxt.append(tok)
            if all(r.done for r in rows):
                return
            ids = torch.tensor(nxt, device=dev)[:, None]
            mask = torch.cat([mask, torch.ones_like(ids)], dim=1)
            pos = pos[:, -1:] + 1
