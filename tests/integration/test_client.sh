#!/usr/bin/env bash
# test_client.sh - libfluxo against a real ZooKeeper and a real fluxo-broker.
#
# Starts ZooKeeper (deploy/zk-local) and one broker on free loopback ports
# in a fresh temporary directory, runs tests/integration/itest_client
# against it, then stops the broker and checks that every client call fails
# within a bound instead of hanging. Stops only the processes it started
# (by pid), always. Fails on any sanitizer report in the broker's log.
# Skips (exit 77) while fluxo-broker is not built.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
broker_bin=${FLUXO_BROKER:-$top_builddir/fluxo-broker}
itest=$top_builddir/tests/integration/itest_client

if [ ! -x "$broker_bin" ]; then
  echo "SKIP: $broker_bin is not built yet"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fluxo-itest-client.XXXXXX")
broker_pid=""

cleanup() {
  local rc=$?
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$broker_pid" 2>/dev/null || true
  fi
  "$top_srcdir/deploy/zk-local" stop "$work/zk" >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    echo "---- broker log (tail)"
    tail -n 60 "$work/broker.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port" >&2
  return 1
}

zk=$("$top_srcdir/deploy/zk-local" start "$work/zk")
port=$(free_port)
mkdir -p "$work/logs"
cat >"$work/server.properties" <<EOF
broker.id=1
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$work/logs
zookeeper.connect=$zk/fluxo
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
auto.create.topics.enable=false
EOF
"$broker_bin" "$work/server.properties" >"$work/broker.log" 2>&1 &
broker_pid=$!

# Wait (bounded) until the broker accepts connections.
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  kill -0 "$broker_pid" 2>/dev/null || { echo "broker exited"; exit 1; }
  sleep 0.1
done

bootstrap=127.0.0.1:$port
"$itest" up "$bootstrap"

# The broker goes away: calls must fail quickly and name the address.
kill -TERM "$broker_pid"
for _ in $(seq 1 200); do
  kill -0 "$broker_pid" 2>/dev/null || break
  sleep 0.1
done
kill -KILL "$broker_pid" 2>/dev/null || true
broker_pid=""
"$itest" down "$bootstrap"

if grep -q -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
    "$work/broker.log"; then
  echo "sanitizer report in the broker's log"
  exit 1
fi
