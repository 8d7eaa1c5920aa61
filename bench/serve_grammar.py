#!/usr/bin/env python3
"""What a grammar costs: aggregate decode tok/s of `aio serve` and llama.cpp's `llama-server` (same pinned source, same
file, 2 threads, 8 slots) on chat requests with and without `response_format: json_schema` (a list of at least 64
integers, so every answer runs its full token budget under the grammar), at 1 and 4 concurrent streams, servers and
conditions measured in alternation. Both enforce the grammar with llama.cpp's grammar sampler; the ratio of interest
is each server's grammar cost (with / without) and aio against llama-server under the same grammar.
Writes bench/results/serve_grammar.json. Synthetic weights: the speeds are real, the text is not."""
import itertools
import os
import statistics

from serve_common import (BIN, Servers, concurrent_rate, llama_server_cmd, one_model_args, one_model_config, post,
                          save_results)

SCHEMA = {"type": "array", "items": {"type": "integer"}, "minItems": 64}
RUN = itertools.count()


def run_level(base, streams, tokens, grammar):
    run = next(RUN)

    def client(i):
        body = {"model": "small", "messages": [{"role": "user", "content": f"Run {run} stream {i}: list numbers."}],
                "max_tokens": tokens, "temperature": 0}
        if grammar:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "numbers", "schema": SCHEMA}}
        r, _ = post(f"{base}/v1/chat/completions", body)
        return r["usage"]["completion_tokens"]

    return concurrent_rate(streams, client)


def main():
    args = one_model_args(__doc__).parse_args()
    cfg = one_model_config(args, "aio-bench-grammar-")
    cmds = {
        "llama-server": llama_server_cmd(args.model, 18020, args.threads, args.slots, 512, unified_kv=False),
        "aio": [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", "18021", "--slots", str(args.slots)],
    }
    bases = {"llama-server": "http://127.0.0.1:18020", "aio": "http://127.0.0.1:18021"}
    levels = [1, 4]
    conds = [(name, g) for name in cmds for g in (False, True)]
    samples = {c: {n: [] for n in levels} for c in conds}
    with Servers(cmds, bases):
        for name in cmds:
            run_level(bases[name], 1, 4, True)  # warm-up
        for rep in range(args.repeats):
            order = conds if rep % 2 == 0 else list(reversed(conds))
            for n in levels:
                for name, g in order:
                    samples[(name, g)][n].append(run_level(bases[name], n, args.tokens, g))
            print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
    out = {"model": args.model, "threads": args.threads, "tokens": args.tokens, "repeats": args.repeats,
           "schema": SCHEMA, "synthetic_weights": True, "levels": {}}
    print(f"\naggregate decode tok/s, chat, {args.tokens} tokens, median of {args.repeats} alternating repeats "
          f"(synthetic weights, real speed):")
    for n in levels:
        m = {c: statistics.median(samples[c][n]) for c in conds}
        row = {f"{name}{' grammar' if g else ''}": v for (name, g), v in m.items()}
        row["aio grammar cost"] = m[("aio", True)] / m[("aio", False)]
        row["llama-server grammar cost"] = m[("llama-server", True)] / m[("llama-server", False)]
        row["aio / llama-server with grammar"] = m[("aio", True)] / m[("llama-server", True)]
        out["levels"][n] = row
        print(f"  {n} streams: aio {m[('aio', False)]:.2f} -> {m[('aio', True)]:.2f} with grammar "
              f"({row['aio grammar cost']:.3f}x); llama-server {m[('llama-server', False)]:.2f} -> "
              f"{m[('llama-server', True)]:.2f} ({row['llama-server grammar cost']:.3f}x); "
              f"aio / llama-server under the grammar {row['aio / llama-server with grammar']:.3f}")
    save_results("serve_grammar.json", out)


if __name__ == "__main__":
    main()
