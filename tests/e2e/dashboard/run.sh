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

# A fourth category, chat: a probe trained with `aio probe train` on the project's labelled prompts and a few chat
# requests, a config naming it and a policy rule for it; the page must carry it (categories.mjs).
for topic in "the ocean" "my grandmother" "autumn leaves" "a lost cat" "friendship" "rainy Sundays" "the moon" \
             "an old bicycle" "a lighthouse keeper" "the first snow"; do
  for ask in "Write a short poem about $topic." "Tell me a bedtime story about $topic." \
             "Can we just chat about $topic for a while?" "Compose a haiku about $topic."; do
    printf '{"text": "%s", "label": "chat"}\n' "$ask"
  done
done > "$work/chat.jsonl"
"$aio" probe train --data "$here/../../../data/calibration.jsonl" --data "$work/chat.jsonl" \
  --categories code,qa,math,chat -o "$work/probe4.bin" >"$work/probe4.log" 2>&1 ||
  { echo "aio probe train failed:" >&2; cat "$work/probe4.log" >&2; exit 1; }
cat > "$work/aio.yaml" <<YAML
categories: [code, qa, math, chat]
models:
  small: {path: small.gguf, n_ctx: 1024}
  large: {path: large.gguf, n_ctx: 1024}
probe: {kind: fasttext, fasttext_model: probe4.bin, labels: {code: " code", qa: " qa", math: " math", chat: " chat"}}
threads: 1
policy: chat-aware
policies:
  chat-aware:
    vars: {tau: 1.0}
    rules:
      - {when: {category: chat}, route: {model: small, strategy: plain}, reason: chat -> small model}
      - {when: {category: code, entropy_le: tau}, route: {model: small, strategy: plain}}
      - {when: {category: [qa, math]}, route: {model: large, strategy: pld}}
      - {route: {model: large, strategy: plain}}
YAML
start_server "$work/serve-four.log"
cp "$here/categories.mjs" "$work/"
(cd "$work" && CHROMIUM="$chromium" node categories.mjs "http://127.0.0.1:$port" "$work")
stop_servers

# Load decided a route: a policy that sends questions to the small model while the large model's only slot is busy;
# the page must count it and say whose load decided it (load.mjs).
tiny_pair_config 4096 fasttext
cat >> "$work/aio.yaml" <<YAML
policy: shed
policies:
  shed:
    rules:
      - when: {category: [qa, math], load: {model: large, wait_ms_gt: 0}}
        route: {model: small, strategy: plain}
        reason: the large model is busy -> small model
      - {when: {category: [qa, math]}, route: {model: large, strategy: pld}}
      - {route: {model: large, strategy: plain}}
YAML
start_server "$work/serve-load.log" --slots 1
cp "$here/load.mjs" "$work/"
(cd "$work" && CHROMIUM="$chromium" node load.mjs "http://127.0.0.1:$port" "$work")
stop_servers
