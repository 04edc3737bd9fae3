/*
 * console_fmt.c - Kafka's console line reader and message formatter.
 *
 * Both follow Kafka 2.8's ConsoleProducer.LineMessageReader and
 * DefaultMessageFormatter field for field, including the choice of the
 * separator after each field: a field is followed by key.separator when
 * another field comes after it, and by line.separator when it is the last
 * one. Separator properties are taken byte for byte, without unescaping,
 * as Kafka does.
 */
#include "config.h"

#include "console_fmt.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

static int parse_bool(const char *name, const char *value, bool *out,
		      char *errstr, size_t errstr_size)
{
	size_t len;

	while (isspace((unsigned char)*value))
		value++;
	len = strlen(value);
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	if (len == 4 && strncasecmp(value, "true", 4) == 0) {
		*out = true;
		return 0;
	}
	if (len == 5 && strncasecmp(value, "false", 5) == 0) {
		*out = false;
		return 0;
	}
	snprintf(errstr, errstr_size,
		 "--property %s expects true or false, got '%s'", name, value);
	return ERR_INVAL;
}

/* ------------------------------------------------------------ line reader */

int line_reader_init(struct line_reader *lr)
{
	memset(lr, 0, sizeof(*lr));
	lr->key_sep = strdup("\t");
	if (!lr->key_sep)
		return ERR_NOMEM;
	lr->key_sep_len = 1;
	return 0;
}

int line_reader_set(struct line_reader *lr, const char *name,
		    const char *value, char *errstr, size_t errstr_size)
{
	if (strcmp(name, "parse.key") == 0)
		return parse_bool(name, value, &lr->parse_key, errstr,
				  errstr_size);
	if (strcmp(name, "ignore.error") == 0)
		return parse_bool(name, value, &lr->ignore_error, errstr,
				  errstr_size);
	if (strcmp(name, "key.separator") == 0) {
		char *sep;

		if (!*value) {
			snprintf(errstr, errstr_size,
				 "--property key.separator must not be empty");
			return ERR_INVAL;
		}
		sep = strdup(value);
		if (!sep)
			return ERR_NOMEM;
		free(lr->key_sep);
		lr->key_sep = sep;
		lr->key_sep_len = strlen(sep);
		return 0;
	}
	return ERR_NOT_FOUND;
}

int line_reader_split(const struct line_reader *lr, const char *line,
		      size_t len, const char **key, size_t *key_len,
		      const char **value, size_t *value_len)
{
	const char *sep;

	*key = NULL;
	*key_len = 0;
	*value = line;
	*value_len = len;
	if (!lr->parse_key)
		return 0;
	sep = memmem(line, len, lr->key_sep, lr->key_sep_len);
	if (!sep)
		return lr->ignore_error ? 0 : ERR_INVAL;
	*key = line;
	*key_len = (size_t)(sep - line);
	*value = sep + lr->key_sep_len;
	*value_len = len - *key_len - lr->key_sep_len;
	return 0;
}

void line_reader_free(struct line_reader *lr)
{
	free(lr->key_sep);
	lr->key_sep = NULL;
}

/* ------------------------------------------------------------- formatter */

static int set_bytes(struct buf *b, const char *s)
{
	buf_reset(b);
	return buf_append(b, s, strlen(s));
}

int msg_format_init(struct msg_format *f)
{
	memset(f, 0, sizeof(*f));
	f->print_value = true;
	if (set_bytes(&f->key_sep, "\t") != 0 ||
	    set_bytes(&f->line_sep, "\n") != 0 ||
	    set_bytes(&f->headers_sep, ",") != 0 ||
	    set_bytes(&f->null_literal, "null") != 0) {
		msg_format_free(f);
		return ERR_NOMEM;
	}
	return 0;
}

