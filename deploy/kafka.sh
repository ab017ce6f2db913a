#!/usr/bin/env bash
# Local single-node Apache Kafka broker in KRaft mode for a profile (config, data, logs in .run/<profile>/kafka).
# Jars come from Maven Central via deploy/kafka/pom.xml, cached once in .run/kafka-libs/<version>/.
#   deploy/kafka.sh start|stop|status dev|test
#   deploy/kafka.sh libs    resolve the jars if needed and print their directory (for brokers
#                           started by other tools, e.g. huikuan_dev.secure_kafka in tests)
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USAGE="usage: $0 start|stop|status dev|test, or $0 libs"
CMD=${1:-}
if [[ $CMD == libs ]]; then
  [[ $# -eq 1 ]] || { echo "$USAGE" >&2; exit 2; }
else
  [[ $# -eq 2 ]] || { echo "$USAGE" >&2; exit 2; }
  load_profile "$2"
fi
POM="$ROOT/deploy/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"
LIBS="$RUN/kafka-libs/$KAFKA_VERSION"
KDIR="${PROFILE_DIR:-}/kafka"
PIDFILE="$KDIR/kafka.pid"
LOG="$KDIR/logs/server.log"
OUT="$KDIR/logs/kafka.out"   # JVM stdout/stderr (crashes before log4j is up)

ours() {  # ours <pid>: true if <pid> is this profile's broker (guards against stale pids / pid reuse)
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ $cmdline == *"kafka.Kafka $KDIR/server.properties"* ]]
}
running_pid() { local pid; pid="$(cat "$PIDFILE" 2>/dev/null)" && [[ $pid =~ ^[0-9]+$ ]] && ours "$pid" && echo "$pid"; }
running_port() { sed -n 's|^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*|\1|p' "$KDIR/server.properties"; }

check_java() {
  command -v java >/dev/null || die "java not found; install a JDK 17+ (e.g. 'apt-get install openjdk-17-jdk-headless') or set KAFKA_BOOTSTRAP_SERVERS"
  local v major
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p')"   # "17.0.15", "21", "1.8.0_292"
  major="${v%%[!0-9]*}"
  (( ${major:-0} >= 17 )) || die "java ${v:-(unknown version)} is too old; Kafka needs a JDK 17+ on PATH (or set KAFKA_BOOTSTRAP_SERVERS)"
}

fetch_libs() {  # resolve the jars once; the marker file is written only after a complete copy
  [[ -f "$LIBS/.complete" ]] && return 0
  mkdir -p "$RUN/kafka-libs"
  exec 8>"$RUN/kafka-libs/.lock"   # shared by both profiles
  if command -v flock >/dev/null; then flock 8; fi
  if [[ ! -f "$LIBS/.complete" ]]; then
    command -v mvn >/dev/null || die "mvn not found; install Maven (e.g. 'apt-get install maven') or set KAFKA_BOOTSTRAP_SERVERS"
    log "resolving Kafka $KAFKA_VERSION jars with Maven (first run only)"
    rm -rf "$LIBS"
    mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime \
      >"$RUN/kafka-libs/mvn.log" 2>&1 </dev/null \
      || { show_log "$RUN/kafka-libs/mvn.log"; die "Maven could not resolve the Kafka jars (network? see $RUN/kafka-libs/mvn.log)"; }
    touch "$LIBS/.complete"
  fi
  exec 8>&-
}

write_config() {
  mkdir -p "$KDIR/logs"
  cat >"$KDIR/server.properties" <<EOF
# Written by deploy/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
auto.create.topics.enable=false
num.partitions=6
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$KDIR/log4j.properties" <<EOF
# reload4j (log4j 1.2 syntax); written by deploy/kafka.sh.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

kjava() { java -Dkafka.logs.dir="$KDIR/logs" -Dlog4j.configuration="file:$KDIR/log4j.properties" -cp "$LIBS/*" "$@"; }

format_storage() {  # only when meta.properties is missing (first start, or an interrupted format)
  [[ -f "$KDIR/data/meta.properties" ]] && return 0
  rm -rf "$KDIR/data"
  local id
  id="$(kjava -Xmx256m kafka.tools.StorageTool random-uuid)"
  log "formatting KRaft storage (cluster id $id)"
  kjava -Xmx256m kafka.tools.StorageTool format -t "$id" -c "$KDIR/server.properties" >&2 9>&-
}

wait_ready() {  # wait_ready <pid> <need-log-line>
  local deadline=$((SECONDS + 90))
  until port_open "$KAFKA_PORT" && { [[ $2 == no ]] || grep -qs "Kafka Server started" "$LOG"; }; do
    ours "$1" || { show_log "$LOG" "$OUT"; die "Kafka exited during startup (logs: $KDIR/logs)"; }
    (( SECONDS < deadline )) || { show_log "$LOG" "$OUT"; die "Kafka did not start within 90 s (logs: $KDIR/logs)"; }
    sleep 0.5
  done
}

start() {
  local pid
  if pid="$(running_pid)"; then
    [[ "$(running_port)" == "$KAFKA_PORT" ]] || die "already running on port $(running_port), not $KAFKA_PORT; run '$0 stop $PROFILE' first"
    log "already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    wait_ready "$pid" no
    return 0
  fi
  require_free_port "$KAFKA_PORT" HK_KAFKA_PORT
  require_free_port "$KAFKA_CONTROLLER_PORT" HK_KAFKA_CONTROLLER_PORT
  check_java
  fetch_libs
  write_config
  [[ ! -f "$LOG" ]] || mv -f "$LOG" "$LOG.prev"   # a fresh log per start, so the "started" line is this run's
  format_storage
  log "starting on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
  local detach=()
  if command -v setsid >/dev/null; then detach=(setsid); fi   # survive Ctrl-C / hangup of the caller
  "${detach[@]}" java -Xms256m -Xmx1g -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KDIR/logs" -Dlog4j.configuration="file:$KDIR/log4j.properties" \
    -cp "$LIBS/*" kafka.Kafka "$KDIR/server.properties" </dev/null >"$OUT" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid" yes
  log "started (pid $pid)"
}

stop() {
  local pid i
  if ! pid="$(running_pid)"; then log "not running"; rm -f "$PIDFILE"; return 0; fi
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do ours "$pid" || break; sleep 0.5; done
  if ours "$pid"; then
    log "still running after 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do ours "$pid" || break; sleep 0.5; done
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "kafka[$PROFILE]: running on 127.0.0.1:$(running_port) (pid $pid, logs $KDIR/logs)"
  else
    echo "kafka[$PROFILE]: stopped"
    return 3
  fi
}

case "$CMD" in
  libs) fetch_libs; echo "$LIBS" ;;
  start) lock "$PROFILE_DIR/.kafka.lock"; start ;;
  stop) lock "$PROFILE_DIR/.kafka.lock"; stop ;;
  status) status ;;
  *) echo "$USAGE" >&2; exit 2 ;;
esac
