/*
 * adminjson.c - Kafka's JSON files for leader elections and partition
 * reassignments, parsed with jansson and checked field by field.
 *
 * A file comes from an operator, often edited by hand, so every message
 * names what is wrong and where (the entry's index), and nothing is
 * trusted: topics must be non-empty strings, partitions and broker ids
 * integers in [0, 2^31).
 */
#include "config.h"

#include "adminjson.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define ADMIN_FILE_MAX (64 * 1024 * 1024)

/* ------------------------------------------------------ partition lists */

int tp_list_add(struct tp_list *l, const char *topic, int32_t partition)
{
	char *dup;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct tp *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	dup = strdup(topic);
	if (!dup)
		return ERR_NOMEM;
	l->v[l->n].topic = dup;
	l->v[l->n].partition = partition;
	l->n++;
	return 0;
}

static int cmp_tp(const char *t1, int32_t p1, const char *t2, int32_t p2)
{
	int c = strcmp(t1, t2);

	return c ? c : (p1 > p2) - (p1 < p2);
}

static int cmp_tp_entry(const void *x, const void *y)
{
	const struct tp *a = x, *b = y;

	return cmp_tp(a->topic, a->partition, b->topic, b->partition);
}

void tp_list_sort(struct tp_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_tp_entry);
}

void tp_list_free(struct tp_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].topic);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

char *tp_join(const struct tp *v, size_t n, const char *sep)
{
	size_t len = 1, off = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i].topic) + 12 + strlen(sep);
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%s-%d",
					i ? sep : "", v[i].topic,
					(int)v[i].partition);
	return s;
}

int move_list_add(struct move_list *l, const char *topic, int32_t partition,
		  const int32_t *replicas, int n_replicas)
{
	struct move *m;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct move *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	m = &l->v[l->n];
	memset(m, 0, sizeof(*m));
	m->topic = strdup(topic);
	if (n_replicas > 0)
		m->replicas = malloc((size_t)n_replicas * sizeof(int32_t));
	if (!m->topic || (n_replicas > 0 && !m->replicas)) {
		free(m->topic);
		free(m->replicas);
		return ERR_NOMEM;
	}
	if (n_replicas > 0)
		memcpy(m->replicas, replicas,
		       (size_t)n_replicas * sizeof(int32_t));
	m->partition = partition;
	m->n_replicas = n_replicas;
	l->n++;
	return 0;
}

static int cmp_move(const void *x, const void *y)
{
	const struct move *a = x, *b = y;

	return cmp_tp(a->topic, a->partition, b->topic, b->partition);
}

void move_list_sort(struct move_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_move);
}

const struct move *move_list_find(const struct move_list *l, const char *topic,
				  int32_t partition)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].partition == partition &&
		    strcmp(l->v[i].topic, topic) == 0)
			return &l->v[i];
	return NULL;
}

void move_list_free(struct move_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].topic);
		free(l->v[i].replicas);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

char *ids_join(const int32_t *ids, int n, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%d",
					i ? "," : "", (int)ids[i]);
	return buf;
}

/* ----------------------------------------------------------------- files */

