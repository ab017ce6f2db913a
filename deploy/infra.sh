#!/usr/bin/env bash
# Local infrastructure (PostgreSQL + Kafka) for a profile; `dev` is used by `make run`, `test` by `make test`.
#   deploy/infra.sh up|down|status dev|test
# `up` starts what DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS do not already provide, then writes
# .run/<profile>/infra.env (DATABASE_URL=... and KAFKA_BOOTSTRAP_SERVERS=...) and prints it to stdout.
# `down` stops only the servers these scripts started for the profile.
set -euo pipefail
DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/lib.sh
source "$DEPLOY/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 up|down|status dev|test" >&2; exit 2; }
CMD=$1
load_profile "$2"
ENV_FILE="$PROFILE_DIR/infra.env"

run_all() {  # run_all <start|stop> <component>...: in parallel; fails if any failed
  local cmd=$1 rc=0 pids=() c p
  shift
  for c in "$@"; do "$DEPLOY/$c.sh" "$cmd" "$PROFILE" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return "$rc"
}

up() {
  local need=()
  rm -f "$ENV_FILE"
  if [[ -n "${DATABASE_URL:-}" ]]; then log "using DATABASE_URL from the environment"; else need+=(postgres); fi
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then log "using KAFKA_BOOTSTRAP_SERVERS from the environment"; else need+=(kafka); fi
  if (( ${#need[@]} )); then
    run_all start "${need[@]}" || die "infrastructure for profile '$PROFILE' did not come up (see messages above)"
  fi
  printf 'DATABASE_URL=%s\nKAFKA_BOOTSTRAP_SERVERS=%s\n' \
    "${DATABASE_URL:-postgresql://postgres@127.0.0.1:$PG_PORT/huikuan}" \
    "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}" >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  cat "$ENV_FILE"
}

status() {
  local rc=0
  if [[ -n "${DATABASE_URL:-}" ]]; then echo "postgres[$PROFILE]: external (DATABASE_URL)"; else "$DEPLOY/postgres.sh" status "$PROFILE" || rc=$?; fi
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then echo "kafka[$PROFILE]: external (KAFKA_BOOTSTRAP_SERVERS)"; else "$DEPLOY/kafka.sh" status "$PROFILE" || rc=$?; fi
  return "$rc"
}

case "$CMD" in
  up) up ;;
  down) run_all stop kafka postgres ;;
  status) status ;;
  *) echo "usage: $0 up|down|status dev|test" >&2; exit 2 ;;
esac
