/*
 * controller_ctx.c - the controller's picture of the cluster.
 *
 * The context is a cache of ZooKeeper: live brokers (with their epochs
 * and endpoints), topics with their assignments, and each partition's
 * state znode (leader, leader epoch, ISR, zkVersion). It is read in full
 * when this broker becomes controller and then kept current by the
 * events, so decisions never read ZooKeeper partition by partition.
 *
 * Reads use pipelined asynchronous gets (zk_get_many), which is what
 * keeps fail-over time flat in the number of partitions: 10,000 state
 * znodes are one burst of requests, not 10,000 round trips. Watches are
 * set by the same reads, before the data is used, so no change between
 * the read and the watch can be missed.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"

bool ids_contain(const int32_t *v, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* ------------------------------------------------------------- brokers */

static int broker_index(controller_t *ctl, int32_t id, bool *found)
{
	int lo = 0, hi = ctl->n_brokers;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (ctl->brokers[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < ctl->n_brokers && ctl->brokers[lo]->id == id;
	return lo;
}

struct ctl_broker *ctl_broker_find(controller_t *ctl, int32_t id)
{
	bool found;
	int i = broker_index(ctl, id, &found);

	return found ? ctl->brokers[i] : NULL;
}

bool ctl_is_live(controller_t *ctl, int32_t id)
{
	return ctl_broker_find(ctl, id) != NULL;
}

bool ctl_is_eligible(controller_t *ctl, int32_t id)
{
	struct ctl_broker *b = ctl_broker_find(ctl, id);

	return b && !b->shutting_down;
}

int ctl_broker_add(controller_t *ctl, struct ctl_broker *b)
{
	bool found;
	int i = broker_index(ctl, b->id, &found);

	if (found)
		return ERR_EXISTS;
	if (ctl->n_brokers == ctl->cap_brokers) {
		int cap = ctl->cap_brokers ? ctl->cap_brokers * 2 : 8;
		struct ctl_broker **v =
		    realloc(ctl->brokers, (size_t)cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		ctl->brokers = v;
		ctl->cap_brokers = cap;
	}
	memmove(&ctl->brokers[i + 1], &ctl->brokers[i],
		(size_t)(ctl->n_brokers - i) * sizeof(ctl->brokers[0]));
	ctl->brokers[i] = b;
	ctl->n_brokers++;
	return 0;
}

void ctl_broker_free(struct ctl_broker *b)
{
	if (!b)
		return;
	zkdata_broker_free(&b->info);
	free(b);
}

void ctl_broker_remove(controller_t *ctl, int32_t id)
{
	bool found;
	int i = broker_index(ctl, id, &found);
	struct ctl_broker *b;

	if (!found)
		return;
	b = ctl->brokers[i];
	memmove(&ctl->brokers[i], &ctl->brokers[i + 1],
		(size_t)(ctl->n_brokers - i - 1) * sizeof(ctl->brokers[0]));
	ctl->n_brokers--;
	if (b->chan)
		ctl_channel_retire(ctl, b->chan);
	ctl_broker_free(b);
}

/* ------------------------------------------------------------- topics */

struct ctl_topic *ctl_topic_find(controller_t *ctl, const char *name)
{
	struct ctl_topic *t = strmap_get(&ctl->topics, name);

	return t && !t->removed ? t : NULL;
}

static int copy_part(struct ctl_part *dst, const struct zk_topic_assign *a,
		     int p)
{
	memset(dst, 0, sizeof(*dst));
	dst->leader = -1;
	dst->zk_version = -1;
	if (zkdata_replicas_set(&dst->replicas, a->replicas[p].ids,
				a->replicas[p].n) < 0 ||
	    zkdata_replicas_set(&dst->adding, a->adding[p].ids,
				a->adding[p].n) < 0 ||
	    zkdata_replicas_set(&dst->removing, a->removing[p].ids,
				a->removing[p].n) < 0 ||
	    zkdata_replicas_set(&dst->original, a->original[p].ids,
				a->original[p].n) < 0)
		return ERR_NOMEM;
	return 0;
}

static void free_part(struct ctl_part *p)
{
	free(p->replicas.ids);
	free(p->adding.ids);
	free(p->removing.ids);
	free(p->original.ids);
	free(p->isr.ids);
	free(p->del);
	free(p->dropped.ids);
}

void ctl_topic_free(struct ctl_topic *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n_parts; i++)
		free_part(&t->parts[i]);
	free(t->parts);
	free(t->name);
	free(t->topic_id);
	free(t);
}

struct ctl_topic *ctl_topic_new(const char *name,
				const struct zk_topic_assign *a)
{
	struct ctl_topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->name = strdup(name);
	t->parts = calloc((size_t)a->n_partitions + 1, sizeof(*t->parts));
	if (!t->name || !t->parts)
		goto err;
	if (a->topic_id && !(t->topic_id = strdup(a->topic_id)))
		goto err;
	for (int p = 0; p < a->n_partitions; p++) {
		t->n_parts++;
		if (copy_part(&t->parts[p], a, p) < 0)
			goto err;
	}
	return t;
err:
	ctl_topic_free(t);
	return NULL;
}

int ctl_topic_extend(struct ctl_topic *t, const struct zk_topic_assign *a)
{
	struct ctl_part *parts;

	for (int p = 0; p < t->n_parts && p < a->n_partitions; p++) {
		struct ctl_part *cp = &t->parts[p];

		if (zkdata_replicas_set(&cp->adding, a->adding[p].ids,
					a->adding[p].n) < 0 ||
		    zkdata_replicas_set(&cp->removing, a->removing[p].ids,
					a->removing[p].n) < 0 ||
		    zkdata_replicas_set(&cp->original, a->original[p].ids,
					a->original[p].n) < 0)
			return ERR_NOMEM;
		if (cp->replicas.n != a->replicas[p].n ||
		    memcmp(cp->replicas.ids, a->replicas[p].ids,
			   (size_t)cp->replicas.n * sizeof(int32_t)) != 0) {
			log_warn(CTL_FAC,
				 "the replicas of topic=%s partition=%d "
				 "changed in ZooKeeper; "
				 "using the new assignment",
				 t->name, p);
			if (zkdata_replicas_set(&cp->replicas,
						a->replicas[p].ids,
						a->replicas[p].n) < 0)
				return ERR_NOMEM;
			free(cp->del);
			cp->del = NULL;
		}
	}
	if (a->n_partitions <= t->n_parts)
		return 0;
	parts = realloc(t->parts, (size_t)a->n_partitions * sizeof(*parts));
	if (!parts)
		return ERR_NOMEM;
	t->parts = parts;
	for (int p = t->n_parts; p < a->n_partitions; p++) {
		if (copy_part(&t->parts[p], a, p) < 0) {
			free_part(&t->parts[p]);
			return ERR_NOMEM;
		}
		t->n_parts = p + 1;
	}
	return 0;
}

void ctl_topic_remove(controller_t *ctl, struct ctl_topic *t)
{
	if (t->removed)
		return;
	strmap_del(&ctl->topics, t->name);
	t->removed = true;
	t->grave_next = ctl->grave;
	ctl->grave = t;
}

void ctl_graveyard_flush(controller_t *ctl)
{
	while (ctl->grave) {
		struct ctl_topic *t = ctl->grave;

		ctl->grave = t->grave_next;
		ctl_topic_free(t);
	}
}

void ctl_context_clear(controller_t *ctl)
{
	while (ctl->n_brokers > 0)
		ctl_broker_remove(ctl, ctl->brokers[ctl->n_brokers - 1]->id);
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		t->removed = true;
		t->grave_next = ctl->grave;
		ctl->grave = t;
	}
	strmap_free(&ctl->topics);
	strmap_init(&ctl->topics);
	ctl_batch_clear(&ctl->batch);
	/* Freed after the event: callers may still hold topic pointers. */
}

/* ------------------------------------------------------------- reading */

static bool parse_id(const char *s, int32_t *out)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

int ctl_read_brokers(controller_t *ctl, struct ctl_broker ***out, int *n)
{
	struct String_vector kids;
	struct zk_read *reads = NULL;
	char(*paths)[48] = NULL;
	struct ctl_broker **v = NULL;
	int rc, k = 0, ret = 0;

	*out = NULL;
	*n = 0;
	rc = zk_children(ctl->zs, ZK_PATH_BROKER_IDS, ctl->w_brokers, &kids);
	if (rc == ZNONODE) {
		/* Set the watch on the path, then report no broker. */
		zk_exists(ctl->zs, ZK_PATH_BROKER_IDS, ctl->w_brokers, NULL);
		return 0;
	}
	if (rc != ZOK) {
		log_warn(CTL_FAC, "cannot list %s: %s", ZK_PATH_BROKER_IDS,
			 zerror(rc));
		return ERR_ZK;
	}
	reads = calloc((size_t)kids.count + 1, sizeof(*reads));
	paths = calloc((size_t)kids.count + 1, sizeof(*paths));
	v = calloc((size_t)kids.count + 1, sizeof(*v));
	if (!reads || !paths || !v) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < kids.count; i++) {
		snprintf(paths[i], sizeof(paths[i]),
			 ZK_PATH_BROKER_IDS "/%.30s", kids.data[i]);
		reads[i].path = paths[i];
	}
	rc = zk_get_many(ctl->zs, reads, kids.count, ctl->w_broker_data);
	if (rc != ZOK) {
		ret = ERR_ZK;
		goto out;
	}
	for (int i = 0; i < kids.count; i++) {
		struct ctl_broker *b;
		char why[256];
		int32_t id;

		if (reads[i].rc == ZNONODE)
			continue;
		if (reads[i].rc != ZOK) {
			log_warn(CTL_FAC, "cannot read %s: %s", paths[i],
				 zerror(reads[i].rc));
			ret = ERR_ZK;
			goto out;
		}
		if (!parse_id(kids.data[i], &id)) {
			log_warn(CTL_FAC, "ignoring %s: not a broker id",
				 paths[i]);
			continue;
		}
		b = calloc(1, sizeof(*b));
		if (!b) {
			ret = ERR_NOMEM;
			goto out;
		}
		if (zkdata_broker_decode(reads[i].data, (size_t)reads[i].len,
					 &b->info, why, sizeof(why)) < 0) {
			log_warn(CTL_FAC, "ignoring broker %" PRId32 ": %s", id,
				 why);
			free(b);
			continue;
		}
		b->id = id;
		b->info.id = id;
		b->epoch = reads[i].stat.czxid;
		b->info.epoch = b->epoch;
		b->ep = zkdata_broker_endpoint(&b->info, ctl->listener);
		if (!b->ep)
			log_error(CTL_FAC,
				  "broker %" PRId32
				  " has no endpoint for listener %s "
				  "(inter.broker.listener.name); "
				  "the controller cannot reach it",
				  id, ctl->listener);
		v[k++] = b;
	}
	*out = v;
	*n = k;
	v = NULL;
out:
	if (v) {
		for (int i = 0; i < k; i++)
			ctl_broker_free(v[i]);
		free(v);
	}
	if (reads)
		zk_reads_free(reads, kids.count);
	free(reads);
	free(paths);
	deallocate_String_vector(&kids);
	return ret;
}

