"""`reasonrl serve`: argument handling, the vllm refusal, and (slow) the real command on the real model."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from reasonrl.serve.cli import main, served_name


def test_served_name_from_folder_run_dir_or_flag():
    assert served_name(Path("/m/SmolLM2-135M-Instruct"), None) == "SmolLM2-135M-Instruct"
    assert served_name(Path("/runs/gsm8k-grpo/checkpoints/step_000040"), None) == "gsm8k-grpo"
    assert served_name(Path("/runs/x/checkpoints/step_1"), "mine") == "mine"


def test_vllm_engine_without_vllm_is_one_line_error(tiny_model_dir):
    pytest.importorskip("torch")
    if __import__("importlib.util").util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(SystemExit, match=r"^reasonrl serve: --engine vllm needs the vllm package") as e:
        main(["--engine", "vllm", "--model", str(tiny_model_dir)])
    assert "\n" not in str(e.value)


def test_missing_model_is_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match=r"^reasonrl serve: .*not a Hugging Face model folder"):
        main(["--model", str(tmp_path / "nope")])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_reasonrl_serve_command_on_real_model():
    port = _free_port()
    cmd = [sys.executable, "-m", "reasonrl.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up in 120 s"
            time.sleep(0.5)
        c = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in c.models.list()] == ["SmolLM2-135M-Instruct"]
        ask = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        r = c.chat.completions.create(model="SmolLM2-135M-Instruct", messages=ask, max_tokens=48, temperature=0)
        msg = r.choices[0].message
        text = (msg.reasoning_content or "") + (msg.content or "")
        assert "Paris" in text, text
        assert r.usage.completion_tokens <= 48 and r.usage.prompt_tokens > 20
        chunks = list(c.chat.completions.create(model="SmolLM2-135M-Instruct", messages=ask, max_tokens=48,
                                                temperature=0, stream=True))
        streamed = "".join((ch.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                           for ch in chunks if ch.choices)
        streamed += "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert streamed.strip() == text  # greedy: the stream says what the plain reply said
    finally:
        proc.terminate()
        proc.wait(timeout=30)
