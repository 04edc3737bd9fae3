#!/usr/bin/env bash
# bench_reassign.sh - the reassignment figure of BENCHMARKS.md (issue "fluxo
# for operators"): a partition of about 1 GiB moves, with
# fluxo-reassign-partitions --execute --throttle, to a broker started after
# the data was written, while an acks=all producer and a consumer run; then
# a second move is cancelled and the old assignment must be intact.
#
#   tests/bench/bench_reassign.sh                 1024 MB at 50 MB/s
#   BENCH_REASSIGN_MB=100 BENCH_THROTTLE=10000000 tests/bench/bench_reassign.sh
#
# Three brokers and a ZooKeeper on free loopback ports (lib.sh), then
# broker 4. Fails on any producer or consumer error and on any acknowledged
# record not read back. Everything started is stopped at the end.
set -euo pipefail

top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
: "${top_builddir:=$top_srcdir/build/check}"
if [ ! -x "$top_builddir/fluxo-broker" ]; then
  echo "bench_reassign: no fluxo-broker in $top_builddir; run tests/run first" \
    "or set top_builddir" >&2
  exit 2
fi
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

MB=${BENCH_REASSIGN_MB:-1024}
RATE=${BENCH_THROTTLE:-50000000}
say() { printf '\n== %s\n' "$*"; }
now_ms() { date +%s%3N; }

zk_start
for id in 1 2 3; do broker_start "$id" auto.leader.rebalance.enable=false; done
B=$(bootstrap_all)
rp() { fx reassign-partitions --bootstrap-server "$B" "$@"; }

say "topic big: one partition on brokers 1,2; $MB MB of 1,000-byte records"
fx topics --bootstrap-server "$B" --create --topic big --replica-assignment 1:2
fx producer-perf --topic big --num-records $(( MB * 1000 )) --record-size 1000 \
  --throughput -1 --producer-props bootstrap.servers="$B" acks=all |
  tail -n 1
bytes=$(du -sb "$T"/data-1/big-0 | cut -f1)
echo "partition big-0 on broker 1: $bytes bytes"

say "broker 4 joins; a consumer (from the log end) and a producer (acks=all, 500 records/s) run"
broker_start 4 auto.leader.rebalance.enable=false
B=$(bootstrap_all)
FX_OUT="$T/vc.out" FX_ERR="$T/vc.err" fx_bg verifiable-consumer \
  --bootstrap-server "$B" --topic big --timeout-ms 600000
vc=$FX_PID
wait_until 20 grep -q startup_complete "$T/vc.out" || fail "the consumer did not start"
sleep 3 # its position (the log end) is resolved by its first requests
FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer \
  --bootstrap-server "$B" --topic big --max-messages -1 --throughput 500 \
  --acks -1 --value-prefix live
vp=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 100 ]" ||
  fail "the producer made no progress"

say "fluxo-reassign-partitions --execute --throttle $RATE: big-0 to brokers 4,2"
echo '{"version":1,"partitions":[{"topic":"big","partition":0,"replicas":[4,2]}]}' \
  >"$T/move.json"
t0=$(now_ms)
rp --execute --reassignment-json-file "$T/move.json" --throttle "$RATE" |
  tail -n 2
moved() {
  rp --verify --reassignment-json-file "$T/move.json" >"$T/verify.out" 2>&1 &&
    grep -qx "Reassignment of partition big-0 is complete." "$T/verify.out"
}
wait_until $(( MB * 1000000 / RATE * 3 + 60 )) moved ||
  fail "the move did not complete: $(cat "$T/verify.out")"
took=$(( $(now_ms) - t0 ))
echo "moved $bytes bytes in $took ms: $(( bytes / took / 1000 )) MB/s under a" \
  "throttle of $(( RATE / 1000000 )) MB/s"
fx topics --bootstrap-server "$B" --describe --topic big | tail -n 1

say "a second move (to brokers 3,1) at 10 kB/s, cancelled"
before=$(fx topics --bootstrap-server "$B" --describe --topic big | tail -n 1 |
  sed 's/.*Replicas: \([0-9,]*\).*/\1/')
echo '{"version":1,"partitions":[{"topic":"big","partition":0,"replicas":[3,1]}]}' \
  >"$T/slow.json"
rp --execute --reassignment-json-file "$T/slow.json" --throttle 10000 >/dev/null
sleep 2
rp --cancel --reassignment-json-file "$T/slow.json"
back() {
  fx topics --bootstrap-server "$B" --describe --topic big | tail -n 1 |
    grep -q "Replicas: $before	Isr: "
}
wait_until 30 back || fail "replicas after --cancel: $(fx topics \
  --bootstrap-server "$B" --describe --topic big)"
fx topics --bootstrap-server "$B" --describe --topic big | tail -n 1

say "the clients"
kill -TERM "$vp"
wait "$vp" 2>/dev/null || true
acked=$(grep -c producer_send_success "$T/vp.out" || true)
errors=$(grep -c producer_send_error "$T/vp.out" || true)
# The consumer started at the log end before the producer: it owes every
# acknowledged record; wait until it has them all.
read_back() {
  [ "$(grep -o '"value":"live\.[0-9]*"' "$T/vc.out" | sort -u | wc -l)" -ge "$acked" ]
}
wait_until 60 read_back || true
got=$(grep -o '"value":"live\.[0-9]*"' "$T/vc.out" | sort -u | wc -l)
kill -TERM "$vc" 2>/dev/null || true
echo "producer: $acked acknowledged, $errors send errors; consumer: $got of" \
  "them read back, $(grep -c '"name":"[a-z_]*error' "$T/vc.out" || true) errors"
[ "$errors" -eq 0 ] || fail "the producer saw $errors send errors"
[ "$got" -ge "$acked" ] || fail "the consumer read $got of $acked acknowledged records"
pass
