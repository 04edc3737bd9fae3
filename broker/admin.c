/*
 * admin.c - topic and configuration administration (the admin thread).
 *
 * Requests arrive on a network worker, are deferred, and run here one at
 * a time: the ZooKeeper writes are synchronous (coordinator/admin.c), and
 * creation, deletion and new partitions then wait, bounded by the
 * request's timeout, until the controller's UpdateMetadata has reached
 * this broker's cache. A client told "created" can therefore produce at
 * once, to any broker that got the same update.
 *
 * DescribeConfigs reports every setting with its effective value and
 * where it comes from, like Kafka's: a topic's override, this broker's
 * dynamic setting (/config/brokers/<id>), the cluster's dynamic default
 * (/config/brokers/<default>), server.properties, or the built-in
 * default; with include_synonyms, every one of those layers that sets a
 * value, the one in effect first. Dynamic values are read from
 * ZooKeeper at each request, so a describe right after an alter shows it.
 */
#include "config.h"
#include "admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "coordinator/admin.h"
#include "coordinator/configwatch.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "partition.h"
#include "replica_glue.h"
#include "server.h"
#include "taskq.h"

struct admin_task {
	struct broker *b;
	struct deferred *d;
	uint8_t *head;
	size_t head_len;
};

static void defaults_of(struct broker *b, struct admin_defaults *d)
{
	admin_defaults_init(d);
	d->num_partitions = b->conf.num_partitions;
	d->default_replication_factor = b->conf.default_replication_factor;
	d->delete_topic_enable = b->conf.delete_topic_enable;
}

/* Waits until pred holds for the cache or the deadline passes. */
static bool wait_metadata(struct broker *b, int64_t deadline,
			  bool (*pred)(const struct md_snapshot *s, void *arg),
			  void *arg)
{
	for (;;) {
		struct md_snapshot *s = md_cache_acquire(b->md);
		bool ok = pred(s, arg);

		md_snapshot_release(s);
		if (ok)
			return true;
		if (clock_mono_ms() >= deadline || atomic_load(&b->stopping))
			return false;
		usleep(5000);
	}
}

struct ready_arg {
	const char *topic;
	int partitions;
};

static bool pred_ready(const struct md_snapshot *s, void *arg)
{
	struct ready_arg *ra = arg;

	return md_topic_ready(s, ra->topic, ra->partitions);
}

/* Deleted: every replica answered StopReplica and the controller dropped
 * the topic from the cluster metadata (Kafka's DelayedDeleteTopics). */
static bool pred_gone(const struct md_snapshot *s, void *arg)
{
	return md_find_topic(s, arg) == NULL;
}

static int64_t deadline_of(int32_t timeout_ms)
{
	return clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
}

/* ------------------------------------------------------------ topics */

static void create_topics(struct admin_task *at, const Fluxo__Request *req)
{
	struct broker *b = at->b;
	const Fluxo__CreateTopicsRequest *cr = req->create_topics;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__CreateTopicsResponse body = FLUXO__CREATE_TOPICS_RESPONSE__INIT;
	Fluxo__CreatableTopicResult *res;
	Fluxo__CreatableTopicResult **ptrs;
	struct admin_defaults d;
	char (*msgs)[512];
	int64_t deadline = deadline_of(cr->timeout_ms);

	defaults_of(b, &d);
	res = calloc(cr->n_topics + 1, sizeof(*res));
	ptrs = calloc(cr->n_topics + 1, sizeof(*ptrs));
	msgs = calloc(cr->n_topics + 1, sizeof(*msgs));
	if (!res || !ptrs || !msgs)
		fatal("admin", "out of memory");
	for (size_t i = 0; i < cr->n_topics; i++) {
		int32_t np = 0, rf = 0;

		fluxo__creatable_topic_result__init(&res[i]);
		res[i].name = cr->topics[i]->name;
		res[i].error = admin_create_topic(b->zk, &d, cr->topics[i],
						  cr->validate_only, &np, &rf,
						  msgs[i], sizeof(msgs[i]));
		res[i].num_partitions = np;
		res[i].replication_factor = rf;
		if (res[i].error == FLUXO__ERROR_CODE__NONE &&
		    !cr->validate_only) {
			struct ready_arg ra = { cr->topics[i]->name, np };

			log_info("admin",
				 "created topic=%s partitions=%d "
				 "replication_factor=%d",
				 cr->topics[i]->name, np, rf);
			if (!wait_metadata(b, deadline, pred_ready, &ra)) {
				res[i].error =
					FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
				snprintf(msgs[i], sizeof(msgs[i]),
					 "Topic '%s' was created but its leaders "
					 "were not elected within the timeout; "
					 "check that the brokers are up",
					 cr->topics[i]->name);
			}
		}
		res[i].error_message = msgs[i];
		ptrs[i] = &res[i];
	}
	body.topics = ptrs;
	body.n_topics = cr->n_topics;
	resp.body_case = FLUXO__RESPONSE__BODY_CREATE_TOPICS;
	resp.create_topics = &body;
	deferred_respond_async(at->d, &resp);
	free(res);
	free(ptrs);
	free(msgs);
}

