#!/usr/bin/env bash
# Faults of a three-broker cluster on a three-node ZooKeeper ensemble:
#  1. the controller is killed: another broker takes over with a larger
#     controller epoch, and the cluster keeps serving;
#  2. a partition leader is paused (SIGSTOP) past its session timeout: a new
#     leader takes over; when the old one resumes, its session has expired:
#     it re-registers, serves again as a follower, acknowledges nothing as a
#     stale leader, truncates what it appended meanwhile, and every replica
#     ends with the same log;
#  3. the ISR falls below min.insync.replicas: acks=all produces are
#     refused and nothing is acknowledged; when brokers return, producing
#     works again.
# Throughout, an acks=all producer runs; every acknowledged record is read
# back at its offset, in order.
. "$(dirname "$0")/lib.sh"

zk_start 3
declare -A MPORT
for id in 1 2 3; do
  MPORT[$id]=$(free_port)
  broker_start $id replica.lag.time.max.ms=10000 \
    metrics.listener=http://127.0.0.1:${MPORT[$id]}
done
B=$(bootstrap_all)
t=faults
fx topics --bootstrap-server "$B" --create --topic $t --partitions 3 \
  --replication-factor 3 --config min.insync.replicas=2 >/dev/null ||
  fail "cannot create the topic"

describe() { fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t 2>/dev/null; }
leader_of() { describe | awk -v p="$1" '$3 == "Partition:" && $4 == p { print $6 }'; }
healthy() {
  [ -z "$(fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t \
    --under-replicated-partitions 2>/dev/null)" ] &&
  [ -z "$(fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t \
    --unavailable-partitions 2>/dev/null)" ]
}
controller() { # -> "id epoch" of the newest "is the controller" line
  grep -h "is the controller, epoch" "$T"/broker-*.log |
    sed -E 's/.*broker ([0-9]+) is the controller, epoch ([0-9]+).*/\2 \1/' |
    sort -n | tail -1 | awk '{ print $2, $1 }'
}
metric() { # broker name partition -> value
  curl -s "http://127.0.0.1:${MPORT[$1]}/metrics" |
    awk -v n="$2" -v p="partition=\"$3\"" '$1 ~ "^"n"{" && index($1, "topic=\"'$t'\"") && index($1, p) { print $2 }'
}
acked() { grep -c producer_send_success "$1" || true; }
under_replicated() { # sum of the gauge over the brokers given
  local sum=0 id v
  for id in "$@"; do
    v=$(curl -s --max-time 2 "http://127.0.0.1:${MPORT[$id]}/metrics" |
      awk '$1 == "fluxo_under_replicated_partitions" { print $2 }')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
prometheus_text_ok() { # every line a comment or "name{labels} value"
  curl -s --max-time 2 "http://127.0.0.1:${MPORT[$1]}/metrics" |
    awk '/^#/ { next }
         !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.]+([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$/ { bad++; print "bad metrics line: " $0 > "/dev/stderr" }
         { n++ } END { exit !(n > 0 && bad == 0) }'
}

FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer --bootstrap-server "$B" \
  --topic $t --acks all --throughput 2000 --max-messages -1 --value-prefix main
vp=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 500 ]" ||
  fail "the producer made no progress"

# ---- 1. controller killed
read -r ctl epoch < <(controller)
log "controller is broker $ctl at epoch $epoch; killing it"
broker_kill "$ctl"
wait_until 20 bash -c "grep -h 'is the controller, epoch' $T/broker-*.log |
  sed -E 's/.*epoch ([0-9]+).*/\1/' | sort -n | tail -1 | grep >/dev/null -x $((epoch + 1))" ||
  fail "no new controller with epoch $((epoch + 1))"
read -r ctl2 epoch2 < <(controller)
[ "$ctl2" != "$ctl" ] && [ "$epoch2" -gt "$epoch" ] ||
  fail "controller after the kill: broker $ctl2 epoch $epoch2"
log "broker $ctl2 took over as controller with epoch $epoch2"
before=$(acked "$T/vp.out")
wait_until 30 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge $((before + 500)) ]" ||
  fail "producing stopped after the controller died"
broker_restart "$ctl"
wait_until 60 healthy || fail "the cluster did not heal after the controller kill"

# ---- 2. a paused leader
p=1
old=$(leader_of $p)
log "pausing broker $old (leader of partition $p)"
broker_pause "$old"
wait_until 30 bash -c "l=\$('$top_builddir/tools/fluxo-topics' --bootstrap-server 127.0.0.1:${BROKER_PORT[$(( old % 3 + 1 ))]} --describe --topic $t 2>/dev/null | awk -v p=$p '\$3 == \"Partition:\" && \$4 == p { print \$6 }'); [ -n \"\$l\" ] && [ \"\$l\" != none ] && [ \"\$l\" != $old ]" ||
  fail "no new leader for partition $p while broker $old is paused"
