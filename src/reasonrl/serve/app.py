"""The OpenAI-compatible HTTP app: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`, `GET /`.

    app = create_app(HFEngine(model, tok, name="my-run"), prefill_think=True)

Replies follow the DeepSeek convention: `message.reasoning_content` is the text inside <think>...</think>,
`message.content` the answer (see parse.py for the exact rules), and
`usage.completion_tokens_details.reasoning_tokens` counts the reasoning tokens. Streams send
`reasoning_content` deltas first, then `content` deltas, then `data: [DONE]`.
Every error is `{"error": {"message", "type", "param", "code"}}` so the openai client raises the right class.
Limits (security.py): `api_key` guards every /v1/* route (401), bodies over `max_body_bytes` are a 413, a
request still generating after `request_timeout_s` is cut (504, or an error event in a stream), and a client
that goes away frees its engine rows at the next token.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from reasonrl.rollout.base import SamplingParams
from reasonrl.serve.engine import Delta, GenRequest, QueueFull
from reasonrl.serve.parse import THINK_OPEN, ReasoningSplitter, split_reasoning
from reasonrl.serve.profile import PromptProfile
from reasonrl.serve.schema import ChatRequest, error_response, validation_error_response
from reasonrl.serve.security import MAX_BODY_BYTES, ApiKeyMiddleware, BodyTooLarge, read_body

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_TOKENS = 1024  # when the request gives none (bounded by the context left after the prompt)
THINK_PREFILL = "<think>\n"


class _Choice:
    """Accumulates one choice's deltas: full text, token counts, and where reasoning ended."""

    def __init__(self, prefill_think: bool, answer_only: bool = False):
        self.splitter = ReasoningSplitter(prefill_think, answer_only)
        self.text, self.n_tokens, self.finish_reason = "", 0, None
        self._reasoning_tokens: int | None = None

    def take(self, d: Delta) -> list[tuple[str, str]]:
        self.text += d.text
        self.n_tokens = d.n_tokens
        parts = self.splitter.feed(d.text)
        if d.finish_reason:
            parts += self.splitter.finish()
            self.finish_reason = d.finish_reason
        if self.splitter.reasoning_closed and self._reasoning_tokens is None:
            self._reasoning_tokens = d.n_tokens  # within one token: `</think>` ended in this delta
        return parts

    def reasoning_tokens(self) -> int:
        if self._reasoning_tokens is not None:
            return self._reasoning_tokens
        return self.n_tokens if self.splitter.state == "reasoning" else 0  # unclosed: all reasoning


def _usage(prompt_tokens: int, choices: list[_Choice], reasoning: list[int]) -> dict:
    completion = sum(c.n_tokens for c in choices)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": sum(reasoning)}}


