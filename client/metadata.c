/*
 * metadata.c - the client's metadata cache.
 *
 * Updates build each new topic entry completely before swapping it in, so
 * a failed allocation leaves the old entry in place rather than a half
 * copy. Everything read from the response is copied: the response head is
 * freed by the caller right after the update.
 */
#include "config.h"
#include "metadata.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void md_cache_init(struct md_cache *md)
{
	memset(md, 0, sizeof(*md));
	md->controller_id = -1;
}

static void partition_free(struct md_partition *p)
{
	free(p->replicas);
	free(p->isr);
	free(p->offline);
}

static void topic_free(struct md_topic *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->part_cnt; i++)
		partition_free(&t->parts[i]);
	free(t->parts);
	free(t->name);
	free(t->errstr);
	free(t);
}

static void brokers_free(struct md_broker *b, int cnt)
{
	for (int i = 0; i < cnt; i++) {
		free(b[i].host);
		free(b[i].rack);
	}
	free(b);
}

void md_cache_clear(struct md_cache *md)
{
	for (int i = 0; i < md->topic_cnt; i++)
		topic_free(md->topics[i]);
	free(md->topics);
	brokers_free(md->brokers, md->broker_cnt);
	free(md->cluster_id);
	md_cache_init(md);
}

static int32_t *dup_ids(const int32_t *src, size_t n, int *cnt)
{
	int32_t *d;

	*cnt = 0;
	if (n == 0)
		return NULL;
	d = malloc(n * sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d, src, n * sizeof(*d));
	*cnt = (int)n;
	return d;
}

