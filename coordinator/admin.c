/*
 * admin.c - topic and config administration in ZooKeeper.
 *
 * Kafka's ZK-mode admin path (AdminZkClient, ZkAdminManager) with its
 * checks and sentences, written against fluxo's znode codecs. Each
 * operation validates everything it can before its first write, so a
 * refused request leaves ZooKeeper untouched. Topic creation writes the
 * config znode before the assignment (the controller reads the config
 * once it sees the topic, e.g. for unclean elections); config changes
 * write the entity znode before the change notification, so a broker
 * that reads on notification sees the new value.
 *
 * Functions are stateless and thread-safe; concurrent writers of the same
 * znode are serialised with conditional (versioned) writes and retries.
 */
#include "config.h"
#include "admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "clock.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "topic_conf.h"

#define FAC  "admin"
#define E(x) FLUXO__ERROR_CODE__##x

void admin_defaults_init(struct admin_defaults *d)
{
	d->num_partitions = 1;
	d->default_replication_factor = 1;
	d->delete_topic_enable = true;
	d->rack_aware = true;
}

/* Maps a ZooKeeper failure to a wire code and a sentence. */
static int zk_fail(int rc, const char *what, const char *path, char *errstr,
		   size_t errstr_size)
{
	snprintf(errstr, errstr_size, "ZooKeeper error while %s %s: %s", what,
		 path, zerror(rc));
	return zk_rc_is_connection(rc) ? E(REQUEST_TIMED_OUT)
				       : E(UNKNOWN_SERVER_ERROR);
}

int admin_topic_name_check(const char *name, char *errstr, size_t errstr_size)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0) {
		snprintf(errstr, errstr_size,
			 "Topic name is illegal, it can't be empty");
		return E(INVALID_TOPIC_EXCEPTION);
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(errstr, errstr_size,
			 "Topic name cannot be \".\" or \"..\"");
		return E(INVALID_TOPIC_EXCEPTION);
	}
	if (len > ADMIN_TOPIC_NAME_MAX) {
		snprintf(errstr, errstr_size,
			 "Topic name is illegal, it can't be longer than %d "
			 "characters, topic name: %.300s",
			 ADMIN_TOPIC_NAME_MAX, name);
		return E(INVALID_TOPIC_EXCEPTION);
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-')) {
			snprintf(errstr, errstr_size,
				 "Topic name \"%s\" is illegal, it contains a "
				 "character other than ASCII alphanumerics, "
				 "'.', '_' and '-'",
				 name);
			return E(INVALID_TOPIC_EXCEPTION);
		}
	}
	return E(NONE);
}

/* ------------------------------------------------------------- reading */

void admin_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int admin_list_topics(zk_session_t *zs, char ***names, int *n, char *errstr,
		      size_t errstr_size)
{
	struct String_vector kids;
	char **v;
	int rc;

	*names = NULL;
	*n = 0;
	rc = zk_children(zs, ZK_PATH_BROKER_TOPICS, NULL, &kids);
	if (rc == ZNONODE)
		return E(NONE);
	if (rc != ZOK)
		return zk_fail(rc, "listing", ZK_PATH_BROKER_TOPICS, errstr,
			       errstr_size);
	v = calloc((size_t)kids.count + 1, sizeof(*v));
	if (!v)
		goto err_nomem;
	for (int i = 0; i < kids.count; i++) {
		v[i] = strdup(kids.data[i]);
		if (!v[i]) {
			admin_names_free(v, i);
			goto err_nomem;
		}
	}
	qsort(v, (size_t)kids.count, sizeof(*v), cmp_str);
	*names = v;
	*n = kids.count;
	deallocate_String_vector(&kids);
	return E(NONE);
err_nomem:
	deallocate_String_vector(&kids);
	snprintf(errstr, errstr_size, "out of memory");
	return E(UNKNOWN_SERVER_ERROR);
}

void admin_brokers_free(struct zk_broker *brokers, int n)
{
	for (int i = 0; i < n; i++)
		zkdata_broker_free(&brokers[i]);
	free(brokers);
}

