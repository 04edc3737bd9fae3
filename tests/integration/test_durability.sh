#!/usr/bin/env bash
# Data survives a clean restart and a kill -9; recovery truncates a torn
# tail and serves the valid prefix; a kill -9 during a produce leaves a
# gapless log, in the order produced, whose segments verify; with
# log.flush.on.ack every acknowledged record is there after a kill -9
# during a produce (test_flush_on_ack.sh shows the ack waits for the disk).
. "$(dirname "$0")/lib.sh"

count() { # topic -> records readable from the beginning
  fx consumer-perf --bootstrap-server "$(bs 1)" --topic "$1" --messages "$2" \
    --timeout 15000 2>/dev/null | tail -1 | awk -F', ' '{print $5}'
}

acks() { grep -c producer_send_success "$1" || true; }

still_sending() { # vp-output pid: the producer is alive and acks still come
  local a1 a2
  a1=$(acks "$1")
  sleep 0.2
  a2=$(acks "$1")
  kill -0 "$2" 2>/dev/null && [ "$a2" -gt "$a1" ] ||
    fail "the producer was not sending before the kill ($a1 then $a2 acks)"
}

zk_start
broker_start 1
B=$(bs 1)
fx topics --bootstrap-server "$B" --create --topic dur --partitions 1 >/dev/null

fx producer-perf --topic dur --num-records 50000 --record-size 100 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=1 | tail -1 | grep >/dev/null "^50000 records sent" ||
  fail "first produce failed"

broker_stop 1
grep -q "stopped cleanly" "$T/broker-1.log" || fail "no clean stop"
broker_restart 1
[ "$(count dur 50000)" = 50000 ] || fail "after a clean restart: $(count dur 50000) records"

fx producer-perf --topic dur --num-records 50000 --record-size 100 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=1 | tail -1 | grep >/dev/null "^50000 records sent" ||
  fail "second produce failed"
broker_kill 1
broker_restart 1
[ "$(count dur 100000)" = 100000 ] || fail "after kill -9: $(count dur 100000) records"

# A torn tail: half a batch of garbage after the last valid batch.
broker_kill 1
seg=$(ls "$T"/data-1/dur-0/*.log | tail -1)
head -c 45 /dev/urandom >>"$seg"
broker_restart 1
[ "$(count dur 100000)" = 100000 ] || fail "after a torn tail: $(count dur 100000) records"
fx producer-perf --topic dur --num-records 10 --record-size 100 --throughput -1 \
  --producer-props bootstrap.servers="$B" | tail -1 | grep >/dev/null "^10 records sent" ||
  fail "produce after recovery failed"
[ "$(count dur 100010)" = 100010 ] || fail "after recovery and more produce: $(count dur 100010)"
fx dump-log --files "$seg" --verify >/dev/null || fail "the recovered segment does not verify"

# kill -9 in the middle of a produce, without log.flush.on.ack. The
# verifiable producer sends 0, 1, 2, ... to one partition, so the record
# at offset k must be k. After the restart the broker serves offsets
# 0..end-1 with no gap, each holding the value sent in that place (the
# order of production, no torn or corrupt batch served), every
# acknowledged record is among them (a kill keeps the page cache), and
# every segment of the partition (small ones: several rolls happened
# during the produce) and every index verifies with fluxo-dump-log.
fx topics --bootstrap-server "$B" --create --topic crash --partitions 1 \
  --config segment.bytes=32768 >/dev/null || fail "create crash"
FX_OUT="$T/crash-vp.out" fx_bg verifiable-producer --bootstrap-server "$B" --topic crash \
  --max-messages 100000000 --throughput 20000 --acks 1
vp=$FX_PID
wait_until 30 bash -c "[ \$(grep -c producer_send_success '$T/crash-vp.out') -ge 10000 ]" ||
  fail "the verifiable producer made no progress"
still_sending "$T/crash-vp.out" $vp
broker_kill 1
kill -KILL $vp 2>/dev/null || true
wait $vp 2>/dev/null || true
acked=$(acks "$T/crash-vp.out")
last_acked=$(grep producer_send_success "$T/crash-vp.out" |
  sed -n -E 's/.*"offset":([0-9]+).*/\1/p' | sort -n | tail -1)
broker_restart 1
end=$("$top_builddir/tests/integration/probe_client" "$B" end crash) ||
  fail "no log end offset for crash-0"
[ "$end" -gt "$last_acked" ] ||
  fail "log end $end after the restart, but offset $last_acked was acknowledged"
fx console-consumer --bootstrap-server "$B" --topic crash --from-beginning \
  --property print.offset=true --max-messages "$end" --timeout-ms 15000 \
  >"$T/crash.read" 2>"$T/crash.err" || fail "reading crash back: $(cat "$T/crash.err")"
bad=$(awk -F'\t' -v end="$end" '
  $1 != "Offset:" NR - 1 || $2 != NR - 1 { bad = 1; print "line " NR ": " $0; exit }
  END { if (!bad && NR != end) print NR " records read, log end " end }' "$T/crash.read")
[ -z "$bad" ] || fail "crash-0 after kill -9 during a produce: $bad"
segs=("$T"/data-1/crash-0/*.log)
[ ${#segs[@]} -ge 2 ] || fail "crash-0 has ${#segs[@]} segment(s); the test wants rolls"
fx dump-log --verify --files "${segs[@]}" >/dev/null 2>"$T/crash-dump.err" ||
  fail "a segment of crash-0 does not verify: $(cat "$T/crash-dump.err")"
fx dump-log --verify --index-sanity-check --files "$T"/data-1/crash-0/*index \
  >/dev/null 2>"$T/crash-dump.err" ||
  fail "an index of crash-0 is not sane: $(cat "$T/crash-dump.err")"
log "kill -9 during a produce: offsets 0..$((end - 1)) in order in ${#segs[@]} segments ($acked acked)"

# log.flush.on.ack: kill -9 during a produce loses no acknowledged record.
# (A kill keeps the page cache, so this cannot see a missing fdatasync:
# test_flush_on_ack.sh shows that the acknowledgement waits for it.)
broker_stop 1
broker_restart 1 log.flush.on.ack=true
fx topics --bootstrap-server "$B" --create --topic durable --partitions 2 >/dev/null
FX_OUT="$T/vp.out" fx_bg verifiable-producer --bootstrap-server "$B" --topic durable \
  --max-messages 100000000 --throughput 20000 --acks 1
vp=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 2000 ]" ||
  fail "the verifiable producer made no progress"
still_sending "$T/vp.out" $vp
broker_kill 1
# The producer would retry for delivery.timeout.ms; what it printed so far
# is what was acknowledged.
kill -KILL $vp 2>/dev/null || true
wait $vp 2>/dev/null || true
acked=$(grep -c producer_send_success "$T/vp.out")
broker_restart 1
fx verifiable-consumer --bootstrap-server "$B" --topic durable --from-beginning \
  --timeout-ms 5000 >"$T/vc.out" 2>/dev/null || true
# Every acknowledged (partition, offset, value) is read back.
grep producer_send_success "$T/vp.out" |
  sed -n -E 's/.*"partition":([0-9]+).*"offset":([0-9]+).*"value":"([^"]*)".*/\1 \2 \3/p' |
  sort >"$T/acked"
grep record_data "$T/vc.out" |
  sed -n -E 's/.*"partition":([0-9]+).*"offset":([0-9]+).*"value":"([^"]*)".*/\1 \2 \3/p' |
  sort >"$T/read"
missing=$(comm -23 "$T/acked" "$T/read" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged records were lost"
log "all $acked acknowledged records survived kill -9 with log.flush.on.ack=true"
pass