static void delete_topics(struct admin_task *at, const Fluxo__Request *req)
{
	struct broker *b = at->b;
	const Fluxo__DeleteTopicsRequest *dr = req->delete_topics;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__DeleteTopicsResponse body = FLUXO__DELETE_TOPICS_RESPONSE__INIT;
	Fluxo__TopicResult *res = calloc(dr->n_names + 1, sizeof(*res));
	Fluxo__TopicResult **ptrs = calloc(dr->n_names + 1, sizeof(*ptrs));
	char (*msgs)[512] = calloc(dr->n_names + 1, sizeof(*msgs));
	struct admin_defaults d;
	int64_t deadline = deadline_of(dr->timeout_ms);

	if (!res || !ptrs || !msgs)
		fatal("admin", "out of memory");
	defaults_of(b, &d);
	for (size_t i = 0; i < dr->n_names; i++) {
		fluxo__topic_result__init(&res[i]);
		res[i].name = dr->names[i];
		res[i].error = admin_delete_topic(b->zk, &d, dr->names[i],
						  msgs[i], sizeof(msgs[i]));
		if (res[i].error == FLUXO__ERROR_CODE__NONE) {
			log_info("admin", "topic=%s marked for deletion",
				 dr->names[i]);
			if (!wait_metadata(b, deadline, pred_gone,
					   dr->names[i])) {
				res[i].error =
					FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
				snprintf(msgs[i], sizeof(msgs[i]),
					 "Topic '%s' is marked for deletion; the "
					 "deletion did not complete within the "
					 "timeout and will finish when every "
					 "replica's broker is up",
					 dr->names[i]);
			}
		}
		res[i].error_message = msgs[i];
		ptrs[i] = &res[i];
	}
	body.results = ptrs;
	body.n_results = dr->n_names;
	resp.body_case = FLUXO__RESPONSE__BODY_DELETE_TOPICS;
	resp.delete_topics = &body;
	deferred_respond_async(at->d, &resp);
	free(res);
	free(ptrs);
	free(msgs);
}

static void create_partitions(struct admin_task *at, const Fluxo__Request *req)
{
	struct broker *b = at->b;
	const Fluxo__CreatePartitionsRequest *cr = req->create_partitions;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__CreatePartitionsResponse body =
		FLUXO__CREATE_PARTITIONS_RESPONSE__INIT;
	Fluxo__TopicResult *res = calloc(cr->n_topics + 1, sizeof(*res));
	Fluxo__TopicResult **ptrs = calloc(cr->n_topics + 1, sizeof(*ptrs));
	char (*msgs)[512] = calloc(cr->n_topics + 1, sizeof(*msgs));
	int64_t deadline = deadline_of(cr->timeout_ms);

	if (!res || !ptrs || !msgs)
		fatal("admin", "out of memory");
	for (size_t i = 0; i < cr->n_topics; i++) {
		fluxo__topic_result__init(&res[i]);
		res[i].name = cr->topics[i]->name;
		res[i].error = admin_create_partitions(b->zk, cr->topics[i],
						       cr->validate_only,
						       msgs[i],
						       sizeof(msgs[i]));
		if (res[i].error == FLUXO__ERROR_CODE__NONE &&
		    !cr->validate_only) {
			struct ready_arg ra = { cr->topics[i]->name,
						cr->topics[i]->count };

			log_info("admin", "topic=%s now has %d partitions",
				 cr->topics[i]->name, cr->topics[i]->count);
			if (!wait_metadata(b, deadline, pred_ready, &ra)) {
				res[i].error =
					FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
				snprintf(msgs[i], sizeof(msgs[i]),
					 "The new partitions of '%s' got no "
					 "leader within the timeout",
					 cr->topics[i]->name);
			}
		}
		res[i].error_message = msgs[i];
		ptrs[i] = &res[i];
	}
	body.results = ptrs;
	body.n_results = cr->n_topics;
	resp.body_case = FLUXO__RESPONSE__BODY_CREATE_PARTITIONS;
	resp.create_partitions = &body;
	deferred_respond_async(at->d, &resp);
	free(res);
	free(ptrs);
	free(msgs);
}

