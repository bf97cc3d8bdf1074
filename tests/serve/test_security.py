"""Serve security: API key on every /v1/* route (401, OpenAI error shape), no exposed bind without a key,
a body-size cap, a per-request time bound, and disconnected streams giving their slot back."""
from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from reasonrl.serve import cli, security
from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving
from reasonrl.serve.engine import Delta, GenRequest, QueueFull

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


class SlotEngine:
    """`slots` requests at a time, one "token" every `tick_s` until max_tokens or cancelled; a full engine
    raises QueueFull (HTTP 429). A slot is only given back when the request finishes or is cancelled."""

    def __init__(self, tokenizer, slots: int = 8, tick_s: float = 0.01):
        self.name, self.tokenizer, self.max_context = "slots", tokenizer, 100_000
        self.slots, self.tick_s, self.active, self.lock = slots, tick_s, 0, threading.Lock()

    def queued(self) -> int:
        return 0

    def submit(self, req: GenRequest) -> None:
        with self.lock:
            if self.active >= self.slots:
                raise QueueFull(f"all {self.slots} slots busy")
            self.active += 1
        threading.Thread(target=self._run, args=(req,), daemon=True).start()

    def _run(self, req: GenRequest) -> None:
        try:
            for k in range(req.params.max_new_tokens):
                if req.cancelled:
                    return
                time.sleep(self.tick_s)
                if req.cancelled:
                    return
                req.emit(Delta(0, "a", k + 1))
            req.emit(Delta(0, "", req.params.max_new_tokens, finish_reason="length"))
        finally:
            with self.lock:
                self.active -= 1

    def close(self) -> None:
        pass


@pytest.fixture
def keyed(scripted):
    return TestClient(create_app(scripted("<think>x</think>y"), api_key="sk-test"))


@pytest.mark.parametrize("method, path", [("GET", "/v1/models"), ("GET", "/v1/models/scripted"),
                                          ("POST", "/v1/chat/completions"), ("GET", "/v1/nope")])
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "sk-test", "Bearer sk-test "])
def test_every_v1_route_needs_the_key(keyed, method, path, auth):
    r = keyed.request(method, path, json=CHAT, headers={"Authorization": auth} if auth else {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    err = r.json()["error"]
    assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error" and err["param"] is None
    assert ("missing" in err["message"]) == (auth is None)


def test_right_key_passes_and_health_stays_open(keyed):
    ok = {"Authorization": "Bearer sk-test"}
    assert keyed.get("/v1/models", headers=ok).json()["data"][0]["id"] == "scripted"
    r = keyed.post("/v1/chat/completions", json={**CHAT, "max_tokens": 100}, headers=ok)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "y"
    assert keyed.get("/health").status_code == 200 and keyed.get("/").status_code == 200


def test_openai_client_sees_an_authentication_error(scripted):
    with serving(create_app(scripted("hello"), api_key="sk-test")) as url:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        good = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert good.chat.completions.create(model="scripted", messages=CHAT["messages"]).choices[0].message.content == "hello"


@pytest.mark.parametrize("argv, refused", [
    (["--host", "0.0.0.0"], True), (["--host", "192.168.1.5"], True), (["--host", "myhost.lan"], True),
    (["--host", "0.0.0.0", "--allow-no-key"], False), (["--host", "0.0.0.0", "--api-key", "k"], False),
    ([], False), (["--host", "::1"], False), (["--host", "localhost"], False),
])
def test_exposed_bind_needs_a_key_or_allow_no_key(argv, refused, monkeypatch):
    monkeypatch.delenv("REASONRL_API_KEY", raising=False)
    args = cli.build_parser().parse_args(argv)
    if refused:
        with pytest.raises(SystemExit) as e:
            security.app_kwargs(args)
        assert "\n" not in str(e.value) and "--api-key" in str(e.value) and "--allow-no-key" in str(e.value)
    else:
        assert security.app_kwargs(args)["api_key"] == args.api_key


def test_cli_refuses_before_loading_the_model(monkeypatch):
    monkeypatch.delenv("REASONRL_API_KEY", raising=False)
    monkeypatch.setattr(cli, "make_engine", lambda args: pytest.fail("the model was loaded"))
    with pytest.raises(SystemExit, match="exposes the model to the network without an API key"):
        cli.main(["--host", "0.0.0.0"])


def test_api_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("REASONRL_API_KEY", "sk-env")
    args = cli.build_parser().parse_args(["--host", "0.0.0.0"])
    assert security.app_kwargs(args)["api_key"] == "sk-env"


def test_body_over_the_cap_is_413_declared_or_chunked(scripted):
    client = TestClient(create_app(scripted("y"), max_body_bytes=1000))
    big = {"messages": [{"role": "user", "content": "x" * 2000}]}
    r = client.post("/v1/chat/completions", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    assert "at most 1000" in r.json()["error"]["message"]
    chunked = client.post("/v1/chat/completions", content=iter([b'{"messages": [', b" " * 1200, b"]}"]))
    assert chunked.status_code == 413
    assert client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 800}]}).status_code == 200


def test_request_past_its_time_limit_is_cut_and_frees_its_slot(real_tokenizer):
    engine = SlotEngine(real_tokenizer, slots=1, tick_s=0.05)
    with serving(create_app(engine, request_timeout_s=0.5)) as url:
        r = httpx.post(url + "/v1/chat/completions", json={**CHAT, "max_tokens": 10_000}, timeout=30)  # 500 s of work
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        _wait_idle(engine)
        with httpx.stream("POST", url + "/v1/chat/completions", json={**CHAT, "max_tokens": 10_000, "stream": True},
                          timeout=30) as s:
            lines = [l for l in s.iter_lines() if l]
        assert "per-request time limit" in lines[-2] and lines[-1] == "data: [DONE]", lines[-3:]
        _wait_idle(engine)
        assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 200  # the slot is free


def _wait_idle(engine, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while engine.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.active == 0, f"{engine.active} slots still held by clients that went away"


def test_twenty_disconnects_mid_stream_then_eight_clients_all_succeed(real_tokenizer):
    engine = SlotEngine(real_tokenizer, slots=8)
    with serving(create_app(engine)) as url:
        for _ in range(20):  # each would stream for 100 s; the client reads one token and hangs up
            with httpx.Client(timeout=30) as c, c.stream("POST", url + "/v1/chat/completions",
                                                         json={**CHAT, "max_tokens": 10_000, "stream": True}) as r:
                assert r.status_code == 200
                next(l for l in r.iter_lines() if '"content": "a"' in l)
        _wait_idle(engine)

        def ask(_):
            return httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=60)
        with cf.ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(ask, range(8)))
    assert [r.status_code for r in replies] == [200] * 8
    assert all(r.json()["choices"][0]["message"]["content"] == "aaaaa" for r in replies)


def test_non_stream_client_that_leaves_frees_its_slot(real_tokenizer):
    engine = SlotEngine(real_tokenizer, slots=1)
    with serving(create_app(engine)) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/v1/chat/completions", json={**CHAT, "max_tokens": 10_000}, timeout=0.5)
        _wait_idle(engine)
        assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
