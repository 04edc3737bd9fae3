/*
 * jsonout.h - one JSON object per line, built in a buffer, for the
 * verifiable producer and consumer.
 *
 * Record keys and values are arbitrary bytes, so strings are escaped with
 * care: '"', '\\' and control characters are escaped, valid UTF-8 passes
 * through, and every byte that is not part of a valid UTF-8 sequence
 * becomes U+FFFD (what Java's String decoding does, so the output matches
 * Kafka's tools and is always valid JSON).
 *
 * Threads: none; a struct json_line belongs to one thread.
 */
#ifndef FLUXO_JSONOUT_H
#define FLUXO_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"

/* Appends s[0..len) as a quoted JSON string. Returns 0 or ERR_NOMEM. */
int json_append_string(struct buf *b, const void *s, size_t len);

struct json_line {
	struct buf b;
	bool first;	/* no member written yet */
	bool failed;	/* an allocation failed */
};

#define JSON_LINE_INIT { BUF_INIT, true, false }

/* Starts an object ("{"), discarding anything not yet written. */
void jl_begin(struct json_line *j);

/* Adds "key":"value" (value[0..len), escaped); value NULL adds null. */
void jl_str(struct json_line *j, const char *key, const void *value,
	    size_t len);
/* Adds a NUL-terminated string, or null for NULL. */
void jl_cstr(struct json_line *j, const char *key, const char *value);
void jl_i64(struct json_line *j, const char *key, int64_t v);
/* Adds a number; non-finite values become 0 to keep the line valid. */
void jl_double(struct json_line *j, const char *key, double v);

/*
 * Closes the object, appends '\n' and writes the line to out with one
 * fwrite. Returns 0, ERR_NOMEM if building failed, or ERR_IO if the write
 * failed.
 */
int jl_end(struct json_line *j, FILE *out);

void jl_free(struct json_line *j);

#endif
