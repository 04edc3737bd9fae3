#!/usr/bin/env bash
# test_tools_usage.sh - what every fluxo tool does before it talks to a
# cluster:
#   --help        exit 0, usage on stdout naming each key flag
#   --version     exit 0, "fluxo-<tool> X.Y.Z"
#   a bad flag    exit 1, one line naming the flag + "Run with --help"
#   --group       (consumer tools) exit 1, groups are not supported
#   unreachable   --bootstrap-server at a closed loopback port: exit 1
#                 within 15 s, with the address in the message
# Needs the built tools (they link libfluxo); skips (77) without them.
set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
bindir="$top_builddir/tools"
tools=(topics console-producer console-consumer producer-perf
       consumer-perf verifiable-producer verifiable-consumer dump-log
       configs leader-election reassign-partitions cluster-info)

for t in "${tools[@]}"; do
  if [ ! -x "$bindir/fluxo-$t" ]; then
    echo "SKIP: $bindir/fluxo-$t is not built (libfluxo absent?)"
    exit 77
  fi
done

declare -A key_flags=(
  [topics]="--bootstrap-server --command-config --create --list --describe
    --alter --delete --topic --partitions --replication-factor --config
    --replica-assignment --if-exists --if-not-exists
    --under-replicated-partitions --unavailable-partitions
    --under-min-isr-partitions --at-min-isr-partitions
    --topics-with-overrides"
  [console-producer]="--bootstrap-server --broker-list --topic --property
    --producer-property --producer.config --request-required-acks
    --compression-codec --sync --batch-size --timeout --request-timeout-ms
    --message-send-max-retries --retry-backoff-ms --max-block-ms"
  [console-consumer]="--bootstrap-server --topic --from-beginning
    --partition --offset --max-messages --timeout-ms --property
    --consumer-property --consumer.config --group --isolation-level"
  [producer-perf]="--topic --num-records --record-size --throughput
    --producer-props --producer.config --payload-file --payload-delimiter
    --print-metrics --bootstrap-server"
  [consumer-perf]="--bootstrap-server --topic --messages --fetch-size
    --from-latest --timeout --reporting-interval --show-detailed-stats
    --consumer.config --print-metrics"
  [verifiable-producer]="--bootstrap-server --topic --max-messages --acks
    --throughput --value-prefix --message-create-time --producer.config
    --repeating-keys"
  [verifiable-consumer]="--bootstrap-server --topic --from-beginning
    --max-messages --partition --timeout-ms"
  [dump-log]="--files --print-data-log --verify"
  [configs]="--bootstrap-server --command-config --entity-type
    --entity-name --entity-default --topic --broker --broker-defaults
    --describe --all --alter --add-config --delete-config"
  [leader-election]="--bootstrap-server --admin.config --election-type
    --all-topic-partitions --topic --partition --path-to-json-file"
  [reassign-partitions]="--bootstrap-server --command-config --generate
    --execute --verify --cancel --list --topics-to-move-json-file
    --broker-list --disable-rack-aware --reassignment-json-file --throttle
    --additional --preserve-throttles --timeout"
  [cluster-info]="--bootstrap-server --command-config --json"
)

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluxo-tools-usage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------- usage
for t in "${tools[@]}"; do
  bin="$bindir/fluxo-$t"

  timeout 10 "$bin" --help >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 0 ] || fail "fluxo-$t --help exited $rc"
  [ -s "$tmp/err" ] && fail "fluxo-$t --help wrote to stderr"
  grep -q "^Usage: fluxo-$t" "$tmp/out" || fail "fluxo-$t --help: no usage line"
  for f in ${key_flags[$t]} --help --version; do
    grep -q -- "$f" "$tmp/out" || fail "fluxo-$t --help does not mention $f"
  done

  out=$(timeout 10 "$bin" --version 2>&1)
  rc=$?
  [ $rc -eq 0 ] || fail "fluxo-$t --version exited $rc"
  [[ "$out" =~ ^fluxo-$t\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    fail "fluxo-$t --version printed '$out'"

  timeout 10 "$bin" --no-such-flag >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 1 ] || fail "fluxo-$t --no-such-flag exited $rc"
  [ -s "$tmp/out" ] && fail "fluxo-$t --no-such-flag wrote to stdout"
  grep -q -- "fluxo-$t: .*'--no-such-flag'" "$tmp/err" ||
    fail "fluxo-$t --no-such-flag: message does not name the flag: $(cat "$tmp/err")"
  grep -q "Run with --help for usage." "$tmp/err" ||
    fail "fluxo-$t --no-such-flag: no hint"
  [ "$(wc -l <"$tmp/err")" -eq 2 ] ||
    fail "fluxo-$t --no-such-flag: expected 2 lines, got: $(cat "$tmp/err")"
done

# The broker: usage and version on stdout, a bad option refused (exit 2,
# as getopt-style daemons do) with a hint.
broker="$top_builddir/fluxo-broker"
timeout 10 "$broker" --help >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] || fail "fluxo-broker --help did not exit 0"
[ -s "$tmp/err" ] && fail "fluxo-broker --help wrote to stderr"
for f in "Usage: fluxo-broker server.properties" --override --help-config \
  --version; do
  grep -q -- "$f" "$tmp/out" || fail "fluxo-broker --help does not mention $f"
