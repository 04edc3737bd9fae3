#!/usr/bin/env bash
# fluxo-reassign-partitions end to end on a 3-broker cluster:
#   --execute with --throttle prints the rollback JSON, sets the broker
#     rates and the topic's throttled-replica lists, and starts the moves;
#   --verify reports them and, once done, removes every throttle;
#   the records are all there on the new replicas;
#   a slow (throttled) move shows in --list, blocks another --execute
#     without --additional, and --cancel puts the old replicas back;
#   with clients running (a verifiable producer with acks=all, a
#     verifiable consumer): a topic of ~4 MB on brokers 1,2 moves to a
#     broker 4 started after the topic was created, under a 1 MB/s
#     throttle (seconds); --verify reports it done; a second move at
#     10 kB/s is cancelled and --describe shows the old replicas exactly;
#     the producer had no send error and the consumer no error, and it
#     read back every acknowledged record.
# Skips (77) while the controller does not implement reassignments.
. "$(dirname "$0")/lib.sh"

zk_start
for id in 1 2 3; do
  broker_start "$id" auto.leader.rebalance.enable=false
done
B=$(bootstrap_all)
rp() { fx reassign-partitions --bootstrap-server "$B" "$@"; }
cfg() { fx configs --bootstrap-server "$B" "$@"; }

if ! out=$(rp --list 2>&1); then
  grep -q "Not a controller request" <<<"$out" &&
    skip "the controller does not implement partition reassignments yet"
  fail "--list: $out"
fi
[ "$out" = "No partition reassignments found." ] || fail "--list on an idle cluster: $out"

fx topics --bootstrap-server "$B" --create --topic mv --replica-assignment 1:2,2:1 >/dev/null ||
  fail "create mv"
seq -f 'rec-%05g' 1 200 | fx console-producer --bootstrap-server "$B" --topic mv \
  --request-required-acks all >/dev/null 2>"$T/prod.err" || fail "produce: $(cat "$T/prod.err")"

# ------------------------------------------------------------ execute
cat >"$T/plan.json" <<'EOF'
{"version":1,"partitions":[
 {"topic":"mv","partition":0,"replicas":[3,2],"log_dirs":["any","any"]},
 {"topic":"mv","partition":1,"replicas":[2,3]}]}
EOF
out=$(rp --execute --reassignment-json-file "$T/plan.json" --throttle 50000000) ||
  fail "execute: $out"
expect='Current partition replica assignment

{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"mv","partition":1,"replicas":[2,1],"log_dirs":["any","any"]}]}

Save this to use as the --reassignment-json-file option during rollback
Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.
The inter-broker throttle limit was set to 50000000 B/s
Successfully started partition reassignments for mv-0,mv-1'
[ "$out" = "$expect" ] || fail "execute output:
$out"

# The throttles are in place until --verify sees the moves done.
out=$(cfg --topic mv --describe)
grep -q "^  leader.replication.throttled.replicas=0:1,0:2,1:2,1:1 " <<<"$out" &&
  grep -q "^  follower.replication.throttled.replicas=0:3,1:3 " <<<"$out" ||
  fail "topic throttles: $out"
for id in 1 2 3; do
  out=$(cfg --broker "$id" --describe)
  grep -q "^  leader.replication.throttled.rate=50000000 " <<<"$out" &&
    grep -q "^  follower.replication.throttled.rate=50000000 " <<<"$out" ||
    fail "broker $id throttle: $out"
done

done_moving() {
  rp --verify --reassignment-json-file "$T/plan.json" >"$T/verify.out" 2>&1 &&
    grep -qx "Reassignment of partition mv-0 is complete." "$T/verify.out" &&
    grep -qx "Reassignment of partition mv-1 is complete." "$T/verify.out"
}
wait_until 60 done_moving || fail "reassignment did not complete: $(cat "$T/verify.out")"
head -1 "$T/verify.out" | grep >/dev/null -x "Status of partition reassignment:" || fail "verify: $(cat "$T/verify.out")"
grep -qx "Clearing broker-level throttles on brokers 1,2,3" "$T/verify.out" &&
  grep -qx "Clearing topic-level throttles on topic mv" "$T/verify.out" ||
  fail "verify did not clear the throttles: $(cat "$T/verify.out")"
[ "$(cfg --topic mv --describe)" = "Dynamic configs for topic mv are:" ] ||
  fail "topic throttles left: $(cfg --topic mv --describe)"
[ "$(cfg --broker 2 --describe)" = "Dynamic configs for broker 2 are:" ] ||
  fail "broker throttles left: $(cfg --broker 2 --describe)"
desc=$(fx topics --bootstrap-server "$B" --describe --topic mv)
grep -q "Partition: 0	Leader: [0-9]*	Replicas: 3,2	" <<<"$desc" &&
  grep -q "Partition: 1	Leader: [0-9]*	Replicas: 2,3	" <<<"$desc" ||
  fail "replica sets after the move: $desc"
