/*
 * log_test_util.h - helpers shared by the storage engine's suites
 * (test_index, test_segment, test_plog, test_recovery, test_retention,
 * test_log_manager, test_fetcher): temporary directories, batch runs whose
 * record values carry a sequence number, a settable clock, a reader that
 * walks a partition log through plog_read and checks every record, and a
 * leader-to-follower copy.
 */
#ifndef FLUXO_LOG_TEST_UTIL_H
#define FLUXO_LOG_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/log/plog.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/topic_conf.h"

/* Creates a fresh directory under $TMPDIR (or /tmp); returns buf. */
char *lt_tmpdir(char *buf, size_t size);
/* Removes a directory tree (bounded depth). */
void lt_rmtree(const char *path);

/* A clock the test sets; lt_clock_fn reads *(int64_t *)arg. */
int64_t lt_clock_fn(void *arg);

/*
 * Appends to out a run of nbatches batches of recs records each, whose
 * values are "seq=<n>" (n counting from *seq, advanced) padded to vlen
 * bytes, timestamps ts, and fills *info with batch_run_validate.
 */
void lt_build_run(struct buf *out, int nbatches, int recs, int vlen, int64_t ts,
		  int64_t *seq, struct batch_run_info *info);

/* Builds and appends a run as leader (epoch) and checks that it worked.
 * Returns the first offset. */
int64_t lt_append(plog_t *plog, int nbatches, int recs, int vlen, int64_t ts,
		  int64_t *seq, int32_t epoch);

/* Per-test topic configuration: built-in defaults with the given sizes. */
void lt_conf(struct topic_conf *tc, int32_t segment_bytes,
	     int32_t index_interval);

/*
 * Reads [from, to) through plog_read slices of at most max_bytes, decoding
 * every record and checking that its value is "seq=<offset + delta>".
 * Returns the number of records read; *batches gets the batch count.
 */
int64_t lt_read_all(plog_t *plog, int64_t from, int64_t to, size_t max_bytes,
		    int64_t delta, int64_t *batches);

/* Copies leader's [from, LEO) into follower with follower appends (the
 * leader's offsets and epochs), checking every step. */
void lt_replicate(plog_t *leader, plog_t *follower, int64_t from);

/* Size of the file at path, or -1. */
int64_t lt_file_size(const char *path);

#endif
