# lib.sh - shared helpers of the integration tests (sourced, bash).
#
# A test sources this file, then uses:
#   zk_start [N]                  start a ZooKeeper (ensemble of N) -> $ZK
#   broker_start ID [k=v ...]     start broker ID with extra settings; waits
#                                 until it serves -> port in $(broker_port ID)
#   broker_stop ID | broker_kill ID | broker_pause ID | broker_resume ID
#                                 (pause returns once every thread stopped)
#   broker_restart ID [k=v ...]
#   BROKER_ENV=(K=V ...)          environment of the brokers started next
#                                 (e.g. LD_PRELOAD); none by default
#   broker_setting ID NAME        the value of setting NAME broker ID runs
#                                 with (its properties, else the default)
#   bs [ID]                       bootstrap address "127.0.0.1:port"
#   fx TOOL ARGS...               run a fluxo tool from the build tree
#   FX_OUT=f fx_bg TOOL ARGS...   start one in the background -> $FX_PID
#   wait_until SECONDS CMD...     retry CMD until it succeeds or time runs out
#   fail MSG / pass               end the test
# Everything started is recorded and stopped by pid on exit; every wait is
# bounded; broker logs are checked for sanitizer reports at the end.
set -euo pipefail

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

T=$(mktemp -d "${TMPDIR:-/tmp}/fluxo-it.XXXXXX")
ZK=""
declare -A BROKER_PID BROKER_PORT BROKER_EXTRA BROKER_LOGPOS
STARTED_PIDS=()
BROKER_ENV=()

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

fail() {
  log "FAIL: $*"
  for f in "$T"/broker-*.log; do
    [ -f "$f" ] || continue
    echo "----- tail of $f" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

pass() { log "PASS"; exit 0; }

skip() { log "SKIP: $*"; exit 77; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))  # below the ephemeral range
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  fail "no free port"
}

