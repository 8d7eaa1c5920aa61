#!/usr/bin/env bash
# The main job (first version): load a small and a large model into ONE process and generate through each,
# printing per-model prompt and decode speed. Synthesizes the tiny pair once (cached in models/) unless
# SMALL=/path/small.gguf LARGE=/path/large.gguf name real models.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${PRESET:-release}
bin=build/bin/aio
[ "$preset" = release ] || bin=build-$preset/bin/aio
[ -x "$bin" ] || { echo "demo: $bin is missing; run 'make' first" >&2; exit 1; }

small=${SMALL:-models/tiny-small-q8_0.gguf}
large=${LARGE:-models/tiny-large-q8_0.gguf}
mkdir -p models
if [ -z "${SMALL:-}" ] && [ ! -f "$small" ]; then "$bin" synth --preset tiny-small --type q8_0 --seed 1 -o "$small"; fi
if [ -z "${LARGE:-}" ] && [ ! -f "$large" ]; then "$bin" synth --preset tiny-large --type q8_0 --seed 2 -o "$large"; fi

echo "== A-IO demo: two models resident in one process =="
"$bin" info "$small" | sed -n '1,5p'
"$bin" info "$large" | sed -n '1,5p'
echo
echo "== Generating through each (greedy, 64 tokens) =="
"$bin" generate -m "$small" -m "$large" --chat \
  -p "Write a Python function that returns the n-th Fibonacci number." -n 64 --ignore-eos
