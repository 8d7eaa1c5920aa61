#!/usr/bin/env python3
"""Goodput: the highest request rate a server sustains within a latency objective (DistServe's measure, what an
operator plans capacity with), for `aio serve` with a small + large pair and the aio policy against llama.cpp's
`llama-server` serving the large model alone - same threads, same slots, same requests, run in alternation;
llama-server with one unified KV cache, its faster layout when requests come and go (serve_common.LLAMA_SERVER_SHARED_KV).

Requests arrive open-loop: Poisson arrivals (seeded) at a fixed rate, each sent when it arrives whatever the server
is doing, streamed, and timed as a client sees them: time to first token (TTFT) from the arrival, and the gaps
between streamed chunks (inter-token latency, ITL). A rate meets the objective when p99 TTFT and p99 ITL are within
it and no request failed. The ladder's rates are multiples of llama-server's measured capacity (its closed-loop
requests/s with every slot busy), searched: each server starts near its expected goodput (its earlier ladders'
median) and steps up while it meets the objective, down while it breaks; its goodput is the highest rate met below
the lowest one broken (the slow low rates every server meets are not spent on). Goodput is the median of --repeats
ladders. Each rate sends at least 24 requests (--requests) and enough for its arrivals to span --min-window times
llama-server's unloaded request time (8: about 4 minutes with 128-token answers on a 3B here), so that a fast rate is
held long enough for the queues to reach their steady state: a burst of 24 arrivals within a minute can be absorbed by
a server that could not sustain the rate (until 2026-12-06 every rate sent 24, so the highest rates lasted under a
minute). With few requests per rate, p99 is the slowest request.
The objective, as DistServe states one (fixed multiples of the unloaded latencies): p99 TTFT <= 5x llama-server's
unloaded TTFT, and p99 TPOT (a request's mean time per output token after its first) <= 3x llama-server's unloaded
inter-token latency, its decode step with one stream (--ttft-factor, --tpot-factor). Fixed rather than taken from a
loaded run: llama-server's own p99 TPOT at capacity swung from 423 to 621 ms between runs here, and in the closed
loop every slot's prompt is prefilled together, so no loaded figure was one llama-server could meet in the open loop,
where each arrival's prefill stalls the running decodes. TPOT rather than each gap: a gap that holds a newcomer's
prefill is one stall a reader sees once, which the p99 of single gaps (also reported) turns into the whole verdict.
In the `long` mix no TTFT can be a short prompt's: there each request's TTFT is taken over llama-server's unloaded
TTFT for a prompt of its length (a line, base + slope x context tokens, fitted on one client's run of ten requests,
two of them long), and the p99 of that ratio must be <= the same 5x. So with TPOT: a token deep in a 3,000-token
context costs more than one after a short prompt (its attention reads every cell before it: llama-server's unloaded
TPOT there was several times a short request's), so each request's TPOT is taken over llama-server's unloaded TPOT
at its context (a line fitted the same way), and the p99 of that ratio must be <= the same 3x. The short requests'
TPOT is taken over the short ones', as in the other mixes; only what their context costs unloaded is forgiven, not
what a neighbour's long prompt costs them.

Workloads (Scenario A's mix: 70% code, 20% QA, 10% math):
  bench   the benchmark prompts of data/sample (HumanEval completions, C-Eval and GSM8K chats; ~75 tokens)
  chat    short real requests (15-30 words: CoNaLa/LeetCode asks, NQ/WebQuestions questions, short math problems)
          from the probe's held-out split (data/probe/heldout.jsonl.gz), sent as chats
  long    the bench mix with a fifth of the requests carrying 2-4k tokens of real text before them (Scenario C style;
          n_ctx 4,608 a slot)

Also the closed-loop table (K clients, each sending its next request when the last one is answered) at K = 1..16.
Pairs (synthetic Q8_0): `3b` (default) smollm2-135m + llama3.2-3b, a per-token cost ratio near the paper's 1B:7B at a
speed whose ladder fits this machine; `8b` llama3.2-1b + llama3.1-8b, the paper's own sizes; `fast` smollm2-135m +
llama3.2-1b, for trying the harness. Synthetic weights: speeds are real, text is not.
The per-token work-ratio bound on aio's gain, 1 / (share_large + share_small x cost_small / cost_large), is printed
from the route split aio reported and the two models' measured decode speeds.
llama-server prefills each arrival's prompt in the step it arrives in, up to its batch size (-b, 2048 by default),
stalling its running streams; a smaller -b chunks prompts across steps, its nearest to aio's step budget.
--anchor-variant NAME=ARGS runs such a llama-server beside the default one (e.g. b32=-b,32,-ub,32), and aio's ratio
to each is printed. --binary NAME=PATH runs another `aio serve` from another binary (a copy of an earlier build) with
the same arguments, to measure a change against what it replaces in one alternated run; --model-keys
NAME=KEY:VALUE,... one whose models take other config keys (e.g. split=kv_cache:split,flash_attn:off).

Run: python3 bench/serve_goodput.py [--workloads bench,chat] [--tokens 32,128] [--repeats 3] [--budget-minutes 60]
Writes bench/results/goodput.json as each measurement completes.
"""
import argparse
import collections
import gzip
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import (BIN, aio_binary, llama_server_cmd, model_entry, model_keys, ROOT, SCENARIO_A,  # noqa: E402
                          Servers, percentile, save_results, scenario_requests, synth)