[ "$(rp --list)" = "No partition reassignments found." ] || fail "list after the move: $(rp --list)"

# Every record, from the new replicas (broker 1 holds none now).
broker_stop 1
B=$(bs 2),$(bs 3)
got=$(fx console-consumer --bootstrap-server "$B" --topic mv --from-beginning \
  --max-messages 200 --timeout-ms 20000 2>/dev/null | sort)
[ "$got" = "$(seq -f 'rec-%05g' 1 200)" ] || fail "records after the move: $(echo "$got" | wc -l) of 200"
broker_restart 1
B=$(bootstrap_all)

# ------------------------------------------------------------ a slow move, cancelled
# ~3 MB to copy at 10 kB/s (after a first fetch that may pass at once)
# stays in progress for minutes.
fx producer-perf --topic mv --num-records 6000 --record-size 1000 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=all >/dev/null 2>&1 || fail "bulk produce"
cat >"$T/slow.json" <<'EOF'
{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[3,2,1]}]}
EOF
rp --execute --reassignment-json-file "$T/slow.json" --throttle 10000 >/dev/null ||
  fail "slow execute"
out=$(rp --list)
[ "$out" = "Current partition reassignments:
mv-0: replicas: 3,2,1. adding: 1." ] || fail "list during the move: $out"
out=$(rp --verify --reassignment-json-file "$T/slow.json")
grep -qx "Reassignment of partition mv-0 is still in progress." <<<"$out" ||
  fail "verify during the move: $out"
grep -q "Clearing" <<<"$out" && fail "throttles cleared while moving: $out"
out=$(rp --execute --reassignment-json-file "$T/plan.json" 2>&1) &&
  fail "execute during a move succeeded"
grep -q "Cannot execute because there is an existing partition assignment." <<<"$out" ||
  fail "execute during a move: $out"
out=$(rp --cancel --reassignment-json-file "$T/slow.json") || fail "cancel: $out"
grep -qx "Successfully cancelled partition reassignment for: mv-0" <<<"$out" ||
  fail "cancel output: $out"
grep -qx "Clearing topic-level throttles on topic mv" <<<"$out" || fail "cancel throttles: $out"
[ "$(rp --list)" = "No partition reassignments found." ] || fail "list after cancel: $(rp --list)"
back() { fx topics --bootstrap-server "$B" --describe --topic mv | grep >/dev/null "Partition: 0	Leader: [0-9]*	Replicas: 3,2	"; }
wait_until 20 back || fail "replicas after cancel: $(fx topics --bootstrap-server "$B" --describe --topic mv)"
out=$(rp --cancel --reassignment-json-file "$T/slow.json") || fail "second cancel: $out"
grep -qx "None of the specified partition reassignments are active." <<<"$out" ||
  fail "second cancel: $out"

# Bad files are refused before anything is sent.
echo '{"version":1,"partitions":[{"topic":"mv","partition":7,"replicas":[1]}]}' >"$T/bad.json"
out=$(rp --execute --reassignment-json-file "$T/bad.json" 2>&1) && fail "unknown partition accepted"
grep -q "non-existent partitions: mv-7" <<<"$out" || fail "unknown partition: $out"
echo '{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[1,9]}]}' >"$T/bad.json"
out=$(rp --execute --reassignment-json-file "$T/bad.json" 2>&1) && fail "unknown broker accepted"
grep -q "non-existent brokerIDs: 9" <<<"$out" || fail "unknown broker: $out"

# ------------------------------------------------------------ a live move to a new broker
now_ms() { date +%s%3N; }
fx topics --bootstrap-server "$B" --create --topic live --replica-assignment 1:2,2:1 >/dev/null ||
  fail "create live"
fx producer-perf --topic live --num-records 4000 --record-size 1000 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=all >/dev/null 2>&1 || fail "bulk produce to live"
broker_start 4 auto.leader.rebalance.enable=false
B=$(bootstrap_all)
FX_OUT="$T/vp.out" FX_ERR="$T/vp.err" fx_bg verifiable-producer --bootstrap-server "$B" \
  --topic live --max-messages -1 --throughput 200 --acks -1 --value-prefix live \
  --producer-property retries=2147483647
vp=$FX_PID
FX_OUT="$T/vc.out" FX_ERR="$T/vc.err" fx_bg verifiable-consumer --bootstrap-server "$B" \
  --topic live --from-beginning --timeout-ms 120000
vc=$FX_PID
wait_until 20 bash -c "[ \$(grep -c producer_send_success '$T/vp.out') -ge 100 ]" ||
  fail "the verifiable producer made no progress: $(head -3 "$T/vp.err")"

cat >"$T/live.json" <<'EOF'
{"version":1,"partitions":[
 {"topic":"live","partition":0,"replicas":[4,2]},
 {"topic":"live","partition":1,"replicas":[2,4]}]}
EOF
t0=$(now_ms)
out=$(rp --execute --reassignment-json-file "$T/live.json" --throttle 1000000) ||
  fail "execute live: $out"
grep -qx "Successfully started partition reassignments for live-0,live-1" <<<"$out" ||
  fail "execute live: $out"
out=$(rp --verify --reassignment-json-file "$T/live.json")
grep -q "^Reassignment of partition live-[01] is still in progress.$" <<<"$out" ||
  fail "the throttled move was not in progress right after --execute: $out"
live_moved() {
  rp --verify --reassignment-json-file "$T/live.json" >"$T/verify.out" 2>&1 &&
    grep -qx "Reassignment of partition live-0 is complete." "$T/verify.out" &&
    grep -qx "Reassignment of partition live-1 is complete." "$T/verify.out"
}
wait_until 60 live_moved || fail "the move to broker 4 did not complete: $(cat "$T/verify.out")"
took=$(( $(now_ms) - t0 ))
grep -qx "Clearing topic-level throttles on topic live" "$T/verify.out" ||
  fail "verify did not clear the throttles: $(cat "$T/verify.out")"
[ "$(cfg --topic live --describe)" = "Dynamic configs for topic live are:" ] ||
  fail "topic throttles left: $(cfg --topic live --describe)"
[ "$(cfg --broker 4 --describe)" = "Dynamic configs for broker 4 are:" ] ||
  fail "broker throttles left: $(cfg --broker 4 --describe)"
desc=$(fx topics --bootstrap-server "$B" --describe --topic live)
grep -q "Partition: 0	Leader: [0-9]*	Replicas: 4,2	" <<<"$desc" &&
  grep -q "Partition: 1	Leader: [0-9]*	Replicas: 2,4	" <<<"$desc" ||
  fail "replica sets after the move to broker 4: $desc"
log "moved live (~4 MB) to broker 4 at 1 MB/s in $took ms with clients running"

# A second move, too slow to finish, cancelled: the old replicas exactly.
cat >"$T/live-slow.json" <<'EOF'
{"version":1,"partitions":[
 {"topic":"live","partition":0,"replicas":[3,1]},
 {"topic":"live","partition":1,"replicas":[1,3]}]}
EOF
rp --execute --reassignment-json-file "$T/live-slow.json" --throttle 10000 >/dev/null ||
  fail "slow execute of live"
out=$(rp --verify --reassignment-json-file "$T/live-slow.json")
grep -qx "Reassignment of partition live-0 is still in progress." <<<"$out" ||
  fail "verify during the slow move: $out"
out=$(rp --cancel --reassignment-json-file "$T/live-slow.json") || fail "cancel live: $out"
grep -qx "Successfully cancelled partition reassignments for: live-0,live-1" <<<"$out" ||
  fail "cancel live: $out"
live_back() {
  fx topics --bootstrap-server "$B" --describe --topic live >"$T/desc.out" 2>&1 &&
    grep -q "Partition: 0	Leader: [0-9]*	Replicas: 4,2	" "$T/desc.out" &&
    grep -q "Partition: 1	Leader: [0-9]*	Replicas: 2,4	" "$T/desc.out"
}
wait_until 20 live_back || fail "replicas after the cancel: $(cat "$T/desc.out")"
[ "$(rp --list)" = "No partition reassignments found." ] || fail "list after cancel: $(rp --list)"

# The clients: no error, and every acknowledged record read back.
kill -TERM "$vp"
wait "$vp" 2>/dev/null || true
grep -q shutdown_complete "$T/vp.out" || fail "the producer did not shut down cleanly"
errors=$(grep -c producer_send_error "$T/vp.out" || true)
[ "$errors" -eq 0 ] || fail "$errors producer errors: $(grep -m3 producer_send_error "$T/vp.out")"
extract() { sed -n -E 's/.*"partition":([0-9]+).*"offset":([0-9]+).*"value":"([^"]*)".*/\1 \2 \3/p'; }
grep producer_send_success "$T/vp.out" | extract | sort >"$T/acked"
acked=$(wc -l <"$T/acked")
all_read() {
  grep record_data "$T/vc.out" | extract | sort >"$T/read"
  [ -z "$(comm -23 "$T/acked" "$T/read" | head -1)" ]
}
wait_until 30 all_read ||
  fail "$(comm -23 "$T/acked" "$T/read" | wc -l) of $acked acknowledged records were not read"
kill -TERM "$vc"
wait "$vc" 2>/dev/null || true
[ ! -s "$T/vc.err" ] || fail "the consumer reported errors: $(head -3 "$T/vc.err")"
log "no producer or consumer error; the consumer read all $acked acknowledged records"
# One at a time: brokers stopping together wait for each other's
# controlled shutdown.
for id in 4 3 2 1; do broker_stop "$id"; done
pass
