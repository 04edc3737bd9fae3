#!/usr/bin/env bash
# Failover drill zk-quorum-loss: Two ZooKeeper servers of three stop for
# longer than a session: brokers survive and recover.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" zk-quorum-loss --zookeepers 3
[ "$(j .victim)" = zk:1,2 ] || fail "victim $(j .victim)"
[ "$(j .time_to_new_controller_ms)" != null ] || fail "no controller after the quorum came back"
[ "$(j .heal_at_ms)" -gt 3000 ] || fail "the quorum was back before a session timeout"
check_leader_watch
pass
