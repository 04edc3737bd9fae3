/*
 * flusher.h - the group-commit thread of one log directory.
 *
 * Partitions ask for durability with plog_request_flush(); the flusher
 * keeps a queue of partitions with a pending request (each at most once)
 * and, for each, runs one fdatasync pass up to the LEO it sees when it
 * starts that partition. Every request that arrived before that moment is
 * covered by the one fsync, however many produce requests it represents;
 * requests that arrive during the fsync queue the partition again. Segment
 * rolls and the flush.messages / flush.ms policies use the same path, so
 * no fsync ever runs on a network worker.
 *
 * Thread: flusher_enqueue from any thread; start/stop from the owner.
 */
#ifndef FLUXO_LOG_FLUSHER_H
#define FLUXO_LOG_FLUSHER_H

#include <stdint.h>

struct flusher;
struct plog;

/* Starts the thread (named for the log dir in logs). Returns NULL with
 * *err = ERR_NOMEM or ERR_IO. */
struct flusher *flusher_start(const char *name, int *err);

/* Flushes everything still queued, stops and joins the thread, frees.
 * NULL is ignored. */
void flusher_stop(struct flusher *fl);

/* Number of fdatasync passes run so far (for tests and metrics). */
uint64_t flusher_passes(struct flusher *fl);

#endif
