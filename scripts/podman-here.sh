# Sourced by scripts/install-test.sh: whether podman can run a container on this machine, and how.
#   podman_can_run   true when a container starts; sets podman_reason when none does. On a machine where podman's
#                    defaults fail but a fallback works, it exports CONTAINERS_CONF naming a containers.conf with that
#                    fallback, so every later podman command (the README's too) runs as written.
# The fallback: some virtual machines (seen here: a Firecracker VM) withhold CAP_SYS_RESOURCE, so the OCI runtime
# cannot raise the open-files and processes limits to podman's defaults, and mix cgroup v1 with a v2 hierarchy that
# crun refuses; there runc with the open-files limit the machine already has and a lower processes limit starts them.
# Expects $work and a local image to try (tried with `true`, no network needed).
podman_can_run() {
  local image=${1:-localhost/aio:latest} log="$work/podman-probe.log"
  if podman run --rm --entrypoint true "$image" > "$log" 2>&1; then return 0; fi
  local first; first=$(tail -1 "$log")
  if command -v runc > /dev/null; then
    local conf="$work/containers.conf" nproc=16384
    # Processes (threads) per user: well under the machine's own (seen here: its own 96,369 refused, 20,000 taken).
    [ "$(ulimit -u)" != unlimited ] && [ "$(ulimit -u)" -lt $nproc ] && nproc=$(ulimit -u)
    cat > "$conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -n):$(ulimit -n)", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
    if CONTAINERS_CONF="$conf" podman run --rm --entrypoint true "$image" > "$log" 2>&1; then
      export CONTAINERS_CONF="$conf"
      say "podman: its defaults fail here ($first); using runc with this machine's own limits ($conf)"
      return 0
    fi
  fi
  podman_reason="$first; with runc and this machine's limits: $(tail -1 "$log")"
  return 1
}