# Small and large presets. Measured here (llama-bench, 2 threads, tg32): smollm2-135m 81 tok/s, llama3.2-1b 23,
# llama3.2-3b 5.4: a cost ratio of 0.28 for `fast`, 0.07 for `3b`; the paper's 1B:7B pair is `8b`.
PAIRS = {"8b": ("llama3.2-1b", "llama3.1-8b"), "3b": ("smollm2-135m", "llama3.2-3b"),
         "fast": ("smollm2-135m", "llama3.2-1b")}
# x llama-server's capacity, in equal ratios (2^(1/4), 19% apart) from 1/8 to 5.7: a goodput is known to within one
# step, and the ratio of two goodputs to within two, the same at every rate. (Until 2026-12-06 the steps were 0.25
# wide, 50% apart between llama-server's 0.5x and 0.75x where it usually sat, so its goodput could be half again the
# rung reported and aio's ratio inflated by as much.) The searched ladder starts near each server's expected goodput,
# so the low rungs are only run by a server that breaks above them, the high ones only by one that meets below them.
LADDER = [round(2 ** (k / 4), 3) for k in range(-12, 11)]


def stream_one(base, req, model, tag, t_arrival):
    """Sends one request (streamed) at t_arrival; returns its TTFT, chunk gaps, tokens and route (or its error)."""
    body = dict(req["body"], model=model, stream=True)
    if "prompt" in body:
        body["prompt"] = tag + body["prompt"]
    else:
        body["messages"] = [dict(m, content=tag + m["content"]) for m in body["messages"]]
    delay = t_arrival - time.time()
    if delay > 0:
        time.sleep(delay)
    out = {"ttft": None, "gaps": [], "chunks": 0, "route": None, "error": None, "timings": None,
           "context_tokens": req.get("context_tokens", 0)}
    http = urllib.request.Request(base + req["path"], data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(http, timeout=3600) as r:
            out["route"] = r.headers.get("x-aio-model")
            last = None
            for raw in r:
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if isinstance(chunk.get("aio"), dict):  # aio's route record (the last chunk): where the time went
                    out["timings"] = chunk["aio"].get("timings_ms")
                choices = chunk.get("choices") or []
                if not choices:
                    continue
                text = choices[0].get("text") if "text" in choices[0] else choices[0].get("delta", {}).get("content")
                if not text:
                    continue
                now = time.time()
                if last is None:
                    out["ttft"] = now - t_arrival
                else:
                    out["gaps"].append(now - last)
                last = now
                out["chunks"] += 1
    except (urllib.error.URLError, OSError, ValueError) as e:
        out["error"] = str(e)
    if out["ttft"] is None and out["error"] is None:
        out["error"] = "no token streamed"
    return out


def summarize(results, wall, unloaded=None):
    """A run's figures. unloaded (the `long` mix): llama-server's unloaded TTFT and TPOT as lines in the prompt's
    added context tokens, {"base_s", "per_token_s", "tpot_base_s", "tpot_per_token_s"}; each TTFT and TPOT is then also
    taken over that of its own length (ttft_norm, tpot_norm)."""
    ok = [r for r in results if not r["error"]]
    ttft = [r["ttft"] for r in ok]
    gaps = [g for r in ok for g in r["gaps"]]
    tpot = [sum(r["gaps"]) / len(r["gaps"]) for r in ok if r["gaps"]]
    tpot_norm = ([sum(r["gaps"]) / len(r["gaps"]) /
                  (unloaded["tpot_base_s"] + r["context_tokens"] * unloaded["tpot_per_token_s"])
                  for r in ok if r["gaps"]] if unloaded else None)
    return {"requests": len(results), "errors": len(results) - len(ok),
            "error_example": next((r["error"] for r in results if r["error"]), None),
            "ttft_p50": percentile(ttft, 0.5), "ttft_p99": percentile(ttft, 0.99),
            "ttft_norm_p99": (percentile([r["ttft"] / (unloaded["base_s"] + r["context_tokens"] * unloaded["per_token_s"])
                                          for r in ok], 0.99) if unloaded else None),
            "itl_p50": percentile(gaps, 0.5), "itl_p99": percentile(gaps, 0.99),
            "tpot_p50": percentile(tpot, 0.5), "tpot_p99": percentile(tpot, 0.99),
            "tpot_norm_p99": percentile(tpot_norm, 0.99) if unloaded else None,
            "chunks_per_s": sum(r["chunks"] for r in ok) / wall if wall > 0 else 0,
            "routes": dict(collections.Counter(r["route"] or "-" for r in ok)), "wall_s": wall,
            "ttft_p99_by_model": {m: percentile([r["ttft"] for r in ok if r["route"] == m], 0.99)
                                  for m in sorted({r["route"] for r in ok if r["route"]})},
            # Which model's streams break the TPOT objective (aio: the large one's, or the small one's too).
            "tpot_p99_by_model": {m: percentile([sum(r["gaps"]) / len(r["gaps"]) for r in ok
                                                 if r["route"] == m and r["gaps"]], 0.99)
                                  for m in sorted({r["route"] for r in ok if r["route"]})},
            "ttft_by_arrival": [round(r["ttft"], 2) if r["ttft"] is not None else None for r in results],
            "tpot_by_arrival": [round(sum(r["gaps"]) / len(r["gaps"]), 4) if r["gaps"] else None for r in results],
            "model_by_arrival": [r["route"] for r in results],
            # aio's own account of each request (its route record): ms queued for a slot, and from the prefill's
            # start to the first token - where a slow first token's time went.
            "queue_prefill_ms_by_arrival": [[round(r["timings"].get(k) or 0) for k in ("queue", "prefill")]
                                            if r["timings"] else None for r in results]}


def open_loop(base, model, requests, rate, seed, tag, unloaded=None):
    """Poisson arrivals at `rate` requests/s; every request sent when it arrives. Returns summarize()."""
    rng = random.Random(seed)
    t0 = time.time() + 0.2
    arrivals, t = [], t0
    for _ in requests:
        arrivals.append(t)
        t += rng.expovariate(rate)
    results = [None] * len(requests)

    def go(i):
        results[i] = stream_one(base, requests[i], model, tag, arrivals[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return summarize(results, time.time() - t0, unloaded)


def closed_loop(base, model, requests, clients, tag, unloaded=None):
    """K clients, each sending its next request when the last one is answered. Returns summarize() plus req/s."""
    queue = list(range(len(requests)))
    lock = threading.Lock()
    results = [None] * len(requests)

    def client():
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop(0)
            results[i] = stream_one(base, requests[i], model, tag, time.time())

    t0 = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = summarize(results, time.time() - t0, unloaded)
    s["requests_per_s"] = (s["requests"] - s["errors"]) / s["wall_s"]
    return s


def chat_requests(n, seed, max_tokens):
    """Scenario A's mix of short real requests (15-30 words) from the probe's held-out split, as chats."""
    path = os.path.join(ROOT, "data", "probe", "heldout.jsonl.gz")
    pools = collections.defaultdict(list)
    with gzip.open(path, "rt") as f:
        for line in f:
            row = json.loads(line)
            words = len(row["text"].split())
            if 15 <= words <= 30 and row.get("lang", "en") == "en" and "\n" not in row["text"].strip():
                pools[row["label"]].append(row["text"])
    rng = random.Random(seed)
    counts = {k: round(share * n) for k, share in SCENARIO_A.items()}
    counts["code"] += n - sum(counts.values())
    out = []
    for label, count in counts.items():
        for text in rng.sample(pools[label], count):
            out.append({"path": "/v1/chat/completions", "label": label,
                        "body": {"messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
                                 "temperature": 0, "ignore_eos": True}})
    rng.shuffle(out)
    return out


# Characters per token of the context text below under the Llama-3 tokenizer (HumanEval and GSM8K prompts of
# data/sample, measured with llama-server's /tokenize: 3.19 for the code, 3.45 for the math), the lower one taken so
# that a context is at most its target. C-Eval's Chinese is left out: with no spaces between words, a share of it
# would make lengths in words or characters meaningless (1.35 characters a token), and 2-4k tokens of it fit 4,608.
CONTEXT_CHARS_PER_TOKEN = 3.19


def long_requests(n, seed, max_tokens):
    """The bench mix with every fifth request carrying 2,000-4,000 tokens of real text (the code and math prompts of
    data/sample, concatenated with their layout kept) before it, sent as a chat."""
    base = scenario_requests(SCENARIO_A, n, seed, max_tokens)
    corpus = [r["body"].get("prompt") or r["body"]["messages"][0]["content"]
              for r in scenario_requests(SCENARIO_A, 60, seed + 1, max_tokens) if r["label"] in ("code", "math")]
    text_all = "\n\n".join(corpus)
    rng = random.Random(seed)
    for i, r in enumerate(base):
        if i % 5 != 2:
            continue
        r["context_tokens"] = rng.randint(2000, 4000)
        chars = int(r["context_tokens"] * CONTEXT_CHARS_PER_TOKEN)
        # Each context starts at its own place in the text: real contexts differ, and a shared prefix would let a
        # server's prompt cache skip the prefill the mix is there to cost.
        start = rng.randrange(len(text_all))
        context = ((text_all[start:] + "\n\n" + text_all) * (chars // len(text_all) + 1))[:chars]
        text = r["body"].get("prompt") or r["body"]["messages"][0]["content"]
        r["path"] = "/v1/chat/completions"
        r["body"] = {"messages": [{"role": "user", "content": f"Context:\n{context}\n\n{text}"}],
                     "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
    return base


def comma_args(text):
    """Command-line arguments given comma-separated in one option (--extra, --variant, --anchor-variant)."""
    return [x for x in text.split(",") if x]


def named_args(spec, option, example):
    """NAME=ARGS (--variant, --anchor-variant): the name and the comma-separated arguments; exits on a malformed one."""
    name, _, args = spec.partition("=")
    if not name or not comma_args(args):
        sys.exit(f"{option} {spec}: give NAME=ARGS, e.g. {example}")
    return name, comma_args(args)


def workload(name, n, seed, max_tokens):
    if name == "bench":
        return scenario_requests(SCENARIO_A, n, seed, max_tokens)
    if name == "chat":
        return chat_requests(n, seed, max_tokens)
    if name == "long":
        return long_requests(n, seed, max_tokens)
    sys.exit(f"bench: unknown workload '{name}' (bench, chat or long)")


def meets(s, slo):
    # The `long` mix: each request's TTFT against its own length's (a 3,000-token prompt cannot have a short one's).
    if "unloaded" in slo:  # the `long` mix: each request against its own length's
        return (s["errors"] == 0 and s["ttft_norm_p99"] <= slo["ttft_x_unloaded"]
                and s["tpot_norm_p99"] <= slo["tpot_x_unloaded"])
    return s["errors"] == 0 and s["ttft_p99"] <= slo["ttft_s"] and s["tpot_p99"] <= slo["tpot_s"]


def unloaded_line(one, requests):
    """llama-server's unloaded TTFT and TPOT, each as base + per context token, from one client's run of the `long` mix:
    the base is the plain requests' median, the slope the long ones' median excess per added token."""
    def line(values):
        plain = [v for v, r in zip(values, requests) if v is not None and not r.get("context_tokens")]
        long_ = [(v, r["context_tokens"]) for v, r in zip(values, requests)
                 if v is not None and r.get("context_tokens")]
        if not plain or not long_:
            sys.exit("bench: the unloaded run of the long mix lost its plain or its long requests; "
                     "see the errors above")
        base = statistics.median(plain)
        return base, statistics.median(max(0.0, v - base) / c for v, c in long_)
    base, per_token = line(one["ttft_by_arrival"])
    tpot_base, tpot_per_token = line(one["tpot_by_arrival"])
    return {"base_s": base, "per_token_s": per_token, "tpot_base_s": tpot_base, "tpot_per_token_s": tpot_per_token}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default="3b", choices=sorted(PAIRS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--workloads", default="bench,chat")
    ap.add_argument("--tokens", default="32,128", help="answer lengths (ignore_eos: every answer this long)")
    ap.add_argument("--requests", type=int, default=24, help="requests per open-loop rate, at least")
    ap.add_argument("--min-window", type=float, default=8.0,
                    help="each rate's arrivals span at least this many of llama-server's unloaded request times")
    ap.add_argument("--repeats", type=int, default=3, help="ladders per workload (goodput is their median)")
    ap.add_argument("--clients", default="1,2,4,8,16", help="closed-loop K values")
    ap.add_argument("--closed-requests", type=int, default=16)
    ap.add_argument("--ladder", default=",".join(str(x) for x in LADDER), help="rates, x llama-server's capacity")
    ap.add_argument("--ttft-factor", type=float, default=5.0,
                    help="objective: p99 TTFT <= this x llama-server's unloaded TTFT (one client)")
    ap.add_argument("--tpot-factor", type=float, default=3.0,
                    help="objective: p99 TPOT <= this x llama-server's unloaded inter-token latency (one client)")
    ap.add_argument("--budget-minutes", type=float, default=60, help="stop starting new measurements after this")
    ap.add_argument("--schedule", default="shared", help="aio serve --schedule")
    ap.add_argument("--extra", default="", help="more aio serve arguments, comma-separated")
    ap.add_argument("--llama-server-extra", default="", metavar="ARGS",
                    help="more llama-server arguments, comma-separated, given with '=' as they start with a dash: "
                         "--llama-server-extra=-b,64,-ub,64 (its prefill chunk: the nearest it has to a step budget)")
    ap.add_argument("--anchor-variant", action="append", default=[], metavar="NAME=ARGS",
                    help="another llama-server beside the first with these extra arguments (comma-separated), run as "
                         "llama-server-NAME; e.g. --anchor-variant b32=-b,32,-ub,32 (repeatable)")
    ap.add_argument("--out", default="goodput.json", help="results file under bench/results/")
    ap.add_argument("--turns", default="first",
                    help="aio serve --turns orders to compare, comma-separated (the first is `aio`; others run as aio-NAME)")
    ap.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                    help="another aio serve beside `aio`, the same arguments from another binary (e.g. a copy of an "
                         "earlier build), run as aio-NAME; e.g. --binary old=/tmp/aio-old (repeatable)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="another aio serve beside `aio` with these extra arguments (comma-separated), run as aio-NAME; "
                         "e.g. --variant stall=--max-stall-ms,1500 (repeatable)")
    ap.add_argument("--start-aio", type=float, default=1.0,
                    help="the first ladder's first rate for every aio serve, x llama-server's capacity (later "
                         "ladders start at the earlier ones' median); from an earlier run of the cell it saves rungs")
    ap.add_argument("--start-anchor", type=float, default=0.75,
                    help="the same for every llama-server")
    ap.add_argument("--small-slots", action="append", default=[], metavar="NAME=N",
                    help="another aio serve beside `aio` whose small model has N slots of its own (the config's "
                         "models.small.slots; the large model keeps --slots), run as aio-NAME; e.g. s16=16")
    ap.add_argument("--model-keys", action="append", default=[], metavar="NAME=KEY:VALUE,...",
                    help="another aio serve beside `aio` whose models take these config keys, run as aio-NAME; e.g. "
                         "split=kv_cache:split,flash_attn:off (repeatable)")
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto",
                    help="flash attention for both servers: aio's models' flash_attn and llama-server's -fa (on a "
                         "CPU, auto turns it on)")
    args = ap.parse_args()
    if not (args.min_window >= 0 and args.requests >= 1):  # `not >=` also refuses nan
        ap.error("--min-window must be 0 or more and --requests at least 1")
    if not (args.start_aio > 0 and args.start_anchor > 0):
        ap.error("--start-aio and --start-anchor are rates, x llama-server's capacity: more than 0")
    t_start = time.time()
    small_preset, large_preset = PAIRS[args.pair]
    small = synth(small_preset, os.path.join(ROOT, "models", f"{small_preset}-q8_0.gguf"))
    large = synth(large_preset, os.path.join(ROOT, "models", f"{large_preset}-q8_0.gguf"))
    workloads = args.workloads.split(",")
    n_ctx = 4608 if "long" in workloads else 1024
    cfg_dir = tempfile.mkdtemp(prefix="aio-goodput-")

    def write_config(small_slots, name="", **keys):
        # small_slots: the small model's own `slots` (0: the server's --slots, as the large model always has); keys:
        # more config keys for both models (--model-keys).
        path = os.path.join(cfg_dir, f"aio-small{small_slots}{name}.yaml")
        keys = dict({"flash_attn": args.flash_attn}, **keys)
        with open(path, "w") as f:
            f.write(f"models:\n  small: {model_entry(small, n_ctx, slots=small_slots or None, **keys)}\n"
                    f"  large: {model_entry(large, n_ctx, **keys)}\n"
                    f"policy: aio\nprobe: {{kind: fasttext, fasttext_model: builtin}}\nthreads: {args.threads}\n")
        return path

    cfg = write_config(0)
    turn_orders = [t for t in args.turns.split(",") if t]

    def aio_cmd(port, turns, config=cfg):
        return ([os.path.join(BIN, "aio"), "serve", "--config", config, "--port", str(port), "--slots", str(args.slots),
                 "--queue", "1024", "--schedule", args.schedule, "--turns", turns]
                + comma_args(args.extra))

    ls_extra = ["-fa", args.flash_attn] + comma_args(args.llama_server_extra)
    cmds = {"llama-server": llama_server_cmd(large, 18400, args.threads, args.slots, n_ctx, extra=ls_extra),
            "aio": aio_cmd(18401, turn_orders[0])}
    bases = {"llama-server": "http://127.0.0.1:18400", "aio": "http://127.0.0.1:18401"}
    models = {"llama-server": "large", "aio": "aio"}
    labels = {}
    for i, turns in enumerate(turn_orders[1:]):  # the first order is `aio`; the others run beside it as aio-NAME
        name, port = f"aio-{turns}", 18402 + i
        cmds[name], bases[name], models[name] = aio_cmd(port, turns), f"http://127.0.0.1:{port}", "aio"
        labels[name] = f"--turns {turns}"
    for i, spec in enumerate(args.variant):
        vname, extra = named_args(spec, "--variant", "stall=--max-stall-ms,1500")
        name, port = f"aio-{vname}", 18420 + i
        cmds[name], bases[name], models[name] = aio_cmd(port, turn_orders[0]) + extra, f"http://127.0.0.1:{port}", "aio"
        labels[name] = " ".join(extra)
    for i, spec in enumerate(args.binary):
        vname, path = aio_binary(spec, ap)
        name, port = f"aio-{vname}", 18480 + i
        cmds[name] = [path] + aio_cmd(port, turn_orders[0])[1:]
        bases[name], models[name], labels[name] = f"http://127.0.0.1:{port}", "aio", f"binary {path}"
    for i, spec in enumerate(args.small_slots):
        vname, vargs = named_args(spec, "--small-slots", "s16=16")
        if len(vargs) != 1 or not vargs[0].isdigit() or not 1 <= int(vargs[0]) <= 256:
            ap.error(f"--small-slots {spec}: give NAME=N with N a slot count from 1 to 256, e.g. s16=16")
        name, port = f"aio-{vname}", 18460 + i
        cmds[name] = aio_cmd(port, turn_orders[0], write_config(int(vargs[0])))
        bases[name], models[name], labels[name] = f"http://127.0.0.1:{port}", "aio", f"small model slots {vargs[0]}"
    for i, spec in enumerate(args.model_keys):
        vname, keys = model_keys(spec, ap)
        name, port = f"aio-{vname}", 18470 + i
        cmds[name] = aio_cmd(port, turn_orders[0], write_config(0, vname, **keys))
        bases[name], models[name] = f"http://127.0.0.1:{port}", "aio"
        labels[name] = ", ".join(f"{k}: {v}" for k, v in keys.items())
    for i, spec in enumerate(args.anchor_variant):
        vname, vargs = named_args(spec, "--anchor-variant", "b32=-b,32,-ub,32")
        name, port = f"llama-server-{vname}", 18440 + i
        extra = ls_extra + vargs
        cmds[name] = llama_server_cmd(large, port, args.threads, args.slots, n_ctx, extra=extra)
        bases[name], models[name], labels[name] = f"http://127.0.0.1:{port}", "large", " ".join(extra)
    out = {"pair": [small_preset, large_preset], "threads": args.threads, "slots": args.slots,
           "synthetic_weights": True, "scenario": "A", "workloads": {},
           "commands": {n: " ".join(c) for n, c in cmds.items()}, "labels": labels}
    run = [0]

    def tag():
        run[0] += 1
        return f"[run {run[0]} {time.time():.0f}] "

    def over_budget():
        return time.time() - t_start > 60 * args.budget_minutes

    def save():
        out["elapsed_s"] = time.time() - t_start
        save_results(args.out, out)

    with Servers(cmds, bases):
        for name in cmds:  # warm-up: page the weights in
            closed_loop(bases[name], models[name], workload("bench", 2, 99, 8), 2, tag())
        # The two models' decode speeds alone (one stream each on aio, pinned): the work ratio's costs.
        costs = {}
        for m in ("small", "large"):
            s = closed_loop(bases["aio"], m, workload("bench", 2, 98, 64), 1, tag())
            costs[m] = s["itl_p50"]
        out["decode_step_s"] = costs
        print(f"decode step alone: small {1000 * costs['small']:.1f} ms, large {1000 * costs['large']:.1f} ms "
              f"(cost ratio {costs['small'] / costs['large']:.3f})", flush=True)
        for tokens in [int(t) for t in args.tokens.split(",")]:
            for wl in workloads:
                key = f"{wl}-{tokens}"
                res = out["workloads"][key] = {"closed": {}, "ladders": []}
                # Unloaded figures and capacity, from llama-server: the objective and the ladder's unit.
                # (The long mix: ten, two of them long, for the TTFT line in the prompt's length.)
                one_reqs = workload(wl, 10 if wl == "long" else 4, 7, tokens)
                one = closed_loop(bases["llama-server"], "large", one_reqs, 1, tag())
                unloaded = unloaded_line(one, one_reqs) if wl == "long" else None
                full = closed_loop(bases["llama-server"], "large", workload(wl, 2 * args.slots, 8, tokens),
                                   args.slots, tag(), unloaded)
                # The objective: fixed multiples of llama-server's unloaded latencies (see the module's docstring).
                slo = {"ttft_s": args.ttft_factor * one["ttft_p50"], "tpot_s": args.tpot_factor * one["itl_p50"]}
                if unloaded:
                    slo.update(unloaded=unloaded, ttft_x_unloaded=args.ttft_factor, tpot_x_unloaded=args.tpot_factor)
                capacity = full["requests_per_s"]
                # How long one request takes on an idle llama-server: the unit of a rate's minimum arrival window.
                request_s = one["ttft_p50"] + (tokens - 1) * one["itl_p50"]
                window_s = args.min_window * request_s
                res.update({"objective": slo, "capacity_rps": capacity, "unloaded": one, "at_capacity": full,
                            "min_window_s": window_s})
                if unloaded:
                    print(f"\n== {key}: llama-server unloaded TTFT {unloaded['base_s']:.2f} s + "
                          f"{1000 * unloaded['per_token_s']:.1f} ms per context token, TPOT "
                          f"{1000 * unloaded['tpot_base_s']:.0f} ms + {1e6 * unloaded['tpot_per_token_s']:.1f} us per "
                          f"context token; objective: each TTFT within {args.ttft_factor:g}x and each TPOT within "
                          f"{args.tpot_factor:g}x those of its length at p99", flush=True)
                print(f"\n== {key}: llama-server unloaded TTFT {one['ttft_p50']:.2f} s, ITL {1000 * one['itl_p50']:.0f} ms; "
                      f"at capacity ({capacity:.3f} req/s) p99 TTFT {full['ttft_p99']:.2f} s, p99 TPOT "
                      f"{1000 * full['tpot_p99']:.0f} ms; objective p99 TTFT <= {slo['ttft_s']:.2f} s, p99 TPOT <= "
                      f"{1000 * slo['tpot_s']:.0f} ms; each rate's arrivals span >= {window_s:.0f} s", flush=True)
                save()
                # Closed loop at each K, both servers alternating.
                for k in [int(c) for c in args.clients.split(",") if c]:
                    if over_budget():
                        break
                    reqs = workload(wl, max(args.closed_requests, k), 11, tokens)
                    row = res["closed"][str(k)] = {}
                    for name in (cmds if k % 2 else reversed(list(cmds))):
                        row[name] = closed_loop(bases[name], models[name], reqs, k, tag(), unloaded)
                    print(f"  closed K={k:2d}: " + ", ".join(
                        f"{n} {row[n]['chunks_per_s']:.1f} tok/s TTFT p99 {row[n]['ttft_p99']:.2f} s"
                        for n in cmds) + f" (aio/llama-server {row['aio']['chunks_per_s'] / row['llama-server']['chunks_per_s']:.2f}x)",
                        flush=True)
                    save()
                # Open-loop ladders, searched: each server starts at a guess (then at the goodput its earlier ladders
                # found) and steps up while it meets the objective, down while it breaks; its goodput is the highest
                # rate met below the lowest broken (latency grows with the rate, so the rates below are taken as met).
                # The slow low rates, which every server meets, are not spent on.
                grid = [float(x) for x in args.ladder.split(",")]
                for rep in range(args.repeats):
                    if over_budget():
                        break
                    # goodput: the highest rate met; first_broken: the next rung up, which broke (None: the ladder's
                    # top was met). A server's true goodput lies between them.
                    ladder = {"steps": [], "goodput": {n: 0.0 for n in cmds}, "first_broken": {n: None for n in cmds}}
                    res["ladders"].append(ladder)
                    search = {}
                    for n in cmds:
                        done = [l["goodput"][n] / capacity for l in res["ladders"][:-1]]
                        guess = statistics.median(done) if done else (args.start_anchor if n.startswith("llama-server")
                                                                      else args.start_aio)
                        search[n] = {"next": min(range(len(grid)), key=lambda i: abs(grid[i] - guess)),
                                     "met": -1, "broke": len(grid)}
                    while not over_budget():
                        todo = [n for n in cmds if search[n]["next"] is not None]
                        if not todo:
                            break
                        for name in (todo if (rep + len(ladder["steps"])) % 2 else list(reversed(todo))):
                            st = search[name]
                            mult = grid[st["next"]]
                            rate = mult * capacity
                            n = max(args.requests, math.ceil(rate * window_s))
                            reqs = workload(wl, n, 1000 * rep + int(100 * mult), tokens)
                            s = open_loop(bases[name], models[name], reqs, rate, 7 * rep + 1, tag(), unloaded)
                            ok = meets(s, slo)
                            ladder["steps"].append({"server": name, "rate": rate, "x_capacity": mult, name: s})
                            if ok:
                                st["met"] = st["next"]
                                ladder["goodput"][name] = rate
                                st["next"] = st["next"] + 1 if st["next"] + 1 < st["broke"] else None
                            else:
                                st["broke"] = st["next"]
                                st["next"] = st["next"] - 1 if st["next"] - 1 > st["met"] else None
                            norm = f" (p99 {s['ttft_norm_p99']:.1f}x its length's)" if unloaded else ""
                            tpot_norm = f" ({s['tpot_norm_p99']:.1f}x its length's)" if unloaded else ""
                            print(f"  ladder {rep + 1}/{args.repeats} rate {rate:.3f} req/s ({mult:.2f}x, {n} requests): {name:12s} "
                                  f"TTFT p50/p99 {s['ttft_p50']:.2f}/{s['ttft_p99']:.2f} s"
                                  f"{norm}, ITL p50/p99 "
                                  f"{1000 * s['itl_p50']:.0f}/{1000 * s['itl_p99']:.0f} ms, TPOT p99 "
                                  f"{1000 * s['tpot_p99']:.0f} ms{tpot_norm}, errors {s['errors']}"
                                  f"{' ' + str(s['routes']) if name.startswith('aio') else ''}"
                                  f"{' TPOT p99 by model ' + ', '.join(f'{m} {1000 * v:.0f} ms' for m, v in s['tpot_p99_by_model'].items()) if name.startswith('aio') else ''} -> "
                                  f"{'meets' if ok else 'BREAKS'}", flush=True)
                            save()
                    for name in cmds:
                        if search[name]["met"] < 0 and search[name]["next"] is None:
                            ladder["goodput"][name] = 0.0  # broke at the lowest rate tried
                        if search[name]["broke"] < len(grid):
                            ladder["first_broken"][name] = grid[search[name]["broke"]] * capacity
                    # A ladder the budget cut short found no goodput for a server still searching: it is kept in the
                    # results but not counted.
                    ladder["complete"] = all(search[n]["next"] is None for n in cmds)
                complete = [l for l in res["ladders"] if l.get("complete")]
                if not complete:
                    print(f"  no ladder completed within the budget for {key}", flush=True)
                    save()
                    continue
                goodputs = {n: statistics.median(l["goodput"][n] for l in complete) for n in cmds}
                res["goodput_rps"] = goodputs
                routes = collections.Counter()
                for l in res["ladders"]:
                    for st in l["steps"]:
                        if st["server"] == "aio":
                            routes.update(st["aio"]["routes"])
                share_small = routes.get("small", 0) / max(1, sum(routes.values()))
                bound = 1 / ((1 - share_small) + share_small * costs["small"] / costs["large"])
                res["work_ratio_bound"] = bound
                res["share_small"] = share_small
                ratio = goodputs["aio"] / goodputs["llama-server"] if goodputs["llama-server"] > 0 else float("nan")
                res["goodput_ratio"] = ratio
                print(f"  goodput ({len(complete)} complete ladders, median): aio {goodputs['aio']:.3f} req/s, "
                      f"llama-server {goodputs['llama-server']:.3f} req/s -> {ratio:.2f}x "
                      f"(work-ratio bound {bound:.2f}x at {100 * share_small:.0f}% small)", flush=True)
                # What the ladder's resolution allows: aio's goodput over llama-server's first broken rate, at least;
                # aio's first broken over llama-server's goodput, at most (median over ladders; open above the top).
                broken = {n: [l["first_broken"][n] for l in complete] for n in ("aio", "llama-server")}
                low = (goodputs["aio"] / statistics.median(broken["llama-server"])
                       if None not in broken["llama-server"] else float("nan"))
                high = (statistics.median(broken["aio"]) / goodputs["llama-server"]
                        if None not in broken["aio"] and goodputs["llama-server"] > 0 else float("inf"))
                res["goodput_ratio_bracket"] = [low, high]
                print(f"  within the ladder's steps the ratio lies in [{low:.2f}, {high:.2f}]x", flush=True)
                for name in cmds:
                    if name.startswith("aio-") and goodputs["llama-server"] > 0:
                        print(f"  {name} ({labels.get(name, '')}): {goodputs[name]:.3f} req/s -> "
                              f"{goodputs[name] / goodputs['llama-server']:.2f}x", flush=True)
                    if name.startswith("llama-server-"):
                        res.setdefault("goodput_ratio_vs", {})[name] = (
                            goodputs["aio"] / goodputs[name] if goodputs[name] > 0 else float("nan"))
                        print(f"  {name} ({labels.get(name, '')}): {goodputs[name]:.3f} req/s; aio / {name} "
                              f"{res['goodput_ratio_vs'][name]:.2f}x", flush=True)
                save()
    print(f"\ndone in {(time.time() - t_start) / 60:.1f} min; bench/results/{args.out}")


if __name__ == "__main__":
    main()
