#!/usr/bin/env bash
# Failover drill pause-broker: SIGSTOP of a leader past the session timeout,
# then SIGCONT: leadership moves, the broker rejoins.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" pause-broker
[ "$(j .heal_at_ms)" -gt 3000 ] || fail "resumed before the session timeout"
[ "$(j .time_to_leaders_ms)" -lt "$(j .heal_at_ms)" ] || fail "leadership did not move while the broker was paused"
pass
