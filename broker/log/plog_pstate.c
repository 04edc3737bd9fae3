/*
 * plog_pstate.c - keeping a partition log's producer state (see
 * producer_state.h) consistent with its batches across rolls, restarts,
 * crashes and truncation.
 *
 * The state in memory always describes every batch below the LEO: leader
 * and follower appends update it under the append lock together with the
 * write. What must be rebuilt is the state after a restart and after a
 * truncation, and the design keeps that cheap with snapshot files:
 *
 *   <20-digit offset>.snapshot   the state for every batch below offset
 *
 * written at every segment roll (for the new segment's base, which is the
 * LEO at that moment) and at a clean close (for the LEO). A
 * rebuild loads the newest valid snapshot at or below the LEO and then
 * replays the batch headers from its offset to the LEO, reading the
 * segments sequentially in 64 KiB chunks and looking only at the 61-byte
 * headers. The replay is thus at most one segment plus the active one
 * (segment.bytes, 1 GiB by default): after a kill -9 it is a sequential
 * read of data that is normally still in the page cache.
 *
 * Why this is correct after a crash: a snapshot is written under the
 * append lock with the state that matches the log below its offset, and
 * the log below that offset only ever changes by truncation, which deletes
 * every snapshot above the new end first. Recovery may cut an unflushed
 * tail: snapshots above the recovered LEO are deleted before any is read.
 * A snapshot is only trusted whole: its CRC-32C and its own offset field
 * must match, else it is deleted and an older one (or the log start) is
 * used. Snapshots are not fsynced: at a roll that would stall producers,
 * at a close it would cost two fsyncs per partition (the close's flush
 * makes the directory entry durable). After a power loss a torn snapshot
 * fails its CRC and costs only a longer replay.
 *
 * Without any snapshot (a log that never rolled nor closed cleanly, or
 * one written by a broker without this code) the replay starts at the log
 * start. A read error fails the load (the partition cannot be served
 * anyway); a bad batch header, which only a damaged trusted segment can
 * have, ends the replay there with an error in the log, and the partition
 * stays available with the state learnt so far. Unlike Kafka, a clean shutdown
 * without snapshots does not skip the replay: the state would otherwise be
 * silently empty.
 *
 * Snapshots kept: the newest SNAP_KEEP. Older ones only serve truncations
 * deeper than two segments, which then replay from the log start.
 *
 * Thread: every function runs with plog->lock held, or in plog_open
 * before the log is shared.
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

#define SNAP_SUFFIX    ".snapshot"
#define SNAP_KEEP      3
#define SNAP_MAX_BYTES ((size_t)1 << 30)
#define SCAN_CHUNK     (64 * 1024)

struct offsets {
	int64_t *v;
	size_t n;
};

static void snap_path(const struct plog *plog, int64_t off, char *path,
		      size_t size)
{
	snprintf(path, size, "%s/%020" PRId64 SNAP_SUFFIX, plog->dir, off);
}

/* "<20 digits>.snapshot" exactly. */
static bool parse_name(const char *name, int64_t *off)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SEGMENT_NAME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9' ||
		    v > (uint64_t)INT64_MAX / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX || strcmp(name + i, SNAP_SUFFIX) != 0)
		return false;
	*off = (int64_t)v;
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The snapshot offsets in the directory, ascending. */
static int list_snapshots(const struct plog *plog, struct offsets *out)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	out->v = NULL;
	out->n = 0;
	d = opendir(plog->dir);
	if (!d)
		return ERR_IO;
	while ((de = readdir(d)) != NULL) {
		int64_t off;

		if (!parse_name(de->d_name, &off))
			continue;
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			int64_t *v = realloc(out->v, ncap * sizeof(*v));

			if (!v) {
				rc = ERR_NOMEM;
				break;
			}
			out->v = v;
			cap = ncap;
		}
		out->v[out->n++] = off;
	}
	closedir(d);
	if (rc) {
		free(out->v);
		out->v = NULL;
		out->n = 0;
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_i64);
	return 0;
}

