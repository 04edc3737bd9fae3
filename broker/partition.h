/*
 * partition.h - a partition replica hosted by this broker, and the
 * replica manager that finds them.
 *
 * A partition joins the durable log (storage) with what the controller
 * said about it in LeaderAndIsr: this broker's role (leader or follower),
 * the leader and its epoch, the replica list and the ISR. As leader it
 * also tracks each follower's log end offset and when it last caught up,
 * from which it derives the high watermark and proposes ISR changes.
 *
 * Locking: p->lock guards the role, epochs, replica lists, follower state
 * and p->conf. Appends are serialised by the log's own append lock; the
 * log end offset, high watermark and flushed offset are published by the
 * log and read without p->lock. Partitions are reference counted; the
 * replica manager's table holds one reference.
 */
#ifndef FLUXO_BROKER_PARTITION_H
#define FLUXO_BROKER_PARTITION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/topic_conf.h"
#include "topic_metrics.h"
#include "fluxo.pb-c.h"

#define PARTITION_MAX_WORKERS 64

struct broker;
struct worker;
struct plog;

enum partition_role {
	ROLE_NONE = 0,		/* hosted, state not yet known */
	ROLE_LEADER = 1,
	ROLE_FOLLOWER = 2,
};

struct follower_state {
	int32_t id;
	int64_t leo;			/* last fetch offset */
	int64_t last_caught_up_ms;	/* monotonic */
	int64_t last_fetch_ms;
	int64_t leo_at_prev_fetch;	/* leader LEO when it last fetched */
};

struct partition {
	struct broker *b;
	char *topic;
	int32_t id;
	atomic_int refs;
	struct plog *log;

	pthread_mutex_t lock;
	int role;
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	int32_t controller_epoch;
	int32_t *replicas;
	int n_replicas;
	int32_t *isr;
	int n_isr;
	struct follower_state *followers;
	int n_followers;
	bool alter_isr_inflight;
	int32_t *proposed_isr;		/* while alter_isr_inflight */
	int n_proposed_isr;
	uint64_t isr_proposal_gen;	/* bumped by each proposal */
	struct topic_conf conf;
	bool deleted;
	struct topic_metrics tm;	/* set at creation, then read-only */
	/* This replica is named by the topic's leader|follower
	 * .replication.throttled.replicas (kept in step with conf). */
	atomic_bool throttle_leader;
	atomic_bool throttle_follower;

	/* Purgatory wake-up plumbing (see purgatory.c). */
	atomic_uint_fast64_t waiter_mask;
	atomic_bool wake_pending[PARTITION_MAX_WORKERS];
};

void partition_ref(struct partition *p);
void partition_unref(struct partition *p);

/* The broker's idx-th network worker (for wake-ups). */
struct worker *partition_worker(struct partition *p, int idx);

/* Raises the leader's HW to the min LEO over the maximal ISR; caller
 * holds p->lock. Returns true when it moved. */
bool maybe_advance_hw_locked(struct partition *p);

/* ------------------------------------------------------------ replica manager */

struct replica_mgr;

struct replica_mgr *rm_new(struct broker *b);
void rm_destroy(struct replica_mgr *rm);

/* Finds a hosted partition (referenced), or NULL. Any thread. */
struct partition *rm_get(struct replica_mgr *rm, const char *topic,
			 int32_t partition);

/* Every hosted partition, referenced; caller unrefs each and frees the
 * array. */
int rm_list(struct replica_mgr *rm, struct partition ***out);

/*
 * Applies a LeaderAndIsr request (control thread): creates logs for new
 * replicas, makes this broker leader or follower, ignores partitions
 * whose leader epoch is not newer than what it has. Fills one error per
 * partition into resp (allocated with malloc; free with
 * rm_free_leader_and_isr_response).
 */
int rm_leader_and_isr(struct replica_mgr *rm,
		      const Fluxo__LeaderAndIsrRequest *req,
		      Fluxo__LeaderAndIsrResponse *resp);
