#!/usr/bin/env bash
# The idempotent producer against real brokers: the same batch twice gets
# the same offset and is stored once; a gap in the sequence is refused;
# a run mixing a retry with new batches gets per-batch offsets; retries
# are still recognised after a clean restart (SIGTERM), after kill -9,
# after kill -9 across several segment rolls (the last five batches), and
# on a new leader after the old one is killed. Then the tools: the
# default (idempotent) producer and --request-required-acks 1.
. "$(dirname "$0")/lib.sh"

idem() { # bootstrap-broker topic cmd args...
  local b=$1 t=$2; shift 2
  FLUXO_BOOTSTRAP=$(bs "$b") FLUXO_TOPIC=$t \
    "$top_builddir/tests/integration/idem_client" "$@"
}

zk_start
broker_start 1
fx topics --bootstrap-server "$(bs 1)" --create --topic idem --partitions 1 \
  --config segment.bytes=200000 >/dev/null || fail "cannot create the topic"
S=$T/state

idem 1 idem init "$S" || fail "InitProducerId failed"
idem 1 idem rules "$S" || fail "the idempotence rules do not hold"

idem 1 idem send "$S" d 10 >/dev/null || fail "send d"
broker_stop 1
grep -q "stopped cleanly" "$T/broker-1.log" || fail "no clean stop"
broker_restart 1
idem 1 idem resend "$S" d || fail "retry of d not recognised after a clean restart"

idem 1 idem send "$S" e 10 >/dev/null || fail "send e"
broker_kill 1
broker_restart 1
idem 1 idem resend "$S" e || fail "retry of e not recognised after kill -9"
idem 1 idem resend "$S" d || fail "retry of d not recognised after kill -9"

# About 1 MB in 100-record batches: several 200 KB segments, each roll
# writes a snapshot; the kill -9 leaves the tail after the last one to
# replay.
idem 1 idem fill "$S" 100 || fail "fill"
[ "$(ls "$T"/data-1/idem-0/*.log | wc -l)" -ge 4 ] || fail "the log did not roll"
broker_kill 1
broker_restart 1
grep -q "producer state .* rebuilt at load from the snapshot" "$T/broker-1.log" ||
  fail "the producer state was not rebuilt from a snapshot"
idem 1 idem resend-last "$S" 5 || fail "the last five batches are not duplicates after kill -9"

# Replication: the follower learns the producer from the batches it
# copies; as the new leader it recognises the retry.
broker_start 2
fx topics --bootstrap-server "$(bs 1)" --create --topic idem2 --partitions 1 \
  --replication-factor 2 >/dev/null || fail "cannot create idem2"
isr_full() {
  fx topics --bootstrap-server "$(bs 1)" --describe --topic idem2 2>/dev/null |
    grep >/dev/null "Isr: \(1,2\|2,1\)"
}
wait_until 30 isr_full || fail "idem2 never had both replicas in sync"
S2=$T/state2
idem 1 idem2 init "$S2" || fail "InitProducerId for idem2"
idem 1 idem2 send "$S2" x 20 >/dev/null || fail "send x"
idem 1 idem2 send "$S2" y 5 >/dev/null || fail "send y"
leader=$(fx topics --bootstrap-server "$(bs 1)" --describe --topic idem2 |
  sed -n 's/.*Leader: \([0-9]*\).*/\1/p' | head -1)
case "$leader" in 1) other=2 ;; 2) other=1 ;; *) fail "no leader for idem2: $leader" ;; esac
broker_kill "$leader"
idem "$other" idem2 resend "$S2" y || fail "the new leader did not recognise the retry of y"
idem "$other" idem2 resend "$S2" x || fail "the new leader did not recognise the retry of x"
idem "$other" idem2 send "$S2" z 1 >/dev/null || fail "the next batch after fail-over"
broker_restart "$leader"

# The tools: the default producer is idempotent (acks=all); an explicit
# acks=1 turns idempotence off and still works.
B=$(bs 1)
fx topics --bootstrap-server "$B" --create --topic tools --partitions 2 >/dev/null ||
  fail "cannot create the tools topic"
fx producer-perf --topic tools --num-records 20000 --record-size 100 --throughput -1 \
  --producer-props bootstrap.servers="$B" | tail -1 | grep >/dev/null "^20000 records sent" ||
  fail "producer-perf with the default (idempotent) producer failed"
seq 1 50 | fx console-producer --bootstrap-server "$B" --topic tools \
  --request-required-acks 1 || fail "console producer with acks 1 failed"
seq 51 100 | fx console-producer --bootstrap-server "$B" --topic tools ||
  fail "console producer with its defaults failed"
got=$(fx console-consumer --bootstrap-server "$B" --topic tools --from-beginning \
  --max-messages 20100 --timeout-ms 15000 2>/dev/null | grep -c '^[0-9]*$')
[ "$got" -eq 100 ] || fail "read $got of the 100 console records"
pass
