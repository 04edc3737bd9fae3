#!/usr/bin/env bash
# Partition reassignment on a live cluster (brokers 1-3, broker 4 the
# controller holding no replica): a topic on 1,2 moves to 2,3 under a
# replication throttle while a producer (acks=all) and a consumer keep
# running: no producer error, every acknowledged record readable after,
# final replicas 2,3, broker 1's copy deleted, and the copy takes about
# size/rate. Then a cancellation in the middle restores 1,2, and a
# controller killed in the middle leaves a reassignment its successor
# finishes.
#
# FLUXO_REASSIGN_MB (default 20) and FLUXO_REASSIGN_RATE (bytes/s,
# default 5000000) size the first move, e.g. FLUXO_REASSIGN_MB=1024
# FLUXO_REASSIGN_RATE=50000000 for the 1 GiB measurement.
. "$(dirname "$0")/lib.sh"

MB=${FLUXO_REASSIGN_MB:-20}
RATE=${FLUXO_REASSIGN_RATE:-5000000}
RC="$top_builddir/tests/integration/reassign_client"

rc() { "$RC" "$B" "$@"; }
now_ms() { date +%s%3N; }
reassign_done() { local out; out=$(rc list) && [ -z "$out" ]; }
listed() { rc list | grep >/dev/null "^$1-0 "; }
described() { rc describe "$1" 0 | grep >/dev/null -x "$2"; }
gone() { [ ! -d "$T/data-$1/$2-0" ]; }
present() { [ -d "$T/data-$1/$2-0" ]; }
throttle() { # rate (empty: remove)
  local n
  for n in leader.replication.throttled.rate follower.replication.throttled.rate; do
    if [ -n "$1" ]; then rc broker-config $n "$1" >/dev/null || fail "cannot set $n"
    else rc broker-config $n >/dev/null || fail "cannot remove $n"; fi
  done
}
throttle_applied() { # broker text
  grep -q "follower.replication.throttled.rate: $2" "$T/broker-$1.log"
}
produce() { # topic records
  fx producer-perf --topic "$1" --num-records "$2" --record-size 1000 --throughput -1 \
    --producer-props bootstrap.servers="$B" acks=all | tail -1 |
    grep >/dev/null "^$2 records sent" || fail "producing $2 records to $1 failed"
}
count() { # topic expected -> records readable from the beginning
  fx consumer-perf --bootstrap-server "$B" --topic "$1" --messages "$2" \
    --timeout 15000 2>/dev/null | tail -1 | awk -F', ' '{print $5}'
}

zk_start
broker_start 4
for id in 1 2 3; do broker_start "$id"; done
B=$(bootstrap_all)
grep -q "broker 4 is the controller" "$T/broker-4.log" || fail "broker 4 is not the controller"

# ---- 1. move 1,2 -> 2,3 under a throttle, with clients running -------------
rc create mv 1,2 leader.replication.throttled.replicas=0:1,0:2 \
  follower.replication.throttled.replicas=0:3 >/dev/null || fail "create mv"
wait_until 20 described mv "leader=1 replicas=1,2 isr=1,2" || fail "mv not ready"
records=$((MB * 1000))
produce mv "$records"
FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer --bootstrap-server "$B" \
  --topic mv --max-messages -1 --throughput 200 --acks -1 --value-prefix live \
  --producer-property retries=2147483647
vp=$FX_PID
FX_OUT="$T/vc.out" FX_ERR="$T/vc.err" fx_bg verifiable-consumer --bootstrap-server "$B" \
  --topic mv --from-beginning --timeout-ms 120000
vc=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 100 ]" ||
  fail "the verifiable producer made no progress"

throttle "$RATE"
for id in 1 2 3; do
  wait_until 20 throttle_applied "$id" "$RATE bytes/s" || fail "broker $id did not apply the throttle"
done
t0=$(now_ms)
out=$(rc alter mv 0 2,3) || fail "alter mv: $out"
wait_until 10 listed mv || true
wait_until $((MB * 4000000 / RATE + 120)) reassign_done || fail "mv: reassignment did not finish"
took=$(( $(now_ms) - t0 ))
bytes=$(du -sb "$T/data-3/mv-0" | awk '{print $1}')
log "moved $MB MB at ${RATE} B/s in $took ms (broker 3 holds $bytes bytes)"
min=$(( MB * 1000000 * 3 / 4 * 1000 / RATE ))
[ "$took" -ge "$min" ] || fail "the copy took $took ms; throttled it takes at least $min ms"
wait_until 20 described mv "leader=2 replicas=2,3 isr=2,3" ||
  fail "mv after the move: $(rc describe mv 0)"
