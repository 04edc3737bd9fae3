# shellcheck shell=bash
# drill_test.sh SCENARIO [fluxo-cluster up options...] - one failover
# drill (deploy/drill) as a test, against a fresh local cluster of three
# brokers with a 3 s ZooKeeper session timeout, a few seconds of load.
# Sourced by tests/integration/test_drill_*.sh. Fails on any lost
# acknowledged record, on a cluster that does not recover, and on a report
# that lacks its figures.
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

drill_scenario=$1; shift
command -v jq >/dev/null || fail "jq is missing (deploy/install-deps installs it)"
cluster_up --brokers 3 --broker-config zookeeper.session.timeout.ms=3000 "$@"

rc=0
"$top_srcdir/deploy/drill" "$drill_scenario" --throughput 500 --warmup 2 --tail 1 \
  --recovery-timeout 40 --json "$T/report.json" --workdir "$T/drill" \
  >"$T/report.txt" 2>"$T/drill.err" || rc=$?
cat "$T/report.txt" >&2
[ $rc -ne 1 ] || { cat "$T/drill/lost.txt" >&2 || true; fail "the drill lost acknowledged records"; }
[ $rc -eq 0 ] || { tail -n 20 "$T/drill.err" >&2; fail "the drill failed (exit $rc)"; }

r="$T/report.json"
jq -e . "$r" >/dev/null || fail "the JSON report does not parse"
j() { jq -r "$1" "$r"; }
[ "$(j .scenario)" = "$drill_scenario" ] || fail "report of scenario $(j .scenario)"
[ "$(j .result)" = pass ] || fail "result $(j .result)"
[ "$(j .lost)" = 0 ] || fail "$(j .lost) lost"
[ "$(j .acknowledged)" -ge 1000 ] || fail "only $(j .acknowledged) records acknowledged"
[ "$(j .read)" -ge "$(j .acknowledged)" ] || fail "read $(j .read) < acknowledged $(j .acknowledged)"
[ "$(j .time_to_full_isr_ms)" != null ] || fail "no recovery time"
case $drill_scenario in
  zk-*) ;;  # leaders need not go: see test_drill_zk_*.sh
  *) [[ "$(j .time_to_leaders_ms)" =~ ^[0-9]+$ ]] || fail "time to leaders $(j .time_to_leaders_ms)" ;;
esac
[[ "$(j .value_prefix)" =~ ^drill-[0-9]+-[0-9]+$ ]] || fail "value prefix $(j .value_prefix)"
[ "$(j .time_to_full_isr_ms)" -ge "$(j .heal_at_ms)" ] || fail "recovered before the heal?"
[ "$(j '.steps | length')" -ge 2 ] || fail "fewer than two steps"
grep -q "^drill $drill_scenario: pass" "$T/report.txt" || fail "no text report"
grep -q "lost 0," "$T/report.txt" || fail "text report lacks the lost count"
log "$drill_scenario: acknowledged $(j .acknowledged), duplicated $(j .duplicated), longest ack gap $(j .longest_ack_gap_ms) ms, leaders after $(j .time_to_leaders_ms) ms, full ISR after $(j .time_to_full_isr_ms) ms"

# check_leader_watch: the ZooKeeper scenarios watch the leaders through the
# outage (checks every 0.2 s) instead of assuming them: time_to_leaders_ms
# is a measured time when a check found a partition without a live leader,
# null (not 0) when none did.
check_leader_watch() {
  [ "$(j .leader_checks)" -ge 2 ] || fail "only $(j .leader_checks) leader checks"
  [[ "$(j .leaderless_checks)" =~ ^[0-9]+$ ]] || fail "leaderless checks $(j .leaderless_checks)"
  if [ "$(j .leaderless_checks)" -eq 0 ]; then
    [ "$(j .time_to_leaders_ms)" = null ] ||
      fail "leaders never went, yet time to leaders $(j .time_to_leaders_ms)"
  else
    [ "$(j .time_to_leaders_ms)" != null ] && [ "$(j .time_to_leaders_ms)" -gt 0 ] &&
      [ "$(j .time_to_leaders_ms)" -le "$(j .time_to_full_isr_ms)" ] ||
      fail "time to leaders $(j .time_to_leaders_ms) after $(j .leaderless_checks) leaderless checks"
  fi
}