/* ------------------------------------------------------------ configs */

int admin_topic_conf(struct broker *b, const char *topic,
		     struct topic_conf *tc)
{
	struct zk_entity_config zc = { 0 };
	char errstr[256];
	int rc;

	rc = broker_topic_defaults(b, tc);
	if (rc < 0)
		return rc;
	if (admin_read_config(b->zk, "topics", topic, &zc, errstr,
			      sizeof(errstr)) != FLUXO__ERROR_CODE__NONE) {
		log_warn("admin", "topic=%s: cannot read its configuration: %s",
			 topic, errstr);
		topic_conf_free(tc);
		return ERR_ZK;
	}
	for (int i = 0; i < zc.n; i++) {
		const struct zk_config_entry *e = &zc.entries[i];
		char why[256];

		if (conf_set(topic_conf_table, tc, e->name, e->value, why,
			     sizeof(why)) < 0)
			log_warn("admin",
				 "topic=%s: ignoring the stored override %s=%s: "
				 "%s",
				 topic, e->name, e->value, why);
	}
	zkdata_config_free(&zc);
	return 0;
}

int broker_topic_conf(struct broker *b, const char *topic,
		      struct topic_conf *tc)
{
	return admin_topic_conf(b, topic, tc);
}

static bool topic_exists(struct broker *b, const char *topic)
{
	struct md_snapshot *s = md_cache_acquire(b->md);
	const struct md_topic *t = md_find_topic(s, topic);
	bool ok = t && !t->deleting;

	md_snapshot_release(s);
	return ok;
}

static bool wanted(const Fluxo__DescribeConfigsResource *r, const char *name)
{
	if (r->n_config_names == 0)
		return true;
	for (size_t i = 0; i < r->n_config_names; i++)
		if (strcmp(r->config_names[i], name) == 0)
			return true;
	return false;
}

/* Fills res for one resource. Strings are malloc'd into *pool (freed by
 * the caller). */
struct strpool {
	char **v;
	size_t n, cap;
};

static char *pool_dup(struct strpool *p, const char *s)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		if (!p->v)
			fatal("admin", "out of memory");
	}
	p->v[p->n] = strdup(s);
	if (!p->v[p->n])
		fatal("admin", "out of memory");
	return p->v[p->n++];
}

/*
 * The dynamic broker layers of /config/brokers: this broker's own node and
 * the cluster default. A value counts only for a dynamic setting, as in
 * admin_apply_broker_config().
 */
struct dyn_layers {
	struct zk_entity_config broker; /* /config/brokers/<id> */
	struct zk_entity_config deflt;	/* /config/brokers/<default> */
};

static int read_dyn_layers(struct broker *b, struct dyn_layers *l, char *errstr,
			   size_t errstr_size)
{
	char idstr[16];
	int rc;

	memset(l, 0, sizeof(*l));
	snprintf(idstr, sizeof(idstr), "%d", b->conf.broker_id);
	rc = admin_read_config(b->zk, "brokers", idstr, &l->broker, errstr,
			       errstr_size);
	if (rc == FLUXO__ERROR_CODE__NONE)
		rc = admin_read_config(b->zk, "brokers", "<default>", &l->deflt,
				       errstr, errstr_size);
	return rc;
}

static void free_dyn_layers(struct dyn_layers *l)
{
	zkdata_config_free(&l->broker);
	zkdata_config_free(&l->deflt);
}

/* A setting's value at every layer that sets one, the effective first.
 * Names are static; values live in the request's string pool. */
#define MAX_LAYERS 5
struct layers {
	const char *name[MAX_LAYERS];
	const char *value[MAX_LAYERS];
	Fluxo__ConfigSource source[MAX_LAYERS];
	int n;
};

static void layer_add(struct layers *ls, struct strpool *pool, const char *name,
		      const char *value, Fluxo__ConfigSource source)
{
	if (ls->n < MAX_LAYERS && value) {
		ls->name[ls->n] = name;
		ls->value[ls->n] = pool_dup(pool, value);
		ls->source[ls->n] = source;
		ls->n++;
	}
}

/*
 * The value of a setting whose default is derived from another one
 * (log.retention.ms from log.retention.hours, ...), as this broker
 * computed it from server.properties. Returns false for any other
 * setting without a default of its own: it then has no value to show.
 */
