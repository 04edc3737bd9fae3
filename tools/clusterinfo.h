/*
 * clusterinfo.h - fluxo-cluster-info's view of the cluster, computed from
 * one Metadata answer: brokers, the controller and its epoch, topic and
 * partition counts, under-replicated and offline partitions; printed for
 * people or as one JSON object for scripts (the failover drills).
 *
 * Definitions (the metadata's, as every broker reports it):
 *   offline          no leader, or a leader that is not a live broker;
 *   under-replicated has a live leader and fewer in-sync replicas than
 *                    replicas.
 *
 * Threads: none.
 */
#ifndef FLUXO_CLUSTERINFO_H
#define FLUXO_CLUSTERINFO_H

#include <stdio.h>

#include "adminjson.h"
#include "client/fluxo.h"

struct cluster_summary {
	int topic_cnt;
	int partition_cnt;
	struct tp_list under_replicated; /* sorted */
	struct tp_list offline;		 /* sorted */
};

/* Fills s from md. Returns 0 or ERR_NOMEM (s is then empty). */
int cluster_summarize(const fluxo_metadata_t *md, struct cluster_summary *s);
void cluster_summary_free(struct cluster_summary *s);

/*
 * The human-readable report:
 *   Cluster ID: <id>
 *   Controller: 1 (epoch 3)                    ("none" without one)
 *   Brokers: 3
 *     1	127.0.0.1:9092	rack: r1           ("rack: none")
 *   Topics: 2
 *   Partitions: 6
 *   Under-replicated partitions: 1
 *     t-0	Leader: 1	Replicas: 1,2,3	Isr: 1,2
 *   Offline partitions: 0
 */
void cluster_print_text(FILE *out, const fluxo_metadata_t *md,
			const struct cluster_summary *s);

/*
 * The same as one JSON object on one line:
 *   {"cluster_id":"..","controller":{"id":1,"epoch":3} (or null),
 *    "brokers":[{"id":1,"host":"..","port":9092,"rack":"r1" or null}],
 *    "topic_count":2,"partition_count":6,
 *    "under_replicated_count":1,"offline_count":0,
 *    "under_replicated_partitions":[{"topic":"t","partition":0,
 *       "leader":1,"replicas":[1,2,3],"isr":[1,2]}],
 *    "offline_partitions":[...same shape...]}
 * Returns 0, or ERR_NOMEM / ERR_IO.
 */
int cluster_print_json(FILE *out, const fluxo_metadata_t *md,
		       const struct cluster_summary *s);

#endif
