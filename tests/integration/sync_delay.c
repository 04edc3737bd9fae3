/*
 * sync_delay.c - an LD_PRELOAD shim that makes every fdatasync(2) and
 * fsync(2) of a process take at least FLUXO_SYNC_DELAY_MS milliseconds
 * (default 300), for test_flush_on_ack.sh.
 *
 * A kill -9 keeps the page cache, so a test that only kills the broker
 * cannot tell an acknowledgement that waited for the disk from one that
 * did not. Slowing the sync down can: a produce acknowledged with
 * log.flush.on.ack must take at least the delay, one acknowledged without
 * it must not. The delay comes before the real call, so a sync returns no
 * sooner than the delay after the data it covers was written.
 *
 * With FLUXO_SYNC_LOG set, each call appends "fdatasync PATH" or "fsync
 * PATH" (PATH from /proc/self/fd) to that file, so the test can see that
 * the shim is loaded and which files were synced. sync_file_range(2) is
 * left alone: it forces no disk cache flush and does not make data
 * durable, so an acknowledgement may not rely on it.
 *
 * Built without the sanitizers; under an ASan build the test preloads
 * ASan's runtime first (ASan insists on coming first), which defines
 * neither function, so calls still reach this shim.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static void note(const char *what, int fd)
{
	const char *log = getenv("FLUXO_SYNC_LOG");
	char link[64], path[512], line[600];
	ssize_t n;
	int lfd, len;

	if (!log || !*log)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		n = snprintf(path, sizeof(path), "fd %d", fd);
	path[n] = '\0';
	len = snprintf(line, sizeof(line), "%s %s\n", what, path);
	lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0)
		return;
	/* One write per line: O_APPEND keeps lines of threads whole. */
	if (write(lfd, line, (size_t)len) < 0)
		(void)0;
	close(lfd);
}

static void delay(void)
{
	const char *s = getenv("FLUXO_SYNC_DELAY_MS");
	long ms = s ? strtol(s, NULL, 10) : 300;
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int call(const char *name, int fd)
{
	sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
	int saved;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	saved = errno;
	note(name, fd);
	delay();
	errno = saved;
	return real(fd);
}

int fdatasync(int fd)
{
	return call("fdatasync", fd);
}

int fsync(int fd)
{
	return call("fsync", fd);
}