static bool derived_value(struct broker *b, const char *name, char *out,
			  size_t out_size)
{
	int64_t v;

	if (strcmp(name, "log.retention.ms") == 0)
		v = broker_conf_retention_ms(&b->conf);
	else if (strcmp(name, "log.roll.ms") == 0)
		v = broker_conf_roll_ms(&b->conf);
	else if (strcmp(name, "log.roll.jitter.ms") == 0)
		v = broker_conf_roll_jitter_ms(&b->conf);
	else
		return false;
	snprintf(out, out_size, "%" PRId64, v);
	return true;
}

/*
 * The broker layers of setting d, in Kafka's precedence: dynamic
 * per-broker, dynamic cluster default, server.properties, built-in
 * default.
 */
static void broker_layers(struct broker *b, const struct dyn_layers *l,
			  const struct conf_def *d, struct strpool *pool,
			  struct layers *ls)
{
	bool set = broker_conf_is_set(&b->conf, d->name);
	char val[1024];

	if (d->flags & CONF_F_DYNAMIC) {
		layer_add(ls, pool, d->name,
			  zkdata_config_get(&l->broker, d->name),
			  FLUXO__CONFIG_SOURCE__SOURCE_DYNAMIC_BROKER_CONFIG);
		layer_add(
		    ls, pool, d->name, zkdata_config_get(&l->deflt, d->name),
		    FLUXO__CONFIG_SOURCE__SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG);
	}
	if (set)
		layer_add(ls, pool, d->name,
			  conf_get(d, &b->conf, val, sizeof(val)),
			  FLUXO__CONFIG_SOURCE__SOURCE_STATIC_BROKER_CONFIG);
	if (d->dflt)
		layer_add(ls, pool, d->name, d->dflt,
			  FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG);
	else if (!set && derived_value(b, d->name, val, sizeof(val)))
		layer_add(ls, pool, d->name, val,
			  FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG);
}

static Fluxo__DescribedConfig *new_described(const char *name)
{
	Fluxo__DescribedConfig *c = calloc(1, sizeof(*c));

	if (!c)
		fatal("admin", "out of memory");
	fluxo__described_config__init(c);
	c->name = (char *)name;
	return c;
}

/*
 * Fills c's value, source and (when asked) synonyms from ls. A secret
 * setting's value is never sent.
 */
static void set_layers(Fluxo__DescribedConfig *c, const struct layers *ls,
		       bool synonyms, bool secret)
{
	if (ls->n > 0) {
		c->value = secret ? "" : (char *)ls->value[0];
		c->source = ls->source[0];
	}
	if (!synonyms)
		return;
	c->synonyms = calloc((size_t)ls->n + 1, sizeof(*c->synonyms));
	if (!c->synonyms)
		fatal("admin", "out of memory");
	for (int i = 0; i < ls->n; i++) {
		Fluxo__ConfigSynonym *s = malloc(sizeof(*s));

		if (!s)
			fatal("admin", "out of memory");
		fluxo__config_synonym__init(s);
		s->name = (char *)ls->name[i];
		s->value = secret ? "" : (char *)ls->value[i];
		s->source = ls->source[i];
		c->synonyms[c->n_synonyms++] = s;
	}
}

static void free_described(Fluxo__DescribedConfig *c)
{
	for (size_t k = 0; k < c->n_synonyms; k++)
		free(c->synonyms[k]);
	free(c->synonyms);
	free(c);
}

static void describe_topic(struct broker *b,
			   const Fluxo__DescribeConfigsRequest *dr,
			   const Fluxo__DescribeConfigsResource *r,
			   Fluxo__DescribeConfigsResult *res,
			   struct strpool *pool)
{
	struct zk_entity_config zc = { 0 };
	struct dyn_layers dl;
	struct topic_conf tc;
	char errstr[256];
	size_t n = 0, cap = 0;

