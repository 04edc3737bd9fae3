#!/usr/bin/env bash
# Bad input (oversized frame, garbage, bad CRC, truncated batch, unknown
# topic, wrong API version, bad acks) gets an error or a closed connection;
# the broker keeps serving and appends nothing.
. "$(dirname "$0")/lib.sh"

zk_start
broker_start 1 socket.request.max.bytes=1048576
fx topics --bootstrap-server "$(bs 1)" --create --topic bad --partitions 1 >/dev/null ||
  fail "cannot create the test topic"
FLUXO_BOOTSTRAP=$(bs 1) FLUXO_TOPIC=bad "$top_builddir/tests/integration/badinput" ||
  fail "bad input cases failed"
broker_alive 1 || fail "the broker died"
grep -q "exceeds socket.request.max.bytes" "$T/broker-1.log" ||
  fail "the oversized frame was not logged"
pass
