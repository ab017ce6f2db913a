#!/usr/bin/env bash
# PgBouncer for the test of the services behind a pooler in transaction mode
# (tests/e2e/test_managed_postgres.py; the test starts and stops its own, on free ports).
#   deploy/pgbouncer.sh install
# makes .run/tools/bin/pgbouncer run one: the machine's if it has one; else Debian's package
# unpacked into .run/tools/pgbouncer with the one library it needs that Debian machines
# usually lack (apt-get download + dpkg -x: nothing is installed system-wide); else, as
# root, the package installed with apt-get.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 && $1 == install ]] || { echo "usage: $0 install" >&2; exit 2; }
TOOLS="$RUN/tools"
BIN="$TOOLS/bin/pgbouncer"
UNPACKED="$TOOLS/pgbouncer"
PACKAGES=(pgbouncer libc-ares2)

wrapper() {  # wrapper <command line>: .run/tools/bin/pgbouncer runs it with the arguments given
  mkdir -p "$TOOLS/bin"
  printf '#!/bin/sh\n%s "$@"\n' "$1" >"$BIN.tmp"
  chmod +x "$BIN.tmp"
  mv -f "$BIN.tmp" "$BIN"
}

works() { "$BIN" --version >/dev/null 2>&1; }

unpack() {  # Debian's packages, downloaded by apt and unpacked under .run/tools
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || return 1
  local tmp lib
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  if ! (cd "$tmp" && apt-get download "${PACKAGES[@]}" >/dev/null 2>&1); then
    [[ $EUID -eq 0 ]] || return 1
    log "refreshing apt's package lists"
    apt-get update -qq >&2
    (cd "$tmp" && apt-get download "${PACKAGES[@]}" >&2) || return 1
  fi
  rm -rf "$UNPACKED"
  mkdir -p "$UNPACKED"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$UNPACKED"; done
  lib="$(dirname "$(find "$UNPACKED" -name 'libcares.so*' -print -quit)")"
  wrapper "LD_LIBRARY_PATH='$lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} exec '$UNPACKED/usr/sbin/pgbouncer'"
}

system() {  # the machine's own
  local found
  found="$(command -v pgbouncer || true)"
  [[ -n $found || ! -x /usr/sbin/pgbouncer ]] || found=/usr/sbin/pgbouncer
  [[ -n $found ]] && wrapper "exec '$found'"
}

install_package() {
  [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null || return 1
  log "installing pgbouncer with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >&2
  system
}

if system && works; then exit 0; fi
log "no pgbouncer on this machine; unpacking Debian's into $UNPACKED"
if unpack && works; then exit 0; fi
if install_package && works; then exit 0; fi
rm -f "$BIN"
die "could not provide pgbouncer: install it (e.g. 'apt-get install pgbouncer') and run make test again"
