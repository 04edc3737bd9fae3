/*
 * zkdata.c - znode paths and JSON codecs (Kafka's layout).
 *
 * Everything read from ZooKeeper is untrusted: another tool, an older
 * version or an operator with zkCli.sh may have written it. Decoders load
 * the text with jansson (rejecting duplicate keys), then check each field
 * they use: presence, JSON type, integer range, list shape. A failure is
 * ERR_CORRUPT and a sentence naming the document and the field. Fields a
 * decoder does not use are ignored, so newer documents with extra keys
 * still load.
 *
 * Encoders build the documents with jansson in Kafka's key order and dump
 * them compactly (no spaces), as Kafka's Jackson writer does.
 */
#include "config.h"
#include "zkdata.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "net.h"

const char *const zkdata_persistent_paths[] = {
    ZK_PATH_BROKER_IDS,	       ZK_PATH_BROKER_TOPICS, ZK_PATH_BROKER_SEQID,
    ZK_PATH_CONFIG_CHANGES,    ZK_PATH_CONFIG_TOPICS, ZK_PATH_CONFIG_BROKERS,
    "/config/users",	       "/config/clients",     "/config/ips",
    ZK_PATH_DELETE_TOPICS,     ZK_PATH_ISR_CHANGE,    ZK_PATH_LOG_DIR_EVENT,
    ZK_PATH_PRODUCER_ID_BLOCK, ZK_PATH_CLUSTER,	      NULL};

/* ------------------------------------------------------------- paths */

static int path_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return ERR_TOO_LARGE;
	}
	return n;
}

int zkpath_broker(char *out, size_t size, int32_t broker_id)
{
	return path_fmt(out, size, ZK_PATH_BROKER_IDS "/%" PRId32, broker_id);
}

int zkpath_topic(char *out, size_t size, const char *topic)
{
	return path_fmt(out, size, ZK_PATH_BROKER_TOPICS "/%s", topic);
}

int zkpath_partitions(char *out, size_t size, const char *topic)
{
	return path_fmt(out, size, ZK_PATH_BROKER_TOPICS "/%s/partitions",
			topic);
}

int zkpath_partition(char *out, size_t size, const char *topic,
		     int32_t partition)
{
	return path_fmt(out, size,
			ZK_PATH_BROKER_TOPICS "/%s/partitions/%" PRId32, topic,
			partition);
}

int zkpath_partition_state(char *out, size_t size, const char *topic,
			   int32_t partition)
{
	return path_fmt(
	    out, size, ZK_PATH_BROKER_TOPICS "/%s/partitions/%" PRId32 "/state",
	    topic, partition);
}

int zkpath_config(char *out, size_t size, const char *entity_type,
		  const char *entity_name)
{
	return path_fmt(out, size, ZK_PATH_CONFIG "/%s/%s", entity_type,
			entity_name);
}

int zkpath_delete_topic(char *out, size_t size, const char *topic)
{
	return path_fmt(out, size, ZK_PATH_DELETE_TOPICS "/%s", topic);
}

/* ------------------------------------------------------------- helpers */

