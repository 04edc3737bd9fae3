#!/usr/bin/env bash
# Start-up refuses bad configuration and a second broker on the same
# log.dirs with a sentence, and never hangs on an unreachable ZooKeeper.
. "$(dirname "$0")/lib.sh"

broker=$top_builddir/fluxo-broker

# Unknown key, bad value, missing zookeeper.connect: exit 1 with the key named.
printf 'broker.id=1\nzookeeper.connect=127.0.0.1:1\nlog.retention.hourz=3\n' >"$T/bad1.properties"
out=$("$broker" "$T/bad1.properties" 2>&1) && fail "unknown key accepted"
grep -q 'log.retention.hourz' <<<"$out" || fail "unknown key not named: $out"
grep -q 'bad1.properties:3' <<<"$out" || fail "line not named: $out"

printf 'broker.id=abc\nzookeeper.connect=127.0.0.1:1\n' >"$T/bad2.properties"
out=$("$broker" "$T/bad2.properties" 2>&1) && fail "bad value accepted"
grep -q 'broker.id' <<<"$out" || fail "bad value not named: $out"

printf 'broker.id=1\n' >"$T/bad3.properties"
out=$("$broker" "$T/bad3.properties" 2>&1) && fail "missing zookeeper.connect accepted"
grep -q 'zookeeper.connect' <<<"$out" || fail "missing key not named: $out"

out=$("$broker" "$T/nonexistent.properties" 2>&1) && fail "missing file accepted"
grep -q 'nonexistent.properties' <<<"$out" || fail "missing file not named: $out"

out=$("$broker" "$T/bad1.properties" --override 2>&1) && fail "bad usage accepted"

# Unreachable ZooKeeper: a clear error within the connection timeout.
p=$(free_port)
printf 'broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s/d0\nzookeeper.connect=127.0.0.1:%s\nzookeeper.connection.timeout.ms=2000\n' \
  "$(free_port)" "$T" "$p" >"$T/nozk.properties"
start=$SECONDS
out=$(timeout 30 "$broker" "$T/nozk.properties" 2>&1) && fail "started without ZooKeeper"
[ $((SECONDS - start)) -le 15 ] || fail "took $((SECONDS - start)) s to give up on ZooKeeper"
grep -qi 'zookeeper' <<<"$out" || fail "no ZooKeeper error: $out"

# A second broker on the same log.dirs is refused.
zk_start
broker_start 1
printf 'broker.id=2\nlisteners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s/data-1\nzookeeper.connect=%s/fluxo\n' \
  "$(free_port)" "$T" "$ZK" >"$T/second.properties"
out=$(timeout 30 "$broker" "$T/second.properties" 2>&1) && fail "second broker on the same log.dirs started"
grep -q 'in use by another fluxo-broker' <<<"$out" || fail "no lock error: $out"
broker_alive 1 || fail "the first broker died"

# The same broker.id registered twice is refused.
printf 'broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s/d2\nzookeeper.connect=%s/fluxo\n' \
  "$(free_port)" "$T" "$ZK" >"$T/dupid.properties"
out=$(timeout 30 "$broker" "$T/dupid.properties" 2>&1) && fail "duplicate broker.id started"
grep -q 'already registered' <<<"$out" || fail "no duplicate id error: $out"

# A port in use is refused with the address.
printf 'broker.id=3\nlisteners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s/d3\nzookeeper.connect=%s/fluxo\n' \
  "$(broker_port 1)" "$T" "$ZK" >"$T/port.properties"
out=$(timeout 30 "$broker" "$T/port.properties" 2>&1) && fail "started on a port in use"
grep -q "127.0.0.1:$(broker_port 1)" <<<"$out" || fail "port not named: $out"
pass
