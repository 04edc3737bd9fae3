/*
 * plog_read.c - Fetch reads and ListOffsets-by-time of a partition log.
 *
 * A read returns a slice {fd, position, length} of one segment covering
 * whole batches, for the broker to send with sendfile(2). It runs on a
 * network worker without the append lock: the segment list is read-locked
 * only while the segment is found and referenced, the descriptor is pinned
 * until the slice is released, and everything is bounded by published
 * values (the LEO with its position, the segment's size), so concurrent
 * appends, rolls, retention and flushes never disturb it.
 *
 * Positions come from, cheapest first:
 *   - the segment's base (offset == base is position 0);
 *   - the position cache (plog->posc): slot 0 is the LEO's position,
 *     updated by every append; the other slots remember where recent
 *     slices ended, which is where the same consumer or follower fetches
 *     next. A caught-up reader fetching from the end of its previous slice
 *     up to the LEO (or a HW that was a recent slice end) therefore needs
 *     no system call at all when the bytes fit in max_bytes;
 *   - the offset index plus a forward walk over batch headers
 *     (segment_locate, segment_bound).
 *
 * Threads: any. Locks: segs_lock (read), seg->lock (inside the segment
 * functions), posc_lock; never the append lock.
 */
#include "config.h"
#include "broker/log/plog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/log_int.h"
#include "common/batch.h"
#include "common/err.h"
#include "common/log.h"

/* Batches larger than this are not decoded by ListOffsets-by-time. */
#define TIME_DECODE_MAX (64u << 20)

/*
 * Finds the last segment whose base is <= offset and references it, with
 * the base of the segment after it (INT64_MAX for the active one). When
 * offset is below the first segment, returns the first one.
 */
