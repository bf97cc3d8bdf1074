"""Concurrency: a bounded loopback load test, and 429 (not a hang) when the waiting queue is full."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai

from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving

from reasonrl.serve.engine import HFEngine


def test_32_requests_from_8_clients_all_succeed(tiny_server):
    url, engine = tiny_server
    clients = [openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120) for _ in range(8)]

    def one(i: int):
        c = clients[i % 8]
        ask = [{"role": "user", "content": f"Question number {i}?"}]
        if i % 2:  # half stream, half don't
            chunks = list(c.chat.completions.create(model=engine.name, messages=ask, max_tokens=8, stream=True,
                                                    seed=i))
            return sum(1 for ch in chunks for x in ch.choices if x.finish_reason == "length")
        r = c.chat.completions.create(model=engine.name, messages=ask, max_tokens=8, seed=i)
        return int(r.usage.completion_tokens == 8)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    assert results == [1] * 32  # every request finished with all of its 8 tokens, none failed


def test_full_queue_answers_429(tiny_model_dir):
    from reasonrl.model import load_model

    model, tok, _ = load_model(tiny_model_dir)
    forward = model.forward

    def slow_forward(*a, **kw):  # a slow model keeps the first request running while we fill the queue
        time.sleep(0.05)
        return forward(*a, **kw)

    model.forward = slow_forward
    engine = HFEngine(model, tok, name="tiny", max_batch=1, max_queue=1)
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "temperature": 1.0, "seed": 0}
    with serving(create_app(engine)) as url:
        with httpx.stream("POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=60) as a:
            lines = a.iter_lines()  # keep the iterator: discarding it mid-stream stalls httpx
            next(lines)  # the first request is running
            waiting = threading.Thread(target=httpx.post, args=(url + "/v1/chat/completions",),
                                       kwargs={"json": body, "timeout": 60})
            waiting.start()
            deadline = time.monotonic() + 10
            while engine.queued() < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            t0 = time.monotonic()
            r = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
            assert time.monotonic() - t0 < 2  # answered at once, not after the queue drains
            assert r.status_code == 429
            assert r.json()["error"]["type"] == "rate_limit_error" and r.json()["error"]["code"] == "queue_full"
            assert [line for line in lines if line][-1] == "data: [DONE]"
        waiting.join()
        ok = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
        assert ok.status_code == 200
    engine.close()