static void remove_snapshot(struct plog *plog, int64_t off)
{
	char path[SEGMENT_PATH_MAX];

	snap_path(plog, off, path, sizeof(path));
	if (unlink(path) == 0)
		atomic_store(&plog->dir_dirty, true);
}

void plog_pstate_remove_snapshots(struct plog *plog, int64_t above)
{
	struct offsets s;

	if (list_snapshots(plog, &s))
		return;
	for (size_t i = 0; i < s.n; i++)
		if (s.v[i] > above)
			remove_snapshot(plog, s.v[i]);
	free(s.v);
}

int plog_pstate_snapshot(struct plog *plog, bool sync)
{
	int64_t leo = atomic_load(&plog->leo);
	char path[SEGMENT_PATH_MAX], why[SEGMENT_PATH_MAX + 128];
	struct buf b = BUF_INIT;
	struct offsets s;
	int rc;

	rc = pstate_encode(plog->pstate, leo, &b);
	if (rc)
		goto out_log;
	snap_path(plog, leo, path, sizeof(path));
	rc = ckpt_write_file(path, b.data, b.len, sync, why, sizeof(why));
	if (rc)
		goto out_log;
	if (!sync)
		atomic_store(&plog->dir_dirty, true);
	if (list_snapshots(plog, &s) == 0) {
		for (size_t i = 0; i + SNAP_KEEP < s.n; i++)
			remove_snapshot(plog, s.v[i]);
		free(s.v);
	}
	buf_free(&b);
	return 0;
out_log:
	log_warn(LOG_FAC,
		 "topic=%s partition=%" PRId32 " cannot write the producer "
		 "state snapshot at %" PRId64 ": %s",
		 plog->topic, plog->partition, leo,
		 rc == ERR_NOMEM ? "out of memory" : why);
	buf_free(&b);
	return rc;
}

/* Loads snapshot off into the state. Returns 0, ERR_CORRUPT, ERR_IO... */
static int load_snapshot(struct plog *plog, int64_t off)
{
	char path[SEGMENT_PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	int64_t got = -1;
	int rc;

	snap_path(plog, off, path, sizeof(path));
	rc = ckpt_slurp(path, SNAP_MAX_BYTES, &data, &len);
	if (rc == 0) {
		rc = pstate_decode(plog->pstate, (const uint8_t *)data, len,
				   &got);
		if (rc == 0 && got != off) {
			pstate_clear(plog->pstate);
			rc = ERR_CORRUPT;
		}
	}
	free(data);
	return rc;
}

/*
 * Applies the batch headers of seg at or after offset start, below
 * limit bytes. Returns 0, ERR_IO, ERR_CORRUPT, ERR_NOMEM.
 */
static int scan_segment(struct plog *plog, struct segment *seg, int64_t start,
			uint8_t *chunk, int64_t *scanned)
{
	int64_t size = segment_size(seg), pos = 0;
	struct batch_loc loc;
	int fd, rc;

	rc = segment_pin(seg, &fd);
	if (rc)
		return rc;
	if (seg->base < start) {
		rc = segment_locate(seg, fd, start, size, &loc);
		if (rc == ERR_NOT_FOUND) {
			rc = 0;
			goto out_unpin;
		}
		if (rc)
			goto out_unpin;
		pos = loc.pos;
	}
	*scanned += size - pos;
	while (pos < size) {
		int64_t want =
		    size - pos < SCAN_CHUNK ? size - pos : SCAN_CHUNK;
		ssize_t n = pread(fd, chunk, (size_t)want, (off_t)pos);
		int64_t p = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ERR_IO;
			goto out_unpin;
		}
		while (p + BATCH_HEADER_SIZE <= n) {
			const uint8_t *h = chunk + p;
			int64_t blen = BATCH_LOG_OVERHEAD +
				       (int64_t)be32_get(h + BATCH_OFF_LENGTH);
			struct pstate_batch b;
			int16_t epoch;
			int64_t pid;

			if (blen < BATCH_HEADER_SIZE || blen > size - pos - p) {
				rc = ERR_CORRUPT;
				goto out_unpin;
			}
			if (pstate_batch_from_header(h, &pid, &epoch, &b) &&
			    b.first_offset >= start) {
				rc = pstate_apply(plog->pstate, pid, epoch, &b);
				if (rc)
					goto out_unpin;
			}
			p += blen;
		}
		if (p == 0) {
			/* Fewer than a header's bytes left in the file. */
			rc = ERR_CORRUPT;
			goto out_unpin;
		}
		pos += p;
	}
out_unpin:
	segment_unpin(seg);
	return rc;
}

