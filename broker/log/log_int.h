/*
 * log_int.h - shared internals of the storage engine (broker/log/).
 *
 * The bodies of struct segment and struct plog, and the functions the
 * files of the module call in one another. Nothing outside broker/log
 * includes this header.
 *
 * Lock order (outer to inner); a thread never takes an outer lock while
 * holding an inner one:
 *
 *   plog->lock        append lock: appends, rolls, truncation, retention,
 *                     configuration, segment list changes
 *   plog->flush_lock  one flush at a time; truncation takes it too so that
 *                     a flush cannot publish an offset above a new LEO
 *   plog->segs_lock   (rwlock) the segment array; readers hold it only to
 *                     find and reference a segment
 *   seg->lock         descriptors, pins and indexes of one segment
 *   leaf locks        plog->posc_lock, plog->lsn_lock, the epoch cache's
 *                     lock, the flusher's queue lock
 */
#ifndef FLUXO_LOG_INT_H
#define FLUXO_LOG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/log/epoch_cache.h"
#include "broker/log/index.h"
#include "broker/log/plog.h"
#include "broker/log/producer_state.h"
#include "broker/log/segment.h"
#include "common/clock.h"
#include "common/topic_conf.h"

#define LOG_FAC "log"

/* Default producer id expiry (Kafka's transactional.id.expiration.ms). */
#define PLOG_PRODUCER_EXPIRY_MS (7LL * 24 * 3600 * 1000)

struct segment {
	int64_t base;
	const char *dir; /* the partition dir; the plog's string */
	atomic_int refcnt;
	pthread_mutex_t lock;
	atomic_int fd;		    /* .log; -1 while closed */
	int pins;		    /* users of fd (under lock) */
	bool deleted;		    /* files renamed away: no new opens */
	bool idx_bad;		    /* an index failed a check at use: scan */
	_Atomic int64_t size;	    /* published bytes of the .log */
	_Atomic int64_t end_offset; /* offset after the last batch */
	_Atomic int64_t last_used;  /* monotonic ms of the last pin */
	/* Appender side (plog->lock), also read under seg->lock. */
	int64_t max_ts;	       /* largest batch maxTimestamp, -1 */
	int64_t max_ts_offset; /* last offset of the batch holding it */
	int64_t rolling_ts;    /* maxTimestamp of the first batch, -1 */
	int64_t created_ms;    /* wall clock at create/load */
	int64_t jitter_ms;
	int64_t bytes_since_index;
	struct log_index oidx;
	struct log_index tidx;
};

/* One remembered (offset -> file position) mapping of a batch boundary. */
struct posc_ent {
	int64_t offset; /* -1: unused */
	int64_t seg_base;
	int64_t pos;
};

#define PLOG_POSC_N 8

struct plog {
	char *topic;
	int32_t partition;
	char *dir;
	atomic_int refcnt;
	const struct plog_env *env;

	pthread_mutex_t lock;
	pthread_mutex_t flush_lock;
	pthread_rwlock_t segs_lock;
	struct segment **segs; /* ascending base; the last is active */
	int nsegs;
	int segs_cap;

	struct topic_conf conf; /* under lock */
	bool conf_confirmed;	/* under lock */
	uint64_t rng;		/* jitter; under lock */

	_Atomic int64_t leo;
	_Atomic int64_t hw;
	_Atomic int64_t log_start;
	_Atomic int64_t flushed;
	_Atomic int64_t size_bytes;
	atomic_int nsegs_pub;
	_Atomic int64_t oldest_unflushed_ms; /* 0: none */
	atomic_bool closed;
	atomic_bool deleted;
	atomic_bool failed;
	/* Failed appends: the last one logged (mono ms) and those not
	 * logged since; a full disk must not flood the log. */
	_Atomic int64_t write_err_logged_ms;
	_Atomic int64_t write_err_quiet;
	atomic_bool dir_dirty;	  /* entries created since the dir fsync */
	atomic_bool parent_dirty; /* the dir itself is new: fsync its
				   * parent at the first flush */

	/* Group commit (see flusher.c). */
	atomic_bool flush_queued;
	struct plog *flush_next;

	/* Slot 0: the LEO's position; others: recent slice ends. */
	pthread_mutex_t posc_lock;
	struct posc_ent posc[PLOG_POSC_N];
	int posc_next;
	uint64_t posc_gen; /* bumped by every clear (truncation) */

