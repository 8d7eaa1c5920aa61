"""Shared by the serving benchmarks: starting servers, waiting for them, a bounded set of concurrent clients, and the
paper's Scenario mixes built from data/sample (the project's own workload in the official benchmark formats)."""
import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
SAMPLE = os.path.join(ROOT, "data", "sample")
# llama-server's KV layout where requests come and go (open loop, closed loop below every slot, a long prompt among
# streams): one unified cache. With --parallel N it otherwise keeps a cache per slot, and the pinned llama.cpp decodes
# sequences with non-adjacent ids in separate passes (llama_batch_allocr::split_equal), so two streams in slots 0 and
# 3 step at half speed: measured here on the 3B, two closed-loop clients 449 ms a token split, 199 ms unified; open
# loop at 0.1 req/s p99 TPOT 511 ms split, 278 ms unified. Its best configuration is the anchor.
LLAMA_SERVER_SHARED_KV = ["--kv-unified"]


def llama_server_cmd(model, port, threads, slots, ctx_per_slot, unified_kv=True, extra=()):
    """The anchor's command line, one place for every serving benchmark: `slots` parallel sequences of
    `ctx_per_slot` tokens each (llama-server splits -c among them), the web UI off, and by default the unified KV
    cache above."""
    return ([os.path.join(BIN, "llama-server"), "-m", model, "--port", str(port), "-t", str(threads), "--parallel",
             str(slots), "-c", str(ctx_per_slot * slots), "--no-webui"]
            + (LLAMA_SERVER_SHARED_KV if unified_kv else []) + list(extra))


def post(url, body, timeout=1800):
    """POSTs JSON; returns (parsed body, response headers)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read()), dict(r.headers)


def wait_ready(url, proc, what, seconds=900):
    for _ in range(int(seconds / 0.2)):
        if proc.poll() is not None:
            sys.exit(f"bench: {what} exited early (exit {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"bench: {what} did not become ready")


def synth(preset, path):
    """Makes a synthetic model file once (real shape, random weights)."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([os.path.join(BIN, "aio"), "synth", "--preset", preset, "--type", "q8_0", "-o", path], check=True)
    return path


class Servers:
    """Starts named server commands, waits until each answers /health, and stops them all on exit."""

    def __init__(self, cmds, bases):
        self.cmds, self.bases, self.procs = cmds, bases, {}

    def __enter__(self):
        # AIO_BENCH_LOGS=DIR keeps each server's stderr in DIR/NAME.log (to see what a server did in a run).
        logs = os.environ.get("AIO_BENCH_LOGS")
        if logs:
            os.makedirs(logs, exist_ok=True)
        for name, cmd in self.cmds.items():
            err = open(os.path.join(logs, f"{name}.log"), "ab") if logs else subprocess.DEVNULL
            self.procs[name] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            if logs:
                err.close()  # the child holds its own copy
        for name in self.cmds:
            wait_ready(f"{self.bases[name]}/health", self.procs[name], name)
        return self

    def __exit__(self, *exc):
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()


