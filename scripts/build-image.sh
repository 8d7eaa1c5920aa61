#!/usr/bin/env bash
# The A-IO container image (make image), built from the Debian package on a Debian 12 root made here - no registry is
# pulled from: debootstrap's minbase (scripts/debian-root.sh), the package installed with apt, apt's caches dropped,
# imported with buildah as localhost/aio:<version> and localhost/aio:latest.
# The image: runs `aio serve --config /etc/aio/aio.yaml --host 0.0.0.0 --port 8080` as the non-root user aio; models
# are mounted at /var/lib/aio/models (read-only is enough), the config can be replaced by a volume at /etc/aio or a
# different command (aio serve --small ... --large ...); the API key comes from AIO_API_KEY (the server refuses to
# listen beyond loopback without one); a health check asks /health; SIGTERM finishes running requests, then stops.
#   scripts/build-image.sh [--deb FILE] [--tag NAME]   (needs root, debootstrap and buildah)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${AIO_BUILD_DIR:-$src/build}
cache="${AIO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aio}"
log_name=build-image
source "$src/scripts/debian-root.sh"
as_root "sudo make image" "$@"
deb="" tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "usage: $0 [--deb FILE] [--tag NAME]" >&2; exit 2 ;;
  esac
done
"$src/scripts/install-deps.sh" release
[ -n "$deb" ] || deb=$(ls -t "$build"/package/aio_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && [ -f "$deb" ] || die "no package: run make package first (or pass --deb FILE)"
version=$(dpkg-deb -f "$deb" Version)
work=$(mktemp -d /tmp/aio-image.XXXXXX)
ctr=""
trap '[ -n "$ctr" ] && buildah rm "$ctr" > /dev/null 2>&1; rm -rf "$work"' EXIT

root="$work/root"
debian_root "$root"
cp "$deb" "$root/tmp/aio.deb"
say "installing $(basename "$deb") into the image's root"
in_root "$root" apt-get install -y -q /tmp/aio.deb > "$work/apt.log" 2>&1 || die "apt-get install failed: $(tail -20 "$work/apt.log")"
# What a running container never needs: apt's lists and archives, the package file, docs beyond the copyright.
in_root "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root/tmp/aio.deb" "$root/etc/resolv.conf"
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -path '*/aio/*' -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -cf "$work/rootfs.tar" .
say "root filesystem: $(du -sh "$work/rootfs.tar" | cut -f1)"

# Docker's image format throughout: podman and Docker both honour its HEALTHCHECK (the OCI format has none).
export BUILDAH_FORMAT=docker
ctr=$(buildah from scratch)
buildah add "$ctr" "$work/rootfs.tar" / > /dev/null
buildah config \
  --user aio --workingdir /var/lib/aio --port 8080 \
  --entrypoint '["/usr/bin/aio"]' \
  --cmd '["serve", "--config", "/etc/aio/aio.yaml", "--host", "0.0.0.0", "--port", "8080"]' \
  --volume /var/lib/aio/models \
  --stop-signal SIGTERM \
  --healthcheck 'CMD curl -fsS http://127.0.0.1:8080/health || exit 1' \
  --healthcheck-interval 30s --healthcheck-timeout 5s --healthcheck-start-period 10m --healthcheck-retries 3 \
  --label org.opencontainers.image.title=aio \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.description="A-IO: request-aware LLM serving over co-resident models" \
  "$ctr"
tags=("localhost/aio:$version" "localhost/aio:latest")
[ -n "$tag" ] && tags+=("$tag")
buildah commit --quiet --format docker --rm "$ctr" "${tags[0]}" > /dev/null
ctr=""
for t in "${tags[@]:1}"; do buildah tag "${tags[0]}" "$t"; done
say "built ${tags[*]} ($(podman image inspect "${tags[0]}" --format '{{.Size}}' 2>/dev/null | awk '{printf "%.0f MB", $1/1e6}'))"
