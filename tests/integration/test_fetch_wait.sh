#!/usr/bin/env bash
# Fetch long poll: max_wait_ms, min_bytes and the purgatory's wake-up on a
# produce. Single Fetch requests are timed by probe_client (raw protocol:
# one request, no client polling), then a console consumer is timed:
#   an empty poll at the log end waits about max_wait_ms (at least 80 %,
#     not more than 2 s over) and answers with no record;
#   a fetch waiting at the log end (max_wait 5 s) answers within 1 s of a
#     produce, with the record, well before max_wait;
#   with min_bytes 4000 a small record does not end the wait, 8 kB more
#     produced a second later do, well before max_wait;
#   a console consumer with fetch.max.wait.ms=5000 waiting at the end
#     prints a record produced later within 1 s.
. "$(dirname "$0")/lib.sh"

now_ms() { date +%s%3N; }
probe() { "$top_builddir/tests/integration/probe_client" "$B" "$@"; }
field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | tail -1; } # name probe-output
produce() { # value
  echo "$1" | fx console-producer --bootstrap-server "$B" --topic lp \
    --request-required-acks 1 >/dev/null 2>"$T/prod.err" ||
    fail "produce $1: $(cat "$T/prod.err")"
}
# Starts a fetch from the log end in the background (-> $FETCH_PID) and
# returns once it is on the wire.
fetch_bg() { # out max_wait min_bytes
  local end
  end=$(probe end lp) || fail "no log end offset"
  probe fetch lp "$end" "$2" "$3" >"$1" 2>&1 &
  FETCH_PID=$!
  STARTED_PIDS+=("$FETCH_PID")
  wait_until 10 grep -q '^sent=' "$1" || fail "the fetch was not sent: $(cat "$1")"
}
fetch_wait() { # out
  local deadline=$((SECONDS + 30))
  while kill -0 "$FETCH_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  wait "$FETCH_PID" || fail "the fetch failed: $(cat "$1")"
  grep -q '^end=' "$1" || fail "no answer to the fetch: $(cat "$1")"
}
check() { # description awk-condition
  awk "BEGIN { exit !($2) }" || fail "$1"
}

zk_start
broker_start 1
B=$(bs 1)
fx topics --bootstrap-server "$B" --create --topic lp --partitions 1 >/dev/null || fail "create lp"
produce first

# ------------------------------------------------------------ empty poll
end=$(probe end lp)
probe fetch lp "$end" 3000 1 >"$T/empty.out" || fail "empty poll: $(cat "$T/empty.out")"
ms=$(field ms "$T/empty.out")
log "empty poll, max_wait 3000 ms: answered after $ms ms"
[ "$(field records "$T/empty.out")" = 0 ] || fail "empty poll: $(cat "$T/empty.out")"
check "the empty poll answered after $ms ms, not about 3000" "$ms >= 2400 && $ms < 5000"

# ------------------------------------------------------------ wake-up
fetch_bg "$T/wake.out" 5000 1
sleep 0.5
t0=$(now_ms)
produce second
t1=$(now_ms)
fetch_wait "$T/wake.out"
ms=$(field ms "$T/wake.out")
e=$(field end "$T/wake.out")
log "wake-up, max_wait 5000 ms: answered after $ms ms, $((e - t1)) ms after the produce was acknowledged (it took $((t1 - t0)) ms)"
[ "$(field records "$T/wake.out")" = 1 ] || fail "wake-up: $(cat "$T/wake.out")"
check "the fetch answered at $e, before the produce started at $t0" "$e >= $t0"
check "the fetch answered $((e - t1)) ms after the produce" "$e - $t1 < 1000"
check "the fetch took $ms ms of its 5000" "$ms < 4000"

# ------------------------------------------------------------ min_bytes
fetch_bg "$T/minb.out" 8000 4000
sleep 0.3
produce small
sleep 1
t0=$(now_ms)
fx producer-perf --topic lp --num-records 8 --record-size 1000 --throughput -1 \
  --producer-props bootstrap.servers="$B" acks=1 | tail -1 | grep >/dev/null "^8 records sent" ||
  fail "producing 8 kB failed"
t1=$(now_ms)
fetch_wait "$T/minb.out"
ms=$(field ms "$T/minb.out")
e=$(field end "$T/minb.out")
bytes=$(field bytes "$T/minb.out")
log "min_bytes 4000, max_wait 8000 ms: answered after $ms ms with $bytes bytes, $((e - t1)) ms after the 8 kB"
check "the fetch answered at $e with $bytes bytes, before the 8 kB (from $t0)" "$e >= $t0"
check "the fetch answered with $bytes bytes, fewer than min_bytes" "$bytes >= 4000"
check "the fetch answered $((e - t1)) ms after min_bytes were there" "$e - $t1 < 1000"
check "the fetch took $ms ms of its 8000" "$ms < 7000"

# ------------------------------------------------------------ a consumer
end=$(probe end lp)
FX_OUT="$T/cc.out" FX_ERR="$T/cc.err" fx_bg console-consumer --bootstrap-server "$B" \
  --topic lp --partition 0 --offset "$end" --max-messages 1 --timeout-ms 20000 \
  --consumer-property fetch.max.wait.ms=5000
cc=$FX_PID
sleep 2
kill -0 $cc 2>/dev/null || fail "the console consumer exited: $(cat "$T/cc.err")"
produce third
t1=$(now_ms)
deadline=$((SECONDS + 20))
while kill -0 $cc 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
t2=$(now_ms)
wait $cc || fail "the console consumer failed: $(cat "$T/cc.err")"
[ "$(cat "$T/cc.out")" = third ] || fail "the console consumer printed: $(cat "$T/cc.out")"
log "console consumer, fetch.max.wait.ms=5000: had the record $((t2 - t1)) ms after the produce"
check "the console consumer took $((t2 - t1)) ms to print a record" "$t2 - $t1 < 1000"
pass
