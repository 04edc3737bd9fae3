/*
 * plog_recover.c - loading a partition log from its directory, with
 * recovery after an unclean stop.
 *
 * Steps:
 *  1. List the directory. Leftovers are removed: *.deleted (segments whose
 *     delayed unlink did not happen), *.tmp (half-written checkpoints), and
 *     index files without a .log. Segment names must be exactly 20 digits.
 *     Producer state snapshots are noted for plog_pstate_load.
 *  2. Decide what to trust. After a clean shutdown every segment is
 *     trusted. Otherwise segments entirely below the checkpointed recovery
 *     point are trusted, and the one holding the recovery point and all
 *     later ones are re-validated.
 *  3. Trusted segments get cheap index checks (index.c) and, for the last
 *     one, a walk over the batches after its last index entry to learn the
 *     LEO. A failed check turns the segment into a recovered one.
 *  4. Recovered segments are read sequentially and every batch is
 *     validated (segment_recover); the file is cut at the first invalid or
 *     torn byte, indexes are rebuilt, and every later segment is deleted:
 *     the log is exactly its valid prefix.
 *  5. The leader-epoch cache is rebuilt from batch headers when its file is
 *     missing or corrupt, learns the epochs of recovered batches, and is
 *     truncated to [log start, LEO).
 *  6. Offsets are set: LEO from the last segment, log start = max(the
 *     checkpoint, the first segment's base), HW = the checkpoint clamped to
 *     [log start, LEO], flushed = the recovery point clamped to the LEO
 *     (everything after a clean shutdown). The recovered tail is not
 *     fsynced here: it stays above the recovery point, so a second crash
 *     re-validates it rather than trusting it.
 *
 * Thread: runs in plog_open, before the log is shared (the log manager
 * calls it from several recovery threads, one partition each).
 */
#include "config.h"
#include "broker/log/plog.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_int.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

static void set_err(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!errstr || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errstr, size, fmt, ap);
	va_end(ap);
}

/* Parses "<20 digits>.<suffix>" exactly; returns false otherwise. */
static bool parse_seg_name(const char *name, const char *suffix, int64_t *base)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < SEGMENT_NAME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (v > (uint64_t)INT64_MAX / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX || name[i] != '.' ||
	    strcmp(name + i + 1, suffix) != 0)
		return false;
	*base = (int64_t)v;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct bases {
	int64_t *v;
	size_t n;
	size_t cap;
};

static int bases_push(struct bases *b, int64_t x)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		int64_t *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = x;
	return 0;
}

static bool bases_has(const struct bases *b, int64_t x)
{
	return b->n > 0 &&
	       bsearch(&x, b->v, b->n, sizeof(*b->v), cmp_i64) != NULL;
}

