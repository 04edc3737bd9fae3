/*
 * plog.c - the partition log: lifetime, appends, rolls, truncation,
 * epochs and configuration. Reads are in plog_read.c, flushing and
 * retention in plog_flush.c, loading and recovery in plog_recover.c.
 *
 * Design. The segment array is ordered by base offset; the last segment is
 * the active one and the only one written. Writers hold plog->lock (the
 * append lock) for the whole of an append: roll decision, offset
 * assignment (rewriting each batch's baseOffset in the caller's buffer),
 * the hook, the producer state's checks (duplicates are left out of the
 * write; see producer_state.h and plog_pstate.c), one pwrite of the run,
 * index entries, epoch cache, then publication. The producer state's
 * changes are undone when the write fails, so the state always describes
 * exactly the batches below the LEO. Publication order is what makes lock-free
 * readers safe: the segment's size is stored (release) by segment_append, then
 * the position cache's slot 0 gets (LEO, segment, end position), then the LEO
 * itself (release). A reader that loads the LEO (acquire) therefore sees
 * every byte below it in the page cache.
 *
 * Changes to the segment array (roll, retention, truncation) also take
 * segs_lock for writing, briefly; readers hold it for reading only while
 * finding and referencing a segment.
 *
 * Invariants (under lock): nsegs >= 1; segs[i]->base < segs[i+1]->base;
 * log_start <= hw <= leo; flushed <= leo; the active segment's end offset
 * equals the LEO.
 *
 * The listener is called after the locks are released, from whatever
 * thread made the change.
 */
#include "config.h"
#include "broker/log/plog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ------------------------------------------------------------ helpers */

uint32_t plog_max_oidx(const struct plog *plog)
{
	uint32_t n =
	    (uint32_t)plog->conf.segment_index_bytes / INDEX_OFFSET_ENTRY;

	return n ? n : 1;
}

uint32_t plog_max_tidx(const struct plog *plog)
{
	uint32_t n =
	    (uint32_t)plog->conf.segment_index_bytes / INDEX_TIME_ENTRY;

	return n ? n : 1;
}

void plog_notify(struct plog *plog, enum plog_event ev)
{
	plog_listener_fn fn;
	void *arg;

	pthread_mutex_lock(&plog->lsn_lock);
	fn = plog->lsn_fn;
	arg = plog->lsn_arg;
	pthread_mutex_unlock(&plog->lsn_lock);
	if (fn)
		fn(arg, plog, ev);
}

void plog_posc_clear(struct plog *plog)
{
	pthread_mutex_lock(&plog->posc_lock);
	for (int i = 0; i < PLOG_POSC_N; i++)
		plog->posc[i].offset = -1;
	plog->posc_next = 1;
	plog->posc_gen++;
	pthread_mutex_unlock(&plog->posc_lock);
}

void plog_posc_put(struct plog *plog, int slot, uint64_t gen, int64_t offset,
		   int64_t seg_base, int64_t pos)
{
	pthread_mutex_lock(&plog->posc_lock);
	if (gen && gen != plog->posc_gen)
		goto out_unlock;
	if (slot < 0) {
		for (int i = 1; i < PLOG_POSC_N; i++)
			if (plog->posc[i].offset == offset &&
			    plog->posc[i].seg_base == seg_base)
				goto out_unlock;
		slot = plog->posc_next;
		plog->posc_next = plog->posc_next % (PLOG_POSC_N - 1) + 1;
	}
	plog->posc[slot].offset = offset;
	plog->posc[slot].seg_base = seg_base;
	plog->posc[slot].pos = pos;
out_unlock:
	pthread_mutex_unlock(&plog->posc_lock);
}

