/*
 * metadata_cache.h - the broker's view of the cluster, as pushed by the
 * controller in UpdateMetadata requests.
 *
 * Readers (Metadata, Produce and Fetch handlers on any worker) take a
 * reference to an immutable snapshot and read it without locks; the
 * control thread builds a new snapshot per UpdateMetadata (copying
 * pointers to unchanged topics, which are shared and reference counted)
 * and publishes it by swapping one pointer under a mutex.
 */
#ifndef FLUXO_BROKER_METADATA_CACHE_H
#define FLUXO_BROKER_METADATA_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "fluxo.pb-c.h"

struct md_broker {
	int32_t id;
	char *host;
	int32_t port;
	char *rack;		/* NULL: none */
};

struct md_partition {
	int32_t id;
	int32_t leader;		/* -1: offline */
	int32_t leader_epoch;
	int32_t partition_epoch;
	int32_t *replicas;
	int n_replicas;
	int32_t *isr;
	int n_isr;
	int32_t *offline;
	int n_offline;
};

struct md_topic {
	char *name;
	int refs;		/* atomic */
	bool deleting;
	struct md_partition *parts;	/* indexed by partition id */
	int n_parts;
};

struct md_snapshot {
	int refs;		/* atomic */
	int32_t controller_id;
	int32_t controller_epoch;
	struct md_broker *brokers;	/* sorted by id */
	int n_brokers;
	struct md_topic **topics;	/* sorted by name */
	int n_topics;
};

struct md_cache;

struct md_cache *md_cache_new(void);
void md_cache_destroy(struct md_cache *mc);

/* A reference to the current snapshot; never NULL. Release with
 * md_snapshot_release. Any thread. */
struct md_snapshot *md_cache_acquire(struct md_cache *mc);
void md_snapshot_release(struct md_snapshot *s);

/*
 * Applies an UpdateMetadata request: a full one replaces the cache,
 * otherwise its partitions are upserted, deleted_topics removed and the
 * live broker list replaced. Requests from an older controller epoch are
 * refused with ERR_FENCED. Returns 0, ERR_FENCED or ERR_NOMEM.
 * One thread at a time (the control thread).
 */
int md_cache_update(struct md_cache *mc, const Fluxo__UpdateMetadataRequest *req);

/* Lookups in a snapshot (NULL when absent). */
const struct md_topic *md_find_topic(const struct md_snapshot *s,
				     const char *name);
const struct md_partition *md_find_partition(const struct md_snapshot *s,
					     const char *topic,
					     int32_t partition);
const struct md_broker *md_find_broker(const struct md_snapshot *s,
				       int32_t id);

/* True when every partition of topic has a leader (CreateTopics waits). */
bool md_topic_ready(const struct md_snapshot *s, const char *topic,
		    int expected_partitions);

/* The highest controller epoch seen (for fencing control requests). */
int32_t md_cache_controller_epoch(struct md_cache *mc);

#endif