wait_until() { # seconds cmd...
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

fx() { # tool args...
  local tool=$1; shift
  "$top_builddir/tools/fluxo-$tool" "$@"
}

# Starts a tool in the background; its pid (not a subshell's) goes to
# $FX_PID and to the list of processes stopped at exit.
fx_bg() { # tool args... (redirect with FX_OUT/FX_ERR)
  local tool=$1; shift
  "$top_builddir/tools/fluxo-$tool" "$@" >"${FX_OUT:-/dev/null}" 2>"${FX_ERR:-/dev/null}" &
  FX_PID=$!
  STARTED_PIDS+=("$FX_PID")
}

zk_start() {
  local n=${1:-1}
  ZK=$("$top_srcdir/deploy/zk-local" start "$T/zk" --servers "$n") ||
    fail "ZooKeeper did not start"
  export ZK
}

broker_port() { echo "${BROKER_PORT[$1]}"; }
bs() { echo "127.0.0.1:${BROKER_PORT[${1:-1}]}"; }
bootstrap_all() {
  local s="" id
  for id in "${!BROKER_PORT[@]}"; do s="${s:+$s,}127.0.0.1:${BROKER_PORT[$id]}"; done
  echo "$s"
}

broker_config() { # id extra...
  local id=$1; shift
  local port=${BROKER_PORT[$id]:-}
  [ -n "$port" ] || { port=$(free_port); BROKER_PORT[$id]=$port; }
  mkdir -p "$T/data-$id"
  {
    echo "broker.id=$id"
    echo "listeners=PLAINTEXT://127.0.0.1:$port"
    echo "log.dirs=$T/data-$id"
    echo "zookeeper.connect=$ZK/fluxo"
    echo "num.network.threads=2"
    echo "logger.level=${FLUXO_TEST_LOG_LEVEL:-info}"
    for kv in "$@"; do echo "$kv"; done
  } >"$T/broker-$id.properties"
}

broker_serving() { # id: this run of the broker logged that it serves
  tail -n +"$(( ${BROKER_LOGPOS[$1]:-0} + 1 ))" "$T/broker-$1.log" 2>/dev/null |
    grep >/dev/null "broker $1 started"
}

broker_start() { # id extra...
  local id=$1; shift
  BROKER_EXTRA[$id]="$*"
  broker_config "$id" "$@"
  if [ -f "$T/broker-$id.log" ]; then
    BROKER_LOGPOS[$id]=$(wc -l <"$T/broker-$id.log")
  else
    BROKER_LOGPOS[$id]=0
  fi
  # env execs the broker: $! is the broker's pid.
  env ${BROKER_ENV[@]+"${BROKER_ENV[@]}"} \
    "$top_builddir/fluxo-broker" "$T/broker-$id.properties" \
    >>"$T/broker-$id.log" 2>&1 &
  BROKER_PID[$id]=$!
  STARTED_PIDS+=("$!")
  wait_until 30 broker_serving "$id" ||
    fail "broker $id did not start (see $T/broker-$id.log)"
}

# The value broker ID runs with for setting NAME: the last NAME= line of
# its properties file, else fluxo-broker's default (from --help-config).
broker_setting() { # id name
  local v
  v=$(awk -F= -v k="$2" '$1 == k { v = substr($0, length(k) + 2) } END { print v }' \
    "$T/broker-$1.properties")
  [ -n "$v" ] || v=$("$top_builddir/fluxo-broker" --help-config 2>/dev/null |
    awk -F= -v k="#$2" '$1 == k { print substr($0, length(k) + 2); exit }')
  echo "$v"
}

broker_alive() { kill -0 "${BROKER_PID[$1]}" 2>/dev/null; }

broker_wait_exit() { # id seconds
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    broker_alive "$1" || { wait "${BROKER_PID[$1]}" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

broker_stop() {
  local id=$1
  broker_alive "$id" || return 0
  kill -TERM "${BROKER_PID[$id]}"
  broker_wait_exit "$id" 60 || fail "broker $id did not stop on SIGTERM within 60 s"
}

broker_kill() {
  local id=$1
  broker_alive "$id" || return 0
  kill -KILL "${BROKER_PID[$id]}"
  broker_wait_exit "$id" 10 || fail "broker $id did not die on SIGKILL"
}

# Every thread of pid is stopped (state T in /proc). kill -STOP returns
# once one thread was told; that thread stops the others when it next
# runs, so on a busy machine the rest of the broker can go on for a few
# milliseconds, and answer one more request, after "pause".
all_threads_stopped() { # pid
  awk '{ s = $0; sub(/.*\) /, "", s); st = substr(s, 1, 1); n++
         if (st != "T" && st != "t") bad++ }
       END { exit !(n > 0 && bad == 0) }' /proc/"$1"/task/*/stat 2>/dev/null
}
broker_pause() { # returns once every thread of the broker is stopped
  kill -STOP "${BROKER_PID[$1]}"
  local i
  for i in $(seq 1 500); do
    all_threads_stopped "${BROKER_PID[$1]}" && return 0
    sleep 0.01
  done
  fail "broker $1 was not stopped 5 s after SIGSTOP"
}
broker_resume() { kill -CONT "${BROKER_PID[$1]}"; }

broker_restart() { # id [extra...] (keeps its port and data)
  local id=$1; shift
  if [ $# -gt 0 ]; then broker_start "$id" "$@"; else
    # shellcheck disable=SC2086
    broker_start "$id" ${BROKER_EXTRA[$id]}
  fi
}

check_sanitizers() {
  local f
  for f in "$T"/broker-*.log; do
    [ -f "$f" ] || continue
    if grep -q -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
      echo "sanitizer report in $f:" >&2
      grep -n -A 30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | head -80 >&2
      return 1
    fi
  done
  return 0
}

# cleanup [RC]: the exit trap; a trap of a test's own passes the exit
# status it saw (a bare `(exit $rc)` would trip errexit when it is not 0,
# ending the trap before anything was stopped).
cleanup() {
  local rc=$?
  [ $# -eq 0 ] || rc=$1
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ -f "$T/zk/servers" ] && "$top_srcdir/deploy/zk-local" stop "$T/zk" || true
  if ! check_sanitizers; then rc=1; fi
  if [ -z "${FLUXO_KEEP:-}" ] && { [ $rc -eq 0 ] || [ $rc -eq 77 ]; }; then rm -rf "$T"; else log "kept $T for inspection"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
