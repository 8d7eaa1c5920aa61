#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (the fuzz preset: clang, ASan + UBSan, A-IO's code only) and runs each for
# FUZZ_SECONDS (default 120: twelve minutes for the six), after replaying every input in fuzz/regressions. Inputs that
# reach new code are kept in build-fuzz/corpus (the seeds in fuzz/corpus are not touched). A crash stops the run with
# the input under build-fuzz/crashes/: fix it, and add the input to fuzz/regressions/<target>/ (make test replays it).
# Inputs run up to 256 KiB, and the seeds include deep, huge and long ones, so mutations start at depths small
# inputs never reach (tests/unit/pathological_inputs_test.cpp generates the same families at every size).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-120}
targets=(fuzz_openai_request fuzz_upstream_sse fuzz_yaml_loaders fuzz_dataset_loaders fuzz_results_log fuzz_probe_text)

command -v clang++ >/dev/null || { echo "fuzz: clang++ is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j "$(nproc)"
mkdir -p build-fuzz/crashes build-fuzz/logs
for t in "${targets[@]}"; do
  bin=build-fuzz/bin/$t
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    "$bin" fuzz/regressions/"$t"/* > "build-fuzz/logs/$t.regressions.log" 2>&1 ||
      { echo "fuzz: $t fails on a regression input (build-fuzz/logs/$t.regressions.log)" >&2; exit 1; }
  fi
  echo "fuzz: $t for ${seconds} s ..."
  if ! "$bin" "$corpus" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
       -artifact_prefix="build-fuzz/crashes/$t-" -print_final_stats=1 > "build-fuzz/logs/$t.log" 2>&1; then
    grep -E "ERROR|SUMMARY|Test unit written" "build-fuzz/logs/$t.log" | head -20 >&2
    echo "fuzz: $t found a failing input (log: build-fuzz/logs/$t.log)" >&2
    exit 1
  fi
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "build-fuzz/logs/$t.log" | grep -oE "[0-9]+$" || echo "?")
  cov=$(grep -oE "cov: [0-9]+" "build-fuzz/logs/$t.log" | tail -1 || echo "cov: ?")
  echo "fuzz: $t ok: $runs inputs, $cov edges, corpus $(ls "$corpus" | wc -l) files"
done
