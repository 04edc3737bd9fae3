/*
 * metadata.h - the client's cache of cluster metadata: brokers (id ->
 * host:port) and topics (name -> partitions -> leader, epoch, replicas).
 *
 * The cache is a plain data structure filled from MetadataResponse heads;
 * it knows nothing about connections or threads. The client core keeps one
 * per handle, guarded by its md_lock (see client_int.h), updates it on the
 * I/O thread and lets other threads read it under that lock.
 *
 * Topics are kept sorted by name (binary search) and partitions sorted by
 * id; a topic's partitions are normally 0..n-1, so lookups index directly.
 * A topic the brokers reported with an error (UNKNOWN_TOPIC_OR_PARTITION,
 * LEADER_NOT_AVAILABLE while being created) is kept with its error and the
 * broker's message, so that waiters can explain why it is missing.
 */
#ifndef FLUXO_CLIENT_METADATA_H
#define FLUXO_CLIENT_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "fluxo.pb-c.h"

struct md_partition {
	int32_t id;
	int err;	/* wire error code, 0 when fine */
	int32_t leader; /* -1: none */
	int32_t leader_epoch;
	int32_t *replicas;
	int replica_cnt;
	int32_t *isr;
	int isr_cnt;
	int32_t *offline;
	int offline_cnt;
};

struct md_topic {
	char *name;
	int err;      /* topic-level wire error, 0 when fine */
	char *errstr; /* broker's message, NULL if none */
	bool is_internal;
	struct md_partition *parts; /* sorted by id */
	int part_cnt;
};

struct md_broker {
	int32_t id;
	char *host;
	int port;
	char *rack; /* NULL: none */
};

struct md_cache {
	char *cluster_id;
	int32_t controller_id;
	struct md_broker *brokers; /* sorted by id */
	int broker_cnt;
	struct md_topic **topics; /* sorted by name */
	int topic_cnt;
	uint64_t version; /* bumped by every update */
};

void md_cache_init(struct md_cache *md);
void md_cache_clear(struct md_cache *md);

/*
 * Merges a MetadataResponse into the cache: the broker list and cluster
 * fields are replaced; every topic in the response replaces its entry (or
 * is inserted); when all_topics is true, topics missing from the response
 * are dropped. Input is untrusted: negative partition ids and duplicate
 * entries are refused. Returns 0, ERR_NOMEM (cache unchanged for the
 * failing topic) or ERR_PROTO.
 */
int md_cache_update(struct md_cache *md, const Fluxo__MetadataResponse *r,
		    bool all_topics);

/* Removes one topic entry (no-op when absent). */
void md_cache_forget(struct md_cache *md, const char *topic);

/* Looks up a topic; NULL when the cache has no entry. */
const struct md_topic *md_topic_find(const struct md_cache *md,
				     const char *name);

/* Looks up a partition of a topic entry; NULL when out of range. */
const struct md_partition *md_partition_find(const struct md_topic *t,
					     int32_t partition);

/* Looks up a broker; NULL when unknown. */
const struct md_broker *md_broker_find(const struct md_cache *md, int32_t id);

/*
 * Leader of topic/partition: returns the broker id (>= 0), or -1 when the
 * topic or partition is unknown or has no leader. *epoch (when not NULL)
 * receives the leader epoch or -1.
 */
int32_t md_leader(const struct md_cache *md, const char *topic,
		  int32_t partition, int32_t *epoch);

#endif
