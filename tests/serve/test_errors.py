"""Bad requests get OpenAI-style error bodies with the right status, and the server keeps serving."""
import httpx
import openai
import pytest

GOOD = [{"role": "user", "content": "hi"}]


def post(url: str, body) -> httpx.Response:
    kw = {"content": body} if isinstance(body, (str, bytes)) else {"json": body}
    return httpx.post(url + "/v1/chat/completions", headers={"Content-Type": "application/json"}, timeout=60, **kw)


@pytest.mark.parametrize("body,status,param", [
    ('{"messages": [', 400, None),                                   # malformed JSON
    ("[1, 2]", 422, None),                                          # JSON, but not an object
    ({"model": "gpt-4o", "messages": GOOD}, 404, "model"),           # unknown model
    ({"messages": GOOD, "max_tokens": 100_000}, 400, "max_tokens"),  # beyond the 512-token context
    ({"messages": []}, 422, "messages"),                             # empty messages
    ({"messages": GOOD, "temperature": "hot"}, 422, "temperature"),  # wrong type
    ({"messages": GOOD, "max_tokens": "10"}, 422, "max_tokens"),     # strings are not cast
    ({"messages": GOOD, "n": 0}, 422, "n"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 422, "messages.0.role"),
    ({"messages": [{"role": "user", "content": "x" * 5000}]}, 400, "messages"),  # prompt alone overflows
])
def test_bad_request_gets_openai_error(tiny_server, body, status, param):
    url, engine = tiny_server
    r = post(url, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param
    # ... and the server still answers a good request
    ok = post(url, {"model": engine.name, "messages": GOOD, "max_tokens": 2})
    assert ok.status_code == 200 and ok.json()["usage"]["completion_tokens"] == 2


def test_openai_client_raises_typed_errors(tiny_server):
    url, engine = tiny_server
    c = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="model_not_found|not found"):
        c.chat.completions.create(model="nope", messages=GOOD)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        c.chat.completions.create(model=engine.name, messages=GOOD, max_tokens=10_000)
    with pytest.raises(openai.UnprocessableEntityError):
        c.chat.completions.create(model=engine.name, messages=[])


def test_unknown_route_is_openai_style_404(tiny_server):
    r = httpx.get(tiny_server[0] + "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Not Found"
