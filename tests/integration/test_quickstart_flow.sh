#!/usr/bin/env bash
# Kafka's classic quickstart, with fluxo's tools against one broker.
. "$(dirname "$0")/lib.sh"

zk_start
broker_start 1
B=$(bs 1)
t=aula_785

out=$(fx topics --bootstrap-server "$B" --create --topic $t --partitions 3) || fail "create failed: $out"
[ "$out" = "Created topic $t." ] || fail "unexpected create output: $out"
fx topics --bootstrap-server "$B" --list | grep >/dev/null -x $t || fail "--list does not show $t"
desc=$(fx topics --bootstrap-server "$B" --topic $t --describe)
grep -q "PartitionCount: 3" <<<"$desc" || fail "describe: $desc"
[ "$(echo "$desc" | grep -c "Partition: [0-9]*.*Leader: 1.*Replicas: 1.*Isr: 1")" -eq 3 ] ||
  fail "describe partitions: $desc"

out=$(fx topics --bootstrap-server "$B" --create --topic $t 2>&1) && fail "duplicate create succeeded"
grep -q "already exists" <<<"$out" || fail "duplicate create message: $out"

fx topics --bootstrap-server "$B" --topic $t --alter --partitions 5 >/dev/null 2>&1 ||
  fail "alter --partitions 5 failed"
fx topics --bootstrap-server "$B" --topic $t --describe | grep >/dev/null "PartitionCount: 5" ||
  fail "alter did not reach 5 partitions"
out=$(fx topics --bootstrap-server "$B" --topic $t --alter --partitions 2 2>&1) &&
  fail "decreasing partitions succeeded"

# Produce 100 lines, read them all back from the beginning.
seq 1 100 | fx console-producer --broker-list "$B" --topic $t || fail "console producer failed"
got=$(fx console-consumer --bootstrap-server "$B" --topic $t --from-beginning \
  --max-messages 100 --timeout-ms 15000 2>/dev/null | sort -n)
[ "$got" = "$(seq 1 100)" ] || fail "consumed records differ from produced ones"

# Keys and the record layout flags.
printf 'k1:v1\nk2:v2\n' | fx console-producer --bootstrap-server "$B" --topic keyed-t \
  --property parse.key=true --property key.separator=: 2>/dev/null &&
  fail "producing to a missing topic succeeded"
fx topics --bootstrap-server "$B" --create --topic keyed-t --partitions 1 >/dev/null
printf 'k1:v1\nk2:v2\n' | fx console-producer --bootstrap-server "$B" --topic keyed-t \
  --property parse.key=true --property key.separator=: || fail "keyed produce failed"
got=$(fx console-consumer --bootstrap-server "$B" --topic keyed-t --from-beginning \
  --max-messages 2 --timeout-ms 15000 --property print.key=true \
  --property print.offset=true 2>/dev/null)
grep -q "Offset:0.*k1.*v1" <<<"$got" || fail "keyed record 0: $got"
grep -q "Offset:1.*k2.*v2" <<<"$got" || fail "keyed record 1: $got"

# A live consumer (no --from-beginning) sees only new records.
FX_OUT="$T/live.out" fx_bg console-consumer --bootstrap-server "$B" --topic $t \
  --max-messages 3 --timeout-ms 20000
cpid=$FX_PID
i=0
while kill -0 $cpid 2>/dev/null && [ $i -lt 100 ]; do
  i=$((i + 1))
  echo "live-$i" | fx console-producer --bootstrap-server "$B" --topic $t ||
    fail "console producer failed on live-$i"
  sleep 0.2
done
wait $cpid || fail "live consumer failed"
[ "$(wc -l <"$T/live.out")" -eq 3 ] || fail "live consumer got $(wc -l <"$T/live.out") records"
grep -qv '^live-' "$T/live.out" && fail "live consumer saw old records: $(cat "$T/live.out")"

# --partition/--offset.
got=$(fx console-consumer --bootstrap-server "$B" --topic keyed-t --partition 0 --offset 1 \
  --max-messages 1 --timeout-ms 15000 2>/dev/null)
[ "$got" = "v2" ] || fail "--offset 1 gave: $got"

# Delete.
fx topics --bootstrap-server "$B" --delete --topic keyed-t >/dev/null || fail "delete failed"
wait_until 15 bash -c "! '$top_builddir/tools/fluxo-topics' --bootstrap-server '$B' --list | grep >/dev/null -x keyed-t" ||
  fail "deleted topic still listed"
[ -z "$(ls -d "$T"/data-1/keyed-t-0 2>/dev/null)" ] || fail "deleted partition directory still there"
pass
