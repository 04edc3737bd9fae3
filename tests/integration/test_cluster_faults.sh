#!/usr/bin/env bash
# Faults of a three-broker cluster on a three-node ZooKeeper ensemble:
#  1. the controller is killed: another broker takes over with a larger
#     controller epoch, and the cluster keeps serving;
#  2. a partition leader L is paused (SIGSTOP) past its session timeout
#     with a divergent, never-committed tail, built deterministically on
#     topic "zombie" (one partition, replicas L, F1, F2, L not the
#     controller, min.insync.replicas=2):
#       - 50 records are produced with acks=all and replicated to all three;
#       - F1 and F2 are paused; a producer sends 1 record to L, and once
#         L has appended it, another producer sends 4 more (acks=all): L
#         appends them (its ISR still has 3 members: shrinking takes
#         replica.lag.time.max.ms, 10 s, or a session timeout) but cannot
#         commit them. A paused follower receives at most the answer to
#         the one fetch it had outstanding, which the first append to L
#         completes, so of the 5 at most the first reaches a follower;
#       - once L's log holds all 5, L is paused and F1, F2 resume (paused
#         about 2 s: less than their 6 s session, so they stay in the
#         ISR). L's session expires, and one of them leads epoch E+1;
#       - 20 records are produced (acks=all) to the new leader, at the
#         offsets where L holds its tail;
#       - a producer that knows only L sends 10 records while L is paused
#         (the zombie's writes); then L resumes.
#     Asserted: L re-registers; no record that reached no follower is
#     acknowledged (the tail's last 4, the zombie's 10: every one
#     reported as an error; the tail's first is acknowledged only if the
#     new leader has it); L logs "truncating from A to B" for zombie-0 with A past
#     its tail and B where the new leader's epoch starts; the three
#     replicas then hold the same records, offset by offset
#     (fluxo-dump-log --print-data-log of each broker's segment files),
#     and none of them holds the tail's last 4 records or any zombie
#     record; the under-replicated gauge rises and falls back to 0;
#  3. the ISR falls below min.insync.replicas on topic "minisr" (replicas
#     K, O1, O2, K the controller; 20 records committed first): O1 and O2
#     are killed, and at once 3 records are sent (acks=all, retries=0):
#     K appends them while its ISR still has 3 members (it shrinks when
#     the dead brokers' sessions expire, seconds later) and answers
#     NOT_ENOUGH_REPLICAS_AFTER_APPEND when it shrinks; 5 records sent
#     after that are refused with NOT_ENOUGH_REPLICAS and not written.
#     No other error (no timeout), nothing acknowledged. When the brokers
#     return, producing works again.
# Throughout, an acks=all producer runs on topic "faults"; every
# acknowledged record of every producer is read back at its offset, in
# order.
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

# ---- 2. a paused leader with a divergent tail
z=zombie
describe_on() { # broker topic
  fx topics --bootstrap-server "$(bs "$1")" --describe --topic "$2" 2>/dev/null
}
leo() { # broker topic partition -> log end offset (metrics)
  curl -s --max-time 2 "http://127.0.0.1:${MPORT[$1]}/metrics" |
    awk -v t="topic=\"$2\"" -v p="partition=\"$3\"" \
      '$1 ~ /^fluxo_log_end_offset\{/ && index($1, t) && index($1, p) { print $2 }'
}
leo_is() { [ "$(leo "$1" "$2" "$3")" = "$4" ]; }
replicas_agree() { # topic partitions...
  local tp=$1 q a b c; shift
  for q in "$@"; do
    a=$(leo 1 "$tp" "$q"); b=$(leo 2 "$tp" "$q"); c=$(leo 3 "$tp" "$q")
    [ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] || return 1
  done
}
isr_full() { # broker topic: every partition's ISR has 3 members, per broker $1
  describe_on "$1" "$2" | awk '$3 == "Partition:" { n++; if (split($10, r, ",") != 3) bad++ }
    END { exit !(n > 0 && bad == 0) }'
}
errors() { grep -c producer_send_error "$1" || true; }
exited() { ! kill -0 "$1" 2>/dev/null; }

