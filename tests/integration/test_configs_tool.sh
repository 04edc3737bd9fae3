#!/usr/bin/env bash
# fluxo-configs against a real broker: describe and alter of topic and
# broker settings in Kafka's output, and the effects of dynamic changes
# without a restart:
#   segment.bytes + retention.bytes on a topic: a retention pass drops the
#     oldest segments (the earliest offset moves up);
#   min.insync.replicas above the ISR (topic override, then the
#     cluster-wide broker default): acks=all produces fail at once with
#     NOT_ENOUGH_REPLICAS, and succeed again once the setting is deleted;
#   retention.ms on a topic: old segments go by age.
. "$(dirname "$0")/lib.sh"

zk_start
broker_start 1 log.retention.check.interval.ms=300 \
  log.segment.delete.delay.ms=0
B=$(bs 1)
cfg() { fx configs --bootstrap-server "$B" "$@"; }

fx topics --bootstrap-server "$B" --create --topic cfg-t --partitions 1 >/dev/null ||
  fail "create cfg-t"
fx topics --bootstrap-server "$B" --create --topic cfg-u --partitions 1 >/dev/null ||
  fail "create cfg-u"

# ------------------------------------------------------------ describe
out=$(cfg --entity-type topics --entity-name cfg-t --describe) || fail "describe: $out"
[ "$out" = "Dynamic configs for topic cfg-t are:" ] || fail "describe of a fresh topic: $out"
out=$(cfg --topic cfg-t --describe --all) || fail "describe --all: $out"
echo "$out" | head -1 | grep >/dev/null -x "All configs for topic cfg-t are:" || fail "--all heading: $out"
grep -q "^  retention.ms=604800000 sensitive=false synonyms={DEFAULT_CONFIG:log.retention.ms=604800000}$" <<<"$out" ||
  fail "--all retention.ms line: $out"
# Sorted by name.
names=$(echo "$out" | tail -n +2 | sed 's/^  \([^=]*\)=.*/\1/')
[ "$names" = "$(echo "$names" | LC_ALL=C sort)" ] || fail "--all lines not sorted: $names"

# ------------------------------------------------------------ alter a topic
out=$(cfg --entity-type topics --entity-name cfg-t --alter \
  --add-config segment.bytes=1024,retention.bytes=3000) || fail "alter: $out"
[ "$out" = "Completed updating config for topic cfg-t." ] || fail "alter output: $out"
out=$(cfg --topic cfg-t --describe)
expect="Dynamic configs for topic cfg-t are:
  retention.bytes=3000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.bytes=3000, DEFAULT_CONFIG:log.retention.bytes=-1}
  segment.bytes=1024 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.bytes=1024, DEFAULT_CONFIG:log.segment.bytes=1073741824}"
[ "$out" = "$expect" ] || fail "describe after alter:
$out
expected:
$expect"

