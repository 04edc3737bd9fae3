#!/usr/bin/env bash
# Three brokers, a three-node ZooKeeper ensemble, RF 3 with
# min.insync.replicas=2 and acks=all: the leader of a partition is killed
# with -9 again and again while a producer runs. Every acknowledged record
# is read back at its acknowledged offset, in order per partition; every
# partition the killed broker led is led again within
# zookeeper.session.timeout.ms + 2 s of the kill (the setting the brokers
# run with, as a client sees it: the survivors' metadata, polled every
# 20 ms); the killed broker comes back, catches up and rejoins the ISR.
. "$(dirname "$0")/lib.sh"

zk_start 3
for id in 1 2 3; do broker_start $id replica.lag.time.max.ms=10000; done
session_ms=$(broker_setting 1 zookeeper.session.timeout.ms)
[[ "$session_ms" =~ ^[0-9]+$ ]] || fail "cannot tell zookeeper.session.timeout.ms: '$session_ms'"
B=$(bootstrap_all)
t=failover

fx topics --bootstrap-server "$B" --create --topic $t --partitions 6 \
  --replication-factor 3 --config min.insync.replicas=2 >/dev/null ||
  fail "cannot create the topic"
desc=$(fx topics --bootstrap-server "$B" --describe --topic $t)
grep -q "ReplicationFactor: 3" <<<"$desc" || fail "describe: $desc"
for id in 1 2 3; do
  grep -q "Leader: $id" <<<"$desc" || fail "no partition led by broker $id: $desc"
done
[ "$(echo "$desc" | grep -c 'Isr: [0-9],[0-9],[0-9]')" -eq 6 ] || fail "ISRs not full: $desc"

leader_of() { # partition -> leader id (or none)
  fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t 2>/dev/null |
    awk -v p="$1" '$3 == "Partition:" && $4 == p { print $6 }'
}
healthy() {
  [ -z "$(fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t \
    --under-replicated-partitions 2>/dev/null)" ] &&
  [ -z "$(fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t \
    --unavailable-partitions 2>/dev/null)" ]
}

FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer --bootstrap-server "$B" \
  --topic $t --acks all --throughput 3000 --max-messages -1
vp=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 1000 ]" ||
  fail "the producer made no progress"

# The partitions broker $1 leads, as "p p ...".
led_by() {
  fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t 2>/dev/null |
    awk -v b="$1" '$3 == "Partition:" && $6 == b { printf "%s ", $4 }'
}
# Succeeds when every partition named in $2 has a leader other than $1,
# asking only the brokers in $3.
led_again() { # victim "partitions" bootstrap
  fx topics --bootstrap-server "$3" --describe --topic $t 2>/dev/null |
    awk -v v="$1" -v ps="$2" '
      BEGIN { n = split(ps, want, " "); for (i = 1; i <= n; i++) w[want[i]] = 1 }
      $3 == "Partition:" && ($4 in w) { seen++; if ($6 == v || $6 == "none") bad++ }
      END { exit !(seen == n && bad == 0) }'
}

for round in 1 2 3; do
  p=$(( (round * 2) % 6 ))
  victim=$(leader_of $p)
  [ -n "$victim" ] && [ "$victim" != none ] || fail "partition $p has no leader"
  parts=$(led_by "$victim")
  live=""
  for id in 1 2 3; do [ "$id" = "$victim" ] || live="${live:+$live,}$(bs $id)"; done
  log "round $round: killing broker $victim (leader of partitions ${parts% })"
  before=$(grep -c producer_send_success "$T/vp.out")
  t0=$(date +%s%N)
  broker_kill "$victim"
  # Polled every 20 ms; the time taken is when the answer that shows every
  # new leader came back (the tool's own run time is part of it).
  deadline=$((SECONDS + 30))
  until led_again "$victim" "$parts" "$live"; do
    [ $SECONDS -lt $deadline ] || fail "partitions ${parts% } were not all led again within 30 s"
    sleep 0.02
  done
  took=$(( ($(date +%s%N) - t0) / 1000000 ))
  log "round $round: partitions ${parts% } led again after $took ms (bound $((session_ms + 2000)) ms)"
  [ "$took" -le $((session_ms + 2000)) ] ||
    fail "leader election took $took ms (> zookeeper.session.timeout.ms $session_ms + 2 s)"
  wait_until 30 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge $((before + 1000)) ]" ||
    fail "the producer did not carry on after the failover"
  broker_restart "$victim"
  wait_until 60 healthy || fail "broker $victim did not rejoin every ISR"
  log "round $round: broker $victim back in every ISR"
done

kill -TERM $vp
wait $vp 2>/dev/null || true
errors=$(grep -c producer_send_error "$T/vp.out" || true)
[ "$errors" -eq 0 ] || fail "$errors sends failed: $(grep -m3 producer_send_error "$T/vp.out")"
fx verifiable-consumer --bootstrap-server "$B" --topic $t --from-beginning \
  --timeout-ms 5000 >"$T/vc.out" 2>/dev/null || true
result=$("$top_srcdir/tests/integration/verify-records" "$T/vp.out" "$T/vc.out") ||
  fail "records lost: $result"
log "$result"
grep -q "out_of_order=0" <<<"$result" || fail "records out of order: $result"
pass
