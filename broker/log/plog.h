/*
 * plog.h - a partition log: the durable, ordered, offset-addressed record
 * batches of one topic partition.
 *
 * A partition log is a directory <topic>-<partition>/ of segments (see
 * segment.h), a leader-epoch cache, the state of its idempotent producers
 * (producer_state.h; <offset>.snapshot files) and four published
 * offsets:
 *
 *   log start offset  first offset that may be read (retention moves it)
 *   high watermark    set by the broker; consumers read below it
 *   log end offset    next offset to be written (LEO)
 *   flushed offset    everything below it is on disk (the recovery point)
 *
 * The four are read lock-free from any thread. Appends, rolls, truncation
 * and retention serialise on the partition's append lock; reads take a
 * read lock on the segment list only for the time it takes to find and
 * reference a segment, so a Fetch never waits behind a write(2) or an
 * fsync. fsyncs run on the log dir's flusher thread (group commit) or in
 * the caller of plog_flush(), never under the append lock.
 *
 * Handles are reference counted: plog_ref()/plog_unref(). The log manager
 * owns one reference per loaded partition; functions that return a plog_t
 * return a new reference.
 *
 * Errors are local codes (common/err.h). ERR_STATE means the log was
 * closed or deleted; ERR_IO after a failed fsync is sticky: the partition
 * refuses appends until it is reloaded (a failed fsync may have dropped
 * dirty pages, so retrying is not safe).
 */
#ifndef FLUXO_PLOG_H
#define FLUXO_PLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/log/producer_state.h"
#include "common/batch.h"
#include "common/topic_conf.h"

typedef struct plog plog_t;
struct flusher;
struct segment;

/* What a listener is told. */
enum plog_event {
	PLOG_EV_APPEND = 1,    /* LEO advanced (leader or follower append) */
	PLOG_EV_HW = 2,	       /* high watermark changed */
	PLOG_EV_FLUSHED = 3,   /* flushed offset advanced */
	PLOG_EV_TRUNCATE = 4,  /* LEO moved back (truncation) */
	PLOG_EV_LOG_START = 5, /* log start offset advanced (retention) */
};

/*
 * Called after the event, on whatever thread caused it (a network worker,
 * a flusher, the retention thread), with no partition lock held. Must be
 * cheap and must not call back into an append, truncate or flush of the
 * same partition; reading offsets and plog_read are fine.
 */
typedef void (*plog_listener_fn)(void *arg, plog_t *plog, enum plog_event ev);

/*
 * The environment a partition log runs in; borrowed, must outlive the log.
 * Every member may be zero/NULL for the defaults (a standalone log, as in
 * unit tests).
 */
struct plog_env {
	/* Wall clock in ms (timestamps, roll age, retention). NULL:
	 * clock_wall_ms(). */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
	/* Group-commit flusher of the log dir. NULL: plog_request_flush()
	 * flushes in the caller's thread (a roll then fsyncs, and notifies,
	 * under the append lock: meant for tests and tools). */
	struct flusher *flusher;
	/* Removes path after delay_ms (deleted segments). NULL: unlink at
	 * once. The callee copies path. */
	void (*schedule_unlink)(void *arg, const char *path, int64_t delay_ms);
	void *unlink_arg;
	/* Test hook: replaces pwrite(2) for segment data. NULL: pwrite. */
	ssize_t (*pwrite_fn)(int fd, const void *buf, size_t len, off_t pos);
	/* Idempotent producers whose newest batch timestamp is older than
	 * this are forgotten at the retention pass (Kafka's
	 * transactional.id.expiration.ms). 0: 7 days. */
	int64_t producer_expiry_ms;
};

/* What is known about a partition from the log dir's checkpoints. */
struct plog_load_opts {
	int64_t recovery_point; /* -1: unknown (recover everything) */
	int64_t log_start;	/* -1: unknown (first segment's base) */
	int64_t hw;		/* -1: unknown (0) */
	bool clean;		/* the dir was shut down cleanly */
	bool conf_confirmed;	/* conf is the topic's real configuration */
};

