"""The app through the official openai client (stream and not, English and Chinese) and raw HTTP."""
import json

import httpx
import openai
import pytest

from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving

SCRIPT = "<think>\n先算 6*7。 Six sevens are 42.\n</think>\n<answer>42</answer>"


@pytest.fixture(scope="module")
def scripted_url(scripted):
    with serving(create_app(scripted(SCRIPT))) as url:
        yield url


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.mark.parametrize("question", ["What is 6*7?", "六乘以七等于几？"])
def test_non_stream_splits_reasoning_and_counts_tokens(scripted_url, question):
    r = client(scripted_url).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": question}])
    msg = r.choices[0].message
    assert msg.reasoning_content == "先算 6*7。 Six sevens are 42."
    assert msg.content == "42"
    assert r.choices[0].finish_reason == "stop"
    # the scripted engine makes one token per character: reasoning ends at the `</think>` character
    assert r.usage.completion_tokens == len(SCRIPT)
    assert r.usage.completion_tokens_details.reasoning_tokens == SCRIPT.index("</think>") + len("</think>")
    assert r.usage.prompt_tokens > 10


@pytest.mark.parametrize("question", ["What is 6*7?", "六乘以七等于几？"])
def test_stream_sends_reasoning_then_content_then_usage(scripted_url, question):
    stream = client(scripted_url).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": question}], stream=True,
        stream_options={"include_usage": True})
    kinds, reasoning, content, usage, finish = [], "", "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            extra = c.delta.model_extra or {}
            if extra.get("reasoning_content"):
                kinds.append("r")
                reasoning += extra["reasoning_content"]
            if c.delta.content:
                kinds.append("c")
                content += c.delta.content
            finish = c.finish_reason or finish
    assert (reasoning.strip(), content.strip()) == ("先算 6*7。 Six sevens are 42.", "42")
    assert kinds == sorted(kinds, reverse=True) and "r" in kinds and "c" in kinds  # all r before all c
    assert finish == "stop" and usage.completion_tokens == len(SCRIPT)


def test_raw_sse_ends_with_done(scripted_url):
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 20}
    with httpx.stream("POST", scripted_url + "/v1/chat/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["choices"][0]["delta"]["role"] == "assistant"


def test_prefill_think_without_opening_tag(scripted):
    engine = scripted("count: 1, 2, 3</think>three")
    with serving(create_app(engine, prefill_think=True)) as url:
        msg = client(url).chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "count"}]).choices[0].message
    assert (msg.reasoning_content, msg.content) == ("count: 1, 2, 3", "three")


def test_models_and_health(scripted_url):
    assert [m.id for m in client(scripted_url).models.list()] == ["scripted"]
    assert httpx.get(scripted_url + "/health").json() == {"status": "ok", "model": "scripted", "queued": 0}


def test_tiny_model_honours_max_tokens_n_seed_stop(tiny_server):
    url, engine = tiny_server
    c, name = client(url), engine.name
    ask = [{"role": "user", "content": "Tell me a story."}]
    a = c.chat.completions.create(model=name, messages=ask, max_tokens=12, seed=7, temperature=1.0)
    b = c.chat.completions.create(model=name, messages=ask, max_tokens=12, seed=7, temperature=1.0)
    d = c.chat.completions.create(model=name, messages=ask, max_tokens=12, seed=8, temperature=1.0)
    assert a.choices[0].message.content == b.choices[0].message.content  # same seed, same text
    assert a.choices[0].message.content != d.choices[0].message.content
    assert a.usage.completion_tokens == 12 and a.choices[0].finish_reason == "length"

    g1 = c.chat.completions.create(model=name, messages=ask, max_tokens=16, temperature=0)
    g2 = c.chat.completions.create(model=name, messages=ask, max_tokens=16, temperature=0, n=2)
    text = g1.choices[0].message.content
    assert [ch.message.content for ch in g2.choices] == [text, text]  # greedy ignores the seed
    assert g2.usage.completion_tokens == 32

    stop = text[6:9]  # a stop string known to occur: greedy output is reproducible
    s = c.chat.completions.create(model=name, messages=ask, max_tokens=16, temperature=0, stop=[stop, "zzzz"])
    assert s.choices[0].message.content == text[: text.index(stop)].strip()
    assert s.choices[0].finish_reason == "stop"
