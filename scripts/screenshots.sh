#!/usr/bin/env bash
# `make screenshots`: draws the pictures the README shows, with the same drivers the browser tests use - the live
# dashboard after two mixed batches of requests on the tiny synthetic pair - and copies them to docs/screenshots/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
work=$build/screenshots
echo "screenshots: the dashboard (aio serve on the tiny pair, chromium) ..."
bash "$root/tests/e2e/dashboard/run.sh" "$build/bin/aio" "$work" >/dev/null
mkdir -p "$root/docs/screenshots"
cp "$work/dashboard-updated.png" "$root/docs/screenshots/dashboard.png"
echo "screenshots: written to docs/screenshots/ (dashboard.png)"