wait_until 20 gone 1 mv || fail "broker 1 still has mv-0"
present 2 mv && present 3 mv || fail "mv-0 missing on 2 or 3"
grep -q "topic=mv partition=0: reassignment done, replicas \[2,3\]" "$T/broker-4.log" ||
  fail "the controller did not log the completion"

sleep 1
kill -TERM "$vp"; wait "$vp" 2>/dev/null || true
kill -TERM "$vc"; wait "$vc" 2>/dev/null || true
errors=$(grep -c producer_send_error "$T/vp.out" || true)
[ "$errors" -eq 0 ] || fail "$errors producer errors: $(grep -m3 producer_send_error "$T/vp.out")"
[ ! -s "$T/vc.err" ] || fail "the consumer reported errors: $(head -3 "$T/vc.err")"
acked=$(grep -c producer_send_success "$T/vp.out")
timeout 120 "$top_builddir/tools/fluxo-verifiable-consumer" --bootstrap-server "$B" \
  --topic mv --from-beginning --timeout-ms 5000 >"$T/vc2.out" 2>/dev/null || true
extract() { sed -n -E 's/.*"partition":([0-9]+).*"offset":([0-9]+).*"value":"([^"]*)".*/\1 \2 \3/p'; }
grep producer_send_success "$T/vp.out" | extract | sort >"$T/acked"
grep record_data "$T/vc2.out" | extract | sort >"$T/read"
missing=$(comm -23 "$T/acked" "$T/read" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged records are not readable"
[ "$(grep -c record_data "$T/vc2.out")" -ge $((records + acked)) ] ||
  fail "fewer records readable than produced"
grep -q '"value":"live' "$T/vc.out" || fail "the live consumer saw no new record"
log "no producer or consumer error; all $acked acknowledged records readable"

# ---- 2. cancel in the middle ------------------------------------------------
rc create cx 1,2 'leader.replication.throttled.replicas=*' \
  'follower.replication.throttled.replicas=*' >/dev/null || fail "create cx"
wait_until 20 described cx "leader=1 replicas=1,2 isr=1,2" || fail "cx not ready"
produce cx 20000
throttle 1000000
for id in 1 2 3; do
  wait_until 20 throttle_applied "$id" "1000000 bytes/s" || fail "broker $id: throttle"
done
out=$(rc alter cx 0 2,3) || fail "alter cx: $out"
wait_until 20 present 3 cx || fail "broker 3 did not start copying cx-0"
sleep 2
listed cx || fail "cx finished before it could be cancelled"
out=$(rc cancel cx 0) || fail "cancel cx: $out"
wait_until 20 reassign_done || fail "cx: cancellation did not finish"
wait_until 20 described cx "leader=1 replicas=1,2 isr=1,2" ||
  fail "cx after cancel: $(rc describe cx 0)"
wait_until 20 gone 3 cx || fail "broker 3 still has cx-0"
present 1 cx && present 2 cx || fail "cx-0 missing on 1 or 2"
[ "$(count cx 20000)" = 20000 ] || fail "cx lost records after the cancellation"
out=$(rc cancel cx 0) && fail "a second cancel succeeded: $out"
grep -q NO_REASSIGNMENT_IN_PROGRESS <<<"$out" || fail "second cancel: $out"
log "cancelled in the middle: back on 1,2, broker 3's copy deleted"

# ---- 3. the controller dies in the middle ------------------------------------
rc create fo 1,2 'leader.replication.throttled.replicas=*' \
  'follower.replication.throttled.replicas=*' >/dev/null || fail "create fo"
wait_until 20 described fo "leader=1 replicas=1,2 isr=1,2" || fail "fo not ready"
produce fo 20000
throttle 2000000
for id in 1 2 3; do
  wait_until 20 throttle_applied "$id" "2000000 bytes/s" || fail "broker $id: throttle"
done
out=$(rc alter fo 0 2,3) || fail "alter fo: $out"
wait_until 20 present 3 fo || fail "broker 3 did not start copying fo-0"
listed fo || fail "fo finished before the controller could be killed"
broker_kill 4
B=$(for id in 1 2 3; do printf '127.0.0.1:%s,' "$(broker_port "$id")"; done)
B=${B%,}
wait_until 60 bash -c "grep -q 'resuming 1 partition reassignments' '$T'/broker-[123].log" ||
  fail "no broker resumed the reassignment"
wait_until 90 reassign_done || fail "fo: reassignment did not finish after the fail-over"
wait_until 20 described fo "leader=2 replicas=2,3 isr=2,3" ||
  fail "fo after the fail-over: $(rc describe fo 0)"
wait_until 20 gone 1 fo || fail "broker 1 still has fo-0"
[ "$(count fo 20000)" = 20000 ] || fail "fo lost records"
throttle ""
log "a new controller finished the reassignment of fo"
pass
