/*
 * segment.c - one segment file of a partition log and its two indexes.
 *
 * A segment is the unit of rolling, retention and recovery: record batches
 * back to back in <base>.log, exactly the bytes of common/batch.h, with a
 * sparse offset index and time index beside it (index.c). The .log is
 * written with pwrite(2) at the published size, so a failed write never
 * leaves bytes that a reader could see: the size is published (release)
 * only after the write completed, readers bound everything they do by the
 * size they loaded (acquire), and a failed write is cut back with
 * ftruncate(2). Even if the cut fails, the next append overwrites the same
 * range and recovery would cut the tail.
 *
 * Reading is done by position: a reader pins the descriptor, asks
 * segment_locate() for the batch holding an offset (offset index floor,
 * then a forward walk over batch headers) and segment_bound() for how far
 * whole batches reach within a byte budget. Headers are read through a
 * small cursor that preads 1 KiB at a time, so walking small batches costs
 * one system call per several batches.
 *
 * Index entries are verified when used: an offset index entry must point
 * at a batch with exactly its base offset. A mismatch marks the index bad
 * (lookups then walk from the start of the file) instead of serving bytes
 * from the wrong place; the next load rebuilds it.
 *
 * Recovery (segment_recover) reads the file sequentially in 1 MiB chunks,
 * validates every batch (batch_validate, or a streaming CRC for batches
 * too large for the buffer), rebuilds both indexes, and cuts the file at
 * the first byte that is not part of a valid batch.
 *
 * Threads: see segment.h. Descriptors and indexes are under seg->lock;
 * the appender-side functions also rely on the partition's append lock.
 */
#include "config.h"
#include "broker/log/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/log_int.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"

#define CURSOR_BYTES	1024
#define RECOVER_CHUNK	(1u << 20)
#define RECOVER_BUF_MAX (8u << 20)

/* ------------------------------------------------------------ helpers */

void segment_path(const struct segment *seg, const char *suffix, char *out,
		  size_t size)
{
	snprintf(out, size, "%s/%020" PRId64 ".%s", seg->dir, seg->base,
		 suffix);
}

static int errno_to_err(int e)
{
	return e == ENOSPC || e == EDQUOT ? ERR_NOSPACE : ERR_IO;
}

/* Opens an index's file if closed; seg->lock held. */
static int ix_open(struct segment *seg, struct log_index *ix, bool create)
{
	char path[SEGMENT_PATH_MAX];

	if (ix->fd >= 0)
		return 0;
	if (seg->deleted)
		return ERR_STATE;
	segment_path(seg, ix->kind == INDEX_OFFSET ? "index" : "timeindex",
		     path, sizeof(path));
	return index_open(ix, path, create);
}

static struct segment *segment_new(const char *dir, int64_t base,
				   int64_t now_ms, int64_t jitter_ms,
				   uint32_t max_oidx, uint32_t max_tidx)
{
	struct segment *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return NULL;
	seg->base = base;
	seg->dir = dir;
	atomic_init(&seg->refcnt, 1);
	pthread_mutex_init(&seg->lock, NULL);
	atomic_init(&seg->fd, -1);
	atomic_init(&seg->size, 0);
	atomic_init(&seg->end_offset, base);
	atomic_init(&seg->last_used, clock_mono_ms());
	seg->max_ts = -1;
	seg->max_ts_offset = -1;
	seg->rolling_ts = -1;
	seg->created_ms = now_ms;
	seg->jitter_ms = jitter_ms;
	index_init(&seg->oidx, INDEX_OFFSET, base, max_oidx);
	index_init(&seg->tidx, INDEX_TIME, base, max_tidx);
	return seg;
}

struct segment *segment_create(const char *dir, int64_t base, int64_t now_ms,
			       int64_t jitter_ms, uint32_t max_oidx,
			       uint32_t max_tidx, int *err)
{
	char path[SEGMENT_PATH_MAX];
	struct segment *seg;
	int fd;

	seg = segment_new(dir, base, now_ms, jitter_ms, max_oidx, max_tidx);
	if (!seg) {
		*err = ERR_NOMEM;
		return NULL;
	}
	segment_path(seg, "log", path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*err = errno_to_err(errno);
		log_error(LOG_FAC, "cannot create segment %s: %s", path,
			  strerror(errno));
		goto err_free;
	}
	atomic_store(&seg->fd, fd);
	/* The index files are created (or a stale pair truncated) by their
	 * first write, at the latest when the segment is finalized, so a
	 * segment that becomes trusted always has both. */
	seg->oidx.trunc_on_open = true;
	seg->tidx.trunc_on_open = true;
	return seg;
err_free:
	segment_unref(seg);
	return NULL;
}

