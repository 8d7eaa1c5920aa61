#!/usr/bin/env python3
"""Runs the shell commands the README and docs/ show, so that none of them rots.

Every ```sh (or bash / shell) block in README.md and docs/*.md must be introduced by a marker on the line before it:
  <!-- runnable -->            this test runs the block, as written, against the tiny synthetic pair
  <!-- not run: REASON -->     it cannot run here (real models, your own data, ...); the reason is shown
  <!-- install-test: WHERE -->  the install test runs it (scripts/install-test.sh: WHERE is `root`, a clean Debian 12
                                root with the package installed, `container` or `service`); listed with --extract WHERE
A shell block without a marker fails the test: a new command in the docs has to say which it is.

Runnable blocks run with `bash -e` in a scratch directory laid out like a checkout after `make demo`: build/bin (the
built binaries), configs/ (a copy), profiles/ and data/ (the repository's), and models/ holding the tiny pair, made
with `aio synth` as `make demo` makes it. Processes a block leaves in the background are stopped when it ends.
Usage: run_doc_blocks.py --source REPO --bin BUILD/bin --work DIR"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(runnable|not run:\s*(.+?)|install-test:\s*(\w+))\s*-->\s*$")
SHELLS = {"sh", "bash", "shell"}


def blocks(path):
    """Yields (line number, language, marker or None, reason, text) for each fenced block of a Markdown file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        marker = MARKER.match(prev)
        kind = None if not marker else ("runnable" if marker.group(1) == "runnable" else
                                        "install-test" if marker.group(3) else "not run")
        reason = marker.group(2) or marker.group(3) or "" if marker else ""
        yield start + 1, lang, kind, reason, "\n".join(lines[start + 1:j])
        i = j + 1


def scratch(source, bindir, work):
    """A directory laid out like a checkout after `make demo` (the blocks use paths relative to the repository)."""
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, "build"))
    os.symlink(os.path.abspath(bindir), os.path.join(work, "build", "bin"))
    shutil.copytree(os.path.join(source, "configs"), os.path.join(work, "configs"))
    for d in ("profiles", "data"):
        os.symlink(os.path.join(source, d), os.path.join(work, d))
    models = os.path.join(work, "models")
    os.makedirs(models)
    aio = os.path.join(bindir, "aio")
    for preset, seed in (("tiny-small", 1), ("tiny-large", 2)):
        subprocess.run([aio, "synth", "--preset", preset, "--type", "q8_0", "--seed", str(seed), "-o",
                        os.path.join(models, f"{preset}-q8_0.gguf")], check=True, stdout=subprocess.DEVNULL)


def run_block(work, text, timeout):
    """Runs one block with bash -e in its own process group; stops whatever it left running. Returns (ok, output)."""
    log = os.path.join(work, "block.log")
    # Output to a file, not a pipe: a server the block leaves in the background would hold a pipe open to the end.
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "-e", "-c", text], cwd=work, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            ok = proc.wait(timeout=timeout) == 0
            note = ""
        except subprocess.TimeoutExpired:
            ok, note = False, f"\n(timed out after {timeout} s)"
        finally:
            stop_group(proc.pid)
    return ok, open(log, errors="replace").read() + note


def stop_group(pgid):
    """SIGTERM to what a block left running (a server drains and exits), SIGKILL to what is still there after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        for _ in range(wait * 10):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--bin")
    ap.add_argument("--work")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per block")
    ap.add_argument("--extract", metavar="WHERE",
                    help="print the README's <!-- install-test: WHERE --> blocks (each after a '# block FILE:LINE' line)")
    args = ap.parse_args()
    if args.extract:
        found = 0
        for line, lang, kind, where, text in blocks(os.path.join(args.source, "README.md")):
            if lang in SHELLS and kind == "install-test" and where == args.extract:
                print(f"# block README.md:{line}\n{text}")
                found += 1
        return 0 if found else 1
    if not args.bin or not args.work:
        ap.error("--bin and --work are needed to run the blocks")
    args.source, args.bin, args.work = (os.path.abspath(p) for p in (args.source, args.bin, args.work))
    files = [os.path.join(args.source, "README.md")] + sorted(glob.glob(os.path.join(args.source, "docs", "*.md")))
    unmarked, runnable, skipped = [], [], []
    for f in files:
        rel = os.path.relpath(f, args.source)
        for line, lang, kind, reason, text in blocks(f):
            if lang not in SHELLS:
                continue
            where = f"{rel}:{line}"
            if kind is None:
                unmarked.append(where)
            elif kind == "runnable":
                runnable.append((where, text))
            elif kind == "install-test":
                place = {"root": "in a clean Debian 12 root with the package installed", "service": "under systemd",
                         "container": "with the container image"}.get(reason, reason)
                skipped.append((where, f"run by the install test (make install-test) {place}"))
            else:
                skipped.append((where, reason))
    for where in unmarked:
        print(f"FAIL {where}: a shell block without <!-- runnable --> or <!-- not run: REASON --> before it")
    for where, reason in skipped:
        print(f"skip {where}: {reason}")
    if not runnable:
        print("FAIL: no runnable block found")
        return 1
    scratch(args.source, args.bin, args.work)
    failed = 0
    for where, text in runnable:
        ok, out = run_block(args.work, text, args.timeout)
        print(f"{'ok  ' if ok else 'FAIL'} {where}")
        if not ok:
            failed += 1
            print("  " + "\n  ".join(out.strip().split("\n")[-30:]))
    print(f"{len(runnable) - failed} of {len(runnable)} runnable blocks passed, {len(skipped)} not run (reasons above), "
          f"{len(unmarked)} unmarked")
    return 1 if failed or unmarked else 0


if __name__ == "__main__":
    sys.exit(main())