read -r ctl _ < <(controller)
old=""
for id in 1 2 3; do [ "$id" = "$ctl" ] || { old=$id; break; }; done
fols=""
for id in 1 2 3; do [ "$id" = "$old" ] || fols="$fols $id"; done
read -r f1 f2 <<<"$fols"
fx topics --bootstrap-server "$B" --create --topic $z --replica-assignment "$old:$f1:$f2" \
  --config min.insync.replicas=2 >/dev/null || fail "cannot create topic $z"
for id in 1 2 3; do
  wait_until 30 isr_full "$id" $z || fail "topic $z: ISR not full on broker $id: $(describe_on "$id" $z)"
done
FX_OUT="$T/zc.out" fx_bg verifiable-producer --bootstrap-server "$B" --topic $z \
  --acks all --max-messages 50 --value-prefix zc
wait $FX_PID 2>/dev/null || true
[ "$(acked "$T/zc.out")" -eq 50 ] || fail "topic $z: $(acked "$T/zc.out") of 50 records acknowledged"
wait_until 20 replicas_agree $z 0 ||
  fail "topic $z: the replicas did not reach one log end offset"
base=$(leo "$old" $z 0)
[ "$base" -eq 50 ] || fail "topic $z: log end offset $base after 50 records"

log "pausing followers $f1 and $f2 of $z-0; broker $old (leader) appends a tail"
broker_pause "$f1"
broker_pause "$f2"
FX_OUT="$T/tail.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$old")" \
  --topic $z --acks all --max-messages 1 --value-prefix tail \
  --producer-property retries=0 --producer-property request.timeout.ms=30000
tailp=$FX_PID
wait_until 15 leo_is "$old" $z 0 $((base + 1)) ||
  fail "broker $old did not append the first record (log end offset $(leo "$old" $z 0))"
# The followers' outstanding fetches (one each at most) are answered within
# milliseconds of the first append; half a second is a wide margin.
sleep 0.5
FX_OUT="$T/tailb.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$old")" \
  --topic $z --acks all --max-messages 4 --value-prefix tailb \
  --producer-property retries=0 --producer-property request.timeout.ms=30000
tailbp=$FX_PID
wait_until 15 leo_is "$old" $z 0 $((base + 5)) ||
  fail "broker $old did not append the 5 records (log end offset $(leo "$old" $z 0))"
log "pausing broker $old (leader of $z-0, log end offset $((base + 5))); resuming $f1 and $f2"
broker_pause "$old"
broker_resume "$f1"
broker_resume "$f2"
t_pause=$SECONDS
log "followers resumed at log end offsets $(leo "$f1" $z 0) and $(leo "$f2" $z 0)"
new_leader() { # -> leader of $z-0 per broker f1, when not the paused one
  describe_on "$f1" $z | awk -v o="$old" '$3 == "Partition:" && $6 != "none" && $6 != o { print $6 }'
}
has_new_leader() { [ -n "$(new_leader)" ]; }
wait_until 30 has_new_leader || fail "no new leader for $z-0 while broker $old is paused"
nl=$(new_leader)
# Its new epoch starts at its log end offset: nothing is written to $z
# until the records below. The tail is divergent: neither follower has
# all of it.
nstart=$(leo "$nl" $z 0)
for id in $f1 $f2; do
  e=$(leo "$id" $z 0)
  [ -n "$e" ] && [ "$e" -lt $((base + 5)) ] ||
    fail "follower $id has log end offset '$e': the tail is not divergent"
done
log "broker $nl leads $z-0 from offset $nstart, $((SECONDS - t_pause)) s after the pause (followers end at $(leo "$f1" $z 0) and $(leo "$f2" $z 0))"
FX_OUT="$T/zn.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$f1"),$(bs "$f2")" \
  --topic $z --acks all --max-messages 20 --value-prefix zn