	struct epoch_cache *epochs;
	pstate_t *pstate; /* idempotent producers; under lock */
	int64_t *snaps;	  /* its snapshots' offsets, ascending; lock */
	size_t nsnaps, snaps_cap;
	/* The last snapshot this process wrote: offset, and the active
	 * segment's base and size then (-1: none). lock */
	int64_t snap_offset, snap_seg_base, snap_pos;

	pthread_mutex_t lsn_lock;
	plog_listener_fn lsn_fn;
	void *lsn_arg;
};

static inline int64_t plog_now(const struct plog *plog)
{
	const struct plog_env *env = plog->env;

	if (env && env->clock_ms)
		return env->clock_ms(env->clock_arg);
	return clock_wall_ms();
}

/* plog.c */
void plog_notify(struct plog *plog, enum plog_event ev);
void plog_posc_clear(struct plog *plog);
/* Sets a slot (0: the LEO; -1: the next slice-end slot). A put with
 * gen != the current generation is dropped: the mapping was computed
 * before a truncation. gen 0 always applies (appender, lock held). */
void plog_posc_put(struct plog *plog, int slot, uint64_t gen, int64_t offset,
		   int64_t seg_base, int64_t pos);
bool plog_posc_get(struct plog *plog, int64_t offset, int64_t seg_base,
		   int64_t *pos);
/* Publishes the segment array's derived counters (under segs_lock w). */
void plog_segs_published(struct plog *plog);
/* Removes segs[0..n) from the list and deletes their files; lock held. */
int plog_drop_first_locked(struct plog *plog, int n);
/* Rolls to a new segment at the LEO; lock held. */
int plog_roll_locked(struct plog *plog, int64_t now);
/* Index capacities from the configuration. */
uint32_t plog_max_oidx(const struct plog *plog);
uint32_t plog_max_tidx(const struct plog *plog);

/*
 * Marks the log deleted (appends, reads and flushes refuse from now on) and
 * renames its directory to new_dir. Returns 0 or ERR_IO.
 */
int plog_mark_deleted(struct plog *plog, const char *new_dir);
/* The topic configuration's file.delete.delay.ms. */
int64_t plog_file_delete_delay(struct plog *plog);

/* plog_recover.c */
int plog_load_segments(struct plog *plog, const struct plog_load_opts *opts,
		       bool epochs_found, char *errstr, size_t errstr_size);

/*
 * plog_pstate.c: the producer state's snapshot files and rebuilds. All
 * with lock held (or sole ownership during plog_open).
 *
 * plog_pstate_load: after the segments are loaded, rebuilds the state for
 * [log start, LEO): from the newest valid snapshot at or below the LEO,
 * then the batch headers after it (from the log start without one).
 * Snapshots above the LEO and unreadable ones are deleted. A bad batch
 * header ends the replay with a logged error (the state then covers what
 * came before it). Returns 0, ERR_IO or ERR_NOMEM (errstr says why).
 */
int plog_pstate_load(struct plog *plog, char *errstr, size_t errstr_size);
/* The same after a truncation: the state for the new LEO. */
int plog_pstate_rebuild(struct plog *plog);
/*
 * Writes <LEO>.snapshot (not fsynced: it need not survive a power loss,
 * and a torn one fails its CRC) unless the newest one is at the LEO or a
 * rebuild would replay fewer than min_replay bytes (0: always), and
 * deletes all but the newest few. Returns 0 or ERR_IO/ERR_NOMEM (logged;
 * the previous snapshots stay).
 */
int plog_pstate_snapshot(struct plog *plog, int64_t min_replay);

/* Below this much replay a clean close writes no snapshot: reading a few
 * headers at the next start costs less than creating a file now. */
#define PLOG_SNAPSHOT_MIN_REPLAY (64 * 1024)
/* Deletes the snapshots whose offset is above `above` (-1: all), durably
 * (the directory is fsynced when one was removed). */
void plog_pstate_remove_snapshots(struct plog *plog, int64_t above);
/* The loader found <off>.snapshot in the directory. Returns 0 or
 * ERR_NOMEM. */
int plog_pstate_note_snapshot(struct plog *plog, int64_t off);

/* plog_flush.c: the flusher calls this for a queued log. */
void plog_flush_queued(struct plog *plog);

/* flusher.h */
void flusher_enqueue(struct flusher *fl, struct plog *plog);

#endif
