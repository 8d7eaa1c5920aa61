#!/usr/bin/env python3
"""`aio serve` throughput while hostile or idle clients hold connections: the serve benchmark's aggregate decode tok/s
(4 and 8 streams, 1B Q8_0, synthetic weights) with nothing else open, against the same with 1,000 idle keep-alive
connections open (each made one request and stays), and with 40 slowloris connections dripping header bytes.
Conditions alternate within one run (the same server), so the ratios compare like with like. Also times /health and a
16-token chat while the slowloris connections are open. Writes bench/results/serve_hostile_clients.json."""
import os
import socket
import statistics
import threading
import time
import urllib.request

from serve_common import BIN, Servers, one_model_args, one_model_config, post, save_results
from serve_vs_llama_server import run_level

PORT = 18011


def open_idle(n):
    """n keep-alive connections, each after one answered request."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: b\r\n\r\n")
        socks.append(s)
    for s in socks:
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            data += s.recv(4096)
    return socks


class Slowloris:
    """n connections sending a request's headers one byte a second."""

    def __init__(self, n):
        self.socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", PORT))
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\n")
            self.socks.append(s)
        self.running = True
        self.thread = threading.Thread(target=self.drip, daemon=True)
        self.thread.start()

    def drip(self):
        while self.running:
            for s in self.socks:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            time.sleep(1)

    def close(self):
        self.running = False
        for s in self.socks:
            s.close()


def timed(fn):
    t0 = time.time()
    fn()
    return time.time() - t0


def main():
    ap = one_model_args(__doc__)
    ap.add_argument("--idle", type=int, default=1000)
    args = ap.parse_args()
    cfg = one_model_config(args, "aio-bench-hostile-")
    base = f"http://127.0.0.1:{PORT}"
    # Deadlines long enough that the held connections stay for the whole run (the defaults would close them: that is
    # the point of deadlines, not what is measured here).
    cmd = [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(PORT), "--slots", str(args.slots),
           "--idle-timeout", "3600", "--header-timeout", "3600"]
    levels = [4, 8]
    conditions = ["none", f"{args.idle} idle", "40 slowloris"]
    samples = {c: {n: [] for n in levels} for c in conditions}
    latency = {}
    with Servers({"aio": cmd}, {"aio": base}):
        run_level(base, "small", 1, 4)  # warm-up
        for rep in range(args.repeats):
            order = conditions if rep % 2 == 0 else list(reversed(conditions))
            for cond in order:
                held, slow = [], None
                if cond.endswith("idle"):
                    held = open_idle(args.idle)
                elif cond.endswith("slowloris"):
                    slow = Slowloris(40)
                    time.sleep(0.5)
                    latency.setdefault("health_s", []).append(
                        timed(lambda: urllib.request.urlopen(f"{base}/health", timeout=30).read()))
                    latency.setdefault("chat16_s", []).append(timed(lambda: post(
                        f"{base}/v1/chat/completions",
                        {"model": "small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16,
                         "temperature": 0, "ignore_eos": True})))
                for n in levels:
                    samples[cond][n].append(run_level(base, "small", n, args.tokens))
                for s in held:
                    s.close()
                if slow:
                    slow.close()
            print(f"repeat {rep + 1}/{args.repeats}: " + "  ".join(
                f"{c}: " + "/".join(f"{samples[c][n][-1]:.2f}" for n in levels) for c in conditions) +
                f"  tok/s at {'/'.join(map(str, levels))} streams", flush=True)
    out = {"model": args.model, "threads": args.threads, "tokens": args.tokens, "repeats": args.repeats,
           "synthetic_weights": True, "levels": {}, "slowloris_latency": latency}
    print(f"\naggregate decode tok/s through aio serve, median of {args.repeats} alternating repeats "
          f"(synthetic weights, real speed):")
    for n in levels:
        base_rate = statistics.median(samples["none"][n])
        row = {"none": base_rate}
        line = f"  {n} streams: none {base_rate:6.2f}"
        for c in conditions[1:]:
            rate = statistics.median(samples[c][n])
            row[c] = rate
            row[c + " ratio"] = rate / base_rate
            line += f"  {c} {rate:6.2f} (ratio {rate / base_rate:.3f})"
        out["levels"][n] = row
        print(line + "  (target >= 0.95)")
    print(f"  with 40 slowloris connections: /health max {max(latency['health_s']):.3f} s, 16-token chat max "
          f"{max(latency['chat16_s']):.3f} s (target < 1 s)")
    save_results("serve_hostile_clients.json", out)


if __name__ == "__main__":
    main()
