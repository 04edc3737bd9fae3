#!/usr/bin/env bash
# Controlled shutdown, on a three-node ZooKeeper ensemble: SIGTERM to a
# broker leading a third of 1,000 partitions (RF 3) moves every leadership
# away in under a second, while an acks=all producer sees no error; the
# broker then comes back, and once it is in every ISR a preferred leader
# election (fluxo-leader-election --election-type preferred
# --all-topic-partitions) makes every partition's first replica its
# leader again within 30 s.
. "$(dirname "$0")/lib.sh"

parts=${FLUXO_TEST_PARTITIONS:-1000}
zk_start 3
for id in 1 2 3; do broker_start $id auto.leader.rebalance.enable=false; done
B=$(bootstrap_all)
t=cshut
fx topics --bootstrap-server "$B" --create --topic $t --partitions "$parts" \
  --replication-factor 3 --config min.insync.replicas=2 --timeout 120000 >/dev/null ||
  fail "cannot create $parts partitions"
led() { # broker -> partitions it leads
  fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t 2>/dev/null |
    awk -v b="$1" '$3 == "Partition:" && $6 == b' | wc -l
}
healthy() {
  [ -z "$(fx topics --bootstrap-server "$(bootstrap_all)" --describe --topic $t \
    --under-replicated-partitions 2>/dev/null)" ]
}
wait_until 120 healthy || fail "the ISRs did not fill"
n=$(led 2)
[ "$n" -gt 0 ] || fail "broker 2 leads nothing"
log "broker 2 leads $n of $parts partitions"

FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer --bootstrap-server "$B" \
  --topic $t --acks all --throughput 2000 --max-messages -1
vp=$FX_PID
wait_until 30 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 1000 ]" ||
  fail "the producer made no progress"

broker_stop 2
ms=$(grep -o 'controlled shutdown done in [0-9]* ms' "$T/broker-2.log" | tail -1 | grep -o '[0-9]*')
[ -n "$ms" ] || fail "no controlled shutdown: $(grep 'controlled shutdown' "$T/broker-2.log" | tail -3)"
log "controlled shutdown of broker 2 moved $n leaderships in $ms ms"
# The target (under 1 s) holds for the build users run, checked by
# tests/run's -Werror build; AddressSanitizer makes the brokers two to three
# times slower (835 ms measured on a loaded machine), so the sanitizer run
# checks the same behaviour against three times the bound.
limit=1000
[ "${FLUXO_TEST_MODE:-}" != sanitize ] || limit=3000
[ "$ms" -lt "$limit" ] || fail "controlled shutdown took $ms ms (bound $limit ms)"
[ "$(led 2)" -eq 0 ] || fail "broker 2 still leads partitions"

before=$(grep -c producer_send_success "$T/vp.out")
wait_until 30 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge $((before + 2000)) ]" ||
  fail "the producer stalled after the controlled shutdown"
broker_restart 2
wait_until 120 healthy || fail "broker 2 did not rejoin the ISRs"
t0=$(date +%s%N)
fx leader-election --bootstrap-server "$B" --election-type preferred \
  --all-topic-partitions >"$T/election.out" 2>&1 ||
  fail "preferred leader election failed: $(head -5 "$T/election.out")"
# Every partition (all $parts of them) is led by its first replica.
preferred() {
  fx topics --bootstrap-server "$B" --describe --topic $t 2>/dev/null |
    awk -v want="$parts" '$3 == "Partition:" { n++; split($8, r, ","); if ($6 != r[1]) bad++ }
      END { exit !(n == want && bad == 0) }'
}
not_preferred() {
  fx topics --bootstrap-server "$B" --describe --topic $t 2>/dev/null |
    awk '$3 == "Partition:" { split($8, r, ","); if ($6 != r[1]) bad++ } END { print bad + 0 }'
}
wait_until 30 preferred ||
  fail "$(not_preferred) partitions not led by their preferred replica 30 s after the election"
log "preferred leaders restored $(( ($(date +%s%N) - t0) / 1000000 )) ms after the election started"
[ "$(led 2)" -eq "$n" ] || fail "broker 2 leads $(led 2) partitions, not $n as before"

kill -TERM $vp
wait $vp 2>/dev/null || true
errors=$(grep -c producer_send_error "$T/vp.out" || true)
[ "$errors" -eq 0 ] || fail "$errors sends failed: $(grep -m3 producer_send_error "$T/vp.out")"
fx verifiable-consumer --bootstrap-server "$B" --topic $t --from-beginning \
  --timeout-ms 5000 >"$T/vc.out" 2>/dev/null || true
# The producer is idempotent (the client's default): a request the old
# leader appended but could not acknowledge is retried without duplicating.
result=$("$top_srcdir/tests/integration/verify-records" "$T/vp.out" "$T/vc.out") ||
  fail "records lost or duplicated: $result"
log "$result"
pass