wait $FX_PID 2>/dev/null || true
[ "$(acked "$T/zn.out")" -eq 20 ] || fail "the new leader acknowledged $(acked "$T/zn.out") of 20 records"
# The live brokers report the partitions the paused one no longer follows.
live=" $f1 $f2"
ur_live() { [ "$(under_replicated $live)" -gt 0 ]; }
wait_until 30 ur_live ||
  fail "fluxo_under_replicated_partitions did not rise while broker $old is paused"
log "under-replicated partitions while paused: $(under_replicated $live)"
# Writes to the zombie: a producer that knows only the paused broker. Its
# records wait for metadata, so they go in one request, to the paused
# broker, which answers as the leader it believes it still is.
FX_OUT="$T/zombie.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$old")" \
  --topic $z --acks all --max-messages 10 --value-prefix zombie \
  --producer-property retries=0 --producer-property request.timeout.ms=10000
zp=$FX_PID
sleep 1
broker_resume "$old"
log "resumed broker $old"
wait_until 30 bash -c "tail -n +$(( ${BROKER_LOGPOS[$old]} + 1 )) '$T/broker-$old.log' | grep >/dev/null 're-registered with epoch'" ||
  fail "broker $old did not re-register after its session expired"
wait_until 40 exited $zp || fail "the zombie's producer did not finish"
wait_until 40 exited $tailp || fail "the tail's producer did not finish"
wait_until 40 exited $tailbp || fail "the tail's second producer did not finish"
wait $zp 2>/dev/null || true
wait $tailp 2>/dev/null || true
wait $tailbp 2>/dev/null || true
# The first record of the tail may have reached the followers in the
# answer to their outstanding fetch. Their next fetch, sent to L while it
# was paused, then tells the resumed L that they have it, and L may
# acknowledge it: truthfully, since it is then in every replica's log
# (the new leader's epoch starts after it; the end checks it is read
# back at its offset like any acknowledged record). The other 4 and the
# zombie's 10 reached no follower: none may be acknowledged.
case "$(acked "$T/tail.out"):$(errors "$T/tail.out")" in
  1:0) [ "$nstart" -gt "$base" ] ||
         fail "the first record of the tail was acknowledged, but the new leader does not have it" ;;
  0:1) ;;
  *) fail "the first record of the tail: $(cat "$T/tail.out")" ;;