static struct segment *seg_for(struct plog *plog, int64_t offset,
			       int64_t *next_base, bool *is_last)
{
	struct segment *seg = NULL;
	int lo, hi;

	pthread_rwlock_rdlock(&plog->segs_lock);
	if (plog->nsegs == 0)
		goto out_unlock;
	lo = 0;
	hi = plog->nsegs - 1;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;

		if (plog->segs[mid]->base <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	seg = plog->segs[lo];
	segment_ref(seg);
	*is_last = lo == plog->nsegs - 1;
	*next_base = *is_last ? INT64_MAX : plog->segs[lo + 1]->base;
out_unlock:
	pthread_rwlock_unlock(&plog->segs_lock);
	return seg;
}

static void leo_snapshot(struct plog *plog, int64_t *leo, int64_t *base,
			 int64_t *pos, uint64_t *gen)
{
	pthread_mutex_lock(&plog->posc_lock);
	*gen = plog->posc_gen;
	*leo = plog->posc[0].offset;
	*base = plog->posc[0].seg_base;
	*pos = plog->posc[0].pos;
	pthread_mutex_unlock(&plog->posc_lock);
	if (*leo < 0) {
		*leo = plog_leo(plog);
		*base = -1;
	}
}

static void slice_empty(struct plog_slice *sl, int64_t offset)
{
	memset(sl, 0, sizeof(*sl));
	sl->fd = -1;
	sl->first_offset = offset;
	sl->end_offset = offset;
}

int plog_read(plog_t *plog, int64_t fetch_offset, size_t max_bytes,
	      int64_t max_offset, bool min_one_batch, struct plog_slice *sl)
{
	struct segment *seg = NULL;
	struct batch_loc loc;
	int64_t leo, leo_base, leo_pos, next_base = INT64_MAX, want;
	int64_t start, start_off, end, end_off, limit, end_limit, eff_max;
	bool is_last = false, known_end;
	uint64_t gen;
	int fd = -1, rc, tries;

	slice_empty(sl, fetch_offset);
	if (atomic_load(&plog->deleted))
		return ERR_STATE;
	leo_snapshot(plog, &leo, &leo_base, &leo_pos, &gen);
	if (fetch_offset < plog_log_start(plog) || fetch_offset > leo)
		return ERR_OUT_OF_RANGE;
	if (max_offset < 0 || max_offset > leo)
		max_offset = leo;
	if (fetch_offset >= max_offset)
		return 0;
	if (max_bytes > INT64_MAX / 2)
		max_bytes = INT64_MAX / 2;

	want = fetch_offset;
	for (tries = 0;; tries++) {
		seg = seg_for(plog, want, &next_base, &is_last);
		if (!seg)
			return ERR_OUT_OF_RANGE;
		if (want < seg->base) {
			/* Retention removed it after the log start check. */
			rc = ERR_OUT_OF_RANGE;
			goto err_unref;
		}
		rc = segment_pin(seg, &fd);
		if (rc == ERR_STATE && !atomic_load(&plog->deleted))
			rc = ERR_OUT_OF_RANGE;	/* removed by retention or
						 * truncation meanwhile */
		if (rc)
			goto err_unref;
		limit = segment_size(seg);
		if (want == seg->base) {
			start = 0;
			start_off = seg->base;
			break;
		}
		if (plog_posc_get(plog, want, seg->base, &start)) {
			start_off = want;
			break;
		}
		rc = segment_locate(seg, fd, want, limit, &loc);
		if (rc == 0) {
			start = loc.pos;
			start_off = loc.base;
			break;
		}
		if (rc != ERR_NOT_FOUND)
			goto err_unpin;
		/* Nothing at or after want in this segment: a gap up to the
		 * next one. */
		segment_unpin(seg);
		segment_unref(seg);
		seg = NULL;
		if (is_last || next_base >= max_offset || tries > 2)
			return 0;
		want = next_base;
	}
	if (start_off >= max_offset) {
		rc = 0;
		goto err_unpin;
	}

	/* Where the bytes below max_offset end in this segment. */
	known_end = true;
	eff_max = INT64_MAX;
	if (max_offset >= next_base) {
		end_limit = limit;
		end_off = next_base;
	} else if (max_offset == leo && leo_base == seg->base) {
		end_limit = leo_pos;
		end_off = leo;
	} else if (plog_posc_get(plog, max_offset, seg->base, &end_limit)) {
		end_off = max_offset;
	} else {
		known_end = false;
		end_limit = limit;
		eff_max = max_offset;
	}
	if (end_limit > limit)
		end_limit = limit;

	if (known_end && end_limit - start <= (int64_t)max_bytes) {
		end = end_limit;
	} else {
		int64_t cap = start + (int64_t)max_bytes;

		if (cap > end_limit)
			cap = end_limit;
		rc = segment_bound(seg, fd, start, start_off, eff_max, cap,
				   &end, &end_off);
		if (rc)
			goto err_unpin;
		if (end == start && min_one_batch) {
			rc = segment_read_batch(fd, start, limit, &loc);
			if (rc)
				goto err_unpin;
			if (loc.last < eff_max &&
			    loc.pos + loc.size <= end_limit) {
				end = start + loc.size;
				end_off = loc.last + 1;
			}
		}
	}
	if (end <= start) {
		rc = 0;
		goto err_unpin;
	}
	if (end_off < next_base)
		plog_posc_put(plog, -1, gen, end_off, seg->base, end);
	plog_ref(plog);
	sl->fd = fd;
	sl->pos = start;
	sl->len = (size_t)(end - start);
	sl->first_offset = start_off;
	sl->end_offset = end_off;
	sl->seg = seg;
	sl->plog = plog;
	return 0;

err_unpin:
	segment_unpin(seg);
err_unref:
	segment_unref(seg);
	return rc;
}

void plog_slice_release(struct plog_slice *sl)
{
	if (sl->seg) {
		segment_unpin(sl->seg);
		segment_unref(sl->seg);
		sl->seg = NULL;
	}
	if (sl->plog) {
		plog_unref(sl->plog);
		sl->plog = NULL;
	}
	sl->fd = -1;
}

int plog_slice_copy(const struct plog_slice *sl, void *dst)
{
	uint8_t *p = dst;
	size_t done = 0;

	while (done < sl->len) {
		ssize_t n = pread(sl->fd, p + done, sl->len - done,
				  (off_t)(sl->pos + (int64_t)done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ERR_IO;
		if (n == 0)
			return ERR_CORRUPT;
		done += (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------- offset for time */

/*
 * The first record of the batch at loc with a timestamp >= ts and an offset
 * >= min_off. Falls back to the batch's base offset (at least min_off) when
 * the records cannot be decoded. Returns false when no record qualifies.
 */
static bool exact_record(int fd, const struct batch_loc *loc, int64_t ts,
			 int64_t min_off, int64_t *offset, int64_t *timestamp)
{
	struct batch_reader rd = BATCH_READER_INIT;
	struct record rec;
	uint8_t *buf = NULL;
	size_t got = 0;
	bool found = true;
	int r;

	*offset = loc->base > min_off ? loc->base : min_off;
	*timestamp = loc->max_ts;
	if (loc->size > (int64_t)TIME_DECODE_MAX)
		return true;
	buf = malloc((size_t)loc->size);
	if (!buf)
		return true;
	while (got < (size_t)loc->size) {
		ssize_t n = pread(fd, buf + got, (size_t)loc->size - got,
				  (off_t)(loc->pos + (int64_t)got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out_free;
		got += (size_t)n;
	}
	if (batch_reader_init(&rd, buf, got, TIME_DECODE_MAX) != 0)
		goto out_free;
	found = false;
	while ((r = batch_reader_next(&rd, &rec)) == 1) {
		if (rec.timestamp >= ts && rec.offset >= min_off) {
			*offset = rec.offset;
			*timestamp = rec.timestamp;
			found = true;
			break;
		}
	}
	if (r < 0)
		found = true; /* undecodable: keep the fallback */
out_free:
	batch_reader_free(&rd);
	free(buf);
	return found;
}

int plog_offset_for_time(plog_t *plog, int64_t ts, int64_t max_offset,
			 int64_t *offset, int64_t *timestamp)
{
	struct segment **segs = NULL;
	int64_t leo = plog_leo(plog), ls = plog_log_start(plog);
	int n = 0, rc = ERR_NOT_FOUND;
	bool done = false;

	if (max_offset < 0 || max_offset > leo)
		max_offset = leo;
	pthread_rwlock_rdlock(&plog->segs_lock);
	if (plog->nsegs > 0)
		segs = malloc((size_t)plog->nsegs * sizeof(*segs));
	if (segs) {
		n = plog->nsegs;
		for (int i = 0; i < n; i++) {
			segs[i] = plog->segs[i];
			segment_ref(segs[i]);
		}
	}
	pthread_rwlock_unlock(&plog->segs_lock);
	if (!segs)
		return n == 0 && plog_segment_count(plog) == 0 ? ERR_NOT_FOUND
							       : ERR_NOMEM;

	for (int i = 0; i < n && !done; i++) {
		struct segment *seg = segs[i];
		struct batch_loc loc;
		int64_t pos = 0, limit, ets, eoff;
		int fd, r;

		if (seg->base >= max_offset)
			break;
		if (segment_max_ts(seg) < ts)
			continue;
		r = segment_pin(seg, &fd);
		if (r) {
			rc = r;
			break;
		}
		limit = segment_size(seg);
		/* Every record up to eoff is older than ts: start after it. */
		if (ts > INT64_MIN &&
		    segment_time_floor(seg, ts - 1, &ets, &eoff) == 0) {
			if (segment_locate(seg, fd, eoff + 1, limit, &loc) == 0)
				pos = loc.pos;
			else
				pos = limit;
		}
		while (pos < limit && !done) {
			r = segment_read_batch(fd, pos, limit, &loc);
			if (r) {
				rc = r;
				done = true;
				break;
			}
			if (loc.base >= max_offset) {
				done = true;
				break;
			}
			if (loc.max_ts >= ts && loc.last >= ls &&
			    exact_record(fd, &loc, ts, ls, offset, timestamp)) {
				rc = *offset < max_offset ? 0 : ERR_NOT_FOUND;
				done = true;
				break;
			}
			pos += loc.size;
		}
		segment_unpin(seg);
	}
	for (int i = 0; i < n; i++)
		segment_unref(segs[i]);
	free(segs);
	return rc;
}
