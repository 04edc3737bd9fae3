#!/usr/bin/env bash
# deploy/drill without a cluster: its usage errors (exit 2, a message, no
# "unbound variable"), --help (exit 0, usage on stdout), and its analysis
# (`drill analyze`, the code every drill runs) on crafted producer and
# consumer output: one acknowledged record missing, one read twice, one
# pair out of order, among records of earlier runs (other value prefixes,
# or none) that must not hide the loss. Lost records give exit status 1
# and "lost":1.
. "$(dirname "$0")/lib.sh"

drill="$top_srcdir/deploy/drill"
export TMPDIR="$T"  # the drill's own work directories
command -v jq >/dev/null || fail "jq is missing (deploy/install-deps installs it)"

# ------------------------------------------------------------------ usage
out=$("$drill" --help 2>"$T/err") || fail "drill --help exited $?"
grep -q '^  kill-leader ' <<<"$out" || fail "drill --help printed no usage on stdout: $out"
"$drill" help >/dev/null 2>&1 || fail "drill help exited $?"

usage_error() { # expected-message args...
  local want=$1 rc=0; shift
  "$drill" "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc -eq 2 ] || fail "drill $* exited $rc, not 2 (usage): $(cat "$T/err")"
  grep -q -- "$want" "$T/err" || fail "drill $*: no '$want' in: $(cat "$T/err")"
  grep -q 'unbound variable' "$T/err" && fail "drill $*: $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "drill $* printed on stdout: $(cat "$T/out")"
}
usage_error 'a failover drill'
usage_error "unknown scenario 'frob'" frob
for opt in --topic --bootstrap-server --throughput --json --kill-cmd --hosts --producer-property; do
  usage_error "$opt needs a value" kill-leader "$opt"
done
usage_error '--tail needs a value' kill-leader --topic t --tail
usage_error 'unknown option --bogus' kill-leader --bogus x
usage_error 'unknown option --bogus' kill-leader --bogus
usage_error '--throughput takes a whole number' kill-leader --throughput fast
usage_error '--replication-factor takes a whole number' kill-leader --replication-factor x
usage_error 'unexpected argument' kill-leader extra
usage_error 'analyze takes two files' analyze "$T/out"
usage_error 'analyze takes only' analyze --topic t a b
usage_error '--value-prefix is for analyze' kill-leader --value-prefix p
usage_error 'cannot read' analyze "$T/nonexistent" "$T/nonexistent"

# --------------------------------------------------------------- analysis
# This run's values are drill-2-2.N. The consumer also read records of
# earlier runs: plain integers (as drills wrote before value prefixes) and
# drill-2-22.N (a prefix that extends this one), with the same N.
P="drill-2-2"
ack() { # ts value partition offset
  printf '{"timestamp":%d,"name":"producer_send_success","topic":"t","partition":%d,"offset":%d,"key":null,"value":"%s"}\n' \
    "$1" "$3" "$4" "$2"
}
rec() { # value partition offset
  printf '{"name":"record_data","topic":"t","partition":%d,"offset":%d,"key":null,"value":"%s"}\n' "$2" "$3" "$1"
}
{
  echo '{"timestamp":900,"name":"startup_complete"}'
  ack 1000 $P.0 0 10
  ack 1010 $P.1 0 11
  ack 1020 $P.2 0 12
  ack 1500 $P.3 0 13
  ack 1510 $P.4 1 2
  ack 1520 $P.5 1 3
  echo '{"timestamp":1530,"name":"producer_send_error","exception":"REQUEST_TIMED_OUT","message":"x","topic":"t","key":null,"value":"'$P'.6"}'
  echo '{"timestamp":1600,"name":"shutdown_complete"}'
  echo '{"timestamp":1600,"name":"tool_data","sent":7,"acked":6,"target_throughput":10,"avg_throughput":10.0}'
} >"$T/producer.out"
{
  for i in 0 1 2 3 4 5 6 7 8 9; do rec "$i" 0 "$i"; done
  rec $P.0 0 10
  rec $P.1 0 11
  rec $P.3 0 12          # out of order: 3 before 2
  rec $P.2 0 13
  rec 5 1 0              # an earlier run's 5 ...
  rec drill-2-22.5 1 1   # ... and another prefix's
  rec $P.4 1 2
  rec $P.4 1 3           # a duplicate; $P.5 (acknowledged at 1/3) is lost
} >"$T/consumer.out"