struct segment *segment_load(const char *dir, int64_t base, int64_t now_ms,
			     uint32_t max_oidx, uint32_t max_tidx, int *err)
{
	char path[SEGMENT_PATH_MAX];
	struct segment *seg;
	struct stat st;

	seg = segment_new(dir, base, now_ms, 0, max_oidx, max_tidx);
	if (!seg) {
		*err = ERR_NOMEM;
		return NULL;
	}
	segment_path(seg, "log", path, sizeof(path));
	if (stat(path, &st) < 0) {
		*err = ERR_IO;
		segment_unref(seg);
		return NULL;
	}
	atomic_store(&seg->size, (int64_t)st.st_size);
	return seg;
}

void segment_ref(struct segment *seg)
{
	atomic_fetch_add_explicit(&seg->refcnt, 1, memory_order_relaxed);
}

void segment_unref(struct segment *seg)
{
	int fd;

	if (!seg || atomic_fetch_sub_explicit(&seg->refcnt, 1,
					      memory_order_acq_rel) != 1)
		return;
	fd = atomic_load(&seg->fd);
	if (fd >= 0)
		close(fd);
	index_destroy(&seg->oidx);
	index_destroy(&seg->tidx);
	pthread_mutex_destroy(&seg->lock);
	free(seg);
}

int64_t segment_base(const struct segment *seg)
{
	return seg->base;
}

int64_t segment_size(const struct segment *seg)
{
	return atomic_load_explicit(&seg->size, memory_order_acquire);
}

int64_t segment_end_offset(const struct segment *seg)
{
	return atomic_load_explicit(&seg->end_offset, memory_order_acquire);
}

int64_t segment_max_ts(struct segment *seg)
{
	int64_t ts;

	pthread_mutex_lock(&seg->lock);
	ts = seg->max_ts;
	pthread_mutex_unlock(&seg->lock);
	return ts;
}

void segment_set_end_offset(struct segment *seg, int64_t end_offset)
{
	atomic_store_explicit(&seg->end_offset, end_offset,
			      memory_order_release);
}

int segment_pin(struct segment *seg, int *fd)
{
	char path[SEGMENT_PATH_MAX];
	int rc = 0;
	int f;

	pthread_mutex_lock(&seg->lock);
	f = atomic_load_explicit(&seg->fd, memory_order_relaxed);
	if (f < 0) {
		if (seg->deleted) {
			rc = ERR_STATE;
			goto out_unlock;
		}
		segment_path(seg, "log", path, sizeof(path));
		f = open(path, O_RDWR | O_CLOEXEC);
		if (f < 0) {
			log_error(LOG_FAC, "cannot open %s: %s", path,
				  strerror(errno));
			rc = ERR_IO;
			goto out_unlock;
		}
		atomic_store(&seg->fd, f);
	}
	seg->pins++;
	*fd = f;
	atomic_store_explicit(&seg->last_used, clock_mono_ms(),
			      memory_order_relaxed);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	return rc;
}

void segment_unpin(struct segment *seg)
{
	pthread_mutex_lock(&seg->lock);
	seg->pins--;
	pthread_mutex_unlock(&seg->lock);
}

/* ------------------------------------------------------ header cursor */

/* Reads batch headers near each other with few preads. */
struct cursor {
	int fd;
	int64_t limit; /* file bytes that may be read */
	int64_t bpos;  /* file position of buf[0] */
	size_t blen;
	uint8_t buf[CURSOR_BYTES];
};

static void cursor_init(struct cursor *c, int fd, int64_t limit)
{
	c->fd = fd;
	c->limit = limit;
	c->bpos = 0;
	c->blen = 0;
}