	memset(&dl, 0, sizeof(dl));
	for (const struct conf_def *d = topic_conf_table; d->name; d++)
		cap++;
	if (!topic_exists(b, r->name)) {
		res->error = FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
		snprintf(errstr, sizeof(errstr), "Topic '%s' does not exist",
			 r->name);
		res->error_message = pool_dup(pool, errstr);
		return;
	}
	if (admin_read_config(b->zk, "topics", r->name, &zc, errstr,
			      sizeof(errstr)) != FLUXO__ERROR_CODE__NONE ||
	    read_dyn_layers(b, &dl, errstr, sizeof(errstr)) !=
		FLUXO__ERROR_CODE__NONE) {
		zkdata_config_free(&zc);
		free_dyn_layers(&dl);
		res->error = FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
		res->error_message = pool_dup(pool, errstr);
		return;
	}
	if (broker_topic_defaults(b, &tc) < 0)
		fatal("admin", "out of memory");
	res->configs = calloc(cap + 1, sizeof(*res->configs));
	if (!res->configs)
		fatal("admin", "out of memory");
	for (const struct conf_def *d = topic_conf_table; d->name; d++) {
		const char *bkey = topic_conf_broker_key(d->name);
		const struct conf_def *bd =
		    bkey ? conf_find(broker_conf_table, bkey) : NULL;
		struct layers ls = {.n = 0};
		Fluxo__DescribedConfig *c;
		char val[512];

		if (!wanted(r, d->name))
			continue;
		c = new_described(d->name);
		layer_add(&ls, pool, d->name, zkdata_config_get(&zc, d->name),
			  FLUXO__CONFIG_SOURCE__SOURCE_TOPIC_CONFIG);
		if (bd)
			broker_layers(b, &dl, bd, pool, &ls);
		else
			layer_add(&ls, pool, d->name, d->dflt,
				  FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG);
		set_layers(c, &ls, dr->include_synonyms, false);
		/* Without an override, the value in effect is the topic
		 * default this broker derived from its layers. */
		if (c->source != FLUXO__CONFIG_SOURCE__SOURCE_TOPIC_CONFIG) {
			c->value =
			    pool_dup(pool, conf_get(d, &tc, val, sizeof(val)));
			if (ls.n == 0)
				c->source =
				    FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG;
		}
		if (dr->include_documentation && d->doc)
			c->documentation = (char *)d->doc;
		res->configs[n++] = c;
	}
	res->n_configs = n;
	topic_conf_free(&tc);
	free_dyn_layers(&dl);
	zkdata_config_free(&zc);
}

/*
 * A broker's settings: every setting with the value of its first layer
 * (dynamic ones from /config/brokers, as this broker applies them). The
 * cluster default (name "" or "<default>") lists only what
 * /config/brokers/<default> sets, as Kafka does.
 */
static void describe_broker(struct broker *b,
			    const Fluxo__DescribeConfigsRequest *dr,
			    const Fluxo__DescribeConfigsResource *r,
			    Fluxo__DescribeConfigsResult *res,
			    struct strpool *pool)
{
	bool deflt = !r->name || !*r->name || strcmp(r->name, "<default>") == 0;
	struct dyn_layers dl;
	char idstr[16], errstr[256];
	size_t n = 0, cap = 0;

	snprintf(idstr, sizeof(idstr), "%d", b->conf.broker_id);
	if (!deflt && strcmp(r->name, idstr) != 0) {
		char msg[160];

		res->error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		snprintf(msg, sizeof(msg),
			 "This is broker %s; send DescribeConfigs for broker "
			 "%s to that broker",
			 idstr, r->name);
		res->error_message = pool_dup(pool, msg);
		return;
	}
	if (read_dyn_layers(b, &dl, errstr, sizeof(errstr)) !=
	    FLUXO__ERROR_CODE__NONE) {
		free_dyn_layers(&dl);
		res->error = FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
		res->error_message = pool_dup(pool, errstr);
		return;
	}
	for (const struct conf_def *d = broker_conf_table; d->name; d++)
		cap++;
	res->configs = calloc(cap + 1, sizeof(*res->configs));
	if (!res->configs)
		fatal("admin", "out of memory");
	for (const struct conf_def *d = broker_conf_table; d->name; d++) {
		bool secret = (d->flags & CONF_F_SECRET) != 0;
		struct layers ls = {.n = 0};
		Fluxo__DescribedConfig *c;

		if ((d->flags & CONF_F_INTERNAL) || !wanted(r, d->name))
			continue;
		if (deflt) {
			if (!(d->flags & CONF_F_DYNAMIC))
				continue;
			layer_add(
			    &ls, pool, d->name,
			    zkdata_config_get(&dl.deflt, d->name),
			    FLUXO__CONFIG_SOURCE__SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG);
			if (ls.n == 0)
				continue;
		} else {
			broker_layers(b, &dl, d, pool, &ls);
		}
		c = new_described(d->name);
		set_layers(c, &ls, dr->include_synonyms, secret);
		c->read_only = !(d->flags & CONF_F_DYNAMIC);
		c->is_sensitive = secret;
		if (dr->include_documentation && d->doc)
			c->documentation = (char *)d->doc;
		res->configs[n++] = c;
	}
	res->n_configs = n;
	free_dyn_layers(&dl);
}