check_report() { # json-file: the figures of the crafted files
  local r=$1
  j() { jq -r "$1" "$r"; }
  jq -e . "$r" >/dev/null || fail "the analyze report does not parse: $(cat "$r")"
  [ "$(j .result)" = fail ] || fail "result $(j .result)"
  [ "$(j .value_prefix)" = $P ] || fail "value prefix $(j .value_prefix)"
  [ "$(j .sent)" = 7 ] || fail "sent $(j .sent)"
  [ "$(j .acknowledged)" = 6 ] || fail "acknowledged $(j .acknowledged)"
  [ "$(j .send_errors)" = 1 ] || fail "send errors $(j .send_errors)"
  [ "$(j .read)" = 6 ] || fail "read $(j .read) (records of other runs counted?)"
  [ "$(j .lost)" = 1 ] || fail "lost $(j .lost), not 1"
  [ "$(j .duplicated)" = 1 ] || fail "duplicated $(j .duplicated), not 1"
  [ "$(j .out_of_order)" = 1 ] || fail "out of order $(j .out_of_order), not 1"
  [ "$(j .moved)" = 2 ] || fail "moved $(j .moved), not 2"
  [ "$(j .longest_ack_gap_ms)" = 480 ] || fail "longest ack gap $(j .longest_ack_gap_ms)"
  [ "$(j '.failures | length')" = 1 ] || fail "failures $(j .failures)"
}

# The prefix as given, then as found in the producer's output.
for args in "--value-prefix $P" ""; do
  rc=0
  # shellcheck disable=SC2086
  "$drill" analyze "$T/producer.out" "$T/consumer.out" $args --json "$T/r.json" \
    --workdir "$T/w" >"$T/report.txt" 2>"$T/err" || rc=$?
  [ $rc -eq 1 ] || fail "analyze ($args) exited $rc with a lost record, not 1: $(cat "$T/err")"
  check_report "$T/r.json"
  grep -q '^drill analyze: fail' "$T/report.txt" || fail "text report: $(cat "$T/report.txt")"
  grep -q 'lost 1, duplicated 1, out of order 1' "$T/report.txt" || fail "text report: $(cat "$T/report.txt")"
  grep -q "value $P.5 acknowledged at partition/offset 1 3" "$T/w/lost.txt" ||
    fail "lost.txt: $(cat "$T/w/lost.txt")"
  [ "$(wc -l <"$T/w/lost.txt")" -eq 1 ] || fail "lost.txt: $(cat "$T/w/lost.txt")"
  rm -rf "$T/w"
done

# JSON on stdout with --json -, the text on stderr.
rc=0
"$drill" analyze "$T/producer.out" "$T/consumer.out" --json - >"$T/r2.json" 2>"$T/err" || rc=$?
[ $rc -eq 1 ] || fail "analyze --json - exited $rc"
check_report "$T/r2.json"

# The lost record read back: exit 0, nothing lost.
rec $P.5 1 3 >>"$T/consumer.out"
rc=0
"$drill" analyze "$T/producer.out" "$T/consumer.out" --json "$T/r3.json" >"$T/report.txt" 2>"$T/err" || rc=$?
[ $rc -eq 0 ] || fail "analyze of complete files exited $rc: $(cat "$T/report.txt" "$T/err")"
[ "$(jq -r .lost "$T/r3.json")" = 0 ] || fail "lost $(jq -r .lost "$T/r3.json")"
[ "$(jq -r .result "$T/r3.json")" = pass ] || fail "result $(jq -r .result "$T/r3.json")"
pass
