/*
 * reassign_util.h - the parts of fluxo-reassign-partitions that need no
 * broker: proposing a placement (--generate, with Kafka's algorithm from
 * coordinator/assign.c), the throttled-replica lists of --throttle, and
 * the --verify and --list reports in Kafka 2.8's words.
 *
 * Cluster state comes in as fluxo_metadata_t (client/fluxo.h) and the
 * plain lists of adminjson.h, so the unit tests build it by hand.
 *
 * Threads: none.
 */
#ifndef FLUXO_REASSIGN_UTIL_H
#define FLUXO_REASSIGN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "adminjson.h"
#include "client/fluxo.h"

/* The metadata entry of topic/partition, or NULL. */
const fluxo_partition_md_t *md_partition(const fluxo_metadata_t *md,
					 const char *topic, int32_t partition);

/*
 * Parses --broker-list "4,5,6" into ids (malloc'd, *n entries). Errors
 * (ERR_INVAL, errstr set): a non-id, "Broker list contains duplicate
 * entries: 4".
 */
int broker_list_parse(const char *s, int32_t **ids, int *n, char *errstr,
		      size_t errstr_size);

/*
 * Kafka's --generate: for each topic, a new placement of its partitions
 * on the brokers of broker_list, keeping its partition count and the
 * replication factor of its partition 0. rack_aware uses the brokers'
 * racks (all or none of them must have one: "Not all brokers have rack
 * information. ..."). start_index and shift are as for assign_replicas()
 * (-1: random, as Kafka). current receives the topics' present
 * assignment, proposed the new one, both sorted. Errors (errstr set): a
 * topic the metadata lacks ("Topic 'x' does not exist"), a broker of the
 * list that is not in the cluster, a replication factor above the list's
 * size. Returns 0, ERR_INVAL or ERR_NOMEM.
 */
int reassign_generate(const fluxo_metadata_t *md, char *const *topics,
		      size_t n_topics, const int32_t *broker_list,
		      int n_brokers, bool rack_aware, int start_index,
		      int shift, struct move_list *current,
		      struct move_list *proposed, char *errstr,
		      size_t errstr_size);

/*
 * The current assignment of the partitions of targets (sorted), for the
 * rollback JSON that --execute prints. Partitions the metadata lacks are
 * left out.
 */
int reassign_current(const fluxo_metadata_t *md,
		     const struct move_list *targets, struct move_list *out);

/*
 * Kafka's throttled-replica lists for the moves of topic in targets
 * (partitions whose target equals their current set are left out):
 * *leader names every current replica of each moving partition,
 * *follower every replica being added, as "partition:broker,..." sorted
 * by partition. Both malloc'd, "" when none. Returns 0 or ERR_NOMEM.
 */
int reassign_throttles(const fluxo_metadata_t *md,
		       const struct move_list *targets, const char *topic,
		       char **leader, char **follower);

/* The brokers a set of moves involves (current and target replicas of
 * the moving partitions), sorted, into *ids (malloc'd). */
int reassign_brokers(const fluxo_metadata_t *md,
		     const struct move_list *targets, int32_t **ids, int *n);

/* The distinct topics of targets, sorted (malloc'd array of borrowed
 * pointers into targets). */
int reassign_topics(const struct move_list *targets, const char ***topics,
		    size_t *n);

/* The outcome of --verify for the partitions of a file. */
struct verify_result {
	int complete;	 /* replica set equals the target */
	int in_progress; /* still listed as reassigning */
	int differ;	 /* not reassigning, but another replica set */
	int missing;	 /* the partition does not exist */
};

/*
 * Prints Kafka's report:
 *   Status of partition reassignment:
 *   Reassignment of partition t-0 is complete.
 *   Reassignment of partition t-1 is still in progress.
 *   There is no active reassignment of partition t-2, but replica set is
 *   1,2 rather than 2,3.
 * ongoing is what the controller lists, md the current replica sets.
 */
void reassign_print_verify(FILE *out, const struct move_list *targets,
			   const fluxo_ongoing_reassignment_t *ongoing,
			   size_t n_ongoing, const fluxo_metadata_t *md,
			   struct verify_result *res);

/*
 * Prints Kafka's --list: "Current partition reassignments:" and one line
 * per partition ("t-0: replicas: 1,2,3. adding: 3. removing: 1."), or
 * "No partition reassignments found."
 */
void reassign_print_list(FILE *out, const fluxo_ongoing_reassignment_t *l,
			 size_t n);

#endif
