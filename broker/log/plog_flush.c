/*
 * plog_flush.c - durability, retention, idle sweeping and the clean close
 * of a partition log.
 *
 * Flushing. The flushed offset (Kafka's recovery point) only advances after
 * an fdatasync of every segment holding data below it, of the leader-epoch
 * checkpoint, and of the partition directory when files were created or
 * removed since the last flush. Flushes serialise on plog->flush_lock,
 * never the append lock, so appends continue during an fsync; the fsync
 * covers at least everything below the LEO read when the flush started.
 * Inactive segments are synced with their index files (they are trusted
 * after a restart); the active segment's indexes are rebuilt by recovery
 * anyway and are synced only at close. A failed fsync marks the partition
 * failed for good: after such a failure the kernel may have dropped the
 * dirty pages, so a later successful fsync proves nothing.
 *
 * Retention follows Kafka: three passes over the oldest segments (time,
 * size, log start offset), each deleting while its condition holds, only
 * segments entirely below the high watermark; the active segment is rolled
 * first when it qualifies and is not empty. The same pass forgets
 * idempotent producers silent for longer than the producer expiry (as
 * Kafka 2.8, a producer's state outlives the retention of its batches).
 *
 * plog_snapshot_producers, after a clean close, writes the producer state
 * snapshot at the LEO.
 *
 * Threads: plog_flush on any thread that may block; plog_request_flush on
 * any thread; retention, flush-time checks and sweeps on the log manager's
 * background thread.
 */
#include "config.h"
#include "broker/log/plog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/log/checkpoint.h"
#include "broker/log/flusher.h"
#include "broker/log/log_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

static void atomic_max64(_Atomic int64_t *v, int64_t x)
{
	int64_t cur = atomic_load(v);

	while (cur < x && !atomic_compare_exchange_weak(v, &cur, x))
		;
}

/* fsyncs the directory holding dir (a new partition's log dir entry). */
static int sync_parent(const char *dir)
{
	char parent[SEGMENT_PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash)
		return ckpt_sync_dir(".");
	if (slash == parent)
		slash++;
	*slash = '\0';
	return ckpt_sync_dir(parent);
}

/*
 * Makes [flushed, upto) durable. at_close additionally syncs the index
 * files of the active segment and every index still dirty.
 */
static int flush_upto(struct plog *plog, int64_t upto, bool at_close)
{
	struct segment **segs = NULL;
	unsigned *what = NULL;
	int64_t cur, leo;
	bool advanced = false;
	int n = 0, rc = 0;

	pthread_mutex_lock(&plog->flush_lock);
	if (atomic_load(&plog->deleted))
		goto out_unlock;
	if (atomic_load(&plog->failed)) {
		rc = ERR_IO;
		goto out_unlock;
	}
	leo = plog_leo(plog);
	if (upto > leo)
		upto = leo;
	cur = plog_flushed(plog);
	if (upto <= cur && !at_close && !atomic_load(&plog->dir_dirty) &&
	    !atomic_load(&plog->parent_dirty))
		goto out_unlock;

	pthread_rwlock_rdlock(&plog->segs_lock);
	segs = malloc((size_t)plog->nsegs * sizeof(*segs));
	what = malloc((size_t)plog->nsegs * sizeof(*what));
	if (!segs || !what) {
		pthread_rwlock_unlock(&plog->segs_lock);
		rc = ERR_NOMEM;
		goto out_unlock;
	}
	for (int i = 0; i < plog->nsegs; i++) {
		struct segment *seg = plog->segs[i];
		bool last = i == plog->nsegs - 1;
		int64_t next = last ? INT64_MAX : plog->segs[i + 1]->base;
		unsigned w = 0;

		/* Unflushed data in [cur, upto): the .log, and the indexes
		 * of an inactive segment, which becomes trusted. */
		if (upto > cur && next > cur && seg->base < upto)
			w = SEG_SYNC_LOG | (last ? 0 : SEG_SYNC_INDEXES);
		if (at_close)
			w |= SEG_SYNC_INDEXES;
		if (w) {
			segment_ref(seg);
			what[n] = w;
			segs[n++] = seg;
		}
	}
	pthread_rwlock_unlock(&plog->segs_lock);

	for (int i = 0; i < n && !rc; i++) {
		int r = segment_sync(segs[i], what[i]);

		if (r == ERR_STATE)
			continue; /* deleted meanwhile */
		rc = r;
	}
	if (!rc) {
		int r = epoch_cache_sync(plog->epochs);

		if (r < 0)
			rc = ERR_IO;
		else if (r > 0) /* renamed into place: sync the dir */
			atomic_store(&plog->dir_dirty, true);
	}
	if (!rc && atomic_exchange(&plog->dir_dirty, false) &&
	    ckpt_sync_dir(plog->dir)) {
		atomic_store(&plog->dir_dirty, true);
		rc = ERR_IO;
	}
	if (!rc && atomic_exchange(&plog->parent_dirty, false) &&
	    sync_parent(plog->dir)) {
		atomic_store(&plog->parent_dirty, true);
		rc = ERR_IO;
	}
	if (rc) {
		log_error(LOG_FAC,
			  "topic=%s partition=%" PRId32 " flush failed "
			  "(%s); the partition refuses writes until it is "
			  "reloaded",
			  plog->topic, plog->partition, err_str(rc));
		atomic_store(&plog->failed, true);
		goto out_unlock;
	}
	if (upto > cur) {
		atomic_store_explicit(&plog->flushed, upto,
				      memory_order_release);
		atomic_store(&plog->oldest_unflushed_ms,
			     upto >= plog_leo(plog) ? 0 : plog_now(plog));
		advanced = true;
	}
out_unlock:
	pthread_mutex_unlock(&plog->flush_lock);
	for (int i = 0; i < n; i++)
		segment_unref(segs[i]);
	free(segs);
	free(what);
	if (advanced)
		plog_notify(plog, PLOG_EV_FLUSHED);
	return rc;
}

