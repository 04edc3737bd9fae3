#!/usr/bin/env bash
# deploy/config/server.properties is exactly what `fluxo-broker
# --help-config` prints from the config table: a setting added, renamed or
# given a new default or description must be written there too
# (fluxo-broker --help-config > deploy/config/server.properties).
. "$(dirname "$0")/lib.sh"

"$top_builddir/fluxo-broker" --help-config >"$T/help-config" ||
  fail "fluxo-broker --help-config failed"
file="$top_srcdir/deploy/config/server.properties"
[ -f "$file" ] || fail "$file is missing"
if ! diff -u "$file" "$T/help-config" >"$T/diff"; then
  head -n 60 "$T/diff" >&2
  fail "deploy/config/server.properties differs from the config table; regenerate it with: build/check/fluxo-broker --help-config > deploy/config/server.properties"
fi

# Every setting is there, commented out at its default, after a
# description; with the comment marks removed the broker accepts every
# value (it gets as far as ZooKeeper, which is not there).
n=$(grep -c '^#[a-z][a-z0-9_.]*=' "$file")
[ "$n" -ge 50 ] || fail "only $n settings in $file"
grep -B1 '^#[a-z][a-z0-9_.]*=' "$file" | grep -v -- '^--$' |
  awk 'NR % 2 == 1 && !/^# / { bad = 1 } END { exit bad }' ||
  fail "a setting in $file has no description line"
sed -n 's/^#\([a-z][a-z0-9_.]*=.\)/\1/p' "$file" |
  grep -v '^zookeeper.connect=\|^log.dirs=\|^log.dir=\|^zookeeper.connection.timeout.ms=' >"$T/all.properties"
{
  echo "zookeeper.connect=127.0.0.1:1/none"
  echo "log.dirs=$T/data"
  echo "zookeeper.connection.timeout.ms=500"
} >>"$T/all.properties"
out=$(timeout 30 "$top_builddir/fluxo-broker" "$T/all.properties" 2>&1) &&
  fail "the broker started without ZooKeeper"
echo "$out" | tail -n 1 | grep >/dev/null "could not connect to ZooKeeper" ||
  fail "the broker refused the defaults of server.properties: $(echo "$out" | tail -n 3)"

# The ZooKeeper example describes a three-node ensemble.
zoo="$top_srcdir/deploy/config/zoo.cfg"
[ "$(grep -c '^server\.[1-3]=' "$zoo")" -eq 3 ] || fail "zoo.cfg does not list 3 servers"
grep -q '^dataDir=' "$zoo" && grep -q '^clientPort=' "$zoo" || fail "zoo.cfg lacks dataDir or clientPort"
pass