def create_app(engine, *, prefill_think: bool = False, profile: PromptProfile | None = None,
               api_key: str | None = None, max_body_bytes: int = MAX_BODY_BYTES,
               request_timeout_s: float = 600.0) -> FastAPI:
    """The FastAPI app serving `engine` (anything with name, tokenizer, max_context, submit, queued).

    `profile` says how prompts are built (the run's template, prefill, stops; serve/profile.py); without
    one, the tokenizer's chat template, plus "<think>\\n" when `prefill_think`. `api_key`: every /v1/*
    route needs it (serve/security.py).
    """
    app = FastAPI(title="reasonrl serve", docs_url=None, redoc_url=None)
    name = engine.name
    profile = profile or PromptProfile(prefill=THINK_PREFILL if prefill_think else "")
    prefill_think = THINK_OPEN in profile.prefill  # the reply starts inside the reasoning
    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        return error_response(exc.status_code, str(exc.detail), code=str(exc.status_code))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        return error_response(500, f"{type(exc).__name__}: {exc}", type="server_error")

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": name, "queued": engine.queued()}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_card(name)]}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str):
        if model_id != name:
            return error_response(404, f"model '{model_id}' not found; this server serves '{name}'",
                                  param="model", code="model_not_found")
        return _model_card(name)

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        try:
            req = ChatRequest.model_validate_json(await read_body(request, max_body_bytes))
        except BodyTooLarge as e:
            return error_response(413, str(e), code="request_too_large")
        except ValidationError as e:
            return validation_error_response(e)
        if req.model is not None and req.model != name:
            return error_response(404, f"model '{req.model}' not found; this server serves '{name}'",
                                  param="model", code="model_not_found")
        msgs = [{"role": m.role if m.role != "developer" else "system", "content": m.text()}
                for m in req.messages]
        prompt = profile.render(engine.tokenizer, msgs)
        prompt_ids = engine.tokenizer.encode(prompt, add_special_tokens=False)
        room = engine.max_context - len(prompt_ids)
        if room < 1:
            return error_response(400, f"the prompt has {len(prompt_ids)} tokens; the context is "
                                  f"{engine.max_context}", param="messages", code="context_length_exceeded")
        max_tokens = req.max_tokens or req.max_completion_tokens or min(DEFAULT_MAX_TOKENS, room)
        if max_tokens > room:
            return error_response(400, f"max_tokens={max_tokens} exceeds the {room} tokens left in the "
                                  f"{engine.max_context}-token context after the {len(prompt_ids)}-token prompt",
                                  param="max_tokens", code="context_length_exceeded")

        loop, inbox = asyncio.get_running_loop(), asyncio.Queue()
        stops = list(dict.fromkeys([*profile.stop, *req.stop_list()]))  # the run's stops, then the request's
        params = SamplingParams(n=req.n, max_new_tokens=max_tokens, temperature=req.temperature, top_p=req.top_p,
                                stop=stops, seeds=None if req.seed is None else [req.seed])
        gen = GenRequest(prompt_ids, params, lambda d: loop.call_soon_threadsafe(inbox.put_nowait, d), req.n)
        try:
            engine.submit(gen)
        except QueueFull as e:
            return error_response(429, str(e), type="rate_limit_error", code="queue_full")
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": name}
        deadline = loop.time() + request_timeout_s
        choices = [_Choice(prefill_think, profile.answer_only) for _ in range(req.n)]
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(_sse(gen, inbox, choices, meta, len(prompt_ids), include_usage, deadline),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            return await _collect(request, inbox, choices, meta, len(prompt_ids), prefill_think, deadline,
                                  profile.answer_only)
        finally:
            gen.cancelled = True  # no-op when finished; stops the rows if this handler was cancelled or timed out

    app.openapi = lambda: app.openapi_schema or _openapi(app)
    return app


def _openapi(app: FastAPI) -> dict:
    """The generated schema plus the chat body (the handler parses it itself, for OpenAI-shaped errors),
    so schemathesis and client generators see what the route accepts."""
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    body = ChatRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update({**body.pop("$defs", {}), "ChatRequest": body})
    schema["paths"]["/v1/chat/completions"]["post"]["requestBody"] = {
        "required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}}
    app.openapi_schema = schema
    return schema


def _model_card(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "reasonrl"}


class _TimedOut(Exception):
    pass


class _Waiter:
    """Deltas from the engine within the request's deadline; with `request`, also notices (once a second,
    checked even while tokens keep coming) a non-streaming client that has gone away."""

    def __init__(self, inbox: asyncio.Queue, deadline: float, request: Request | None = None):
        self.inbox, self.deadline, self.request = inbox, deadline, request
        self.loop = asyncio.get_running_loop()
        self.checked = self.loop.time()

    async def next(self) -> Delta | None:
        """The next delta; None if the client left; _TimedOut past the deadline."""
        while True:
            now = self.loop.time()
            if now >= self.deadline:
                raise _TimedOut
            if self.request is not None and now - self.checked >= 1.0:
                self.checked = now
                if await self.request.is_disconnected():
                    return None
            try:
                return await asyncio.wait_for(self.inbox.get(), min(self.deadline - now, 1.0))
            except asyncio.TimeoutError:
                continue


async def _collect(request: Request, inbox: asyncio.Queue, choices: list[_Choice], meta: dict, prompt_tokens: int,
                   prefill_think: bool, deadline: float, answer_only: bool = False) -> JSONResponse:
    left, waiter = len(choices), _Waiter(inbox, deadline, request)
    while left:
        try:
            d = await waiter.next()
        except _TimedOut:
            return error_response(504, "generation took longer than this server's per-request limit",
                                  type="server_error", code="timeout")
        if d is None:  # nobody is waiting for the answer: the caller's finally frees the rows
            return error_response(499, "client closed the request", code="client_closed")
        if d.error:
            return error_response(500, f"generation failed: {d.error}", type="server_error")
        choices[d.index].take(d)
        left -= d.finish_reason is not None
    out, reasoning_counts = [], []
    for i, c in enumerate(choices):
        reasoning, content = split_reasoning(c.text, prefill_think, answer_only)
        reasoning_counts.append(c.reasoning_tokens() if reasoning else 0)
        msg = {"role": "assistant", "content": content, "reasoning_content": reasoning or None}
        out.append({"index": i, "message": msg, "finish_reason": c.finish_reason, "logprobs": None})
    return JSONResponse({**meta, "object": "chat.completion", "choices": out,
                         "usage": _usage(prompt_tokens, choices, reasoning_counts)})


def _event(obj: dict | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n"


async def _sse(gen: GenRequest, inbox: asyncio.Queue, choices: list[_Choice], meta: dict,
               prompt_tokens: int, include_usage: bool, deadline: float):
    def chunk(index: int, delta: dict, finish: str | None = None) -> str:
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _event({**meta, "object": "chat.completion.chunk", "choices": [choice]})

    try:
        for i in range(len(choices)):
            yield chunk(i, {"role": "assistant", "content": ""})
        left, waiter = len(choices), _Waiter(inbox, deadline)  # a stream's disconnect cancels us (finally below)
        while left:
            try:
                d = await waiter.next()
            except _TimedOut:
                d = Delta(0, "", 0, error="the per-request time limit passed")
            if d.error:
                yield _event({"error": {"message": f"generation failed: {d.error}", "type": "server_error",
                                        "param": None, "code": None}})
                break
            for kind, text in choices[d.index].take(d):
                yield chunk(d.index, {"reasoning_content" if kind == "reasoning" else "content": text})
            if d.finish_reason:
                left -= 1
                yield chunk(d.index, {}, d.finish_reason)
        if include_usage and not left:
            usage = _usage(prompt_tokens, choices, [c.reasoning_tokens() for c in choices])
            yield _event({**meta, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        yield _event("[DONE]")
    finally:
        gen.cancelled = True  # the client went away (or we finished): free the engine rows
