#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages A-IO builds and tests with, if any are missing.
#   scripts/install-deps.sh           what make, make test and make demo need
#   scripts/install-deps.sh release   also what make image and make install-test need (a Debian root, containers)
# As root it runs apt-get directly, otherwise through sudo; if neither works it prints the command and stops.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache git pkg-config clang libclang-rt-14-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libspdlog-dev libyaml-cpp-dev libfasttext-dev zlib1g-dev
  python3 bubblewrap libseccomp-dev libsystemd-dev libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  help2man               # the man page, from aio --help
  chromium prometheus   # the dashboard and report tests in a real browser; promtool, which checks /metrics
)
if [ "${1:-}" = release ]; then
  packages+=(debootstrap podman buildah runc) # a clean Debian 12 root; the container image, built and run
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Commands that may come from elsewhere than Debian (e.g. a nodesource Node.js ships its own npm): only the command
# matters. npm fetches the pinned sources; python3 runs generated code in the evaluation sandbox.
command -v npm >/dev/null || missing+=(nodejs npm)
command -v python3 >/dev/null || missing+=(python3)
[ ${#missing[@]} -eq 0 ] && exit 0

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
echo "install-deps: missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "install-deps: cannot install as $(id -un) without sudo. Run this, then try again:" >&2
  echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" "${cmd[@]}"
