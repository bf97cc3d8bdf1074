"""Load-test `reasonrl serve` in-process on loopback: time to first token, tokens/s for one client,
aggregate tokens/s for N concurrent clients, and the error count.

    python benchmarks/serve_load.py                       # the default SmolLM2-135M-Instruct
    python benchmarks/serve_load.py --model runs/x --clients 8 --requests-per-client 2 --max-tokens 128

Every request streams (stream_options.include_usage gives the token count); the server and clients
share the machine's CPU, so on a 2-core box the figures are a floor, not the engine's ceiling.
"""
from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import openai

from reasonrl.model import load_model
from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving
from reasonrl.serve.engine import HFEngine

QUESTIONS = [
    "Explain step by step how to compute 17 * 24.",
    "Write a short story about a robot who learns to paint.",
    "一列火车两小时行驶120公里，它的速度是多少？请详细解释。",
    "List five facts about the Moon and explain each one.",
]


def one_request(client: openai.OpenAI, name: str, i: int, max_tokens: int) -> dict:
    """Stream one chat completion; returns ttft_s, total_s, tokens (or error)."""
    t0 = time.perf_counter()
    ttft, tokens = None, 0
    try:
        stream = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
            max_tokens=max_tokens, temperature=0.7, seed=i, stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.usage:
                tokens = chunk.usage.completion_tokens
            for c in chunk.choices:
                if ttft is None and (c.delta.content or (c.delta.model_extra or {}).get("reasoning_content")):
                    ttft = time.perf_counter() - t0
    except openai.APIError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    return {"ttft_s": ttft, "total_s": time.perf_counter() - t0, "tokens": tokens}


def run_clients(url: str, name: str, clients: int, per_client: int, max_tokens: int) -> tuple[list[dict], float]:
    pool_clients = [openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
                    for _ in range(clients)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(lambda k: [one_request(pool_clients[k], name, k * per_client + j, max_tokens)
                                          for j in range(per_client)], k) for k in range(clients)]
        results = [r for f in futures for r in f.result()]
    return results, time.perf_counter() - t0


def summarise(label: str, results: list[dict], wall_s: float) -> list[str]:
    ok = [r for r in results if "error" not in r]
    errors = len(results) - len(ok)
    toks = sum(r["tokens"] for r in ok)
    ttft = statistics.median(r["ttft_s"] for r in ok if r["ttft_s"] is not None) if ok else float("nan")
    per_req = statistics.median(r["tokens"] / r["total_s"] for r in ok) if ok else float("nan")
    return [label, str(len(results)), str(errors), f"{ttft * 1000:.0f}", f"{per_req:.1f}", f"{toks / wall_s:.1f}",
            str(toks), f"{wall_s:.1f}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests-per-client", type=int, default=2)
    p.add_argument("--single-requests", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--max-batch", type=int, default=8)
    args = p.parse_args()
    model, tok, path = load_model(args.model)
    engine = HFEngine(model, tok, name=path.name, max_batch=args.max_batch, max_queue=64)
    head = ["load", "requests", "errors", "ttft_ms(med)", "tok/s per req(med)", "tok/s aggregate", "tokens", "wall_s"]
    widths = [max(len(h), 9) for h in head]
    print(f"model {path.name}, max_tokens {args.max_tokens}, max_batch {args.max_batch}")
    print("  ".join(c.rjust(w) for c, w in zip(head, widths)), flush=True)
    with serving(create_app(engine)) as url:
        one_request(openai.OpenAI(base_url=url + "/v1", api_key="u"), path.name, 0, 8)  # warm-up
        for label, clients, per_client in [("1 client", 1, args.single_requests),
                                           (f"{args.clients} clients", args.clients, args.requests_per_client)]:
            row = summarise(label, *run_clients(url, path.name, clients, per_client, args.max_tokens))
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)), flush=True)  # each row as it is measured
    engine.close()


if __name__ == "__main__":
    main()
