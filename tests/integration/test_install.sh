#!/usr/bin/env bash
# test_install.sh - `make install` gives a user what doc/client.md promises:
# the broker and every tool, fluxo.h, libfluxo and libfluxo.pc, so that a
# program builds with `pkg-config --cflags --libs libfluxo` and runs.
# Installs into a DESTDIR under the test's directory, never into the system.
. "$(dirname "$0")/lib.sh"

if [ "${FLUXO_TEST_MODE:-}" = sanitize ]; then
  # libfluxo is built with -fsanitize there: a program linked against it
  # needs the sanitizer runtime too; the check build runs this test.
  skip "the installed library is a sanitizer build"
fi

root="$T/root"
make -s -C "$top_builddir" install DESTDIR="$root" >"$T/install.log" 2>&1 ||
  { cat "$T/install.log" >&2; fail "make install failed"; }
prefix=$(sed -n "s/^prefix *= *//p" "$top_builddir/Makefile")
[ -n "$prefix" ] || fail "no prefix in $top_builddir/Makefile"
dest="$root$prefix"

for p in fluxo-broker fluxo-topics fluxo-console-producer \
  fluxo-console-consumer fluxo-producer-perf fluxo-consumer-perf \
  fluxo-verifiable-producer fluxo-verifiable-consumer fluxo-configs \
  fluxo-leader-election fluxo-reassign-partitions fluxo-dump-log \
  fluxo-cluster-info; do
  [ -x "$dest/bin/$p" ] || fail "make install did not install $p"
done
[ -f "$dest/include/fluxo.h" ] || fail "make install did not install fluxo.h"
pc="$dest/lib/pkgconfig/libfluxo.pc"
[ -f "$pc" ] || fail "make install did not install libfluxo.pc"

# A user's program, built only from what pkg-config says.
cat >"$T/hello.c" <<'EOF'
#include <stdio.h>
#include <fluxo.h>

int main(void)
{
	char err[256];
	fluxo_conf_t *c = fluxo_conf_new();

	if (!c || fluxo_conf_set(c, "linger.ms", "5", err, sizeof(err)) != 0)
		return 1;
	printf("libfluxo %s\n", FLUXO_VERSION_STR);
	fluxo_conf_destroy(c);
	return 0;
}
EOF
flags=$(PKG_CONFIG_PATH="$dest/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" \
  pkg-config --cflags --libs libfluxo) || fail "pkg-config does not know libfluxo"
# shellcheck disable=SC2086
cc -Wall -Werror -o "$T/hello" "$T/hello.c" $flags 2>"$T/cc.err" ||
  { cat "$T/cc.err" >&2; fail "a program does not build with pkg-config's flags: $flags"; }
out=$(LD_LIBRARY_PATH="$dest/lib" "$T/hello") || fail "the program failed: $out"
[ "$out" = "libfluxo $(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")" ] ||
  fail "the program printed '$out'"
out=$(LD_LIBRARY_PATH="$dest/lib" "$dest/bin/fluxo-topics" --version) ||
  fail "the installed fluxo-topics does not run"
log "installed under $dest: $out"
pass
