#!/usr/bin/env python3
"""Aggregate decode throughput of `aio serve` against llama.cpp's `llama-server` (built from the same pinned source) at
1, 2, 4 and 8 concurrent streams: same synthetic llama3.2-1b Q8_0 file, same threads, same slots, both servers up and
measured in alternation within one script run.
Prints the ratio at each level (aio / llama-server). Synthetic weights: speeds are real, text is not.
Writes bench/results/serve.json."""
import itertools
import json
import os
import statistics

from serve_common import BIN, ROOT, Servers, concurrent_rate, one_model_args, one_model_config, post, save_results


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
    args = one_model_args(__doc__).parse_args()
    cfg = one_model_config(args, "aio-bench-serve-")
    levels = [1, 2, 4, 8]
    out = {"model": args.model, "threads": args.threads, "tokens": args.tokens, "repeats": args.repeats,
           "synthetic_weights": True, "levels": {}}
    # Both servers stay up and are measured in alternation (order flipped each repeat), so drift in this VM's speed
    # hits both alike; each level reports the median of the repeats.
    cmds = {
        "llama-server": [os.path.join(BIN, "llama-server"), "-m", args.model, "--port", "18000", "-t",
                         str(args.threads), "--parallel", str(args.slots), "-c", str(512 * args.slots)],
        "aio": [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", "18001", "--slots", str(args.slots)],
    }
    bases = {"llama-server": "http://127.0.0.1:18000", "aio": "http://127.0.0.1:18001"}
    with Servers(cmds, bases):
        for name in cmds:
            run_level(bases[name], "small", 1, 4)  # warm-up: page the weights in
        samples = {name: {n: [] for n in levels} for name in cmds}
        for rep in range(args.repeats):
            order = ["llama-server", "aio"] if rep % 2 == 0 else ["aio", "llama-server"]
            for n in levels:
                for name in order:
                    samples[name][n].append(run_level(bases[name], "small", n, args.tokens))
            print(f"repeat {rep + 1}/{args.repeats}: " + "  ".join(
                f"{n}: {samples['aio'][n][-1] / samples['llama-server'][n][-1]:.3f}" for n in levels) +
                "  (aio / llama-server)", flush=True)
    rates = {name: {n: statistics.median(samples[name][n]) for n in levels} for name in cmds}
    print(f"\naggregate decode tok/s, {os.path.basename(args.model)}, {args.threads} threads, {args.slots} slots, "
          f"{args.tokens} tokens per stream, median of {args.repeats} alternating repeats "
          f"(synthetic weights, real speed):")
    for n in levels:
        ratio = rates["aio"][n] / rates["llama-server"][n]
        out["levels"][n] = {"aio": rates["aio"][n], "llama_server": rates["llama-server"][n], "ratio": ratio,
                            "aio_samples": samples["aio"][n], "llama_server_samples": samples["llama-server"][n]}
        print(f"  {n} streams: aio {rates['aio'][n]:6.2f}  llama-server {rates['llama-server'][n]:6.2f}  "
              f"ratio {ratio:.3f}  (target >= 1.0)")
    save_results("serve.json", out)


if __name__ == "__main__":
    main()