static void describe_configs(struct admin_task *at, const Fluxo__Request *req)
{
	const Fluxo__DescribeConfigsRequest *dr = req->describe_configs;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__DescribeConfigsResponse body =
		FLUXO__DESCRIBE_CONFIGS_RESPONSE__INIT;
	Fluxo__DescribeConfigsResult *res = calloc(dr->n_resources + 1,
						   sizeof(*res));
	Fluxo__DescribeConfigsResult **ptrs = calloc(dr->n_resources + 1,
						     sizeof(*ptrs));
	struct strpool pool = { 0 };

	if (!res || !ptrs)
		fatal("admin", "out of memory");
	for (size_t i = 0; i < dr->n_resources; i++) {
		const Fluxo__DescribeConfigsResource *r = dr->resources[i];

		fluxo__describe_configs_result__init(&res[i]);
		res[i].type = r->type;
		res[i].name = r->name;
		if (r->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC)
			describe_topic(at->b, dr, r, &res[i], &pool);
		else if (r->type == FLUXO__RESOURCE_TYPE__RESOURCE_BROKER)
			describe_broker(at->b, dr, r, &res[i], &pool);
		else {
			res[i].error = FLUXO__ERROR_CODE__INVALID_REQUEST;
			res[i].error_message =
				"resource type must be topic or broker";
		}
		ptrs[i] = &res[i];
	}
	body.results = ptrs;
	body.n_results = dr->n_resources;
	resp.body_case = FLUXO__RESPONSE__BODY_DESCRIBE_CONFIGS;
	resp.describe_configs = &body;
	deferred_respond_async(at->d, &resp);
	for (size_t i = 0; i < dr->n_resources; i++) {
		for (size_t j = 0; j < res[i].n_configs; j++)
			free_described(res[i].configs[j]);
		free(res[i].configs);
	}
	for (size_t i = 0; i < pool.n; i++)
		free(pool.v[i]);
	free(pool.v);
	free(res);
	free(ptrs);
}

static int check_broker_setting(void *arg, const char *name,
				const char *value, char *errstr,
				size_t errstr_size)
{
	const struct conf_def *d = conf_find(broker_conf_table, name);

	(void)arg;
	if (!d || (d->flags & CONF_F_INTERNAL)) {
		snprintf(errstr, errstr_size, "unknown broker setting \"%s\"",
			 name);
		return FLUXO__ERROR_CODE__INVALID_CONFIG;
	}
	if (!(d->flags & CONF_F_DYNAMIC)) {
		snprintf(errstr, errstr_size,
			 "%s cannot be changed while the broker runs; set it in "
			 "server.properties and restart",
			 name);
		return FLUXO__ERROR_CODE__INVALID_CONFIG;
	}
	if (conf_check(d, value, errstr, errstr_size) < 0)
		return FLUXO__ERROR_CODE__INVALID_CONFIG;
	return FLUXO__ERROR_CODE__NONE;
}

static void alter_configs(struct admin_task *at, const Fluxo__Request *req)
{
	const Fluxo__AlterConfigsRequest *ar = req->alter_configs;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__AlterConfigsResponse body = FLUXO__ALTER_CONFIGS_RESPONSE__INIT;
	Fluxo__AlterConfigsResult *res = calloc(ar->n_resources + 1,
						sizeof(*res));
	Fluxo__AlterConfigsResult **ptrs = calloc(ar->n_resources + 1,
						  sizeof(*ptrs));
	char (*msgs)[512] = calloc(ar->n_resources + 1, sizeof(*msgs));

	if (!res || !ptrs || !msgs)
		fatal("admin", "out of memory");
	for (size_t i = 0; i < ar->n_resources; i++) {
		const Fluxo__AlterConfigsResource *r = ar->resources[i];

		fluxo__alter_configs_result__init(&res[i]);
		res[i].type = r->type;
		res[i].name = r->name;
		res[i].error = admin_alter_config(at->b->zk, r,
						  ar->validate_only,
						  check_broker_setting, at->b,
						  msgs[i], sizeof(msgs[i]));
		if (res[i].error == FLUXO__ERROR_CODE__NONE &&
		    !ar->validate_only)
			log_info("admin", "configuration of %s %s changed",
				 r->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC
					 ? "topic"
					 : "broker",
				 r->name);
		res[i].error_message = msgs[i];
		ptrs[i] = &res[i];
	}
	body.results = ptrs;
	body.n_results = ar->n_resources;
	resp.body_case = FLUXO__RESPONSE__BODY_ALTER_CONFIGS;
	resp.alter_configs = &body;
	deferred_respond_async(at->d, &resp);
	free(res);
	free(ptrs);
	free(msgs);
}

/* ------------------------------------------------------------ producer ids */

