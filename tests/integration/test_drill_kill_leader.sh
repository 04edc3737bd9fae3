#!/usr/bin/env bash
# Failover drill kill-leader: SIGKILL of a partition leader, restarted after 2
# s.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" kill-leader
[ "$(j .victim)" != null ] || fail "no victim"
[ "$(j .time_to_leaders_ms)" -le 20000 ] || fail "leaders took $(j .time_to_leaders_ms) ms"
pass
