#!/usr/bin/env bash
# deploy/systemd/fluxo-broker@.service passes `systemd-analyze verify`
# without a warning, and has what a broker needs: SIGTERM (controlled
# shutdown) with a long stop timeout, a restart policy, a high fd limit,
# one configuration per instance. Skips (77) only when systemd-analyze
# cannot verify any unit here.
. "$(dirname "$0")/lib.sh"

unit="$top_srcdir/deploy/systemd/fluxo-broker@.service"
[ -f "$unit" ] || fail "$unit is missing"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (deploy/install-deps installs systemd)"

# Can systemd-analyze verify at all here (some containers lack what it needs)?
mkdir -p "$T/probe"
printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$T/probe/probe.service"
(cd "$T/probe" && systemd-analyze verify ./probe.service) >"$T/probe.out" 2>&1 ||
  skip "systemd-analyze verify does not work here: $(head -n 3 "$T/probe.out")"
[ ! -s "$T/probe.out" ] || skip "systemd-analyze verify warns about a trivial unit: $(head -n 3 "$T/probe.out")"

# The unit names /usr/local/bin/fluxo-broker, which the build does not
# install: verify a copy pointing at the built broker (verify checks that
# ExecStart is executable), as a template and as an instance.
grep -q '^ExecStart=/usr/local/bin/fluxo-broker /etc/fluxo/%i.properties$' "$unit" ||
  fail "ExecStart is not /usr/local/bin/fluxo-broker /etc/fluxo/%i.properties"
mkdir -p "$T/units"
sed "s,^ExecStart=/usr/local/bin/fluxo-broker ,ExecStart=$top_builddir/fluxo-broker ," \
  "$unit" >"$T/units/fluxo-broker@.service"
ln -s fluxo-broker@.service "$T/units/fluxo-broker@1.service"
for u in fluxo-broker@.service fluxo-broker@1.service; do
  (cd "$T/units" && systemd-analyze verify "./$u") >"$T/verify.out" 2>&1 ||
    { cat "$T/verify.out" >&2; fail "systemd-analyze verify rejected $u"; }
  [ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify warned about $u"; }
done

# A broken copy is caught (the check above can fail).
sed 's/^KillSignal=SIGTERM$/KillSignal=SIGNOPE/' "$T/units/fluxo-broker@.service" >"$T/units/broken@.service"
(cd "$T/units" && systemd-analyze verify ./broken@.service) >"$T/verify.out" 2>&1 || true
[ -s "$T/verify.out" ] || fail "systemd-analyze verify accepted a bad signal name"

val() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
[ "$(val KillSignal)" = SIGTERM ] || fail "KillSignal is not SIGTERM"
t=$(val TimeoutStopSec); t=${t%s}
[[ "$t" =~ ^[0-9]+$ ]] && [ "$t" -ge 120 ] ||
  fail "TimeoutStopSec ($t) is shorter than a worst-case controlled shutdown"
case "$(val Restart)" in on-failure|always|on-abnormal) ;; *) fail "no restart policy" ;; esac
n=$(val LimitNOFILE)
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 100000 ] || fail "LimitNOFILE ($n) is too low"
pass
