# Sourced by scripts/install-test.sh and scripts/build-image.sh: a clean Debian 12 root and running commands in it.
#   debian_root DIR      DIR becomes a fresh minimal Debian 12 (bookworm) root: debootstrap's minbase, made once and
#                        cached as a tarball in $cache, then unpacked (seconds); apt's lists are fresh
#   in_root DIR CMD...   runs CMD with DIR as its root, /dev, /sys and a /proc of its own mounted, in private mount and
#                        PID namespaces: the mounts vanish with it, and whatever it leaves running is killed when it
#                        ends. The host's network and DNS. DIR becomes the root with pivot_root, not chroot: the
#                        kernel refuses user namespaces to a chrooted process, and aio's sandbox (bubblewrap) needs one
#   verify_unit DIR      systemd-analyze verify on DIR's installed aio.service (systemd installed into DIR for it)
#   say MSG / die MSG    progress and failure lines, "[$log_name SECONDS] MSG" (seconds since the script started)
#   as_root HOW ARGS...  unless root: re-runs the calling script with ARGS through sudo when sudo needs no password,
#                        else dies saying it needs root and HOW to run it
# Expects $log_name; $cache and $work before debian_root, in_root or verify_unit are used.

t0=${t0:-$SECONDS}
say() { printf '[%s %4ds] %s\n' "$log_name" $((SECONDS - t0)) "$*"; }
die() { say "FAILED: $*"; exit 1; }
as_root() {
  local how=$1
  shift
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo > /dev/null && sudo -n true 2> /dev/null && exec sudo -n -E "$0" "$@"
  die "needs root (debootstrap, namespaces, buildah/podman): run it as root, e.g. $how"
}

debian_mirror() { # the host's own Debian mirror (its apt sources), else deb.debian.org
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v -- '-security' | head -1 | awk '{print $2}')
  echo "${uri:-http://deb.debian.org/debian}"
}

debian_root() {
  local dir=$1 base="$cache/debian12-minbase.tar"
  mkdir -p "$cache"
  if [ ! -f "$base" ]; then
    local mirror tmp="$work/debootstrap"
    mirror=$(debian_mirror)
    say "making a clean Debian 12 root with debootstrap from $mirror (once: cached as $base)"
    debootstrap --variant=minbase bookworm "$tmp" "$mirror" > "$work/debootstrap.log" 2>&1 ||
      die "debootstrap failed: $(tail -5 "$work/debootstrap.log")"
    rm -rf "$tmp"/var/cache/apt/archives/*.deb
    tar -C "$tmp" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    rm -rf "$tmp"
  fi
  mkdir -p "$dir"
  tar -C "$dir" -xf "$base"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  # The archive's security updates too, as on any installed Debian 12.
  local mirror
  mirror=$(grep -oE 'https?://[^ ]+' "$dir/etc/apt/sources.list" | head -1)
  echo "deb ${mirror%/debian}/debian-security bookworm-security main" > "$dir/etc/apt/sources.list.d/security.list"
  in_root "$dir" apt-get update -q > "$work/apt-update.log" 2>&1 || die "apt-get update in the root failed: $(tail -5 "$work/apt-update.log")"
}

in_root() {
  local dir=$1
  shift
  unshare --mount --pid --fork -- bash -c '
    set -e
    d=$1; shift
    mount --bind "$d" "$d"
    mount --rbind /dev "$d/dev"; mount --make-rslave "$d/dev"
    mount --rbind /sys "$d/sys"; mount --make-rslave "$d/sys"
    mkdir -p "$d/.host"
    cd "$d"
    pivot_root . .host
    mount -t proc proc /proc
    umount -l /.host
    rmdir /.host
    exec "$@"' in_root "$dir" "$@"
}

verify_unit() {
  local dir=$1
  in_root "$dir" apt-get install -y -q --no-install-recommends systemd man-db > "$work/apt-systemd.log" 2>&1 ||
    die "installing systemd into the root failed: $(tail -5 "$work/apt-systemd.log")"
  # man-db's index, so the unit's Documentation=man:aio(1) is checked too.
  in_root "$dir" mandb -q > /dev/null 2>&1 || true
  in_root "$dir" systemd-analyze verify /usr/lib/systemd/system/aio.service 2>&1 | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  say "  systemd-analyze verify: no problems; exposure by systemd-analyze security: $(in_root "$dir" env SYSTEMD_COLORS=0 SYSTEMD_URLIFY=0 systemd-analyze security --offline=yes /usr/lib/systemd/system/aio.service 2>/dev/null | tail -1 | sed 's/^→ //')"
}