static int64_t pid_next = -1, pid_end = -1;	/* admin thread only */

static void init_producer_id(struct admin_task *at, const Fluxo__Request *req)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__InitProducerIdResponse body =
		FLUXO__INIT_PRODUCER_ID_RESPONSE__INIT;
	char errstr[256];

	(void)req;
	body.producer_id = -1;
	body.producer_epoch = -1;
	if (pid_next < 0 || pid_next > pid_end) {
		int64_t start, end;

		body.error = admin_alloc_producer_ids(at->b->zk,
						      at->b->conf.broker_id,
						      &start, &end, errstr,
						      sizeof(errstr));
		if (body.error == FLUXO__ERROR_CODE__NONE) {
			pid_next = start;
			pid_end = end;
		} else {
			resp.error_message = errstr;
		}
	}
	if (body.error == FLUXO__ERROR_CODE__NONE) {
		body.producer_id = pid_next++;
		body.producer_epoch = 0;
	}
	resp.body_case = FLUXO__RESPONSE__BODY_INIT_PRODUCER_ID;
	resp.init_producer_id = &body;
	deferred_respond_async(at->d, &resp);
}

/* ------------------------------------------------------------ dispatch */

static void admin_run(void *arg)
{
	struct admin_task *at = arg;
	Fluxo__Request *req;

	req = fluxo__request__unpack(NULL, at->head_len, at->head);
	if (!req) {
		Fluxo__Response resp = FLUXO__RESPONSE__INIT;

		resp.error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		deferred_respond_async(at->d, &resp);
		goto out;
	}
	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_CREATE_TOPICS:
		create_topics(at, req);
		break;
	case FLUXO__REQUEST__BODY_DELETE_TOPICS:
		delete_topics(at, req);
		break;
	case FLUXO__REQUEST__BODY_CREATE_PARTITIONS:
		create_partitions(at, req);
		break;
	case FLUXO__REQUEST__BODY_DESCRIBE_CONFIGS:
		describe_configs(at, req);
		break;
	case FLUXO__REQUEST__BODY_ALTER_CONFIGS:
		alter_configs(at, req);
		break;
	case FLUXO__REQUEST__BODY_INIT_PRODUCER_ID:
		init_producer_id(at, req);
		break;
	default: {
		Fluxo__Response resp = FLUXO__RESPONSE__INIT;

		resp.error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		deferred_respond_async(at->d, &resp);
		break;
	}
	}
	fluxo__request__free_unpacked(req, NULL);
out:
	free(at->head);
	free(at);
}

void handle_admin(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	struct admin_task *at = malloc(sizeof(*at));

	if (!at || !(at->head = malloc(r->head_len)))
		fatal("admin", "out of memory");
	memcpy(at->head, r->head, r->head_len);
	at->head_len = r->head_len;
	at->b = b;
	at->d = request_defer(r);
	if (!at->d || taskq_post(b->admin_q, admin_run, at) < 0) {
		if (at->d) {
			Fluxo__Response resp = FLUXO__RESPONSE__INIT;

			resp.error = FLUXO__ERROR_CODE__BROKER_NOT_AVAILABLE;
			resp.error_message = "broker is shutting down";
			deferred_respond(at->d, &resp, NULL, 0);
		}
		free(at->head);
		free(at);
	}
}

/* ------------------------------------------------------------ auto-create */

struct auto_create {
	struct broker *b;
	char *name;
};

static void auto_create_run(void *arg)
{
	struct auto_create *ac = arg;
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	struct admin_defaults d;
	char errstr[512];
	int rc;

	defaults_of(ac->b, &d);
	t.name = ac->name;
	t.num_partitions = -1;
	t.replication_factor = -1;
	rc = admin_create_topic(ac->b->zk, &d, &t, false, NULL, NULL, errstr,
				sizeof(errstr));
	if (rc == FLUXO__ERROR_CODE__NONE)
		log_info("admin",
			 "auto-created topic=%s (auto.create.topics.enable)",
			 ac->name);
	else if (rc != FLUXO__ERROR_CODE__TOPIC_ALREADY_EXISTS)
		log_warn("admin", "auto-creating topic=%s failed: %s", ac->name,
			 errstr);
	free(ac->name);
	free(ac);
}

void admin_auto_create_topic(struct broker *b, const char *name)
{
	struct auto_create *ac = malloc(sizeof(*ac));

	if (!ac)
		return;
	ac->b = b;
	ac->name = strdup(name);
	if (!ac->name || taskq_post(b->admin_q, auto_create_run, ac) < 0) {
		free(ac->name);
		free(ac);
	}
}

