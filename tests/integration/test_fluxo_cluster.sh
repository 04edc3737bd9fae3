#!/usr/bin/env bash
# deploy/fluxo-cluster: up, status, stop/start on the same port with the
# same data, kill, pause/resume, ZooKeeper server stop/start, logs,
# settings for every broker, growing the cluster, down; usage errors (exit
# 2, nothing done), an up that would change the cluster's ZooKeeper
# refused, a stop that waits out a worst-case controlled shutdown.
. "$(dirname "$0")/cluster.sh"

# usage_error ARGS...: fluxo-cluster ARGS exits 2 with a message.
usage_error() {
  local rc=0
  "$FC" "$@" >"$T/ue.out" 2>"$T/ue.err" || rc=$?
  [ $rc -eq 2 ] || fail "fluxo-cluster $* exited $rc, not 2: $(cat "$T/ue.err")"
  grep -q "^fluxo-cluster: " "$T/ue.err" || fail "fluxo-cluster $*: no message: $(cat "$T/ue.err")"
  grep -q 'unbound variable\|parameter null' "$T/ue.err" && fail "fluxo-cluster $*: $(cat "$T/ue.err")"
  return 0
}

help=$("$FC" help) || fail "fluxo-cluster help exited $?"
grep -q 'fluxo-cluster .*tool NAME' <<<"$help" || fail "help does not list tool: $help"
grep -q 'fluxo-cluster .*stop-timeout ID' <<<"$help" || fail "help does not list stop-timeout"
"$FC" --help >/dev/null || fail "fluxo-cluster --help exited $?"
usage_error up --brokers
usage_error up --bogus
usage_error down --bogus
usage_error tool

# (grep -q on a pipe would end status early: pipefail fails the pipe.)
status_has() { local st; st=$("$FC" status); grep -q "$1" <<<"$st"; }
# A process that exited may stay a zombie until its new parent reaps it.
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; }

cluster_up --brokers 3 --zookeepers 3 --broker-config log.roll.ms=3600000 \
  --broker-config zookeeper.session.timeout.ms=4000
[ "$(echo "$BOOTSTRAP" | tr ',' '\n' | grep -c '^127\.0\.0\.1:[0-9][0-9]*$')" -eq 3 ] ||
  fail "up printed no bootstrap string of 3 brokers: $BOOTSTRAP"
[ "$("$FC" bootstrap)" = "$BOOTSTRAP" ] || fail "bootstrap differs from up's output"
st=$("$FC" status)
[ "$(echo "$st" | grep -c '^broker [123] .* running$')" -eq 3 ] || fail "status: $st"
[ "$(echo "$st" | grep -c '^zookeeper [123] .* serving$')" -eq 3 ] || fail "status: $st"
for id in 1 2 3; do
  grep -qx 'log.roll.ms=3600000' "$("$FC" config $id)" || fail "--broker-config not applied to broker $id"
done

fx topics --bootstrap-server "$BOOTSTRAP" --create --topic fc --partitions 3 \
  --replication-factor 3 --config min.insync.replicas=2 >/dev/null || fail "create failed"
wait_topic fc 3
seq 1 300 | fx console-producer --bootstrap-server "$BOOTSTRAP" --topic fc \
  --producer-property acks=all || fail "produce failed"
count() {
  fx console-consumer --bootstrap-server "$("$FC" bootstrap)" --topic fc --from-beginning \
    --max-messages 300 --timeout-ms 15000 2>/dev/null | wc -l
}

# stop/start: same port, same data, a new pid.
port=$("$FC" port 2); pid=$("$FC" pid 2)
"$FC" stop 2 2>/dev/null || fail "stop 2 failed"
status_has '^broker 2 .* stopped$' || fail "broker 2 not shown stopped"
alive "$pid" && fail "broker 2 still runs after stop"
grep -q "stopped cleanly" "$("$FC" logs 2 >"$T/log2"; echo "$T/log2")" ||
  fail "broker 2 did not stop cleanly"
"$FC" start 2 2>/dev/null || fail "start 2 failed"
[ "$("$FC" port 2)" = "$port" ] || fail "broker 2 moved from port $port"
[ "$("$FC" pid 2)" != "$pid" ] || fail "broker 2 has its old pid"
[ "$(count)" = 300 ] || fail "records missing after stop/start"

# kill: gone at once; start brings it back.
pid=$("$FC" pid 3)
"$FC" kill 3 2>/dev/null || fail "kill 3 failed"
alive "$pid" && fail "broker 3 survived kill"
"$FC" start 3 2>/dev/null || fail "start 3 after kill failed"

# pause/resume: the process is stopped (state T), then runs again.
pid=$("$FC" pid 1)
"$FC" pause 1 2>/dev/null
status_has "^broker 1 .* pid $pid paused$" || fail "broker 1 not shown paused"
grep -q '^State:.*stopped' "/proc/$pid/status" || fail "broker 1 is not stopped"
"$FC" resume 1 2>/dev/null
status_has "^broker 1 .* pid $pid running$" || fail "broker 1 not running after resume"

