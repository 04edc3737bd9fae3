#!/usr/bin/env bash
# deploy/quickstart against an existing ZooKeeper (ZK_CONNECT) with this
# build (FLUXO_BUILD_DIR: no build, no install): three brokers on
# FLUXO_PORT..+2, an RF 3 topic, the five records read back; a second run
# reuses the running cluster; status; stop stops every process it started.
# --help prints the usage (exit 0); an unknown command is a usage error.
. "$(dirname "$0")/lib.sh"

qs="$top_srcdir/deploy/quickstart"
help=$("$qs" --help) || fail "quickstart --help exited $?"
grep -q 'deploy/quickstart stop' <<<"$help" || fail "quickstart --help printed no usage: $help"
rc=0
"$qs" frobnicate >/dev/null 2>"$T/qs-usage.err" || rc=$?
[ $rc -eq 2 ] && grep -q 'usage: deploy/quickstart' "$T/qs-usage.err" ||
  fail "quickstart frobnicate: exit $rc, $(cat "$T/qs-usage.err")"

zk_start
export FLUXO_BUILD_DIR="$top_builddir" FLUXO_QUICKSTART_DIR="$T/qs"
export ZK_CONNECT="$ZK/qs"
base=""
for _ in $(seq 1 50); do
  p=$(free_port)
  if port_free $((p + 1)) && port_free $((p + 2)); then base=$p; break; fi
done
[ -n "$base" ] || fail "no three free ports"
export FLUXO_PORT=$base
stopped=no
qs_stop() { [ $stopped = yes ] || "$qs" stop >/dev/null 2>&1 || true; }
# The test's exit status goes to cleanup: after qs_stop, $? would be 0 and
# a failed test would have passed.
trap 'rc=$?; qs_stop; cleanup "$rc"' EXIT

timeout 300 "$qs" >"$T/qs1.out" 2>&1 || { cat "$T/qs1.out" >&2; fail "quickstart failed"; }
out=$(cat "$T/qs1.out")
grep -q "using the ZooKeeper ensemble $ZK_CONNECT" <<<"$out" || fail "ZK_CONNECT not used: $out"
grep -q "starting a local ZooKeeper" <<<"$out" && fail "started its own ZooKeeper despite ZK_CONNECT"
[ "$(echo "$out" | grep -c 'Partition: [012].*Leader: [123].*Replicas: [123],[123],[123].*Isr: [123],[123],[123]')" -eq 3 ] ||
  fail "the topic is not replicated three times: $out"
for r in 'hello fluxo' 'record two' 'record three' 'record four' 'record five'; do
  grep -qx "$r" <<<"$out" || fail "record '$r' not read back: $out"
done
grep -q "brokers 1, 2 and 3 on 127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))" <<<"$out" ||
  fail "no bootstrap line: $out"
grep -q "Stop everything: deploy/quickstart stop" <<<"$out" || fail "no stop hint"

st=$("$qs" status)
[ "$(echo "$st" | grep -c '^broker [123] .* running$')" -eq 3 ] || fail "status: $st"
pids=$(echo "$st" | sed -n 's/^broker [123] .* pid \([0-9]*\) running$/\1/p')

# A second run reuses the running brokers (same pids) and produces again.
timeout 120 "$qs" >"$T/qs2.out" 2>&1 || { cat "$T/qs2.out" >&2; fail "second quickstart run failed"; }
st=$("$qs" status)
[ "$(echo "$st" | sed -n 's/^broker [123] .* pid \([0-9]*\) running$/\1/p')" = "$pids" ] ||
  fail "the second run restarted brokers: $st"

"$qs" stop >"$T/stop.out" 2>&1 || fail "quickstart stop failed"
stopped=yes
grep -q "stopped (data kept in $T/qs" "$T/stop.out" || fail "stop output: $(cat "$T/stop.out")"
for p in $pids; do
  kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$p/status" 2>/dev/null &&
    fail "broker pid $p survived quickstart stop"
done
pass
