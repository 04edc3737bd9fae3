#!/usr/bin/env bash
# A full disk, for real: the broker's log.dirs is a 6 MiB tmpfs. When it
# fills, the broker keeps running; producers get KAFKA_STORAGE_ERROR;
# every acknowledged record stays readable, in order, with nothing partial
# after it (fluxo-dump-log --verify). Once space is freed, writes are
# accepted again, unless a flush failed while the disk was full (it
# depends on timing): that log takes no more writes and says so (restart
# the broker). After a restart, every acknowledged record is still there
# and writes are accepted.
# Needs root to mount the tmpfs (CI and the README's tests/run run as
# root); skips (77) where mounting is not allowed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
small="$T/small"
mkdir -p "$small"
mount -t tmpfs -o size=6m fluxo-test "$small" 2>/dev/null ||
  skip "cannot mount a tmpfs here"
# The broker must be gone before the unmount, and the unmount before
# lib.sh's cleanup removes $T.
on_exit() {
  local rc=$?
  # Nothing here may fail (errexit would skip cleanup and leave
  # ZooKeeper running).
  if [ -n "${BROKER_PID[1]:-}" ]; then
    kill -KILL "${BROKER_PID[1]}" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  umount "$small" 2>/dev/null || umount -l "$small" 2>/dev/null || true
  cleanup "$rc"
}
trap on_exit EXIT

# 2 MiB of the 6 are taken by a file that is removed later.
dd if=/dev/zero of="$small/filler" bs=1M count=2 status=none
zk_start
broker_start 1 log.dirs="$small/data" log.segment.bytes=1048576
B=$(bs 1)
fx topics --bootstrap-server "$B" --create --topic full --partitions 1 \
  --replication-factor 1 >/dev/null || fail "create topic"

# 300,000 records of ~40 bytes (about 12 MiB with their batches): far more
# than fits. retries=0: the error is reported, not retried.
fx verifiable-producer --bootstrap-server "$B" --topic full \
  --max-messages 300000 --throughput -1 --acks 1 --value-prefix full \
  --producer-property retries=0 --producer-property linger.ms=5 \
  --producer-property batch.size=16384 \
  >"$T/vp.out" 2>"$T/vp.err" || true
broker_alive 1 || fail "the broker died when the disk filled"
acked=$(grep -c producer_send_success "$T/vp.out" || true)
errs=$(grep -c producer_send_error "$T/vp.out" || true)
log "acknowledged $acked, refused $errs; $(df -k "$small" | awk 'NR == 2 {print $4}') KiB free"
[ "$acked" -gt 1000 ] || fail "only $acked records acknowledged before the disk filled"
[ "$errs" -gt 0 ] || fail "the disk never filled ($acked acknowledged)"
grep producer_send_error "$T/vp.out" | grep -v -q KAFKA_STORAGE_ERROR &&
  fail "an error other than KAFKA_STORAGE_ERROR: $(grep producer_send_error "$T/vp.out" | grep -v KAFKA_STORAGE_ERROR | head -1)"
grep -q 'append of [0-9]* bytes failed: no space left on device' "$T/broker-1.log" ||
  fail "the broker did not log the failed append: $(grep -i 'append\|space' "$T/broker-1.log" | tail -3)"
# Tens of thousands of refused appends, a few log lines: a full disk
# does not flood the broker's log.
n=$(grep -c 'failed: no space left on device' "$T/broker-1.log" || true)
[ "$n" -le 20 ] || fail "$n log lines about the full disk for $errs refused records"

# Every acknowledged record, in order, and nothing else.
check_read() { # file -> verify-records line
  fx verifiable-consumer --bootstrap-server "$B" --topic full --from-beginning \
    --max-messages "$1" --timeout-ms 10000 >"$T/vc.out" 2>"$T/vc.err" || true
  "$top_srcdir/tests/integration/verify-records" "$T/vp.out" "$T/vc.out"
}
out=$(check_read "$acked") || fail "after the disk filled: $out"
log "$out"
[ "$(grep -c '"name":"record_data"' "$T/vc.out")" -eq "$acked" ] ||
  fail "read $(grep -c '"name":"record_data"' "$T/vc.out") records, $acked acknowledged"
for f in "$small"/data/full-0/*.log; do
  fx dump-log --verify --files "$f" >/dev/null 2>"$T/dump.err" ||
    fail "fluxo-dump-log --verify $f: $(cat "$T/dump.err")"
done

# Space again.
rm -f "$small/filler"
produce_more() { # word
  printf "$1-%d\\n" 1 2 3 | fx console-producer --bootstrap-server "$B" \
    --topic full --request-required-acks 1 2>"$T/more.err"
}
more=0
if produce_more freed; then
  log "writes accepted again once space was freed"
  more=3
elif grep -q "refuses writes: an earlier write or flush of its log failed.*restart the broker" \
  "$T/more.err"; then
  grep -q "flush failed (no space left on device); the partition refuses writes" \
    "$T/broker-1.log" || fail "refused without a failed flush in the broker's log"
  log "the log's flush had failed while the disk was full: writes refused until a restart"
else
  fail "writes refused once space was freed: $(tail -1 "$T/more.err")"
fi

# After a restart: everything acknowledged is there, and writes go on.
broker_stop 1
broker_restart 1
wait_until 20 produce_more restarted ||
  fail "writes refused after a restart: $(tail -1 "$T/more.err")"
out=$(check_read $((acked + more + 3))) || fail "after the restart: $out"
log "after the restart: $out"
[ "$(grep -c '"value":"freed-' "$T/vc.out" || true)" -eq "$more" ] &&
  [ "$(grep -c '"value":"restarted-' "$T/vc.out" || true)" -eq 3 ] ||
  fail "records written after the disk filled: $(grep -o '"value":"[a-z]*-[0-9]"' "$T/vc.out" | tr '\n' ' ')"
pass
