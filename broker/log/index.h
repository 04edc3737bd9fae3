/*
 * index.h - a segment's sparse offset index and time index.
 *
 * Internal to broker/log. Two kinds share one structure:
 *
 *   offset index (.index):     8-byte entries, u32 relative offset, u32
 *                              file position (big-endian). An entry (o, p)
 *                              says "the batch whose baseOffset is
 *                              base + o starts at byte p of the .log".
 *   time index (.timeindex):  12-byte entries, i64 timestamp, u32 relative
 *                              offset. An entry (t, o) says "every record
 *                              up to and including offset base + o has a
 *                              timestamp <= t, and the batch ending at
 *                              base + o holds t".
 *
 * Keys (offsets, timestamps) and values (positions, offsets) are strictly
 * increasing within an index. The files hold only written entries: nothing
 * is preallocated or mapped. New entries collect in a small in-memory
 * buffer (grown on demand up to INDEX_PEND_BYTES) that is written to the
 * file when it fills, on index_write_pending() (roll, flush, idle sweep,
 * close), so the append path does one pwrite(2) per INDEX_PEND_BYTES of
 * entries. Lookups binary-search the buffer in memory and the file with
 * pread(2).
 *
 * The file descriptor is opened lazily by the caller (index_open()) and may
 * be closed at any time (index_close_fd()) to keep idle partitions cheap.
 *
 * Thread: none of these functions lock. The owning segment serialises all
 * access with its mutex.
 */
#ifndef FLUXO_LOG_INDEX_H
#define FLUXO_LOG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum index_kind { INDEX_OFFSET = 0, INDEX_TIME = 1 };

#define INDEX_OFFSET_ENTRY 8
#define INDEX_TIME_ENTRY   12
#define INDEX_PEND_BYTES   4096

/* Which field of an entry a lookup searches. */
enum index_field { INDEX_KEY = 0, INDEX_VAL = 1 };

struct log_index {
	int fd;		      /* -1 while closed */
	uint8_t kind;	      /* enum index_kind */
	uint8_t esize;	      /* bytes per entry */
	bool dirty;	      /* written since the last fsync */
	bool trunc_on_open;   /* a new segment's index: the first open
			       * creates or truncates the file */
	uint32_t nfile;	      /* entries in the file */
	uint32_t npend;	      /* entries buffered in pend */
	uint32_t pend_cap;    /* capacity of pend, in entries */
	uint32_t max_entries; /* full at this many */
	uint8_t *pend;
	int64_t base;	  /* the segment's base offset */
	int64_t last_key; /* last entry; INT64_MIN when empty */
	int64_t last_val;
};

/*
 * Initialises an empty, closed index. max_entries is the configured size
 * (segment.index.bytes / entry size, at least 1). No I/O.
 */
void index_init(struct log_index *ix, enum index_kind kind, int64_t base,
		uint32_t max_entries);

/* Frees the buffer and closes the file descriptor. */
void index_destroy(struct log_index *ix);

/*
 * Opens path (creating it when create is true) if the index is closed. The
 * first open of an index marked trunc_on_open truncates the file (a stale
 * file of an earlier segment with the same base). Returns 0, ERR_NOT_FOUND
 * (no file and create false) or ERR_IO.
 */
int index_open(struct log_index *ix, const char *path, bool create);

/* Closes the descriptor (buffered entries are kept). */
void index_close_fd(struct log_index *ix);

/*
 * Reads the existing file at path and checks it cheaply: the size is a
 * whole number of entries, and the last entry lies inside the segment
 * (offset index: position < log_size; time index: offset >= base). Sets
 * nfile and the last entry; leaves the descriptor closed.
 * Returns 0, ERR_NOT_FOUND (no file), ERR_CORRUPT (fails the check) or
 * ERR_IO.
 */
int index_load(struct log_index *ix, const char *path, int64_t log_size);

/* Number of entries (file and buffer). */
static inline uint32_t index_count(const struct log_index *ix)
{
	return ix->nfile + ix->npend;
}

static inline bool index_full(const struct log_index *ix)
{
	return index_count(ix) >= ix->max_entries;
}

/*
 * Appends an entry: offset index (offset, position); time index
 * (timestamp, offset). The key must exceed the last key; otherwise the
 * entry is skipped and 0 returned (entries are hints). Writes the buffer
 * to the file first when it is full, which needs the file open.
 * Returns 0, ERR_NOMEM, ERR_IO or ERR_STATE (buffer full and file closed).
 */
int index_append(struct log_index *ix, int64_t key, int64_t val);

/* True when an append would have to write the buffer to the file. */
bool index_append_needs_fd(const struct log_index *ix);

/*
 * Finds the last entry whose field (INDEX_KEY or INDEX_VAL) is <= target.
 * Needs the file open when nfile > 0 and the answer may lie in the file.
 * Returns 0 with *key and *val set, ERR_NOT_FOUND when no entry qualifies,
 * ERR_STATE (file needed but closed), ERR_IO or ERR_CORRUPT (short read).
 */
int index_floor(struct log_index *ix, enum index_field field, int64_t target,
		int64_t *key, int64_t *val);

/* True when a floor lookup for target may have to read the file. */
bool index_floor_needs_fd(const struct log_index *ix, enum index_field field,
			  int64_t target);

/*
 * Removes every entry whose field is >= target (the file is truncated).
 * Needs the file open when entries must be removed from it.
 * Returns 0, ERR_STATE or ERR_IO.
 */
int index_truncate(struct log_index *ix, enum index_field field,
		   int64_t target);

/* Removes every entry and truncates the file to zero (file must be open
 * if nfile > 0). Returns 0 or ERR_IO. */
int index_reset(struct log_index *ix);

/* Writes buffered entries to the file (must be open). Returns 0 or
 * ERR_IO. */
int index_write_pending(struct log_index *ix);

/* Frees the buffer when it is empty (an inactive or idle segment). */
void index_trim_buffer(struct log_index *ix);

/* fsyncs the file when it changed since the last sync. Returns 0 or
 * ERR_IO. */
int index_sync(struct log_index *ix);

#endif
