#!/usr/bin/env bash
# bench_single.sh - the one-broker figures of BENCHMARKS.md (issue "fluxo
# core"): producer and consumer throughput, broker memory, produce latency
# at a fixed rate, restart time after kill -9 with about 1 GiB of data, and
# throughput with log.flush.on.ack.
#
#   tests/bench/bench_single.sh           after tests/run (uses build/check)
#   BENCH_RECORDS=2000000 tests/bench/bench_single.sh     a shorter run
#   top_builddir=DIR tests/bench/bench_single.sh          another build
#
# It starts its own ZooKeeper and one broker on free loopback ports (with
# tests/integration/lib.sh, as the integration tests do), prints each tool's
# output as it is, and stops everything it started. Run it on an otherwise
# idle machine: client, broker and ZooKeeper share the CPUs.
set -euo pipefail

top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
: "${top_builddir:=$top_srcdir/build/check}"
if [ ! -x "$top_builddir/fluxo-broker" ]; then
  echo "bench_single: no fluxo-broker in $top_builddir; run tests/run first" \
    "or set top_builddir" >&2
  exit 2
fi
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

N=${BENCH_RECORDS:-10000000}
LAT_RECORDS=${BENCH_LAT_RECORDS:-1000000}
FLUSH_RECORDS=${BENCH_FLUSH_RECORDS:-2000000}

say() { printf '\n== %s\n' "$*"; }

# ms_of TIMESTAMP: a log line's ISO timestamp in epoch milliseconds.
ms_of() { date -u -d "$1" +%s%3N; }

# log_ms ID PATTERN: the timestamp (ms) of the last line of broker ID's log
# matching PATTERN.
log_ms() {
  local line
  line=$(grep -E "$2" "$T/broker-$1.log" | tail -n 1)
  [ -n "$line" ] || fail "no line matching '$2' in broker $1's log"
  ms_of "${line%% *}"
}

hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/${BROKER_PID[1]}/status"; }

zk_start 1
broker_start 1
B=$(bs 1)

say "topic bench: 1 partition, RF 1"
fx topics --bootstrap-server "$B" --create --topic bench --partitions 1 \
  --replication-factor 1

say "fluxo-producer-perf --topic bench --num-records $N --record-size 100" \
  "--throughput -1 --producer-props bootstrap.servers=$B acks=1"
fx producer-perf --topic bench --num-records "$N" --record-size 100 \
  --throughput -1 --producer-props bootstrap.servers="$B" acks=1

say "fluxo-consumer-perf --bootstrap-server $B --topic bench --messages $N"
fx consumer-perf --bootstrap-server "$B" --topic bench --messages "$N" \
  --timeout 60000

say "broker peak RSS (VmHWM) after both runs: $(( $(hwm_kib) / 1024 )) MiB"

say "fluxo-producer-perf --topic lat --num-records $LAT_RECORDS" \
  "--record-size 100 --throughput 100000 --producer-props" \
  "bootstrap.servers=$B acks=1"
fx topics --bootstrap-server "$B" --create --topic lat --partitions 1 \
  --replication-factor 1
fx producer-perf --topic lat --num-records "$LAT_RECORDS" --record-size 100 \
  --throughput 100000 --producer-props bootstrap.servers="$B" acks=1

say "kill -9 of the broker, then a restart"
du -sh --apparent-size "$T/data-1" | sed 's/^/data on disk: /'
broker_kill 1
broker_restart 1
start=$(tail -n +"$(( BROKER_LOGPOS[1] + 1 ))" "$T/broker-1.log" |
  grep -m1 'fluxo-broker .* starting' | cut -d' ' -f1)
ready=$(tail -n +"$(( BROKER_LOGPOS[1] + 1 ))" "$T/broker-1.log" |
  grep -m1 'broker 1 started' | cut -d' ' -f1)
echo "ready in $(( $(ms_of "$ready") - $(ms_of "$start") )) ms" \
  "(first log line to 'broker 1 started', ZooKeeper registration included)"
tail -n +"$(( BROKER_LOGPOS[1] + 1 ))" "$T/broker-1.log" |
  grep -m1 'loaded .* partition(s)' || true
got=$(fx consumer-perf --bootstrap-server "$B" --topic bench --messages "$N" \
  --timeout 10000 --hide-header | awk -F', *' '{print $5}')
[ "$got" = "$N" ] ||
  fail "the restarted broker served ${got:-no} records of topic bench, not $N"
echo "all $N records of topic bench served after the restart"

say "log.flush.on.ack=true: fluxo-producer-perf --topic durable" \
  "--num-records $FLUSH_RECORDS --record-size 100 --throughput -1" \
  "--producer-props bootstrap.servers=$B acks=1"
broker_stop 1
broker_start 1 log.flush.on.ack=true
fx topics --bootstrap-server "$B" --create --topic durable --partitions 1 \
  --replication-factor 1
fx producer-perf --topic durable --num-records "$FLUSH_RECORDS" \
  --record-size 100 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=1

pass
