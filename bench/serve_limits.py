#!/usr/bin/env python3
"""What a request's shape costs `aio serve` before its first token, and what a request at each limit costs everyone
else (issue 19). The tiny test pair with the pinned Llama-3 tokenizer: the costs measured here (parsing, chat
templates, tokenization, grammars) do not depend on the weights.

1. Input size -> time: chats of N messages, N tools and an enum of N values, with the limits raised far past their
   defaults so the cost itself shows; each refused at admission (the context is 512 tokens) or answered. Linear costs
   keep time / N flat as N grows.
2. Stall: a 16-token chat's latency alone, and while a request at each default limit (1,000-value enum, greedy and
   sampled; 128 tools; 4,096 messages) is being handled beside it - the engine must not wait for another request.

Writes bench/results/serve_limits.json."""
import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request

from serve_common import BIN, ROOT, Servers, save_results, synth

PORT = 18031
BASE = f"http://127.0.0.1:{PORT}"


def send(body, timeout=600):
    """POSTs a chat body; returns (status, seconds)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"{BASE}/v1/chat/completions", data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, time.perf_counter() - t0


def messages(n):
    return {"model": "large", "max_tokens": 4, "temperature": 0,
            "messages": [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(n)]}


def tools(n):
    body = messages(1)
    body["tools"] = [{"type": "function", "function": {"name": f"f{i}", "description": "a tool",
                                                       "parameters": {"type": "object",
                                                                      "properties": {"x": {"type": "integer"}}}}}
                     for i in range(n)]
    return body


def enum(n, temperature=0):
    body = messages(1)
    body["temperature"] = temperature
    body["response_format"] = {"type": "json_schema", "json_schema": {"name": "e", "schema": {"enum": list(range(n))}}}
    return body


def chat16():
    return {"model": "large", "max_tokens": 16, "temperature": 0, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Write a Python function that reverses a list."}]}


def median_time(make, n, repeats):
    times, status = [], None
    for _ in range(repeats):
        status, seconds = send(make(n))
        times.append(seconds)
    return status, statistics.median(times)


def beside(make, repeats):
    """A 16-token chat's latency while `make()` is sent at the same moment (median over repeats)."""
    times = []
    for _ in range(repeats):
        heavy = threading.Thread(target=send, args=(make(),))
        heavy.start()
        time.sleep(0.005)
        times.append(send(chat16())[1])
        heavy.join()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = ap.parse_args()
    models = os.path.join(ROOT, "models")
    small = synth("tiny-small", os.path.join(models, "tiny-small.gguf"))
    large = synth("tiny-large", os.path.join(models, "tiny-large.gguf"))
    cfg = os.path.join(tempfile.mkdtemp(prefix="aio-limits-"), "aio.yaml")
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {{path: {small}, n_ctx: 512}}\n  large: {{path: {large}, n_ctx: 512}}\n"
                "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n")
    raised = ["--max-messages", "1000000", "--max-tools", "1000000", "--max-tools-bytes", "100000000",
              "--max-enum-values", "1000000", "--max-schema-bytes", "100000000", "--max-schema-nodes", "100000000",
              "--max-body", str(64 << 20)]
    sizes = {"messages": [500, 1000, 2000, 4000] if args.quick else [1000, 2000, 4000, 8000, 16000, 32000],
             "tools": [16, 32, 64] if args.quick else [32, 64, 128, 256, 512],
             "enum": [250, 500, 1000] if args.quick else [250, 500, 1000, 2000, 4000]}
    makers = {"messages": messages, "tools": tools, "enum": enum}
    results = {"scaling": {}, "stall": {}}
    cmd = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(PORT), "--slots", "2"] + raised
    with Servers({"aio": cmd}, {"aio": BASE}):
        for what, ns in sizes.items():
            rows = []
            for n in ns:
                status, seconds = median_time(makers[what], n, args.repeats)
                rows.append({"n": n, "status": status, "seconds": seconds, "us_per_item": seconds / n * 1e6})
                print(f"{what:9s} n={n:6d}  {status}  {seconds * 1000:9.1f} ms  {seconds / n * 1e6:8.1f} us/item",
                      flush=True)
            results["scaling"][what] = rows
    # At the default limits: the server as users run it.
    cmd = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(PORT), "--slots", "2"]
    with Servers({"aio": cmd}, {"aio": BASE}):
        send(chat16())
        alone = statistics.median(send(chat16())[1] for _ in range(max(3, args.repeats)))
        results["stall"]["alone_s"] = alone
        print(f"16-token chat alone: {alone * 1000:.1f} ms", flush=True)
        at_limit = {"enum of 1,000": lambda: enum(1000), "enum of 1,000, sampled": lambda: enum(1000, 1.0),
                    "128 tools": lambda: tools(128),
                    "4,096 messages": lambda: messages(4096)}
        for name, make in at_limit.items():
            t = beside(make, max(3, args.repeats))
            results["stall"][name] = t
            print(f"16-token chat beside {name}: {t * 1000:.1f} ms ({t / alone:.2f}x alone)", flush=True)
    save_results("serve_limits", results)


if __name__ == "__main__":
    main()
