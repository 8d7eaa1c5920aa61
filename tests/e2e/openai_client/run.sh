#!/usr/bin/env bash
# CTest driver: installs the openai npm client (pinned in package.json) into the build tree, synthesizes a tiny
# model pair, starts `aio serve` on a free loopback port, runs client.mjs against it, and stops the server.
#   run.sh AIO_BINARY WORK_DIR
set -euo pipefail
aio=$(realpath "$1") work=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../npm/driver.sh"
npm_install "$here" openai
cp "$here/client.mjs" "$work/"
tiny_pair_config 512 fasttext
start_server "$work/serve.log"
(cd "$work" && node client.mjs "http://127.0.0.1:$port/v1")
stop_servers
