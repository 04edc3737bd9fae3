/*
 * metadata_cache.c - immutable, reference-counted snapshots of cluster
 * metadata.
 *
 * Invariants: a published snapshot is never modified; topics are shared
 * between snapshots and freed with their last reference; topics are kept
 * sorted by name so lookups are a binary search; a partition array is
 * indexed by partition id (ids are dense, 0..n-1, as in Kafka).
 *
 * An update builds the next snapshot from the current one: unchanged
 * topics are shared (reference +1), a changed topic is copied with the
 * new partition states merged in. With 10,000 partitions a full update
 * costs a few milliseconds on the control thread and nothing on readers.
 */
#include "config.h"
#include "metadata_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

struct md_cache {
	pthread_mutex_t lock;
	struct md_snapshot *cur;
	int32_t max_controller_epoch;
};

static void topic_unref(struct md_topic *t)
{
	if (!t || atomic_fetch_sub((atomic_int *)&t->refs, 1) != 1)
		return;
	for (int i = 0; i < t->n_parts; i++) {
		free(t->parts[i].replicas);
		free(t->parts[i].isr);
		free(t->parts[i].offline);
	}
	free(t->parts);
	free(t->name);
	free(t);
}

static void snapshot_free(struct md_snapshot *s)
{
	for (int i = 0; i < s->n_brokers; i++) {
		free(s->brokers[i].host);
		free(s->brokers[i].rack);
	}
	free(s->brokers);
	for (int i = 0; i < s->n_topics; i++)
		topic_unref(s->topics[i]);
	free(s->topics);
	free(s);
}

void md_snapshot_release(struct md_snapshot *s)
{
	if (s && atomic_fetch_sub((atomic_int *)&s->refs, 1) == 1)
		snapshot_free(s);
}

struct md_cache *md_cache_new(void)
{
	struct md_cache *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->cur = calloc(1, sizeof(*mc->cur));
	if (!mc->cur) {
		free(mc);
		return NULL;
	}
	mc->cur->refs = 1;
	mc->cur->controller_id = -1;
	mc->max_controller_epoch = -1;
	pthread_mutex_init(&mc->lock, NULL);
	return mc;
}

