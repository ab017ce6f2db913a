# shellcheck shell=bash
# Shared helpers for deploy/{postgres,kafka,infra}.sh. Sourced, not executed.
# Sets ROOT (repo root), RUN (.run dir) and, via load_profile, PROFILE, PROFILE_DIR and ports.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
RUN="$ROOT/.run"

log() { echo "[$(basename "$0" .sh)${PROFILE:+:$PROFILE}] $*" >&2; }
die() { log "error: $*"; exit 1; }

# load_profile <profile>: validates it and sets PROFILE, PROFILE_DIR, PG_PORT, KAFKA_PORT, KAFKA_CONTROLLER_PORT.
load_profile() {
  PROFILE="${1:-}"
  case "$PROFILE" in
    dev)  PG_PORT="${HK_PG_PORT:-54329}" KAFKA_PORT="${HK_KAFKA_PORT:-19092}" KAFKA_CONTROLLER_PORT="${HK_KAFKA_CONTROLLER_PORT:-19093}" ;;
    test) PG_PORT="${HK_PG_PORT:-54339}" KAFKA_PORT="${HK_KAFKA_PORT:-19192}" KAFKA_CONTROLLER_PORT="${HK_KAFKA_CONTROLLER_PORT:-19193}" ;;
    *) die "unknown profile '${PROFILE}' (expected: dev or test)" ;;
  esac
  PROFILE_DIR="$RUN/$PROFILE"
  mkdir -p "$PROFILE_DIR"
}

# alive <pid>: the process exists and is not a zombie (killed children of a non-reaping init linger as zombies).
alive() { [[ -r "/proc/$1/status" ]] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }

# port_open <port>: true if something accepts TCP connections on 127.0.0.1:<port>.
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# require_free_port <port> <env var>: fail clearly if the port is taken by someone else.
require_free_port() {
  if port_open "$1"; then
    die "port $1 on 127.0.0.1 is already in use by another process; set $2 to a free port (profile '$PROFILE')"
  fi
}

# lock <file>: serialise concurrent runs for the rest of this script (fd 9; children must close it with 9>&-).
lock() {
  command -v flock >/dev/null || return 0
  exec 9>"$1"
  flock 9
}

# show_log <file>...: print the last 30 lines of each existing, non-empty log.
show_log() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
}