done
out=$(timeout 10 "$broker" --version 2>&1)
[[ "$out" =~ ^fluxo-broker\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  fail "fluxo-broker --version printed '$out'"
timeout 10 "$broker" --no-such-flag >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] || fail "fluxo-broker --no-such-flag did not exit 2"
grep -q -- "--no-such-flag" "$tmp/err" && grep -q -- "--help" "$tmp/err" ||
  fail "fluxo-broker --no-such-flag: $(cat "$tmp/err")"

# A value that is not a number names the flag.
timeout 10 "$bindir/fluxo-topics" --bootstrap-server localhost:9092 --create \
  --topic t --partitions many >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q -- "--partitions expects an integer" "$tmp/err" ||
  fail "fluxo-topics --partitions many: $(cat "$tmp/err")"

# Consumer groups are refused with the release's message.
for t in console-consumer consumer-perf verifiable-consumer; do
  extra=()
  [ "$t" = consumer-perf ] && extra=(--messages 1)
  timeout 10 "$bindir/fluxo-$t" --bootstrap-server 127.0.0.1:9 --topic t \
    --group g "${extra[@]}" >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc -eq 1 ] || fail "fluxo-$t --group exited $rc"
  grep -q "consumer groups are not supported by this fluxo release; use --partition/--offset or --from-beginning" "$tmp/err" ||
    fail "fluxo-$t --group: $(cat "$tmp/err")"
done

# fluxo-dump-log on a missing file fails without a broker.
timeout 10 "$bindir/fluxo-dump-log" --files "$tmp/none.log" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "fluxo-dump-log on a missing file did not exit 1"

# --------------------------------------------------- unreachable broker
# A loopback port nothing listens on.
port=
for p in $(seq $((20000 + RANDOM % 20000)) 1 65000); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    port=$p
    break
  fi
done
[ -n "$port" ] || { echo "FAIL: no closed port found"; exit 1; }
addr="127.0.0.1:$port"

run_unreachable() {
  local t=$1; shift
  local start end rc
  start=$(date +%s)
  timeout 20 "$bindir/fluxo-$t" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
  end=$(date +%s)
  [ $rc -eq 1 ] || fail "fluxo-$t at $addr exited $rc (124 = hung)"
  [ $((end - start)) -le 15 ] ||
    fail "fluxo-$t at $addr took $((end - start)) s"
  cat "$tmp/out" "$tmp/err" | grep >/dev/null -- "$addr" ||
    fail "fluxo-$t at $addr: message does not name the address: $(cat "$tmp/err")"
}

run_unreachable topics --bootstrap-server "$addr" --list
run_unreachable topics --bootstrap-server "$addr" --create --topic t
run_unreachable console-producer --bootstrap-server "$addr" --topic t
run_unreachable console-consumer --bootstrap-server "$addr" --topic t
run_unreachable producer-perf --bootstrap-server "$addr" --topic t \
  --num-records 10 --record-size 10 --throughput -1
run_unreachable consumer-perf --bootstrap-server "$addr" --topic t \
  --messages 10
run_unreachable verifiable-producer --bootstrap-server "$addr" --topic t \
  --max-messages 1
run_unreachable verifiable-consumer --bootstrap-server "$addr" --topic t
run_unreachable configs --bootstrap-server "$addr" --topic t --describe
run_unreachable leader-election --bootstrap-server "$addr" \
  --election-type preferred --all-topic-partitions
run_unreachable reassign-partitions --bootstrap-server "$addr" --list
run_unreachable cluster-info --bootstrap-server "$addr"
run_unreachable cluster-info --bootstrap-server "$addr" --json

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS: every tool's usage, version, errors and unreachable broker"
