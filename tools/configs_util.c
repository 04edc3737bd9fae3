/*
 * configs_util.c - --add-config / --delete-config parsing and the describe
 * output of fluxo-configs, as Kafka 2.8's ConfigCommand prints it.
 *
 * Kafka's describe without --all shows only what was set dynamically for
 * the entity asked about: a topic's overrides, a broker's own dynamic
 * settings, or the cluster-wide dynamic default. With --all every setting
 * is shown with its effective value. Lines are sorted by name.
 */
#include "config.h"

#include "configs_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void config_list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		if (l->values)
			free(l->values[i]);
	}
	free(l->names);
	free(l->values);
	memset(l, 0, sizeof(*l));
}

/* A trimmed copy of s[0..len), or NULL when out of memory. */
static char *trim_dup(const char *s, size_t len)
{
	char *d;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static bool listed(const struct config_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return true;
	return false;
}

/* Appends name (and value, which may be NULL); takes both. */
static int list_push(struct config_list *l, char *name, char *value)
{
	char **nn = realloc(l->names, (l->n + 1) * sizeof(*nn));
	char **vv;

	if (!nn)
		goto err;
	l->names = nn;
	vv = realloc(l->values, (l->n + 1) * sizeof(*vv));
	if (!vv)
		goto err;
	l->values = vv;
	l->names[l->n] = name;
	l->values[l->n] = value;
	l->n++;
	return 0;
err:
	free(name);
	free(value);
	return ERR_NOMEM;
}

int config_parse_add(const char *s, struct config_list *out, char *errstr,
		     size_t errstr_size)
{
	const char *p = s;

	if (!s || !*s)
		goto bad;
	while (*p) {
		const char *start = p, *eq;
		char *name, *value;
		int depth = 0;
		size_t vlen;

		for (; *p && (*p != ',' || depth > 0); p++) {
			if (*p == '[')
				depth++;
			else if (*p == ']' && depth > 0)
				depth--;
		}
		eq = memchr(start, '=', (size_t)(p - start));
		if (!eq)
			goto bad;
		name = trim_dup(start, (size_t)(eq - start));
		/* Drop the brackets around a value that holds commas. */
		eq++;
		while (eq < p && isspace((unsigned char)*eq))
			eq++;
		vlen = (size_t)(p - eq);
		while (vlen && isspace((unsigned char)eq[vlen - 1]))
			vlen--;
		if (vlen >= 2 && eq[0] == '[' && eq[vlen - 1] == ']') {
			eq++;
			vlen -= 2;
		}
		value = trim_dup(eq, vlen);
		if (!name || !value) {
			free(name);
			free(value);
			snprintf(errstr, errstr_size, "out of memory");
			return ERR_NOMEM;
		}
		if (!*name) {
			free(name);
			free(value);
			goto bad;
		}
		if (listed(out, name)) {
			snprintf(errstr, errstr_size,
				 "--add-config names %s more than once", name);
			free(name);
			free(value);
			return ERR_INVAL;
		}
		if (list_push(out, name, value) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return ERR_NOMEM;
		}
		if (*p == ',')
			p++;
	}
	return 0;
bad:
	snprintf(errstr, errstr_size,
		 "Invalid entity config: all configs to be added must be in "
		 "the format \"key=val\".");
	return ERR_INVAL;
}

int config_parse_delete(const char *s, struct config_list *out, char *errstr,
			size_t errstr_size)
{
	const char *p = s;

	if (!s)
		s = p = "";
	for (;;) {
		size_t len = strcspn(p, ",");
		char *name = trim_dup(p, len);

		if (!name) {
			snprintf(errstr, errstr_size, "out of memory");
			return ERR_NOMEM;
		}
		if (!*name) {
			free(name);
			snprintf(errstr, errstr_size,
				 "--delete-config expects names separated by "
				 "commas, e.g. --delete-config "
				 "retention.ms,retention.bytes; got '%s'",
				 s);
			return ERR_INVAL;
		}
		if (listed(out, name)) {
			free(name);
		} else if (list_push(out, name, NULL) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return ERR_NOMEM;
		}
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

const char *config_source_name(fluxo_config_source_t s)
{
	switch (s) {
	case FLUXO_CONFIG_SOURCE_TOPIC:
		return "DYNAMIC_TOPIC_CONFIG";
	case FLUXO_CONFIG_SOURCE_DYNAMIC_BROKER:
		return "DYNAMIC_BROKER_CONFIG";
	case FLUXO_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG";
	case FLUXO_CONFIG_SOURCE_STATIC_BROKER:
		return "STATIC_BROKER_CONFIG";
	case FLUXO_CONFIG_SOURCE_DEFAULT:
		return "DEFAULT_CONFIG";
	default:
		return "UNKNOWN";
	}
}

bool config_shown(const fluxo_config_entry_t *e, enum config_scope scope,
		  bool all)
{
	if (all)
		return true;
	switch (scope) {
	case CONFIG_SCOPE_TOPIC:
		return e->source == FLUXO_CONFIG_SOURCE_TOPIC;
	case CONFIG_SCOPE_BROKER:
		return e->source == FLUXO_CONFIG_SOURCE_DYNAMIC_BROKER;
	case CONFIG_SCOPE_BROKER_DEFAULT:
		return e->source == FLUXO_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER;
	}
	return false;
}

void config_print_entry(FILE *out, const fluxo_config_entry_t *e)
{
	fprintf(out, "  %s=%s sensitive=%s synonyms={", e->name,
		e->value && !e->is_sensitive ? e->value : "null",
		e->is_sensitive ? "true" : "false");
	for (size_t i = 0; i < e->synonym_cnt; i++) {
		const fluxo_config_synonym_t *s = &e->synonyms[i];

		fprintf(out, "%s%s:%s=%s", i ? ", " : "",
			config_source_name(s->source), s->name,
			s->value && !e->is_sensitive ? s->value : "null");
	}
	fputs("}\n", out);
}

void config_print_heading(FILE *out, const char *entity_type, const char *name,
			  bool all)
{
	size_t len = strlen(entity_type);

	if (!*name) {
		fprintf(out, "Default configs for %s in the cluster are:\n",
			entity_type);
		return;
	}
	/* Kafka drops the plural's "s": "topic t", "broker 1". */
	fprintf(out, "%s configs for %.*s %s are:\n", all ? "All" : "Dynamic",
		(int)(len > 1 ? len - 1 : len), entity_type, name);
}