esac
log "tail: first record $( [ "$(acked "$T/tail.out")" -eq 1 ] && echo "reached the followers and was acknowledged" || echo refused)"
for f in tailb:4 zombie:10; do
  n=${f#*:}; f=${f%:*}
  [ "$(acked "$T/$f.out")" -eq 0 ] ||
    fail "$(acked "$T/$f.out") records sent to broker $old as leader were acknowledged: $(grep -m3 producer_send_success "$T/$f.out")"
  [ "$(errors "$T/$f.out")" -eq "$n" ] ||
    fail "$f: $(errors "$T/$f.out") of $n records reported as errors"
  log "$f: $n records refused ($(grep -o '"exception":"[A-Z_]*"' "$T/$f.out" | sort | uniq -c | tr -s ' \n' ' '))"
done
# The zombie truncated its tail: a line of this run, for zombie-0.
trunc=$(grep -h "topic=$z partition=0: truncating from" "$T/broker-$old.log" | tail -1)
[ -n "$trunc" ] || fail "broker $old logged no truncation of $z-0"
from=$(sed -E 's/.*truncating from ([0-9]+) to ([0-9]+).*/\1/' <<<"$trunc")
to=$(sed -E 's/.*truncating from ([0-9]+) to ([0-9]+).*/\2/' <<<"$trunc")
[ "$from" -ge $((base + 5)) ] && [ "$to" -eq "$nstart" ] ||
  fail "broker $old truncated from $from to $to (its tail ended at $((base + 5)), the new leader's epoch starts at $nstart)"
log "broker $old: $trunc"
healthy_all() { healthy && isr_full "$old" $z; }
wait_until 60 healthy_all || fail "broker $old did not rejoin every ISR"
ur_none() { [ "$(under_replicated 1 2 3)" -eq 0 ]; }
wait_until 30 ur_none ||
  fail "fluxo_under_replicated_partitions did not fall back to 0"
for id in 1 2 3; do prometheus_text_ok "$id" || fail "broker $id: metrics are not Prometheus text"; done
# Every replica holds the same records, offset by offset.
wait_until 20 replicas_agree $z 0 ||
  fail "replicas of $z-0 end at $(leo 1 $z 0), $(leo 2 $z 0), $(leo 3 $z 0)"
records_of() { # broker -> "offset payload" of every record of zombie-0
  local files
  files=$(find "$T/data-$1/$z-0" -name '*.log' | sort | paste -sd, -)
  [ -n "$files" ] || return 1
  fx dump-log --print-data-log --files "$files" |
    sed -n -E 's/^\| offset: ([0-9]+) .* payload: (.*)$/\1 \2/p'
}
for id in 1 2 3; do records_of "$id" >"$T/$z-$id.records" || fail "no segment of $z-0 on broker $id"; done
n=$(wc -l <"$T/$z-$old.records")
[ "$n" -eq "$(leo "$old" $z 0)" ] || fail "broker $old: $n records in $z-0, log end offset $(leo "$old" $z 0)"
for id in $f1 $f2; do
  cmp -s "$T/$z-$old.records" "$T/$z-$id.records" ||
    fail "$z-0 differs between brokers $old and $id: $(diff "$T/$z-$old.records" "$T/$z-$id.records" | head -5)"
done
if grep -E ' (tailb|zombie)\.[0-9]+$' "$T/$z-$old.records" >&2; then
  fail "records of the truncated tail or of the zombie's writes survived"
fi
log "$z-0: $n records, identical on brokers 1, 2 and 3"

# ---- 3. ISR below min.insync.replicas
kill -TERM $vp; wait $vp 2>/dev/null || true
# With the producers stopped, every replica of every partition ends with the
# same log end offset. (While records flow, the three brokers, read one
# after the other, are rarely at the same offset: the check needs a log
# that stands still.)
wait_until 20 replicas_agree $t 0 1 2 ||
  fail "replicas diverge after the pause: $(for q in 0 1 2; do echo -n "p$q=$(leo 1 $t $q),$(leo 2 $t $q),$(leo 3 $t $q) "; done)"
log "every replica of every partition of $t ends at the same offset"

m=minisr
read -r keep _ < <(controller)
others=""
for id in 1 2 3; do [ "$id" = "$keep" ] || others="$others $id"; done
read -r o1 o2 <<<"$others"
fx topics --bootstrap-server "$B" --create --topic $m --replica-assignment "$keep:$o1:$o2" \
  --config min.insync.replicas=2 >/dev/null || fail "cannot create topic $m"
wait_until 30 isr_full "$keep" $m || fail "topic $m: ISR not full: $(describe_on "$keep" $m)"
FX_OUT="$T/mc.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$keep")" \
  --topic $m --acks all --max-messages 20 --value-prefix mc
wait $FX_PID 2>/dev/null || true
[ "$(acked "$T/mc.out")" -eq 20 ] || fail "topic $m: $(acked "$T/mc.out") of 20 records acknowledged"
for id in $others; do broker_kill "$id"; done
t_kill=$(date +%s%N)
log "killed brokers$others; 3 records to $m-0 while its ISR still has 3 members"
FX_OUT="$T/minisr.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$keep")" \
  --topic $m --acks all --max-messages 3 --value-prefix minisr \
  --producer-property retries=0 --producer-property request.timeout.ms=30000
mp=$FX_PID
wait_until 10 leo_is "$keep" $m 0 23 ||
  fail "broker $keep did not append the 3 records (log end offset $(leo "$keep" $m 0))"