static int cmp_broker(const void *a, const void *b)
{
	const struct zk_broker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Parses a /brokers/ids child name: a non-negative decimal int32. */
static bool parse_broker_id(const char *s, int32_t *out)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

int admin_read_brokers(zk_session_t *zs, struct zk_broker **brokers, int *n,
		       char *errstr, size_t errstr_size)
{
	struct String_vector kids;
	struct zk_read *reads = NULL;
	struct zk_broker *out = NULL;
	char(*paths)[ZKPATH_MAX] = NULL;
	int rc, k = 0, ret = E(NONE);

	*brokers = NULL;
	*n = 0;
	rc = zk_children(zs, ZK_PATH_BROKER_IDS, NULL, &kids);
	if (rc == ZNONODE)
		return E(NONE);
	if (rc != ZOK)
		return zk_fail(rc, "listing", ZK_PATH_BROKER_IDS, errstr,
			       errstr_size);
	reads = calloc((size_t)kids.count + 1, sizeof(*reads));
	paths = calloc((size_t)kids.count + 1, sizeof(*paths));
	out = calloc((size_t)kids.count + 1, sizeof(*out));
	if (!reads || !paths || !out) {
		snprintf(errstr, errstr_size, "out of memory");
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	for (int i = 0; i < kids.count; i++) {
		snprintf(paths[i], ZKPATH_MAX, ZK_PATH_BROKER_IDS "/%.64s",
			 kids.data[i]);
		reads[i].path = paths[i];
	}
	rc = zk_get_many(zs, reads, kids.count, NULL);
	if (rc != ZOK) {
		ret = zk_fail(rc, "reading", ZK_PATH_BROKER_IDS, errstr,
			      errstr_size);
		goto out;
	}
	for (int i = 0; i < kids.count; i++) {
		char why[256];
		int32_t id;

		if (reads[i].rc == ZNONODE)
			continue;
		if (reads[i].rc != ZOK) {
			ret = zk_fail(reads[i].rc, "reading", paths[i], errstr,
				      errstr_size);
			goto out;
		}
		if (!parse_broker_id(kids.data[i], &id)) {
			log_warn(FAC, "ignoring %s: not a broker id", paths[i]);
			continue;
		}
		if (zkdata_broker_decode(reads[i].data, (size_t)reads[i].len,
					 &out[k], why, sizeof(why)) < 0) {
			log_warn(FAC, "ignoring %s: %s", paths[i], why);
			continue;
		}
		out[k].id = id;
		out[k].epoch = reads[i].stat.czxid;
		k++;
	}
	qsort(out, (size_t)k, sizeof(*out), cmp_broker);
	*brokers = out;
	*n = k;
	out = NULL;
	k = 0;
out:
	if (reads)
		zk_reads_free(reads, kids.count);
	admin_brokers_free(out, k);
	free(reads);
	free(paths);
	deallocate_String_vector(&kids);
	return ret;
}

int admin_read_config(zk_session_t *zs, const char *entity_type,
		      const char *name, struct zk_entity_config *out,
		      char *errstr, size_t errstr_size)
{
	char path[ZKPATH_MAX];
	char *data;
	int len, rc;

	out->entries = NULL;
	out->n = 0;
	if (zkpath_config(path, sizeof(path), entity_type, name) < 0) {
		snprintf(errstr, errstr_size, "entity name too long");
		return E(INVALID_REQUEST);
	}
	rc = zk_get(zs, path, NULL, &data, &len, NULL);
	if (rc == ZNONODE)
		return E(NONE);
	if (rc != ZOK)
		return zk_fail(rc, "reading", path, errstr, errstr_size);
	if (len == 0) {
		free(data);
		return E(NONE);
	}
	rc = zkdata_config_decode(data, (size_t)len, out, errstr, errstr_size);
	free(data);
	return rc < 0 ? E(UNKNOWN_SERVER_ERROR) : E(NONE);
}

/* ------------------------------------------------------------- create */

/* Checks one topic setting against the table. */
static int check_topic_config(const char *name, const char *value, char *errstr,
			      size_t errstr_size)
{
	const struct conf_def *def = conf_find(topic_conf_table, name);

	if (!def) {
		snprintf(errstr, errstr_size, "Unknown topic config name: %s",
			 name);
		return E(INVALID_CONFIG);
	}
	if (conf_check(def, value ? value : "", errstr, errstr_size) < 0)
		return E(INVALID_CONFIG);
	return E(NONE);
}

/* "a.b" and "a_b" collide in metric names; Kafka refuses the second. */
static bool collides(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '.' ? '_' : *a, y = *b == '.' ? '_' : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

static int check_explicit_assignment(const Fluxo__CreatableTopic *t,
				     int32_t *rf, char *errstr,
				     size_t errstr_size)
{
	size_t n = t->n_assignments;
	bool *seen = calloc(n + 1, sizeof(*seen));
	int ret = E(NONE);

	if (!seen) {
		snprintf(errstr, errstr_size, "out of memory");
		return E(UNKNOWN_SERVER_ERROR);
	}
	*rf = (int32_t)t->assignments[0]->n_broker_ids;
	for (size_t i = 0; i < n; i++) {
		const Fluxo__ReplicaAssignment *a = t->assignments[i];

		if (a->partition < 0 || (size_t)a->partition >= n ||
		    seen[a->partition]) {
			snprintf(errstr, errstr_size,
				 "partitions should be a consecutive 0-based "
				 "integer sequence");
			ret = E(INVALID_REPLICA_ASSIGNMENT);
			goto out;
		}
		seen[a->partition] = true;
		if ((int32_t)a->n_broker_ids != *rf || a->n_broker_ids == 0) {
			snprintf(errstr, errstr_size,
				 "All partitions should have the same number "
				 "of replicas");
			ret = E(INVALID_REPLICA_ASSIGNMENT);
			goto out;
		}
		for (size_t j = 0; j < a->n_broker_ids; j++) {
			if (a->broker_ids[j] < 0) {
				snprintf(
				    errstr, errstr_size,
				    "Invalid broker id %" PRId32
				    " in the assignment of partition %" PRId32
				    ".",
				    a->broker_ids[j], a->partition);
				ret = E(INVALID_REPLICA_ASSIGNMENT);
				goto out;
			}
			for (size_t k = 0; k < j; k++)
				if (a->broker_ids[k] == a->broker_ids[j]) {
					snprintf(errstr, errstr_size,
						 "Duplicate replica assignment "
						 "found for partition %" PRId32
						 ": broker %" PRId32
						 " appears twice.",
						 a->partition,
						 a->broker_ids[j]);
					ret = E(INVALID_REPLICA_ASSIGNMENT);
					goto out;
				}
		}
	}
out:
	free(seen);
	return ret;
}

/*
 * Writes a config znode: at version, or created when version is -1 (an
 * existing node is then overwritten only when overwrite is set). Returns
 * a wire code, or -1 when a concurrent writer got there first.
 */
static int write_config_node(zk_session_t *zs, const char *path,
			     const struct zk_entity_config *cfg, int version,
			     bool overwrite, char *errstr, size_t errstr_size)
{
	char *js = zkdata_config_encode(cfg);
	int rc;

	if (!js) {
		snprintf(errstr, errstr_size, "out of memory");
		return E(UNKNOWN_SERVER_ERROR);
	}
	if (version < 0) {
		rc = zk_create(zs, path, js, (int)strlen(js), 0, NULL, 0, NULL);
		if (rc == ZNONODE) {
			/* A missing /config/<type>: create it and retry. */
			char parent[ZKPATH_MAX];

			snprintf(parent, sizeof(parent), "%s", path);
			*strrchr(parent, '/') = '\0';
			zk_create_parents(zs, parent);
			rc = zk_create(zs, path, js, (int)strlen(js), 0, NULL,
				       0, NULL);
		}
		if (rc == ZNODEEXISTS && overwrite)
			rc = zk_set(zs, path, js, (int)strlen(js), -1, NULL);
	} else {
		rc = zk_set(zs, path, js, (int)strlen(js), version, NULL);
	}
	free(js);
	if (rc == ZBADVERSION || rc == ZNONODE || rc == ZNODEEXISTS)
		return -1; /* raced: caller retries */
	if (rc != ZOK)
		return zk_fail(rc, "writing", path, errstr, errstr_size);
	return E(NONE);
}

int admin_create_topic(zk_session_t *zs, const struct admin_defaults *d,
		       const Fluxo__CreatableTopic *t, bool validate_only,
		       int32_t *partitions, int32_t *rf_out, char *errstr,
		       size_t errstr_size)
{
	struct zk_entity_config cfg = {NULL, 0};
	struct zk_topic_assign ta = {0};
	struct zk_broker *brokers = NULL;
	struct assign_broker *ab = NULL;
	int32_t *placement = NULL;
	char **names = NULL;
	int n_names = 0, n_brokers = 0, ret, rc;
	int32_t np, rf;
	char path[ZKPATH_MAX], *js = NULL;

	ret = admin_topic_name_check(t->name, errstr, errstr_size);
	if (ret != E(NONE))
		return ret;
	np = t->num_partitions > 0 ? t->num_partitions : d->num_partitions;
	rf = t->replication_factor > 0 ? t->replication_factor
				       : d->default_replication_factor;
	if (t->num_partitions < -1 || t->replication_factor < -1) {
		snprintf(errstr, errstr_size,
			 t->num_partitions < -1
			     ? "Number of partitions must be larger than 0."
			     : "Replication factor must be larger than 0.");
		return t->num_partitions < -1 ? E(INVALID_PARTITIONS)
					      : E(INVALID_REPLICATION_FACTOR);
	}
	if (t->n_assignments > 0) {
		if (t->num_partitions > 0 || t->replication_factor > 0) {
			snprintf(errstr, errstr_size,
				 "Both numPartitions or replicationFactor and "
				 "replicasAssignments were set. Both cannot be "
				 "used at the same time.");
			return E(INVALID_REQUEST);
		}
		if (t->n_assignments > 1000000) {
			snprintf(errstr, errstr_size, "Too many partitions.");
			return E(INVALID_PARTITIONS);
		}
		ret = check_explicit_assignment(t, &rf, errstr, errstr_size);
		if (ret != E(NONE))
			return ret;
		np = (int32_t)t->n_assignments;
	}
	if (np <= 0 || np > 1000000) {
		snprintf(errstr, errstr_size,
			 "Number of partitions must be larger than 0.");
		return E(INVALID_PARTITIONS);
	}
	for (size_t i = 0; i < t->n_configs; i++) {
		const Fluxo__ConfigEntry *c = t->configs[i];

		ret =
		    check_topic_config(c->name, c->value, errstr, errstr_size);
		if (ret != E(NONE))
			goto out;
		if (zkdata_config_set(&cfg, c->name, c->value ? c->value : "") <
		    0) {
			snprintf(errstr, errstr_size, "out of memory");
			ret = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
	}

	/* Existence and '.'/'_' collisions. */
	ret = admin_list_topics(zs, &names, &n_names, errstr, errstr_size);
	if (ret != E(NONE))
		goto out;
	for (int i = 0; i < n_names; i++) {
		if (strcmp(names[i], t->name) == 0) {
			snprintf(errstr, errstr_size,
				 "Topic '%s' already exists.", t->name);
			ret = E(TOPIC_ALREADY_EXISTS);
			goto out;
		}
		if (collides(names[i], t->name)) {
			snprintf(errstr, errstr_size,
				 "Topic '%s' collides with existing topics: %s",
				 t->name, names[i]);
			ret = E(INVALID_TOPIC_EXCEPTION);
			goto out;
		}
	}

	ret =
	    zkdata_topic_alloc(&ta, np) < 0 ? E(UNKNOWN_SERVER_ERROR) : E(NONE);
	if (ret != E(NONE)) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	if (t->n_assignments > 0) {
		for (size_t i = 0; i < t->n_assignments; i++) {
			const Fluxo__ReplicaAssignment *a = t->assignments[i];

			if (zkdata_replicas_set(&ta.replicas[a->partition],
						a->broker_ids,
						(int)a->n_broker_ids) < 0) {
				snprintf(errstr, errstr_size, "out of memory");
				ret = E(UNKNOWN_SERVER_ERROR);
				goto out;
			}
		}
	} else {
		ret = admin_read_brokers(zs, &brokers, &n_brokers, errstr,
					 errstr_size);
		if (ret != E(NONE))
			goto out;
		ab = calloc((size_t)n_brokers + 1, sizeof(*ab));
		placement =
		    calloc((size_t)np * (size_t)rf + 1, sizeof(*placement));
		if (!ab || !placement) {
			snprintf(errstr, errstr_size, "out of memory");
			ret = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
		for (int i = 0; i < n_brokers; i++) {
			ab[i].id = brokers[i].id;
			ab[i].rack = brokers[i].rack;
		}
		ret = assign_replicas(ab, n_brokers, np, rf, -1, -1, 0,
				      d->rack_aware, placement, errstr,
				      errstr_size);
		if (ret != E(NONE))
			goto out;
		for (int p = 0; p < np; p++)
			if (zkdata_replicas_set(&ta.replicas[p],
						placement + (size_t)p * rf,
						rf) < 0) {
				snprintf(errstr, errstr_size, "out of memory");
				ret = E(UNKNOWN_SERVER_ERROR);
				goto out;
			}
	}
	if (partitions)
		*partitions = np;
	if (rf_out)
		*rf_out = rf;
	if (validate_only)
		goto out;

	/* Config first: the controller may read it as soon as it sees t. */
	zkpath_config(path, sizeof(path), ZK_ENTITY_TOPICS, t->name);
	ret = write_config_node(zs, path, &cfg, -1, true, errstr, errstr_size);
	if (ret < 0) {
		snprintf(errstr, errstr_size,
			 "The config of topic '%s' changed concurrently.",
			 t->name);
		ret = E(UNKNOWN_SERVER_ERROR);
	}
	if (ret != E(NONE))
		goto out;
	js = zkdata_topic_encode(&ta);
	if (!js) {
		snprintf(errstr, errstr_size, "out of memory");
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	zkpath_topic(path, sizeof(path), t->name);
	rc = zk_create(zs, path, js, (int)strlen(js), 0, NULL, 0, NULL);
	if (rc == ZNODEEXISTS) {
		snprintf(errstr, errstr_size, "Topic '%s' already exists.",
			 t->name);
		ret = E(TOPIC_ALREADY_EXISTS);
		goto out;
	}
	if (rc != ZOK) {
		ret = zk_fail(rc, "creating", path, errstr, errstr_size);
		goto out;
	}
	log_info(FAC,
		 "created topic %s with %" PRId32
		 " partitions and replication factor %" PRId32,
		 t->name, np, rf);
out:
	free(js);
	free(placement);
	free(ab);
	admin_brokers_free(brokers, n_brokers);
	admin_names_free(names, n_names);
	zkdata_topic_free(&ta);
	zkdata_config_free(&cfg);
	return ret;
}

/* ------------------------------------------------------------- delete */

int admin_delete_topic(zk_session_t *zs, const struct admin_defaults *d,
		       const char *topic, char *errstr, size_t errstr_size)
{
	char path[ZKPATH_MAX];
	int rc;

	if (!topic || !*topic || zkpath_topic(path, sizeof(path), topic) < 0 ||
	    strchr(topic, '/')) {
		snprintf(errstr, errstr_size,
			 "This server does not host this topic-partition.");
		return E(UNKNOWN_TOPIC_OR_PARTITION);
	}
	rc = zk_exists(zs, path, NULL, NULL);
	if (rc == ZNONODE) {
		snprintf(errstr, errstr_size,
			 "This server does not host this topic-partition.");
		return E(UNKNOWN_TOPIC_OR_PARTITION);
	}
	if (rc != ZOK)
		return zk_fail(rc, "reading", path, errstr, errstr_size);
	if (!d->delete_topic_enable) {
		snprintf(errstr, errstr_size, "Topic deletion is disabled.");
		return E(TOPIC_DELETION_DISABLED);
	}
	zkpath_delete_topic(path, sizeof(path), topic);
	rc = zk_create(zs, path, NULL, -1, 0, NULL, 0, NULL);
	if (rc == ZNONODE) {
		zk_create_parents(zs, ZK_PATH_DELETE_TOPICS);
		rc = zk_create(zs, path, NULL, -1, 0, NULL, 0, NULL);
	}
	if (rc != ZOK && rc != ZNODEEXISTS)
		return zk_fail(rc, "creating", path, errstr, errstr_size);
	log_info(FAC, "marked topic %s for deletion", topic);
	return E(NONE);
}

/* ------------------------------------------------------------- partitions */

static int check_new_assignment(const Fluxo__ReplicaAssignment *a, int p,
				int rf, const struct zk_broker *brokers,
				int n_brokers, char *errstr, size_t errstr_size)
{
	if (a->n_broker_ids == 0) {
		snprintf(
		    errstr, errstr_size,
		    "Cannot have replication factor of 0 for partition id %d.",
		    p);
		return E(INVALID_REPLICA_ASSIGNMENT);
	}
	for (size_t j = 0; j < a->n_broker_ids; j++) {
		bool known = false;

		for (size_t k = 0; k < j; k++)
			if (a->broker_ids[k] == a->broker_ids[j]) {
				snprintf(
				    errstr, errstr_size,
				    "Duplicate brokers not allowed in replica "
				    "assignment for partition id %d.",
				    p);
				return E(INVALID_REPLICA_ASSIGNMENT);
			}
		for (int b = 0; b < n_brokers; b++)
			known |= brokers[b].id == a->broker_ids[j];
		if (!known) {
			snprintf(errstr, errstr_size,
				 "Some brokers specified for partition id %d "
				 "are not available. Specified broker %" PRId32
				 " is not registered.",
				 p, a->broker_ids[j]);
			return E(INVALID_REPLICA_ASSIGNMENT);
		}
	}
	if ((int)a->n_broker_ids != rf) {
		snprintf(errstr, errstr_size,
			 "Inconsistent replication factor between partitions, "
			 "partition 0 has %d while partition %d has %zu.",
			 rf, p, a->n_broker_ids);
		return E(INVALID_REPLICA_ASSIGNMENT);
	}
	return E(NONE);
}

static int create_partitions_once(zk_session_t *zs,
				  const Fluxo__CreatePartitionsTopic *t,
				  bool validate_only, char *errstr,
				  size_t errstr_size)
{
	struct zk_topic_assign cur = {0}, next = {0};
	struct zk_broker *brokers = NULL;
	struct assign_broker *ab = NULL;
	int32_t *placement = NULL;
	char path[ZKPATH_MAX], *data = NULL, *js = NULL;
	int n_brokers = 0, len, rc, ret = E(NONE), old_n, add, rf, start;
	struct Stat st;

	if (admin_topic_name_check(t->name, errstr, errstr_size) != E(NONE) ||
	    zkpath_topic(path, sizeof(path), t->name) < 0) {
		snprintf(errstr, errstr_size,
			 "The topic '%.300s' does not exist.", t->name);
		return E(UNKNOWN_TOPIC_OR_PARTITION);
	}
	rc = zk_get(zs, path, NULL, &data, &len, &st);
	if (rc == ZNONODE) {
		snprintf(errstr, errstr_size, "The topic '%s' does not exist.",
			 t->name);
		return E(UNKNOWN_TOPIC_OR_PARTITION);
	}
	if (rc != ZOK)
		return zk_fail(rc, "reading", path, errstr, errstr_size);
	if (zkdata_topic_decode(data, (size_t)len, &cur, errstr, errstr_size) <
	    0) {
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	old_n = cur.n_partitions;
	if (t->count < old_n) {
		snprintf(errstr, errstr_size,
			 "Topic currently has %d partitions, which is higher "
			 "than the requested %" PRId32 ".",
			 old_n, t->count);
		ret = E(INVALID_PARTITIONS);
		goto out;
	}
	if (t->count == old_n) {
		snprintf(errstr, errstr_size,
			 "Topic already has %d partitions.", old_n);
		ret = E(INVALID_PARTITIONS);
		goto out;
	}
	if (t->count > 1000000) {
		snprintf(errstr, errstr_size,
			 "Topic cannot have more than 1000000 partitions.");
		ret = E(INVALID_PARTITIONS);
		goto out;
	}
	{
		char dpath[ZKPATH_MAX];

		zkpath_delete_topic(dpath, sizeof(dpath), t->name);
		rc = zk_exists(zs, dpath, NULL, NULL);
		if (rc == ZOK) {
			snprintf(errstr, errstr_size,
				 "The topic '%s' is marked for deletion.",
				 t->name);
			ret = E(INVALID_TOPIC_EXCEPTION);
			goto out;
		}
	}
	for (int p = 0; p < old_n; p++)
		if (cur.adding[p].n > 0 || cur.removing[p].n > 0) {
			snprintf(errstr, errstr_size,
				 "A partition reassignment is in progress for "
				 "the topic '%s'.",
				 t->name);
			ret = E(REASSIGNMENT_IN_PROGRESS);
			goto out;
		}
	add = t->count - old_n;
	rf = cur.replicas[0].n;
	ret = admin_read_brokers(zs, &brokers, &n_brokers, errstr, errstr_size);
	if (ret != E(NONE))
		goto out;
	placement = calloc((size_t)add * (size_t)rf + 1, sizeof(*placement));
	ab = calloc((size_t)n_brokers + 1, sizeof(*ab));
	if (!placement || !ab) {
		snprintf(errstr, errstr_size, "out of memory");
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	if (t->n_assignments > 0) {
		if ((int)t->n_assignments != add) {
			snprintf(errstr, errstr_size,
				 "Increasing the number of partitions by %d "
				 "but %zu assignments provided.",
				 add, t->n_assignments);
			ret = E(INVALID_REPLICA_ASSIGNMENT);
			goto out;
		}
		for (int i = 0; i < add; i++) {
			const Fluxo__ReplicaAssignment *a = t->assignments[i];

			ret = check_new_assignment(a, old_n + i, rf, brokers,
						   n_brokers, errstr,
						   errstr_size);
			if (ret != E(NONE))
				goto out;
			memcpy(placement + (size_t)i * rf, a->broker_ids,
			       (size_t)rf * sizeof(int32_t));
		}
	} else {
		/* Continue the round-robin from partition 0's leader. */
		start = 0;
		for (int i = 0; i < n_brokers; i++) {
			ab[i].id = brokers[i].id;
			ab[i].rack = brokers[i].rack;
		}
		for (int i = 0; i < n_brokers; i++)
			if (brokers[i].id >= cur.replicas[0].ids[0]) {
				start = i;
				break;
			}
		ret =
		    assign_replicas(ab, n_brokers, add, rf, start, start, old_n,
				    true, placement, errstr, errstr_size);
		if (ret != E(NONE))
			goto out;
	}
	if (validate_only)
		goto out;

	if (zkdata_topic_alloc(&next, t->count) < 0) {
		snprintf(errstr, errstr_size, "out of memory");
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	next.topic_id = cur.topic_id;
	cur.topic_id = NULL;
	for (int p = 0; p < t->count; p++) {
		const int32_t *ids = p < old_n
					 ? cur.replicas[p].ids
					 : placement + (size_t)(p - old_n) * rf;
		int n = p < old_n ? cur.replicas[p].n : rf;

		if (zkdata_replicas_set(&next.replicas[p], ids, n) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			ret = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
	}
	js = zkdata_topic_encode(&next);
	if (!js) {
		snprintf(errstr, errstr_size, "out of memory");
		ret = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	rc = zk_set(zs, path, js, (int)strlen(js), st.version, NULL);
	if (rc == ZBADVERSION) {
		ret = -1; /* changed under us: retry */
		goto out;
	}
	if (rc != ZOK) {
		ret = zk_fail(rc, "writing", path, errstr, errstr_size);
		goto out;
	}
	log_info(FAC, "topic %s now has %" PRId32 " partitions", t->name,
		 t->count);
out:
	free(js);
	free(data);
	free(placement);
	free(ab);
	admin_brokers_free(brokers, n_brokers);
	zkdata_topic_free(&cur);
	zkdata_topic_free(&next);
	return ret;
}

int admin_create_partitions(zk_session_t *zs,
			    const Fluxo__CreatePartitionsTopic *t,
			    bool validate_only, char *errstr,
			    size_t errstr_size)
{
	int ret = -1;

	for (int attempt = 0; attempt < 5 && ret < 0; attempt++)
		ret = create_partitions_once(zs, t, validate_only, errstr,
					     errstr_size);
	if (ret < 0) {
		snprintf(
		    errstr, errstr_size,
		    "The assignment of topic '%s' kept changing concurrently.",
		    t->name);
		ret = E(UNKNOWN_SERVER_ERROR);
	}
	return ret;
}

/* ------------------------------------------------------------- configs */

static int notify_change(zk_session_t *zs, const char *type, const char *name,
			 char *errstr, size_t errstr_size)
{
	char *js = zkdata_config_change_encode(type, name);
	int rc;

	if (!js) {
		snprintf(errstr, errstr_size, "out of memory");
		return E(UNKNOWN_SERVER_ERROR);
	}
	rc = zk_create(zs, ZK_PATH_CONFIG_CHANGES "/" ZK_CONFIG_CHANGE_PREFIX,
		       js, (int)strlen(js), ZOO_SEQUENCE, NULL, 0, NULL);
	if (rc == ZNONODE) {
		zk_create_parents(zs, ZK_PATH_CONFIG_CHANGES);
		rc = zk_create(
		    zs, ZK_PATH_CONFIG_CHANGES "/" ZK_CONFIG_CHANGE_PREFIX, js,
		    (int)strlen(js), ZOO_SEQUENCE, NULL, 0, NULL);
	}
	free(js);
	if (rc != ZOK)
		return zk_fail(rc, "creating a change notification in",
			       ZK_PATH_CONFIG_CHANGES, errstr, errstr_size);
	return E(NONE);
}

static int alter_config_once(zk_session_t *zs,
			     const Fluxo__AlterConfigsResource *r,
			     bool validate_only, admin_config_check_fn check_fn,
			     void *check_arg, char *errstr, size_t errstr_size)
{
	struct zk_entity_config cfg = {NULL, 0};
	const char *type, *name = r->name ? r->name : "";
	char path[ZKPATH_MAX], *data = NULL;
	struct Stat st;
	int version = -1, len, rc, ret = E(NONE);

	if (r->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC) {
		type = ZK_ENTITY_TOPICS;
		if (admin_topic_name_check(name, errstr, errstr_size) !=
			E(NONE) ||
		    zkpath_topic(path, sizeof(path), name) < 0 ||
		    (rc = zk_exists(zs, path, NULL, NULL)) == ZNONODE) {
			snprintf(errstr, errstr_size,
				 "Topic '%.300s' does not exist.", name);
			return E(UNKNOWN_TOPIC_OR_PARTITION);
		}
		if (rc != ZOK)
			return zk_fail(rc, "reading", path, errstr,
				       errstr_size);
	} else if (r->type == FLUXO__RESOURCE_TYPE__RESOURCE_BROKER) {
		int32_t id;

		type = ZK_ENTITY_BROKERS;
		if (!*name)
			name = ZK_DEFAULT_ENTITY;
		if (strcmp(name, ZK_DEFAULT_ENTITY) != 0 &&
		    !parse_broker_id(name, &id)) {
			snprintf(errstr, errstr_size,
				 "Invalid broker name '%.64s': a broker id or "
				 "empty for the cluster default.",
				 name);
			return E(INVALID_REQUEST);
		}
	} else {
		snprintf(errstr, errstr_size, "Unsupported resource type %d.",
			 (int)r->type);
		return E(INVALID_REQUEST);
	}

	zkpath_config(path, sizeof(path), type, name);
	rc = zk_get(zs, path, NULL, &data, &len, &st);
	if (rc == ZOK) {
		version = st.version;
		if (len > 0 && zkdata_config_decode(data, (size_t)len, &cfg,
						    errstr, errstr_size) < 0) {
			ret = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
	} else if (rc != ZNONODE) {
		ret = zk_fail(rc, "reading", path, errstr, errstr_size);
		goto out;
	}

	for (size_t i = 0; i < r->n_configs; i++) {
		const Fluxo__AlterableConfig *c = r->configs[i];

		if (!c->name || !*c->name) {
			snprintf(errstr, errstr_size,
				 "A config entry has no name.");
			ret = E(INVALID_REQUEST);
			goto out;
		}
		if (c->op == FLUXO__ALTER_CONFIG_OP__OP_DELETE) {
			zkdata_config_remove(&cfg, c->name);
			continue;
		}
		if (c->op != FLUXO__ALTER_CONFIG_OP__OP_SET) {
			snprintf(errstr, errstr_size,
				 "Unsupported config operation %d.",
				 (int)c->op);
			ret = E(INVALID_REQUEST);
			goto out;
		}
		if (r->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC) {
			ret = check_topic_config(c->name, c->value, errstr,
						 errstr_size);
		} else if (check_fn) {
			ret = check_fn(check_arg, c->name,
				       c->value ? c->value : "", errstr,
				       errstr_size);
		} else {
			snprintf(errstr, errstr_size,
				 "Dynamic broker config %s is not supported.",
				 c->name);
			ret = E(INVALID_CONFIG);
		}
		if (ret != E(NONE))
			goto out;
		if (zkdata_config_set(&cfg, c->name, c->value ? c->value : "") <
		    0) {
			snprintf(errstr, errstr_size, "out of memory");
			ret = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
	}
	if (validate_only)
		goto out;
	ret = write_config_node(zs, path, &cfg, version, false, errstr,
				errstr_size);
	if (ret != E(NONE))
		goto out;
	ret = notify_change(zs, type, name, errstr, errstr_size);
	if (ret == E(NONE))
		log_info(FAC, "changed the config of %s/%s", type, name);
out:
	free(data);
	zkdata_config_free(&cfg);
	return ret;
}

int admin_alter_config(zk_session_t *zs, const Fluxo__AlterConfigsResource *r,
		       bool validate_only, admin_config_check_fn check_fn,
		       void *check_arg, char *errstr, size_t errstr_size)
{
	int ret = -1;

	for (int attempt = 0; attempt < 5 && ret < 0; attempt++)
		ret = alter_config_once(zs, r, validate_only, check_fn,
					check_arg, errstr, errstr_size);
	if (ret < 0) {
		snprintf(errstr, errstr_size,
			 "The config of '%s' kept changing concurrently.",
			 r->name ? r->name : "");
		ret = E(UNKNOWN_SERVER_ERROR);
	}
	return ret;
}

/* ------------------------------------------------------------- producer ids */

int admin_alloc_producer_ids(zk_session_t *zs, int32_t broker_id,
			     int64_t *start, int64_t *end, char *errstr,
			     size_t errstr_size)
{
	/* Brokers race for blocks with a conditional setData; losers retry
	 * after a short random pause, for at most 10 s. */
	int64_t deadline = clock_mono_ms() + 10000;

	for (int attempt = 0; clock_mono_ms() < deadline; attempt++) {
		struct zk_pid_block cur = {0, 0, -1}, next;
		char *data = NULL, *js;
		struct Stat st;
		int len, rc;

		rc = zk_get(zs, ZK_PATH_PRODUCER_ID_BLOCK, NULL, &data, &len,
			    &st);
		if (rc == ZNONODE) {
			rc = zk_create_parents(zs, ZK_PATH_PRODUCER_ID_BLOCK);
			if (rc != ZOK)
				return zk_fail(rc, "creating",
					       ZK_PATH_PRODUCER_ID_BLOCK,
					       errstr, errstr_size);
			continue;
		}
		if (rc != ZOK)
			return zk_fail(rc, "reading", ZK_PATH_PRODUCER_ID_BLOCK,
				       errstr, errstr_size);
		if (len > 0) {
			rc = zkdata_pid_block_decode(data, (size_t)len, &cur,
						     errstr, errstr_size);
			if (rc < 0) {
				free(data);
				return E(UNKNOWN_SERVER_ERROR);
			}
		}
		free(data);
		if (cur.end > INT64_MAX - ADMIN_PRODUCER_ID_BLOCK) {
			snprintf(errstr, errstr_size,
				 "Producer ids are exhausted.");
			return E(UNKNOWN_SERVER_ERROR);
		}
		next.broker = broker_id;
		next.start = cur.end + 1;
		next.end = next.start + ADMIN_PRODUCER_ID_BLOCK - 1;
		js = zkdata_pid_block_encode(&next);
		if (!js) {
			snprintf(errstr, errstr_size, "out of memory");
			return E(UNKNOWN_SERVER_ERROR);
		}
		rc = zk_set(zs, ZK_PATH_PRODUCER_ID_BLOCK, js, (int)strlen(js),
			    st.version, NULL);
		free(js);
		if (rc == ZOK) {
			*start = next.start;
			*end = next.end;
			return E(NONE);
		}
		if (rc != ZBADVERSION)
			return zk_fail(rc, "writing", ZK_PATH_PRODUCER_ID_BLOCK,
				       errstr, errstr_size);
		usleep((useconds_t)(1000 + rand() % (2000 * (attempt < 8
								  ? attempt + 1
								  : 8))));
	}
	snprintf(errstr, errstr_size,
		 "Could not allocate producer ids within 10 s: too many "
		 "concurrent allocations.");
	return E(UNKNOWN_SERVER_ERROR);
}
