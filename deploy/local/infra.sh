#!/usr/bin/env bash
# Embedded default infrastructure: a single-node Apache Kafka broker (KRaft, jars from Maven
# Central) and SecantusDB (MongoDB wire protocol), both on 127.0.0.1, data under $STATE_DIR.
#
#   deploy/local/infra.sh start    fetch jars if needed, start both, wait until ready (idempotent)
#   deploy/local/infra.sh stop     stop what this script started, by pid
#   deploy/local/infra.sh status   print what runs and where
#   deploy/local/infra.sh wipe     stop and delete the data directories
#   deploy/local/infra.sh env      print the KAFKA_BOOTSTRAP / MONGODB_URL lines
#   deploy/local/infra.sh start-kafka | stop-kafka   the broker alone (tests run their own
#                                  broker this way: STATE_DIR and ports from the environment)
#   deploy/local/infra.sh build-rust   build SecantusDB's Rust server (crates.io, ~5 min, once)
#
# Ports: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), MONGO_PORT (27027).
# KAFKA_FAULT_PORT (19095) is a second listener that advertises KAFKA_FAULT_PROXY_PORT (19096):
# clients bootstrapped there reach the broker only through the fault proxy listening on that
# port (make chaos); everything else uses KAFKA_PORT and never meets the proxy.
# SECANTUS_SERVER: which SecantusDB serves MONGO_PORT.
#   python (default)  secantusd-py from PyPI, installed with the venv: tests and the demo
#   rust              secantusd-rs, SecantusDB's own fast server, built from crates.io on first
#                     use (`make bench` runs on it: closer to mongod per operation than the
#                     Python one; see docs/benchmarks.md). Its own data directory.
# KAFKA_FSYNC_EACH: 1 (default) has the broker fsync every message it takes before it
# acknowledges it: one node has no replica to lose data to, so tests and the demo keep what
# they were told is stored across a crash of the machine itself. 0 is Kafka's own default
# (the OS flushes; replicated brokers rely on their replicas, as production does); the bench
# prints which one it ran on. Read when the broker starts.
# SECANTUS_EXTRA_ARGS: more secantusd flags, for experiments (e.g. --standalone, which drops the
# replica-set oplog; not the default).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${STATE_DIR:-$ROOT/.local}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_FAULT_PORT=${KAFKA_FAULT_PORT:-19095}
KAFKA_FAULT_PROXY_PORT=${KAFKA_FAULT_PROXY_PORT:-19096}
MONGO_PORT=${MONGO_PORT:-27027}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
JARS=${KAFKA_LIBS:-$ROOT/.local/kafka/libs}
KAFKA_DATA=$STATE_DIR/kafka/data
KAFKA_CONF=$STATE_DIR/kafka/server.properties
KAFKA_PID=$STATE_DIR/kafka/kafka.pid
KAFKA_LOG=$STATE_DIR/kafka/kafka.log
SECANTUS_SERVER=${SECANTUS_SERVER:-python}
KAFKA_FSYNC_EACH=${KAFKA_FSYNC_EACH:-1}
MONGO_PID=$STATE_DIR/secantus/secantus.pid
MONGO_LOG=$STATE_DIR/secantus/secantus.log
MONGO_SERVER_FILE=$STATE_DIR/secantus/server  # which server the pid file is of
case "$SECANTUS_SERVER" in
  python) MONGO_DATA=$STATE_DIR/secantus/data ;;
  rust) MONGO_DATA=$STATE_DIR/secantus/data-rs ;;
  *) echo "SECANTUS_SERVER must be python or rust, not '$SECANTUS_SERVER'" >&2; exit 2 ;;
esac
# Pinned; the crate declares Rust 1.98 but builds and passes our suite on 1.95 (hence
# --ignore-rust-version). Its Cargo.lock is used (--locked), so the build is repeatable.
SECANTUS_RS_VERSION=0.5.3-beta.196
SECANTUS_RS_ROOT=${SECANTUS_RS_ROOT:-$ROOT/.local/secantusd-rs/$SECANTUS_RS_VERSION}
SECANTUS_RS=$SECANTUS_RS_ROOT/bin/secantusd-rs

log() { printf '[infra] %s\n' "$*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # wait_port PORT PIDFILE NAME SECONDS LOGFILE
  local deadline=$((SECONDS + $4))
  until port_open "$1"; do
    if ! alive "$2"; then log "$3 exited during start-up; last lines of $5:"; tail -n 30 "$5" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$3 not ready after $4 s; see $5"; return 1; fi
    sleep 0.5
  done
}

fetch_jars() {
  if [ -f "$JARS/.complete" ]; then return; fi
  log "fetching Kafka jars with Maven (first run only)"
  mkdir -p "$JARS"
  mvn -B -q -f "$ROOT/deploy/local/kafka-pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$JARS"
  touch "$JARS/.complete"
}

write_kafka_conf() {
  mkdir -p "$KAFKA_DATA"
  cat > "$KAFKA_CONF" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,FAULTY://127.0.0.1:$KAFKA_FAULT_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,FAULTY://127.0.0.1:$KAFKA_FAULT_PROXY_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,FAULTY:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=2000
CONF
  if [ "$KAFKA_FSYNC_EACH" = 1 ]; then echo "log.flush.interval.messages=1" >> "$KAFKA_CONF"; fi
}