isr_full "$keep" $m ||
  fail "the ISR of $m-0 shrank before the records were appended ($(( ($(date +%s%N) - t_kill) / 1000000 )) ms after the kill): too slow to test NOT_ENOUGH_REPLICAS_AFTER_APPEND"
isr_alone() { describe_on "$1" "$2" | grep -q "Partition: 0.*Isr: $1\$"; }
wait_until 30 isr_alone "$keep" $m ||
  fail "the ISR of $m-0 did not shrink to broker $keep"
log "ISR of $m-0 is broker $keep alone $(( ($(date +%s%N) - t_kill) / 1000000 )) ms after the kill"
wait_until 40 exited $mp || fail "the $m producer did not finish"
wait $mp 2>/dev/null || true
FX_OUT="$T/minisr2.out" fx_bg verifiable-producer --bootstrap-server "$(bs "$keep")" \
  --topic $m --acks all --max-messages 5 --value-prefix minisrb \
  --producer-property retries=0 --producer-property request.timeout.ms=30000
mp=$FX_PID
wait_until 40 exited $mp || fail "the second $m producer did not finish"
wait $mp 2>/dev/null || true
exceptions() { grep -o '"exception":"[A-Z_]*"' "$1" | sed 's/.*:"\(.*\)"/\1/' | sort | uniq -c | tr -s ' \n' ' '; }
[ "$(acked "$T/minisr.out")" -eq 0 ] && [ "$(acked "$T/minisr2.out")" -eq 0 ] ||
  fail "records acknowledged with the ISR below min.insync.replicas"
na=$(grep -c '"exception":"NOT_ENOUGH_REPLICAS_AFTER_APPEND"' "$T/minisr.out" || true)
[ "$na" -eq 3 ] ||
  fail "appended before the ISR shrank, 3 records expected NOT_ENOUGH_REPLICAS_AFTER_APPEND:$(exceptions "$T/minisr.out")"
nn=$(grep -c '"exception":"NOT_ENOUGH_REPLICAS"' "$T/minisr2.out" || true)
[ "$nn" -eq 5 ] ||
  fail "sent after the ISR shrank, 5 records expected NOT_ENOUGH_REPLICAS:$(exceptions "$T/minisr2.out")"
[ "$(leo "$keep" $m 0)" -eq 23 ] ||
  fail "records refused with NOT_ENOUGH_REPLICAS were written (log end offset $(leo "$keep" $m 0))"
log "below min.insync.replicas: 3 records NOT_ENOUGH_REPLICAS_AFTER_APPEND, 5 NOT_ENOUGH_REPLICAS (not written)"
for id in $others; do broker_restart "$id"; done
healthy_3() { healthy && isr_full "$keep" $z && isr_full "$keep" $m; }
wait_until 60 healthy_3 || fail "the cluster did not heal"
FX_OUT="$T/after.out" fx_bg verifiable-producer --bootstrap-server "$(bootstrap_all)" \
  --topic $t --acks all --max-messages 100 --value-prefix after
wait $FX_PID 2>/dev/null || true
[ "$(acked "$T/after.out")" -eq 100 ] || fail "producing after the recovery failed"

# ---- every acknowledged record is there
for tp in $t $z $m; do
  fx verifiable-consumer --bootstrap-server "$(bootstrap_all)" --topic $tp --from-beginning \
    --timeout-ms 5000 2>/dev/null || true
done >"$T/vc.out"
cat "$T/vp.out" "$T/zc.out" "$T/tail.out" "$T/tailb.out" "$T/zn.out" \
  "$T/zombie.out" "$T/mc.out" "$T/minisr.out" "$T/minisr2.out" "$T/after.out" >"$T/all.out"
result=$("$top_srcdir/tests/integration/verify-records" "$T/all.out" "$T/vc.out") ||
  fail "acknowledged records lost: $result"
grep -q "out_of_order=0" <<<"$result" || fail "records out of order: $result"
log "$result"
pass