/* Step 1: segment bases, with leftovers removed. */
static int list_dir(struct plog *plog, struct bases *logs, char *errstr,
		    size_t errstr_size)
{
	struct bases idx = {0};
	char path[SEGMENT_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(plog->dir);
	if (!d) {
		set_err(errstr, errstr_size, "cannot list %s: %s", plog->dir,
			strerror(errno));
		return ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		int64_t base;

		if (name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", plog->dir, name);
		if (has_suffix(name, ".deleted") || has_suffix(name, ".tmp")) {
			if (unlink(path) == 0)
				log_info(LOG_FAC, "removed leftover %s", path);
			continue;
		}
		if (parse_seg_name(name, "log", &base))
			rc = bases_push(logs, base);
		else if (parse_seg_name(name, "index", &base) ||
			 parse_seg_name(name, "timeindex", &base))
			rc = bases_push(&idx, base);
		else if (parse_seg_name(name, "snapshot", &base))
			rc = plog_pstate_note_snapshot(plog, base);
		if (rc)
			goto out_close;
	}
	if (logs->n > 1)
		qsort(logs->v, logs->n, sizeof(*logs->v), cmp_i64);
	for (size_t i = 0; i < idx.n; i++) {
		if (bases_has(logs, idx.v[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%020" PRId64 ".index",
			 plog->dir, idx.v[i]);
		(void)unlink(path);
		snprintf(path, sizeof(path), "%s/%020" PRId64 ".timeindex",
			 plog->dir, idx.v[i]);
		(void)unlink(path);
		log_info(LOG_FAC,
			 "removed index files of missing segment %020" PRId64
			 " in %s",
			 idx.v[i], plog->dir);
	}
out_close:
	closedir(d);
	free(idx.v);
	if (rc)
		set_err(errstr, errstr_size, "out of memory listing %s",
			plog->dir);
	return rc;
}

struct epoch_learn {
	struct epoch_cache *ec;
	int32_t latest;
};

static void learn_epoch(void *arg, int32_t epoch, int64_t base)
{
	struct epoch_learn *el = arg;

	if (epoch >= 0 && epoch > el->latest) {
		(void)epoch_cache_assign(el->ec, epoch, base);
		el->latest = epoch;
	}
}

/* Learns epochs of a trusted segment from its batch headers. */
static int scan_epochs(struct segment *seg, struct epoch_learn *el)
{
	int64_t pos = 0, size = segment_size(seg);
	uint8_t hdr[BATCH_OFF_MAGIC];
	int fd, rc;

	rc = segment_pin(seg, &fd);
	if (rc)
		return rc;
	while (pos < size) {
		ssize_t n = pread(fd, hdr, sizeof(hdr), (off_t)pos);
		int64_t len;

		if (n != (ssize_t)sizeof(hdr)) {
			rc = ERR_CORRUPT;
			break;
		}
		len = BATCH_LOG_OVERHEAD +
		      (int64_t)be32_get(hdr + BATCH_OFF_LENGTH);
		if (len < BATCH_HEADER_SIZE || len > size - pos) {
			rc = ERR_CORRUPT;
			break;
		}
		learn_epoch(el, (int32_t)be32_get(hdr + BATCH_OFF_LEADER_EPOCH),
			    (int64_t)be64_get(hdr + BATCH_OFF_BASE_OFFSET));
		pos += len;
	}
	segment_unpin(seg);
	return rc;
}

static int add_segment(struct plog *plog, struct segment *seg)
{
	if (plog->nsegs == plog->segs_cap) {
		int cap = plog->segs_cap ? plog->segs_cap * 2 : 4;
		struct segment **s =
		    realloc(plog->segs, (size_t)cap * sizeof(*s));

		if (!s)
			return ERR_NOMEM;
		plog->segs = s;
		plog->segs_cap = cap;
	}
	plog->segs[plog->nsegs++] = seg;
	return 0;
}

/* Deletes segs[from..) at once (garbage after a cut). */
static void drop_tail(struct plog *plog, int from)
{
	for (int i = from; i < plog->nsegs; i++) {
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " deleting "
			 "segment %020" PRId64 " (%" PRId64
			 " bytes): it follows "
			 "a cut",
			 plog->topic, plog->partition, plog->segs[i]->base,
			 segment_size(plog->segs[i]));
		(void)segment_delete_files(plog->segs[i], NULL, 0);
		segment_unref(plog->segs[i]);
	}
	if (from < plog->nsegs)
		plog->nsegs = from;
}

int plog_load_segments(struct plog *plog, const struct plog_load_opts *opts,
		       bool epochs_found, char *errstr, size_t errstr_size)
{
	struct bases logs = {0};
	struct buf scratch = BUF_INIT;
	struct epoch_learn el;
	struct segment *created = NULL;
	int64_t now = plog_now(plog), t0 = clock_mono_ms();
	int64_t rp =
	    opts && opts->recovery_point >= 0 ? opts->recovery_point : 0;
	int64_t ls_ckpt = opts ? opts->log_start : -1;
	int64_t hw_ckpt = opts ? opts->hw : -1;
	int64_t prev_end = -1, leo, ls, hw, recovered_bytes = 0;
	bool clean = opts && opts->clean, cut = false;
	int first_recover, nrecovered = 0, rc;

	rc = list_dir(plog, &logs, errstr, errstr_size);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < logs.n; i++) {
		struct segment *seg =
		    segment_load(plog->dir, logs.v[i], now, plog_max_oidx(plog),
				 plog_max_tidx(plog), &rc);

		if (!seg || add_segment(plog, seg)) {
			segment_unref(seg);
			set_err(errstr, errstr_size,
				"cannot load segment %020" PRId64 " of %s",
				logs.v[i], plog->dir);
			rc = rc ? rc : ERR_NOMEM;
			goto out_free;
		}
	}

	/* Which segments to re-validate. */
	first_recover = plog->nsegs;
	if (!clean) {
		first_recover = 0;
		for (int i = 1; i < plog->nsegs; i++)
			if (plog->segs[i]->base <= rp)
				first_recover = i;
	}
	epochs_found = epochs_found || plog->nsegs == 0;
	el.ec = plog->epochs;
	if (!epochs_found)
		(void)epoch_cache_clear(plog->epochs);
	el.latest = epoch_cache_latest(plog->epochs);

	for (int i = 0; i < plog->nsegs; i++) {
		struct segment *seg = plog->segs[i];
		bool last = i == plog->nsegs - 1, recover = i >= first_recover;
		struct segment_recovery rec;

		if (!recover) {
			rc = segment_load_trusted(seg, last);
			if (rc == ERR_CORRUPT) {
				log_warn(LOG_FAC,
					 "topic=%s partition=%" PRId32
					 " the indexes of segment %020" PRId64
					 " are missing or fail their check; "
					 "rebuilding them",
					 plog->topic, plog->partition,
					 seg->base);
				recover = true;
			} else if (rc) {
				set_err(errstr, errstr_size,
					"cannot read segment %020" PRId64
					" of %s: %s",
					seg->base, plog->dir, err_str(rc));
				goto out_free;
			} else if (!epochs_found &&
				   scan_epochs(seg, &el) == ERR_CORRUPT) {
				recover = true;
			}
		}
		if (recover) {
			rc = segment_recover(seg, prev_end,
					     plog->conf.index_interval_bytes,
					     learn_epoch, &el, &scratch, &rec);
			if (rc) {
				set_err(errstr, errstr_size,
					"cannot recover segment %020" PRId64
					" of %s: %s",
					seg->base, plog->dir, err_str(rc));
				goto out_free;
			}
			nrecovered++;
			recovered_bytes += rec.valid_bytes;
			if (rec.cut_bytes > 0) {
				log_warn(LOG_FAC,
					 "topic=%s partition=%" PRId32
					 " segment %020" PRId64 ": cut %" PRId64
					 " bytes after %" PRId64 " valid "
					 "batches (%" PRId64 " bytes) at %s",
					 plog->topic, plog->partition,
					 seg->base, rec.cut_bytes, rec.batches,
					 rec.valid_bytes, rec.why);
				cut = true;
			}
		}
		prev_end = segment_end_offset(seg);
		if (cut) {
			drop_tail(plog, i + 1);
			break;
		}
	}
	/* Empty segments in the middle carry nothing; drop them. */
	for (int i = plog->nsegs - 2; i >= 0; i--) {
		if (segment_size(plog->segs[i]) > 0)
			continue;
		(void)segment_delete_files(plog->segs[i], NULL, 0);
		segment_unref(plog->segs[i]);
		memmove(plog->segs + i, plog->segs + i + 1,
			(size_t)(plog->nsegs - i - 1) * sizeof(*plog->segs));
		plog->nsegs--;
	}
	if (plog->nsegs == 0) {
		int64_t start = ls_ckpt > 0 ? ls_ckpt : 0;
		struct segment *seg = segment_create(plog->dir, start, now, 0,
						     plog_max_oidx(plog),
						     plog_max_tidx(plog), &rc);

		created = seg;
		if (!seg || add_segment(plog, seg)) {
			segment_unref(seg);
			rc = rc ? rc : ERR_NOMEM;
			set_err(errstr, errstr_size,
				"cannot create the first segment of %s: %s",
				plog->dir, err_str(rc));
			goto out_free;
		}
		atomic_store(&plog->dir_dirty, true);
	}
	for (int i = 0; i + 1 < plog->nsegs; i++)
		if (segment_end_offset(plog->segs[i]) == plog->segs[i]->base)
			segment_set_end_offset(plog->segs[i],
					       plog->segs[i + 1]->base);
	segment_load_rolling_ts(plog->segs[plog->nsegs - 1]);

	leo = segment_end_offset(plog->segs[plog->nsegs - 1]);
	ls = plog->segs[0]->base;
	if (ls_ckpt > ls)
		ls = ls_ckpt;
	if (ls > leo)
		ls = leo;
	hw = hw_ckpt < ls ? ls : hw_ckpt;
	if (hw > leo)
		hw = leo;
	(void)epoch_cache_truncate_end(plog->epochs, leo);
	(void)epoch_cache_truncate_start(plog->epochs, ls);
	atomic_store(&plog->leo, leo);
	atomic_store(&plog->log_start, ls);
	atomic_store(&plog->hw, hw);
	atomic_store(&plog->flushed, clean ? leo : (rp < leo ? rp : leo));
	plog_segs_published(plog);
	plog_posc_put(plog, 0, 0, leo, plog->segs[plog->nsegs - 1]->base,
		      segment_size(plog->segs[plog->nsegs - 1]));
	/* Nothing loaded stays open: descriptors are reopened on first use
	 * (a segment just created keeps its, it is about to be written). */
	for (int i = 0; i < plog->nsegs; i++)
		if (plog->segs[i] != created)
			(void)segment_close_idle(plog->segs[i], INT64_MAX, 0);
	if (nrecovered > 0 || cut)
		log_info(LOG_FAC,
			 "topic=%s partition=%" PRId32 " recovered %d "
			 "segment(s), %" PRId64 " valid bytes, in %" PRId64
			 " ms; log start %" PRId64 ", LEO %" PRId64,
			 plog->topic, plog->partition, nrecovered,
			 recovered_bytes, clock_mono_ms() - t0, ls, leo);
	rc = 0;
out_free:
	buf_free(&scratch);
	free(logs.v);
	return rc;
}
