#!/usr/bin/env bash
# enter-root.sh ROOT CWD CMD...  — run CMD inside the Debian 13 ROOT, in directory CWD.
#
# Must run in a private mount namespace (./dev calls it through `unshare -m`), so every
# mount below belongs to this call alone and vanishes when its last process exits:
# concurrent calls never share or tear down each other's mounts.
set -euo pipefail
root="$1"; cwd="$2"; shift 2
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bind() {  # bind SRC into the root at the same path; -r for recursive
  local flag=--bind; [ "$1" = -r ] && { flag=--rbind; shift; }
  local src="$1" dst="$root$1"
  [ -e "$src" ] || return 0
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : >"$dst"; fi
  mount "$flag" "$src" "$dst"
}

# Home first and non-recursive: the root itself usually lives under it.
[ -n "${HOME:-}" ] && [ "$HOME" != / ] && bind "$HOME"
mount -t proc proc "$root/proc"
bind -r /dev
bind -r /sys
bind /tmp
bind "$(dirname "$repo")"
[ "$cwd" != / ] && bind "$cwd"
bind /etc/resolv.conf
bind /etc/hosts
# The host's CA bundle (registry traffic may pass a proxy with its own CA). Not while
# apt configures ca-certificates in the root: it rewrites that file in place.
[ -n "${TASTEBUD_NO_CA_BIND:-}" ] || bind "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
exec chroot "$root" /bin/sh -c 'cd "$1" 2>/dev/null || cd /; shift; exec "$@"' enter-root "$cwd" "$@"
