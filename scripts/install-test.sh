#!/usr/bin/env bash
# The release as a user gets it, tested where the build tree does not exist (make install-test; CI runs it):
#   1. the Debian package (make package) is installed with apt into a clean Debian 12 root made by debootstrap (made
#      once, cached in $AIO_CACHE_DIR), which never saw the build: the build tree is not even visible from it;
#   2. there, as the service's user: aio --version, aio serve --small --large on a tiny synthetic pair answering a chat
#      request and /dashboard and draining on SIGTERM, aio score running HumanEval's tests in its sandbox, the
#      packaged /etc/aio/aio.yaml loading, systemd-analyze verify on the unit, and the README's install blocks;
#   3. the container image (scripts/build-image.sh) from that package: started with podman, /health, its health
#      check, a chat request with the API key (and 401 without), models mounted read-only, as a non-root user,
#      stopping on SIGTERM after draining; then the README's container block;
#   4. aio.service under systemd (the root as a container with systemd its init): the README's service block, and
#      readiness - systemctl start returns once the models are loaded - and a stop that drains.
# Needs root (debootstrap, chroot, podman). Prints each step with the seconds since the start.
#   scripts/install-test.sh [--no-container]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${AIO_BUILD_DIR:-$src/build}
cache="${AIO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aio}"
container=1
[ "${1:-}" = "--no-container" ] && container=0
log_name=install-test
source "$src/scripts/debian-root.sh"
as_root "sudo make install-test" "$@"
"$src/scripts/install-deps.sh" release
for c in debootstrap unshare chroot curl; do command -v $c >/dev/null || die "$c is missing: run scripts/install-deps.sh"; done
deb=$(ls -t "$build"/package/aio_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "no package in $build/package: run make package first"
work=$(mktemp -d /tmp/aio-install-test.XXXXXX)
cleanup() {
  [ -n "${ctr_name:-}" ] && podman rm -f "$ctr_name" > /dev/null 2>&1
  [ -n "${sd_name:-}" ] && podman rm -f "$sd_name" > /dev/null 2>&1
  # Nothing stays mounted or running: in_root's namespaces end with each command.
  rm -rf "$work"
}
trap cleanup EXIT
say "package $(basename "$deb"), work in $work"

# --- 1. a clean Debian 12 root, with the package installed -----------------------------------------------------------
root="$work/root"
debian_root "$root"
cp "$deb" "$root/tmp/"
say "installing $(basename "$deb") with apt (its dependencies come from Debian's archive)"
in_root "$root" apt-get install -y -q "/tmp/$(basename "$deb")" > "$work/apt.log" 2>&1 ||
  die "apt-get install failed: $(tail -20 "$work/apt.log")"
grep -E "^(Setting up|Unpacking) aio" "$work/apt.log" | sed 's/^/  /'

# A tiny synthetic pair (made by the build's aio: the root has no means to make models), where /etc/aio/aio.yaml
# expects models, and HumanEval's sample for aio score.
for pair in "small tiny-small 1" "large tiny-large 2"; do
  set -- $pair
  "$build/bin/aio" synth --preset "$2" --type q8_0 --seed "$3" -o "$work/$1.gguf" > /dev/null 2>&1
  install -m 0644 "$work/$1.gguf" "$root/var/lib/aio/models/$1.gguf"
done
cp "$src/data/sample/HumanEval.jsonl" "$root/tmp/HumanEval.jsonl"
cp "$src/scripts/install-test-in-root.sh" "$root/tmp/checks.sh"

# --- 2. what the package does, run inside the root -------------------------------------------------------------------
say "checks inside the root (as the aio user where the service would run)"
in_root "$root" env AIO_BUILD_TREE="$build" AIO_SOURCE_TREE="$src" bash /tmp/checks.sh 2>&1 | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "a check inside the root failed (above)"

say "systemd-analyze verify on the installed unit"
verify_unit "$root" || die "systemd-analyze verify found problems (above)"

say "the README's install blocks, in the root"
python3 "$src/tests/docs/run_doc_blocks.py" --source "$src" --extract root > "$root/tmp/readme-root.sh" ||
  die "the README has no <!-- install-test: root --> block"
cp "$deb" "$root/root/"
# In a session of their own, so what a block leaves running (a server) is stopped with it; five minutes at most.
in_root "$root" bash -c 'cd /root; setsid bash -e /tmp/readme-root.sh & pid=$!
  (sleep 300; kill -KILL -- -$pid) 2> /dev/null & dog=$!
  wait $pid; rc=$?; kill -TERM -- -$pid 2> /dev/null; kill $dog 2> /dev/null; sleep 2; exit $rc' \
  > "$work/readme-root.log" 2>&1 || die "a README install block failed: $(tail -30 "$work/readme-root.log")"
say "  README install blocks ran ($(grep -c '^# block' "$root/tmp/readme-root.sh") blocks)"

# --- 4. the service under systemd -------------------------------------------------------------------------------------
# systemd as the init of a container made from the root above (which has the package, and systemd since verify_unit):
# the README's service block, then readiness (when systemctl start returns, /health answers 200 and the unit's status
# is the one aio sends with READY=1) and a stop that drains. The journal's order of aio's ready line and systemd's
# "Started" is not checked: journald reads the two from different sockets and may interleave them either way.
service_test() {
  say "service: aio.service under systemd (the root above as a container, systemd its init)"
  cp "$work/small.gguf" "$work/large.gguf" "$root/root/"
  rm -f "$root"/var/lib/aio/models/*.gguf # the README's block puts them there
  python3 "$src/tests/docs/run_doc_blocks.py" --source "$src" --extract service > "$root/root/readme-service.sh" ||
    die "the README has no <!-- install-test: service --> block"
  tar -C "$root" -cf "$work/systemd-root.tar" .
  podman import --quiet --change 'CMD ["/lib/systemd/systemd"]' "$work/systemd-root.tar" localhost/aio-systemd-test > /dev/null
  sd_name=aio-systemd-test-$$
  podman run -d --name "$sd_name" --systemd=always localhost/aio-systemd-test > /dev/null 2>> "$work/podman.log" ||
    die "systemd did not start in a container: $(tail -3 "$work/podman.log")"
  local state=""
  for _ in $(seq 60); do
    state=$(podman exec "$sd_name" systemctl is-system-running 2> /dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 1
  done
  case "$state" in running | degraded) ;; *) die "systemd in the container never came up (state '$state')" ;; esac
  podman exec "$sd_name" bash -c 'cd /root && bash -e readme-service.sh' > "$work/readme-service.log" 2>&1 ||
    die "the README's service block failed: $(tail -20 "$work/readme-service.log")"
  say "  the README's service block ran: $(grep -E '^(active|\{)' "$work/readme-service.log" | head -2 | cut -c1-80 | tr '\n' ' ')"
  podman exec "$sd_name" bash -c 'systemctl start aio && systemctl show -p StatusText --value aio &&
    curl -fsS localhost:8080/health' > "$work/ready.log" 2>&1 ||
    die "/health did not answer 200 as soon as systemctl start returned: $(cat "$work/ready.log")"
  # aio sends "serving on" in the same message as READY=1: seen here, systemd held start until the models were loaded.
  grep -q "^serving on " "$work/ready.log" ||
    die "systemd did not wait for aio's READY=1 (status when start returned: $(head -1 "$work/ready.log"))"
  podman exec "$sd_name" systemctl stop aio
  podman exec "$sd_name" journalctl -u aio -o cat --no-pager > "$work/journal.log" 2>&1
  grep -q "aio serve: ready" "$work/journal.log" ||
    die "aio's ready line is not in the journal: $(cat "$work/journal.log")"
  grep -q "aio.service: Deactivated successfully" "$work/journal.log" ||
    die "the service did not stop cleanly: $(tail -5 "$work/journal.log")"
  say "  readiness: systemctl start returned with the models loaded (status 'serving on', /health 200);" \
    "stop drained and exited 0"
  podman rm -f "$sd_name" > /dev/null 2>&1
  sd_name=""
  podman rmi -f localhost/aio-systemd-test > /dev/null 2>&1 || true
}

# --- 3. the container image ------------------------------------------------------------------------------------------
if [ $container -eq 0 ]; then
  say "container: skipped (--no-container)"
elif ! command -v podman >/dev/null || ! command -v buildah >/dev/null; then
  die "podman and buildah are needed for the container part (scripts/install-deps.sh), or pass --no-container"
else
  source "$src/scripts/podman-here.sh"
  "$src/scripts/build-image.sh" --deb "$deb" --tag localhost/aio:test 2>&1 | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || die "building the image failed (above)"
  if ! podman_can_run; then
    say "container: the image is built, but this machine cannot run containers: $podman_reason"
  else
    say "container: podman run (models read-only, API key from the environment, non-root)"
    ctr_name=aio-install-test-$$
    port=$((18000 + RANDOM % 1000))
    # (Without systemd on the host, podman logs that it cannot schedule the health check's timer: podman.log.)
    podman run -d --name "$ctr_name" -p "127.0.0.1:$port:8080" \
      -v "$root/var/lib/aio/models:/var/lib/aio/models:ro" -e AIO_API_KEY=test-key localhost/aio:test > /dev/null \
      2>> "$work/podman.log" || die "podman run failed: $(tail -3 "$work/podman.log")"
    ok=0
    for _ in $(seq 120); do
      curl -fsS "http://127.0.0.1:$port/health" > /dev/null 2>&1 && { ok=1; break; }
      sleep 1
    done
    [ $ok -eq 1 ] || die "the container never answered /health: $(podman logs "$ctr_name" 2>&1 | tail -20)"
    [ "$(podman exec "$ctr_name" id -un)" = aio ] || die "the container does not run as the aio user"
    podman healthcheck run "$ctr_name" > /dev/null || die "the image's health check fails on a healthy server"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/models")
    [ "$code" = 401 ] || die "/v1/models without the API key answered $code, not 401"
    curl -fsS "http://127.0.0.1:$port/v1/chat/completions" -H "Authorization: Bearer test-key" \
      -H 'Content-Type: application/json' \
      -d '{"model": "aio", "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 8}' \
      > "$work/container-chat.json" || die "the container's chat request failed"
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["choices"][0]["message"]["role"] == "assistant"' \
      "$work/container-chat.json" || die "the container's chat answer is not an OpenAI chat completion"
    podman exec "$ctr_name" sh -c 'touch /var/lib/aio/models/x' 2>/dev/null && die "the models are writable in the container"
    say "container: podman stop (SIGTERM; running requests drain)"
    podman stop -t 30 "$ctr_name" > /dev/null 2>> "$work/podman.log"
    rc=$(podman inspect "$ctr_name" --format '{{.State.ExitCode}}')
    podman logs "$ctr_name" 2>&1 | grep -q "aio serve: stopped" || die "no clean stop in the logs: $(podman logs "$ctr_name" 2>&1 | tail -5)"
    [ "$rc" = 0 ] || die "the container exited with $rc after SIGTERM, not 0"
    podman rm "$ctr_name" > /dev/null 2>> "$work/podman.log"
    ctr_name=

    say "container: the README's container block"
    python3 "$src/tests/docs/run_doc_blocks.py" --source "$src" --extract container > "$work/readme-container.sh" ||
      die "the README has no <!-- install-test: container --> block"
    mkdir -p "$work/readme/models"
    cp "$work/small.gguf" "$work/large.gguf" "$work/readme/models/"
    (cd "$work/readme" && timeout 300 bash -e "$work/readme-container.sh") > "$work/readme-container.log" 2>&1 ||
      { podman rm -f aio > /dev/null 2>&1; die "the README's container block failed: $(tail -30 "$work/readme-container.log")"; }
    podman rm -f aio > /dev/null 2>&1 || true
    service_test
  fi
  podman rmi -f localhost/aio:test > /dev/null 2>&1 || true
fi
say "passed"
