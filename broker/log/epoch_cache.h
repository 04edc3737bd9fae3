/*
 * epoch_cache.h - the leader-epoch cache of a partition: which leader
 * epoch began at which offset (KIP-101), persisted as
 * leader-epoch-checkpoint in the partition dir:
 *
 *   0                      version
 *   <count>
 *   <epoch> <start offset>   (count lines, ascending)
 *
 * Internal to broker/log; the broker reaches it through plog_epoch_*.
 * Every change rewrites the file (a temporary file renamed over it) without
 * an fsync, and marks the cache dirty; epoch_cache_sync() makes it durable
 * and is called by every flush of the partition before the flushed offset
 * advances. Entries of unflushed data are rebuilt from the batches by
 * recovery, so no acknowledged state depends on an unsynced file.
 *
 * Thread: every function locks the cache's own mutex; any thread.
 */
#ifndef FLUXO_LOG_EPOCH_CACHE_H
#define FLUXO_LOG_EPOCH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct epoch_cache;

#define EPOCH_CACHE_FILE "leader-epoch-checkpoint"
/* More entries than this in a file is treated as corruption. */
#define EPOCH_CACHE_MAX 100000

/*
 * Loads dir/leader-epoch-checkpoint. *found is false when the file is
 * missing or unreadable (a corrupt file is logged and ignored: the caller
 * rebuilds the cache from the log). Returns the cache, or NULL with
 * *err = ERR_NOMEM.
 */
struct epoch_cache *epoch_cache_open(const char *dir, bool *found, int *err);
void epoch_cache_close(struct epoch_cache *ec);

/*
 * Kafka's assign: a no-op when epoch equals the latest epoch and
 * start_offset is not lower; otherwise removes every entry whose epoch is
 * >= epoch or whose start is >= start_offset, appends (epoch,
 * start_offset) and rewrites the file. Returns 1 when the cache changed,
 * 0 when not, ERR_INVAL (negative arguments) or ERR_IO.
 */
int epoch_cache_assign(struct epoch_cache *ec, int32_t epoch,
		       int64_t start_offset);

/* The latest epoch, or -1 when empty. */
int32_t epoch_cache_latest(struct epoch_cache *ec);

/*
 * OffsetsForLeaderEpoch (Kafka's endOffsetFor): requested == latest ->
 * (requested, leo); requested unknown but below a known epoch -> (largest
 * epoch <= requested, or requested itself when none is lower; the start of
 * the next higher epoch); requested above every epoch, -1, or an empty
 * cache -> (-1, -1).
 */
void epoch_cache_end_offset(struct epoch_cache *ec, int32_t requested,
			    int64_t leo, int32_t *epoch, int64_t *end_offset);

/* Removes entries whose start offset is >= end_offset. Returns 0 or
 * ERR_IO. */
int epoch_cache_truncate_end(struct epoch_cache *ec, int64_t end_offset);

/* Removes entries that start at or before start_offset, keeping the last
 * of them with its start moved up to start_offset. Returns 0 or ERR_IO. */
int epoch_cache_truncate_start(struct epoch_cache *ec, int64_t start_offset);

/* Removes every entry. Returns 0 or ERR_IO. */
int epoch_cache_clear(struct epoch_cache *ec);

/* fsyncs the file if it changed since the last sync; the caller then
 * fsyncs the directory (the file was renamed into place). Returns 1 when
 * the file was synced, 0 when nothing changed, or ERR_IO. */
int epoch_cache_sync(struct epoch_cache *ec);

/* Copies up to max entries; returns the number of entries in the cache. */
int epoch_cache_entries(struct epoch_cache *ec, int32_t *epochs,
			int64_t *starts, int max);

#endif
