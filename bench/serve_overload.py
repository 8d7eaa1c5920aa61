#!/usr/bin/env python3
"""Overload: twice the rate `aio serve` sustains, for two minutes, with the `aio` policy and with `aio-load` (which
sends QA and fairly sure code to the small model while the large model's expected wait exceeds max_wait_ms).
Requests arrive open-loop (Poisson, seeded; Scenario A's mix of benchmark prompts), alternating the two policies on
one server ({"aio": {"policy": ...}} per request), each run after the last has drained.

Reported per policy: TTFT p50 / p99, TPOT p99, the route split and how many routes load decided; and what `aio plan`
predicts aio-load costs in accuracy (the paper's profile: synthetic weights have no accuracy to measure) with the
large model saturated, beside the share of requests load actually moved. The sustainable rate is aio's closed-loop
requests/s with every slot busy, measured first.

Run: python3 bench/serve_overload.py [--pair 3b] [--seconds 120] [--factor 2]
Writes bench/results/overload.json.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import BIN, ROOT, Servers, save_results, synth  # noqa: E402
from serve_goodput import PAIRS, closed_loop, open_loop, workload  # noqa: E402


def routed_by_load(base):
    with urllib.request.urlopen(base + "/v1/aio/stats", timeout=30) as r:
        return json.loads(r.read())["routed_by_load"]


def with_policy(requests, policy):
    return [dict(r, body=dict(r["body"], aio={"policy": policy})) for r in requests]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default="3b", choices=sorted(PAIRS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=120, help="how long requests keep arriving")
    ap.add_argument("--factor", type=float, default=2.0, help="arrival rate, x aio's sustainable rate")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    small_preset, large_preset = PAIRS[args.pair]
    small = synth(small_preset, os.path.join(ROOT, "models", f"{small_preset}-q8_0.gguf"))
    large = synth(large_preset, os.path.join(ROOT, "models", f"{large_preset}-q8_0.gguf"))
    cfg = os.path.join(tempfile.mkdtemp(prefix="aio-overload-"), "aio.yaml")
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {{path: {small}, n_ctx: 1024}}\n  large: {{path: {large}, n_ctx: 1024}}\n"
                f"policy: aio\nprobe: {{kind: fasttext, fasttext_model: builtin}}\nthreads: {args.threads}\n")
    base = "http://127.0.0.1:18410"
    cmd = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", "18410", "--slots", str(args.slots),
           "--queue", "4096"]
    out = {"pair": [small_preset, large_preset], "threads": args.threads, "slots": args.slots, "tokens": args.tokens,
           "seconds": args.seconds, "factor": args.factor, "synthetic_weights": True, "runs": []}
    run = [0]

    def tag():
        run[0] += 1
        return f"[overload {run[0]} {time.time():.0f}] "

    with Servers({"aio": cmd}, {"aio": base}):
        closed_loop(base, "aio", workload("bench", 2, 99, 8), 2, tag())  # warm-up
        full = closed_loop(base, "aio", workload("bench", 2 * args.slots, 8, args.tokens), args.slots, tag())
        sustainable = full["requests_per_s"]
        rate = args.factor * sustainable
        n = max(8, int(rate * args.seconds))
        out.update({"sustainable_rps": sustainable, "rate_rps": rate, "requests": n})
        print(f"aio sustains {sustainable:.3f} req/s (closed loop, {args.slots} clients); sending {rate:.3f} req/s "
              f"for {args.seconds:.0f} s ({n} requests) with each policy", flush=True)
        for rep in range(args.repeats):
            for policy in (["aio", "aio-load"] if rep % 2 == 0 else ["aio-load", "aio"]):
                reqs = with_policy(workload("bench", n, 500 + rep, args.tokens), policy)
                before = routed_by_load(base)
                s = open_loop(base, "aio", reqs, rate, 31 + rep, tag())
                s["policy"] = policy
                s["routed_by_load"] = routed_by_load(base) - before
                out["runs"].append(s)
                print(f"  {policy:9s} TTFT p50/p99 {s['ttft_p50']:.1f}/{s['ttft_p99']:.1f} s, TPOT p99 "
                      f"{1000 * s['tpot_p99']:.0f} ms, errors {s['errors']}, routes {s['routes']}, "
                      f"{s['routed_by_load']} routed by load; p99 TTFT by model {s['ttft_p99_by_model']}", flush=True)
                save_results("overload.json", out)
    by_policy = collections.defaultdict(list)
    for s in out["runs"]:
        by_policy[s["policy"]].append(s)
    p99 = {p: sorted(x["ttft_p99"] for x in v)[len(v) // 2] for p, v in by_policy.items()}
    out["ttft_p99"] = p99
    print(f"\np99 TTFT at {args.factor:g}x the sustainable rate: aio {p99['aio']:.1f} s, aio-load "
          f"{p99['aio-load']:.1f} s ({p99['aio-load'] / p99['aio']:.2f} of aio's)")
    plan = subprocess.run([os.path.join(BIN, "aio"), "plan", "--profile",
                           os.path.join(ROOT, "profiles", "paper-ascend910b.yaml"), "--scenarios", "A",
                           "--policies", "aio,aio-load"], capture_output=True, text=True)
    rows = [l for l in plan.stdout.splitlines() if l.startswith("| aio")]
    out["plan"] = rows
    print("aio plan (the paper's profile, Scenario A):\n  " + "\n  ".join(rows))
    save_results("overload.json", out)


if __name__ == "__main__":
    main()