# The live brokers report the partitions the paused one no longer follows.
live=""
for id in 1 2 3; do [ "$id" = "$old" ] || live="$live $id"; done
ur_live() { [ "$(under_replicated $live)" -gt 0 ]; }
wait_until 30 ur_live ||
  fail "fluxo_under_replicated_partitions did not rise while broker $old is paused"
log "under-replicated partitions while paused: $(under_replicated $live)"
# A producer that only knows the paused broker: it will try it first.
FX_OUT="$T/zombie.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$old")" \
  --topic $t --acks all --max-messages 200 --value-prefix zombie \
  --producer-property request.timeout.ms=3000 \
  --producer-property delivery.timeout.ms=20000
zp=$FX_PID
sleep 1
broker_resume "$old"
log "resumed broker $old"
wait_until 30 bash -c "tail -n +$(( ${BROKER_LOGPOS[$old]} + 1 )) '$T/broker-$old.log' | grep >/dev/null 're-registered with epoch'" ||
  fail "broker $old did not re-register after its session expired"
wait_until 60 healthy || fail "broker $old did not rejoin every ISR"
ur_none() { [ "$(under_replicated 1 2 3)" -eq 0 ]; }
wait_until 30 ur_none ||
  fail "fluxo_under_replicated_partitions did not fall back to 0"
for id in 1 2 3; do prometheus_text_ok "$id" || fail "broker $id: metrics are not Prometheus text"; done
wait $zp 2>/dev/null || true

# ---- 3. ISR below min.insync.replicas
kill -TERM $vp; wait $vp 2>/dev/null || true
# With the producers stopped, every replica of every partition ends with the
# same log end offset: the paused leader's own appends were truncated away.
# (While records flow, the three brokers, read one after the other, are
# rarely at the same offset: the check needs a log that stands still.)
leo() { # broker partition -> log end offset
  curl -s --max-time 2 "http://127.0.0.1:${MPORT[$1]}/metrics" |
    awk -v p="partition=\"$2\"" '$1 ~ /^fluxo_log_end_offset\{/ && index($1, "topic=\"'$t'\"") && index($1, p) { print $2 }'
}
replicas_agree() {
  local q a b c
  for q in 0 1 2; do
    a=$(leo 1 $q); b=$(leo 2 $q); c=$(leo 3 $q)
    [ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] || return 1
  done
}
wait_until 20 replicas_agree ||
  fail "replicas diverge after the pause: $(for q in 0 1 2; do echo -n "p$q=$(leo 1 $q),$(leo 2 $q),$(leo 3 $q) "; done)"
log "every replica of every partition ends at the same offset (partition $p: $(leo 1 $p))"

keep=$(leader_of 0)
others=""
for id in 1 2 3; do [ "$id" = "$keep" ] || others="$others $id"; done
for id in $others; do broker_kill "$id"; done
log "killed brokers$others; waiting for the ISRs to shrink"
wait_until 30 bash -c "'$top_builddir/tools/fluxo-topics' --bootstrap-server $(bs "$keep") --describe --topic $t 2>/dev/null | grep >/dev/null 'Partition: 0.*Isr: $keep\$'" ||
  fail "the ISR of partition 0 did not shrink to broker $keep"
FX_OUT="$T/minisr.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$keep")" \
  --topic $t --acks all --max-messages 50 --value-prefix minisr \
  --producer-property delivery.timeout.ms=5000 \
  --producer-property request.timeout.ms=2000
wait $FX_PID 2>/dev/null || true
n=$(acked "$T/minisr.out")
[ "$n" -eq 0 ] || fail "$n records acknowledged with the ISR below min.insync.replicas"
grep -q "NOT_ENOUGH_REPLICAS\|Not enough\|not enough\|TIMED_OUT\|timed out" "$T/minisr.out" ||
  fail "no NOT_ENOUGH_REPLICAS error: $(head -3 "$T/minisr.out")"
log "no record acknowledged below min.insync.replicas"
for id in $others; do broker_restart "$id"; done
wait_until 60 healthy || fail "the cluster did not heal"
FX_OUT="$T/after.out" fx_bg verifiable-producer --bootstrap-server "$(bootstrap_all)" \
  --topic $t --acks all --max-messages 100 --value-prefix after
wait $FX_PID 2>/dev/null || true
[ "$(acked "$T/after.out")" -eq 100 ] || fail "producing after the recovery failed"

# ---- every acknowledged record is there
fx verifiable-consumer --bootstrap-server "$(bootstrap_all)" --topic $t --from-beginning \
  --timeout-ms 5000 >"$T/vc.out" 2>/dev/null || true
cat "$T/vp.out" "$T/zombie.out" "$T/minisr.out" "$T/after.out" >"$T/all.out"
result=$("$top_srcdir/tests/integration/verify-records" "$T/all.out" "$T/vc.out") ||
  fail "acknowledged records lost: $result"
grep -q "out_of_order=0" <<<"$result" || fail "records out of order: $result"
log "$result"
pass
