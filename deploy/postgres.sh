#!/usr/bin/env bash
# Local PostgreSQL server for a profile (data in .run/<profile>/pg, socket + log in .run/<profile>/pg-run).
#   deploy/postgres.sh start|stop|status dev|test
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 start|stop|status dev|test" >&2; exit 2; }
CMD=$1
load_profile "$2"
PGDATA="$PROFILE_DIR/pg"
PGRUN="$PROFILE_DIR/pg-run"
PGLOG="$PGRUN/postgres.log"
PGUSER_OS=""   # OS user the server runs as when we are root (PostgreSQL refuses to run as root)

# find_pgbin: directory of pg_ctl on PATH, else the highest /usr/lib/postgresql/*/bin.
find_pgbin() {
  local p
  if p="$(command -v pg_ctl)"; then dirname "$(readlink -f "$p")"; return 0; fi
  p="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [[ -x "$p/pg_ctl" ]] && echo "$p"
}

resolve_pgbin() {  # [install]: sets PGBIN; with "install", apt-get installs PostgreSQL when root and missing
  PGBIN="$(find_pgbin || true)"
  if [[ -z "$PGBIN" && "${1:-}" == install && $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    log "PostgreSQL not found; installing it with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    PGBIN="$(find_pgbin || true)"
  fi
  [[ -n "$PGBIN" ]] || die "PostgreSQL not found (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin); install it (e.g. 'apt-get install postgresql') or set DATABASE_URL"
}

tool() { if [[ -x "$PGBIN/$1" ]]; then echo "$PGBIN/$1"; else command -v "$1" || die "$1 not found"; fi; }

pick_user() {  # [create]: as root, run the server as the data dir's owner, else postgres, else huikuan-pg
  [[ $EUID -eq 0 ]] || return 0
  if [[ -d "$PGDATA" && "$(stat -c %U "$PGDATA")" != root ]]; then PGUSER_OS="$(stat -c %U "$PGDATA")"
  elif id postgres >/dev/null 2>&1; then PGUSER_OS=postgres
  else
    PGUSER_OS=huikuan-pg
    if ! id "$PGUSER_OS" >/dev/null 2>&1 && [[ "${1:-}" == create ]]; then
      log "creating system user $PGUSER_OS"
      useradd --system --no-create-home "$PGUSER_OS"
    fi
  fi
}

as_pg() { if [[ -n "$PGUSER_OS" ]]; then (cd / && runuser -u "$PGUSER_OS" -- "$@"); else "$@"; fi; }

running_pid() { head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null; }
running_port() { sed -n 4p "$PGDATA/postmaster.pid"; }   # line 4 of postmaster.pid is the port
running() {
  local pid
  pid="$(running_pid)" && [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" \
    && as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

# Lock files left by a dead server (crash, kill -9) are normally ignored by postgres, but not while the dead
# postmaster is an unreaped zombie. Remove them once no live process works in the data dir any more.
clear_stale_pidfile() {
  [[ -f "$PGDATA/postmaster.pid" ]] || compgen -G "$PGRUN/.s.PGSQL.*.lock" >/dev/null || return 0
  local d deadline=$((SECONDS + 15))
  for d in /proc/[0-9]*; do
    while [[ "$(readlink "$d/cwd" 2>/dev/null)" == "$PGDATA" ]] && alive "${d#/proc/}"; do
      (( SECONDS < deadline )) || die "processes of a crashed server still use $PGDATA (e.g. pid ${d#/proc/}); stop them first"
      sleep 0.5
    done
  done
  log "removing stale lock files of a previous server"
  rm -f "$PGDATA/postmaster.pid" "$PGRUN"/.s.PGSQL.*
}

write_conf() {
  local sock="$PGRUN"
  (( ${#sock} + 25 < 107 )) || sock=""   # unix socket paths are limited to ~107 bytes: TCP only then
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PG_PORT"
    echo "unix_socket_directories = '$sock'"
    echo "max_connections = 300"
    echo "shared_buffers = 256MB"
    if [[ $PROFILE == test ]]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >"$PGDATA/huikuan.conf"
  [[ -z "$PGUSER_OS" ]] || chown "$PGUSER_OS:" "$PGDATA/huikuan.conf"
}

wait_ready() {
  local deadline=$((SECONDS + 30))
  until "$(tool pg_isready)" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; do
    if (( SECONDS >= deadline )) || ! running; then show_log "$PGLOG"; die "PostgreSQL is not accepting connections on port $PG_PORT"; fi
    sleep 0.3
  done
}

ensure_db() {
  local psql=("$(tool psql)" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if [[ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'huikuan'")" != 1 ]]; then
    log "creating database huikuan"
    "${psql[@]}" -c "CREATE DATABASE huikuan"
  fi
}

start() {
  resolve_pgbin install
  pick_user create
  if running; then
    [[ "$(running_port)" == "$PG_PORT" ]] || die "already running on port $(running_port), not $PG_PORT; run '$0 stop $PROFILE' first"
    log "already running on 127.0.0.1:$PG_PORT"
  else
    require_free_port "$PG_PORT" HK_PG_PORT
    clear_stale_pidfile
    mkdir -p "$PGDATA" "$PGRUN"
    chmod 700 "$PGDATA"
    if [[ -n "$PGUSER_OS" ]]; then
      chown "$PGUSER_OS:" "$PGDATA" "$PGRUN"
      if ! as_pg test -w "$PGRUN"; then
        # A checkout under a private home (e.g. /root, mode 700): let the server user pass through.
        local d="$PROFILE_DIR"
        while [[ "$d" != / ]]; do
          d="$(dirname "$d")"
          as_pg test -x "$d" || { log "granting search permission (o+x) on $d to user $PGUSER_OS"; chmod o+x "$d"; }
        done
      fi
      as_pg test -w "$PGRUN" || die "user $PGUSER_OS cannot reach $PGRUN (a parent directory is not searchable by others); move the checkout, 'chmod o+x' its parents, or set DATABASE_URL"
    fi
    # The include line is appended only after a successful initdb, so it marks a complete cluster.
    if ! grep -qs "^include_if_exists = 'huikuan.conf'" "$PGDATA/postgresql.conf"; then
      log "initdb $PGDATA"
      find "$PGDATA" -mindepth 1 -delete
      as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C >"$PGRUN/initdb.log" 2>&1 \
        || { show_log "$PGRUN/initdb.log"; die "initdb failed"; }
      echo "include_if_exists = 'huikuan.conf'" >>"$PGDATA/postgresql.conf"
    fi
    write_conf
    log "starting on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$PGLOG" -w -t 30 -s 9>&- \
      || { show_log "$PGLOG"; die "PostgreSQL did not start (log: $PGLOG)"; }
  fi
  wait_ready
  ensure_db
}

stop() {
  if [[ ! -f "$PGDATA/postmaster.pid" ]]; then log "not running"; return 0; fi
  resolve_pgbin
  pick_user
  if running; then
    log "stopping"
    as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 -s
  else
    log "not running"
  fi
}

status() {
  if [[ -f "$PGDATA/postmaster.pid" ]]; then resolve_pgbin; pick_user; fi
  if [[ -f "$PGDATA/postmaster.pid" ]] && running; then
    echo "postgres[$PROFILE]: running on 127.0.0.1:$(running_port) (pid $(running_pid), data $PGDATA)"
  else
    echo "postgres[$PROFILE]: stopped"
    return 3
  fi
}

case "$CMD" in
  start) lock "$PROFILE_DIR/.pg.lock"; start ;;
  stop) lock "$PROFILE_DIR/.pg.lock"; stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status dev|test" >&2; exit 2 ;;
esac
