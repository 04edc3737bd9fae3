/*
 * segment.h - one segment of a partition log: <20-digit base>.log with its
 * .index and .timeindex.
 *
 * Internal to broker/log (the body is in log_int.h). A segment is
 * reference counted: the partition's segment list holds one reference, and
 * every read slice and flush holds its own, so a segment removed by
 * retention or truncation stays readable until the last user lets go.
 *
 * Descriptors are opened lazily and may be closed when idle
 * (segment_close_idle): the .log by segment_pin() (which every user of
 * the descriptor calls, and which keeps it open until segment_unpin()),
 * the index files when an index operation needs them.
 *
 * Locks: seg->lock guards the descriptors, the pin count and the indexes.
 * The appender-side functions (segment_append, _truncate_to, _finalize,
 * _recover) additionally require the partition's append lock (or sole
 * ownership during load), which is what serialises writes to the .log.
 */
#ifndef FLUXO_LOG_SEGMENT_H
#define FLUXO_LOG_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

struct segment;
struct plog_env;

/* Length of "<20 digits>" and the largest suffix we use. */
#define SEGMENT_NAME_DIGITS 20
#define SEGMENT_PATH_MAX    4096

/* A batch found in a segment file. */
struct batch_loc {
	int64_t pos;	/* file position */
	int64_t size;	/* total bytes */
	int64_t base;	/* baseOffset */
	int64_t last;	/* baseOffset + lastOffsetDelta */
	int64_t max_ts; /* maxTimestamp */
};

/*
 * Creates a new, empty segment (an existing .log of that base is
 * truncated and stale index files are removed), with the .log open.
 * max_oidx/max_tidx: index capacity in entries. jitter_ms is subtracted
 * from segment.ms for this segment. Returns the segment (one reference) or
 * NULL with *err = ERR_IO or ERR_NOMEM.
 */
struct segment *segment_create(const char *dir, int64_t base, int64_t now_ms,
			       int64_t jitter_ms, uint32_t max_oidx,
			       uint32_t max_tidx, int *err);

/*
 * Describes an existing segment without opening anything but a stat of
 * its .log. Returns the segment or NULL with *err (ERR_IO, ERR_NOMEM).
 */
struct segment *segment_load(const char *dir, int64_t base, int64_t now_ms,
			     uint32_t max_oidx, uint32_t max_tidx, int *err);

void segment_ref(struct segment *seg);
/* The last reference closes the descriptors and frees the segment. */
void segment_unref(struct segment *seg);

int64_t segment_base(const struct segment *seg);
/* Published size in bytes (acquire). */
int64_t segment_size(const struct segment *seg);
/* Offset after the last batch (base when empty). */
int64_t segment_end_offset(const struct segment *seg);
/* Largest maxTimestamp of its batches, -1 when none. */
int64_t segment_max_ts(struct segment *seg);

/* Builds "<dir>/<base:020>.<suffix>" into out. */
void segment_path(const struct segment *seg, const char *suffix, char *out,
		  size_t size);

/*
 * Opens the .log if closed and pins it open. *fd stays valid until the
 * matching segment_unpin(). Returns 0, ERR_IO or ERR_STATE (the segment's
 * files were deleted and the descriptor closed).
 */
int segment_pin(struct segment *seg, int *fd);
void segment_unpin(struct segment *seg);

/* ------------------------------------------------ appender side */

/* Whether a run of len bytes with the given last offset and largest
 * timestamp must go to a new segment (size, age, full index, relative
 * offset overflow). */
bool segment_should_roll(struct segment *seg, size_t len, int64_t last_offset,
			 int64_t run_max_ts, int64_t now_ms,
			 int32_t segment_bytes, int64_t segment_ms);

/*
 * Writes the run buf[0..len) (whole, valid batches with final offsets) at
 * the end of the .log, then adds index entries (every index_interval
 * bytes) and publishes the new size. On a failed or short write the file
 * is cut back to its old length and nothing changes.
 * Returns 0, ERR_NOSPACE, ERR_IO (errno kept), or ERR_STATE.
 */
int segment_append(struct segment *seg, const uint8_t *buf, size_t len,
		   int32_t index_interval,
		   ssize_t (*pwrite_fn)(int, const void *, size_t, off_t));

/*
 * Removes the batch holding offset and everything after it (file, index
 * entries); recomputes the end offset and largest timestamp.
 * Returns 0 or ERR_IO/ERR_CORRUPT.
 */
int segment_truncate_to(struct segment *seg, int64_t offset);

/*
 * The segment stops being the active one: adds the final time index entry,
 * writes buffered index entries to their files and releases the buffers.
 * Returns 0 or ERR_IO (the indexes are hints; the caller logs it).
 */
