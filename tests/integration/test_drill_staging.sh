#!/usr/bin/env bash
# A failover drill against a cluster it does not manage (staging mode):
# only --bootstrap-server and the faults as command templates (here
# deploy/fluxo-cluster's kill and start, with {id} and {host}); the drill
# finds the brokers, their hosts and the controller with
# fluxo-cluster-info. Then a second drill (local mode) on the same topic,
# which holds the first run's records: the second report counts only its
# own. No acknowledged record may be lost.
. "$(dirname "$0")/cluster.sh"

command -v jq >/dev/null || fail "jq is missing (deploy/install-deps installs it)"
cluster_up --brokers 3 --broker-config zookeeper.session.timeout.ms=3000
drill="$top_srcdir/deploy/drill"
common=(--topic drill-shared --throughput 500 --warmup 2 --tail 1 --recovery-timeout 40)

run_drill() { # name args...: -> $T/NAME.json, $T/NAME.txt, $T/NAME/ (workdir)
  local name=$1 rc=0; shift
  "$@" --json "$T/$name.json" --workdir "$T/$name" >"$T/$name.txt" 2>"$T/$name.err" || rc=$?
  cat "$T/$name.txt" >&2
  [ $rc -ne 1 ] || { cat "$T/$name/lost.txt" >&2 || true; fail "$name: the drill lost acknowledged records"; }
  [ $rc -eq 0 ] || { tail -n 20 "$T/$name.err" >&2; fail "$name: the drill failed (exit $rc)"; }
  jq -e . "$T/$name.json" >/dev/null || fail "$name: the JSON report does not parse"
}

# ------------------------------------------------------------ staging
ctl=$("$FC" controller) || fail "no controller"
fc="FLUXO_CLUSTER_DIR='$FLUXO_CLUSTER_DIR' '$FC'"
# Nothing local to fall back on: the drill sees neither the cluster's
# directory nor the build's.
run_drill staging env -u FLUXO_CLUSTER_DIR -u FLUXO_BUILD_DIR \
  "$drill" kill-controller --bootstrap-server "$BOOTSTRAP" \
  --tools-dir "$top_builddir/tools" --session-timeout-ms 3000 \
  --kill-cmd "test {host} = 127.0.0.1 && $fc kill {id}" \
  --start-cmd "test {host} = 127.0.0.1 && $fc start {id}" "${common[@]}"
j() { jq -r "$2" "$T/$1.json"; }
[ "$(j staging .result)" = pass ] || fail "result $(j staging .result)"
[ "$(j staging .scenario)" = kill-controller ] || fail "scenario $(j staging .scenario)"
[ "$(j staging .victim)" = "$ctl" ] || fail "victim $(j staging .victim), the controller was $ctl"
[ "$(j staging .lost)" = 0 ] || fail "$(j staging .lost) lost"
[ "$(j staging .acknowledged)" -ge 1000 ] || fail "only $(j staging .acknowledged) records acknowledged"
[ "$(j staging .read)" -ge "$(j staging .acknowledged)" ] || fail "read < acknowledged"
for f in time_to_new_controller_ms time_to_leaders_ms heal_at_ms time_to_full_isr_ms; do
  [[ "$(j staging .$f)" =~ ^[0-9]+$ ]] || fail "$f: $(j staging .$f)"
done
[ "$(j staging .time_to_new_controller_ms)" -le 20000 ] ||
  fail "a new controller took $(j staging .time_to_new_controller_ms) ms"
[ "$(j staging .time_to_full_isr_ms)" -ge "$(j staging .heal_at_ms)" ] || fail "recovered before the heal?"
[ "$(j staging '[.steps[] | .action + " " + .target] | join(",")')" = "kill $ctl,start $ctl" ] ||
  fail "steps: $(j staging .steps)"
grep -q "broker $ctl killed" "$T/staging/faults.log" || fail "faults.log: $(cat "$T/staging/faults.log")"
grep -q "broker $ctl started" "$T/staging/faults.log" || fail "faults.log: $(cat "$T/staging/faults.log")"
[[ "$(j staging .value_prefix)" =~ ^drill-[0-9]+-[0-9]+$ ]] || fail "value prefix $(j staging .value_prefix)"
[ "$("$FC" status | grep -c "^broker [123] .* running$")" -eq 3 ] || fail "status: $("$FC" status)"

# ---------------------------------------------- the same topic again
run_drill again "$drill" kill-leader "${common[@]}"
[ "$(j again .value_prefix)" != "$(j staging .value_prefix)" ] || fail "both runs used prefix $(j again .value_prefix)"
[ "$(j again .lost)" = 0 ] || fail "$(j again .lost) lost"
[ "$(j again .read)" -ge "$(j again .acknowledged)" ] || fail "read $(j again .read) < acknowledged $(j again .acknowledged)"
[ $(( $(j again .read) - $(j again .duplicated) )) -le "$(j again .sent)" ] ||
  fail "the second run counted $(j again .read) records read of $(j again .sent) it sent: the first run's too"
n=$(grep -c '"name":"record_data"' "$T/again/consumer.out") || true
[ "$n" -ge $(( $(j staging .acknowledged) + $(j again .acknowledged) )) ] ||
  fail "the second run's consumers read $n records, not both runs' (the topic was not reused?)"
log "staging: acknowledged $(j staging .acknowledged), new controller after $(j staging .time_to_new_controller_ms) ms, full ISR after $(j staging .time_to_full_isr_ms) ms; again: read $(j again .read) of its own, $n in all"
pass
