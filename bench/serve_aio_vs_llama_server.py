#!/usr/bin/env python3
"""The A-IO idea through the server: Scenario A's request mix (70% code, 20% QA, 10% math, from data/sample) sent by
K concurrent clients (K = 1, 4, 8) to `aio serve` with a small + large pair and the `aio` policy, and to llama.cpp's
`llama-server` (built from the same pinned source) serving the large model alone - same threads, same slots, both up
and measured in alternation. Prints aggregate tok/s and the ratio aio / llama-server at each K, the route split, and
(with --schedules shared,parallel) whether co-resident models should step in turn or side by side.
Default pair: synthetic llama3.2-1b + llama3.1-8b Q8_0 (real speed, meaningless text). Writes
bench/results/serve_aio.json."""
import argparse
import collections
import os
import statistics
import tempfile

from serve_common import (BIN, llama_server_cmd, ROOT, SCENARIO_A, Servers, run_clients, save_results,
                          scenario_requests, synth)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--small", default=os.path.join(ROOT, "models", "llama3.2-1b-q8_0.gguf"))
    ap.add_argument("--large", default=os.path.join(ROOT, "models", "llama3.1-8b-q8_0.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--schedules", default="shared", help="aio's --schedule values to measure (shared,parallel)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--probe", default="fasttext", choices=["fasttext", "lm"])
    args = ap.parse_args()
    synth("llama3.2-1b", args.small)
    synth("llama3.1-8b", args.large)
    work = tempfile.mkdtemp(prefix="aio-bench-serve-aio-")
    cfg = os.path.join(work, "aio.yaml")
    probe = "{kind: fasttext, fasttext_model: builtin}" if args.probe == "fasttext" else "{kind: lm}"
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {{path: {args.small}, n_ctx: 1024}}\n  large: {{path: {args.large}, n_ctx: 1024}}\n"
                f"policy: aio\nprobe: {probe}\nthreads: {args.threads}\n")
    clients = [int(k) for k in args.clients.split(",")]
    schedules = args.schedules.split(",")
    requests = scenario_requests(SCENARIO_A, args.requests, 1, args.tokens)
    cmds = {"llama-server": llama_server_cmd(args.large, 18100, args.threads, args.slots, 1024)}
    bases = {"llama-server": "http://127.0.0.1:18100"}
    models = {"llama-server": "large"}
    for i, sched in enumerate(schedules):
        name = f"aio-{sched}"
        cmds[name] = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(18101 + i), "--slots",
                      str(args.slots), "--schedule", sched]
        bases[name] = f"http://127.0.0.1:{18101 + i}"
        models[name] = "aio"
    out = {"small": args.small, "large": args.large, "threads": args.threads, "slots": args.slots,
           "requests": args.requests, "tokens": args.tokens, "probe": args.probe, "synthetic_weights": True,
           "scenario": "A", "levels": {}}
    samples = {name: {k: [] for k in clients} for name in cmds}
    routes = collections.Counter()
    run = 0
    with Servers(cmds, bases):
        for name in cmds:  # warm-up: page the weights in
            run_clients(bases[name], models[name], requests[:2], 2, tag="warm-up ")
        for rep in range(args.repeats):
            for k in clients:
                names = list(cmds) if rep % 2 == 0 else list(reversed(list(cmds)))
                for name in names:
                    run += 1
                    tps, answers = run_clients(bases[name], models[name], requests, k, tag=f"[run {run}] ")
                    samples[name][k].append(tps)
                    if name.startswith("aio"):
                        routes.update(f"{a['aio']['probe'].get('category', '?')} -> {a['aio']['route']['model']}"
                                      f"/{a['aio']['route']['strategy']}" for a in answers)
                    print(f"repeat {rep + 1}/{args.repeats}  K={k}  {name:14s} {tps:7.2f} tok/s", flush=True)
    print(f"\nScenario A mix, {args.requests} requests x {args.tokens} tokens, {args.threads} threads, {args.slots} "
          f"slots, probe {args.probe}; llama-server serves {os.path.basename(args.large)} alone; median of "
          f"{args.repeats} (synthetic weights, real speed):")
    for k in clients:
        base = statistics.median(samples["llama-server"][k])
        row = {"llama_server": base}
        line = f"  K={k}: llama-server {base:6.2f} tok/s"
        for name in cmds:
            if name == "llama-server":
                continue
            tps = statistics.median(samples[name][k])
            row[name] = tps
            row[f"{name}_ratio"] = tps / base
            line += f"  {name} {tps:6.2f} ({tps / base:.2f}x)"
        out["levels"][k] = row
        print(line)
    out["routes"] = dict(routes)
    print("routes taken by aio: " + ", ".join(f"{r}: {n}" for r, n in routes.most_common()))
    save_results("serve_aio.json", out)


if __name__ == "__main__":
    main()
