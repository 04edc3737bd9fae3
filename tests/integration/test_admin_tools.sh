#!/usr/bin/env bash
# fluxo-cluster-info and fluxo-leader-election on a 3-broker cluster (with
# racks, automatic leader rebalancing off), and fluxo-reassign-partitions
# --generate:
#   cluster-info reports the brokers, the controller, the counts, and the
#     under-replicated and offline partitions while a broker is down;
#   a stopped and restarted broker loses its leaderships, and a preferred
#     election (sent through a broker that is not the controller) gives
#     them back: fluxo-topics --describe shows the first replica leading;
#   Kafka's outputs for elected, already elected and failed partitions;
#   --generate proposes a placement on the given brokers only.
. "$(dirname "$0")/lib.sh"

zk_start
for id in 1 2 3; do
  broker_start "$id" broker.rack="r$id" auto.leader.rebalance.enable=false
done
B=$(bootstrap_all)

# ------------------------------------------------------------ cluster-info
info=$(fx cluster-info --bootstrap-server "$(bs 2)") || fail "cluster-info: $info"
grep -qx "Brokers: 3" <<<"$info" || fail "broker count: $info"
for id in 1 2 3; do
  grep -qx "  $id	127.0.0.1:$(broker_port "$id")	rack: r$id" <<<"$info" ||
    fail "broker $id line: $info"
done
grep -qE "^Controller: [123] \(epoch [0-9]+\)$" <<<"$info" || fail "controller line: $info"
grep -qx "Topics: 0" <<<"$info" && grep -qx "Partitions: 0" <<<"$info" ||
  fail "empty cluster counts: $info"
grep -qE "^Cluster ID: [A-Za-z0-9_-]{22}$" <<<"$info" || fail "cluster id: $info"

fx topics --bootstrap-server "$B" --create --topic el-t \
  --replica-assignment 1:2:3,2:3:1,3:1:2 >/dev/null || fail "create el-t"
fx topics --bootstrap-server "$B" --create --topic solo --replica-assignment 1 >/dev/null ||
  fail "create solo"
json() { fx cluster-info --bootstrap-server "$B" --json; }
healthy() {
  json | grep >/dev/null '"topic_count":2,"partition_count":4,"under_replicated_count":0,"offline_count":0,'
}
wait_until 20 healthy || fail "cluster not healthy after creation: $(json)"
ctl=$(json | sed -n 's/.*"controller":{"id":\([0-9]*\),"epoch":\([0-9]*\)}.*/\1/p')
[ -n "$ctl" ] || fail "no controller in the JSON: $(json)"
json | grep >/dev/null "\"brokers\":\[{\"id\":1,\"host\":\"127.0.0.1\",\"port\":$(broker_port 1),\"rack\":\"r1\"}," ||
  fail "JSON brokers: $(json)"

# A broker's settings come from that broker, whichever one bootstraps.
out=$(fx configs --bootstrap-server "$(bs 1)" --broker 3 --describe --all) ||
  fail "describe broker 3 through broker 1: $out"
grep -q "^  broker.id=3 sensitive=false synonyms={STATIC_BROKER_CONFIG:broker.id=3, DEFAULT_CONFIG:broker.id=0}$" <<<"$out" &&
  grep -q "^  broker.rack=r3 " <<<"$out" ||
  fail "broker 3's settings: $out"

# ------------------------------------------------------------ a broker goes away
leader_of() { # topic partition -> leader id
  fx topics --bootstrap-server "$B" --describe --topic "$1" |
    sed -n "s/.*	Partition: $2	Leader: \([a-z0-9]*\)	.*/\1/p"
}
isr_of() {
  fx topics --bootstrap-server "$B" --describe --topic "$1" |
    sed -n "s/.*	Partition: $2	.*Isr: \([0-9,]*\).*/\1/p"
}
broker_stop 1
B=$(bs 2),$(bs 3)
moved() { [ "$(leader_of el-t 0)" = 2 ]; }
wait_until 20 moved || fail "leadership of el-t-0 did not move to 2: $(leader_of el-t 0)"
degraded() {
  json | grep >/dev/null '"under_replicated_count":3,"offline_count":1,'
}
wait_until 20 degraded || fail "cluster-info with broker 1 down: $(json)"
json | grep >/dev/null '"offline_partitions":\[{"topic":"solo","partition":0,"leader":-1,"replicas":\[1\],' ||
  fail "offline list: $(json)"
