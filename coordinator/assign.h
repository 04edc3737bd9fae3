/*
 * assign.h - replica placement for new topics and new partitions.
 *
 * Kafka's algorithm (AdminUtils.assignReplicasToBrokers), so that a fluxo
 * cluster spreads leaders and followers exactly as an operator used to
 * Kafka expects:
 *
 *  - rack-unaware: brokers sorted by id; partition p's first replica (its
 *    preferred leader) is broker (p + start) % n; follower j sits at
 *    offset 1 + (shift + j) % (n - 1) from it, and shift grows by one each
 *    time p wraps around n;
 *  - rack-aware (every broker has a rack): the same walk over a
 *    rack-alternated broker list, skipping a broker whose rack (or which
 *    itself) already holds a replica while some rack (broker) holds none.
 *
 * Pure functions: any thread.
 */
#ifndef FLUXO_ASSIGN_H
#define FLUXO_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct assign_broker {
	int32_t id;
	const char *rack; /* NULL or "": no rack */
};

/*
 * Places rf replicas for each of n_partitions partitions, numbered from
 * start_partition (0 for a new topic, the current count when adding
 * partitions). start_index and shift are Kafka's startIndex and
 * nextReplicaShift; -1 picks each at random in [0, n). rack_aware false
 * ignores racks (Kafka's --disable-rack-aware).
 *
 * out receives n_partitions * rf broker ids, partition by partition.
 * Returns a wire error code (FLUXO__ERROR_CODE__*): NONE, or
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR ("Replication factor: 3
 * larger than available brokers: 1."), INVALID_REPLICA_ASSIGNMENT (some
 * but not all brokers have a rack), with errstr set.
 */
int assign_replicas(const struct assign_broker *brokers, int n_brokers,
		    int n_partitions, int rf, int start_index, int shift,
		    int start_partition, bool rack_aware, int32_t *out,
		    char *errstr, size_t errstr_size);

/*
 * Kafka's rack-alternated list: racks sorted by name, brokers of each rack
 * sorted by id, then one broker from each rack in turn. Racks
 * {0:r1,1:r3,2:r3,3:r2,4:r2,5:r1} give 0,3,1,5,4,2. out has room for n.
 * Every broker must have a rack. Returns 0 or ERR_NOMEM.
 */
int assign_rack_alternated(const struct assign_broker *brokers, int n,
			   int32_t *out);

#endif