int ctl_read_topics(controller_t *ctl, char **names, int n,
		    struct ctl_topic **out)
{
	struct zk_read *reads = calloc((size_t)n + 1, sizeof(*reads));
	char(*paths)[ZKPATH_MAX] = calloc((size_t)n + 1, sizeof(*paths));
	int rc, ret = 0;

	if (!reads || !paths) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		out[i] = NULL;
		zkpath_topic(paths[i], ZKPATH_MAX, names[i]);
		reads[i].path = paths[i];
	}
	rc = zk_get_many(ctl->zs, reads, n, ctl->w_topic_data);
	if (rc != ZOK) {
		ret = ERR_ZK;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct zk_topic_assign a;
		char why[256];

		if (reads[i].rc == ZNONODE)
			continue;
		if (reads[i].rc != ZOK) {
			log_warn(CTL_FAC, "cannot read %s: %s", paths[i],
				 zerror(reads[i].rc));
			ret = ERR_ZK;
			goto out;
		}
		if (zkdata_topic_decode(reads[i].data, (size_t)reads[i].len, &a,
					why, sizeof(why)) < 0) {
			log_error(CTL_FAC, "ignoring topic %s: %s", names[i],
				  why);
			continue;
		}
		out[i] = ctl_topic_new(names[i], &a);
		zkdata_topic_free(&a);
		if (!out[i]) {
			ret = ERR_NOMEM;
			goto out;
		}
	}