static int read_at(int fd, void *buf, size_t len, int64_t pos, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(pos + (int64_t)done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

/*
 * Decodes the header of the batch at pos. The batch must fit below
 * c->limit and have a plausible length.
 */
static int cursor_batch(struct cursor *c, int64_t pos, struct batch_loc *loc)
{
	const uint8_t *p;
	int64_t size;
	int rc;

	if (pos < 0 || c->limit - pos < BATCH_HEADER_SIZE)
		return ERR_CORRUPT;
	if (pos < c->bpos ||
	    pos + BATCH_HEADER_SIZE > c->bpos + (int64_t)c->blen) {
		size_t want = CURSOR_BYTES, got;

		if ((int64_t)want > c->limit - pos)
			want = (size_t)(c->limit - pos);
		rc = read_at(c->fd, c->buf, want, pos, &got);
		if (rc)
			return rc;
		c->bpos = pos;
		c->blen = got;
		if (got < BATCH_HEADER_SIZE)
			return ERR_CORRUPT;
	}
	p = c->buf + (pos - c->bpos);
	size = BATCH_LOG_OVERHEAD + (int64_t)be32_get(p + BATCH_OFF_LENGTH);
	if (size < BATCH_HEADER_SIZE || size > c->limit - pos)
		return ERR_CORRUPT;
	loc->pos = pos;
	loc->size = size;
	loc->base = (int64_t)be64_get(p + BATCH_OFF_BASE_OFFSET);
	loc->last =
	    loc->base + (int32_t)be32_get(p + BATCH_OFF_LAST_OFFSET_DELTA);
	loc->max_ts = (int64_t)be64_get(p + BATCH_OFF_MAX_TIMESTAMP);
	return 0;
}

int segment_read_batch(int fd, int64_t pos, int64_t limit,
		       struct batch_loc *loc)
{
	struct cursor c;

	cursor_init(&c, fd, limit);
	return cursor_batch(&c, pos, loc);
}

/* --------------------------------------------------------- appending */

bool segment_should_roll(struct segment *seg, size_t len, int64_t last_offset,
			 int64_t run_max_ts, int64_t now_ms,
			 int32_t segment_bytes, int64_t segment_ms)
{
	int64_t size = atomic_load_explicit(&seg->size, memory_order_relaxed);
	int64_t waited;
	bool full;

	if (size == 0)
		return false;
	if ((uint64_t)size + len > (uint64_t)segment_bytes ||
	    (uint64_t)size + len > INT32_MAX)
		return true;
	/* Kafka's rule: the incoming records' time against the first
	 * batch's, so replayed old timestamps do not roll per batch; the
	 * wall clock when there are no timestamps. */
	if (seg->rolling_ts >= 0 && run_max_ts >= 0)
		waited = run_max_ts - seg->rolling_ts;
	else
		waited = now_ms - seg->created_ms;
	if (waited > segment_ms - seg->jitter_ms)
		return true;
	if (last_offset - seg->base > INT32_MAX)
		return true;
	pthread_mutex_lock(&seg->lock);
	full = index_full(&seg->oidx) || index_full(&seg->tidx);
	pthread_mutex_unlock(&seg->lock);
	return full;
}

/*
 * Accounts one batch that now lives at pos: largest timestamp, index
 * entries every interval bytes. seg->lock held.
 */
static void note_batch(struct segment *seg, int64_t pos, int64_t base,
		       int64_t last, int64_t max_ts, int64_t size,
		       int32_t interval)
{
	if (max_ts > seg->max_ts) {
		seg->max_ts = max_ts;
		seg->max_ts_offset = last;
	}
	if (pos == 0)
		seg->rolling_ts = max_ts;
	if (seg->bytes_since_index > interval) {
		if (!index_append_needs_fd(&seg->oidx) ||
		    ix_open(seg, &seg->oidx, true) == 0)
			(void)index_append(&seg->oidx, base, pos);
		if (seg->max_ts >= 0 && seg->max_ts > seg->tidx.last_key &&
		    (!index_append_needs_fd(&seg->tidx) ||
		     ix_open(seg, &seg->tidx, true) == 0))
			(void)index_append(&seg->tidx, seg->max_ts,
					   seg->max_ts_offset);
		seg->bytes_since_index = 0;
	}
	seg->bytes_since_index += size;
}

int segment_append(struct segment *seg, const uint8_t *buf, size_t len,
		   int32_t index_interval,
		   ssize_t (*pwrite_fn)(int, const void *, size_t, off_t))
{
	int64_t pos = atomic_load_explicit(&seg->size, memory_order_relaxed);
	int64_t last = -1;
	size_t done = 0, p;
	int fd, rc;

	rc = segment_pin(seg, &fd);
	if (rc)
		return rc;
	if (!pwrite_fn)
		pwrite_fn = pwrite;
	while (done < len) {
		ssize_t n = pwrite_fn(fd, buf + done, len - done,
				      (off_t)(pos + (int64_t)done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			rc = errno_to_err(e);
			if (ftruncate(fd, (off_t)pos) < 0)
				log_warn(LOG_FAC,
					 "cannot cut segment %020" PRId64
					 " in %s back after a failed write: %s",
					 seg->base, seg->dir, strerror(errno));
			errno = e;
			goto out_unpin;
		}
		done += (size_t)n;
	}
	pthread_mutex_lock(&seg->lock);
	for (p = 0; p < len;) {
		const uint8_t *b = buf + p;
		int64_t base = (int64_t)be64_get(b + BATCH_OFF_BASE_OFFSET);
		int64_t size = BATCH_LOG_OVERHEAD +
			       (int64_t)be32_get(b + BATCH_OFF_LENGTH);

		last =
		    base + (int32_t)be32_get(b + BATCH_OFF_LAST_OFFSET_DELTA);
		note_batch(seg, pos + (int64_t)p, base, last,
			   (int64_t)be64_get(b + BATCH_OFF_MAX_TIMESTAMP), size,
			   index_interval);
		p += (size_t)size;
	}
	pthread_mutex_unlock(&seg->lock);
	atomic_store_explicit(&seg->size, pos + (int64_t)len,
			      memory_order_release);
	if (last >= 0)
		atomic_store_explicit(&seg->end_offset, last + 1,
				      memory_order_release);
out_unpin:
	segment_unpin(seg);
	return rc;
}

/*
 * Recomputes max_ts and bytes_since_index by walking the batches after the
 * last offset index entry (all earlier ones are covered by the time
 * index). seg->lock held; fd pinned.
 */
static int rescan_tail(struct segment *seg, int fd, int64_t size,
		       int64_t *end_offset)
{
	struct cursor c;
	struct batch_loc loc;
	int64_t pos = 0;
	int rc;

	seg->max_ts = seg->tidx.last_key >= 0 ? seg->tidx.last_key : -1;
	seg->max_ts_offset = seg->tidx.last_key >= 0 ? seg->tidx.last_val : -1;
	if (index_count(&seg->oidx) > 0)
		pos = seg->oidx.last_val;
	seg->bytes_since_index = 0;
	*end_offset = seg->base;
	cursor_init(&c, fd, size);
	while (pos < size) {
		rc = cursor_batch(&c, pos, &loc);
		if (rc)
			return rc;
		if (pos == seg->oidx.last_val && loc.base != seg->oidx.last_key)
			return ERR_CORRUPT;
		if (loc.max_ts > seg->max_ts) {
			seg->max_ts = loc.max_ts;
			seg->max_ts_offset = loc.last;
		}
		seg->bytes_since_index += loc.size;
		*end_offset = loc.last + 1;
		pos += loc.size;
	}
	return 0;
}

int segment_truncate_to(struct segment *seg, int64_t offset)
{
	struct batch_loc loc;
	int64_t size = segment_size(seg), end;
	int fd, rc;

	rc = segment_pin(seg, &fd);
	if (rc)
		return rc;
	if (offset <= seg->base) {
		loc.pos = 0;
		loc.base = seg->base;
	} else {
		rc = segment_locate(seg, fd, offset, size, &loc);
		if (rc == ERR_NOT_FOUND) {
			rc = 0;
			goto out_unpin;
		}
		if (rc)
			goto out_unpin;
	}
	if (ftruncate(fd, (off_t)loc.pos) < 0) {
		rc = ERR_IO;
		goto out_unpin;
	}
	pthread_mutex_lock(&seg->lock);
	if ((index_count(&seg->oidx) > 0 && ix_open(seg, &seg->oidx, true)) ||
	    (index_count(&seg->tidx) > 0 && ix_open(seg, &seg->tidx, true))) {
		rc = ERR_IO;
		goto out_unlock;
	}
	rc = index_truncate(&seg->oidx, INDEX_KEY, loc.base);
	if (!rc)
		rc = index_truncate(&seg->tidx, INDEX_VAL, loc.base);
	if (rc)
		goto out_unlock;
	rc = rescan_tail(seg, fd, loc.pos, &end);
	if (rc)
		goto out_unlock;
	if (loc.pos == 0)
		seg->rolling_ts = -1;
	atomic_store_explicit(&seg->size, loc.pos, memory_order_release);
	atomic_store_explicit(&seg->end_offset, loc.pos ? end : seg->base,
			      memory_order_release);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
out_unpin:
	segment_unpin(seg);
	return rc;
}

/* Writes an index's buffered entries; seg->lock held. */
static int ix_flush_pending(struct segment *seg, struct log_index *ix)
{
	int rc;

	if (ix->npend == 0)
		return 0;
	rc = ix_open(seg, ix, true);
	if (!rc)
		rc = index_write_pending(ix);
	return rc;
}

int segment_finalize(struct segment *seg)
{
	int rc, rc2;

	pthread_mutex_lock(&seg->lock);
	if (seg->max_ts >= 0 && seg->max_ts > seg->tidx.last_key &&
	    (!index_append_needs_fd(&seg->tidx) ||
	     ix_open(seg, &seg->tidx, true) == 0))
		(void)index_append(&seg->tidx, seg->max_ts, seg->max_ts_offset);
	rc = ix_flush_pending(seg, &seg->oidx);
	rc2 = ix_flush_pending(seg, &seg->tidx);
	/* Files that were never written must exist all the same. */
	if (!rc && seg->oidx.trunc_on_open)
		rc = ix_open(seg, &seg->oidx, true);
	if (!rc2 && seg->tidx.trunc_on_open)
		rc2 = ix_open(seg, &seg->tidx, true);
	index_trim_buffer(&seg->oidx);
	index_trim_buffer(&seg->tidx);
	/* An inactive segment's indexes are only read: reopen on demand. */
	index_close_fd(&seg->oidx);
	index_close_fd(&seg->tidx);
	pthread_mutex_unlock(&seg->lock);
	return rc ? rc : rc2;
}

int segment_delete_files(struct segment *seg, const struct plog_env *env,
			 int64_t delay_ms)
{
	static const char *const sfx[] = {"log", "index", "timeindex"};
	char from[SEGMENT_PATH_MAX], to[SEGMENT_PATH_MAX + 16];
	int rc = 0;

	pthread_mutex_lock(&seg->lock);
	seg->deleted = true;
	pthread_mutex_unlock(&seg->lock);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		segment_path(seg, sfx[i], from, sizeof(from));
		snprintf(to, sizeof(to), "%s.deleted", from);
		if (rename(from, to) < 0) {
			if (errno != ENOENT) {
				log_warn(LOG_FAC, "cannot rename %s: %s", from,
					 strerror(errno));
				rc = ERR_IO;
			}
			continue;
		}
		if (env && env->schedule_unlink)
			env->schedule_unlink(env->unlink_arg, to, delay_ms);
		else if (unlink(to) < 0)
			log_warn(LOG_FAC, "cannot remove %s: %s", to,
				 strerror(errno));
	}
	return rc;
}

void segment_mark_deleted(struct segment *seg)
{
	pthread_mutex_lock(&seg->lock);
	seg->deleted = true;
	pthread_mutex_unlock(&seg->lock);
}

/* ----------------------------------------------------------- reading */

/* Floor lookup in the offset index by field; -1/NOT_FOUND when unusable. */
static int oidx_floor(struct segment *seg, enum index_field field,
		      int64_t target, int64_t *key, int64_t *val)
{
	int rc;

	pthread_mutex_lock(&seg->lock);
	if (seg->idx_bad) {
		rc = ERR_NOT_FOUND;
		goto out_unlock;
	}
	if (index_floor_needs_fd(&seg->oidx, field, target)) {
		rc = ix_open(seg, &seg->oidx, false);
		if (rc) {
			rc = ERR_NOT_FOUND;
			goto out_unlock;
		}
	}
	rc = index_floor(&seg->oidx, field, target, key, val);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	return rc;
}

static void mark_index_bad(struct segment *seg, int64_t key, int64_t pos,
			   int64_t found)
{
	pthread_mutex_lock(&seg->lock);
	if (!seg->idx_bad)
		log_warn(LOG_FAC,
			 "offset index of segment %020" PRId64
			 " in %s is wrong "
			 "(entry %" PRId64 " at position %" PRId64
			 " finds offset %" PRId64 "); scanning instead, it is "
			 "rebuilt at the next start",
			 seg->base, seg->dir, key, pos, found);
	seg->idx_bad = true;
	pthread_mutex_unlock(&seg->lock);
}

int segment_locate(struct segment *seg, int fd, int64_t target, int64_t limit,
		   struct batch_loc *loc)
{
	struct cursor c;
	int64_t key = -1, pos = 0;
	bool indexed = false;
	int rc;

	if (oidx_floor(seg, INDEX_KEY, target, &key, &pos) == 0 && pos < limit)
		indexed = true;
	else
		pos = 0;
	cursor_init(&c, fd, limit);
	while (pos < limit) {
		rc = cursor_batch(&c, pos, loc);
		if (rc)
			return rc;
		if (indexed) {
			indexed = false;
			if (loc->base != key) {
				mark_index_bad(seg, key, pos, loc->base);
				pos = 0;
				continue;
			}
		}
		if (loc->last >= target)
			return 0;
		pos += loc->size;
	}
	return ERR_NOT_FOUND;
}

int segment_bound(struct segment *seg, int fd, int64_t start,
		  int64_t start_offset, int64_t max_offset, int64_t cap,
		  int64_t *end_pos, int64_t *end_offset)
{
	struct cursor c;
	struct batch_loc loc;
	int64_t pos = start, off = start_offset, key = -1, val = -1;
	bool jumped = false;
	int rc;

	/* Skip ahead with the index to the last boundary that is both
	 * within cap and not beyond max_offset. */
	if (oidx_floor(seg, INDEX_VAL, cap, &key, &val) == 0) {
		if (key > max_offset &&
		    oidx_floor(seg, INDEX_KEY, max_offset, &key, &val) != 0)
			val = -1;
		if (val > start && val <= cap && key <= max_offset) {
			pos = val;
			off = key;
			jumped = true;
		}
	}
	cursor_init(&c, fd, segment_size(seg));
	while (pos < cap) {
		rc = cursor_batch(&c, pos, &loc);
		if (rc)
			return rc;
		if (jumped) {
			jumped = false;
			if (loc.base != key) {
				mark_index_bad(seg, key, pos, loc.base);
				pos = start;
				off = start_offset;
				continue;
			}
		}
		if (loc.last >= max_offset || loc.size > cap - pos)
			break;
		pos += loc.size;
		off = loc.last + 1;
	}
	if (jumped && pos >= cap) {
		/* Landed exactly on cap: verify that entry too. */
		rc = cursor_batch(&c, pos, &loc);
		if (rc == 0 && loc.base != key) {
			mark_index_bad(seg, key, pos, loc.base);
			return segment_bound(seg, fd, start, start_offset,
					     max_offset, cap, end_pos,
					     end_offset);
		}
	}
	*end_pos = pos;
	*end_offset = off;
	return 0;
}

int segment_time_floor(struct segment *seg, int64_t ts, int64_t *entry_ts,
		       int64_t *entry_offset)
{
	int rc;

	pthread_mutex_lock(&seg->lock);
	if (index_floor_needs_fd(&seg->tidx, INDEX_KEY, ts)) {
		rc = ix_open(seg, &seg->tidx, false);
		if (rc) {
			rc = ERR_NOT_FOUND;
			goto out_unlock;
		}
	}
	rc = index_floor(&seg->tidx, INDEX_KEY, ts, entry_ts, entry_offset);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	return rc;
}

/* ------------------------------------------------------ flush, sweep */

/* Writes, fsyncs and closes an index (reopened lazily when needed). */
static int ix_sync(struct segment *seg, struct log_index *ix)
{
	int rc = ix_flush_pending(seg, ix);

	if (!rc && ix->dirty) {
		rc = ix_open(seg, ix, true);
		if (!rc)
			rc = index_sync(ix);
	}
	index_close_fd(ix);
	return rc;
}

int segment_sync(struct segment *seg, unsigned what)
{
	int fd, rc = 0;

	if (what & SEG_SYNC_LOG) {
		rc = segment_pin(seg, &fd);
		if (rc)
			return rc;
		if (fdatasync(fd) < 0) {
			log_error(LOG_FAC,
				  "fdatasync of segment %020" PRId64
				  " in %s failed: %s",
				  seg->base, seg->dir, strerror(errno));
			rc = ERR_IO;
		}
		segment_unpin(seg);
	}
	if (rc || !(what & SEG_SYNC_INDEXES))
		return rc;
	pthread_mutex_lock(&seg->lock);
	if (seg->deleted) {
		rc = ERR_STATE;
	} else {
		rc = ix_sync(seg, &seg->oidx);
		if (!rc)
			rc = ix_sync(seg, &seg->tidx);
	}
	pthread_mutex_unlock(&seg->lock);
	return rc;
}

bool segment_close_idle(struct segment *seg, int64_t now_mono_ms,
			int64_t idle_ms)
{
	bool closed = false;
	int fd;

	pthread_mutex_lock(&seg->lock);
	if (seg->pins > 0 ||
	    now_mono_ms - atomic_load(&seg->last_used) < idle_ms)
		goto out_unlock;
	if (!seg->deleted) {
		(void)ix_flush_pending(seg, &seg->oidx);
		(void)ix_flush_pending(seg, &seg->tidx);
	}
	index_trim_buffer(&seg->oidx);
	index_trim_buffer(&seg->tidx);
	if (seg->oidx.fd >= 0 || seg->tidx.fd >= 0)
		closed = true;
	index_close_fd(&seg->oidx);
	index_close_fd(&seg->tidx);
	fd = atomic_load(&seg->fd);
	if (fd >= 0 && !seg->deleted) {
		close(fd);
		atomic_store(&seg->fd, -1);
		closed = true;
	}
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	return closed;
}

/* ----------------------------------------------------------- loading */

void segment_load_rolling_ts(struct segment *seg)
{
	struct batch_loc loc;
	int fd;

	if (segment_size(seg) == 0 || segment_pin(seg, &fd))
		return;
	if (segment_read_batch(fd, 0, segment_size(seg), &loc) == 0) {
		pthread_mutex_lock(&seg->lock);
		seg->rolling_ts = loc.max_ts;
		pthread_mutex_unlock(&seg->lock);
	}
	segment_unpin(seg);
}

int segment_load_trusted(struct segment *seg, bool is_last)
{
	char path[SEGMENT_PATH_MAX];
	int64_t size = segment_size(seg), end;
	int fd = -1, rc;

	pthread_mutex_lock(&seg->lock);
	segment_path(seg, "index", path, sizeof(path));
	rc = index_load(&seg->oidx, path, size);
	if (rc == 0) {
		segment_path(seg, "timeindex", path, sizeof(path));
		rc = index_load(&seg->tidx, path, size);
	}
	if (rc == ERR_NOT_FOUND)
		rc = ERR_CORRUPT;
	if (rc)
		goto out_unlock;
	/* Every non-empty segment that was finalized holds a time entry. */
	if (size > 0 && index_count(&seg->tidx) == 0) {
		rc = ERR_CORRUPT;
		goto out_unlock;
	}
	seg->max_ts = seg->tidx.last_key >= 0 ? seg->tidx.last_key : -1;
	seg->max_ts_offset = seg->tidx.last_key >= 0 ? seg->tidx.last_val : -1;
	if (!is_last)
		goto out_unlock;
	pthread_mutex_unlock(&seg->lock);
	rc = segment_pin(seg, &fd);
	pthread_mutex_lock(&seg->lock);
	if (rc)
		goto out_unlock;
	rc = rescan_tail(seg, fd, size, &end);
	if (rc == 0)
		atomic_store(&seg->end_offset, end);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	if (fd >= 0)
		segment_unpin(seg);
	if (rc == ERR_CORRUPT)
		seg->oidx.nfile = seg->tidx.nfile = 0;
	return rc;
}

/* --------------------------------------------------------- recovery */

/*
 * Validates a batch too large for the recovery buffer by streaming its
 * CRC. hdr holds its first BATCH_HEADER_SIZE bytes.
 */
static int validate_large(int fd, int64_t pos, int64_t size, const uint8_t *hdr)
{
	struct batch_header h;
	uint8_t *chunk;
	uint32_t crc = 0;
	int64_t at = pos + BATCH_OFF_ATTRIBUTES, end = pos + size;
	int rc = 0;

	batch_header_decode(hdr, BATCH_HEADER_SIZE, &h);
	if (h.magic != BATCH_MAGIC || h.records_count < 1 ||
	    h.last_offset_delta != h.records_count - 1 || batch_codec(&h) > 4 ||
	    (h.max_timestamp < h.first_timestamp &&
	     !(h.max_timestamp == -1 && h.first_timestamp == -1)))
		return ERR_CORRUPT;
	chunk = malloc(RECOVER_CHUNK);
	if (!chunk)
		return ERR_NOMEM;
	while (at < end) {
		size_t want = RECOVER_CHUNK, got;

		if ((int64_t)want > end - at)
			want = (size_t)(end - at);
		rc = read_at(fd, chunk, want, at, &got);
		if (rc)
			goto out_free;
		if (got < want) {
			rc = ERR_TRUNCATED;
			goto out_free;
		}
		crc = crc32c(crc, chunk, got);
		at += (int64_t)got;
	}
	if (crc != h.crc)
		rc = ERR_CORRUPT;
out_free:
	free(chunk);
	return rc;
}

/* Makes file bytes [pos, pos + need) available in the window. */
struct window {
	struct buf *b;
	int fd;
	int64_t start; /* file position of b->data[0] */
	int64_t file_size;
};

static int window_get(struct window *w, int64_t pos, size_t need,
		      const uint8_t **p)
{
	struct buf *b = w->b;

	if (pos < w->start ||
	    pos + (int64_t)need > w->start + (int64_t)b->len) {
		size_t keep = 0, want;

		if (pos >= w->start && pos < w->start + (int64_t)b->len) {
			keep = (size_t)(w->start + (int64_t)b->len - pos);
			memmove(b->data, b->data + (pos - w->start), keep);
		}
		b->len = keep;
		w->start = pos;
		want = need > RECOVER_CHUNK ? need : RECOVER_CHUNK;
		if ((int64_t)want > w->file_size - pos)
			want = (size_t)(w->file_size - pos);
		if (want > b->len) {
			size_t got;
			int rc;

			if (buf_reserve(b, want - b->len))
				return ERR_NOMEM;
			rc = read_at(w->fd, b->data + b->len, want - b->len,
				     pos + (int64_t)b->len, &got);
			if (rc)
				return rc;
			b->len += got;
		}
		if (b->len < need)
			return ERR_TRUNCATED;
	}
	*p = b->data + (pos - w->start);
	return 0;
}

int segment_recover(struct segment *seg, int64_t min_offset,
		    int32_t index_interval,
		    void (*on_batch)(void *arg, int32_t epoch, int64_t base),
		    void *arg, struct buf *scratch,
		    struct segment_recovery *rec)
{
	struct window w;
	int64_t size = segment_size(seg), pos = 0;
	int64_t expect = min_offset > seg->base ? min_offset : seg->base;
	int64_t end_offset = seg->base;
	const char *why = NULL;
	int fd, rc;

	memset(rec, 0, sizeof(*rec));
	rc = segment_pin(seg, &fd);
	if (rc)
		return rc;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	pthread_mutex_lock(&seg->lock);
	seg->idx_bad = false;
	rc = ix_open(seg, &seg->oidx, true);
	if (!rc)
		rc = index_reset(&seg->oidx);
	if (!rc)
		rc = ix_open(seg, &seg->tidx, true);
	if (!rc)
		rc = index_reset(&seg->tidx);
	if (rc)
		goto out_unlock;
	seg->max_ts = -1;
	seg->max_ts_offset = -1;
	seg->rolling_ts = -1;
	seg->bytes_since_index = 0;
	scratch->len = 0;
	w.b = scratch;
	w.fd = fd;
	w.start = 0;
	w.file_size = size;
	while (pos < size) {
		struct batch_header h;
		const uint8_t *p;
		int64_t total;

		if (size - pos < BATCH_HEADER_SIZE) {
			why = "a torn batch header at the end";
			break;
		}
		rc = window_get(&w, pos, BATCH_HEADER_SIZE, &p);
		if (rc == ERR_TRUNCATED) {
			why = "the file ending early";
			rc = 0;
			break;
		}
		if (rc)
			goto out_unlock;
		total = BATCH_LOG_OVERHEAD +
			(int64_t)be32_get(p + BATCH_OFF_LENGTH);
		if (total < BATCH_HEADER_SIZE) {
			why = "an impossible batch length";
			break;
		}
		if (total > size - pos) {
			why = "a torn batch at the end";
			break;
		}
		if (total > (int64_t)RECOVER_BUF_MAX) {
			uint8_t hdr[BATCH_HEADER_SIZE];

			memcpy(hdr, p, sizeof(hdr));
			rc = validate_large(fd, pos, total, hdr);
			if (rc == ERR_NOMEM || rc == ERR_IO)
				goto out_unlock;
			batch_header_decode(hdr, sizeof(hdr), &h);
		} else {
			rc = window_get(&w, pos, (size_t)total, &p);
			if (rc == ERR_TRUNCATED) {
				why = "the file ending early";
				rc = 0;
				break;
			}
			if (rc)
				goto out_unlock;
			rc =
			    batch_validate(p, (size_t)total, (size_t)total, &h);
		}
		if (rc) {
			why =
			    "a batch failing validation (CRC, magic or fields)";
			rc = 0;
			break;
		}
		if (h.base_offset < expect) {
			why = "offsets going backwards";
			break;
		}
		if (batch_last_offset(&h) - seg->base > INT32_MAX) {
			why = "an offset too far from the segment's base";
			break;
		}
		note_batch(seg, pos, h.base_offset, batch_last_offset(&h),
			   h.max_timestamp, total, index_interval);
		if (on_batch)
			on_batch(arg, h.partition_leader_epoch, h.base_offset);
		expect = batch_last_offset(&h) + 1;
		end_offset = expect;
		rec->batches++;
		pos += total;
	}
	if (pos < size) {
		if (ftruncate(fd, (off_t)pos) < 0) {
			rc = ERR_IO;
			goto out_unlock;
		}
		rec->cut_bytes = size - pos;
		rec->why = why;
	}
	rec->valid_bytes = pos;
	rc = ix_flush_pending(seg, &seg->oidx);
	if (!rc)
		rc = ix_flush_pending(seg, &seg->tidx);
	atomic_store(&seg->size, pos);
	atomic_store(&seg->end_offset, end_offset);
out_unlock:
	pthread_mutex_unlock(&seg->lock);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL);
	segment_unpin(seg);
	return rc;
}
