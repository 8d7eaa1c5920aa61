#!/usr/bin/env python3
"""The fastText probe on requests it never trained on: the committed held-out split of the real corpora
(data/probe/heldout.jsonl.gz, 15% of every source) and, where ../shared/data is present, C-Eval (never trained on: its
license keeps it out of the repository). Prints per-category, per-language and per-source recall as Markdown tables,
the calibration and the latency, and writes bench/results/probe_heldout.json.

Run: python3 bench/probe_heldout.py [--aio build/bin/aio] [--model PATH]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def evaluate(aio, model, data):
    cmd = [aio, "probe", "eval", "--json"] + (["--model", model] if model else [])
    for d in data:
        cmd += ["--data", d]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def pct(x):
    return f"{100 * x:.2f}%"


def group_table(title, groups, categories):
    lines = [f"| {title} | n | " + " | ".join(categories) + " | accuracy |",
             "|---|---:|" + "---:|" * len(categories) + "---:|"]
    for name, g in sorted(groups.items()):
        cells = []
        for c in categories:
            r = g.get("recall", {}).get(c)
            cells.append(f"{pct(r['recall'])} ({r['n']})" if r else "-")
        lines.append(f"| {name} | {g['n']} | " + " | ".join(cells) + f" | {pct(g['accuracy'])} |")
    return "\n".join(lines)


def report(name, e, sources=True):
    cats = e["categories"]
    print(f"\n## {name}: {e['n']} requests, accuracy {pct(e['accuracy'])}\n")
    print("| true \\ predicted | " + " | ".join(cats) + " | recall |")
    print("|---|" + "---:|" * len(cats) + "---:|")
    for i, c in enumerate(cats):
        print(f"| {c} | " + " | ".join(str(v) for v in e["confusion"][i]) + f" | {pct(e['recall'][c])} |")
    print()
    print(group_table("language", e["by_lang"], cats))
    if sources and len(e["by_source"]) > 1:
        print()
        print(group_table("source", e["by_source"], cats))
    if "code_vs_rest" in e:
        cv = e["code_vs_rest"]
        print(f"\ncode vs the rest (what the shipped policies route on): {cv['code']} code requests, "
              f"{cv['read_as_code']} read as code, {cv['right']} of them right (precision {pct(cv['precision'])}, "
              f"recall {pct(cv['recall'])})")
    cal = e["calibration"]
    print(f"\ncalibration: expected calibration error {cal['expected_calibration_error']:.4f}, "
          f"log loss {cal['log_loss']:.4f}; latency p50 {e['latency_ms']['p50']:.4f} ms, "
          f"p99 {e['latency_ms']['p99']:.4f} ms per request")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aio", default=os.path.join(ROOT, "build", "bin", "aio"))
    ap.add_argument("--model", default="", help="a fastText probe (default: the one built with aio)")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    a = ap.parse_args()
    if not os.path.exists(a.aio):
        sys.exit(f"{a.aio} is missing: run `make build` first")
    results = {}
    print("# The probe on requests it never trained on", flush=True)
    results["heldout"] = evaluate(a.aio, a.model, [os.path.join(ROOT, "data", "probe", "heldout.jsonl.gz")])
    report("Held-out split of the real corpora (data/probe/heldout.jsonl.gz)", results["heldout"])
    ceval = [os.path.join(a.shared, "ceval", s) for s in ("dev", "val")]
    if all(os.path.isdir(c) for c in ceval):
        results["ceval"] = evaluate(a.aio, a.model, ceval)
        report("C-Eval dev + val (Chinese exam questions, all labelled qa; never trained on)", results["ceval"],
               sources=False)
        worst = sorted(results["ceval"]["by_source"].items(), key=lambda kv: kv[1]["accuracy"])[:6]
        print("\nlowest subjects: " + ", ".join(
            f"{os.path.basename(k).rsplit('_', 1)[0]} {pct(v['accuracy'])}" for k, v in worst))
    else:
        print(f"\n(C-Eval skipped: {a.shared}/ceval is absent)")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "probe_heldout.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
