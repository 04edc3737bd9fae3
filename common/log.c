/*
 * log.c - the line logger.
 *
 * The minimum level is an atomic so that log_enabled() is a single load on
 * hot paths. Formatting happens on the caller's stack; a line longer than
 * the buffer is cut and ends in "...".
 */
#include "config.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_min = LOG_LVL_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = { "DEBUG", "INFO ", "WARN ",
					   "ERROR" };

void log_init(enum log_level min, int fd)
{
	atomic_store(&log_min, (int)min);
	atomic_store(&log_fd, fd);
}

void log_set_level(enum log_level min)
{
	atomic_store(&log_min, (int)min);
}

int log_level_parse(const char *s)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

void log_vmsg(enum log_level lvl, const char *fac, const char *fmt,
	      va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (!log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s [%s] ",
		     ts.tv_nsec / 1000000, level_names[lvl], fac ? fac : "-");
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r < 0)
		r = 0;
	if ((size_t)r >= sizeof(line) - n - 1) {
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	} else {
		n += (size_t)r;
	}
	line[n++] = '\n';
	/* One write per line; a short write on a pipe is not retried. */
	if (write(atomic_load(&log_fd), line, n) < 0)
		return;
}

void log_msg(enum log_level lvl, const char *fac, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fac, fmt, ap);
	va_end(ap);
}

void fatal(const char *fac, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fac, fmt, ap);
	va_end(ap);
	exit(1);
}