int plog_flush(plog_t *plog, int64_t upto)
{
	return flush_upto(plog, upto, false);
}

void plog_request_flush(plog_t *plog, int64_t upto)
{
	const struct plog_env *env = plog->env;

	if (upto <= plog_flushed(plog) && !atomic_load(&plog->dir_dirty) &&
	    !atomic_load(&plog->parent_dirty))
		return;
	if (!env || !env->flusher) {
		(void)flush_upto(plog, upto, false);
		return;
	}
	if (!atomic_exchange(&plog->flush_queued, true))
		flusher_enqueue(env->flusher, plog);
}

void plog_flush_queued(struct plog *plog)
{
	/* The LEO now covers every request made before this moment. */
	(void)flush_upto(plog, plog_leo(plog), false);
}

void plog_check_flush_time(plog_t *plog, int64_t now_ms)
{
	int64_t oldest = atomic_load(&plog->oldest_unflushed_ms);
	int64_t flush_ms;

	if (oldest == 0 || plog_flushed(plog) >= plog_leo(plog))
		return;
	pthread_mutex_lock(&plog->lock);
	flush_ms = plog->conf.flush_ms;
	pthread_mutex_unlock(&plog->lock);
	if (now_ms - oldest >= flush_ms)
		plog_request_flush(plog, plog_leo(plog));
}

void plog_sweep_idle(plog_t *plog, int64_t now_mono_ms, int64_t idle_ms)
{
	if (pthread_mutex_trylock(&plog->lock) != 0)
		return;
	pthread_rwlock_rdlock(&plog->segs_lock);
	for (int i = 0; i < plog->nsegs; i++)
		(void)segment_close_idle(plog->segs[i], now_mono_ms, idle_ms);
	pthread_rwlock_unlock(&plog->segs_lock);
	pthread_mutex_unlock(&plog->lock);
}

int plog_close(plog_t *plog)
{
	int rc;

	pthread_mutex_lock(&plog->lock);
	if (atomic_exchange(&plog->closed, true) ||
	    atomic_load(&plog->deleted)) {
		pthread_mutex_unlock(&plog->lock);
		return 0;
	}
	rc = segment_finalize(plog->segs[plog->nsegs - 1]);
	pthread_mutex_unlock(&plog->lock);
	if (rc)
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " cannot write "
			 "its indexes at close: %s",
			 plog->topic, plog->partition, err_str(rc));
	rc = flush_upto(plog, plog_leo(plog), true);
	/* Release every descriptor; late readers reopen lazily. */
	plog_sweep_idle(plog, INT64_MAX, 0);
	return rc;
}

int plog_snapshot_producers(plog_t *plog)
{
	int rc = 0;

	pthread_mutex_lock(&plog->lock);
	if (!atomic_load(&plog->deleted))
		rc = plog_pstate_snapshot(plog, PLOG_SNAPSHOT_MIN_REPLAY);
	pthread_mutex_unlock(&plog->lock);
	return rc;
}