/*
 * Opens the partition log in dir (created if missing, with an empty first
 * segment at offset max(0, opts->log_start)), loading every segment and
 * recovering as opts says: without a clean shutdown, every segment from the
 * one holding the recovery point on is re-validated batch by batch and
 * truncated at the first bad byte (later segments are dropped); indexes
 * that fail a sanity check are rebuilt. conf is copied. opts may be NULL
 * (a new log, or a full recovery of an unknown one).
 * Returns a referenced log, or NULL with *err (ERR_IO, ERR_NOMEM,
 * ERR_CORRUPT) and a sentence in errstr.
 * Thread: any; the log is not shared until this returns.
 */
plog_t *plog_open(const char *dir, const char *topic, int32_t partition,
		  const struct topic_conf *conf, const struct plog_env *env,
		  const struct plog_load_opts *opts, int *err, char *errstr,
		  size_t errstr_size);

void plog_ref(plog_t *plog);
/* Drops a reference; the last one frees the log (closing descriptors
 * without flushing: call plog_close first for a clean stop). NULL is
 * ignored. */
void plog_unref(plog_t *plog);

/*
 * Clean stop: waits for appends to finish, refuses new ones (ERR_STATE),
 * writes buffered index entries and the final time index entry, fsyncs
 * every unflushed segment and the epoch checkpoint, and sets the flushed
 * offset to the LEO. Reads keep working. Returns 0 or ERR_IO (the log is
 * then not clean). Thread: any but a listener.
 */
int plog_close(plog_t *plog);

const char *plog_topic(const plog_t *plog);
int32_t plog_partition(const plog_t *plog);
const char *plog_dir(const plog_t *plog);

/* Published offsets: lock-free, any thread. */
int64_t plog_leo(const plog_t *plog);
int64_t plog_hw(const plog_t *plog);
int64_t plog_log_start(const plog_t *plog);
int64_t plog_flushed(const plog_t *plog);
/* Bytes on disk and number of segments. */
int64_t plog_size_bytes(const plog_t *plog);
int plog_segment_count(const plog_t *plog);
/* True once an fsync failed (the partition refuses appends). */
bool plog_failed(const plog_t *plog);

/*
 * Sets the high watermark, clamped to [log start, LEO]. Notifies
 * PLOG_EV_HW when it changed. Thread: any (the broker's replica logic).
 */
void plog_set_hw(plog_t *plog, int64_t hw);

/* Sets the listener (NULL to remove). Thread: any. */
void plog_set_listener(plog_t *plog, plog_listener_fn fn, void *arg);

/* ------------------------------------------------------------ appends */

struct plog_append_result {
	int64_t first_offset; /* of the first record of the run (for a
			       * duplicate batch: where it was appended) */
	int64_t last_offset;  /* the largest last offset of the run's
			       * batches, written now or before */
	int64_t append_time;  /* broker time for LogAppendTime, else -1 */
	int64_t log_start;    /* the log start offset after the append */
	int dup_batches;      /* batches of idempotent producers that were
			       * already in the log: not written again */
	bool flush_requested; /* flush.on.ack: a group commit was
			       * requested; the append is durable once
			       * plog_flushed() > last_offset */
};

/*
 * The idempotent-producer hook: called under the append lock, after the
 * roll decision and before anything is written, with first_offset the
 * offset the run will receive. A non-zero return aborts the append and is
 * returned by plog_append_leader (nothing is written). The hook may keep
 * state of its own; it must not call plog functions of this log.
 */
typedef int (*plog_append_check_fn)(void *arg, plog_t *plog, const uint8_t *buf,
				    size_t len,
				    const struct batch_run_info *info,
				    int64_t first_offset);