info=$(fx cluster-info --bootstrap-server "$B")
grep -qx "Brokers: 2" <<<"$info" && grep -qx "Under-replicated partitions: 3" <<<"$info" &&
  grep -qx "Offline partitions: 1" <<<"$info" &&
  grep -qx "  solo-0	Leader: none	Replicas: 1	Isr: 1" <<<"$info" ||
  fail "report with broker 1 down: $info"

broker_restart 1
B=$(bootstrap_all)
wait_until 30 healthy || fail "cluster not healthy after the restart: $(json)"
[ "$(leader_of el-t 0)" = 2 ] || fail "el-t-0 went back to 1 by itself: $(leader_of el-t 0)"

# ------------------------------------------------------------ preferred election
# Through a broker that is not the controller: the client finds it.
ctl=$(json | sed -n 's/.*"controller":{"id":\([0-9]*\),.*/\1/p')
other=1
[ "$ctl" = 1 ] && other=2
out=$(fx leader-election --bootstrap-server "$(bs $other)" --election-type preferred \
  --all-topic-partitions) || fail "preferred election failed: $out"
[ "$out" = "Successfully completed leader election (PREFERRED) for partitions el-t-0" ] ||
  fail "election output: $out"
back() { [ "$(leader_of el-t 0)" = 1 ]; }
wait_until 20 back || fail "el-t-0 not led by its preferred replica: $(leader_of el-t 0)"
[ "$(leader_of el-t 1)" = 2 ] && [ "$(leader_of el-t 2)" = 3 ] || fail "other leaders moved"

out=$(fx leader-election --bootstrap-server "$B" --election-type preferred --all-topic-partitions) ||
  fail "second election: $out"
[ "$out" = "Valid replica already elected for all partitions" ] || fail "second election: $out"
out=$(fx leader-election --bootstrap-server "$B" --election-type PREFERRED --topic el-t --partition 0) ||
  fail "single election: $out"
[ "$out" = "Valid replica already elected for partitions el-t-0" ] || fail "single election: $out"
echo '{"partitions": [{"topic": "el-t", "partition": 2}, {"topic": "el-t", "partition": 1}]}' >"$T/el.json"
out=$(fx leader-election --bootstrap-server "$B" --election-type preferred --path-to-json-file "$T/el.json") ||
  fail "json election: $out"
[ "$out" = "Valid replica already elected for partitions el-t-1, el-t-2" ] || fail "json election: $out"
out=$(fx leader-election --bootstrap-server "$B" --election-type unclean --topic el-t --partition 1) ||
  fail "unclean election of a led partition: $out"
[ "$out" = "Valid replica already elected for partitions el-t-1" ] || fail "unclean: $out"

# Failures: an unknown partition, and a preferred replica that is down.
fx leader-election --bootstrap-server "$B" --election-type preferred --topic nosuch \
  --partition 0 >"$T/out" 2>"$T/err" && fail "election of an unknown partition succeeded"
grep -q "^Error completing leader election (PREFERRED) for partition: nosuch-0: UNKNOWN_TOPIC_OR_PARTITION: " "$T/out" ||
  fail "unknown partition output: $(cat "$T/out")"
grep -qx "fluxo-leader-election: 1 replica(s) could not be elected" "$T/err" ||
  fail "unknown partition error: $(cat "$T/err")"
broker_stop 3
B=$(bs 1),$(bs 2)
off3() { [ "$(leader_of el-t 2)" = 1 ]; }
wait_until 20 off3 || fail "el-t-2 did not move to 1: $(leader_of el-t 2)"
fx leader-election --bootstrap-server "$B" --election-type preferred --topic el-t \
  --partition 2 >"$T/out" 2>"$T/err" && fail "election with the preferred replica down succeeded"
