#!/usr/bin/env python3
"""A long prompt arriving among running streams: does it stall their tokens? K streams decode (streamed chat, greedy,
--tokens each); once they run, one request with a --long-tokens prompt arrives. aio reads every request with the lm
probe (each carries a shadow label, so the probe runs although the one-model policy does not read it: its chunks
share the step budget with the prefill). Each stream's inter-token gaps are timed from the server-sent events as a
client sees them, per token (chunks carry their tokens' logprobs; a token without printable text yet comes with the
next one). Compared, in the same run on the same synthetic 1B file (threads and slots equal): `aio serve` with the
measured step budget (auto), `aio serve` with whole-batch prefill chunks (--step-budget 512, the behaviour before the
budget), and llama.cpp's `llama-server`.

Reported per server: the streams' inter-token p50 / p99 (ms) with the long prompt (and p99 per chunk), the plain
decode step (their p50 without it) and its p99 (streams starting, probed and prefilled among the others), p99 /
plain step (the issue's bound: <= 3), and the long prompt's time to first token; with --repeats, each run and the
median of the ratios. The servers run one at a time within a repeat, in alternating order across repeats (so a
machine that drifts is shared alike); --binary NAME=PATH adds `aio-auto` from another binary (a copy of an earlier
build) as aio-NAME, to measure a change against what it replaces in one alternated run, and --model-keys
NAME=KEY:VALUE,... adds `aio-auto` with other config keys on its model (e.g. split=kv_cache:split,flash_attn:off).

Run: python3 bench/serve_long_prompt.py [--streams 8] [--tokens 400] [--long-tokens 3000] [--repeats 3]
"""
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import (BIN, aio_binary, llama_server_cmd, model_entry, model_keys, Servers,  # noqa: E402
                          one_model_args, percentile, save_results, synth)


def stream_gaps(url, body, out, key):
    """Streams one chat request (with logprobs, so each chunk says how many tokens it carries); stores the arrival time
    and token count of each content chunk. A token whose text is not yet printable (part of a UTF-8 character, common
    with random weights) comes in the next chunk: a chunk of k tokens after a gap g is k steps of g / k each, not one
    stall - decoding is plain here, one token per sequence per step."""
    req = urllib.request.Request(url, data=json.dumps(dict(body, stream=True, logprobs=True)).encode(),
                                 headers={"Content-Type": "application/json"})
    times = out[key] = []  # (time, tokens), filled as the tokens arrive (the caller watches it)
    with urllib.request.urlopen(req, timeout=3600) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            ch = chunk.get("choices") or []
            if ch and ch[0].get("delta", {}).get("content"):
                tokens = len(((ch[0].get("logprobs") or {}).get("content")) or []) or 1
                times.append((time.time(), tokens))


def run(base, model, streams, tokens, long_prompt, tag):
    url = f"{base}/v1/chat/completions"
    out = {}
    threads = []
    for i in range(streams):
        body = {"model": model, "max_tokens": tokens, "temperature": 0, "ignore_eos": True,
                "messages": [{"role": "user", "content": f"{tag} stream {i}: tell me a long story about the sea."}],
                "aio": {"label": "qa"}}  # a shadow label: the lm probe reads the request although nothing routes on it
        threads.append(threading.Thread(target=stream_gaps, args=(url, body, out, i)))
    for t in threads:
        t.start()
    # Let the streams reach steady decoding, then the long prompt arrives.
    for _ in range(6000):
        if all(len(out.get(i, [])) >= 3 for i in range(streams)):
            break
        time.sleep(0.05)
    time.sleep(1.0)
    t_long = time.time()
    long_body = {"model": model, "max_tokens": 1, "temperature": 0, "aio": {"label": "qa"},
                 "messages": [{"role": "user", "content": f"{tag} {long_prompt}"}]}
    long_out = {}
    lt = threading.Thread(target=stream_gaps, args=(url, long_body, long_out, "long"))
    lt.start()
    for t in threads:
        t.join()
    lt.join()
    ttft = (long_out["long"][0][0] - t_long) if long_out.get("long") else float("nan")
    # Per-token gaps while the long prompt was being prefilled (after it arrived, until its first token) and before
    # it; and the same per chunk, as a client without logprobs would time them.
    during, before, during_chunks, multi = [], [], [], 0
    t_first = long_out["long"][0][0] if long_out.get("long") else float("inf")
    for i in range(streams):
        ts = out.get(i, [])
        for (a, _), (b, k) in zip(ts, ts[1:]):
            target = during if t_long <= b <= t_first else before if b < t_long else []
            target.extend([1000 * (b - a) / k] * k)
            if t_long <= b <= t_first:
                during_chunks.append(1000 * (b - a))
                multi += k > 1
    return {"during_p50": percentile(during, 0.5), "during_p99": percentile(during, 0.99),
            "during_max": max(during) if during else 0, "plain_step": percentile(before, 0.5),
            "plain_p99": percentile(before, 0.99), "during_chunk_p99": percentile(during_chunks, 0.99),
            "multi_token_chunks_during": multi,
            "n_gaps_during": len(during), "long_ttft_s": ttft}