/*
 * Leader append. buf[0..len) is a run of batches already checked with
 * batch_run_validate (info is its summary); it is modified in place:
 * baseOffsets are assigned from the LEO, partitionLeaderEpoch is set to
 * leader_epoch, and for LogAppendTime topics the batches are stamped with
 * the broker's time. Rolls the segment when needed, writes, adds index
 * entries, starts a new epoch in the cache when leader_epoch is newer, and
 * publishes the new LEO. All or nothing: on a failed write the segment is
 * cut back and nothing is visible.
 *
 * Batches with a producer id (>= 0) go through the log's producer state
 * (producer_state.h) under the append lock: a duplicate is left out of
 * the write (the batches after it move down in buf) and counted in
 * res->dup_batches; a batch out of sequence or of an old epoch refuses
 * the whole run. When every batch is a duplicate nothing is written.
 * batch_bases: NULL, or info->batch_cnt entries that receive each batch's
 * base offset in run order (for a duplicate, where it was appended).
 * check/check_arg: optional hook (see plog_append_check_fn).
 * Returns 0 with *res filled; ERR_NOSPACE (disk full), ERR_IO, ERR_STATE
 * (closed, deleted or failed log), ERR_INVAL (empty run; or a batch with
 * a producer id but a negative epoch or sequence), ERR_SEQUENCE (out of
 * order), ERR_FENCED (an older producer epoch), ERR_NOMEM, or the hook's
 * code. Thread: any (network workers); takes the append lock.
 */
int plog_append_leader(plog_t *plog, uint8_t *buf, size_t len,
		       const struct batch_run_info *info, int32_t leader_epoch,
		       plog_append_check_fn check, void *check_arg,
		       int64_t *batch_bases, struct plog_append_result *res);

/*
 * Follower append: the batches keep their offsets and leader epochs. The
 * first batch must start exactly at the LEO, and offsets must increase
 * through the run; otherwise ERR_OUT_OF_RANGE and nothing is written. The
 * epoch cache learns every epoch newer than its latest, and the producer
 * state every batch with a producer id (unchecked: the leader checked).
 * Other returns as plog_append_leader.
 */
int plog_append_follower(plog_t *plog, const uint8_t *buf, size_t len,
			 const struct batch_run_info *info,
			 struct plog_append_result *res);

/* -------------------------------------------------------------- reads */

/*
 * Bytes of one segment to send: whole batches only. Holds references to
 * the log and the segment (whose descriptor stays open) until released.
 */
struct plog_slice {
	int fd;		      /* segment file; -1 when len == 0 */
	int64_t pos;	      /* file position of the first byte */
	size_t len;	      /* 0: nothing to send */
	int64_t first_offset; /* baseOffset of the first batch (len > 0) */
	int64_t end_offset;   /* offset after the last batch: where the
			       * next fetch continues */
	struct segment *seg;  /* internal */
	plog_t *plog;	      /* internal */
};

/*
 * Finds the batches to return for a Fetch at fetch_offset: the slice starts
 * at the batch containing fetch_offset and holds the following whole
 * batches of the same segment that end below max_offset (the HW for
 * consumers, the LEO for followers; < 0 means the LEO) and fit in
 * max_bytes. If the first batch alone exceeds max_bytes it is returned
 * whole when min_one_batch is set (KIP-74), else the slice is empty.
 * fetch_offset >= max_offset gives an empty slice.
 * Returns 0 (the slice must then be released, empty or not);
 * ERR_OUT_OF_RANGE when fetch_offset < log start or > LEO; ERR_STATE for a
 * deleted log; ERR_IO or ERR_CORRUPT when the segment cannot be read.
 * Thread: any; no append lock. The caught-up case (fetch at the end of a
 * previous slice, up to the LEO) needs no system call.
 */
int plog_read(plog_t *plog, int64_t fetch_offset, size_t max_bytes,
	      int64_t max_offset, bool min_one_batch, struct plog_slice *sl);

/* Drops the slice's references (sendfile must be done). Idempotent. */
void plog_slice_release(struct plog_slice *sl);