grep -q "^Error completing leader election (PREFERRED) for partition: el-t-2: PREFERRED_LEADER_NOT_AVAILABLE: " "$T/out" ||
  fail "preferred down output: $(cat "$T/out")"

# Usage.
out=$(fx leader-election --bootstrap-server "$B" --election-type preferred 2>&1) &&
  fail "no scope accepted"
grep -q "exactly one of --all-topic-partitions, --topic or --path-to-json-file" <<<"$out" ||
  fail "no scope: $out"
out=$(fx leader-election --bootstrap-server "$B" --election-type sideways --all-topic-partitions 2>&1) &&
  fail "bad election type accepted"
grep -q "preferred or unclean" <<<"$out" || fail "bad type: $out"
out=$(fx leader-election --bootstrap-server "$B" --election-type preferred --topic el-t 2>&1) &&
  fail "--topic without --partition accepted"
echo '{"partitions": [{"topic": "el-t", "partition": 1}, {"topic": "el-t", "partition": 1}]}' >"$T/dup.json"
out=$(fx leader-election --bootstrap-server "$B" --election-type preferred --path-to-json-file "$T/dup.json" 2>&1) &&
  fail "duplicate partitions accepted"
grep -q "Replica election data contains duplicate partitions: el-t-1" <<<"$out" || fail "dup: $out"

# ------------------------------------------------------------ reassign --generate
broker_restart 3
B=$(bootstrap_all)
wait_until 30 healthy || fail "cluster not healthy after restarting 3: $(json)"
echo '{"topics": [{"topic": "el-t"}, {"topic": "solo"}], "version": 1}' >"$T/move.json"
out=$(fx reassign-partitions --bootstrap-server "$B" --generate \
  --topics-to-move-json-file "$T/move.json" --broker-list "2,3" 2>&1) &&
  fail "generate with RF 3 on 2 brokers succeeded"
grep -q "Replication factor: 3 larger than available brokers: 2" <<<"$out" ||
  fail "RF error: $out"
echo '{"topics": [{"topic": "solo"}], "version": 1}' >"$T/move.json"
out=$(fx reassign-partitions --bootstrap-server "$B" --generate \
  --topics-to-move-json-file "$T/move.json" --broker-list "2,3") || fail "generate: $out"
[ "$(echo "$out" | sed -n 1p)" = "Current partition replica assignment" ] &&
  [ "$(echo "$out" | sed -n 2p)" = '{"version":1,"partitions":[{"topic":"solo","partition":0,"replicas":[1],"log_dirs":["any"]}]}' ] &&
  [ -z "$(echo "$out" | sed -n 3p)" ] &&
  [ "$(echo "$out" | sed -n 4p)" = "Proposed partition reassignment configuration" ] ||
  fail "generate output: $out"
echo "$out" | sed -n 5p | grep >/dev/null -E '^\{"version":1,"partitions":\[\{"topic":"solo","partition":0,"replicas":\[[23]\],"log_dirs":\["any"\]\}\]\}$' ||
  fail "proposal: $out"
echo '{"topics": [{"topic": "el-t"}], "version": 1}' >"$T/move.json"
out=$(fx reassign-partitions --bootstrap-server "$B" --generate \
  --topics-to-move-json-file "$T/move.json" --broker-list "1,2,3") || fail "generate el-t: $out"
prop=$(echo "$out" | sed -n 5p)
for p in 0 1 2; do
  grep -qE "\{\"topic\":\"el-t\",\"partition\":$p,\"replicas\":\[[123],[123],[123]\],\"log_dirs\":\[\"any\",\"any\",\"any\"\]\}" <<<"$prop" ||
    fail "el-t-$p proposal: $prop"
done
out=$(fx reassign-partitions --bootstrap-server "$B" --generate \
  --topics-to-move-json-file "$T/move.json" --broker-list "1,2,9" 2>&1) &&
  fail "generate on an unknown broker succeeded"
grep -q "Broker 9 of --broker-list is not in the cluster" <<<"$out" || fail "unknown broker: $out"
pass
