/*
 * console_fmt.h - the text formats of the console producer and consumer:
 * Kafka's LineMessageReader (one record per input line, optional key
 * before a separator) and DefaultMessageFormatter (timestamp, partition,
 * offset, headers, key and value, in that order, with configurable
 * separators).
 *
 * Settings come from --property key=value, with Kafka's names. The
 * functions are pure: they take bytes and write bytes, so the unit tests
 * check the exact output.
 *
 * Threads: none.
 */
#ifndef FLUXO_CONSOLE_FMT_H
#define FLUXO_CONSOLE_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "client/fluxo.h"
#include "common/buf.h"

/* ------------------------------------------------------------ line reader */

struct line_reader {
	bool parse_key;		/* parse.key (false) */
	bool ignore_error;	/* ignore.error (false) */
	char *key_sep;		/* key.separator ("\t") */
	size_t key_sep_len;
};

/* Defaults as Kafka's. Returns 0 or ERR_NOMEM. */
int line_reader_init(struct line_reader *lr);

/*
 * Applies one --property. Returns 0; ERR_NOT_FOUND for a name the reader
 * does not know (callers warn and go on, as Kafka ignores them);
 * ERR_INVAL with errstr set for a bad boolean.
 */
int line_reader_set(struct line_reader *lr, const char *name,
		    const char *value, char *errstr, size_t errstr_size);

/*
 * Splits one line (without its line terminator) into a record. With
 * parse.key the key is the text before the first separator and the value
 * the text after it; otherwise the key is NULL and the value the whole
 * line. Returns 0 with the pointers set (into line); ERR_INVAL when
 * parse.key is on, the separator is missing and ignore.error is off (with
 * ignore.error the whole line becomes the value of a null-key record).
 */
int line_reader_split(const struct line_reader *lr, const char *line,
		      size_t len, const char **key, size_t *key_len,
		      const char **value, size_t *value_len);

void line_reader_free(struct line_reader *lr);

/* ------------------------------------------------------------- formatter */

struct msg_format {
	bool print_timestamp;	/* print.timestamp (false) */
	bool print_key;		/* print.key (false) */
	bool print_value;	/* print.value (true) */
	bool print_partition;	/* print.partition (false) */
	bool print_offset;	/* print.offset (false) */
	bool print_headers;	/* print.headers (false) */
	struct buf key_sep;	/* key.separator ("\t") */
	struct buf line_sep;	/* line.separator ("\n") */
	struct buf headers_sep;	/* headers.separator (",") */
	struct buf null_literal; /* null.literal ("null") */
};

/* Reads header idx of m (fluxo_message_header in the tools; a fake in
 * tests). Returns 0 or an error. */
typedef int(msg_header_fn)(const fluxo_message_t *m, size_t idx,
			   fluxo_header_t *out);

int msg_format_init(struct msg_format *f);

/* Applies one --property; return values as line_reader_set(). */
int msg_format_set(struct msg_format *f, const char *name, const char *value,
		   char *errstr, size_t errstr_size);

/*
 * Appends the text of one record to out, exactly as Kafka's
 * DefaultMessageFormatter: "CreateTime:<ts>" (or LogAppendTime),
 * "Partition:<p>", "Offset:<o>", headers "k:v" joined by the headers
 * separator (or NO_HEADERS), key, value; fields separated by key.separator
 * and the last one followed by line.separator. Null keys, values and
 * header values print as null.literal. Returns 0 or ERR_NOMEM.
 */
int msg_format_write(const struct msg_format *f, const fluxo_message_t *m,
		     msg_header_fn *get_header, struct buf *out);

void msg_format_free(struct msg_format *f);

#endif
