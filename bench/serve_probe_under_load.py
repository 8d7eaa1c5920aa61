#!/usr/bin/env python3
"""The lm probe under load, with routes held equal. Scenario A's mix, each request carrying its true category as a
shadow label ({"aio": {"label": ...}}), sent by K concurrent clients to two `aio serve` processes that differ only in
the probe (lm: the paper's forward pass of the small model, run inside its engine; fasttext: microseconds on the
HTTP thread). The `oracle` policy routes on the label, so both send every request to the same model; the probe still
runs and is recorded. Requests the small model answers go on in the probe's slot with its KV; the others pay one
batched prefill of the small model. A third server runs the cascade (fastText on every request, the lm probe on
those fastText is unsure of: --cascade bits). Prints tok/s of each and the ratio lm / fasttext (target >= 0.9 with
32-token answers) and cascade / fasttext, the probe's added latency p50/p99 (queued + forward pass), and the shadow counts /metrics exposes - for each
answer length of --tokens (default 32 and 128).
Default: the synthetic llama3.2-1b Q8_0 file as both models. Writes bench/results/probe_load.json."""
import argparse
import os
import statistics
import tempfile
import urllib.request

from serve_common import BIN, ROOT, SCENARIO_A, Servers, percentile, run_clients, save_results, scenario_requests, synth


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "llama3.2-1b-q8_0.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--tokens", default="32,128", help="answer lengths, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lanes", default="1", help="the lm server's probe.lanes; 'a,b' runs one lm server per value")
    ap.add_argument("--cascade", default="0.5", help="also a cascade server (fastText on every request, the lm probe "
                    "on those whose fastText entropy is above this many bits); '' for none")
    ap.add_argument("--extra", default="", help="more aio serve arguments for every server, comma-separated "
                    "(e.g. --max-stall-ms,1500)")
    args = ap.parse_args()
    lengths = [int(t) for t in args.tokens.split(",")]
    synth("llama3.2-1b", args.model)
    work = tempfile.mkdtemp(prefix="aio-bench-probe-")
    cmds, bases = {}, {}
    lanes = args.lanes.split(",")
    probes = [("lm" if i == 0 else f"lm-lanes{n}", f"{{kind: lm, lanes: {n}}}") for i, n in enumerate(lanes)]
    if args.cascade:
        probes.append(("cascade", f"{{kind: cascade, fasttext_model: builtin, escalate_entropy_gt: {args.cascade}}}"))
    probes.append(("fasttext", "{kind: fasttext, fasttext_model: builtin}"))
    for i, (name, probe) in enumerate(probes):
        cfg = os.path.join(work, f"{name}.yaml")
        with open(cfg, "w") as f:
            f.write(f"models:\n  small: {{path: {args.model}, n_ctx: 1024}}\n  large: {{path: {args.model}, n_ctx: 1024}}\n"
                    f"policy: oracle\nprobe: {probe}\nthreads: {args.threads}\n")
        cmds[name] = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(18200 + i), "--slots",
                      str(args.slots)] + [a for a in args.extra.split(",") if a]
        bases[name] = f"http://127.0.0.1:{18200 + i}"
    out = {"model": args.model, "threads": args.threads, "slots": args.slots, "clients": args.clients, "lanes": lanes,
           "extra": args.extra, "requests": args.requests, "synthetic_weights": True, "policy": "oracle", "by_tokens": {}}
    run = 0
    with Servers(cmds, bases):
        for name in cmds:
            run_clients(bases[name], "aio", scenario_requests(SCENARIO_A, 2, 2, 8), 2, tag="warm-up ", labels=True)
        for tokens in lengths:
            requests = scenario_requests(SCENARIO_A, args.requests, 2, tokens)
            samples = {name: [] for name in cmds}
            probe_ms = {name: [] for name in cmds}
            parts_ms = {name: {"template": [], "probe_wait": [], "probe": []} for name in cmds}
            read_by = {name: {} for name in cmds}  # which probe gave each verdict (a cascade: fasttext or lm)
            for rep in range(args.repeats):
                for name in (list(cmds) if rep % 2 == 0 else list(reversed(list(cmds)))):
                    run += 1
                    tps, answers = run_clients(bases[name], "aio", requests, args.clients, tag=f"[run {run}] ",
                                               labels=True)
                    samples[name].append(tps)
                    for a in answers:
                        t = a["aio"]["timings_ms"]
                        probe_ms[name].append(t["template"] + t["probe_wait"] + t["probe"])
                        for part, v in parts_ms[name].items():
                            v.append(t[part])
                        kind = a["aio"].get("probe", {}).get("kind", "?")
                        read_by[name][kind] = read_by[name].get(kind, 0) + 1
                    print(f"{tokens}-token answers, repeat {rep + 1}/{args.repeats}  {name:8s} {tps:7.2f} tok/s",
                          flush=True)
            tps = {name: statistics.median(v) for name, v in samples.items()}
            row = {"tokens_per_second": tps, "ratio_lm_vs_fasttext": tps["lm"] / tps["fasttext"],
                   "ratios_vs_fasttext": {n: tps[n] / tps["fasttext"] for n in cmds if n != "fasttext"},
                   "samples": samples, "read_by": read_by,
                   "probe_added_ms": {name: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
                                      for name, v in probe_ms.items()},
                   # where the added latency goes: tokenizing the template, queued for the engine, the forward pass
                   "probe_parts_p50_ms": {name: {part: percentile(v, 0.5) for part, v in parts.items()}
                                          for name, parts in parts_ms.items()}}
            out["by_tokens"][str(tokens)] = row
            save_results("probe_load.json", out)
        shadow = {}
        for name in cmds:
            with urllib.request.urlopen(bases[name] + "/metrics") as r:
                shadow[name] = [l for l in r.read().decode().splitlines() if l.startswith("aio_probe_shadow_total")]
    out["shadow_metrics"] = shadow
    print(f"\nScenario A with shadow labels, oracle policy (routes equal), {os.path.basename(args.model)} as both models, "
          f"{args.clients} clients, {args.requests} requests, {args.threads} threads, median of {args.repeats} "
          f"(synthetic weights, real speed):")
    for tokens, row in out["by_tokens"].items():
        for name in cmds:
            p = row["probe_added_ms"][name]
            print(f"  {tokens:>4s} tokens  probe {name:8s} {row['tokens_per_second'][name]:7.2f} tok/s   probe's added "
                  f"latency p50 {p['p50']:8.2f} ms  p99 {p['p99']:8.2f} ms  (p50 of its parts: " +
                  ", ".join(f"{k} {v:.1f}" for k, v in row["probe_parts_p50_ms"][name].items()) + ")")
        for n, r in row["ratios_vs_fasttext"].items():
            print(f"  {tokens:>4s} tokens  {n} / fasttext: {r:.3f}  (target >= 0.9; verdicts by {row['read_by'][n]})")
    for name, lines in shadow.items():
        print(f"  /metrics of the {name} server: " + "; ".join(lines))
    save_results("probe_load.json", out)

if __name__ == "__main__":
    main()
