#!/usr/bin/env python3
"""Decode (and prompt) speed of `aio generate` against llama.cpp's own llama-bench, same file, same threads, one run.

Also reports peak RSS with a small and a large model resident together against the sum of the two files' sizes.
The models are synthetic (random weights at real shapes): the speed and memory figures are real, the text is not.
Results are printed as ratios (aio / llama-bench) and written to bench/results/decode.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
PROMPT_WORDS = "The quick brown fox jumps over the lazy dog while the orchestra tunes its instruments. "


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"bench: command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
        sys.exit(1)
    return proc.stdout


def ensure_model(preset, wtype, models_dir):
    path = os.path.join(models_dir, f"{preset}-{wtype}.gguf")
    if not os.path.exists(path):
        log(f"bench: synthesizing {path} (once; reused by later runs)")
        subprocess.run([os.path.join(BIN, "aio"), "synth", "--preset", preset, "--type", wtype, "--seed", "1",
                        "-o", path], check=True, stdout=subprocess.DEVNULL)
    return path


def llama_bench(model, threads, n_prompt, n_gen, depth=0):
    out = run([os.path.join(BIN, "llama-bench"), "-m", model, "-t", str(threads), "-p", str(n_prompt),
               "-n", str(n_gen), "-d", str(depth), "-r", "1", "-o", "json"])
    return json.loads(out)[0]["avg_ts"]


def aio_generate(model, threads, prompt_file, n_gen, ctx):
    # n_gen + 1 tokens: the first comes from the prompt pass, then n_gen single-token decode steps, as llama-bench's tg.
    out = run([os.path.join(BIN, "aio"), "generate", "-m", model, "--prompt-file", prompt_file, "-n", str(n_gen + 1),
               "--ignore-eos", "-t", str(threads), "-c", str(ctx), "--json"])
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="llama3.2-1b", help="model shape to time (default: %(default)s)")
    ap.add_argument("--type", default="q8_0", help="weight type (default: %(default)s)")
    ap.add_argument("--large-preset", default="llama3.1-8b", help="second resident model for the RSS check")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128, help="decode steps per run (llama-bench -n)")
    ap.add_argument("--prompt-tokens", type=int, default=256, help="prompt length for the prefill comparison")
    ap.add_argument("--reps", type=int, default=5, help="alternating repetitions of each tool")
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "models"))
    ap.add_argument("--skip-rss", action="store_true", help="skip the two-model resident memory check")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "bench", "results", "decode.json"))
    args = ap.parse_args()

    os.makedirs(args.models_dir, exist_ok=True)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    model = ensure_model(args.preset, args.type, args.models_dir)

    # A prompt of about --prompt-tokens tokens for the prefill comparison (the Llama-3 tokenizer gives ~1 token/word).
    words = (PROMPT_WORDS * (args.prompt_tokens // 10 + 2)).split()
    prompt_file = os.path.join(os.path.dirname(args.output), "prompt.txt")
    with open(prompt_file, "w") as f:
        f.write(" ".join(words[: max(1, args.prompt_tokens - 1)]))

    rows = {"aio_tg": [], "llama_tg": [], "aio_pp": [], "llama_pp": []}
    n_prompt = None
    for rep in range(args.reps):
        t0 = time.time()
        rec = aio_generate(model, args.threads, prompt_file, args.tokens, args.prompt_tokens + args.tokens + 16)
        n_prompt = rec["n_prompt_tokens"]
        rows["aio_tg"].append(rec["decode_tokens_per_second"])
        rows["aio_pp"].append(rec["prefill_tokens_per_second"])
        # Same work as aio's decode: n single-token steps after a prompt of n_prompt tokens (llama-bench's depth).
        rows["llama_tg"].append(llama_bench(model, args.threads, 0, args.tokens, depth=n_prompt))
        rows["llama_pp"].append(llama_bench(model, args.threads, n_prompt, 0))
        log(f"bench: rep {rep + 1}/{args.reps} ({time.time() - t0:.0f}s): "
            f"decode aio {rows['aio_tg'][-1]:.2f} vs llama-bench {rows['llama_tg'][-1]:.2f} tok/s; "
            f"prompt aio {rows['aio_pp'][-1]:.1f} vs llama-bench {rows['llama_pp'][-1]:.1f} tok/s")

    # Shared machines drift: the ratio of each adjacent aio/llama-bench pair is steadier than a ratio of medians.
    med = {k: statistics.median(v) for k, v in rows.items()}
    tg_ratio = statistics.median(a / b for a, b in zip(rows["aio_tg"], rows["llama_tg"]))
    pp_ratio = statistics.median(a / b for a, b in zip(rows["aio_pp"], rows["llama_pp"]))
    result = {
        "model": model, "preset": args.preset, "type": args.type, "threads": args.threads,
        "decode_steps": args.tokens, "prompt_tokens": n_prompt, "reps": args.reps, "synthetic_weights": True,
        "runs": rows, "median": med,
        "decode_ratio": tg_ratio, "prefill_ratio": pp_ratio,
    }
    print(f"\nDecode speed, {args.preset} {args.type.upper()}, {args.threads} threads, {args.tokens} tokens "
          f"(median of {args.reps}; synthetic weights, real speed):")
    print(f"  llama-bench tg{args.tokens} @ d{n_prompt}: {med['llama_tg']:8.2f} tok/s")
    print(f"  aio generate    : {med['aio_tg']:8.2f} tok/s")
    print(f"  ratio aio/llama-bench: {result['decode_ratio']:.3f}   (median of per-rep ratios; target >= 0.97)")
    print("  per-rep ratios: " + " ".join(f"{a / b:.3f}" for a, b in zip(rows["aio_tg"], rows["llama_tg"])))
    print(f"Prompt processing, {n_prompt} tokens:")
    print(f"  llama-bench pp{n_prompt}: {med['llama_pp']:8.1f} tok/s")
    print(f"  aio generate    : {med['aio_pp']:8.1f} tok/s   (includes sampling the first token)")
    print(f"  ratio aio/llama-bench: {result['prefill_ratio']:.3f}   (median of per-rep ratios)")

    if not args.skip_rss:
        large = ensure_model(args.large_preset, args.type, args.models_dir)
        out = run([os.path.join(BIN, "aio"), "generate", "-m", model, "-m", large, "-p", "Hello", "-n", "8",
                   "--ignore-eos", "-t", str(args.threads), "-c", "512", "--json"])
        peak = json.loads(out.strip().splitlines()[-1])["peak_rss_bytes"]
        files = os.path.getsize(model) + os.path.getsize(large)
        result.update({"rss_models": [model, large], "peak_rss_bytes": peak, "files_bytes": files,
                       "rss_ratio": peak / files})
        print(f"Both resident ({args.preset} + {args.large_preset}, {args.type.upper()}), 8 tokens from each:")
        print(f"  peak RSS {peak / 2**30:.2f} GiB vs files {files / 2**30:.2f} GiB: ratio {peak / files:.3f}")

    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwritten: {os.path.relpath(args.output, ROOT)}")


if __name__ == "__main__":
    main()
