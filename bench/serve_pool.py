#!/usr/bin/env python3
"""Replica pools: what a pool of llama-server replicas behind `aio serve` gives, and what A-IO adds to each request.

1. Throughput: aggregate decode tok/s of N concurrent chat streams through A-IO to a pool of ONE llama-server with all
   the cores (-t 2) vs a pool of TWO with the cores split (-t 1 each), on the same synthetic 1B file. The anchor is the
   replicas' own capacity: the same streams sent straight to the replica(s), split evenly. The pool's ratio (two / one)
   should track the replicas' own ratio; A-IO / direct at each size is the forwarding cost.
2. Added latency: one-token requests with a cached prompt, sent one at a time alternately through A-IO and straight
   to the replica: the difference per pair (p50 / p99) is what routing and forwarding add to a request.

3. Mixed pool: the model loaded in aio itself (-t 1) as one member beside one llama-server (-t 1): aggregate tok/s
   through A-IO against the two llama-servers of (1) called directly, and how the requests split between the members.

4. Affinity: ten 5-turn conversations (two at a time) through a pool of three llama-server replicas (the tiny
   synthetic model), with `affinity` on and off: the share of each later turn's prompt the replicas had cached
   (their usage.prompt_tokens_details.cached_tokens) and the prompt tokens they had to prefill.

Writes bench/results/serve_pool.json. Synthetic weights: the speeds are real, the text is not."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

from serve_common import BIN, ROOT, llama_server_cmd, Servers, concurrent_rate, percentile, post, save_results, synth

AIO_PORT = 18040
REPLICA_PORTS = [18041, 18042]


def pool_config(model_dir, ports, affinity=True, local_path=None):
    """`local_path`: the model loaded in aio too, as the pool's local member (a mixed pool)."""
    small = synth("tiny-small", os.path.join(model_dir, "tiny-small-q8_0.gguf"))  # the probe's model; not measured
    cfg = os.path.join(tempfile.mkdtemp(prefix="aio-bench-pool-"), "aio.yaml")
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {{path: {small}, n_ctx: 512}}\n  large:\n")
        if local_path:
            f.write(f"    path: {local_path}\n    n_ctx: 512\n")
        f.write("    endpoints:\n")
        if local_path:
            f.write("      - {local: true, name: here}\n")
        for i, port in enumerate(ports):
            f.write(f"      - {{url: 'http://127.0.0.1:{port}/v1', name: r{i}}}\n")
        f.write(f"    affinity: {'true' if affinity else 'false'}\n")
        f.write("policy: static-large\nprobe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n")
    return cfg


