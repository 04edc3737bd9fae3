#!/usr/bin/env bash
# Data survives a clean restart and a kill -9; recovery truncates a torn
# tail and serves the valid prefix; with log.flush.on.ack every
# acknowledged record is there after a kill -9 during a produce.
. "$(dirname "$0")/lib.sh"

count() { # topic -> records readable from the beginning
  fx consumer-perf --bootstrap-server "$(bs 1)" --topic "$1" --messages "$2" \
    --timeout 15000 2>/dev/null | tail -1 | awk -F', ' '{print $5}'
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

# log.flush.on.ack: kill -9 during a produce loses no acknowledged record.
broker_stop 1
broker_restart 1 log.flush.on.ack=true
fx topics --bootstrap-server "$B" --create --topic durable --partitions 2 >/dev/null
FX_OUT="$T/vp.out" fx_bg verifiable-producer --bootstrap-server "$B" --topic durable \
  --max-messages 200000 --acks 1
vp=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 2000 ]" ||
  fail "the verifiable producer made no progress"
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
