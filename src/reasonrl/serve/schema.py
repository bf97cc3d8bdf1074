"""The request body of `POST /v1/chat/completions` and OpenAI-style error bodies.

Validation is strict (JSON types as sent: `"temperature": "0.5"` is a 422, not a silent cast); fields the
OpenAI client may send that we don't use (`user`, `logprobs`=false, ...) are ignored.
"""
from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # e.g. an echoed assistant `reasoning_content`
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    model: str | None = None  # optional for curl convenience; a wrong name is a 404
    messages: list[Message] = Field(min_length=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)  # 0 = greedy
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)  # the newer OpenAI name for max_tokens
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=8)
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    def stop_list(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        return [s for s in stops if s]


def error_response(status: int, message: str, *, type: str = "invalid_request_error",
                   param: str | None = None, code: str | None = None) -> JSONResponse:
    """`{"error": {"message", "type", "param", "code"}}`, the body the OpenAI client parses."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def validation_error_response(err: ValidationError) -> JSONResponse:
    """400 for unparsable JSON, else 422 naming the first bad field (`messages.0.role`)."""
    first = err.errors()[0]
    if first["type"] in ("json_invalid", "json_type"):
        return error_response(400, f"request body is not valid JSON: {first['msg']}", code="invalid_json")
    param = ".".join(str(x) for x in first["loc"]) or None
    return error_response(422, f"{param}: {first['msg']}" if param else first["msg"], param=param,
                          code="invalid_value")
