#!/usr/bin/env bash
# Failover drill zk-node-loss: One ZooKeeper server of three stops and comes
# back.
# No acknowledged record may be lost (see drill_test.sh).
. "$(dirname "$0")/drill_test.sh" zk-node-loss --zookeepers 3
[ "$(j .victim)" = zk:1 ] || fail "victim $(j .victim)"
check_leader_watch
pass