def servers(args, n_replicas):
    threads = 2 // n_replicas
    slots = max(1, args.streams // n_replicas)
    cmds, bases = {}, {}
    for i in range(n_replicas):
        port = REPLICA_PORTS[i]
        cmds[f"replica{i}"] = llama_server_cmd(args.model, port, threads, slots, 512, unified_kv=False)
        bases[f"replica{i}"] = f"http://127.0.0.1:{port}"
    cmds["aio"] = [os.path.join(BIN, "aio"), "serve", "--config",
                   pool_config(os.path.dirname(args.model), REPLICA_PORTS[:n_replicas]),
                   "--port", str(AIO_PORT), "--slots", str(args.streams)]
    bases["aio"] = f"http://127.0.0.1:{AIO_PORT}"
    return cmds, bases


RUN = iter(range(1 << 30))


def rate(bases, streams, tokens):
    """tok/s of `streams` concurrent chat requests spread over `bases` (each a server root) in turn."""
    run = next(RUN)

    def client(i):
        body = {"model": "large", "max_tokens": tokens, "temperature": 0, "ignore_eos": True,
                "messages": [{"role": "user", "content": f"Run {run}, stream {i}: tell me a story."}]}
        r, _ = post(f"{bases[i % len(bases)]}/v1/chat/completions", body)
        return r["usage"]["completion_tokens"]

    return concurrent_rate(streams, client)


def wait_pool_healthy(aio, n_replicas, seconds=60):
    """Replicas still loading when aio started were ejected by its first check: wait for the check that admits them."""
    for _ in range(int(seconds / 0.25)):
        with urllib.request.urlopen(f"{aio}/health", timeout=5) as r:
            pools = json.loads(r.read()).get("pools", {})
        if pools.get("large", {}).get("healthy") == n_replicas:
            return
        time.sleep(0.25)
    sys.exit("bench: the pool's replicas did not all become healthy in aio's /health")


def measure_size(args, n_replicas):
    cmds, bases = servers(args, n_replicas)
    replicas = [bases[f"replica{i}"] for i in range(n_replicas)]
    samples = {"aio": [], "direct": []}
    with Servers(cmds, bases):
        wait_pool_healthy(bases["aio"], n_replicas)
        rate([bases["aio"]], args.streams, 4)  # warm-up
        for rep in range(args.repeats):
            order = ["aio", "direct"] if rep % 2 == 0 else ["direct", "aio"]
            for way in order:
                samples[way].append(rate([bases["aio"]] if way == "aio" else replicas, args.streams, args.tokens))
            print(f"  pool of {n_replicas}: repeat {rep + 1}/{args.repeats}: aio {samples['aio'][-1]:.2f}, "
                  f"direct {samples['direct'][-1]:.2f} tok/s", flush=True)
        added = added_latency(args, bases["aio"], replicas[0]) if n_replicas == 1 else None
    return {way: statistics.median(v) for way, v in samples.items()}, samples, added


def measure_mixed(args):
    """The model in aio itself (1 thread) beside one llama-server (1 thread): one pool, both halves of the cores.
    Anchor, measured in alternation: two llama-servers (-t 1 each) called directly, streams split evenly."""
    slots = max(1, args.streams // 2)
    cmds, bases = {}, {}
    for i in range(2):
        cmds[f"replica{i}"] = llama_server_cmd(args.model, REPLICA_PORTS[i], 1, slots, 512,
                                                        unified_kv=False)
        bases[f"replica{i}"] = f"http://127.0.0.1:{REPLICA_PORTS[i]}"
    cmds["aio"] = [os.path.join(BIN, "aio"), "serve", "--config",
                   pool_config(os.path.dirname(args.model), REPLICA_PORTS[:1], local_path=args.model),
                   "--port", str(AIO_PORT), "--slots", str(args.streams)]
    bases["aio"] = f"http://127.0.0.1:{AIO_PORT}"
    samples = {"aio": [], "direct": []}
    with Servers(cmds, bases):
        wait_pool_healthy(bases["aio"], 2)
        rate([bases["aio"]], args.streams, 4)  # warm-up
        for rep in range(args.repeats):
            order = ["aio", "direct"] if rep % 2 == 0 else ["direct", "aio"]
            for way in order:
                targets = [bases["aio"]] if way == "aio" else [bases["replica0"], bases["replica1"]]
                samples[way].append(rate(targets, args.streams, args.tokens))
            print(f"  mixed pool: repeat {rep + 1}/{args.repeats}: aio (here + 1 llama-server) "
                  f"{samples['aio'][-1]:.2f}, two llama-servers direct {samples['direct'][-1]:.2f} tok/s", flush=True)
        with urllib.request.urlopen(f"{bases['aio']}/health", timeout=5) as r:
            members = json.loads(r.read())["pools"]["large"]["replicas"]
    out = {way: statistics.median(v) for way, v in samples.items()}
    out.update({"samples": samples, "requests_per_member": {m["name"]: m["requests"] for m in members},
                "aio_over_direct": out["aio"] / out["direct"]})
    return out


def added_latency(args, aio, replica):
    """Per-request time A-IO adds: one-token requests with one cached prompt, alternating the two ways."""
    body = {"model": "large", "max_tokens": 1, "temperature": 0,
            "messages": [{"role": "user", "content": "Say one word."}]}
    for _ in range(3):  # the replica caches the prompt
        post(f"{aio}/v1/chat/completions", body)
    diffs, direct = [], []
    for i in range(args.latency_requests):
        t = {}
        for way in (("aio", "direct") if i % 2 == 0 else ("direct", "aio")):
            t0 = time.perf_counter()
            post(f"{aio if way == 'aio' else replica}/v1/chat/completions", body)
            t[way] = (time.perf_counter() - t0) * 1000
        diffs.append(t["aio"] - t["direct"])
        direct.append(t["direct"])
    return {"requests": args.latency_requests, "direct_p50_ms": percentile(direct, 0.5),
            "added_p50_ms": percentile(diffs, 0.5), "added_p99_ms": percentile(diffs, 0.99)}


def conversations(aio, n_conversations=10, turns=5, at_once=2):
    """Runs the conversations (`at_once` in parallel, turns in order); returns (cached, prefilled, earlier) prompt
    tokens over the later turns: what the replicas had cached, what they prefilled, and the earlier turns' prompts."""
    totals = {"cached": 0, "prefilled": 0, "earlier": 0}
    lock = threading.Lock()

    def run(conv):
        messages = [{"role": "system", "content": f"You are a terse assistant. Conversation {conv} of a run."}]
        previous = 0
        for turn in range(turns):
            messages.append({"role": "user", "content": f"Turn {turn}: tell me more about topic {conv}."})
            r, _ = post(f"{aio}/v1/chat/completions", {"model": "large", "messages": messages, "max_tokens": 16,
                                                       "temperature": 0})
            prompt, cached = r["usage"]["prompt_tokens"], r["aio"]["tokens"]["prefill_saved"]
            if turn > 0:
                with lock:
                    totals["cached"] += cached
                    totals["prefilled"] += prompt - cached
                    totals["earlier"] += previous
            previous = prompt
            messages.append({"role": "assistant", "content": r["choices"][0]["message"]["content"]})

    for start in range(0, n_conversations, at_once):
        threads = [threading.Thread(target=run, args=(c,)) for c in range(start, min(start + at_once, n_conversations))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return totals


def measure_affinity(model_dir):
    tiny = synth("tiny-small", os.path.join(model_dir, "tiny-small-q8_0.gguf"))
    out = {}
    for affinity in (True, False):
        cmds, bases = {}, {}
        ports = [18043, 18044, 18045]
        for i, port in enumerate(ports):
            cmds[f"replica{i}"] = llama_server_cmd(tiny, port, 1, 2, 1024, unified_kv=False)
            bases[f"replica{i}"] = f"http://127.0.0.1:{port}"
        cmds["aio"] = [os.path.join(BIN, "aio"), "serve", "--config", pool_config(model_dir, ports, affinity),
                       "--port", str(AIO_PORT), "--slots", "2"]
        bases["aio"] = f"http://127.0.0.1:{AIO_PORT}"
        with Servers(cmds, bases):
            wait_pool_healthy(bases["aio"], len(ports))
            t = conversations(bases["aio"])
        t["cached_share_of_earlier_prompts"] = t["cached"] / t["earlier"] if t["earlier"] else 0.0
        out["on" if affinity else "off"] = t
        print(f"  affinity {'on ' if affinity else 'off'}: cached {t['cached']} of the earlier turns' {t['earlier']} "
              f"prompt tokens ({100 * t['cached_share_of_earlier_prompts']:.1f}%); prefilled {t['prefilled']}",
              flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "llama3.2-1b-q8_0.gguf"))
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency-requests", type=int, default=200)
    ap.add_argument("--only-affinity", action="store_true", help="run the affinity phase alone")
    ap.add_argument("--only-mixed", action="store_true", help="run the mixed-pool phase alone")
    args = ap.parse_args()
    if args.only_mixed:
        synth("llama3.2-1b", args.model)
        mixed = measure_mixed(args)
        print(f"mixed pool: aio {mixed['aio']:.2f} tok/s, two llama-servers direct {mixed['direct']:.2f} "
              f"({mixed['aio_over_direct']:.3f}); requests per member {mixed['requests_per_member']}")
        save_results("serve_pool_mixed.json", mixed)
        return
    if args.only_affinity:
        result = measure_affinity(os.path.dirname(args.model))
        save_results("serve_pool_affinity.json", result)
        return
    synth("llama3.2-1b", args.model)
    print("pool of 1 (llama-server -t 2) ...", flush=True)
    one, one_samples, added = measure_size(args, 1)
    print("pool of 2 (llama-server -t 1, twice) ...", flush=True)
    two, two_samples, _ = measure_size(args, 2)
    print("mixed pool (the model in aio -t 1 + llama-server -t 1) ...", flush=True)
    mixed = measure_mixed(args)
    print("affinity: 10 five-turn conversations over 3 replicas (tiny model) ...", flush=True)
    affinity = measure_affinity(os.path.dirname(args.model))
    out = {"model": args.model, "synthetic_weights": True, "streams": args.streams, "tokens": args.tokens,
           "repeats": args.repeats, "pool_of_1": one, "pool_of_2": two,
           "samples": {"pool_of_1": one_samples, "pool_of_2": two_samples},
           "pool_ratio_two_over_one_via_aio": two["aio"] / one["aio"],
           "replica_ratio_two_over_one_direct": two["direct"] / one["direct"],
           "aio_over_direct": {"pool_of_1": one["aio"] / one["direct"], "pool_of_2": two["aio"] / two["direct"]},
           "added_latency": added, "affinity": affinity, "mixed_pool": mixed}
    print(f"\naggregate decode tok/s, {args.streams} streams x {args.tokens} tokens, median of {args.repeats} "
          f"(synthetic 1B, 2 cores in all; real speed):")
    print(f"  pool of 1: aio {one['aio']:.2f}, direct {one['direct']:.2f} ({one['aio'] / one['direct']:.3f})")
    print(f"  pool of 2: aio {two['aio']:.2f}, direct {two['direct']:.2f} ({two['aio'] / two['direct']:.3f})")
    print(f"  two / one: through aio {out['pool_ratio_two_over_one_via_aio']:.3f}, the replicas' own "
          f"{out['replica_ratio_two_over_one_direct']:.3f}")
    print(f"  mixed pool (aio's own engine + 1 llama-server): {mixed['aio']:.2f}, two llama-servers direct "
          f"{mixed['direct']:.2f} ({mixed['aio_over_direct']:.3f}); requests per member {mixed['requests_per_member']}")
    print(f"  added per request (1-token answers, cached prompt): p50 {added['added_p50_ms']:.2f} ms, "
          f"p99 {added['added_p99_ms']:.2f} ms (direct p50 {added['direct_p50_ms']:.2f} ms)")
    print(f"  affinity: later turns' prompts cached {100 * affinity['on']['cached_share_of_earlier_prompts']:.1f}% "
          f"with it, {100 * affinity['off']['cached_share_of_earlier_prompts']:.1f}% without; prefilled "
          f"{affinity['on']['prefilled']} vs {affinity['off']['prefilled']} tokens")
    save_results("serve_pool.json", out)


if __name__ == "__main__":
    main()
