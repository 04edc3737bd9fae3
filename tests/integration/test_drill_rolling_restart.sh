#!/usr/bin/env bash
# Failover drill rolling-restart: SIGTERM (controlled shutdown) and restart of
# every broker in turn.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" rolling-restart
[ "$(j "[.steps[] | select(.action == \"stop\")] | length")" -eq 3 ] || fail "not every broker was restarted"
[ "$(j .time_to_leaders_ms)" -le 5000 ] || fail "a controlled shutdown left partitions leaderless for $(j .time_to_leaders_ms) ms"
pass