static char *dump(json_t *root)
{
	char *s = NULL;

	if (root)
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

/* Sets key to a new reference; a NULL value (allocation failure) fails. */
static int put(json_t *o, const char *key, json_t *v)
{
	if (!o || !v) {
		json_decref(v);
		return -1;
	}
	return json_object_set_new(o, key, v);
}

static json_t *ids_to_json(const int32_t *ids, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(ids[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int load(const char *json, size_t len, const char *what, json_t **out,
		char *errstr, size_t errstr_size)
{
	json_error_t e;
	json_t *root;

	*out = NULL;
	if (!json || len == 0) {
		snprintf(errstr, errstr_size, "%s is empty", what);
		return ERR_CORRUPT;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		snprintf(errstr, errstr_size,
			 "%s is not valid JSON: %s (line %d, column %d)", what,
			 e.text, e.line, e.column);
		return ERR_CORRUPT;
	}
	if (!json_is_object(root)) {
		snprintf(errstr, errstr_size, "%s is not a JSON object", what);
		json_decref(root);
		return ERR_CORRUPT;
	}
	*out = root;
	return 0;
}

/* Strict decimal int64 from a string ("5000", "-1"). */
static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return ERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ERR_INVAL;
	*out = v;
	return 0;
}

/*
 * Reads an integer field. A missing field is an error when required,
 * otherwise leaves *out unchanged. as_string also accepts a decimal
 * string (Kafka writes some numbers as strings).
 */
static int get_int(json_t *o, const char *key, int64_t min, int64_t max,
		   bool required, bool as_string, int64_t *out,
		   const char *what, char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(o, key);
	int64_t x;

	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(errstr, errstr_size, "%s has no \"%s\"", what, key);
		return ERR_CORRUPT;
	}
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (as_string && json_is_string(v) &&
		   parse_i64(json_string_value(v), &x) == 0) {
		/* accepted */
	} else {
		snprintf(errstr, errstr_size, "%s: \"%s\" is not an integer",
			 what, key);
		return ERR_CORRUPT;
	}
	if (x < min || x > max) {
		snprintf(errstr, errstr_size,
			 "%s: \"%s\" = %" PRId64 " is out of range", what, key,
			 x);
		return ERR_CORRUPT;
	}
	*out = x;
	return 0;
}

static int get_i32(json_t *o, const char *key, int32_t min, bool required,
		   int32_t *out, const char *what, char *errstr,
		   size_t errstr_size)
{
	int64_t v = *out;
	int rc = get_int(o, key, min, INT32_MAX, required, false, &v, what,
			 errstr, errstr_size);

	if (rc == 0)
		*out = (int32_t)v;
	return rc;
}

/* Reads a string field into a malloc'd copy (NULL when absent/null). */
static int get_str(json_t *o, const char *key, bool required, char **out,
		   const char *what, char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(errstr, errstr_size, "%s has no \"%s\"", what, key);
		return ERR_CORRUPT;
	}
	if (!json_is_string(v)) {
		snprintf(errstr, errstr_size, "%s: \"%s\" is not a string",
			 what, key);
		return ERR_CORRUPT;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	return 0;
}

static int check_version(json_t *o, int64_t min, int64_t max, int32_t *version,
			 const char *what, char *errstr, size_t errstr_size)
{
	int64_t v = 0;
	int rc = get_int(o, "version", INT32_MIN, INT32_MAX, true, true, &v,
			 what, errstr, errstr_size);

	if (rc < 0)
		return rc;
	if (v < min || v > max) {
		snprintf(errstr, errstr_size,
			 "%s has unsupported version %" PRId64, what, v);
		return ERR_CORRUPT;
	}
	if (version)
		*version = (int32_t)v;
	return 0;
}

/* A JSON array of distinct non-negative int32 broker ids. */
static int ids_from_json(json_t *a, struct zk_replicas *r, bool allow_empty,
			 const char *what, const char *field, char *errstr,
			 size_t errstr_size)
{
	size_t n, i;

	r->ids = NULL;
	r->n = 0;
	if (!json_is_array(a)) {
		snprintf(errstr, errstr_size, "%s: %s is not a list", what,
			 field);
		return ERR_CORRUPT;
	}
	n = json_array_size(a);
	if (n == 0) {
		if (allow_empty)
			return 0;
		snprintf(errstr, errstr_size, "%s: %s is empty", what, field);
		return ERR_CORRUPT;
	}
	if (n > 65536) {
		snprintf(errstr, errstr_size, "%s: %s is too long", what,
			 field);
		return ERR_CORRUPT;
	}
	r->ids = malloc(n * sizeof(*r->ids));
	if (!r->ids) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(a, i);
		json_int_t x;

		if (!json_is_integer(v)) {
			snprintf(errstr, errstr_size,
				 "%s: %s holds a non-integer", what, field);
			goto err;
		}
		x = json_integer_value(v);
		if (x < 0 || x > INT32_MAX) {
			snprintf(errstr, errstr_size,
				 "%s: %s holds broker id %lld, out of range",
				 what, field, (long long)x);
			goto err;
		}
		for (size_t j = 0; j < i; j++)
			if (r->ids[j] == (int32_t)x) {
				snprintf(errstr, errstr_size,
					 "%s: %s lists broker %lld twice", what,
					 field, (long long)x);
				goto err;
			}
		r->ids[i] = (int32_t)x;
	}
	r->n = (int)n;
	return 0;
err:
	free(r->ids);
	r->ids = NULL;
	return ERR_CORRUPT;
}

/* ------------------------------------------------------------- cluster id */

char *zkdata_cluster_id_encode(const char *id)
{
	json_t *o = json_object();

	if (put(o, "version", json_string("1")) < 0 ||
	    put(o, "id", json_string(id)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_cluster_id_decode(const char *json, size_t len, char *id,
			     size_t id_size, char *errstr, size_t errstr_size)
{
	static const char what[] = "/cluster/id";
	json_t *o, *v;
	int rc;

	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);
	if (rc < 0)
		goto out;
	v = json_object_get(o, "id");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= id_size) {
		snprintf(errstr, errstr_size,
			 "%s: \"id\" is missing, not a string or too long",
			 what);
		rc = ERR_CORRUPT;
		goto out;
	}
	memcpy(id, json_string_value(v), json_string_length(v) + 1);
out:
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------- controller */

char *zkdata_controller_encode(int32_t broker_id, int64_t timestamp_ms)
{
	json_t *o = json_object();
	char ts[24];

	snprintf(ts, sizeof(ts), "%" PRId64, timestamp_ms);
	if (put(o, "version", json_integer(1)) < 0 ||
	    put(o, "brokerid", json_integer(broker_id)) < 0 ||
	    put(o, "timestamp", json_string(ts)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_controller_decode(const char *json, size_t len, int32_t *broker_id,
			     char *errstr, size_t errstr_size)
{
	static const char what[] = "/controller";
	int32_t id = -1;
	json_t *o;
	int rc;

	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(o, "brokerid", 0, true, &id, what, errstr,
			     errstr_size);
	if (rc == 0)
		*broker_id = id;
	json_decref(o);
	return rc;
}

int zkdata_epoch_decode(const char *data, size_t len, int32_t *epoch,
			char *errstr, size_t errstr_size)
{
	char buf[16];
	int64_t v;

	if (!data || len == 0 || len >= sizeof(buf)) {
		snprintf(errstr, errstr_size,
			 "/controller_epoch is empty or too long");
		return ERR_CORRUPT;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	if (parse_i64(buf, &v) < 0 || v < 0 || v > INT32_MAX) {
		snprintf(errstr, errstr_size,
			 "/controller_epoch does not hold an epoch: \"%s\"",
			 buf);
		return ERR_CORRUPT;
	}
	*epoch = (int32_t)v;
	return 0;
}

/* ------------------------------------------------------------- brokers */

void zkdata_broker_free(struct zk_broker *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->n_endpoints; i++) {
		free(b->endpoints[i].listener);
		free(b->endpoints[i].host);
		free(b->endpoints[i].protocol);
	}
	free(b->endpoints);
	free(b->host);
	free(b->rack);
	b->endpoints = NULL;
	b->n_endpoints = 0;
	b->host = NULL;
	b->rack = NULL;
}

const struct zk_endpoint *zkdata_broker_endpoint(const struct zk_broker *b,
						 const char *listener)
{
	for (int i = 0; i < b->n_endpoints; i++)
		if (strcmp(b->endpoints[i].listener, listener) == 0)
			return &b->endpoints[i];
	return NULL;
}

char *zkdata_broker_encode(const struct zk_broker *b)
{
	const struct zk_endpoint *plain =
	    zkdata_broker_endpoint(b, "PLAINTEXT");
	json_t *o = json_object(), *eps = json_array(), *map = json_object();
	char ts[24];

	snprintf(ts, sizeof(ts), "%" PRId64, b->timestamp);
	if (!o || !eps || !map)
		goto err;
	for (int i = 0; i < b->n_endpoints; i++) {
		const struct zk_endpoint *e = &b->endpoints[i];
		bool v6 = strchr(e->host, ':') != NULL;
		char s[ZKPATH_MAX];

		snprintf(s, sizeof(s), v6 ? "%s://[%s]:%d" : "%s://%s:%d",
			 e->listener, e->host, e->port);
		if (json_array_append_new(eps, json_string(s)) < 0 ||
		    put(map, e->listener,
			json_string(e->protocol ? e->protocol : e->listener)) <
			0)
			goto err;
	}
	if (put(o, "version", json_integer(4)) < 0 ||
	    put(o, "host", plain ? json_string(plain->host) : json_null()) <
		0 ||
	    put(o, "port", json_integer(plain ? plain->port : -1)) < 0 ||
	    put(o, "jmx_port", json_integer(b->jmx_port)) < 0 ||
	    put(o, "timestamp", json_string(ts)) < 0 ||
	    put(o, "endpoints", eps) < 0)
		goto err_eps_owned;
	eps = NULL;
	if (put(o, "listener_security_protocol_map", map) < 0)
		goto err_map_owned;
	map = NULL;
	if (b->rack && put(o, "rack", json_string(b->rack)) < 0)
		goto err_map_owned;
	return dump(o);
err:
	json_decref(eps);
err_eps_owned:
	json_decref(map);
err_map_owned:
	json_decref(o);
	return NULL;
}

/* Parses "NAME://host:port" into e (listener, host, port). */
static int parse_endpoint(const char *s, struct zk_endpoint *e)
{
	char name[128], host[256];
	int port;

	if (net_parse_listener(s, name, sizeof(name), host, sizeof(host),
			       &port) < 0 ||
	    !name[0] || port < 0 || port > 65535)
		return ERR_INVAL;
	e->listener = strdup(name);
	e->host = strdup(host);
	e->port = port;
	if (!e->listener || !e->host)
		return ERR_NOMEM;
	return 0;
}

int zkdata_broker_decode(const char *json, size_t len, struct zk_broker *b,
			 char *errstr, size_t errstr_size)
{
	static const char what[] = "broker registration";
	json_t *o, *eps, *map;
	int64_t ts = 0;
	int rc;

	b->host = NULL;
	b->rack = NULL;
	b->endpoints = NULL;
	b->n_endpoints = 0;
	b->port = -1;
	b->jmx_port = -1;
	b->timestamp = 0;
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 5, &b->version, what, errstr, errstr_size);
	if (rc < 0)
		goto out;
	rc = get_str(o, "host", false, &b->host, what, errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(o, "port", -1, false, &b->port, what, errstr,
			     errstr_size);
	if (rc == 0)
		rc = get_i32(o, "jmx_port", -1, false, &b->jmx_port, what,
			     errstr, errstr_size);
	if (rc == 0)
		rc = get_int(o, "timestamp", INT64_MIN, INT64_MAX, false, true,
			     &ts, what, errstr, errstr_size);
	if (rc == 0)
		rc = get_str(o, "rack", false, &b->rack, what, errstr,
			     errstr_size);
	if (rc < 0)
		goto out;
	b->timestamp = ts;

	eps = json_object_get(o, "endpoints");
	map = json_object_get(o, "listener_security_protocol_map");
	if (map && !json_is_null(map) && !json_is_object(map)) {
		snprintf(errstr, errstr_size,
			 "%s: listener_security_protocol_map is not an object",
			 what);
		rc = ERR_CORRUPT;
		goto out;
	}
	if (!eps && b->version == 1) {
		/* Version 1 had only host and port. */
		if (b->host && b->port >= 0) {
			b->endpoints = calloc(1, sizeof(*b->endpoints));
			if (!b->endpoints) {
				rc = ERR_NOMEM;
				goto out;
			}
			b->n_endpoints = 1;
			b->endpoints[0].listener = strdup("PLAINTEXT");
			b->endpoints[0].host = strdup(b->host);
			b->endpoints[0].protocol = strdup("PLAINTEXT");
			b->endpoints[0].port = b->port;
		}
		goto out;
	}
	if (!json_is_array(eps) || json_array_size(eps) == 0 ||
	    json_array_size(eps) > 64) {
		snprintf(errstr, errstr_size,
			 "%s: \"endpoints\" is missing, empty or too long",
			 what);
		rc = ERR_CORRUPT;
		goto out;
	}
	b->endpoints = calloc(json_array_size(eps), sizeof(*b->endpoints));
	if (!b->endpoints) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(eps); i++) {
		json_t *v = json_array_get(eps, i);
		struct zk_endpoint *e = &b->endpoints[i];
		json_t *proto;

		b->n_endpoints++;
		if (!json_is_string(v) ||
		    parse_endpoint(json_string_value(v), e) < 0) {
			snprintf(errstr, errstr_size,
				 "%s: endpoint %zu is not NAME://host:port",
				 what, i);
			rc = ERR_CORRUPT;
			goto out;
		}
		proto = json_is_object(map) ? json_object_get(map, e->listener)
					    : NULL;
		if (proto && !json_is_string(proto)) {
			snprintf(
			    errstr, errstr_size,
			    "%s: the security protocol of %s is not a string",
			    what, e->listener);
			rc = ERR_CORRUPT;
			goto out;
		}
		/* Without a map the listener name is the protocol (v2). */
		e->protocol =
		    strdup(proto ? json_string_value(proto) : e->listener);
		if (!e->protocol) {
			rc = ERR_NOMEM;
			goto out;
		}
	}
out:
	if (rc < 0)
		zkdata_broker_free(b);
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------- topics */

int zkdata_topic_alloc(struct zk_topic_assign *a, int n_partitions)
{
	memset(a, 0, sizeof(*a));
	if (n_partitions < 0)
		return ERR_INVAL;
	a->replicas = calloc((size_t)n_partitions + 1, sizeof(*a->replicas));
	a->adding = calloc((size_t)n_partitions + 1, sizeof(*a->adding));
	a->removing = calloc((size_t)n_partitions + 1, sizeof(*a->removing));
	a->original = calloc((size_t)n_partitions + 1, sizeof(*a->original));
	if (!a->replicas || !a->adding || !a->removing || !a->original) {
		zkdata_topic_free(a);
		return ERR_NOMEM;
	}
	a->n_partitions = n_partitions;
	return 0;
}

int zkdata_replicas_set(struct zk_replicas *r, const int32_t *ids, int n)
{
	int32_t *v = NULL;

	if (n > 0) {
		v = malloc((size_t)n * sizeof(*v));
		if (!v)
			return ERR_NOMEM;
		memcpy(v, ids, (size_t)n * sizeof(*v));
	}
	free(r->ids);
	r->ids = v;
	r->n = n;
	return 0;
}

void zkdata_topic_free(struct zk_topic_assign *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n_partitions; i++) {
		if (a->replicas)
			free(a->replicas[i].ids);
		if (a->adding)
			free(a->adding[i].ids);
		if (a->removing)
			free(a->removing[i].ids);
		if (a->original)
			free(a->original[i].ids);
	}
	free(a->replicas);
	free(a->adding);
	free(a->removing);
	free(a->original);
	free(a->topic_id);
	memset(a, 0, sizeof(*a));
}

static json_t *partition_map(const struct zk_replicas *r, int n,
			     bool skip_empty)
{
	json_t *o = json_object();

	for (int i = 0; o && i < n; i++) {
		char key[16];

		if (skip_empty && r[i].n == 0)
			continue;
		snprintf(key, sizeof(key), "%d", i);
		if (put(o, key, ids_to_json(r[i].ids, r[i].n)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

char *zkdata_topic_encode(const struct zk_topic_assign *a)
{
	json_t *o = json_object();
	bool any_original = false;

	for (int i = 0; a->original && i < a->n_partitions; i++)
		any_original |= a->original[i].n > 0;

	if (put(o, "version", json_integer(a->topic_id ? 3 : 2)) < 0 ||
	    (a->topic_id && put(o, "topic_id", json_string(a->topic_id)) < 0) ||
	    put(o, "partitions",
		partition_map(a->replicas, a->n_partitions, false)) < 0 ||
	    put(o, "adding_replicas",
		partition_map(a->adding, a->n_partitions, true)) < 0 ||
	    put(o, "removing_replicas",
		partition_map(a->removing, a->n_partitions, true)) < 0 ||
	    (any_original &&
	     put(o, "original_replicas",
		 partition_map(a->original, a->n_partitions, true)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

/* Parses a partition key: decimal, no sign, no leading zeros. */
static int parse_partition_key(const char *k, int max, int *out)
{
	int64_t v;

	if (!k[0] || (k[0] == '0' && k[1]) || k[0] == '-' || k[0] == '+')
		return ERR_INVAL;
	if (parse_i64(k, &v) < 0 || v < 0 || v >= max)
		return ERR_INVAL;
	*out = (int)v;
	return 0;
}

static int decode_partition_map(json_t *m, struct zk_replicas *dst, int n,
				bool allow_empty, const char *field,
				char *errstr, size_t errstr_size)
{
	static const char what[] = "topic assignment";
	const char *key;
	json_t *v;

	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m)) {
		snprintf(errstr, errstr_size, "%s: \"%s\" is not an object",
			 what, field);
		return ERR_CORRUPT;
	}
	json_object_foreach(m, key, v)
	{
		char label[64];
		int p;
		int rc;

		if (parse_partition_key(key, n, &p) < 0) {
			snprintf(errstr, errstr_size,
				 "%s: \"%s\" names partition \"%.20s\", which "
				 "is not one of 0..%d",
				 what, field, key, n - 1);
			return ERR_CORRUPT;
		}
		snprintf(label, sizeof(label), "%s of partition %d", field, p);
		rc = ids_from_json(v, &dst[p], allow_empty, what, label, errstr,
				   errstr_size);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int zkdata_topic_decode(const char *json, size_t len, struct zk_topic_assign *a,
			char *errstr, size_t errstr_size)
{
	static const char what[] = "topic assignment";
	json_t *o, *parts;
	size_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 3, NULL, what, errstr, errstr_size);
	if (rc < 0)
		goto out;
	parts = json_object_get(o, "partitions");
	if (!json_is_object(parts)) {
		snprintf(errstr, errstr_size,
			 "%s: \"partitions\" is missing or not an object",
			 what);
		rc = ERR_CORRUPT;
		goto out;
	}
	n = json_object_size(parts);
	if (n == 0 || n > 1000000) {
		snprintf(errstr, errstr_size,
			 "%s: \"partitions\" has %zu entries", what, n);
		rc = ERR_CORRUPT;
		goto out;
	}
	rc = zkdata_topic_alloc(a, (int)n);
	if (rc < 0)
		goto out;
	/* Keys are distinct and each in 0..n-1, so all n are present. */
	rc = decode_partition_map(parts, a->replicas, (int)n, false,
				  "partitions", errstr, errstr_size);
	if (rc == 0)
		rc = decode_partition_map(
		    json_object_get(o, "adding_replicas"), a->adding, (int)n,
		    true, "adding_replicas", errstr, errstr_size);
	if (rc == 0)
		rc = decode_partition_map(
		    json_object_get(o, "removing_replicas"), a->removing,
		    (int)n, true, "removing_replicas", errstr, errstr_size);
	if (rc == 0)
		rc = decode_partition_map(
		    json_object_get(o, "original_replicas"), a->original,
		    (int)n, true, "original_replicas", errstr, errstr_size);
	if (rc == 0)
		rc = get_str(o, "topic_id", false, &a->topic_id, what, errstr,
			     errstr_size);
out:
	if (rc < 0)
		zkdata_topic_free(a);
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------- state */

char *zkdata_state_encode(const struct zk_partition_state *s)
{
	json_t *o = json_object();

	if (put(o, "controller_epoch", json_integer(s->controller_epoch)) < 0 ||
	    put(o, "leader", json_integer(s->leader)) < 0 ||
	    put(o, "version", json_integer(1)) < 0 ||
	    put(o, "leader_epoch", json_integer(s->leader_epoch)) < 0 ||
	    put(o, "isr", ids_to_json(s->isr, s->n_isr)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_state_decode(const char *json, size_t len,
			struct zk_partition_state *s, char *errstr,
			size_t errstr_size)
{
	static const char what[] = "partition state";
	struct zk_replicas isr = {NULL, 0};
	json_t *o;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(o, "leader", -1, true, &s->leader, what, errstr,
			     errstr_size);
	if (rc == 0)
		rc = get_i32(o, "leader_epoch", 0, true, &s->leader_epoch, what,
			     errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(o, "controller_epoch", 0, true,
			     &s->controller_epoch, what, errstr, errstr_size);
	if (rc == 0)
		rc = ids_from_json(json_object_get(o, "isr"), &isr, true, what,
				   "isr", errstr, errstr_size);
	if (rc == 0) {
		s->isr = isr.ids;
		s->n_isr = isr.n;
	}
	json_decref(o);
	return rc;
}

void zkdata_state_free(struct zk_partition_state *s)
{
	if (!s)
		return;
	free(s->isr);
	s->isr = NULL;
	s->n_isr = 0;
}

/* ------------------------------------------------------------- configs */

void zkdata_config_free(struct zk_entity_config *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++) {
		free(c->entries[i].name);
		free(c->entries[i].value);
	}
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
}

const char *zkdata_config_get(const struct zk_entity_config *c,
			      const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return c->entries[i].value;
	return NULL;
}

int zkdata_config_set(struct zk_entity_config *c, const char *name,
		      const char *value)
{
	struct zk_config_entry *e;
	char *v = strdup(value), *k;

	if (!v)
		return ERR_NOMEM;
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].name, name) == 0) {
			free(c->entries[i].value);
			c->entries[i].value = v;
			return 0;
		}
	k = strdup(name);
	e = realloc(c->entries, ((size_t)c->n + 1) * sizeof(*e));
	if (!k || !e) {
		free(k);
		free(v);
		if (e)
			c->entries = e;
		return ERR_NOMEM;
	}
	c->entries = e;
	c->entries[c->n].name = k;
	c->entries[c->n].value = v;
	c->n++;
	return 0;
}

bool zkdata_config_remove(struct zk_entity_config *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].name, name) == 0) {
			free(c->entries[i].name);
			free(c->entries[i].value);
			memmove(&c->entries[i], &c->entries[i + 1],
				(size_t)(c->n - i - 1) * sizeof(c->entries[0]));
			c->n--;
			return true;
		}
	return false;
}

char *zkdata_config_encode(const struct zk_entity_config *c)
{
	json_t *o = json_object(), *m = json_object();

	for (int i = 0; m && i < c->n; i++)
		if (put(m, c->entries[i].name,
			json_string(c->entries[i].value)) < 0) {
			json_decref(m);
			m = NULL;
		}
	if (put(o, "version", json_integer(1)) < 0 || put(o, "config", m) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_config_decode(const char *json, size_t len,
			 struct zk_entity_config *c, char *errstr,
			 size_t errstr_size)
{
	static const char what[] = "entity config";
	const char *key;
	json_t *o, *m, *v;
	int rc;

	c->entries = NULL;
	c->n = 0;
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);
	if (rc < 0)
		goto out;
	m = json_object_get(o, "config");
	if (!json_is_object(m)) {
		snprintf(errstr, errstr_size,
			 "%s: \"config\" is missing or not an object", what);
		rc = ERR_CORRUPT;
		goto out;
	}
	json_object_foreach(m, key, v)
	{
		if (!json_is_string(v)) {
			snprintf(errstr, errstr_size,
				 "%s: the value of \"%s\" is not a string",
				 what, key);
			rc = ERR_CORRUPT;
			goto out;
		}
		rc = zkdata_config_set(c, key, json_string_value(v));
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		zkdata_config_free(c);
	json_decref(o);
	return rc;
}

char *zkdata_config_change_encode(const char *entity_type,
				  const char *entity_name)
{
	json_t *o = json_object();
	char path[ZKPATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", entity_type, entity_name);
	if (put(o, "version", json_integer(2)) < 0 ||
	    put(o, "entity_path", json_string(path)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

static int copy_out(const char *s, size_t n, char *out, size_t out_size)
{
	if (n == 0 || n >= out_size)
		return ERR_CORRUPT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int zkdata_config_change_decode(const char *json, size_t len, char *type,
				size_t type_size, char *name, size_t name_size,
				char *errstr, size_t errstr_size)
{
	static const char what[] = "config change notification";
	json_t *o, *v;
	int32_t version = 0;
	int rc;

	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 2, &version, what, errstr, errstr_size);
	if (rc < 0)
		goto out;
	if (version == 2) {
		const char *p, *slash;

		v = json_object_get(o, "entity_path");
		p = json_is_string(v) ? json_string_value(v) : NULL;
		slash = p ? strchr(p, '/') : NULL;
		if (!slash ||
		    copy_out(p, (size_t)(slash - p), type, type_size) < 0 ||
		    copy_out(slash + 1, strlen(slash + 1), name, name_size) <
			0) {
			snprintf(errstr, errstr_size,
				 "%s: \"entity_path\" is not <type>/<name>",
				 what);
			rc = ERR_CORRUPT;
		}
	} else {
		json_t *t = json_object_get(o, "entity_type");

		v = json_object_get(o, "entity_name");
		if (!json_is_string(t) || !json_is_string(v) ||
		    copy_out(json_string_value(t), json_string_length(t), type,
			     type_size) < 0 ||
		    copy_out(json_string_value(v), json_string_length(v), name,
			     name_size) < 0) {
			snprintf(
			    errstr, errstr_size,
			    "%s: \"entity_type\" or \"entity_name\" is missing",
			    what);
			rc = ERR_CORRUPT;
		}
	}
out:
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------- admin */

void zkdata_tp_list_free(struct zk_tp_list *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++)
		free(l->v[i].topic);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

char *zkdata_preferred_encode(const struct zk_tp_list *l)
{
	json_t *o = json_object(), *a = json_array();

	for (int i = 0; a && i < l->n; i++) {
		json_t *e = json_object();

		if (put(e, "topic", json_string(l->v[i].topic)) < 0 ||
		    put(e, "partition", json_integer(l->v[i].partition)) < 0 ||
		    json_array_append_new(a, e) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (put(o, "version", json_integer(1)) < 0 ||
	    put(o, "partitions", a) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

/* Reads the "partitions" list of an admin document (common checks). */
static int admin_list(json_t *o, const char *what, json_t **out, char *errstr,
		      size_t errstr_size)
{
	int rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);

	if (rc < 0)
		return rc;
	*out = json_object_get(o, "partitions");
	if (!json_is_array(*out) || json_array_size(*out) > 10000000) {
		snprintf(errstr, errstr_size,
			 "%s: \"partitions\" is missing or not a list", what);
		return ERR_CORRUPT;
	}
	return 0;
}

static int decode_tp(json_t *e, size_t i, char **topic, int32_t *partition,
		     const char *what, char *errstr, size_t errstr_size)
{
	char label[96];
	int rc;

	snprintf(label, sizeof(label), "%s entry %zu", what, i);
	if (!json_is_object(e)) {
		snprintf(errstr, errstr_size, "%s is not an object", label);
		return ERR_CORRUPT;
	}
	rc = get_str(e, "topic", true, topic, label, errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(e, "partition", 0, true, partition, label, errstr,
			     errstr_size);
	return rc;
}

int zkdata_preferred_decode(const char *json, size_t len, struct zk_tp_list *l,
			    char *errstr, size_t errstr_size)
{
	static const char what[] = "preferred replica election";
	json_t *o, *a;
	int rc;

	l->v = NULL;
	l->n = 0;
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = admin_list(o, what, &a, errstr, errstr_size);
	if (rc < 0)
		goto out;
	l->v = calloc(json_array_size(a) + 1, sizeof(*l->v));
	if (!l->v) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		rc = decode_tp(json_array_get(a, i), i, &l->v[i].topic,
			       &l->v[i].partition, what, errstr, errstr_size);
		l->n++;
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		zkdata_tp_list_free(l);
	json_decref(o);
	return rc;
}

void zkdata_reassign_free(struct zk_reassign_list *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++) {
		free(l->v[i].topic);
		free(l->v[i].replicas.ids);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

char *zkdata_reassign_encode(const struct zk_reassign_list *l)
{
	json_t *o = json_object(), *a = json_array();

	for (int i = 0; a && i < l->n; i++) {
		const struct zk_reassignment *r = &l->v[i];
		json_t *e = json_object(), *dirs = json_array();

		for (int j = 0; dirs && j < r->replicas.n; j++)
			if (json_array_append_new(dirs, json_string("any")) <
			    0) {
				json_decref(dirs);
				dirs = NULL;
			}
		if (put(e, "topic", json_string(r->topic)) < 0 ||
		    put(e, "partition", json_integer(r->partition)) < 0 ||
		    put(e, "replicas",
			ids_to_json(r->replicas.ids, r->replicas.n)) < 0 ||
		    put(e, "log_dirs", dirs) < 0 ||
		    json_array_append_new(a, e) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (put(o, "version", json_integer(1)) < 0 ||
	    put(o, "partitions", a) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_reassign_decode(const char *json, size_t len,
			   struct zk_reassign_list *l, char *errstr,
			   size_t errstr_size)
{
	static const char what[] = "partition reassignment";
	json_t *o, *a;
	int rc;

	l->v = NULL;
	l->n = 0;
	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = admin_list(o, what, &a, errstr, errstr_size);
	if (rc < 0)
		goto out;
	l->v = calloc(json_array_size(a) + 1, sizeof(*l->v));
	if (!l->v) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);
		struct zk_reassignment *r = &l->v[i];

		l->n++;
		rc = decode_tp(e, i, &r->topic, &r->partition, what, errstr,
			       errstr_size);
		if (rc == 0)
			rc = ids_from_json(json_object_get(e, "replicas"),
					   &r->replicas, false, what,
					   "replicas", errstr, errstr_size);
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		zkdata_reassign_free(l);
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------- pid block */

char *zkdata_pid_block_encode(const struct zk_pid_block *b)
{
	json_t *o = json_object();
	char s[24], e[24];

	snprintf(s, sizeof(s), "%" PRId64, b->start);
	snprintf(e, sizeof(e), "%" PRId64, b->end);
	if (put(o, "version", json_integer(1)) < 0 ||
	    put(o, "broker", json_integer(b->broker)) < 0 ||
	    put(o, "block_start", json_string(s)) < 0 ||
	    put(o, "block_end", json_string(e)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int zkdata_pid_block_decode(const char *json, size_t len,
			    struct zk_pid_block *b, char *errstr,
			    size_t errstr_size)
{
	static const char what[] = "/latest_producer_id_block";
	int64_t start = 0, end = 0;
	int32_t broker = 0;
	json_t *o;
	int rc;

	rc = load(json, len, what, &o, errstr, errstr_size);
	if (rc < 0)
		return rc;
	rc = check_version(o, 1, 1, NULL, what, errstr, errstr_size);
	if (rc == 0)
		rc = get_i32(o, "broker", 0, true, &broker, what, errstr,
			     errstr_size);
	if (rc == 0)
		rc = get_int(o, "block_start", 0, INT64_MAX, true, true, &start,
			     what, errstr, errstr_size);
	if (rc == 0)
		rc = get_int(o, "block_end", 0, INT64_MAX, true, true, &end,
			     what, errstr, errstr_size);
	if (rc == 0 && end < start) {
		snprintf(errstr, errstr_size,
			 "%s: block_end %" PRId64
			 " is below block_start %" PRId64,
			 what, end, start);
		rc = ERR_CORRUPT;
	}
	if (rc == 0) {
		b->broker = broker;
		b->start = start;
		b->end = end;
	}
	json_decref(o);
	return rc;
}
