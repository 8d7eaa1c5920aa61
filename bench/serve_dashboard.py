#!/usr/bin/env python3
"""What the live dashboard costs `aio serve`: aggregate decode tok/s of N concurrent streams (synthetic llama3.2-1b
Q8_0, pinned, as in serve_vs_llama_server.py) measured in alternation, the same server throughout:
  - nobody watching (the anchor);
  - the page's feed polled as the page polls it (GET /v1/aio/stats every 2 s, from this script: what a browser on
    another machine costs the server);
  - a real browser on this machine (Debian's chromium, headless, with /dashboard open and polling): the server's share
    plus the browser's own CPU on the same two cores;
  - the same browser with an empty page (about:blank): what the browser costs before the page does anything.
Plus, in-process (build/bin/aio-bench-live-stats): what recording one finished request costs (paid whether anyone
watches or not) and what building one stats document costs, set against the mean request time.
Writes bench/results/serve_dashboard.json. Synthetic weights: the speeds are real, the text is not."""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

from serve_common import BIN, Servers, concurrent_rate, one_model_args, one_model_config, post, save_results

PORT = 18060
BASE = f"http://127.0.0.1:{PORT}"
RUN = iter(range(1 << 30))


def rate(streams, tokens):
    run = next(RUN)

    def client(i):
        r, _ = post(f"{BASE}/v1/completions", {"model": "small", "prompt": f"Run {run} stream {i}: once upon a time",
                                               "max_tokens": tokens, "temperature": 0, "ignore_eos": True})
        return r["usage"]["completion_tokens"]

    return concurrent_rate(streams, client)


class Poller:
    """GETs the stats feed every `interval` seconds, as the page does, until stopped."""

    def __init__(self, interval=2.0):
        self.interval, self.stop, self.polls, self.seconds = interval, threading.Event(), 0, []
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.is_set():
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"{BASE}/v1/aio/stats", timeout=10) as r:
                r.read()
            self.seconds.append(time.perf_counter() - t0)  # the server's whole part of a poll, and the network's
            self.polls += 1
            self.stop.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class Browser:
    """Headless chromium with `page` open for the duration: /dashboard (it polls every 2 s), or about:blank - the
    browser alone, to tell its own cost from the page's."""

    def __init__(self, page="/dashboard"):
        self.profile = tempfile.mkdtemp(prefix="aio-bench-chromium-")
        self.url = page if page.startswith("about:") else f"{BASE}{page}"

    def cpu_seconds(self):
        """CPU time used so far by every process of this browser (they all carry its profile folder)."""
        ticks = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if self.profile.encode() not in f.read():
                        continue
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        self.proc = subprocess.Popen([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                                      f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                                      self.url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(4)  # started, page loaded, first polls done
        self.t0, self.cpu0 = time.time(), self.cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.cpu_share = (self.cpu_seconds() - self.cpu0) / (time.time() - self.t0)  # cores busy, on average
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    ap = one_model_args(__doc__, tokens=48, repeats=5)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--no-browser", action="store_true", help="skip the real-browser condition")
    args = ap.parse_args()
    cfg = one_model_config(args, "aio-bench-dashboard-")
    micro = json.loads(subprocess.run([os.path.join(BIN, "aio-bench-live-stats")], check=True,
                                      capture_output=True, text=True).stdout)
    conditions = ["nobody", "poller"] + ([] if args.no_browser or not shutil.which("chromium")
                                         else ["browser", "blank_browser"])
    samples = {c: [] for c in conditions}
    browser_cpu = {c: [] for c in conditions if c.endswith("browser")}
    polls, poll_seconds = 0, []
    cmds = {"aio": [os.path.join(BIN, "aio"), "serve", "--config", cfg, "--port", str(PORT), "--slots", str(args.slots)]}
    with Servers(cmds, {"aio": BASE}):
        rate(args.streams, 4)  # warm-up
        for rep in range(args.repeats):
            order = conditions if rep % 2 == 0 else list(reversed(conditions))
            for c in order:
                if c == "nobody":
                    samples[c].append(rate(args.streams, args.tokens))
                elif c == "poller":
                    with Poller() as p:
                        samples[c].append(rate(args.streams, args.tokens))
                    polls += p.polls
                    poll_seconds += p.seconds
                else:
                    with Browser("/dashboard" if c == "browser" else "about:blank") as b:
                        samples[c].append(rate(args.streams, args.tokens))
                    browser_cpu[c].append(b.cpu_share)
            print(f"repeat {rep + 1}/{args.repeats}: " + ", ".join(f"{c} {samples[c][-1]:.2f}" for c in conditions) +
                  " tok/s", flush=True)
    med = {c: statistics.median(v) for c, v in samples.items()}
    # Each condition against nobody watching in the same repeat (this VM's speed drifts between repeats).
    paired = {c: statistics.median(x / n for x, n in zip(samples[c], samples["nobody"])) for c in conditions}
    request_s = args.streams * args.tokens / med["nobody"]  # the streams run together: each lasts about the batch
    out = {"model": args.model, "synthetic_weights": True, "streams": args.streams, "tokens": args.tokens,
           "threads": args.threads, "repeats": args.repeats, "tokens_per_second": med, "samples": samples,
           "ratio_to_nobody": paired, "polls_during_poller_runs": polls,
           "poll_ms_p50": 1000 * statistics.median(poll_seconds) if poll_seconds else None,
           "browser_cpu_cores": {c: statistics.median(v) for c, v in browser_cpu.items()},
           "in_process": micro,
           "record_share_of_request_time": micro["record_ns_per_request"] * 1e-9 / request_s}
    print(f"\naggregate decode tok/s, {args.streams} streams x {args.tokens} tokens, median of {args.repeats} "
          f"(synthetic 1B, {args.threads} threads):")
    for c in conditions:
        cpu = f"; the browser used {out['browser_cpu_cores'][c]:.3f} cores" if c in browser_cpu else ""
        print(f"  {c:13s} {med[c]:7.2f}  ({paired[c]:.3f} of nobody watching, median of paired repeats{cpu})")
    if poll_seconds:
        print(f"  one poll of /v1/aio/stats under that load: p50 {out['poll_ms_p50']:.2f} ms wall ({polls} polls), "
              f"i.e. at most {out['poll_ms_p50'] / 20:.4f}% of one core at the page's 2 s cadence")
    print(f"  in-process: recording a request {micro['record_ns_per_request']:.0f} ns "
          f"({100 * out['record_share_of_request_time']:.5f}% of a {request_s:.2f} s request); "
          f"one stats document {micro['document_ms']:.3f} ms ({micro['document_bytes']} bytes)")
    save_results("serve_dashboard.json", out)


if __name__ == "__main__":
    main()
