# Sourced by the CTest drivers that test `aio serve` with an npm-installed client (openai_client/, dashboard/):
# installing the pinned package, the tiny model pair, and servers started on free loopback ports and killed on exit.
# Expects $aio (the binary) and $work (an absolute folder) to be set.

# npm_install DIR PACKAGE: DIR's package.json (and package-lock.json, when there is one: `npm ci` checks its hashes)
# installed into $work, unless PACKAGE is already there from the same files.
npm_install() {
  local dir=$1 package=$2
  if [ -f "$dir/package-lock.json" ] && cmp -s "$dir/package-lock.json" "$work/package-lock.json" &&
     [ -d "$work/node_modules/$package" ]; then return; fi
  if [ ! -f "$dir/package-lock.json" ] && [ -d "$work/node_modules/$package" ]; then return; fi
  cp "$dir/package.json" "$work/"
  if [ -f "$dir/package-lock.json" ]; then
    cp "$dir/package-lock.json" "$work/"
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  else
    (cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi || { echo "could not install $package from the npm registry" >&2; exit 1; }
}

# tiny_pair_config N_CTX PROBE: the tiny synthetic pair in $work and $work/aio.yaml serving it with that probe
# ("lm" or "fasttext").
tiny_pair_config() {
  local n_ctx=$1 probe=$2
  "$aio" synth --preset tiny-small --seed 1 -o "$work/small.gguf" --force >/dev/null 2>&1
  "$aio" synth --preset tiny-large --seed 2 -o "$work/large.gguf" --force >/dev/null 2>&1
  local probe_yaml="{kind: lm, model: small}"
  [ "$probe" = fasttext ] && probe_yaml="{kind: fasttext, fasttext_model: builtin}"
  cat > "$work/aio.yaml" <<YAML
models:
  small: {path: small.gguf, n_ctx: $n_ctx}
  large: {path: large.gguf, n_ctx: $n_ctx}
probe: $probe_yaml
threads: 1
YAML
}

# start_server LOG [ARGS...]: `aio serve` with $work/aio.yaml (2 slots unless ARGS say) on a free port, in the background, once ready; sets
# $port. Every server started is killed when the script exits; stop_servers ends them gracefully first.
servers=()
trap 'kill -9 "${servers[@]}" 2>/dev/null || true' EXIT
start_server() {
  local log=$1
  shift
  local slots=(--slots 2) # unless ARGS set their own
  [[ " $* " == *" --slots "* ]] && slots=()
  "$aio" serve --config "$work/aio.yaml" --port 0 "${slots[@]}" "$@" >"$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 300); do grep -q "ready" "$log" && break; sleep 0.1; done
  grep -q "ready" "$log" || { echo "server did not become ready:" >&2; cat "$log" >&2; exit 1; }
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$log")
}
stop_servers() {
  kill -TERM "${servers[@]}"
  wait "${servers[@]}"
  servers=()
}
