# shellcheck shell=bash
# cluster.sh - for integration tests that use deploy/fluxo-cluster
# (sourced, bash; sources lib.sh). Provides:
#   FC                          the deploy/fluxo-cluster script
#   cluster_up ARGS...          fluxo-cluster up with ARGS, in $T/cluster,
#                               with this build's binaries -> $BOOTSTRAP
#   wait_topic TOPIC PARTITIONS every running broker has the topic's leaders
# On exit the cluster is brought down (by the pids fluxo-cluster recorded)
# before lib.sh's cleanup, and its broker logs are checked for sanitizer
# reports.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FC="$top_srcdir/deploy/fluxo-cluster"
export FLUXO_CLUSTER_DIR="$T/cluster"
export FLUXO_BUILD_DIR="$top_builddir"
unset ZK_CONNECT
BOOTSTRAP=""

cluster_up() {
  BOOTSTRAP=$("$FC" up "$@" 2>"$T/cluster-up.err") || {
    cat "$T/cluster-up.err" >&2
    fail "fluxo-cluster up $* failed"
  }
}

# topic_ready TOPIC PARTITIONS: every running broker knows every partition's
# leader (a topic is usable by a client whichever broker it asks).
topic_ready() {
  local id n
  for id in $("$FC" brokers); do
    "$FC" pid "$id" >/dev/null 2>&1 || continue
    n=$(fx topics --bootstrap-server "127.0.0.1:$("$FC" port "$id")" --describe \
      --topic "^$1\$" 2>/dev/null | grep -c 'Leader: [0-9]') || return 1
    [ "$n" -eq "$2" ] || return 1
  done
}

wait_topic() { # topic partitions
  wait_until 30 topic_ready "$1" "$2" || fail "topic $1 did not reach every broker"
}

cluster_sanitizers() {
  local f
  for f in "$FLUXO_CLUSTER_DIR"/broker-*.log; do
    [ -f "$f" ] || continue
    if grep -q -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
      echo "sanitizer report in $f:" >&2
      grep -n -A 30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | head -80 >&2
      return 1
    fi
  done
}

cluster_cleanup() {
  local rc=$?
  if [ -f "$FLUXO_CLUSTER_DIR/brokers" ]; then
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
      for f in "$FLUXO_CLUSTER_DIR"/broker-*.log; do
        echo "----- tail of $f" >&2
        tail -n 30 "$f" >&2
      done
    fi
    "$FC" down >/dev/null 2>&1 || true
    cluster_sanitizers || rc=1
  fi
  cleanup "$rc"
}
trap cluster_cleanup EXIT