out:
	if (ret < 0)
		for (int i = 0; i < n; i++) {
			ctl_topic_free(out[i]);
			out[i] = NULL;
		}
	if (reads)
		zk_reads_free(reads, n);
	free(reads);
	free(paths);
	return ret;
}

int ctl_read_states(controller_t *ctl, struct ctl_tpref *tps, int n)
{
	struct zk_read *reads = calloc((size_t)n + 1, sizeof(*reads));
	char *paths = malloc(((size_t)n + 1) * ZKPATH_MAX / 4);
	size_t off = 0;
	int rc, ret = 0;

	if (!reads || !paths) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char tmp[ZKPATH_MAX];
		int len = zkpath_partition_state(tmp, sizeof(tmp),
						 tps[i].t->name, tps[i].p);

		/* Topic names are short; fall back to the heap otherwise. */
		if (len < 0 || (size_t)len + 1 > ZKPATH_MAX / 4) {
			reads[i].path = strdup(tmp);
			if (!reads[i].path) {
				ret = ERR_NOMEM;
				goto out;
			}
			continue;
		}
		memcpy(paths + off, tmp, (size_t)len + 1);
		reads[i].path = paths + off;
		off += (size_t)len + 1;
	}
	rc = zk_get_many(ctl->zs, reads, n, NULL);
	if (rc != ZOK) {
		ret = ERR_ZK;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct ctl_part *cp = &tps[i].t->parts[tps[i].p];
		struct zk_partition_state s;
		char why[256];

		if (reads[i].rc == ZNONODE) {
			cp->has_state = false;
			cp->leader = -1;
			continue;
		}
		if (reads[i].rc != ZOK) {
			ret = ERR_ZK;
			goto out;
		}
		if (zkdata_state_decode(reads[i].data, (size_t)reads[i].len, &s,
					why, sizeof(why)) < 0) {
			/* Treat like a partition without a leader. */
			log_error(CTL_FAC, "topic=%s partition=%" PRId32 ": %s",
				  tps[i].t->name, tps[i].p, why);
			cp->has_state = true;
			cp->leader = -1;
			cp->zk_version = reads[i].stat.version;
			continue;
		}
		free(cp->isr.ids);
		cp->isr.ids = s.isr;
		cp->isr.n = s.n_isr;
		cp->leader = s.leader;
		cp->leader_epoch = s.leader_epoch;
		cp->controller_epoch = s.controller_epoch;
		cp->zk_version = reads[i].stat.version;
		cp->has_state = true;
	}