/* Replays every batch at or after start up to the LEO. */
static int replay(struct plog *plog, int64_t start, int64_t *scanned)
{
	int64_t leo = atomic_load(&plog->leo);
	uint8_t *chunk;
	int rc = 0;

	*scanned = 0;
	if (start >= leo)
		return 0;
	chunk = malloc(SCAN_CHUNK);
	if (!chunk)
		return ERR_NOMEM;
	for (int i = 0; i < plog->nsegs && !rc; i++) {
		struct segment *seg = plog->segs[i];
		int64_t upper =
		    i + 1 < plog->nsegs ? plog->segs[i + 1]->base : leo;

		if (upper <= start || segment_size(seg) == 0)
			continue;
		rc = scan_segment(plog, seg, start, chunk, scanned);
		if (rc)
			log_error(LOG_FAC,
				  "topic=%s partition=%" PRId32 " cannot read "
				  "the batch headers of segment %020" PRId64
				  " to rebuild the producer state: %s",
				  plog->topic, plog->partition, seg->base,
				  err_str(rc));
	}
	free(chunk);
	return rc;
}

/*
 * The rebuild: newest usable snapshot <= LEO, then the replay. Deletes
 * snapshots above the LEO and unusable ones.
 */
static int rebuild(struct plog *plog, const char *why)
{
	int64_t leo = atomic_load(&plog->leo), start = -1, scanned = 0;
	int64_t t0 = clock_mono_ms();
	bool from_snap;
	struct offsets s;
	int rc;

	pstate_clear(plog->pstate);
	rc = list_snapshots(plog, &s);
	if (rc)
		return rc;
	for (size_t i = s.n; i-- > 0;) {
		if (s.v[i] > leo) {
			remove_snapshot(plog, s.v[i]);
			continue;
		}
		if (start >= 0)
			continue;
		rc = load_snapshot(plog, s.v[i]);
		if (rc == 0) {
			start = s.v[i];
			continue;
		}
		if (rc == ERR_NOMEM)
			goto out_free;
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " producer state "
			 "snapshot %020" PRId64
			 " is unusable (%s); deleting it",
			 plog->topic, plog->partition, s.v[i], err_str(rc));
		remove_snapshot(plog, s.v[i]);
	}
	from_snap = start >= 0;
	if (!from_snap)
		start = plog->segs[0]->base;
	rc = replay(plog, start, &scanned);
	if (rc == ERR_CORRUPT) {
		/* A batch header the loader trusted is bad: reads fail
		 * there too. Keep the partition available with what was
		 * learnt before it (replay logged the segment). */
		rc = 0;
	} else if (rc) {
		pstate_clear(plog->pstate);
		goto out_free;
	}
	if (scanned > 0)
		log_info(LOG_FAC,
			 "topic=%s partition=%" PRId32 " producer state "
			 "(%d producers) rebuilt %s from %s %" PRId64
			 " and %" PRId64 " bytes of batches in %" PRId64 " ms",
			 plog->topic, plog->partition,
			 pstate_count(plog->pstate), why,
			 from_snap ? "the snapshot at" : "the log start", start,
			 scanned, clock_mono_ms() - t0);
out_free:
	free(s.v);
	return rc;
}

int plog_pstate_load(struct plog *plog, char *errstr, size_t errstr_size)
{
	int rc = rebuild(plog, "at load");

	if (rc)
		snprintf(errstr, errstr_size,
			 "cannot rebuild the producer state of %s: %s",
			 plog->dir, err_str(rc));
	return rc;
}

int plog_pstate_rebuild(struct plog *plog)
{
	return rebuild(plog, "after truncation");
}