# Retention by size, applied without a restart: 60 records of ~170 bytes
# sent one by one (a produce request's records stay in one segment) fill
# ~1 KiB segments, of which at most ~3 KB are kept.
produce_sync() { # topic count
  seq -f 'record-%090g' 1 "$2" |
    fx console-producer --bootstrap-server "$B" --topic "$1" --sync >/dev/null 2>"$T/prod.err" ||
    fail "producing to $1: $(tail -3 "$T/prod.err")"
}
produce_sync cfg-t 60
earliest() {
  fx console-consumer --bootstrap-server "$B" --topic cfg-t --partition 0 \
    --offset earliest --max-messages 1 --timeout-ms 5000 \
    --property print.offset=true 2>/dev/null | sed -n 's/^Offset:\([0-9]*\).*/\1/p'
}
moved() { local e; e=$(earliest); [ -n "$e" ] && [ "$e" -gt 30 ]; }
wait_until 30 moved || fail "retention.bytes did not drop old segments (earliest $(earliest))"
nlogs=$(ls "$T"/data-1/cfg-t-0/*.log | wc -l)
[ "$nlogs" -le 5 ] || fail "$nlogs segments left with retention.bytes=3000"

# --delete-config of what is not set is refused, nothing changes.
out=$(cfg --topic cfg-t --alter --delete-config retention.ms,segment.bytes 2>&1) &&
  fail "deleting an unset config succeeded"
[ "$out" = "Invalid config(s): retention.ms" ] || fail "invalid delete: $out"
cfg --topic cfg-t --describe | grep >/dev/null "segment.bytes=1024" || fail "refused delete changed the topic"
out=$(cfg --topic cfg-t --alter --delete-config segment.bytes,retention.bytes) || fail "delete: $out"
[ "$out" = "Completed updating config for topic cfg-t." ] || fail "delete output: $out"
[ "$(cfg --topic cfg-t --describe)" = "Dynamic configs for topic cfg-t are:" ] ||
  fail "configs left after delete: $(cfg --topic cfg-t --describe)"

# A bad value is refused by the broker with the reason.
out=$(cfg --topic cfg-t --alter --add-config retention.ms=soon 2>&1) && fail "bad value accepted"
grep -q "^Error while executing config command with args '--bootstrap-server $B --topic cfg-t --alter --add-config retention.ms=soon'$" <<<"$out" ||
  fail "bad value message: $out"
grep -q "retention.ms" <<<"$out" || fail "bad value reason: $out"
out=$(cfg --topic nosuch --describe 2>&1) && fail "describe of a missing topic succeeded"
grep -q "nosuch" <<<"$out" || fail "missing topic message: $out"

# ------------------------------------------------------------ min.insync.replicas
send_one() { # topic -> prints the result line
  fx verifiable-producer --bootstrap-server "$B" --topic "$1" --max-messages 1 --acks -1 \
    --producer-property retries=0 2>/dev/null |
    grep -E 'producer_send_(success|error)'
}
refused() { send_one "$1" | grep >/dev/null '"exception":"NOT_ENOUGH_REPLICAS"'; }
accepted() { send_one "$1" | grep >/dev/null producer_send_success; }

accepted cfg-t || fail "acks=all before min.insync change: $(send_one cfg-t)"
cfg --topic cfg-t --alter --add-config min.insync.replicas=2 >/dev/null || fail "set min.insync"
wait_until 15 refused cfg-t || fail "min.insync.replicas=2 did not refuse acks=all: $(send_one cfg-t)"
cfg --topic cfg-t --alter --delete-config min.insync.replicas >/dev/null || fail "delete min.insync"
wait_until 15 accepted cfg-t || fail "acks=all still refused after the delete: $(send_one cfg-t)"

# The cluster-wide default reaches a topic without its own setting.
out=$(cfg --entity-type brokers --entity-default --alter --add-config min.insync.replicas=2) ||
  fail "alter default: $out"
[ "$out" = "Completed updating default config for brokers in the cluster." ] ||
  fail "alter default output: $out"
out=$(cfg --entity-type brokers --entity-default --describe)
expect="Default configs for brokers in the cluster are:
  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2}"
[ "$out" = "$expect" ] || fail "describe default:
$out"
wait_until 15 refused cfg-u || fail "default min.insync.replicas=2 did not reach cfg-u: $(send_one cfg-u)"
cfg --topic cfg-u --describe --all | grep >/dev/null "^  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}$" ||
  fail "topic does not show the default's source: $(cfg --topic cfg-u --describe --all | grep min.insync)"
cfg --broker-defaults --alter --delete-config min.insync.replicas >/dev/null || fail "delete default"
wait_until 15 accepted cfg-u || fail "acks=all still refused after deleting the default"

# ------------------------------------------------------------ a broker's own settings
out=$(cfg --entity-type brokers --entity-name 1 --alter --add-config log.retention.ms=86400000) ||
  fail "alter broker 1: $out"
[ "$out" = "Completed updating config for broker 1." ] || fail "alter broker output: $out"
out=$(cfg --broker 1 --describe)
expect="Dynamic configs for broker 1 are:
  log.retention.ms=86400000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=86400000, DEFAULT_CONFIG:log.retention.ms=604800000}"
[ "$out" = "$expect" ] || fail "describe broker 1:
$out"
cfg --broker 1 --describe --all | grep >/dev/null "^  log.dirs=$T/data-1 sensitive=false synonyms={STATIC_BROKER_CONFIG:log.dirs=$T/data-1}$" ||
  fail "static setting line: $(cfg --broker 1 --describe --all | grep log.dirs)"
# The topic sees the broker's dynamic value as its default.
cfg --topic cfg-t --describe --all | grep >/dev/null "^  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=86400000, DEFAULT_CONFIG:log.retention.ms=604800000}$" ||
  fail "topic default from the broker: $(cfg --topic cfg-t --describe --all | grep '  retention.ms')"
# Without a name: every broker, then the default.
out=$(cfg --entity-type brokers --describe)
[ "$(echo "$out" | grep -c 'configs for broker 1 are:')" -eq 1 ] &&
  echo "$out" | tail -1 | grep >/dev/null -x "Default configs for brokers in the cluster are:" ||
  fail "describe of all brokers: $out"
out=$(cfg --broker 1 --alter --add-config log.dirs=/tmp/x 2>&1) && fail "static setting changed"
grep -q "log.dirs" <<<"$out" || fail "static setting message: $out"
out=$(cfg --broker 7 --describe 2>&1) && fail "describe of a missing broker succeeded"
grep -q "broker 7 is not among the cluster's live brokers" <<<"$out" || fail "missing broker: $out"
cfg --broker 1 --alter --delete-config log.retention.ms >/dev/null || fail "delete broker setting"
[ "$(cfg --broker 1 --describe)" = "Dynamic configs for broker 1 are:" ] || fail "broker setting left"

# ------------------------------------------------------------ retention.ms
cfg --topic cfg-u --alter --add-config segment.bytes=1024 >/dev/null || fail "segment.bytes on cfg-u"
produce_sync cfg-u 30
n0=$(ls "$T"/data-1/cfg-u-0/*.log | wc -l)
[ "$n0" -ge 3 ] || fail "segment.bytes=1024 did not roll cfg-u ($n0 segments)"
cfg --topic cfg-u --alter --add-config retention.ms=1000 >/dev/null || fail "retention.ms"
few() { [ "$(ls "$T"/data-1/cfg-u-0/*.log | wc -l)" -le 1 ]; }
wait_until 30 few || fail "retention.ms=1000 left $(ls "$T"/data-1/cfg-u-0/*.log | wc -l) segments"

# ------------------------------------------------------------ usage errors
out=$(cfg --topic cfg-t 2>&1) && fail "no action accepted"
grep -q "exactly one action" <<<"$out" || fail "no action: $out"
out=$(cfg --topic cfg-t --alter 2>&1) && fail "alter without changes accepted"
grep -q "add-config or --delete-config" <<<"$out" || fail "empty alter: $out"
out=$(cfg --topic cfg-t --alter --add-config retention.ms 2>&1) && fail "k without =v accepted"
grep -q 'all configs to be added must be in the format "key=val"' <<<"$out" || fail "bad add-config: $out"
out=$(cfg --entity-type topics --entity-default --describe 2>&1) && fail "topic default accepted"
out=$(cfg --entity-type brokers --entity-name one --describe 2>&1) && fail "broker name 'one' accepted"
grep -q "valid integer broker id" <<<"$out" || fail "bad broker name: $out"
pass
