#!/usr/bin/env bash
# Failover drill kill-controller: SIGKILL of the active controller: another
# broker takes over.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" kill-controller
[ "$(j .time_to_new_controller_ms)" != null ] || fail "no new controller time"
[ "$(j .time_to_new_controller_ms)" -le 20000 ] || fail "a new controller took $(j .time_to_new_controller_ms) ms"
pass
