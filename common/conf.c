/*
 * conf.c - table-driven configuration: parsing, validation, printing.
 *
 * Every setting is described once, in a table row; this file only knows
 * how to move text in and out of typed struct fields through those rows.
 * Error messages are sentences that name the key, the value and the rule
 * it broke, because operators read them at start-up.
 */
#include "config.h"
#include "conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

#define FIELD(obj, def, type) ((type *)((char *)(obj) + (def)->offset))
#define CFIELD(obj, def, type) \
	((const type *)((const char *)(obj) + (def)->offset))

const struct conf_def *conf_find(const struct conf_def *table,
				 const char *name)
{
	for (const struct conf_def *d = table; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return ERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return ERR_INVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return ERR_INVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	return ERR_INVAL;
}

static const char *type_name(enum conf_type t)
{
	switch (t) {
	case CONF_INT:
	case CONF_LONG:
		return "an integer";
	case CONF_BOOL:
		return "true or false";
	case CONF_DOUBLE:
		return "a number";
	case CONF_STRING:
		return "a string";
	case CONF_LIST:
		return "a comma-separated list";
	case CONF_ENUM:
		return "one of the listed values";
	}
	return "a value";
}

/* Parses value per def into the scratch union; no side effects on obj. */
struct parsed {
	int64_t i;
	double d;
	bool b;
	int e;
};

static int parse_value(const struct conf_def *def, const char *value,
		       struct parsed *out, char *errstr, size_t errstr_size)
{
	char *end;

	switch (def->type) {
	case CONF_INT:
	case CONF_LONG:
		if (parse_int64(value, &out->i) < 0 ||
		    (def->type == CONF_INT &&
		     (out->i < INT32_MIN || out->i > INT32_MAX))) {
			snprintf(errstr, errstr_size,
				 "%s: \"%s\" is not %s", def->name, value,
				 type_name(def->type));
			return ERR_INVAL;
		}
		if (out->i < def->min || out->i > def->max) {
			snprintf(errstr, errstr_size,
				 "%s: %" PRId64 " is out of range; it must be "
				 "between %" PRId64 " and %" PRId64,
				 def->name, out->i, def->min, def->max);
			return ERR_INVAL;
		}
		return 0;
	case CONF_BOOL:
		if (parse_bool(value, &out->b) < 0) {
			snprintf(errstr, errstr_size,
				 "%s: \"%s\" is not true or false", def->name,
				 value);
			return ERR_INVAL;
		}
		return 0;
	case CONF_DOUBLE:
		errno = 0;
		out->d = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0') {
			snprintf(errstr, errstr_size, "%s: \"%s\" is not a number",
				 def->name, value);
			return ERR_INVAL;
		}
		if (out->d < (double)def->min || out->d > (double)def->max) {
			snprintf(errstr, errstr_size,
				 "%s: %s is out of range; it must be between "
				 "%" PRId64 " and %" PRId64,
				 def->name, value, def->min, def->max);
			return ERR_INVAL;
		}
		return 0;
	case CONF_STRING:
	case CONF_LIST:
		if ((def->flags & CONF_F_REQUIRED) && *value == '\0') {
			snprintf(errstr, errstr_size, "%s must not be empty",
				 def->name);
			return ERR_INVAL;
		}
		return 0;
	case CONF_ENUM:
		for (int i = 0; def->choices && def->choices[i]; i++) {
			if (strcasecmp(def->choices[i], value) == 0) {
				out->e = i;
				return 0;
			}
		}
		{
			size_t n = (size_t)snprintf(errstr, errstr_size,
					"%s: \"%s\" is not valid; use one of",
					def->name, value);
			for (int i = 0; def->choices && def->choices[i] &&
					n < errstr_size; i++)
				n += (size_t)snprintf(errstr + n,
						      errstr_size - n, "%s %s",
						      i ? "," : "",
						      def->choices[i]);
		}
		return ERR_INVAL;
	}
	snprintf(errstr, errstr_size, "%s: unsupported type", def->name);
	return ERR_INVAL;
}

int conf_check(const struct conf_def *def, const char *value, char *errstr,
	       size_t errstr_size)
{
	struct parsed p;

	return parse_value(def, value, &p, errstr, errstr_size);
}