def main():
    ap = one_model_args(__doc__.split("\n")[0], tokens=400, repeats=1)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--long-tokens", type=int, default=3000)
    ap.add_argument("--only", default="", help="comma-separated servers to run (aio-auto, aio-whole-chunks, llama-server)")
    ap.add_argument("--step-factor", default="", help="aio's --step-factor (default: the config's)")
    ap.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                    help="also aio-auto from this binary, as aio-NAME (e.g. old=/tmp/aio-old; repeatable)")
    ap.add_argument("--model-keys", action="append", default=[], metavar="NAME=KEY:VALUE,...",
                    help="also aio-auto with these config keys on its model, as aio-NAME (e.g. "
                         "split=kv_cache:split,flash_attn:off; repeatable)")
    a = ap.parse_args()
    synth("llama3.2-1b", a.model)
    d = tempfile.mkdtemp(prefix="aio-long-")
    n_ctx = a.long_tokens + 512

    def write_config(name, **keys):
        path = os.path.join(d, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(f"models:\n  small: {model_entry(a.model, n_ctx, **keys)}\npolicy: static-small\n"
                    f"probe: {{kind: lm, model: small}}\nthreads: {a.threads}\n")
        return path

    cfg = write_config("aio")
    # About one token per word of this filler on a Llama-3 vocabulary.
    words = "the quick brown fox jumps over the lazy dog while the river runs to the sea".split()
    long_prompt = " ".join(words[i % len(words)] for i in range(a.long_tokens)) + "\nSummarize the text above."
    ports = {"aio-auto": 18311, "aio-whole-chunks": 18312, "llama-server": 18313}
    cmds = {
        "aio-auto": [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(ports["aio-auto"]),
                     "--slots", str(a.slots + 1), "--step-budget", "auto"],
        "aio-whole-chunks": [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port",
                             str(ports["aio-whole-chunks"]), "--slots", str(a.slots + 1), "--step-budget", "512"],
        "llama-server": llama_server_cmd(a.model, ports["llama-server"], a.threads, a.slots + 1, n_ctx,
                                         extra=["-b", "512"]),
    }
    if a.step_factor:
        cmds["aio-auto"] += ["--step-factor", a.step_factor]
    for i, spec in enumerate(a.binary):
        vname, path = aio_binary(spec, ap)
        name = f"aio-{vname}"
        ports[name] = 18320 + i
        cmds[name] = [path] + cmds["aio-auto"][1:]
        cmds[name][cmds[name].index("--port") + 1] = str(ports[name])
    for i, spec in enumerate(a.model_keys):
        vname, keys = model_keys(spec, ap)
        name = f"aio-{vname}"
        ports[name] = 18330 + i
        cmds[name] = list(cmds["aio-auto"])
        cmds[name][cmds[name].index("--port") + 1] = str(ports[name])
        cmds[name][cmds[name].index("--config") + 1] = write_config(vname, **keys)
    names = a.only.split(",") if a.only else list(cmds)
    names += [f"aio-{spec.partition('=')[0]}" for spec in a.binary + a.model_keys if a.only]
    unknown = [n for n in names if n not in cmds]
    if unknown:
        ap.error(f"--only: unknown server(s) {', '.join(unknown)} (aio-auto, aio-whole-chunks, llama-server)")
    runs = {name: [] for name in names}
    for rep in range(a.repeats):
        # One server up at a time (they would share the two cores), in alternating order across repeats.
        for name in (names if rep % 2 == 0 else list(reversed(names))):
            base = f"http://127.0.0.1:{ports[name]}"
            with Servers({name: cmds[name]}, {name: base}):
                model = "small" if name.startswith("aio") else "m"
                r = run(base, model, a.streams, a.tokens, long_prompt, f"[{name} {rep} {time.time():.0f}]")
                r["p99_over_step"] = r["during_p99"] / r["plain_step"] if r["plain_step"] else float("nan")
                runs[name].append(r)
                print(f"{name:18s} inter-token during the long prefill: p50 {r['during_p50']:.0f} ms, p99 "
                      f"{r['during_p99']:.0f} ms (max {r['during_max']:.0f}, {r['n_gaps_during']} gaps; per chunk p99 "
                      f"{r['during_chunk_p99']:.0f} ms, {r['multi_token_chunks_during']} chunks of 2+ tokens); plain step "
                      f"{r['plain_step']:.0f} ms (p99 {r['plain_p99']:.0f}); p99 / step {r['p99_over_step']:.2f}; "
                      f"long prompt TTFT {r['long_ttft_s']:.1f} s", flush=True)
    results = {}
    for name in names:
        ratios = sorted(r["p99_over_step"] for r in runs[name])
        results[name] = {"runs": runs[name], "median_p99_over_step": ratios[len(ratios) // 2]}
        if a.repeats > 1:
            print(f"{name:18s} p99 / step over {a.repeats} runs: median {ratios[len(ratios) // 2]:.2f} "
                  f"(runs {', '.join(f'{x:.2f}' for x in ratios)})", flush=True)
    save_results("long_prompt.json", {"streams": a.streams, "tokens": a.tokens, "long_tokens": a.long_tokens,
                                      "threads": a.threads, "results": results})


if __name__ == "__main__":
    main()