out:
	if (reads) {
		for (int i = 0; i < n; i++)
			if (reads[i].path && (reads[i].path < paths ||
					      reads[i].path >= paths + off))
				free((char *)reads[i].path);
		zk_reads_free(reads, n);
	}
	free(reads);
	free(paths);
	return ret;
}

int ctl_load_context(controller_t *ctl)
{
	struct String_vector kids = {0, NULL};
	struct ctl_broker **brokers = NULL;
	struct ctl_topic **topics = NULL;
	struct ctl_tpref *tps = NULL;
	int n_brokers = 0, n_tps = 0, rc, ret;
	int64_t t0 = clock_mono_ms();

	ret = ctl_read_brokers(ctl, &brokers, &n_brokers);
	if (ret < 0)
		return ret;
	for (int i = 0; i < n_brokers; i++)
		if (ctl_broker_add(ctl, brokers[i]) < 0)
			ctl_broker_free(brokers[i]);
	free(brokers);

	rc = zk_children(ctl->zs, ZK_PATH_BROKER_TOPICS, ctl->w_topics, &kids);
	if (rc == ZNONODE) {
		zk_exists(ctl->zs, ZK_PATH_BROKER_TOPICS, ctl->w_topics, NULL);
		kids.count = 0;
	} else if (rc != ZOK) {
		log_warn(CTL_FAC, "cannot list %s: %s", ZK_PATH_BROKER_TOPICS,
			 zerror(rc));
		return ERR_ZK;
	}
	topics = calloc((size_t)kids.count + 1, sizeof(*topics));
	if (!topics) {
		ret = ERR_NOMEM;
		goto out;
	}
	ret = ctl_read_topics(ctl, kids.data, kids.count, topics);
	if (ret < 0)
		goto out;
	for (int i = 0; i < kids.count; i++) {
		if (!topics[i])
			continue;
		if (strmap_put(&ctl->topics, topics[i]->name, topics[i]) < 0) {
			ctl_topic_free(topics[i]);
			ret = ERR_NOMEM;
			goto out;
		}
		n_tps += topics[i]->n_parts;
	}
	tps = calloc((size_t)n_tps + 1, sizeof(*tps));
	if (!tps) {
		ret = ERR_NOMEM;
		goto out;
	}
	n_tps = 0;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++) {
			tps[n_tps].t = t;
			tps[n_tps].p = p;
			n_tps++;
		}
	}
	ret = ctl_read_states(ctl, tps, n_tps);
	if (ret == 0)
		log_info(CTL_FAC,
			 "read %d brokers, %zu topics and %d partition states "
			 "in %" PRId64 " ms",
			 ctl->n_brokers, ctl->topics.n, n_tps,
			 clock_mono_ms() - t0);
out:
	free(tps);
	free(topics);
	if (kids.data)
		deallocate_String_vector(&kids);
	return ret;
}