int msg_format_set(struct msg_format *f, const char *name, const char *value,
		   char *errstr, size_t errstr_size)
{
#define F(field) offsetof(struct msg_format, field)
	static const struct {
		const char *name;
		size_t off;
	} bools[] = {
		{ "print.timestamp", F(print_timestamp) },
		{ "print.key", F(print_key) },
		{ "print.value", F(print_value) },
		{ "print.partition", F(print_partition) },
		{ "print.offset", F(print_offset) },
		{ "print.headers", F(print_headers) },
	};
	static const struct {
		const char *name;
		size_t off;
	} seps[] = {
		{ "key.separator", F(key_sep) },
		{ "line.separator", F(line_sep) },
		{ "headers.separator", F(headers_sep) },
		{ "null.literal", F(null_literal) },
	};
#undef F
	size_t i;

	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (strcmp(name, bools[i].name) == 0)
			return parse_bool(name, value,
					  (bool *)((char *)f + bools[i].off),
					  errstr, errstr_size);
	for (i = 0; i < sizeof(seps) / sizeof(seps[0]); i++)
		if (strcmp(name, seps[i].name) == 0)
			return set_bytes((struct buf *)((char *)f +
							seps[i].off),
					 value) == 0 ?
				       0 :
				       ERR_NOMEM;
	return ERR_NOT_FOUND;
}

static int put(struct buf *out, const void *p, size_t n)
{
	return n ? buf_append(out, p, n) : 0;
}

static int put_buf(struct buf *out, const struct buf *b)
{
	return put(out, b->data, b->len);
}

/* key.separator if more fields follow, else line.separator. */
static int sep(const struct msg_format *f, struct buf *out, bool more)
{
	return put_buf(out, more ? &f->key_sep : &f->line_sep);
}

static int put_nullable(const struct msg_format *f, struct buf *out,
			const void *p, size_t n)
{
	return p ? put(out, p, n) : put_buf(out, &f->null_literal);
}

int msg_format_write(const struct msg_format *f, const fluxo_message_t *m,
		     msg_header_fn *get_header, struct buf *out)
{
	char num[64];
	int n, rc = 0;

	if (f->print_timestamp) {
		n = snprintf(num, sizeof(num), "%s:%" PRId64,
			     m->timestamp_type == 1 ? "LogAppendTime" :
						      "CreateTime",
			     m->timestamp);
		rc |= put(out, num, (size_t)n);
		rc |= sep(f, out,
			  f->print_offset || f->print_partition ||
				  f->print_headers || f->print_key ||
				  f->print_value);
	}
	if (f->print_partition) {
		n = snprintf(num, sizeof(num), "Partition:%" PRId32,
			     m->partition);
		rc |= put(out, num, (size_t)n);
		rc |= sep(f, out,
			  f->print_offset || f->print_headers ||
				  f->print_key || f->print_value);
	}
	if (f->print_offset) {
		n = snprintf(num, sizeof(num), "Offset:%" PRId64, m->offset);
		rc |= put(out, num, (size_t)n);
		rc |= sep(f, out,
			  f->print_headers || f->print_key || f->print_value);
	}
	if (f->print_headers) {
		size_t i;

		if (m->header_cnt == 0)
			rc |= put(out, "NO_HEADERS", 10);
		for (i = 0; i < m->header_cnt; i++) {
			fluxo_header_t h;

			if (get_header(m, i, &h) != 0)
				continue;
			if (i > 0)
				rc |= put_buf(out, &f->headers_sep);
			rc |= put(out, h.name, h.name_len);
			rc |= put(out, ":", 1);
			rc |= put_nullable(f, out, h.value, h.value_len);
		}
		rc |= sep(f, out, f->print_key || f->print_value);
	}
	if (f->print_key) {
		rc |= put_nullable(f, out, m->key, m->key_len);
		rc |= sep(f, out, f->print_value);
	}
	if (f->print_value) {
		rc |= put_nullable(f, out, m->value, m->value_len);
		rc |= put_buf(out, &f->line_sep);
	}
	return rc ? ERR_NOMEM : 0;
}

void msg_format_free(struct msg_format *f)
{
	buf_free(&f->key_sep);
	buf_free(&f->line_sep);
	buf_free(&f->headers_sep);
	buf_free(&f->null_literal);
}