int segment_finalize(struct segment *seg);

/*
 * Renames the three files to *.deleted and hands them to
 * env->schedule_unlink (or unlinks them). Open descriptors stay valid for
 * pinned users; no new pins are possible. Returns 0 or ERR_IO.
 */
int segment_delete_files(struct segment *seg, const struct plog_env *env,
			 int64_t delay_ms);

/* Marks the files gone (the partition dir was renamed): no new opens. */
void segment_mark_deleted(struct segment *seg);

/* -------------------------------------------------------- readers */

/*
 * Reads the header of the batch at pos (below limit) into *loc.
 * Returns 0, ERR_CORRUPT (bad length or runs past limit), ERR_IO.
 */
int segment_read_batch(int fd, int64_t pos, int64_t limit,
		       struct batch_loc *loc);

/*
 * Finds the batch holding target (the first batch whose last offset is >=
 * target) below limit bytes, starting from the offset index. fd must be
 * pinned. Returns 0, ERR_NOT_FOUND (no such batch below limit), ERR_IO,
 * ERR_CORRUPT.
 */
int segment_locate(struct segment *seg, int fd, int64_t target, int64_t limit,
		   struct batch_loc *loc);

/*
 * From start (a batch boundary holding start_offset), finds the end of the
 * longest run of whole batches that ends at or below cap and whose batches
 * all end below max_offset. Returns 0 with *end_pos (== start when not even
 * the first batch qualifies) and *end_offset (the offset after the run),
 * or ERR_IO/ERR_CORRUPT.
 */
int segment_bound(struct segment *seg, int fd, int64_t start,
		  int64_t start_offset, int64_t max_offset, int64_t cap,
		  int64_t *end_pos, int64_t *end_offset);

/*
 * Floor lookup in the time index: the last entry with timestamp <= ts, as
 * (timestamp, offset). Returns 0, ERR_NOT_FOUND, ERR_IO.
 */
int segment_time_floor(struct segment *seg, int64_t ts, int64_t *entry_ts,
		       int64_t *entry_offset);

/* ------------------------------------------------- flush and sweep */

enum { SEG_SYNC_LOG = 1, SEG_SYNC_INDEXES = 2 };

/*
 * SEG_SYNC_LOG: fdatasyncs the .log. SEG_SYNC_INDEXES: writes buffered
 * index entries and fsyncs the index files that changed since their last
 * sync (an inactive segment about to be trusted, or a clean close).
 * Returns 0, ERR_IO, or ERR_STATE (the segment was deleted).
 */
int segment_sync(struct segment *seg, unsigned what);

/*
 * Closes the descriptors if the segment is unpinned and unused since
 * now_mono_ms - idle_ms, after writing buffered index entries. Returns
 * true when something was closed.
 */
bool segment_close_idle(struct segment *seg, int64_t now_mono_ms,
			int64_t idle_ms);

/* ------------------------------------------------------ recovery */

struct segment_recovery {
	int64_t batches;     /* valid batches kept */
	int64_t valid_bytes; /* bytes kept */
	int64_t cut_bytes;   /* bytes removed from the end */
	const char *why;     /* reason for a cut, static */
};

/*
 * Loads the indexes of a trusted segment with their sanity checks and
 * learns its end offset and largest timestamp (from the time index, and
 * for the last segment of a log by scanning the batches after the last
 * offset index entry). Returns 0, or ERR_CORRUPT when the indexes must be
 * rebuilt (the caller then runs segment_recover), or ERR_IO.
 */
int segment_load_trusted(struct segment *seg, bool is_last);

/*
 * Re-validates every batch (batch_validate: bounds, magic, CRC) and checks
 * that offsets start at or after min_offset and increase; truncates the
 * .log at the first invalid or torn byte and rebuilds both indexes.
 * on_batch (may be NULL) is called for each valid batch with its leader
 * epoch and base offset. scratch is a reusable read buffer.
 * Returns 0 with *rec filled (rec->cut_bytes > 0 when the file was cut),
 * ERR_IO or ERR_NOMEM.
 */
int segment_recover(struct segment *seg, int64_t min_offset,
		    int32_t index_interval,
		    void (*on_batch)(void *arg, int32_t epoch, int64_t base),
		    void *arg, struct buf *scratch,
		    struct segment_recovery *rec);

/* Sets the end offset for a segment whose successor starts at next_base. */
void segment_set_end_offset(struct segment *seg, int64_t end_offset);

/* Reads the first batch's maxTimestamp (the rolling timestamp). */
void segment_load_rolling_ts(struct segment *seg);

#endif