bool plog_posc_get(struct plog *plog, int64_t offset, int64_t seg_base,
		   int64_t *pos)
{
	bool found = false;

	pthread_mutex_lock(&plog->posc_lock);
	for (int i = 0; i < PLOG_POSC_N; i++) {
		if (plog->posc[i].offset == offset &&
		    plog->posc[i].seg_base == seg_base) {
			*pos = plog->posc[i].pos;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&plog->posc_lock);
	return found;
}

void plog_segs_published(struct plog *plog)
{
	int64_t size = 0;

	for (int i = 0; i < plog->nsegs; i++)
		size += segment_size(plog->segs[i]);
	atomic_store(&plog->size_bytes, size);
	atomic_store(&plog->nsegs_pub, plog->nsegs);
}

static int segs_push(struct plog *plog, struct segment *seg)
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

static struct segment *active_seg(struct plog *plog)
{
	return plog->segs[plog->nsegs - 1];
}

/* Removes segs[from..to) from the array; returns them in out (caller
 * deletes and unrefs). lock held. */
static void segs_remove(struct plog *plog, int from, int to,
			struct segment **out)
{
	pthread_rwlock_wrlock(&plog->segs_lock);
	memcpy(out, plog->segs + from, (size_t)(to - from) * sizeof(*out));
	memmove(plog->segs + from, plog->segs + to,
		(size_t)(plog->nsegs - to) * sizeof(*out));
	plog->nsegs -= to - from;
	plog_segs_published(plog);
	pthread_rwlock_unlock(&plog->segs_lock);
}

static void delete_segments(struct plog *plog, struct segment **s, int n)
{
	for (int i = 0; i < n; i++) {
		(void)segment_delete_files(s[i], plog->env,
					   plog->conf.file_delete_delay_ms);
		segment_unref(s[i]);
	}
	if (n > 0)
		atomic_store(&plog->dir_dirty, true);
}

int plog_drop_first_locked(struct plog *plog, int n)
{
	struct segment **s;

	if (n <= 0)
		return 0;
	if (n >= plog->nsegs)
		return ERR_INVAL;
	s = malloc((size_t)n * sizeof(*s));
	if (!s)
		return ERR_NOMEM;
	segs_remove(plog, 0, n, s);
	delete_segments(plog, s, n);
	free(s);
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: jitter only. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

int plog_roll_locked(struct plog *plog, int64_t now)
{
	struct segment *old = active_seg(plog), *seg;
	int64_t leo = atomic_load(&plog->leo), jitter = 0;
	int err = 0, rc;

	if (old->base == leo && segment_size(old) == 0)
		return 0;
	if (plog->conf.segment_jitter_ms > 0)
		jitter = (int64_t)(rng_next(&plog->rng) %
				   (uint64_t)plog->conf.segment_jitter_ms);
	seg = segment_create(plog->dir, leo, now, jitter, plog_max_oidx(plog),
			     plog_max_tidx(plog), &err);
	if (!seg)
		return err;
	rc = segment_finalize(old);
	if (rc)
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " cannot write "
			 "the indexes of segment %020" PRId64 ": %s",
			 plog->topic, plog->partition, old->base, err_str(rc));
	pthread_rwlock_wrlock(&plog->segs_lock);
	rc = segs_push(plog, seg);
	if (!rc)
		plog_segs_published(plog);
	pthread_rwlock_unlock(&plog->segs_lock);
	if (rc) {
		segment_unref(seg);
		return rc;
	}
	atomic_store(&plog->dir_dirty, true);
	plog_posc_put(plog, 0, 0, leo, leo, 0);
	/* The producer state for every batch below the new segment: a
	 * restart replays at most this segment's headers. A failure is
	 * logged and only makes that replay longer. */
	(void)plog_pstate_snapshot(plog, 0);
	log_debug(LOG_FAC,
		  "topic=%s partition=%" PRId32 " rolled to segment "
		  "%020" PRId64,
		  plog->topic, plog->partition, leo);
	/* The old segment is flushed in the background (Kafka's
	 * flush-on-roll), which advances the recovery point past it. */
	plog_request_flush(plog, leo);
	return 0;
}

/* ----------------------------------------------------------- lifetime */

plog_t *plog_open(const char *dir, const char *topic, int32_t partition,
		  const struct topic_conf *conf, const struct plog_env *env,
		  const struct plog_load_opts *opts, int *err, char *errstr,
		  size_t errstr_size)
{
	struct plog *plog;
	bool found;
	int rc = ERR_NOMEM;

	plog = calloc(1, sizeof(*plog));
	if (!plog)
		goto err_msg;
	atomic_init(&plog->refcnt, 1);
	plog->partition = partition;
	plog->env = env;
	pthread_mutex_init(&plog->lock, NULL);
	pthread_mutex_init(&plog->flush_lock, NULL);
	pthread_rwlock_init(&plog->segs_lock, NULL);
	pthread_mutex_init(&plog->posc_lock, NULL);
	pthread_mutex_init(&plog->lsn_lock, NULL);
	plog->topic = strdup(topic);
	plog->dir = strdup(dir);
	if (!plog->topic || !plog->dir)
		goto err_free;
	if (topic_conf_copy(&plog->conf, conf))
		goto err_free;
	plog->conf_confirmed = opts ? opts->conf_confirmed : true;
	plog->rng = (uint64_t)clock_mono_ns() ^ ((uint64_t)partition << 32) ^
		    (uint64_t)(uintptr_t)plog;
	if (!plog->rng)
		plog->rng = 1;
	plog_posc_clear(plog);
	if (mkdir(dir, 0755) == 0) {
		/* Made durable by the first flush (flush_upto). */
		atomic_store(&plog->parent_dirty, true);
	} else if (errno != EEXIST) {
		rc = ERR_IO;
		set_err(errstr, errstr_size, "cannot create %s: %s", dir,
			strerror(errno));
		goto err_free;
	}
	plog->epochs = epoch_cache_open(dir, &found, &rc);
	if (!plog->epochs)
		goto err_free;
	plog->snap_offset = -1;
	plog->pstate = pstate_new();
	if (!plog->pstate) {
		rc = ERR_NOMEM;
		goto err_free;
	}
	rc = plog_load_segments(plog, opts, found, errstr, errstr_size);
	if (rc)
		goto err_free;
	rc = plog_pstate_load(plog, errstr, errstr_size);
	if (rc)
		goto err_free;
	return plog;
err_msg:
	set_err(errstr, errstr_size, "out of memory opening %s", dir);
	*err = rc;
	return NULL;
err_free:
	if (rc == ERR_NOMEM)
		set_err(errstr, errstr_size, "out of memory opening %s", dir);
	plog_unref(plog);
	*err = rc;
	return NULL;
}

void plog_ref(plog_t *plog)
{
	atomic_fetch_add_explicit(&plog->refcnt, 1, memory_order_relaxed);
}

void plog_unref(plog_t *plog)
{
	if (!plog || atomic_fetch_sub_explicit(&plog->refcnt, 1,
					       memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < plog->nsegs; i++)
		segment_unref(plog->segs[i]);
	free(plog->segs);
	epoch_cache_close(plog->epochs);
	pstate_destroy(plog->pstate);
	free(plog->snaps);
	topic_conf_free(&plog->conf);
	pthread_mutex_destroy(&plog->lock);
	pthread_mutex_destroy(&plog->flush_lock);
	pthread_rwlock_destroy(&plog->segs_lock);
	pthread_mutex_destroy(&plog->posc_lock);
	pthread_mutex_destroy(&plog->lsn_lock);
	free(plog->topic);
	free(plog->dir);
	free(plog);
}

/* ---------------------------------------------------------- accessors */

const char *plog_topic(const plog_t *plog)
{
	return plog->topic;
}

int32_t plog_partition(const plog_t *plog)
{
	return plog->partition;
}

const char *plog_dir(const plog_t *plog)
{
	return plog->dir;
}

int64_t plog_leo(const plog_t *plog)
{
	return atomic_load_explicit(&plog->leo, memory_order_acquire);
}

int64_t plog_hw(const plog_t *plog)
{
	return atomic_load_explicit(&plog->hw, memory_order_acquire);
}

int64_t plog_log_start(const plog_t *plog)
{
	return atomic_load_explicit(&plog->log_start, memory_order_acquire);
}

int64_t plog_flushed(const plog_t *plog)
{
	return atomic_load_explicit(&plog->flushed, memory_order_acquire);
}

int64_t plog_size_bytes(const plog_t *plog)
{
	return atomic_load_explicit(&plog->size_bytes, memory_order_relaxed);
}

int plog_segment_count(const plog_t *plog)
{
	return atomic_load_explicit(&plog->nsegs_pub, memory_order_relaxed);
}

bool plog_failed(const plog_t *plog)
{
	return atomic_load(&plog->failed);
}

void plog_set_hw(plog_t *plog, int64_t hw)
{
	int64_t leo = plog_leo(plog), ls = plog_log_start(plog), old;

	if (hw > leo)
		hw = leo;
	if (hw < ls)
		hw = ls;
	old = atomic_exchange(&plog->hw, hw);
	/* A truncation may have lowered the LEO meanwhile: never leave the
	 * HW above it. */
	for (int64_t cur = hw, l = plog_leo(plog); cur > l;
	     l = plog_leo(plog)) {
		if (atomic_compare_exchange_weak(&plog->hw, &cur, l))
			break;
	}
	if (old != hw)
		plog_notify(plog, PLOG_EV_HW);
}

void plog_set_listener(plog_t *plog, plog_listener_fn fn, void *arg)
{
	pthread_mutex_lock(&plog->lsn_lock);
	plog->lsn_fn = fn;
	plog->lsn_arg = arg;
	pthread_mutex_unlock(&plog->lsn_lock);
}

/* ------------------------------------------------------------ appends */

static int append_state(struct plog *plog)
{
	if (atomic_load(&plog->closed) || atomic_load(&plog->deleted))
		return ERR_STATE;
	if (atomic_load(&plog->failed))
		return ERR_IO;
	return 0;
}

/*
 * After a successful write of len bytes ending at offset next (exclusive):
 * publishes sizes, the LEO and its position, and decides on flushing.
 * lock held. Returns true when a flush must be requested.
 */
static bool publish_append(struct plog *plog, size_t len, int64_t next,
			   int64_t now)
{
	struct segment *seg = active_seg(plog);
	int64_t expect = 0;

	atomic_fetch_add(&plog->size_bytes, (int64_t)len);
	plog_posc_put(plog, 0, 0, next, seg->base, segment_size(seg));
	atomic_store_explicit(&plog->leo, next, memory_order_release);
	atomic_compare_exchange_strong(&plog->oldest_unflushed_ms, &expect,
				       now);
	return plog->conf.flush_on_ack ||
	       next - plog_flushed(plog) >= plog->conf.flush_messages;
}

/* At most one line per partition every WRITE_ERR_LOG_MS; the next one
 * says how many were left out. */
#define WRITE_ERR_LOG_MS 10000

static void log_write_error(struct plog *plog, int rc, size_t len)
{
	int64_t now = clock_mono_ms();
	int64_t last = atomic_load(&plog->write_err_logged_ms);
	int e = errno;

	if (last && now - last < WRITE_ERR_LOG_MS) {
		atomic_fetch_add(&plog->write_err_quiet, 1);
		return;
	}
	if (!atomic_compare_exchange_strong(&plog->write_err_logged_ms, &last,
					    now)) {
		atomic_fetch_add(&plog->write_err_quiet, 1);
		return;
	}
	log_error(LOG_FAC,
		  "topic=%s partition=%" PRId32 " append of %zu bytes "
		  "failed: %s (%s); nothing was appended (%" PRId64
		  " more failed appends not logged in the last %d s)",
		  plog->topic, plog->partition, len, err_str(rc), strerror(e),
		  atomic_exchange(&plog->write_err_quiet, 0),
		  WRITE_ERR_LOG_MS / 1000);
}

/*
 * Runs one batch of a leader append through the producer state. b is the
 * batch at its final offset off. Returns PSTATE_NEW (also for batches
 * without a producer id), PSTATE_DUPLICATE with *dup, or an error.
 * Starts the state's run at the first idempotent batch.
 */
static int check_producer(struct plog *plog, const uint8_t *b, int64_t off,
			  int64_t ts, int64_t run_start, bool *in_run,
			  struct pstate_batch *dup)
{
	struct pstate_batch pb;
	int16_t epoch;
	int64_t pid;

	if (!pstate_batch_from_header(b, &pid, &epoch, &pb))
		return PSTATE_NEW;
	if (!*in_run) {
		pstate_run_begin(plog->pstate, run_start);
		*in_run = true;
	}
	pb.last_offset = off + (pb.last_offset - pb.first_offset);
	pb.first_offset = off;
	pb.timestamp = ts;
	return pstate_check(plog->pstate, pid, epoch, &pb, dup);
}

int plog_append_leader(plog_t *plog, uint8_t *buf, size_t len,
		       const struct batch_run_info *info, int32_t leader_epoch,
		       plog_append_check_fn check, void *check_arg,
		       int64_t *batch_bases, struct plog_append_result *res)
{
	struct segment *seg;
	int64_t now, leo, off, run_max_ts, first = -1, last = -1, dup_ts = -1;
	bool lat, flush = false, in_run = false;
	size_t p, w = 0;
	int k, ndup = 0, rc;

	if (len == 0 || !info || info->batch_cnt < 1 || info->record_cnt < 1)
		return ERR_INVAL;
	pthread_mutex_lock(&plog->lock);
	rc = append_state(plog);
	if (rc)
		goto out_unlock;
	now = plog_now(plog);
	leo = atomic_load_explicit(&plog->leo, memory_order_relaxed);
	lat = plog->conf.message_timestamp_type == TS_TYPE_LOG_APPEND_TIME;
	run_max_ts = lat ? now : info->max_timestamp;
	if (segment_should_roll(
		active_seg(plog), len, leo + info->record_cnt - 1, run_max_ts,
		now, plog->conf.segment_bytes, plog->conf.segment_ms)) {
		rc = plog_roll_locked(plog, now);
		if (rc)
			goto out_unlock;
	}
	if (check) {
		rc = check(check_arg, plog, buf, len, info, leo);
		if (rc)
			goto out_unlock;
	}
	/* Assign offsets, stamp the epoch (and the time), leave out
	 * duplicates: the batches kept move down to buf[0..w). */
	off = leo;
	for (p = 0, k = 0; p < len; k++) {
		uint8_t *b = buf + p;
		struct pstate_batch dup;
		int32_t delta;
		size_t size;

		if (len - p < BATCH_HEADER_SIZE) {
			rc = ERR_INVAL;
			goto out_abort;
		}
		size =
		    BATCH_LOG_OVERHEAD + (size_t)be32_get(b + BATCH_OFF_LENGTH);
		if (size < BATCH_HEADER_SIZE || size > len - p) {
			rc = ERR_INVAL;
			goto out_abort;
		}
		delta = (int32_t)be32_get(b + BATCH_OFF_LAST_OFFSET_DELTA);
		rc = check_producer(
		    plog, b, off,
		    lat ? now : (int64_t)be64_get(b + BATCH_OFF_MAX_TIMESTAMP),
		    leo, &in_run, &dup);
		if (rc < 0)
			goto out_abort;
		if (rc == PSTATE_DUPLICATE) {
			if (batch_bases)
				batch_bases[k] = dup.first_offset;
			if (first < 0)
				first = dup.first_offset;
			if (dup.last_offset > last)
				last = dup.last_offset;
			if (dup_ts < 0)
				dup_ts = dup.timestamp;
			ndup++;
			p += size;
			continue;
		}
		batch_set_base_offset(b, off);
		batch_set_leader_epoch(b, leader_epoch);
		if (lat)
			batch_set_log_append_time(b, size, now);
		if (batch_bases)
			batch_bases[k] = off;
		if (first < 0)
			first = off;
		off += (int64_t)delta + 1;
		if (off - 1 > last)
			last = off - 1;
		if (w != p)
			memmove(buf + w, b, size);
		w += size;
		p += size;
	}
	rc = 0;
	if (w > 0) {
		seg = active_seg(plog);
		rc =
		    segment_append(seg, buf, w, plog->conf.index_interval_bytes,
				   plog->env ? plog->env->pwrite_fn : NULL);
		if (rc) {
			log_write_error(plog, rc, w);
			goto out_abort;
		}
		if (leader_epoch >= 0 &&
		    leader_epoch > epoch_cache_latest(plog->epochs))
			(void)epoch_cache_assign(plog->epochs, leader_epoch,
						 leo);
		flush = publish_append(plog, w, off, now);
	}
	if (in_run)
		pstate_run_commit(plog->pstate);
	if (res) {
		res->first_offset = first;
		res->last_offset = last;
		res->append_time = !lat ? -1 : w > 0 ? now : dup_ts;
		res->log_start = plog_log_start(plog);
		res->dup_batches = ndup;
		/* A duplicate is durable once its first append is. */
		res->flush_requested =
		    flush || (w == 0 && plog->conf.flush_on_ack &&
			      plog_flushed(plog) <= last);
	}
	goto out_unlock;
out_abort:
	if (in_run)
		pstate_run_abort(plog->pstate);
out_unlock:
	pthread_mutex_unlock(&plog->lock);
	if (rc == 0 && w > 0) {
		plog_notify(plog, PLOG_EV_APPEND);
		if (flush)
			plog_request_flush(plog, off);
	}
	return rc;
}

int plog_append_follower(plog_t *plog, const uint8_t *buf, size_t len,
			 const struct batch_run_info *info,
			 struct plog_append_result *res)
{
	int64_t now, leo, next, last = -1, latest;
	bool flush = false;
	size_t p;
	int rc;

	if (len == 0 || !info || info->batch_cnt < 1)
		return ERR_INVAL;
	pthread_mutex_lock(&plog->lock);
	rc = append_state(plog);
	if (rc)
		goto out_unlock;
	now = plog_now(plog);
	leo = atomic_load_explicit(&plog->leo, memory_order_relaxed);
	next = leo;
	for (p = 0; p < len;) {
		const uint8_t *b = buf + p;
		int64_t base;
		size_t size;

		if (len - p < BATCH_HEADER_SIZE) {
			rc = ERR_INVAL;
			goto out_unlock;
		}
		size =
		    BATCH_LOG_OVERHEAD + (size_t)be32_get(b + BATCH_OFF_LENGTH);
		base = (int64_t)be64_get(b + BATCH_OFF_BASE_OFFSET);
		if (size < BATCH_HEADER_SIZE || size > len - p) {
			rc = ERR_INVAL;
			goto out_unlock;
		}
		if (p == 0 ? base != leo : base < next) {
			rc = ERR_OUT_OF_RANGE;
			goto out_unlock;
		}
		last =
		    base + (int32_t)be32_get(b + BATCH_OFF_LAST_OFFSET_DELTA);
		if (last < base) {
			rc = ERR_INVAL;
			goto out_unlock;
		}
		next = last + 1;
		p += size;
	}
	if (segment_should_roll(
		active_seg(plog), len, last, info->max_timestamp, now,
		plog->conf.segment_bytes, plog->conf.segment_ms)) {
		rc = plog_roll_locked(plog, now);
		if (rc)
			goto out_unlock;
	}
	rc = segment_append(active_seg(plog), buf, len,
			    plog->conf.index_interval_bytes,
			    plog->env ? plog->env->pwrite_fn : NULL);
	if (rc) {
		log_write_error(plog, rc, len);
		goto out_unlock;
	}
	latest = epoch_cache_latest(plog->epochs);
	for (p = 0; p < len;) {
		const uint8_t *b = buf + p;
		int32_t ep = (int32_t)be32_get(b + BATCH_OFF_LEADER_EPOCH);
		struct pstate_batch pb;
		int16_t pepoch;
		int64_t pid;

		if (ep >= 0 && ep > latest) {
			(void)epoch_cache_assign(
			    plog->epochs, ep,
			    (int64_t)be64_get(b + BATCH_OFF_BASE_OFFSET));
			latest = ep;
		}
		if (pstate_batch_from_header(b, &pid, &pepoch, &pb) &&
		    pstate_apply(plog->pstate, pid, pepoch, &pb) < 0)
			log_error(LOG_FAC,
				  "topic=%s partition=%" PRId32 " out of "
				  "memory recording producer %" PRId64
				  " at offset %" PRId64,
				  plog->topic, plog->partition, pid,
				  pb.first_offset);
		p +=
		    BATCH_LOG_OVERHEAD + (size_t)be32_get(b + BATCH_OFF_LENGTH);
	}
	flush = publish_append(plog, len, next, now);
	if (res) {
		res->first_offset = leo;
		res->last_offset = next - 1;
		res->append_time = -1;
		res->log_start = plog_log_start(plog);
		res->flush_requested = flush;
	}
out_unlock:
	pthread_mutex_unlock(&plog->lock);
	if (rc == 0) {
		plog_notify(plog, PLOG_EV_APPEND);
		if (flush)
			plog_request_flush(plog, next);
	}
	return rc;
}

/* --------------------------------------------------------- truncation */

/* Drops every segment and starts an empty one at start. lock and
 * flush_lock held. */
static int truncate_fully_locked(struct plog *plog, int64_t start)
{
	struct segment **s, *seg;
	int n = plog->nsegs, err = 0;

	s = malloc((size_t)n * sizeof(*s));
	if (!s)
		return ERR_NOMEM;
	/* Keep the array non-empty until the new segment exists. */
	pthread_rwlock_wrlock(&plog->segs_lock);
	memcpy(s, plog->segs, (size_t)n * sizeof(*s));
	plog->nsegs = 0;
	pthread_rwlock_unlock(&plog->segs_lock);
	delete_segments(plog, s, n);
	free(s);
	pstate_clear(plog->pstate);
	plog_pstate_remove_snapshots(plog, -1);
	seg = segment_create(plog->dir, start, plog_now(plog), 0,
			     plog_max_oidx(plog), plog_max_tidx(plog), &err);
	pthread_rwlock_wrlock(&plog->segs_lock);
	if (seg)
		(void)segs_push(plog, seg); /* capacity is there */
	plog_segs_published(plog);
	pthread_rwlock_unlock(&plog->segs_lock);
	plog_posc_clear(plog);
	if (!seg) {
		log_error(LOG_FAC,
			  "topic=%s partition=%" PRId32 " cannot "
			  "create a segment at %" PRId64 "; the partition is "
			  "failed",
			  plog->topic, plog->partition, start);
		atomic_store(&plog->failed, true);
		return err;
	}
	plog_posc_put(plog, 0, 0, start, start, 0);
	atomic_store(&plog->leo, start);
	atomic_store(&plog->log_start, start);
	atomic_store(&plog->hw, start);
	atomic_store(&plog->flushed, start);
	atomic_store(&plog->oldest_unflushed_ms, 0);
	(void)epoch_cache_clear(plog->epochs);
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int plog_truncate_to(plog_t *plog, int64_t offset, int64_t *new_leo)
{
	struct segment **drop = NULL;
	int64_t leo, nleo = -1;
	int i, n = 0, rc = 0;
	bool changed = false;

	pthread_mutex_lock(&plog->lock);
	if (atomic_load(&plog->closed) || atomic_load(&plog->deleted)) {
		rc = ERR_STATE;
		goto out_unlock;
	}
	leo = atomic_load(&plog->leo);
	nleo = leo;
	if (offset >= leo)
		goto out_unlock;
	if (offset < 0) {
		rc = ERR_INVAL;
		goto out_unlock;
	}
	pthread_mutex_lock(&plog->flush_lock);
	changed = true;
	if (offset < plog_log_start(plog) || offset < plog->segs[0]->base) {
		log_info(LOG_FAC,
			 "topic=%s partition=%" PRId32 " truncating "
			 "fully and restarting at %" PRId64,
			 plog->topic, plog->partition, offset);
		rc = truncate_fully_locked(plog, offset);
		nleo = offset;
		goto out_flush_unlock;
	}
	for (i = plog->nsegs - 1; i > 0 && plog->segs[i]->base > offset; i--)
		;
	n = plog->nsegs - 1 - i;
	if (n > 0) {
		drop = malloc((size_t)n * sizeof(*drop));
		if (!drop) {
			rc = ERR_NOMEM;
			goto out_flush_unlock;
		}
		segs_remove(plog, i + 1, plog->nsegs, drop);
		delete_segments(plog, drop, n);
		free(drop);
	}
	rc = segment_truncate_to(active_seg(plog), offset);
	if (rc) {
		log_error(LOG_FAC,
			  "topic=%s partition=%" PRId32 " truncation "
			  "to %" PRId64 " failed: %s; the partition is failed",
			  plog->topic, plog->partition, offset, err_str(rc));
		atomic_store(&plog->failed, true);
	}
	nleo = segment_end_offset(active_seg(plog));
	pthread_rwlock_wrlock(&plog->segs_lock);
	plog_segs_published(plog);
	pthread_rwlock_unlock(&plog->segs_lock);
	(void)epoch_cache_truncate_end(plog->epochs, nleo);
	plog_posc_clear(plog);
	plog_posc_put(plog, 0, 0, nleo, active_seg(plog)->base,
		      segment_size(active_seg(plog)));
	atomic_store(&plog->leo, nleo);
	atomic_store(&plog->hw, min64(plog_hw(plog), nleo));
	atomic_store(&plog->flushed, min64(plog_flushed(plog), nleo));
	atomic_store(&plog->log_start, min64(plog_log_start(plog), nleo));
	if (plog_pstate_rebuild(plog) < 0)
		log_error(LOG_FAC,
			  "topic=%s partition=%" PRId32 " cannot rebuild "
			  "the producer state after truncation; producers "
			  "are unknown until they write again",
			  plog->topic, plog->partition);
	log_info(LOG_FAC,
		 "topic=%s partition=%" PRId32 " truncated from %" PRId64
		 " to %" PRId64 " (asked %" PRId64 ")",
		 plog->topic, plog->partition, leo, nleo, offset);
out_flush_unlock:
	pthread_mutex_unlock(&plog->flush_lock);
out_unlock:
	pthread_mutex_unlock(&plog->lock);
	if (new_leo)
		*new_leo = nleo;
	if (changed)
		plog_notify(plog, PLOG_EV_TRUNCATE);
	return rc;
}

int plog_truncate_fully(plog_t *plog, int64_t new_start)
{
	int rc;

	if (new_start < 0)
		return ERR_INVAL;
	pthread_mutex_lock(&plog->lock);
	if (atomic_load(&plog->closed) || atomic_load(&plog->deleted)) {
		pthread_mutex_unlock(&plog->lock);
		return ERR_STATE;
	}
	pthread_mutex_lock(&plog->flush_lock);
	rc = truncate_fully_locked(plog, new_start);
	pthread_mutex_unlock(&plog->flush_lock);
	pthread_mutex_unlock(&plog->lock);
	plog_notify(plog, PLOG_EV_TRUNCATE);
	return rc;
}

int plog_advance_log_start(plog_t *plog, int64_t offset)
{
	bool changed = false;
	int rc = 0;

	pthread_mutex_lock(&plog->lock);
	if (atomic_load(&plog->closed) || atomic_load(&plog->deleted)) {
		rc = ERR_STATE;
		goto out_unlock;
	}
	if (offset > plog_hw(plog)) {
		rc = ERR_OUT_OF_RANGE;
		goto out_unlock;
	}
	if (offset > plog_log_start(plog)) {
		atomic_store(&plog->log_start, offset);
		(void)epoch_cache_truncate_start(plog->epochs, offset);
		changed = true;
	}
out_unlock:
	pthread_mutex_unlock(&plog->lock);
	if (changed)
		plog_notify(plog, PLOG_EV_LOG_START);
	return rc;
}

/* ----------------------------------------------------- producer state */

int plog_producer_lookup(plog_t *plog, int64_t pid, int16_t *epoch,
			 struct pstate_batch *out, int max)
{
	int n;

	pthread_mutex_lock(&plog->lock);
	n = pstate_lookup(plog->pstate, pid, epoch, out, max);
	pthread_mutex_unlock(&plog->lock);
	return n;
}

int plog_producer_count(plog_t *plog)
{
	int n;

	pthread_mutex_lock(&plog->lock);
	n = pstate_count(plog->pstate);
	pthread_mutex_unlock(&plog->lock);
	return n;
}

/* ------------------------------------------------------------- epochs */

int plog_epoch_assign(plog_t *plog, int32_t epoch, int64_t start_offset)
{
	int rc = epoch_cache_assign(plog->epochs, epoch, start_offset);

	return rc < 0 ? rc : 0;
}

int32_t plog_epoch_latest(plog_t *plog)
{
	return epoch_cache_latest(plog->epochs);
}

int plog_epoch_end_offset(plog_t *plog, int32_t epoch, int32_t *epoch_out,
			  int64_t *end_offset)
{
	epoch_cache_end_offset(plog->epochs, epoch, plog_leo(plog), epoch_out,
			       end_offset);
	return 0;
}

int plog_epoch_entries(plog_t *plog, int32_t *epochs, int64_t *starts, int max)
{
	return epoch_cache_entries(plog->epochs, epochs, starts, max);
}

int plog_epoch_truncate_end(plog_t *plog, int64_t end_offset)
{
	return epoch_cache_truncate_end(plog->epochs, end_offset);
}

/* ------------------------------------------------------------ deletion */

int plog_mark_deleted(struct plog *plog, const char *new_dir)
{
	int rc = 0;

	pthread_mutex_lock(&plog->lock);
	pthread_mutex_lock(&plog->flush_lock);
	atomic_store(&plog->deleted, true);
	pthread_rwlock_rdlock(&plog->segs_lock);
	for (int i = 0; i < plog->nsegs; i++)
		segment_mark_deleted(plog->segs[i]);
	pthread_rwlock_unlock(&plog->segs_lock);
	if (rename(plog->dir, new_dir) < 0) {
		log_error(LOG_FAC, "cannot rename %s to %s: %s", plog->dir,
			  new_dir, strerror(errno));
		rc = ERR_IO;
	}
	pthread_mutex_unlock(&plog->flush_lock);
	pthread_mutex_unlock(&plog->lock);
	return rc;
}

int64_t plog_file_delete_delay(struct plog *plog)
{
	int64_t d;

	pthread_mutex_lock(&plog->lock);
	d = plog->conf.file_delete_delay_ms;
	pthread_mutex_unlock(&plog->lock);
	return d;
}

/* ------------------------------------------------------ configuration */

int plog_set_conf(plog_t *plog, const struct topic_conf *conf)
{
	struct topic_conf copy;

	memset(&copy, 0, sizeof(copy));
	if (topic_conf_copy(&copy, conf)) {
		topic_conf_free(&copy);
		return ERR_NOMEM;
	}
	pthread_mutex_lock(&plog->lock);
	topic_conf_free(&plog->conf);
	plog->conf = copy;
	plog->conf_confirmed = true;
	pthread_mutex_unlock(&plog->lock);
	return 0;
}

int plog_get_conf(plog_t *plog, struct topic_conf *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&plog->lock);
	rc = topic_conf_copy(out, &plog->conf) ? ERR_NOMEM : 0;
	pthread_mutex_unlock(&plog->lock);
	return rc;
}