# ZooKeeper server stop/start; the cluster works meanwhile.
"$FC" stop-zk 2 2>/dev/null || fail "stop-zk 2 failed"
status_has '^zookeeper 2 .* down$' || fail "ZooKeeper 2 not shown down"
"$FC" start-zk 2 2>/dev/null || fail "start-zk 2 failed"
wait_until 30 status_has '^zookeeper 2 .* serving$' ||
  fail "ZooKeeper 2 does not serve again"
wait_until 30 bash -c "[ -z \"\$('$top_builddir/tools/fluxo-topics' --bootstrap-server '$BOOTSTRAP' --describe --topic fc --under-replicated-partitions)\" ]" ||
  fail "the topic stays under-replicated"
[ "$(count)" = 300 ] || fail "records missing after the faults"

# The controller is one of the brokers; logs shows a broker's log.
c=$("$FC" controller) || fail "no controller"
[[ "$c" =~ ^[123]$ ]] || fail "controller '$c'"
"$FC" logs 1 >"$T/log1" && grep -q "broker 1 started" "$T/log1" || fail "logs 1 lacks the start line"

# Errors: unknown broker, unknown command, a bad option to down (which
# must then stop nothing).
"$FC" stop 9 2>/dev/null && fail "stop of an unknown broker succeeded"
"$FC" frobnicate 2>/dev/null && fail "an unknown command succeeded"
usage_error down --bogus
usage_error down --purge --bogus
[ "$("$FC" status | grep -c '^broker [123] .* running$')" -eq 3 ] ||
  fail "a refused down stopped brokers: $("$FC" status)"
[ -d "$FLUXO_CLUSTER_DIR" ] || fail "a refused down --purge removed the state"
usage_error up --zookeepers
"$FC" tool topics | grep -q '/fluxo-topics$' || fail "tool topics: $("$FC" tool topics)"
"$FC" tool nosuch 2>/dev/null && fail "tool of a tool that does not exist succeeded"

# up never changes the ZooKeeper of an existing cluster: it says so.
for zkarg in "--zookeepers 1" "ZK_CONNECT=127.0.0.1:2181/other"; do
  rc=0
  if [ "${zkarg%%=*}" = ZK_CONNECT ]; then
    env "$zkarg" "$FC" up >/dev/null 2>"$T/up.err" || rc=$?
  else
    # shellcheck disable=SC2086
    "$FC" up $zkarg >/dev/null 2>"$T/up.err" || rc=$?
  fi
  [ $rc -ne 0 ] || fail "up with $zkarg on a cluster of 3 ZooKeeper servers succeeded"
  grep -q "$FLUXO_CLUSTER_DIR uses its own ZooKeeper ensemble of 3" "$T/up.err" &&
    grep -q "down --purge" "$T/up.err" || fail "up with $zkarg: $(cat "$T/up.err")"
done
"$FC" up --zookeepers 3 >/dev/null 2>&1 || fail "up with the same --zookeepers failed"

# stop waits longer than a worst-case controlled shutdown: every attempt
# (max.retries + 1) a 5 s connect and a controller.socket.timeout.ms
# answer, the backoff in between.
hc=$("$top_builddir/fluxo-broker" --help-config)
setting() { sed -n "s/^#$1=//p" <<<"$hc"; }
r=$(setting controlled.shutdown.max.retries)
b=$(setting controlled.shutdown.retry.backoff.ms)
s=$(setting controller.socket.timeout.ms)
worst=$(( ((r + 1) * (5000 + s) + r * b) / 1000 ))
st=$("$FC" stop-timeout 1) || fail "stop-timeout 1 failed"
[ "$st" -gt "$worst" ] || fail "stop waits ${st}s, less than a controlled shutdown can take (${worst}s)"
[ "$(FLUXO_CLUSTER_STOP_TIMEOUT=7 "$FC" stop-timeout 1)" = 7 ] ||
  fail "FLUXO_CLUSTER_STOP_TIMEOUT ignored"
FLUXO_CLUSTER_STOP_TIMEOUT=soon usage_error stop-timeout 1

# up again: a fourth broker joins; the others keep their ports.
ports=$(for id in 1 2 3; do "$FC" port $id; done)
b4=$("$FC" up --brokers 4 2>/dev/null) || fail "up --brokers 4 failed"
[ "$(echo "$b4" | tr ',' '\n' | wc -l)" -eq 4 ] || fail "no 4th broker: $b4"
[ "$(for id in 1 2 3; do "$FC" port $id; done)" = "$ports" ] || fail "ports changed"
"$FC" up --brokers 2 2>/dev/null && fail "up shrank the cluster"

# down: every process it started is gone; a second down is harmless.
pids=$(for id in 1 2 3 4; do "$FC" pid $id; done)
zkpids=$(cat "$FLUXO_CLUSTER_DIR"/zk/node*/pid)
"$FC" down 2>/dev/null || fail "down failed"
for p in $pids $zkpids; do alive "$p" && fail "pid $p survived down"; done
"$FC" down 2>/dev/null || fail "a second down failed"
[ "$("$FC" status | grep -c ' stopped$')" -eq 4 ] || fail "status after down: $("$FC" status)"
pass
