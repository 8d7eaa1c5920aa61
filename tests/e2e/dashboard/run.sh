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
mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/puppeteer-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "could not install puppeteer-core from the npm registry" >&2; exit 1; }
fi
cp "$here/dashboard.mjs" "$here/report.mjs" "$work/"
"$aio" synth --preset tiny-small --seed 1 -o "$work/small.gguf" --force >/dev/null 2>&1
"$aio" synth --preset tiny-large --seed 2 -o "$work/large.gguf" --force >/dev/null 2>&1
cat > "$work/aio.yaml" <<YAML
models:
  small: {path: small.gguf, n_ctx: 1024}
  large: {path: large.gguf, n_ctx: 1024}
probe: {kind: lm, model: small}
threads: 1
YAML
# start_server LOG [ARGS...]: `aio serve` on a free port, in the background; sets $port.
start_server() {
  local log=$1
  shift
  "$aio" serve --config "$work/aio.yaml" --port 0 --slots 2 "$@" >"$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 300); do grep -q "ready" "$log" && break; sleep 0.1; done
  grep -q "ready" "$log" || { echo "server did not become ready:" >&2; cat "$log" >&2; exit 1; }
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$log")
}
servers=()
trap 'kill -9 "${servers[@]}" 2>/dev/null || true' EXIT
start_server "$work/serve.log"
open_port=$port
start_server "$work/serve-keyed.log" --api-key dashboard-test-key
(cd "$work" && CHROMIUM="$chromium" node dashboard.mjs "http://127.0.0.1:$open_port" "$work" \
   "http://127.0.0.1:$port" dashboard-test-key)
kill -TERM "${servers[@]}"
wait "${servers[@]}"

# The report: Scenario A's sample workload through three policies on the same pair, then index.html in the browser.
rm -rf "$work/results.jsonl" "$work/report"
"$aio" bench --config "$work/aio.yaml" --scenario A --data "$here/../../../data/sample" --n 6 \
  --policies static-small,static-large,aio -o "$work/results.jsonl" >"$work/bench.log" 2>&1 ||
  { echo "aio bench failed:" >&2; cat "$work/bench.log" >&2; exit 1; }
"$aio" report "$work/results.jsonl" -o "$work/report" >/dev/null
(cd "$work" && CHROMIUM="$chromium" node report.mjs "$work/report" "$work")