int conf_set_def(const struct conf_def *def, void *obj, const char *value,
		 char *errstr, size_t errstr_size)
{
	struct parsed p = { 0 };
	char *s;
	int rc;

	rc = parse_value(def, value, &p, errstr, errstr_size);
	if (rc < 0)
		return rc;
	switch (def->type) {
	case CONF_INT:
		*FIELD(obj, def, int32_t) = (int32_t)p.i;
		break;
	case CONF_LONG:
		*FIELD(obj, def, int64_t) = p.i;
		break;
	case CONF_BOOL:
		*FIELD(obj, def, bool) = p.b;
		break;
	case CONF_DOUBLE:
		*FIELD(obj, def, double) = p.d;
		break;
	case CONF_ENUM:
		*FIELD(obj, def, int) = p.e;
		break;
	case CONF_STRING:
	case CONF_LIST:
		s = strdup(value);
		if (!s) {
			snprintf(errstr, errstr_size, "%s: out of memory",
				 def->name);
			return ERR_NOMEM;
		}
		free(*FIELD(obj, def, char *));
		*FIELD(obj, def, char *) = s;
		break;
	}
	return 0;
}

int conf_set(const struct conf_def *table, void *obj, const char *name,
	     const char *value, char *errstr, size_t errstr_size)
{
	const struct conf_def *def = conf_find(table, name);

	if (!def) {
		snprintf(errstr, errstr_size, "unknown setting \"%s\"", name);
		return ERR_NOT_FOUND;
	}
	return conf_set_def(def, obj, value, errstr, errstr_size);
}

int conf_defaults(const struct conf_def *table, void *obj)
{
	char errstr[256];

	for (const struct conf_def *d = table; d->name; d++) {
		if (d->type == CONF_STRING || d->type == CONF_LIST)
			*FIELD(obj, d, char *) = NULL;
		if (!d->dflt)
			continue;
		if (conf_set_def(d, obj, d->dflt, errstr, sizeof(errstr)) < 0)
			return ERR_INVAL;
	}
	return 0;
}

char *conf_get(const struct conf_def *def, const void *obj, char *out,
	       size_t out_size)
{
	const char *s;

	switch (def->type) {
	case CONF_INT:
		snprintf(out, out_size, "%" PRId32,
			 *CFIELD(obj, def, int32_t));
		break;
	case CONF_LONG:
		snprintf(out, out_size, "%" PRId64,
			 *CFIELD(obj, def, int64_t));
		break;
	case CONF_BOOL:
		snprintf(out, out_size, "%s",
			 *CFIELD(obj, def, bool) ? "true" : "false");
		break;
	case CONF_DOUBLE:
		snprintf(out, out_size, "%g", *CFIELD(obj, def, double));
		break;
	case CONF_ENUM:
		snprintf(out, out_size, "%s",
			 def->choices[*CFIELD(obj, def, int)]);
		break;
	case CONF_STRING:
	case CONF_LIST:
		s = *CFIELD(obj, def, char *const);
		snprintf(out, out_size, "%s", s ? s : "");
		break;
	}
	return out;
}

void conf_free(const struct conf_def *table, void *obj)
{
	for (const struct conf_def *d = table; d->name; d++) {
		if (d->type == CONF_STRING || d->type == CONF_LIST) {
			free(*FIELD(obj, d, char *));
			*FIELD(obj, d, char *) = NULL;
		}
	}
}

