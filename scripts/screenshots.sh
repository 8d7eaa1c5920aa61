#!/usr/bin/env bash
# `make screenshots`: draws the pictures the README and docs/ show, with the same driver the browser tests use - the live
# dashboard after two mixed batches of requests on the tiny synthetic pair, and the report of a small Scenario A run -
# and copies them to docs/screenshots/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
work=$build/screenshots
echo "screenshots: the dashboard and the report (aio serve, aio bench and aio report on the tiny pair; chromium) ..."
bash "$root/tests/e2e/dashboard/run.sh" "$build/bin/aio" "$work" >/dev/null
mkdir -p "$root/docs/screenshots"
cp "$work/dashboard-updated.png" "$root/docs/screenshots/dashboard.png"
cp "$work/report.png" "$root/docs/screenshots/report.png"
echo "screenshots: written to docs/screenshots/ (dashboard.png, report.png)"