def scenario_requests(mix, n, seed, max_tokens):
    """n requests drawn with the scenario's shares (largest remainder), shuffled with `seed`. Each is a dict with the
    endpoint, the body (no model) and the true label. HumanEval goes to /v1/completions as a completion (as `aio bench`
    sends it); C-Eval and GSM8K as chat messages."""
    with open(os.path.join(SAMPLE, "HumanEval.jsonl")) as f:
        code = [json.loads(l)["prompt"] for l in f if l.strip()]
    with open(os.path.join(SAMPLE, "gsm8k.jsonl")) as f:
        math = [json.loads(l)["question"] for l in f if l.strip()]
    with open(os.path.join(SAMPLE, "ceval.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    qa = [r["question"] + "".join(f"\n{k}. {r[k]}" for k in "ABCD") + "\nAnswer:" for r in rows]
    pools = {"code": code, "qa": qa, "math": math}
    counts = {k: int(share * n) for k, share in mix.items()}
    for k in sorted(mix, key=lambda k: mix[k] * n - int(mix[k] * n), reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    rng = random.Random(seed)
    out = []
    for label, count in counts.items():
        for i in range(count):
            text = pools[label][i % len(pools[label])]
            if label == "code":
                out.append({"path": "/v1/completions", "label": label,
                            "body": {"prompt": text, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}})
            else:
                out.append({"path": "/v1/chat/completions", "label": label,
                            "body": {"messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
                                     "temperature": 0, "ignore_eos": True}})
    rng.shuffle(out)
    return out


SCENARIO_A = {"code": 0.7, "qa": 0.2, "math": 0.1}


def run_clients(base, model, requests, clients, tag="", labels=False):
    """Sends `requests` from `clients` concurrent clients (each takes the next request when its last one is done).
    Every prompt gets `tag` up front so no server answers from its prompt cache across runs. Returns (aggregate
    completion tokens per wall-clock second, the list of response bodies)."""
    queue = list(enumerate(requests))
    lock = threading.Lock()
    answers = [None] * len(requests)
    errors = []

    def client():
        while True:
            with lock:
                if not queue:
                    return
                i, r = queue.pop(0)
            body = dict(r["body"], model=model)
            if "prompt" in body:
                body["prompt"] = tag + body["prompt"]
            else:
                body["messages"] = [dict(m, content=tag + m["content"]) for m in body["messages"]]
            if labels:
                body["aio"] = {"label": r["label"]}
            try:
                answers[i], _ = post(base + r["path"], body)
            except Exception as e:  # a failed request is reported, never silently counted
                errors.append(f"{r['path']}: {e}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    if errors:
        sys.exit(f"bench: {len(errors)} requests failed, e.g. {errors[0]}")
    tokens = sum(a["usage"]["completion_tokens"] for a in answers)
    return tokens / wall, answers


def aio_binary(spec, ap):
    """--binary NAME=PATH (another build's aio beside the current one): the name and the path; a parser error unless
    PATH is an executable file."""
    name, _, path = spec.partition("=")
    if not name or not os.path.isfile(path) or not os.access(path, os.X_OK):
        ap.error(f"--binary {spec}: give NAME=PATH with PATH an executable aio binary, e.g. old=/tmp/aio-old")
    return name, path


# The per-model config keys a benchmark may vary (aio.yaml's models.NAME), with the values each takes.
MODEL_KEYS = {"kv_cache": ("unified", "split"), "flash_attn": ("auto", "on", "off")}


def model_keys(spec, ap):
    """--model-keys NAME=KEY:VALUE,... (another aio serve whose models take these config keys, e.g.
    split=kv_cache:split,flash_attn:off): the name and a dict of the keys; a parser error for anything else."""
    name, _, rest = spec.partition("=")
    keys = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition(":")
        if value not in MODEL_KEYS.get(key, ()):
            ap.error(f"--model-keys {spec}: '{item}' is not KEY:VALUE with " +
                     "; ".join(f"{k} one of {', '.join(v)}" for k, v in MODEL_KEYS.items()))
        keys[key] = value
    if not name or not keys:
        ap.error(f"--model-keys {spec}: give NAME=KEY:VALUE,..., e.g. split=kv_cache:split,flash_attn:off")
    return name, keys


def model_entry(path, n_ctx, **keys):
    """One model's flow mapping in aio.yaml: {path: ..., n_ctx: ..., key: value, ...} (keys with value None left out)."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in dict(path=path, n_ctx=n_ctx, **keys).items() if v is not None) + "}"


def save_results(name, data):
    """Writes bench/results/NAME (JSON): what a benchmark measured, for the figures in docs/benchmarks.md."""
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", name), "w") as f:
        json.dump(data, f, indent=2)


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else 0.0


def one_model_args(description, tokens=48, repeats=3):
    """The arguments every one-model serving benchmark takes: the synthetic 1B file, threads, tokens, slots, repeats."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "llama3.2-1b-q8_0.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=tokens)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=repeats)
    return ap


def one_model_config(args, prefix):
    """Synthesizes args.model if needed and writes an aio.yaml serving it alone as `small` (requests pin it, so routing
    does not enter the comparison with llama-server, which has one model too). Returns the config's path."""
    synth("llama3.2-1b", args.model)
    cfg = os.path.join(tempfile.mkdtemp(prefix=prefix), "aio.yaml")
    with open(cfg, "w") as f:
        f.write(f"models:\n  small: {{path: {args.model}, n_ctx: 512}}\npolicy: static-small\n"
                f"probe: {{kind: fasttext, fasttext_model: builtin}}\nthreads: {args.threads}\n")
    return cfg


def concurrent_rate(streams, one_request):
    """Runs one_request(i) for i < streams at once; returns their generated tokens (what each returns) per second."""
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(one_request(i))) for i in range(streams)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results) / (time.time() - t0)
