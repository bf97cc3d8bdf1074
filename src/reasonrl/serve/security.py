"""What keeps a stranger from abusing `reasonrl serve`: an API key on every /v1/* route, a request-body cap,
a loopback-only default bind (docs/reliability.md).

    reasonrl serve --api-key sk-local-123               # or REASONRL_API_KEY=sk-local-123 reasonrl serve
    curl -H 'Authorization: Bearer sk-local-123' http://127.0.0.1:8000/v1/models

The key is compared in constant time; a missing or wrong key is a 401 in the OpenAI error shape
(`openai.AuthenticationError` on the client). `/health` and the chat page stay open: they reveal only the
model's name (the page asks for the key before it calls /v1).
"""
from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # serve/cli.py imports this module for its flags: fastapi loads only with the app
    from fastapi import Request

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a long chat is ~100 KB; the context (tokens) is the real bound


class BodyTooLarge(ValueError):
    pass


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.168.1.5", "example.org")]
    [True, True, True, False, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere: treat it as exposed


def bind_problem(host: str, api_key: str | None, allow_no_key: bool) -> str | None:
    """The one-line reason to refuse binding `host`, or None."""
    if api_key or allow_no_key or is_loopback(host):
        return None
    return (f"--host {host} exposes the model to the network without an API key; give --api-key KEY "
            "(or REASONRL_API_KEY), or --allow-no-key if anyone who can reach it may use it")


def _unauthorized(message: str):
    from reasonrl.serve.schema import error_response

    r = error_response(401, message, code="invalid_api_key")
    r.headers["WWW-Authenticate"] = "Bearer"
    return r


class ApiKeyMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): streamed responses and client disconnects pass through untouched."""

    def __init__(self, app, api_key: str):
        self.app, self.expected = app, f"Bearer {api_key}".encode()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/v1" or path.startswith("/v1/")):
            auth = dict(scope["headers"]).get(b"authorization")
            if auth is None:
                return await _unauthorized("missing API key: send the header 'Authorization: Bearer KEY'")(
                    scope, receive, send)
            if not hmac.compare_digest(auth, self.expected):
                return await _unauthorized("incorrect API key provided")(scope, receive, send)
        await self.app(scope, receive, send)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or BodyTooLarge as soon as it passes `limit` bytes (a declared Content-Length
    over the limit is refused before reading; a chunked body is counted as it arrives)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body is {declared} bytes; this server accepts at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body is over {limit} bytes; this server accepts at most {limit}")
        chunks.append(chunk)
    return b"".join(chunks)


def add_arguments(p) -> None:
    """The serve flags for all of the above (kept here so serve/cli.py stays about models and engines)."""
    import os

    p.add_argument("--api-key", default=os.environ.get("REASONRL_API_KEY") or None,
                   help="require 'Authorization: Bearer KEY' on /v1/* (default: $REASONRL_API_KEY)")
    p.add_argument("--allow-no-key", action="store_true",
                   help="allow a non-loopback --host without an API key (anyone who reaches it may use it)")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger request bodies get HTTP 413")
    p.add_argument("--request-timeout", type=float, default=600.0, metavar="S",
                   help="a request still generating after S seconds is cut off (HTTP 504)")


def app_kwargs(args) -> dict:
    """create_app's security arguments from parsed flags; SystemExit (one line) for an exposed bind without a key."""
    problem = bind_problem(args.host, args.api_key, args.allow_no_key)
    if problem:
        raise SystemExit(f"reasonrl serve: {problem}")
    return {"api_key": args.api_key, "max_body_bytes": args.max_body_bytes, "request_timeout_s": args.request_timeout}
