#!/usr/bin/env python3
"""A long prompt for one model among the other model's running streams: does it stall them? `aio serve` with two
co-resident models (synthetic smollm2-135m + llama3.2-1b, one scheduler: one model steps at a time) streams --streams
answers of --tokens from the small model (pinned); once they run, one request with 2-4k tokens of real context (the
goodput benchmark's `long` mix) arrives for the large model (pinned). Reported: the small streams' gaps between
streamed chunks (p50 / p99 / max; they stream through the prompt's reading), their worst time per output token, and the long prompt's
time to first token beside its unloaded one (the same request alone on the same server, measured first).

Before 2026-12-07 the step budget held prefill only to an engine's OWN streams: the 1B, with none of its own, read the
prompt in whole 512-token batches of ~12 s on two cores while the 135M's streams waited (in the goodput ladder of the
long mix: inter-token p99 41 s). Now the scheduler tells each engine whether another's streams are waiting, and the
budget holds then too (to the stall allowance: gaps p99 2.6 s, the streams stepping after every second or third held
step), and since the turn order bounds their wait by decode-only steps, they step after each one (p99 0.95 s). There
is no anchor in this run: llama-server serves one model, so it has no such case.

The server runs with --trace-steps, and the steps of the contended run are summed up: the large model's prefill steps
(tokens and time each, its cost per prompt token early and late in the prompt) and how many small steps came between
two of them - the step log that found the 2.6-s gaps' cause. --no-trace for an aio binary older than the option.

Run: python3 bench/serve_cross_model_prompt.py [--streams 6] [--tokens 300]
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import BIN, model_entry, ROOT, Servers, percentile, save_results, synth  # noqa: E402
import serve_goodput  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=300, help="each small stream's answer (long enough that the streams run "
                    "through the prompt's reading)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--aio", default=os.path.join(BIN, "aio"), help="the aio binary to measure (e.g. an earlier build's)")
    ap.add_argument("--extra", default="", help="more aio serve arguments, comma-separated (e.g. "
                    "--extra=--max-stall-ms,150: the held steps' length)")
    ap.add_argument("--no-trace", action="store_true", help="run aio serve without --trace-steps (an older binary)")
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto",
                    help="both models' flash_attn (on a CPU, auto turns it on)")
    ap.add_argument("--out", default="cross_model_prompt.json")
    args = ap.parse_args()
    if args.streams < 1 or args.tokens < 2:
        ap.error("--streams must be >= 1 and --tokens >= 2")
    if not os.access(args.aio, os.X_OK):
        ap.error(f"--aio {args.aio}: not an executable file (build with `make build`, or give an aio binary)")
    small = synth("smollm2-135m", os.path.join(ROOT, "models", "smollm2-135m-q8_0.gguf"))
    large = synth("llama3.2-1b", os.path.join(ROOT, "models", "llama3.2-1b-q8_0.gguf"))
    tmp = tempfile.mkdtemp(prefix="aio-cross-")
    cfg, trace = os.path.join(tmp, "aio.yaml"), os.path.join(tmp, "steps.jsonl")
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {model_entry(small, 4608, flash_attn=args.flash_attn)}\n"
                f"  large: {model_entry(large, 4608, flash_attn=args.flash_attn)}\n"
                f"policy: aio\nprobe: {{kind: fasttext, fasttext_model: builtin}}\nthreads: {args.threads}\n")
    base = "http://127.0.0.1:18530"
    cmds = {"aio": [args.aio, "serve", "--config", cfg, "--port", "18530",
                    "--slots", str(max(8, args.streams))] + [a for a in args.extra.split(",") if a]
            + ([] if args.no_trace else ["--trace-steps", trace])}
    reqs = serve_goodput.workload("long", 10, 7, args.tokens)
    long_req = next(r for r in reqs if r.get("context_tokens"))
    long_req = dict(long_req, body=dict(long_req["body"], max_tokens=4))
    shorts = [r for r in reqs if not r.get("context_tokens")]
    shorts = [shorts[i % len(shorts)] for i in range(args.streams)]
    with Servers(cmds, {"aio": base}):
        # Warm-up on both models (pages the weights in; the engines measure their decode steps).
        serve_goodput.closed_loop(base, "large", serve_goodput.workload("bench", 2, 99, 16), 2, "[warm] ")
        serve_goodput.closed_loop(base, "small", serve_goodput.workload("bench", 2, 98, 16), 2, "[warm] ")
        alone = serve_goodput.stream_one(base, long_req, "large", "[alone] ", time.time())
        print(f"the long prompt alone: first token after {alone['ttft']:.1f} s", flush=True)
        out = [None] * (args.streams + 1)

        def go(i, req, model, t):
            out[i] = serve_goodput.stream_one(base, req, model, f"[run {i}] ", t)

        steps_before = len(read_trace(trace)) # the contended run's steps come after these
        t0 = time.time() + 0.2
        threads = [threading.Thread(target=go, args=(i, r, "small", t0)) for i, r in enumerate(shorts)]
        threads.append(threading.Thread(target=go, args=(args.streams, long_req, "large", t0 + 3)))
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    failed = [o["error"] for o in out if o["error"]]
    if failed:
        sys.exit(f"bench: {len(failed)} requests failed, e.g. {failed[0]}")
    # Every gap of the small streams: they outlast the prompt's reading, so its stalls are among them.
    gaps = [g for o in out[:-1] for g in o["gaps"]]
    tpot = max(sum(o["gaps"]) / len(o["gaps"]) for o in out[:-1] if o["gaps"])
    res = {"streams": args.streams, "extra": args.extra, "flash_attn": args.flash_attn, "tokens": args.tokens,
           "context_tokens": long_req["context_tokens"],
           "long_ttft_alone_s": alone["ttft"], "long_ttft_s": out[-1]["ttft"],
           "small_gap_p50_s": percentile(gaps, 0.5), "small_gap_p99_s": percentile(gaps, 0.99),
           "small_gap_max_s": max(gaps), "small_tpot_max_s": tpot, "synthetic_weights": True}
    if not args.no_trace:
        res["steps"] = step_summary(read_trace(trace)[steps_before:], long_req["context_tokens"])
    save_results(args.out, res)
    print(f"{args.streams} small streams beside a {long_req['context_tokens']}-token-context prompt for the large "
          f"model: gaps p50 {1000 * res['small_gap_p50_s']:.0f} ms, p99 {1000 * res['small_gap_p99_s']:.0f} ms, max "
          f"{1000 * res['small_gap_max_s']:.0f} ms; worst time per output token {1000 * tpot:.0f} ms; the long "
          f"prompt's first token after {res['long_ttft_s']:.1f} s ({res['long_ttft_s'] / alone['ttft']:.2f}x alone)",
          flush=True)
    if res.get("steps"):
        st = res["steps"]
        print(f"steps (--trace-steps): the large model read the prompt in {st['large_prefill_steps']} steps of "
              f"{st['large_prefill_tokens_p50']:.0f} tokens and {st['large_prefill_ms_p50']:.0f} ms (p50; max "
              f"{st['large_prefill_ms_max']:.0f} ms), {st['large_ms_per_token_early']:.1f} ms a prompt token in its "
              f"first third, {st['large_ms_per_token_late']:.1f} ms in its last; between two of them the small model "
              f"stepped {st['small_between_p50']:.0f} times (p50; min {st['small_between_min']}, max "
              f"{st['small_between_max']}); "
              f"time stepping: large {st['large_s']:.1f} s, small {st['small_s']:.1f} s", flush=True)


def read_trace(path):
    """The step trace's lines so far (the server flushes each as the step ends); [] before the first."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def step_summary(steps, context_tokens):
    """What the contended run's steps were: the large model's prefill steps and the small steps between them."""
    large = [s for s in steps if s["model"] == "large" and s["prefill"] > 0]
    if not large:
        return {}
    small_between, run = [], None
    for s in steps:
        if s["model"] == "large" and s["prefill"] > 0:
            if run is not None:
                small_between.append(run)
            run = 0
        elif s["model"] == "small" and run is not None:
            run += 1
    # Cost per prompt token as the context grows: the steps reading the prompt's first and last thirds.
    read, early, late = 0, [], []
    for s in large:
        (early if read < context_tokens / 3 else late if read >= 2 * context_tokens / 3 else []).append(s)
        read += s["prefill"]
    per_token = lambda ss: sum(x["ms"] for x in ss) / max(1, sum(x["prefill"] for x in ss))  # noqa: E731
    return {"large_prefill_steps": len(large),
            "large_prefill_tokens_p50": percentile([s["prefill"] for s in large], 0.5),
            "large_prefill_ms_p50": percentile([s["ms"] for s in large], 0.5),
            "large_prefill_ms_max": max(s["ms"] for s in large),
            "large_ms_per_token_early": per_token(early), "large_ms_per_token_late": per_token(late),
            "small_between_p50": percentile(small_between, 0.5) if small_between else 0,
            "small_between_min": min(small_between, default=0), "small_between_max": max(small_between, default=0),
            "large_s": sum(s["ms"] for s in steps if s["model"] == "large") / 1e3,
            "small_s": sum(s["ms"] for s in steps if s["model"] == "small") / 1e3}


if __name__ == "__main__":
    main()
