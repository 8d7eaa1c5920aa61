#!/usr/bin/env bash
# `make bench`: every benchmark, each against its anchor in the same run. Synthesizes the model files it needs once
# (models/, about 13 GB for the 1B + 8B and 135M + 3B pairs). The serving comparisons with the 8B take about half an
# hour on 2 cores; the goodput ladders are bounded to an hour (--budget-minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models bench/results
python3 bench/decode_vs_llama_bench.py "$@"
[ -f models/tiny-small-q8_0.gguf ] || build/bin/aio synth --preset tiny-small --seed 1 -o models/tiny-small-q8_0.gguf
[ -f models/tiny-large-q8_0.gguf ] || build/bin/aio synth --preset tiny-large --seed 2 -o models/tiny-large-q8_0.gguf
python3 bench/probe_heldout.py
build/bin/aio-bench-strategies
build/bin/aio-bench-batching -r 3
build/bin/aio-bench-batching --speculation -n 64 -r 3
build/bin/aio-bench-scoring | tee bench/results/scoring.json
python3 bench/serve_vs_llama_server.py --llama-server-kv both
python3 bench/serve_aio_vs_llama_server.py --schedules shared,parallel
python3 bench/serve_probe_under_load.py
python3 bench/serve_long_prompt.py
python3 bench/serve_cross_model_prompt.py
python3 bench/serve_goodput.py --budget-minutes 60
python3 bench/serve_overload.py
python3 bench/serve_hostile_clients.py
python3 bench/serve_grammar.py
python3 bench/serve_pool.py
python3 bench/serve_dashboard.py
python3 bench/serve_limits.py