/* Copies the slice's bytes into dst (sl->len bytes), for TLS and tests.
 * Returns 0 or ERR_IO/ERR_CORRUPT (short read). */
int plog_slice_copy(const struct plog_slice *sl, void *dst);

/*
 * ListOffsets by time: the first offset below max_offset (< 0: the LEO)
 * whose record timestamp is >= ts, and that timestamp. Uses each
 * segment's largest timestamp, the time index, the offset index and a scan
 * of batch headers; the records of the one batch found are decoded to
 * find the exact record (its base offset when they cannot be decoded).
 * Returns 0, ERR_NOT_FOUND (no such record: Kafka answers offset -1),
 * ERR_IO, ERR_CORRUPT. Thread: any.
 */
int plog_offset_for_time(plog_t *plog, int64_t ts, int64_t max_offset,
			 int64_t *offset, int64_t *timestamp);

/* --------------------------------------------------------- truncation */

/*
 * Follower truncation: removes every batch that holds an offset >=
 * offset (a batch straddling offset is removed whole, so the new LEO may be
 * lower than offset: it is returned in *new_leo when not NULL), drops
 * later segments and index entries, truncates the epoch cache, and lowers
 * the HW and flushed offset to the new LEO, and rebuilds the producer
 * state for the new end. offset >= LEO does nothing; offset < log start
 * truncates fully and restarts at offset. Notifies PLOG_EV_TRUNCATE. Returns 0,
 * ERR_IO, ERR_STATE. Slices already handed out may then refer to removed bytes;
 * a sendfile of one can come up short, which the caller must treat as an error
 * on that connection. Thread: any; takes the append lock.
 */
int plog_truncate_to(plog_t *plog, int64_t offset, int64_t *new_leo);

/*
 * Deletes every segment and restarts the log empty at new_start (LEO, log
 * start, HW and flushed offset all become new_start); clears the epoch
 * cache and the producer state (snapshots included). Returns 0, ERR_IO,
 * ERR_STATE.
 */
int plog_truncate_fully(plog_t *plog, int64_t new_start);

/*
 * Moves the log start offset up to offset (DeleteRecords); whole segments
 * below it go at the next retention pass. offset must be <= HW.
 * Returns 0, ERR_OUT_OF_RANGE or ERR_STATE.
 */
int plog_advance_log_start(plog_t *plog, int64_t offset);

/* ------------------------------------------------------------ flushes */

/*
 * fdatasyncs the segments holding data in [flushed, upto) (upto is
 * clamped to the LEO) and the epoch checkpoint, then advances the flushed
 * offset to upto and notifies PLOG_EV_FLUSHED. Blocks for the fsyncs.
 * Returns 0, ERR_IO (sticky; the log refuses appends from then on) or
 * ERR_STATE. Thread: any but a network worker (it blocks).
 */
int plog_flush(plog_t *plog, int64_t upto);

/*
 * Group commit: asks the log dir's flusher to make everything below upto
 * durable and returns at once. The flusher fdatasyncs each queued
 * partition once, up to the LEO at the moment it starts, which covers every
 * request that arrived before; PLOG_EV_FLUSHED follows. Without a flusher
 * in the env, flushes in the caller. Thread: any.
 */
void plog_request_flush(plog_t *plog, int64_t upto);

/* ------------------------------------------------- producer state */

/*
 * What the log's producer state knows about pid: its epoch and up to max
 * of its cached batches, oldest first. Returns the number of cached
 * batches or ERR_NOT_FOUND. Thread: any; takes the append lock.
 */
int plog_producer_lookup(plog_t *plog, int64_t pid, int16_t *epoch,
			 struct pstate_batch *out, int max);

/* Number of producers in the log's producer state. Thread: any. */
int plog_producer_count(plog_t *plog);

