#!/usr/bin/env python3
"""Aggregate decode throughput of `aio serve` against llama.cpp's `llama-server` (built from the same pinned source) at
1, 2, 4 and 8 concurrent streams: same synthetic llama3.2-1b Q8_0 file, same threads, same slots, both servers up and
measured in alternation within one script run.
Prints the ratio at each level (aio / llama-server). Synthetic weights: speeds are real, text is not.
llama-server keeps a KV cache per slot by default (its fastest layout when every stream starts together, as here);
`--llama-server-kv unified` starts it with one shared cache like aio's engine, `both` measures the two side by side.
Writes bench/results/serve.json."""
import itertools
import os
import statistics

from serve_common import (BIN, Servers, concurrent_rate, llama_server_cmd, one_model_args, one_model_config, post,
                          save_results)


RUN = itertools.count()


def run_level(base, model, streams, tokens):
    """`streams` clients, each one request of `tokens` tokens at once; aggregate generated tokens / wall time.
    Every prompt is new (a run number up front), so no server answers from a prompt cache: decode is what is measured
    (prompt caching is measured separately)."""
    run = next(RUN)

    def client(i):
        r, _ = post(f"{base}/v1/completions", {"model": model, "prompt": f"Run {run} stream {i}: once upon a time",
                                               "max_tokens": tokens, "temperature": 0, "ignore_eos": True})
        return r["usage"]["completion_tokens"]

    return concurrent_rate(streams, client)


def main():
    ap = one_model_args(__doc__)
    ap.add_argument("--llama-server-kv", choices=["split", "unified", "both"], default="split",
                    help="llama-server's KV layout: a cache per slot (its default), one shared cache, or both")
    args = ap.parse_args()
    cfg = one_model_config(args, "aio-bench-serve-")
    levels = [1, 2, 4, 8]
    out = {"model": args.model, "threads": args.threads, "tokens": args.tokens, "repeats": args.repeats,
           "synthetic_weights": True, "llama_server_kv": args.llama_server_kv, "levels": {}}
    # The servers stay up and are measured in alternation (the order rotated each repeat), so drift in this VM's speed
    # hits all alike; each level reports the median of the repeats.
    layouts = {"split": ("llama-server", False), "unified": ("llama-server-unified", True)}
    anchors = [layouts[k] for k in (["split", "unified"] if args.llama_server_kv == "both" else [args.llama_server_kv])]
    cmds, bases = {}, {}
    for i, (name, unified) in enumerate(anchors):
        cmds[name] = llama_server_cmd(args.model, 18000 + 2 * i, args.threads, args.slots, 512, unified_kv=unified)
        bases[name] = f"http://127.0.0.1:{18000 + 2 * i}"
    cmds["aio"] = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", "18001", "--slots", str(args.slots)]
    bases["aio"] = "http://127.0.0.1:18001"
    names = list(cmds)
    with Servers(cmds, bases):
        for name in names:
            run_level(bases[name], "small", 1, 4)  # warm-up: page the weights in
        samples = {name: {n: [] for n in levels} for name in names}
        for rep in range(args.repeats):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for n in levels:
                for name in order:
                    samples[name][n].append(run_level(bases[name], "small", n, args.tokens))
            for anchor, _ in anchors:
                print(f"repeat {rep + 1}/{args.repeats}: " + "  ".join(
                    f"{n}: {samples['aio'][n][-1] / samples[anchor][n][-1]:.3f}" for n in levels) +
                    f"  (aio / {anchor})", flush=True)
    rates = {name: {n: statistics.median(samples[name][n]) for n in levels} for name in names}
    print(f"\naggregate decode tok/s, {os.path.basename(args.model)}, {args.threads} threads, {args.slots} slots, "
          f"{args.tokens} tokens per stream, median of {args.repeats} alternating repeats "
          f"(synthetic weights, real speed):")
    for n in levels:
        row = out["levels"][n] = {"aio": rates["aio"][n], "aio_samples": samples["aio"][n]}
        for anchor, _ in anchors:
            key = anchor.replace("-", "_")
            ratio = rates["aio"][n] / rates[anchor][n]
            row.update({key: rates[anchor][n], f"{key}_samples": samples[anchor][n],
                        "ratio" if anchor == "llama-server" else f"ratio_{key}": ratio})
            print(f"  {n} streams: aio {rates['aio'][n]:6.2f}  {anchor} {rates[anchor][n]:6.2f}  "
                  f"ratio {ratio:.3f}  (target >= 1.0)")
    save_results("serve.json", out)


if __name__ == "__main__":
    main()