int admin_read_file(const char *path, char **text, char *errstr,
		    size_t errstr_size)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	int rc = 0;

	*text = NULL;
	if (!f) {
		snprintf(errstr, errstr_size, "cannot read %s: %s", path,
			 strerror(errno));
		return ERR_IO;
	}
	for (;;) {
		size_t got;

		if (!buf || len + 1 >= cap) {
			char *grown;

			if (buf)
				cap *= 2;
			grown = realloc(buf, cap);
			if (!grown) {
				snprintf(errstr, errstr_size, "out of memory");
				rc = ERR_NOMEM;
				break;
			}
			buf = grown;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > ADMIN_FILE_MAX) {
			snprintf(errstr, errstr_size,
				 "%s is larger than %d MiB", path,
				 ADMIN_FILE_MAX >> 20);
			rc = ERR_TOO_LARGE;
			break;
		}
		if (got == 0) {
			if (ferror(f)) {
				snprintf(errstr, errstr_size,
					 "cannot read %s: %s", path,
					 strerror(errno));
				rc = ERR_IO;
			}
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/* Loads text as a JSON object; NULL with errstr set otherwise. */
static json_t *load_object(const char *text, const char *what, char *errstr,
			   size_t errstr_size)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);

	if (!root) {
		snprintf(errstr, errstr_size,
			 "%s is not valid JSON: %s (line %d, column %d)", what,
			 je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(errstr, errstr_size, "%s must be a JSON object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* An integer in [0, INT32_MAX], or -1. */
static int32_t json_id(const json_t *v)
{
	json_int_t i;

	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	return i < 0 || i > INT32_MAX ? -1 : (int32_t)i;
}

/* The entry's non-empty "topic" string, or NULL. */
static const char *json_topic(const json_t *entry)
{
	const json_t *t = json_object_get(entry, "topic");
	const char *s = json_is_string(t) ? json_string_value(t) : NULL;

	return s && *s ? s : NULL;
}

int election_json_parse(const char *text, struct tp_list *out, char *errstr,
			size_t errstr_size)
{
	json_t *root, *parts, *e;
	size_t i;
	int rc = ERR_INVAL;

	memset(out, 0, sizeof(*out));
	root =
	    load_object(text, "the replica election data", errstr, errstr_size);
	if (!root)
		return ERR_INVAL;
	parts = json_object_get(root, "partitions");
	if (!json_is_array(parts)) {
		snprintf(errstr, errstr_size,
			 "Replica election data is missing \"partitions\" "
			 "field");
		goto out;
	}
	json_array_foreach(parts, i, e)
	{
		const char *topic = json_is_object(e) ? json_topic(e) : NULL;
		int32_t p =
		    topic ? json_id(json_object_get(e, "partition")) : -1;

		if (!topic || p < 0) {
			snprintf(errstr, errstr_size,
				 "Replica election data: entry %zu needs a "
				 "\"topic\" string and a \"partition\" "
				 "number >= 0",
				 i);
			goto out;
		}
		for (size_t j = 0; j < out->n; j++)
			if (out->v[j].partition == p &&
			    strcmp(out->v[j].topic, topic) == 0) {
				snprintf(errstr, errstr_size,
					 "Replica election data contains "
					 "duplicate partitions: %s-%d",
					 topic, (int)p);
				goto out;
			}
		if (tp_list_add(out, topic, p) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			rc = ERR_NOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		tp_list_free(out);
	json_decref(root);
	return rc;
}

void names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int topics_json_parse(const char *text, char ***names, size_t *n, char *errstr,
		      size_t errstr_size)
{
	json_t *root, *topics, *e;
	char **v = NULL;
	size_t i, cnt = 0;
	int rc = ERR_INVAL;

	*names = NULL;
	*n = 0;
	root =
	    load_object(text, "the topics-to-move file", errstr, errstr_size);
	if (!root)
		return ERR_INVAL;
	topics = json_object_get(root, "topics");
	if (!json_is_array(topics) || json_array_size(topics) == 0) {
		snprintf(errstr, errstr_size,
			 "the topics-to-move file needs a non-empty "
			 "\"topics\" list, e.g. "
			 "{\"topics\":[{\"topic\":\"foo\"}],\"version\":1}");
		goto out;
	}
	v = calloc(json_array_size(topics), sizeof(*v));
	if (!v) {
		snprintf(errstr, errstr_size, "out of memory");
		rc = ERR_NOMEM;
		goto out;
	}
	json_array_foreach(topics, i, e)
	{
		const char *topic = json_is_object(e) ? json_topic(e) : NULL;

		if (!topic) {
			snprintf(errstr, errstr_size,
				 "the topics-to-move file: entry %zu needs a "
				 "\"topic\" string",
				 i);
			goto out;
		}
		for (size_t j = 0; j < cnt; j++)
			if (strcmp(v[j], topic) == 0) {
				snprintf(errstr, errstr_size,
					 "List of topics to reassign contains "
					 "duplicate entries: %s",
					 topic);
				goto out;
			}
		v[cnt] = strdup(topic);
		if (!v[cnt]) {
			snprintf(errstr, errstr_size, "out of memory");
			rc = ERR_NOMEM;
			goto out;
		}
		cnt++;
	}
	*names = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	names_free(v, cnt);
	json_decref(root);
	return rc;
}

/* Parses one reassignment entry into out; ERR_INVAL with errstr set. */
static int reassign_entry(const json_t *e, size_t idx, struct move_list *out,
			  char *errstr, size_t errstr_size)
{
	const char *topic = json_is_object(e) ? json_topic(e) : NULL;
	int32_t p = topic ? json_id(json_object_get(e, "partition")) : -1;
	const json_t *reps = topic ? json_object_get(e, "replicas") : NULL;
	const json_t *dirs = topic ? json_object_get(e, "log_dirs") : NULL;
	int32_t *ids = NULL;
	size_t n, i;
	int rc = ERR_INVAL;

	if (!topic || p < 0 || !json_is_array(reps)) {
		snprintf(errstr, errstr_size,
			 "Partition reassignment data: entry %zu needs a "
			 "\"topic\" string, a \"partition\" number >= 0 and a "
			 "\"replicas\" list",
			 idx);
		return ERR_INVAL;
	}
	n = json_array_size(reps);
	if (n == 0) {
		snprintf(errstr, errstr_size,
			 "Partition replica list cannot be empty");
		return ERR_INVAL;
	}
	if (n > 1024) {
		snprintf(errstr, errstr_size,
			 "%s-%d: %zu replicas is more than any cluster has",
			 topic, (int)p, n);
		return ERR_INVAL;
	}
	if (dirs && !json_is_null(dirs)) {
		if (!json_is_array(dirs) || json_array_size(dirs) != n) {
			snprintf(errstr, errstr_size,
				 "Size of replicas list is different from "
				 "size of log dirs list for partition %s-%d",
				 topic, (int)p);
			return ERR_INVAL;
		}
		for (i = 0; i < n; i++) {
			const json_t *d = json_array_get(dirs, i);

			if (!json_is_string(d) ||
			    strcmp(json_string_value(d), "any") != 0) {
				snprintf(errstr, errstr_size,
					 "%s-%d: log_dirs other than \"any\" "
					 "are not supported (fluxo does not "
					 "move replicas between the log "
					 "directories of a broker)",
					 topic, (int)p);
				return ERR_INVAL;
			}
		}
	}
	ids = malloc(n * sizeof(*ids));
	if (!ids) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		ids[i] = json_id(json_array_get(reps, i));
		if (ids[i] < 0) {
			snprintf(errstr, errstr_size,
				 "%s-%d: replica %zu is not a broker id", topic,
				 (int)p, i);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (ids[j] == ids[i]) {
				snprintf(errstr, errstr_size,
					 "Partition replica lists may not "
					 "contain duplicate entries: %s-%d "
					 "contains multiple entries for %d",
					 topic, (int)p, (int)ids[i]);
				goto out;
			}
	}
	if (move_list_find(out, topic, p)) {
		snprintf(errstr, errstr_size,
			 "Partition reassignment contains duplicate topic "
			 "partitions: %s-%d",
			 topic, (int)p);
		goto out;
	}
	rc = move_list_add(out, topic, p, ids, (int)n);
	if (rc)
		snprintf(errstr, errstr_size, "out of memory");
out:
	free(ids);
	return rc;
}

int reassign_json_parse(const char *text, struct move_list *out, char *errstr,
			size_t errstr_size)
{
	json_t *root, *parts, *e;
	size_t i;
	int rc = ERR_INVAL;

	memset(out, 0, sizeof(*out));
	root = load_object(text, "the reassignment file", errstr, errstr_size);
	if (!root)
		return ERR_INVAL;
	parts = json_object_get(root, "partitions");
	if (!json_is_array(parts)) {
		snprintf(errstr, errstr_size,
			 "Partition reassignment data is missing "
			 "\"partitions\" field");
		goto out;
	}
	if (json_array_size(parts) == 0) {
		snprintf(errstr, errstr_size,
			 "Partition reassignment list cannot be empty");
		goto out;
	}
	json_array_foreach(parts, i, e)
	{
		rc = reassign_entry(e, i, out, errstr, errstr_size);
		if (rc)
			goto out;
	}
	rc = 0;
out:
	if (rc)
		move_list_free(out);
	json_decref(root);
	return rc;
}

char *reassign_json_format(const struct move_list *l)
{
	json_t *root = json_object(), *parts = json_array();
	char *s = NULL;
	bool fail = !root || !parts;

	if (!fail)
		fail =
		    json_object_set_new(root, "version", json_integer(1)) < 0 ||
		    json_object_set(root, "partitions", parts) < 0;
	for (size_t i = 0; !fail && i < l->n; i++) {
		const struct move *m = &l->v[i];
		json_t *e = json_object(), *reps = json_array(),
		       *dirs = json_array();

		fail = !e || !reps || !dirs ||
		       json_object_set_new(e, "topic", json_string(m->topic)) <
			   0 ||
		       json_object_set_new(e, "partition",
					   json_integer(m->partition)) < 0;
		for (int j = 0; !fail && j < m->n_replicas; j++)
			fail =
			    json_array_append_new(
				reps, json_integer(m->replicas[j])) < 0 ||
			    json_array_append_new(dirs, json_string("any")) < 0;
		if (!fail)
			fail = json_object_set(e, "replicas", reps) < 0 ||
			       json_object_set(e, "log_dirs", dirs) < 0 ||
			       json_array_append(parts, e) < 0;
		json_decref(e);
		json_decref(reps);
		json_decref(dirs);
	}
	if (!fail)
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(parts);
	json_decref(root);
	return s;
}