/*
 * Writes the producer state snapshot at the LEO (<LEO>.snapshot, not
 * fsynced) unless the newest one is already there or the next start would
 * replay less than 64 KiB of batches without it, so that the next start
 * replays (almost) no batch headers. Meant for a clean stop, after
 * plog_close: the log manager writes them once every partition's flush is
 * done, so that creating these files does not add a journal commit to
 * every close's fsyncs. A failure is logged and only makes the next start
 * replay more. Returns 0, ERR_IO or ERR_NOMEM. Thread: any; takes the
 * append lock.
 */
int plog_snapshot_producers(plog_t *plog);

/* ------------------------------------------------------- epoch cache */

/*
 * Records that epoch starts at start_offset (Kafka's assign: entries with
 * an epoch >= epoch or a start >= start_offset are replaced). Persisted
 * to leader-epoch-checkpoint (made durable by the next flush). The broker
 * calls it on becoming leader with the LEO. Returns 0, ERR_IO or
 * ERR_INVAL. Thread: any.
 */
int plog_epoch_assign(plog_t *plog, int32_t epoch, int64_t start_offset);

/* The latest epoch in the cache, or -1. Thread: any. */
int32_t plog_epoch_latest(plog_t *plog);

/*
 * OffsetsForLeaderEpoch: for the requested epoch, the largest known epoch
 * <= it and that epoch's end offset (the start offset of the next higher
 * epoch, or the LEO when it is the latest). Unknown (requested above the
 * latest, or -1): *epoch_out = -1, *end_offset = -1. Returns 0.
 */
int plog_epoch_end_offset(plog_t *plog, int32_t epoch, int32_t *epoch_out,
			  int64_t *end_offset);

/* Copies up to max (epoch, start offset) entries; returns the count. */
int plog_epoch_entries(plog_t *plog, int32_t *epochs, int64_t *starts, int max);

/*
 * Removes the epoch cache entries that start at or after end_offset, and
 * persists the cache, without touching the log. A follower calls it with
 * its LEO when its truncation point is its LEO: an epoch it began as
 * leader without appending anything starts there, and its new leader
 * never had that epoch (Kafka's truncateTo also truncates the cache when
 * the log is not truncated). Returns 0 or ERR_IO. Thread: any.
 */
int plog_epoch_truncate_end(plog_t *plog, int64_t end_offset);

/* ------------------------------------------------------ configuration */

/*
 * Replaces the log's topic configuration (deep copy). Takes effect at the
 * next append, roll or retention pass. Marks the configuration confirmed
 * (retention runs only on confirmed logs). Returns 0 or ERR_NOMEM.
 * Thread: any; takes the append lock briefly.
 */
int plog_set_conf(plog_t *plog, const struct topic_conf *conf);

/* Deep copy of the current configuration into *out (free with
 * topic_conf_free). Returns 0 or ERR_NOMEM. */
int plog_get_conf(plog_t *plog, struct topic_conf *out);

/* -------------------------------------------- background maintenance */

/*
 * One retention pass at now_ms (wall clock): deletes the oldest segments
 * whose newest record is older than retention.ms, while the log is larger
 * than retention.bytes, or that lie below the log start offset; only
 * segments entirely below the HW, never the active one (which is first
 * rolled if it qualifies and is not empty). Advances the log start offset.
 * Does nothing unless the configuration is confirmed. Returns the number
 * of segments deleted, or ERR_IO/ERR_STATE. Thread: the log manager's
 * background thread (or tests).
 */
int plog_retention(plog_t *plog, int64_t now_ms);

/*
 * Applies flush.ms: requests a flush when the oldest unflushed append is
 * older than flush.ms at now_ms. Thread: background.
 */
void plog_check_flush_time(plog_t *plog, int64_t now_ms);

/*
 * Closes descriptors of segments not used for idle_ms (monotonic ms) and
 * not pinned by a slice, after writing their buffered index entries.
 * Skips the log if an append is in progress. Thread: background.
 */
void plog_sweep_idle(plog_t *plog, int64_t now_mono_ms, int64_t idle_ms);

#endif