start_kafka() {
  if alive "$KAFKA_PID"; then log "kafka already running (pid $(cat "$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT"; return; fi
  if port_open "$KAFKA_PORT"; then log "port $KAFKA_PORT is taken by a process this script did not start"; return 1; fi
  fetch_jars
  write_kafka_conf
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    local id
    id=$(java -cp "$JARS/*" kafka.tools.StorageTool random-uuid)
    java -cp "$JARS/*" -Dlog4j2.configurationFile="$ROOT/deploy/local/log4j2.properties" \
      kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" --ignore-formatted >>"$KAFKA_LOG" 2>&1
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  nohup java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/deploy/local/log4j2.properties" \
    -cp "$JARS/*" kafka.Kafka "$KAFKA_CONF" >>"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! > "$KAFKA_PID"
  wait_port "$KAFKA_PORT" "$KAFKA_PID" kafka 120 "$KAFKA_LOG"
}

build_rust() {
  if [ -x "$SECANTUS_RS" ]; then return; fi
  command -v cargo >/dev/null || { log "cargo not found: the Rust server is built with a Rust toolchain (rustup); without one, use the Python server: SECANTUS_SERVER=python, or BENCH_DB=python make bench"; return 1; }
  log "building secantusd-rs $SECANTUS_RS_VERSION from crates.io into $SECANTUS_RS_ROOT (first use only, ~5 min)"
  cargo install --quiet --locked --ignore-rust-version secantus-mdb --version "$SECANTUS_RS_VERSION" \
    --root "$SECANTUS_RS_ROOT"
}

running_server() { cat "$MONGO_SERVER_FILE" 2>/dev/null || echo python; }

start_mongo() {
  if alive "$MONGO_PID"; then
    if [ "$(running_server)" != "$SECANTUS_SERVER" ]; then
      log "secantusdb ($(running_server) server, pid $(cat "$MONGO_PID")) already runs on 127.0.0.1:$MONGO_PORT; asked for the $SECANTUS_SERVER server: '$0 stop' first"
      return 1
    fi
    log "secantusdb ($SECANTUS_SERVER server) already running (pid $(cat "$MONGO_PID")) on 127.0.0.1:$MONGO_PORT"; return
  fi
  if port_open "$MONGO_PORT"; then log "port $MONGO_PORT is taken by a process this script did not start"; return 1; fi
  mkdir -p "$MONGO_DATA"
  if [ "$SECANTUS_SERVER" = rust ]; then build_rust; fi
  log "starting secantusdb ($SECANTUS_SERVER server) on 127.0.0.1:$MONGO_PORT"
  if [ "$SECANTUS_SERVER" = rust ]; then
    nohup "$SECANTUS_RS" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$MONGO_DATA" \
      --log-level WARNING ${SECANTUS_EXTRA_ARGS:-} >>"$MONGO_LOG" 2>&1 </dev/null &
  else
    nohup "$PYTHON" "$ROOT/deploy/local/secantusd.py" --host 127.0.0.1 --port "$MONGO_PORT" \
      --storage-path "$MONGO_DATA" --log-level WARNING ${SECANTUS_EXTRA_ARGS:-} \
      --oplog-max-entries "${SECANTUS_OPLOG_MAX_ENTRIES:-5000}" --oplog-retention-seconds "${SECANTUS_OPLOG_RETENTION_S:-600}" >>"$MONGO_LOG" 2>&1 </dev/null &
  fi
  echo $! > "$MONGO_PID"
  echo "$SECANTUS_SERVER" > "$MONGO_SERVER_FILE"
  wait_port "$MONGO_PORT" "$MONGO_PID" secantusdb 60 "$MONGO_LOG"
}

stop_pid() {  # stop_pid PIDFILE NAME
  alive "$1" || { rm -f "$1"; return 0; }
  local pid; pid=$(cat "$1")
  log "stopping $2 (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.5; done
  log "$2 did not stop in 30 s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

print_env() {
  echo "KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "MONGODB_URL=mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true&retryWrites=false"
}

case "${1:-}" in
  start) mkdir -p "$STATE_DIR/kafka" "$STATE_DIR/secantus"; start_mongo; start_kafka; log "ready"; print_env ;;
  stop) stop_pid "$KAFKA_PID" kafka; stop_pid "$MONGO_PID" secantusdb ;;
  status)
    alive "$KAFKA_PID" && log "kafka running (pid $(cat "$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT" || log "kafka stopped"
    alive "$MONGO_PID" && log "secantusdb ($(running_server) server) running (pid $(cat "$MONGO_PID")) on 127.0.0.1:$MONGO_PORT" || log "secantusdb stopped" ;;
  wipe) stop_pid "$KAFKA_PID" kafka; stop_pid "$MONGO_PID" secantusdb; rm -rf "$KAFKA_DATA" "$STATE_DIR/secantus/data" "$STATE_DIR/secantus/data-rs" ;;
  env) print_env ;;
  jars) fetch_jars ;;
  start-kafka) mkdir -p "$STATE_DIR/kafka"; start_kafka ;;
  stop-kafka) stop_pid "$KAFKA_PID" kafka ;;
  start-mongo) mkdir -p "$STATE_DIR/secantus"; start_mongo ;;
  stop-mongo) stop_pid "$MONGO_PID" secantusdb ;;
  # the fault suite's broker pause: SIGSTOP / SIGCONT to the broker this script started
  pause-kafka) alive "$KAFKA_PID" && kill -STOP "$(cat "$KAFKA_PID")" && log "kafka paused" ;;
  resume-kafka) alive "$KAFKA_PID" && kill -CONT "$(cat "$KAFKA_PID")" && log "kafka resumed" ;;
  build-rust) build_rust ;;
  *) echo "usage: $0 start|stop|status|wipe|env|jars|start-kafka|stop-kafka|start-mongo|stop-mongo|pause-kafka|resume-kafka|build-rust" >&2; exit 2 ;;
esac
