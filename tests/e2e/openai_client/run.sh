#!/usr/bin/env bash
# CTest driver: installs the openai npm client (pinned in package.json) into the build tree, synthesizes a tiny
# model pair, starts `aio serve` on a free loopback port, runs client.mjs against it, and stops the server.
#   run.sh AIO_BINARY WORK_DIR
set -euo pipefail
aio=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if [ ! -d "$work/node_modules/openai" ]; then
  cp "$here/package.json" "$work/"
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "could not install the openai npm client from the npm registry" >&2; exit 1; }
fi
cp "$here/client.mjs" "$work/"
"$aio" synth --preset tiny-small --seed 1 -o "$work/small.gguf" --force >/dev/null 2>&1
"$aio" synth --preset tiny-large --seed 2 -o "$work/large.gguf" --force >/dev/null 2>&1
cat > "$work/aio.yaml" <<YAML
models:
  small: {path: small.gguf, n_ctx: 512}
  large: {path: large.gguf, n_ctx: 512}
probe: {kind: fasttext, fasttext_model: builtin}
threads: 1
YAML
log="$work/serve.log"
"$aio" serve --config "$work/aio.yaml" --port 0 --slots 2 >"$log" 2>&1 &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q "ready" "$log" && break; sleep 0.1; done
grep -q "ready" "$log" || { echo "server did not become ready:" >&2; cat "$log" >&2; exit 1; }
port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$log")
(cd "$work" && node client.mjs "http://127.0.0.1:$port/v1")
kill -TERM $server
wait $server
