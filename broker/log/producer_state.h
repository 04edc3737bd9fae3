/*
 * producer_state.h - the idempotent producers of one partition log.
 *
 * For every producer id that wrote to the partition: its epoch, the time
 * of its last batch, and the metadata of its last five batches (first and
 * last sequence, first and last offset, maxTimestamp), as Kafka's
 * ProducerStateManager keeps them. The leader checks each incoming batch
 * against it (duplicate, sequence, epoch); followers and log recovery
 * apply batches to it without checks, so every replica holds the same
 * state for the same log.
 *
 * The rules of pstate_check (Kafka 2.8, KIP-98 and KIP-360):
 *
 *  - duplicate: a batch with the same producer id, epoch, first and last
 *    sequence as one of the five cached batches was already appended; it
 *    is not appended again and the caller answers with the cached
 *    offsets (error NONE).
 *  - an epoch lower than the known one: ERR_FENCED
 *    (INVALID_PRODUCER_EPOCH).
 *  - a higher epoch starts over: the first sequence must be 0, else
 *    ERR_SEQUENCE (OUT_OF_ORDER_SEQUENCE_NUMBER).
 *  - the same epoch: the first sequence must follow the last cached one
 *    (last + 1, or 0 after INT32_MAX), else ERR_SEQUENCE.
 *  - an unknown producer id is accepted with any first sequence: its
 *    state may be gone because retention deleted its batches or it
 *    expired (Kafka 2.5+ no longer answers UNKNOWN_PRODUCER_ID).
 *
 * Within one run of batches (one produce request's data for the
 * partition), every batch is checked against the state the earlier
 * batches of the run left, so a run may hold several batches of one
 * producer; a duplicate is only ever a batch appended by an earlier run.
 *
 * A run is checked between pstate_run_begin and pstate_run_commit or
 * pstate_run_abort: pstate_check applies each accepted batch at once and
 * keeps an undo record, so an append that fails after the checks (a
 * failed write, a later batch refused) leaves the state as it was.
 *
 * Snapshots (pstate_encode/pstate_decode) are self-checking (CRC-32C)
 * byte strings; the partition log stores them as <offset>.snapshot.
 *
 * Thread: not thread-safe; the partition log calls everything under its
 * append lock.
 */
#ifndef FLUXO_LOG_PRODUCER_STATE_H
#define FLUXO_LOG_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct pstate pstate_t;

/* Batches remembered per producer (Kafka's NumBatchesToRetain). */
#define PSTATE_BATCHES 5

/* The metadata of one batch of an idempotent producer. */
struct pstate_batch {
	int32_t first_seq;
	int32_t last_seq;
	int64_t first_offset;
	int64_t last_offset;
	int64_t timestamp; /* the batch's maxTimestamp */
};

/* What pstate_check decided. */
enum pstate_verdict {
	PSTATE_NEW = 0,	      /* accepted and applied */
	PSTATE_DUPLICATE = 1, /* already in the log: *dup says where */
};

/* baseSequence + delta, wrapping past INT32_MAX to 0 as Kafka does. */
static inline int32_t pstate_seq_add(int32_t seq, int32_t delta)
{
	if (seq > INT32_MAX - delta)
		return delta - (INT32_MAX - seq) - 1;
	return seq + delta;
}

/*
 * Reads the producer fields of the batch header at hdr (at least
 * BATCH_HEADER_SIZE bytes, baseOffset already final) into *pid, *epoch
 * and *b. Returns false when the batch has no producer id (pid < 0).
 */
bool pstate_batch_from_header(const uint8_t *hdr, int64_t *pid, int16_t *epoch,
			      struct pstate_batch *b);

/* An empty state, or NULL when out of memory. */
pstate_t *pstate_new(void);
/* Frees everything. NULL is ignored. */
void pstate_destroy(pstate_t *ps);
/* Forgets every producer. */
void pstate_clear(pstate_t *ps);
/* Number of producers known. */
int pstate_count(const pstate_t *ps);

/*
 * Copies what is known about pid: its epoch and up to max of its cached
 * batches, oldest first, into out. Returns the number of cached batches
 * (0..PSTATE_BATCHES) or ERR_NOT_FOUND.
 */
int pstate_lookup(const pstate_t *ps, int64_t pid, int16_t *epoch,
		  struct pstate_batch *out, int max);

/*
 * Starts checking a run whose first new batch gets offset run_start.
 * Cached batches at or above run_start (those of this run) never count
 * as duplicates.
 */
void pstate_run_begin(pstate_t *ps, int64_t run_start);

/*
 * Checks one batch of the run (leader side) by the rules above and, when
 * it is new, applies it. b holds the batch's sequences, the offsets it
 * will get and its maxTimestamp. A batch with epoch < 0 or first_seq < 0
 * is refused with ERR_INVAL (Kafka's INVALID_RECORD).
 * Returns PSTATE_NEW, PSTATE_DUPLICATE (with *dup, nothing applied),
 * ERR_SEQUENCE, ERR_FENCED, ERR_INVAL or ERR_NOMEM (nothing applied).
 */
int pstate_check(pstate_t *ps, int64_t pid, int16_t epoch,
		 const struct pstate_batch *b, struct pstate_batch *dup);

/* Keeps what the run applied. */
void pstate_run_commit(pstate_t *ps);
/* Undoes what the run applied. */
void pstate_run_abort(pstate_t *ps);

/*
 * Applies a batch without checks (a follower's replicated batches, log
 * recovery): a different epoch replaces the producer's epoch and forgets
 * its cached batches; the batch joins the cache, dropping the oldest of
 * five. Outside a run only. Returns 0 or ERR_NOMEM.
 */
int pstate_apply(pstate_t *ps, int64_t pid, int16_t epoch,
		 const struct pstate_batch *b);

/*
 * Forgets producers whose newest batch timestamp is older than before_ts
 * (Kafka's producer id expiration). Outside a run only. Returns the
 * number forgotten.
 */
int pstate_expire(pstate_t *ps, int64_t before_ts);

/*
 * Forgets every cached batch at or above offset, and producers left
 * without any (truncation of the log's tail, when nothing better is
 * available). Outside a run only.
 */
void pstate_truncate(pstate_t *ps, int64_t offset);

/*
 * Appends the snapshot of the state at log offset `offset` (every batch
 * below it applied) to out. Returns 0 or ERR_NOMEM.
 */
int pstate_encode(const pstate_t *ps, int64_t offset, struct buf *out);

/*
 * Replaces the state with the snapshot data[0..len) and returns its
 * offset in *offset. Untrusted input: every length and count is checked
 * before use. On error the state is left empty.
 * Returns 0, ERR_CORRUPT or ERR_NOMEM.
 */
int pstate_decode(pstate_t *ps, const uint8_t *data, size_t len,
		  int64_t *offset);

#endif
