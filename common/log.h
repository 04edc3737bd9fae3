/*
 * log.h - one line per event, to stderr (or a file descriptor).
 *
 * Every line reads
 *   2026-11-25T09:05:20.123Z INFO  [facility] message
 * Messages name the ids involved: partition events as key=value pairs
 * ("topic=t partition=3 offset=17") so that one partition's lines can be
 * grepped; broker and controller events name the broker id and epochs in
 * the sentence ("broker 2 is the controller, epoch 7"). A line is formatted into a
 * stack buffer and written with one write(2), so lines from several
 * threads never interleave. Safe to call from any thread.
 */
#ifndef FLUXO_LOG_H
#define FLUXO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO = 1,
	LOG_LVL_WARN = 2,
	LOG_LVL_ERROR = 3,
};

/* Sets the minimum level written and the descriptor (default: 2). */
void log_init(enum log_level min, int fd);
void log_set_level(enum log_level min);
/* Parses "debug", "info", "warn" or "error"; returns -1 if unknown. */
int log_level_parse(const char *s);
bool log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fac, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *fac, const char *fmt,
	      va_list ap);

/* Logs at ERROR and exits with status 1. Start-up and broken invariants only. */
void fatal(const char *fac, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#define log_debug(fac, ...)                                                    \
	do {                                                                   \
		if (log_enabled(LOG_LVL_DEBUG))                                \
			log_msg(LOG_LVL_DEBUG, fac, __VA_ARGS__);              \
	} while (0)
#define log_info(fac, ...) log_msg(LOG_LVL_INFO, fac, __VA_ARGS__)
#define log_warn(fac, ...) log_msg(LOG_LVL_WARN, fac, __VA_ARGS__)
#define log_error(fac, ...) log_msg(LOG_LVL_ERROR, fac, __VA_ARGS__)

#endif
