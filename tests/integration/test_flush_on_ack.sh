#!/usr/bin/env bash
# With log.flush.on.ack=true a produce is acknowledged only once it is on
# disk. A kill -9 keeps the page cache, so it cannot tell an ack that
# waited for fdatasync from one that did not; this test slows the sync
# down instead. The broker runs with an LD_PRELOAD shim (sync_delay.so)
# that makes every fdatasync and fsync take at least DELAY ms:
#   with log.flush.on.ack=true each of N one-record produces (acks=1, one
#     at a time, timed by probe_client) takes at least DELAY ms, and the
#     shim saw the partition's segment being fdatasynced;
#   with log.flush.on.ack=false (the default) the same produces take a
#     small fraction of DELAY (median under DELAY/4), while the shim is
#     still loaded.
# Under an ASan build ASan's runtime is preloaded ahead of the shim.
. "$(dirname "$0")/lib.sh"

DELAY=300
N=8
shim="$top_builddir/tests/integration/.libs/sync_delay.so"
probe="$top_builddir/tests/integration/probe_client"
[ -f "$shim" ] || fail "$shim is not built"

preload=$shim
asan=$(ldd "$top_builddir/fluxo-broker" | awk '/libasan/ {print $3; exit}')
if [ -n "$asan" ]; then
  # ASan refuses to start unless its runtime is the first library loaded.
  preload="$asan:$shim"
  log "the broker uses ASan: preloading $asan ahead of the shim"
fi
BROKER_ENV=(LD_PRELOAD="$preload" FLUXO_SYNC_DELAY_MS=$DELAY FLUXO_SYNC_LOG="$T/sync.log")

stats() { # file -> "min median max" of probe_client produce
  sed -n 's/^min=\([0-9.]*\) median=\([0-9.]*\) max=\([0-9.]*\)$/\1 \2 \3/p' "$1"
}

zk_start
broker_start 1 log.flush.on.ack=true
B=$(bs 1)
fx topics --bootstrap-server "$B" --create --topic ack --partitions 1 >/dev/null ||
  fail "create ack"
[ -s "$T/sync.log" ] || fail "the shim is not loaded in the broker (no sync logged)"

# The first produce of a partition may wait for its set-up; time the rest.
"$probe" "$B" produce ack 1 >/dev/null || fail "first produce"
: >"$T/sync.log"
"$probe" "$B" produce ack $N >"$T/on.out" || fail "produce with flush.on.ack"
read -r min median max <<<"$(stats "$T/on.out")"
log "log.flush.on.ack=true, fdatasync delayed $DELAY ms: ack min $min median $median max $max ms"
awk -v m="$min" -v d=$DELAY 'BEGIN { exit !(m >= d) }' ||
  fail "an ack came ${min} ms after its produce, sooner than the $DELAY ms fdatasync:
$(cat "$T/on.out")"
synced=$(grep -c -E "^fdatasync .*/ack-0/[0-9]+\.log$" "$T/sync.log" || true)
[ "$synced" -ge $N ] || fail "the segment of ack-0 was fdatasynced $synced times for $N acks:
$(cat "$T/sync.log")"

broker_stop 1
: >"$T/sync.log"
broker_restart 1 log.flush.on.ack=false
"$probe" "$B" produce ack 1 >/dev/null || fail "first produce after the restart"
"$probe" "$B" produce ack $N >"$T/off.out" || fail "produce without flush.on.ack"
read -r min median max <<<"$(stats "$T/off.out")"
log "log.flush.on.ack=false, fdatasync delayed $DELAY ms: ack min $min median $median max $max ms"
grep -q . "$T/sync.log" || fail "the shim is not loaded in the restarted broker"
awk -v m="$median" -v d=$DELAY 'BEGIN { exit !(m < d / 4) }' ||
  fail "without flush.on.ack the median ack took ${median} ms (fdatasync delayed $DELAY ms):
$(cat "$T/off.out")"
pass
