#!/usr/bin/env bash
# CTest driver: installs puppeteer-core (pinned, with package-lock.json's checksums) into the build tree, synthesizes
# the tiny model pair, starts `aio serve` on a free loopback port and runs dashboard.mjs against it in Debian's
# chromium; then runs a small `aio bench` + `aio report` and opens the report's index.html with report.mjs.
# Screenshots land in WORK_DIR.
#   run.sh AIO_BINARY WORK_DIR
set -euo pipefail
aio=$(realpath "$1") work=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
chromium=$(command -v chromium || true)
[ -n "$chromium" ] || { echo "chromium is not installed: run scripts/install-deps.sh (Debian's chromium package)" >&2; exit 1; }
source "$here/../npm/driver.sh"
npm_install "$here" puppeteer-core
cp "$here/common.mjs" "$here/dashboard.mjs" "$here/report.mjs" "$work/"
tiny_pair_config 1024 lm
start_server "$work/serve.log"
open_port=$port
start_server "$work/serve-keyed.log" --api-key dashboard-test-key
(cd "$work" && CHROMIUM="$chromium" node dashboard.mjs "http://127.0.0.1:$open_port" "$work" \
   "http://127.0.0.1:$port" dashboard-test-key)
stop_servers

# The report: Scenario A's sample workload through three policies on the same pair, then index.html in the browser.
rm -rf "$work/results.jsonl" "$work/report"
"$aio" bench --config "$work/aio.yaml" --scenario A --data "$here/../../../data/sample" --n 6 \
  --policies static-small,static-large,aio -o "$work/results.jsonl" >"$work/bench.log" 2>&1 ||
  { echo "aio bench failed:" >&2; cat "$work/bench.log" >&2; exit 1; }
"$aio" report "$work/results.jsonl" -o "$work/report" >/dev/null
(cd "$work" && CHROMIUM="$chromium" node report.mjs "$work/report" "$work")