void rm_free_leader_and_isr_response(Fluxo__LeaderAndIsrResponse *resp);

/* Applies a StopReplica request (control thread). */
int rm_stop_replica(struct replica_mgr *rm, const Fluxo__StopReplicaRequest *req,
		    Fluxo__StopReplicaResponse *resp);
void rm_free_stop_replica_response(Fluxo__StopReplicaResponse *resp);

/* Applies a topic's new configuration overrides (admin/config thread). */
void rm_update_topic_config(struct replica_mgr *rm, const char *topic,
			    const struct topic_conf *tc);

/* ------------------------------------------------------------ data path */

struct append_result {
	int64_t base_offset;
	int64_t last_offset;
	int64_t log_append_time;
	int64_t log_start_offset;
	bool wait_hw;		/* acks=all: HW must pass last_offset */
	bool wait_flush;	/* flush.on.ack: fsync must pass it */
	int dup_batches;	/* idempotent retries found in the log */
	/* When a run of several batches held duplicates: each batch's base
	 * offset (malloc'd, n_batch_bases entries; the caller frees it).
	 * NULL otherwise: the batches sit at consecutive offsets. */
	int64_t *batch_bases;
	size_t n_batch_bases;
};

/*
 * Appends a run of record batches as leader (worker thread). data is the
 * request payload (rewritten in place). Checks role, batch validity,
 * sizes, timestamps, for acks=all the ISR size, and for batches of
 * idempotent producers their sequence and epoch (duplicates are answered
 * with their original offsets and not appended again). Returns NONE with
 * *res filled, or a wire error with a sentence in msg; nothing is
 * appended on error.
 */
Fluxo__ErrorCode partition_append(struct partition *p, uint8_t *data,
				  size_t len, int acks,
				  struct append_result *res, char *msg,
				  size_t msg_size);

/*
 * For a pending produce: NONE when the HW / flushed offset has passed
 * required_end (the offset after the last record), or an error
 * (NOT_LEADER_OR_FOLLOWER when leadership moved, NOT_ENOUGH_REPLICAS_
 * AFTER_APPEND when the ISR shrank below min.insync.replicas), or
 * REQUEST_TIMED_OUT (-> not complete yet) when still waiting.
 */
Fluxo__ErrorCode partition_produce_status(struct partition *p,
					  int64_t required_end,
					  bool wait_hw, bool wait_flush);

struct fetch_slice {
	int fd;
	int64_t pos;
	size_t len;
	void *ref;		/* storage's slice handle, for release */
};

struct fetch_result {
	Fluxo__ErrorCode err;
	int64_t high_watermark;
	int64_t log_start_offset;
	int64_t log_end_offset;
	int32_t diverging_epoch;	/* -1: none */
	int64_t diverging_end_offset;
	int32_t throttle_ms;		/* > 0: data held back this long */
	struct fetch_slice slice;
};

/*
 * Reads for a Fetch (worker thread). replica_id < 0: a consumer, bounded
 * by the HW; otherwise a follower, bounded by the LEO, whose fetch offset
 * also records its progress. max_bytes bounds the slice unless min_one
 * allows one whole larger batch. A follower outside the ISR of a replica
 * throttled on the leader side gets no data while the leader's throttle
 * is in debt: fr->throttle_ms then says when to read again.
 */
void partition_fetch(struct partition *p, int32_t replica_id,
		     int32_t current_leader_epoch, int64_t fetch_offset,
		     int32_t last_fetched_epoch, size_t max_bytes,
		     bool min_one, struct fetch_result *fr);
void fetch_slice_release(struct fetch_slice *s);
/* out_file release callback for a struct fetch_slice ref. */
void fetch_slice_release_cb(void *ref);

/* ListOffsets for one partition: spec -1 latest, -2 earliest, else time. */
Fluxo__ErrorCode partition_list_offset(struct partition *p, int64_t spec,
				       int32_t current_leader_epoch,
				       bool from_consumer, int64_t *offset,
				       int64_t *timestamp, int32_t *epoch);

#endif
