/*
 * accum.h - the producer's record accumulator: per-partition queues of
 * record batches, batching by size and linger, buffer.memory accounting,
 * and the partitioners (murmur2 of the key; sticky for null keys).
 *
 * A partition (struct ptoppar) keeps its batches oldest first; only the
 * last may be open for appends. fluxo_produce() appends under the
 * producer's lock straight into the open batch's batch_builder, so a
 * record is encoded once, in place; the per-record data a delivery report
 * needs (opaque, timestamp, enqueue time) goes into an array per batch, not
 * into an allocation per record. The sender (I/O thread, same lock) pops
 * ready batches, finishes them (compression, header, CRC) outside the lock
 * and writes them to the socket from these very buffers.
 *
 * Memory: every appended record's encoded size is counted against
 * buffer.memory until its batch is done; batches are recycled through a
 * small free list so their buffers keep their capacity.
 *
 * Nothing here locks, allocates threads or knows about sockets; the
 * caller holds the producer's lock around every call. That keeps the
 * batching rules unit-testable.
 */
#ifndef FLUXO_CLIENT_ACCUM_H
#define FLUXO_CLIENT_ACCUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/batch.h"
#include "fluxo.h"

struct ptopic;
struct ptoppar;

/* What a delivery report needs per record. */
struct dr_rec {
	void *opaque;
	int64_t timestamp; /* ms, as written into the batch */
	int64_t enq_us;	   /* monotonic, at fluxo_produce() */
};

struct pbatch {
	struct pbatch *next; /* queue, request or report list */
	struct ptoppar *tp;
	struct batch_builder bb;
	struct dr_rec *recs; /* rec_cnt entries when keep_recs */
	int rec_cap;
	int32_t rec_cnt;
	size_t bytes;	      /* counted against buffer.memory */
	int64_t created_ms;   /* monotonic; linger starts here */
	int64_t deadline_ms;  /* created + delivery.timeout.ms */
	int64_t first_enq_us; /* enqueue time of the first record */
	uint64_t seq_no;      /* creation order within the partition */
	int32_t base_seq;     /* idempotence: -1 until first sent */
	int attempts;	      /* times sent */
	int64_t retry_at_ms;  /* backoff after a retriable error */
	bool closed;	      /* no more appends */
	bool finished;	      /* bb.out holds the final bytes */
	/* outcome, filled when done */
	int err;
	char *errstr;
	int64_t base_offset;
	int64_t log_append_time; /* -1 unless LogAppendTime */
	int64_t done_us;
};

struct ptoppar {
	struct ptopic *topic;
	int32_t partition;
	struct pbatch *head, *tail; /* queued, oldest first */
	int32_t leader;		    /* -1: unknown */
	int32_t leader_epoch;
	int inflight;	  /* batches in requests */
	int32_t next_seq; /* idempotence */
	bool retrying;	  /* idempotence: resend in order */
	uint64_t next_seq_no;
	struct ptoppar *pend_next; /* list of partitions with batches */
	struct ptoppar *pend_prev;
	bool pending;
};

struct ptopic {
	struct ptopic *hnext; /* hash chain */
	char *name;
	int idx; /* creation order, for request layout */
	int err; /* last metadata error, 0 when known */
	char *errstr;
	int32_t part_cnt;	/* 0 until metadata is known */
	struct ptoppar **parts; /* part_cnt entries */
	int32_t sticky;		/* KIP-480 partition, -1: none yet */
};

struct accum_conf {
	size_t batch_size;
	int64_t linger_ms;
	int codec;
	int level;
	int64_t buffer_memory;
	size_t max_request_size;
	int64_t delivery_timeout_ms;
	bool keep_recs; /* a delivery callback exists */
};

struct accum {
	struct accum_conf conf;
	int64_t buffered;    /* bytes counted against buffer.memory */
	struct pbatch *pool; /* recycled batches */
	int pool_cnt;
	struct ptoppar *pend_head; /* partitions with queued batches */
	struct ptoppar *pend_tail;
	size_t queued_records; /* in queues, not in flight */
};

void accum_init(struct accum *acc, const struct accum_conf *conf);
/* Frees the pool (queued batches belong to their partitions). */
void accum_destroy(struct accum *acc);

/* Bytes a record adds to a batch (upper bound), headers included. */
size_t accum_record_size(size_t key_len, bool key_null, size_t value_len,
			 bool value_null, const fluxo_header_t *headers,
			 size_t header_cnt);

/* True when buffer.memory has room for size more bytes. A record larger
 * than the whole buffer is let through when nothing is buffered. */
bool accum_has_room(const struct accum *acc, size_t size);

/* True when appending a record of size bytes to tp would open a new batch
 * (the sticky partitioner switches partitions then). */
bool accum_would_open(const struct accum *acc, const struct ptoppar *tp,
		      size_t size);

/*
 * Appends one record to tp's open batch, opening one when there is none or
 * when it cannot take size more bytes. key/value NULL means null.
 * now_ms/now_us are monotonic. *became_ready (when not NULL) is set when
 * the append closed a full batch or made tp non-empty. Returns 0 or
 * ERR_NOMEM.
 */
int accum_append(struct accum *acc, struct ptoppar *tp, int64_t timestamp,
		 const void *key, size_t key_len, const void *value,
		 size_t value_len, const fluxo_header_t *headers,
		 size_t header_cnt, size_t size, void *opaque, int64_t now_ms,
		 int64_t now_us, bool *became_ready);

/*
 * True when tp's first queued batch may be sent now: it is closed (full,
 * or more batches wait behind it), its linger passed, or flush is set;
 * and its retry backoff is over. Otherwise *next is lowered to when it
 * will be. NULL-safe for an empty tp (false).
 */
bool accum_ready(const struct accum *acc, const struct ptoppar *tp,
		 int64_t now_ms, bool flush, int64_t *next);

/* Removes and returns tp's first batch (closing it), or NULL. */
struct pbatch *accum_pop(struct accum *acc, struct ptoppar *tp);

/* Puts a batch back for a retry, in creation order. */
void accum_requeue(struct accum *acc, struct pbatch *b);

/* Returns a done batch's buffer.memory share (once). */
void accum_release(struct accum *acc, struct pbatch *b);

/* Recycles (or frees) a batch whose report was served. */
void accum_batch_free(struct accum *acc, struct pbatch *b);

/* Drops tp from the pending list when it has no queued batch. */
void accum_pend_update(struct accum *acc, struct ptoppar *tp);

/* ------------------------------------------------------------ partitioners */

/* Kafka's default for a non-null key: murmur2(key) & 0x7fffffff % cnt. */
int32_t partitioner_key(const void *key, size_t len, int32_t cnt);

/*
 * KIP-480: a new sticky partition, random among the partitions that have
 * a leader (all of them when none has), different from prev when another
 * candidate exists. rng is the caller's xorshift state.
 */
int32_t partitioner_sticky_next(const struct ptopic *t, int32_t prev,
				uint64_t *rng);

#endif
