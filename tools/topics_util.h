/*
 * topics_util.h - the parts of fluxo-topics that need no broker: the
 * --replica-assignment parser, the --topic pattern filter, the partition
 * predicates behind the --describe report filters, and the describe lines
 * in Kafka 2.8's layout.
 *
 * The metadata types come from client/fluxo.h (plain structs); nothing
 * here calls libfluxo, so the unit tests use hand-made metadata.
 *
 * Threads: none.
 */
#ifndef FLUXO_TOPICS_UTIL_H
#define FLUXO_TOPICS_UTIL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/fluxo.h"

/* ------------------------------------------------------ replica assignment */

/* "0:1,1:2": partition i's replicas are rows[i][0..replica_cnt). */
struct replica_assignment {
	int partition_cnt;
	int replica_cnt;	/* the same for every partition */
	int32_t *ids;		/* partition_cnt * replica_cnt broker ids */
	const int32_t **rows;	/* row pointers into ids */
	int *row_cnt;		/* replica_cnt, partition_cnt times */
};

/*
 * Parses Kafka's --replica-assignment syntax: partitions separated by
 * commas, broker ids of a partition by colons, first id = preferred
 * leader; spaces around ids are ignored. Errors (errstr set, Kafka's
 * wording): a bad id, "Partition replica lists may not contain duplicate
 * entries: 1", "Partition 1 has different replication factor: 1:2:3".
 * Returns 0 (free with replica_assignment_free), ERR_INVAL or ERR_NOMEM.
 */
int replica_assignment_parse(const char *s, struct replica_assignment *ra,
			     char *errstr, size_t errstr_size);
void replica_assignment_free(struct replica_assignment *ra);

/* ----------------------------------------------------------- topic filter */

/*
 * --topic for --list/--describe/--alter/--delete is a regular expression
 * matched against whole names, as Kafka's IncludeList: commas mean '|',
 * spaces and surrounding quotes are dropped. POSIX extended syntax.
 */
struct topic_filter {
	bool active;	/* false: everything matches */
	regex_t re;
};

/* spec NULL matches every topic. Returns 0 or ERR_INVAL (errstr set). */
int topic_filter_init(struct topic_filter *f, const char *spec, char *errstr,
		      size_t errstr_size);
bool topic_filter_match(const struct topic_filter *f, const char *topic);
void topic_filter_free(struct topic_filter *f);

/* ---------------------------------------------------- describe predicates */

bool partition_has_leader(const fluxo_partition_md_t *p);

/* Fewer in-sync replicas than replicas. */
bool partition_under_replicated(const fluxo_partition_md_t *p);

/* No leader, or a leader that is not among the live brokers of md. */
bool partition_unavailable(const fluxo_partition_md_t *p,
			   const fluxo_metadata_t *md);

/* No leader, or an ISR smaller than min_isr (min_isr < 0: unknown). */
bool partition_under_min_isr(const fluxo_partition_md_t *p, int min_isr);

/* An ISR exactly min_isr long (min_isr < 0: unknown, never). */
bool partition_at_min_isr(const fluxo_partition_md_t *p, int min_isr);

/*
 * Kafka 2.8's describe lines (TopicId omitted):
 *   "Topic: T\tPartitionCount: N\tReplicationFactor: R\tConfigs: k=v,..."
 *   "\tTopic: T\tPartition: P\tLeader: L\tReplicas: a,b\tIsr: a,b"
 * A partition without a leader prints "Leader: none".
 */
void topic_print_summary(FILE *out, const char *topic, int partition_cnt,
			 int replication_factor, const char *configs);
void topic_print_partition(FILE *out, const char *topic,
			   const fluxo_partition_md_t *p);

#endif