int conf_copy(const struct conf_def *table, void *dst, const void *src)
{
	for (const struct conf_def *d = table; d->name; d++) {
		const char *s;

		switch (d->type) {
		case CONF_INT:
			*FIELD(dst, d, int32_t) = *CFIELD(src, d, int32_t);
			break;
		case CONF_LONG:
			*FIELD(dst, d, int64_t) = *CFIELD(src, d, int64_t);
			break;
		case CONF_BOOL:
			*FIELD(dst, d, bool) = *CFIELD(src, d, bool);
			break;
		case CONF_DOUBLE:
			*FIELD(dst, d, double) = *CFIELD(src, d, double);
			break;
		case CONF_ENUM:
			*FIELD(dst, d, int) = *CFIELD(src, d, int);
			break;
		case CONF_STRING:
		case CONF_LIST:
			s = *CFIELD(src, d, char *const);
			*FIELD(dst, d, char *) = s ? strdup(s) : NULL;
			if (s && !*FIELD(dst, d, char *))
				return ERR_NOMEM;
			break;
		}
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int conf_read_properties(const char *path,
			 int (*cb)(void *arg, const char *key,
				   const char *value, int line, char *errstr,
				   size_t errstr_size),
			 void *arg, char *errstr, size_t errstr_size)
{
	FILE *f;
	char *line = NULL, *logical = NULL;
	size_t cap = 0, llen = 0;
	ssize_t n;
	int lineno = 0, start_line = 0, rc = 0;

	f = fopen(path, "r");
	if (!f) {
		snprintf(errstr, errstr_size, "cannot read %s: %s", path,
			 strerror(errno));
		return ERR_IO;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s, *key, *val, *sep;
		bool cont;
		size_t slen;
		char *grown;

		lineno++;
		s = trim(line);
		if (!logical && (*s == '#' || *s == '!' || *s == '\0'))
			continue;
		slen = strlen(s);
		cont = slen > 0 && s[slen - 1] == '\\';
		if (cont)
			s[--slen] = '\0';
		grown = realloc(logical, llen + slen + 1);
		if (!grown) {
			rc = ERR_NOMEM;
			snprintf(errstr, errstr_size, "out of memory");
			break;
		}
		if (!logical)
			start_line = lineno;
		logical = grown;
		memcpy(logical + llen, s, slen + 1);
		llen += slen;
		if (cont)
			continue;
		key = logical;
		sep = strpbrk(logical, "=: \t");
		if (sep) {
			char *after = sep + 1;

			if (*sep == ' ' || *sep == '\t') {
				after = sep;
				while (*after == ' ' || *after == '\t')
					after++;
				if (*after == '=' || *after == ':')
					after++;
			}
			*sep = '\0';
			val = trim(after);
		} else {
			val = logical + llen;
		}
		key = trim(key);
		if (*key == '\0') {
			snprintf(errstr, errstr_size,
				 "%s:%d: a line has a value but no key", path,
				 start_line);
			rc = ERR_INVAL;
			break;
		}
		rc = cb(arg, key, val, start_line, errstr, errstr_size);
		free(logical);
		logical = NULL;
		llen = 0;
		if (rc != 0)
			break;
	}
	free(logical);
	free(line);
	fclose(f);
	return rc;
}

struct load_ctx {
	const struct conf_def *table;
	void *obj;
	const char *path;
};

static int load_cb(void *arg, const char *key, const char *value, int line,
		   char *errstr, size_t errstr_size)
{
	struct load_ctx *ctx = arg;
	char why[512];
	int rc;

	rc = conf_set(ctx->table, ctx->obj, key, value, why, sizeof(why));
	if (rc < 0)
		snprintf(errstr, errstr_size, "%s:%d: %s", ctx->path, line,
			 why);
	return rc;
}

int conf_load_file(const struct conf_def *table, void *obj, const char *path,
		   char *errstr, size_t errstr_size)
{
	struct load_ctx ctx = { table, obj, path };

	return conf_read_properties(path, load_cb, &ctx, errstr, errstr_size);
}

void conf_print_doc(const struct conf_def *table, FILE *out, bool commented)
{
	for (const struct conf_def *d = table; d->name; d++) {
		if (d->flags & CONF_F_INTERNAL)
			continue;
		fprintf(out, "# %s", d->doc ? d->doc : "");
		if (d->type == CONF_ENUM && d->choices) {
			fprintf(out, " (one of:");
			for (int i = 0; d->choices[i]; i++)
				fprintf(out, " %s", d->choices[i]);
			fprintf(out, ")");
		}
		if (d->flags & CONF_F_DYNAMIC)
			fprintf(out, " [dynamic]");
		fprintf(out, "\n%s%s=%s\n\n", commented ? "#" : "", d->name,
			d->dflt ? d->dflt : "");
	}
}

int conf_split_kv(const char *arg, char *buf, size_t buf_size, char **key,
		  char **value)
{
	char *eq;

	if (strlen(arg) + 1 > buf_size)
		return ERR_INVAL;
	memcpy(buf, arg, strlen(arg) + 1);
	eq = strchr(buf, '=');
	if (!eq || eq == buf)
		return ERR_INVAL;
	*eq = '\0';
	*key = trim(buf);
	*value = trim(eq + 1);
	return **key ? 0 : ERR_INVAL;
}