void md_cache_destroy(struct md_cache *mc)
{
	if (!mc)
		return;
	md_snapshot_release(mc->cur);
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

struct md_snapshot *md_cache_acquire(struct md_cache *mc)
{
	struct md_snapshot *s;

	pthread_mutex_lock(&mc->lock);
	s = mc->cur;
	atomic_fetch_add((atomic_int *)&s->refs, 1);
	pthread_mutex_unlock(&mc->lock);
	return s;
}

int32_t md_cache_controller_epoch(struct md_cache *mc)
{
	int32_t e;

	pthread_mutex_lock(&mc->lock);
	e = mc->max_controller_epoch;
	pthread_mutex_unlock(&mc->lock);
	return e;
}

static int topic_cmp(const void *a, const void *b)
{
	const struct md_topic *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int find_topic_idx(const struct md_snapshot *s, const char *name)
{
	int lo = 0, hi = s->n_topics - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(s->topics[mid]->name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

const struct md_topic *md_find_topic(const struct md_snapshot *s,
				     const char *name)
{
	int i = find_topic_idx(s, name);

	return i < 0 ? NULL : s->topics[i];
}

const struct md_partition *md_find_partition(const struct md_snapshot *s,
					     const char *topic,
					     int32_t partition)
{
	const struct md_topic *t = md_find_topic(s, topic);

	if (!t || partition < 0 || partition >= t->n_parts)
		return NULL;
	return &t->parts[partition];
}

const struct md_broker *md_find_broker(const struct md_snapshot *s,
				       int32_t id)
{
	int lo = 0, hi = s->n_brokers - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (s->brokers[mid].id == id)
			return &s->brokers[mid];
		if (s->brokers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

bool md_topic_ready(const struct md_snapshot *s, const char *topic,
		    int expected_partitions)
{
	const struct md_topic *t = md_find_topic(s, topic);

	if (!t || t->deleting || t->n_parts < expected_partitions)
		return false;
	for (int i = 0; i < t->n_parts; i++)
		if (t->parts[i].leader < 0)
			return false;
	return true;
}

static int32_t *dup_ids(const int32_t *ids, size_t n)
{
	int32_t *p;

	if (n == 0)
		return NULL;
	p = malloc(n * sizeof(*p));
	if (p)
		memcpy(p, ids, n * sizeof(*p));
	return p;
}

/* Copies partition state pst into part (freeing what part held). */
static int set_partition(struct md_partition *part,
			 const Fluxo__UpdateMetadataPartitionState *pst)
{
	int32_t *rep = dup_ids(pst->replicas, pst->n_replicas);
	int32_t *isr = dup_ids(pst->isr, pst->n_isr);
	int32_t *off = dup_ids(pst->offline_replicas, pst->n_offline_replicas);

	if ((pst->n_replicas && !rep) || (pst->n_isr && !isr) ||
	    (pst->n_offline_replicas && !off)) {
		free(rep);
		free(isr);
		free(off);
		return ERR_NOMEM;
	}
	free(part->replicas);
	free(part->isr);
	free(part->offline);
	part->id = pst->partition;
	part->leader = pst->leader;
	part->leader_epoch = pst->leader_epoch;
	part->partition_epoch = pst->partition_epoch;
	part->replicas = rep;
	part->n_replicas = (int)pst->n_replicas;
	part->isr = isr;
	part->n_isr = (int)pst->n_isr;
	part->offline = off;
	part->n_offline = (int)pst->n_offline_replicas;
	return 0;
}

/* A private copy of t (or a new topic named name when t is NULL) with room
 * for at least n_parts partitions. */
static struct md_topic *topic_clone(const struct md_topic *t,
				    const char *name, int n_parts)
{
	struct md_topic *c = calloc(1, sizeof(*c));
	int have = t ? t->n_parts : 0;
	int n = n_parts > have ? n_parts : have;

	if (!c)
		return NULL;
	c->refs = 1;
	c->name = strdup(t ? t->name : name);
	c->parts = calloc((size_t)(n ? n : 1), sizeof(*c->parts));
	if (!c->name || !c->parts)
		goto err;
	c->n_parts = n;
	for (int i = 0; i < n; i++) {
		c->parts[i].id = i;
		c->parts[i].leader = -1;
	}
	for (int i = 0; i < have; i++) {
		const struct md_partition *src = &t->parts[i];
		struct md_partition *dst = &c->parts[i];

		*dst = *src;
		dst->replicas = dup_ids(src->replicas, (size_t)src->n_replicas);
		dst->isr = dup_ids(src->isr, (size_t)src->n_isr);
		dst->offline = dup_ids(src->offline, (size_t)src->n_offline);
	}
	c->deleting = t ? t->deleting : false;
	return c;
err:
	free(c->name);
	free(c->parts);
	free(c);
	return NULL;
}

/* Work area while building the next snapshot. */
struct builder {
	struct md_topic **topics;
	int n, cap;
	bool *owned;		/* topics[i] is a private copy */
};

static int builder_find(const struct builder *bd, const char *name)
{
	int lo = 0, hi = bd->n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(bd->topics[mid]->name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -(lo + 1);
}

static int builder_insert(struct builder *bd, int at, struct md_topic *t)
{
	if (bd->n == bd->cap) {
		int cap = bd->cap ? bd->cap * 2 : 64;
		struct md_topic **nt = realloc(bd->topics, (size_t)cap *
							 sizeof(*nt));
		bool *no;

		if (!nt)
			return ERR_NOMEM;
		bd->topics = nt;
		no = realloc(bd->owned, (size_t)cap * sizeof(*no));
		if (!no)
			return ERR_NOMEM;
		bd->owned = no;
		bd->cap = cap;
	}
	memmove(bd->topics + at + 1, bd->topics + at,
		(size_t)(bd->n - at) * sizeof(*bd->topics));
	memmove(bd->owned + at + 1, bd->owned + at,
		(size_t)(bd->n - at) * sizeof(*bd->owned));
	bd->topics[at] = t;
	bd->owned[at] = true;
	bd->n++;
	return 0;
}

/* Returns a private (writable) topic for name with >= n_parts slots. */
static struct md_topic *builder_writable(struct builder *bd, const char *name,
					 int n_parts)
{
	int i = builder_find(bd, name);
	struct md_topic *t;

	if (i >= 0) {
		if (bd->owned[i] && bd->topics[i]->n_parts >= n_parts)
			return bd->topics[i];
		t = topic_clone(bd->topics[i], NULL, n_parts);
		if (!t)
			return NULL;
		topic_unref(bd->topics[i]);
		bd->topics[i] = t;
		bd->owned[i] = true;
		return t;
	}
	t = topic_clone(NULL, name, n_parts);
	if (!t)
		return NULL;
	if (builder_insert(bd, -i - 1, t) < 0) {
		topic_unref(t);
		return NULL;
	}
	return t;
}

static void builder_remove(struct builder *bd, const char *name)
{
	int i = builder_find(bd, name);

	if (i < 0)
		return;
	topic_unref(bd->topics[i]);
	memmove(bd->topics + i, bd->topics + i + 1,
		(size_t)(bd->n - i - 1) * sizeof(*bd->topics));
	memmove(bd->owned + i, bd->owned + i + 1,
		(size_t)(bd->n - i - 1) * sizeof(*bd->owned));
	bd->n--;
}

static int broker_cmp(const void *a, const void *b)
{
	const struct md_broker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int md_cache_update(struct md_cache *mc, const Fluxo__UpdateMetadataRequest *req)
{
	struct md_snapshot *old, *s = NULL;
	struct builder bd = { 0 };
	int rc = ERR_NOMEM;

	pthread_mutex_lock(&mc->lock);
	if (req->controller_epoch < mc->max_controller_epoch) {
		pthread_mutex_unlock(&mc->lock);
		return ERR_FENCED;
	}
	old = mc->cur;
	atomic_fetch_add((atomic_int *)&old->refs, 1);
	pthread_mutex_unlock(&mc->lock);

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->refs = 1;
	s->controller_id = req->controller_id;
	s->controller_epoch = req->controller_epoch;

	/* Brokers: always the full live list. */
	s->brokers = calloc(req->n_live_brokers ? req->n_live_brokers : 1,
			    sizeof(*s->brokers));
	if (!s->brokers)
		goto out;
	for (size_t i = 0; i < req->n_live_brokers; i++) {
		const Fluxo__BrokerEndpoint *ep = req->live_brokers[i];
		struct md_broker *mb = &s->brokers[s->n_brokers++];

		mb->id = ep->node_id;
		mb->port = ep->port;
		mb->host = strdup(ep->host ? ep->host : "");
		mb->rack = ep->rack && *ep->rack ? strdup(ep->rack) : NULL;
		if (!mb->host)
			goto out;
	}
	qsort(s->brokers, (size_t)s->n_brokers, sizeof(*s->brokers),
	      broker_cmp);

	/* Topics: start from the old snapshot unless this is a full one. */
	if (!req->full) {
		bd.cap = old->n_topics + 16;
		bd.topics = malloc((size_t)bd.cap * sizeof(*bd.topics));
		bd.owned = malloc((size_t)bd.cap * sizeof(*bd.owned));
		if (!bd.topics || !bd.owned)
			goto out;
		for (int i = 0; i < old->n_topics; i++) {
			bd.topics[i] = old->topics[i];
			atomic_fetch_add((atomic_int *)&old->topics[i]->refs, 1);
			bd.owned[i] = false;
		}
		bd.n = old->n_topics;
	}
	for (size_t i = 0; i < req->n_deleted_topics; i++)
		builder_remove(&bd, req->deleted_topics[i]);
	for (size_t i = 0; i < req->n_partitions; i++) {
		const Fluxo__UpdateMetadataPartitionState *pst =
			req->partitions[i];
		struct md_topic *t;

		if (pst->partition < 0 || pst->partition > 1000000)
			continue;
		t = builder_writable(&bd, pst->topic, pst->partition + 1);
		if (!t)
			goto out;
		if (pst->leader == -2) {
			/* Topic queued for deletion (Kafka's
			 * LeaderDuringDelete). */
			t->deleting = true;
			t->parts[pst->partition].leader = -1;
			continue;
		}
		if (set_partition(&t->parts[pst->partition], pst) < 0)
			goto out;
	}
	/* A topic with a hole (partition never described) keeps leader -1
	 * there; clients see LEADER_NOT_AVAILABLE for it. */
	s->topics = bd.topics;
	s->n_topics = bd.n;
	bd.topics = NULL;
	bd.n = 0;
	if (s->n_topics > 1 && req->full)
		qsort(s->topics, (size_t)s->n_topics, sizeof(*s->topics),
		      topic_cmp);

	pthread_mutex_lock(&mc->lock);
	if (req->controller_epoch < mc->max_controller_epoch) {
		pthread_mutex_unlock(&mc->lock);
		rc = ERR_FENCED;
		goto out;
	}
	mc->max_controller_epoch = req->controller_epoch;
	old = mc->cur;	/* the reference taken above stays ours */
	mc->cur = s;
	s = NULL;
	pthread_mutex_unlock(&mc->lock);
	md_snapshot_release(old);	/* the cache's reference */
	rc = 0;
out:
	for (int i = 0; i < bd.n; i++)
		topic_unref(bd.topics[i]);
	free(bd.topics);
	free(bd.owned);
	if (s)
		snapshot_free(s);
	md_snapshot_release(old);
	return rc;
}
