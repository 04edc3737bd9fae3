/*
 * jsonout.c - JSON string escaping and the one-object-per-line builder.
 *
 * The escaper walks the input once. ASCII printable bytes other than '"'
 * and '\\' are copied in runs; control characters use the short escapes
 * (\n, \t, ...) or \u00XX; multi-byte sequences are checked against the
 * UTF-8 rules (no overlong forms, no surrogates, nothing above U+10FFFF)
 * and copied when valid. An invalid byte is replaced by U+FFFD and the
 * walk resumes at the next byte, so one bad byte never swallows good text
 * after it.
 */
#include "config.h"

#include "jsonout.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "common/err.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0];
	size_t need, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int json_append_string(struct buf *b, const void *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = s, *end = p + len, *run = p;

	if (buf_append(b, "\"", 1) != 0)
		return ERR_NOMEM;
	while (p < end) {
		uint8_t c = *p;
		char esc[8];
		size_t esc_len = 0, seq;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			seq = utf8_seq(p, (size_t)(end - p));
			if (seq > 0) {
				p += seq;
				continue;
			}
		}
		/* Flush the pending run, then write the escape. */
		if (p > run && buf_append(b, run, (size_t)(p - run)) != 0)
			return ERR_NOMEM;
		switch (c) {
		case '"':
			memcpy(esc, "\\\"", 2);
			esc_len = 2;
			break;
		case '\\':
			memcpy(esc, "\\\\", 2);
			esc_len = 2;
			break;
		case '\n':
			memcpy(esc, "\\n", 2);
			esc_len = 2;
			break;
		case '\r':
			memcpy(esc, "\\r", 2);
			esc_len = 2;
			break;
		case '\t':
			memcpy(esc, "\\t", 2);
			esc_len = 2;
			break;
		case '\b':
			memcpy(esc, "\\b", 2);
			esc_len = 2;
			break;
		case '\f':
			memcpy(esc, "\\f", 2);
			esc_len = 2;
			break;
		default:
			if (c >= 0x80) {
				memcpy(esc, "\\ufffd", 6);
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
			}
			esc_len = 6;
			break;
		}
		if (buf_append(b, esc, esc_len) != 0)
			return ERR_NOMEM;
		p++;
		run = p;
	}
	if (p > run && buf_append(b, run, (size_t)(p - run)) != 0)
		return ERR_NOMEM;
	return buf_append(b, "\"", 1) == 0 ? 0 : ERR_NOMEM;
}

void jl_begin(struct json_line *j)
{
	buf_reset(&j->b);
	j->first = true;
	j->failed = buf_append(&j->b, "{", 1) != 0;
}

static void key(struct json_line *j, const char *k)
{
	if (!j->first && buf_append(&j->b, ",", 1) != 0)
		j->failed = true;
	j->first = false;
	if (json_append_string(&j->b, k, strlen(k)) != 0 ||
	    buf_append(&j->b, ":", 1) != 0)
		j->failed = true;
}

void jl_str(struct json_line *j, const char *k, const void *value, size_t len)
{
	key(j, k);
	if (!value) {
		if (buf_append(&j->b, "null", 4) != 0)
			j->failed = true;
		return;
	}
	if (json_append_string(&j->b, value, len) != 0)
		j->failed = true;
}

void jl_cstr(struct json_line *j, const char *k, const char *value)
{
	jl_str(j, k, value, value ? strlen(value) : 0);
}

void jl_i64(struct json_line *j, const char *k, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	key(j, k);
	if (buf_append(&j->b, num, (size_t)n) != 0)
		j->failed = true;
}

void jl_double(struct json_line *j, const char *k, double v)
{
	char num[64];
	int n;

	if (!isfinite(v))
		v = 0;
	/* Three decimals read well for rates; %g keeps huge values valid. */
	if (fabs(v) < 1e15)
		n = snprintf(num, sizeof(num), "%.3f", v);
	else
		n = snprintf(num, sizeof(num), "%.17g", v);
	key(j, k);
	if (buf_append(&j->b, num, (size_t)n) != 0)
		j->failed = true;
}

int jl_end(struct json_line *j, FILE *out)
{
	if (buf_append(&j->b, "}\n", 2) != 0)
		j->failed = true;
	if (j->failed) {
		buf_reset(&j->b);
		return ERR_NOMEM;
	}
	if (fwrite(j->b.data, 1, j->b.len, out) != j->b.len)
		return ERR_IO;
	buf_reset(&j->b);
	return 0;
}

void jl_free(struct json_line *j)
{
	buf_free(&j->b);
}