static int cmp_part(const void *a, const void *b)
{
	const struct md_partition *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int cmp_broker(const void *a, const void *b)
{
	const struct md_broker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static struct md_topic *topic_build(const Fluxo__TopicMetadata *tm, int *rc)
{
	struct md_topic *t;

	*rc = ERR_NOMEM;
	if (tm->n_partitions > 1000000) {
		*rc = ERR_PROTO;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strdup(tm->name);
	if (!t->name)
		goto err_free;
	t->err = tm->error;
	if (tm->error_message && *tm->error_message) {
		t->errstr = strdup(tm->error_message);
		if (!t->errstr)
			goto err_free;
	}
	t->is_internal = tm->is_internal;
	if (tm->n_partitions > 0) {
		t->parts = calloc(tm->n_partitions, sizeof(*t->parts));
		if (!t->parts)
			goto err_free;
	}
	for (size_t i = 0; i < tm->n_partitions; i++) {
		const Fluxo__PartitionMetadata *pm = tm->partitions[i];
		struct md_partition *p = &t->parts[i];

		t->part_cnt++;
		if (pm->partition < 0) {
			*rc = ERR_PROTO;
			goto err_free;
		}
		p->id = pm->partition;
		p->err = pm->error;
		p->leader = pm->leader;
		p->leader_epoch = pm->leader_epoch;
		p->replicas =
		    dup_ids(pm->replicas, pm->n_replicas, &p->replica_cnt);
		p->isr = dup_ids(pm->isr, pm->n_isr, &p->isr_cnt);
		p->offline = dup_ids(pm->offline_replicas,
				     pm->n_offline_replicas, &p->offline_cnt);
		if ((pm->n_replicas && !p->replicas) ||
		    (pm->n_isr && !p->isr) ||
		    (pm->n_offline_replicas && !p->offline))
			goto err_free;
	}
	if (t->part_cnt > 1)
		qsort(t->parts, (size_t)t->part_cnt, sizeof(*t->parts),
		      cmp_part);
	for (int i = 1; i < t->part_cnt; i++) {
		if (t->parts[i].id == t->parts[i - 1].id) {
			*rc = ERR_PROTO;
			goto err_free;
		}
	}
	*rc = 0;
	return t;

err_free:
	topic_free(t);
	return NULL;
}

/* Index of name in md->topics, or -(insertion point) - 1. */
static int topic_index(const struct md_cache *md, const char *name)
{
	int lo = 0, hi = md->topic_cnt - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(md->topics[mid]->name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static int topic_put(struct md_cache *md, struct md_topic *t)
{
	int idx = topic_index(md, t->name);
	struct md_topic **grown;

	if (idx >= 0) {
		topic_free(md->topics[idx]);
		md->topics[idx] = t;
		return 0;
	}
	idx = -idx - 1;
	grown = realloc(md->topics,
			(size_t)(md->topic_cnt + 1) * sizeof(*md->topics));
	if (!grown)
		return ERR_NOMEM;
	md->topics = grown;
	memmove(&md->topics[idx + 1], &md->topics[idx],
		(size_t)(md->topic_cnt - idx) * sizeof(*md->topics));
	md->topics[idx] = t;
	md->topic_cnt++;
	return 0;
}

void md_cache_forget(struct md_cache *md, const char *topic)
{
	int idx = topic_index(md, topic);

	if (idx < 0)
		return;
	topic_free(md->topics[idx]);
	memmove(&md->topics[idx], &md->topics[idx + 1],
		(size_t)(md->topic_cnt - idx - 1) * sizeof(*md->topics));
	md->topic_cnt--;
}

static int brokers_replace(struct md_cache *md,
			   const Fluxo__MetadataResponse *r)
{
	struct md_broker *b = NULL;
	size_t n = r->n_brokers;

	if (n > 100000)
		return ERR_PROTO;
	if (n > 0) {
		b = calloc(n, sizeof(*b));
		if (!b)
			return ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const Fluxo__BrokerEndpoint *e = r->brokers[i];

		b[i].id = e->node_id;
		b[i].port = e->port;
		b[i].host = strdup(e->host ? e->host : "");
		if (e->rack && *e->rack)
			b[i].rack = strdup(e->rack);
		if (!b[i].host || (e->rack && *e->rack && !b[i].rack)) {
			brokers_free(b, (int)n);
			return ERR_NOMEM;
		}
	}
	if (n > 1)
		qsort(b, n, sizeof(*b), cmp_broker);
	brokers_free(md->brokers, md->broker_cnt);
	md->brokers = b;
	md->broker_cnt = (int)n;
	return 0;
}

int md_cache_update(struct md_cache *md, const Fluxo__MetadataResponse *r,
		    bool all_topics)
{
	char *cid = NULL;
	int rc;

	if (r->cluster_id && *r->cluster_id) {
		cid = strdup(r->cluster_id);
		if (!cid)
			return ERR_NOMEM;
	}
	rc = brokers_replace(md, r);
	if (rc < 0) {
		free(cid);
		return rc;
	}
	free(md->cluster_id);
	md->cluster_id = cid;
	md->controller_id = r->controller_id;
	if (all_topics) {
		/* Drop entries the response no longer lists. */
		for (int i = md->topic_cnt - 1; i >= 0; i--) {
			bool listed = false;

			for (size_t j = 0; j < r->n_topics && !listed; j++)
				listed = strcmp(r->topics[j]->name,
						md->topics[i]->name) == 0;
			if (!listed)
				md_cache_forget(md, md->topics[i]->name);
		}
	}
	for (size_t i = 0; i < r->n_topics; i++) {
		struct md_topic *t = topic_build(r->topics[i], &rc);

		if (!t)
			break;
		rc = topic_put(md, t);
		if (rc < 0) {
			topic_free(t);
			break;
		}
	}
	md->version++;
	return rc;
}

const struct md_topic *md_topic_find(const struct md_cache *md,
				     const char *name)
{
	int idx = topic_index(md, name);

	return idx >= 0 ? md->topics[idx] : NULL;
}

const struct md_partition *md_partition_find(const struct md_topic *t,
					     int32_t partition)
{
	int lo = 0, hi;

	if (!t || partition < 0)
		return NULL;
	if (partition < t->part_cnt && t->parts[partition].id == partition)
		return &t->parts[partition];
	hi = t->part_cnt - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (t->parts[mid].id == partition)
			return &t->parts[mid];
		if (t->parts[mid].id < partition)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

const struct md_broker *md_broker_find(const struct md_cache *md, int32_t id)
{
	struct md_broker key = {.id = id};

	if (md->broker_cnt == 0)
		return NULL;
	return bsearch(&key, md->brokers, (size_t)md->broker_cnt,
		       sizeof(*md->brokers), cmp_broker);
}

int32_t md_leader(const struct md_cache *md, const char *topic,
		  int32_t partition, int32_t *epoch)
{
	const struct md_topic *t = md_topic_find(md, topic);
	const struct md_partition *p = md_partition_find(t, partition);

	if (epoch)
		*epoch = p ? p->leader_epoch : -1;
	if (!p || p->leader < 0)
		return -1;
	return p->leader;
}