/* ---------------------------------------------------------- retention */

/* The newest timestamp of a segment, or its file's mtime without one. */
static int64_t largest_ts(struct segment *seg)
{
	char path[SEGMENT_PATH_MAX];
	struct stat st;
	int64_t ts = segment_max_ts(seg);

	if (ts >= 0)
		return ts;
	segment_path(seg, "log", path, sizeof(path));
	if (stat(path, &st) < 0)
		return INT64_MAX; /* unknown: keep it */
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Forgets idempotent producers silent for producer_expiry_ms. lock held. */
static void expire_producers(struct plog *plog, int64_t now_ms)
{
	const struct plog_env *env = plog->env;
	int64_t expiry = env && env->producer_expiry_ms > 0
			     ? env->producer_expiry_ms
			     : PLOG_PRODUCER_EXPIRY_MS;
	int n = pstate_expire(plog->pstate, now_ms - expiry);

	if (n > 0)
		log_info(LOG_FAC,
			 "topic=%s partition=%" PRId32 " forgot %d producer "
			 "id(s) silent for %" PRId64 " ms",
			 plog->topic, plog->partition, n, expiry);
}

/* Upper bound of segs[i]: the next base, or the LEO for the active one. */
static int64_t seg_upper(struct plog *plog, int i)
{
	return i == plog->nsegs - 1 ? plog_leo(plog) : plog->segs[i + 1]->base;
}

static bool deletable(struct plog *plog, int i, int64_t hw)
{
	if (seg_upper(plog, i) > hw)
		return false;
	return !(i == plog->nsegs - 1 && segment_size(plog->segs[i]) == 0);
}

int plog_retention(plog_t *plog, int64_t now_ms)
{
	const struct topic_conf *c = &plog->conf;
	int64_t hw, ls, old_ls, diff = -1, bytes = 0;
	int k = 0, by_time, by_size, rc = 0;
	bool changed = false;

	pthread_mutex_lock(&plog->lock);
	if (!plog->conf_confirmed || atomic_load(&plog->closed) ||
	    atomic_load(&plog->deleted) || atomic_load(&plog->failed))
		goto out_unlock;
	expire_producers(plog, now_ms);
	hw = plog_hw(plog);
	old_ls = ls = plog_log_start(plog);
	if (c->retention_ms >= 0)
		while (k < plog->nsegs && deletable(plog, k, hw) &&
		       now_ms - largest_ts(plog->segs[k]) > c->retention_ms)
			k++;
	by_time = k;
	if (c->retention_bytes >= 0) {
		diff = plog_size_bytes(plog) - c->retention_bytes;
		for (int i = 0; i < k; i++)
			diff -= segment_size(plog->segs[i]);
		while (k < plog->nsegs && deletable(plog, k, hw) &&
		       diff - segment_size(plog->segs[k]) >= 0) {
			diff -= segment_size(plog->segs[k]);
			k++;
		}
	}
	by_size = k - by_time;
	while (k < plog->nsegs && deletable(plog, k, hw) &&
	       seg_upper(plog, k) <= ls)
		k++;
	if (k == 0)
		goto out_unlock;
	for (int i = 0; i < k; i++)
		bytes += segment_size(plog->segs[i]);
	if (k == plog->nsegs) {
		/* The active segment goes too: roll past it first. */
		rc = plog_roll_locked(plog, now_ms);
		if (rc)
			goto out_unlock;
	}
	rc = plog_drop_first_locked(plog, k);
	if (rc)
		goto out_unlock;
	if (plog->segs[0]->base > ls) {
		ls = plog->segs[0]->base;
		atomic_store(&plog->log_start, ls);
		(void)epoch_cache_truncate_start(plog->epochs, ls);
		atomic_max64(&plog->flushed,
			     ls < plog_leo(plog) ? ls : plog_leo(plog));
		changed = true;
	}
	log_info(LOG_FAC,
		 "topic=%s partition=%" PRId32 " retention deleted "
		 "%d segment(s), %" PRId64 " bytes (%d by retention.ms, %d by "
		 "retention.bytes, %d below the log start); log start %" PRId64
		 " -> %" PRId64,
		 plog->topic, plog->partition, k, bytes, by_time, by_size,
		 k - by_time - by_size, old_ls, ls);
	rc = k;
out_unlock:
	pthread_mutex_unlock(&plog->lock);
	if (changed)
		plog_notify(plog, PLOG_EV_LOG_START);
	return rc;
}