/* ------------------------------------------------------------ config watch */

struct config_change {
	struct broker *b;
	char *type;
	char *name;
};

static void config_change_run(void *arg)
{
	struct config_change *cc = arg;
	struct broker *b = cc->b;

	if (strcmp(cc->type, "topics") == 0) {
		struct topic_conf tc;

		if (admin_topic_conf(b, cc->name, &tc) == 0) {
			rm_update_topic_config(b->rm, cc->name, &tc);
			log_info("admin",
				 "topic=%s: configuration change applied",
				 cc->name);
			topic_conf_free(&tc);
		}
	} else if (strcmp(cc->type, "brokers") == 0) {
		admin_apply_broker_config(b, cc->name);
	}
	free(cc->type);
	free(cc->name);
	free(cc);
}

static void on_config_change(void *arg, const char *type, const char *name)
{
	struct broker *b = arg;
	struct config_change *cc = malloc(sizeof(*cc));

	if (!cc)
		return;
	cc->b = b;
	cc->type = strdup(type);
	cc->name = strdup(name);
	if (!cc->type || !cc->name ||
	    taskq_post(b->admin_q, config_change_run, cc) < 0) {
		free(cc->type);
		free(cc->name);
		free(cc);
	}
}

int admin_start_config_watch(struct broker *b, char *errstr,
			     size_t errstr_size)
{
	b->cfgwatch = configwatch_start(b->zk, on_config_change, b, errstr,
					errstr_size);
	return b->cfgwatch ? 0 : ERR_ZK;
}

void admin_stop_config_watch(struct broker *b)
{
	configwatch_stop(b->cfgwatch);
	b->cfgwatch = NULL;
}

/*
 * Dynamic broker settings: /config/brokers/<default> then
 * /config/brokers/<id> on top of server.properties. Topic-level defaults
 * among them (log.retention.ms, ...) reach every hosted partition whose
 * topic does not override them.
 */
void admin_apply_broker_config(struct broker *b, const char *name)
{
	struct broker_conf dyn;
	struct topic_conf tc;
	struct partition **v = NULL;
	char idstr[16], errstr[256];
	const char *layers[2] = { "<default>", idstr };
	int n;

	snprintf(idstr, sizeof(idstr), "%d", b->conf.broker_id);
	if (strcmp(name, idstr) != 0 && strcmp(name, "<default>") != 0)
		return;
	memset(&dyn, 0, sizeof(dyn));
	if (conf_copy(broker_conf_table, &dyn, &b->conf) < 0)
		return;
	memcpy(dyn.set_mask, b->conf.set_mask, sizeof(dyn.set_mask));
	for (int l = 0; l < 2; l++) {
		struct zk_entity_config zc = { 0 };

		if (admin_read_config(b->zk, "brokers", layers[l], &zc, errstr,
				      sizeof(errstr)) !=
		    FLUXO__ERROR_CODE__NONE) {
			log_warn("admin", "cannot read dynamic settings: %s",
				 errstr);
			continue;
		}
		for (int i = 0; i < zc.n; i++) {
			const struct conf_def *d = conf_find(
				broker_conf_table, zc.entries[i].name);

			if (!d || !(d->flags & CONF_F_DYNAMIC))
				continue;
			if (broker_conf_set(&dyn, zc.entries[i].name,
					    zc.entries[i].value, errstr,
					    sizeof(errstr)) < 0)
				log_warn("admin", "dynamic setting ignored: %s",
					 errstr);
		}
		zkdata_config_free(&zc);
	}
	log_set_level((enum log_level)dyn.logger_level);
	replica_glue_set_throttle_rates(b, dyn.leader_replication_throttled_rate,
					dyn.follower_replication_throttled_rate);
	broker_conf_topic_defaults(&dyn, &tc);
	pthread_mutex_lock(&b->defaults_lock);
	topic_conf_free(&b->topic_defaults);
	b->topic_defaults = tc;
	pthread_mutex_unlock(&b->defaults_lock);
	conf_free(broker_conf_table, &dyn);

	/* Re-derive each hosted topic's configuration. */
	n = rm_list(b->rm, &v);
	for (int i = 0; i < n; i++) {
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(v[j]->topic, v[i]->topic) == 0;
		if (!seen && admin_topic_conf(b, v[i]->topic, &tc) == 0) {
			rm_update_topic_config(b->rm, v[i]->topic, &tc);
			topic_conf_free(&tc);
		}
	}
	for (int i = 0; i < n; i++)
		partition_unref(v[i]);
	free(v);
	log_info("admin", "dynamic broker settings applied (%s)", name);
}
