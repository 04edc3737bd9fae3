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
 * LEO at that moment) and after a clean close (for the LEO, when the next
 * start would otherwise replay 64 KiB or more: creating a file per
 * partition costs more than reading a few headers; the log manager writes
 * them after every partition's final fsync so that they add no journal
 * commit to those). A
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
 * every snapshot above the new end first and fsyncs the directory before
 * anything is appended again (so no such snapshot can come back after a
 * power loss; the same fsync persists earlier pruning). Recovery may cut
 * an unflushed tail: snapshots above the recovered LEO are deleted, the
 * same way, before any is read.
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
 * deeper than two segments, which then replay from the log start. Their
 * offsets are kept in memory (plog->snaps, found by the loader's listing
 * of the directory), so writing one costs one file and no listing.
 *
 * Thread: every function runs with plog->lock held, or in plog_open
 * before the log is shared.
 */
#include "config.h"
#include "broker/log/plog.h"

#include <errno.h>
#include <fcntl.h>
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

static void snap_path(const struct plog *plog, int64_t off, char *path,
		      size_t size)
{
	snprintf(path, size, "%s/%020" PRId64 SNAP_SUFFIX, plog->dir, off);
}

/* Adds off to the sorted list of snapshot offsets (once). */
static int snaps_add(struct plog *plog, int64_t off)
{
	size_t i = plog->nsnaps;

	while (i > 0 && plog->snaps[i - 1] > off)
		i--;
	if (i > 0 && plog->snaps[i - 1] == off)
		return 0;
	if (plog->nsnaps == plog->snaps_cap) {
		size_t cap = plog->snaps_cap ? plog->snaps_cap * 2 : 4;
		int64_t *v = realloc(plog->snaps, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		plog->snaps = v;
		plog->snaps_cap = cap;
	}
	memmove(plog->snaps + i + 1, plog->snaps + i,
		(plog->nsnaps - i) * sizeof(*plog->snaps));
	plog->snaps[i] = off;
	plog->nsnaps++;
	return 0;
}

int plog_pstate_note_snapshot(struct plog *plog, int64_t off)
{
	return snaps_add(plog, off);
}

/* Unlinks snapshot snaps[i] and drops it from the list. */
static void remove_snapshot(struct plog *plog, size_t i)
{
	char path[SEGMENT_PATH_MAX];

	snap_path(plog, plog->snaps[i], path, sizeof(path));
	if (unlink(path) == 0)
		atomic_store(&plog->dir_dirty, true);
	if (plog->snaps[i] == plog->snap_offset)
		plog->snap_offset = -1;
	memmove(plog->snaps + i, plog->snaps + i + 1,
		(plog->nsnaps - i - 1) * sizeof(*plog->snaps));
	plog->nsnaps--;
}

/*
 * A snapshot above the log's end describes batches that are gone; new
 * batches will take their offsets. Its removal must be durable before
 * that, or a crash could bring it back. fsyncing the directory also makes
 * every earlier removal (pruned snapshots) durable.
 */
static void sync_removals(struct plog *plog)
{
	if (ckpt_sync_dir(plog->dir) < 0)
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " cannot fsync %s "
			 "after removing producer state snapshots",
			 plog->topic, plog->partition, plog->dir);
}

/* Removes the snapshots above `above`; returns how many. */
static int remove_above(struct plog *plog, int64_t above)
{
	int n = 0;

	while (plog->nsnaps > 0 && plog->snaps[plog->nsnaps - 1] > above) {
		remove_snapshot(plog, plog->nsnaps - 1);
		n++;
	}
	return n;
}

void plog_pstate_remove_snapshots(struct plog *plog, int64_t above)
{
	if (remove_above(plog, above) > 0)
		sync_removals(plog);
}

/*
 * Writes b to path in place, without a temporary file, a rename or an
 * fsync: one metadata change per snapshot (a torn file fails its CRC).
 */
static int write_in_place(const char *path, const struct buf *b, char *why,
			  size_t why_size)
{
	size_t done = 0;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(why, why_size, "cannot create %s: %s", path,
			 strerror(errno));
		return ERR_IO;
	}
	while (done < b->len) {
		ssize_t n = write(fd, b->data + done, b->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, why_size, "cannot write %s: %s", path,
				 n < 0 ? strerror(errno) : "short write");
			rc = ERR_IO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && !rc) {
		snprintf(why, why_size, "cannot close %s: %s", path,
			 strerror(errno));
		rc = ERR_IO;
	}
	if (rc)
		(void)unlink(path);
	return rc;
}

/* Bytes a rebuild would replay now: an upper bound, whole segments from
 * the one holding the newest snapshot (or the first). */
static int64_t replay_bytes(struct plog *plog)
{
	int64_t snap = plog->nsnaps ? plog->snaps[plog->nsnaps - 1] : -1;
	struct segment *active = plog->segs[plog->nsegs - 1];
	int64_t n = 0;

	/* Written by this process in the active segment: exact. */
	if (snap >= 0 && snap == plog->snap_offset &&
	    plog->snap_seg_base == active->base)
		return segment_size(active) - plog->snap_pos;
	for (int i = plog->nsegs - 1; i >= 0; i--) {
		n += segment_size(plog->segs[i]);
		if (plog->segs[i]->base <= snap)
			break;
	}
	return n;
}

int plog_pstate_snapshot(struct plog *plog, int64_t min_replay)
{
	int64_t leo = atomic_load(&plog->leo);
	char path[SEGMENT_PATH_MAX], why[SEGMENT_PATH_MAX + 128];
	struct buf b = BUF_INIT;
	int rc;

	/* Nothing appended since the newest one: it is the same state. */
	if (plog->nsnaps > 0 && plog->snaps[plog->nsnaps - 1] == leo)
		return 0;
	if (min_replay > 0 && replay_bytes(plog) < min_replay)
		return 0;
	rc = pstate_encode(plog->pstate, leo, &b);
	if (rc)
		goto out_log;
	snap_path(plog, leo, path, sizeof(path));
	rc = write_in_place(path, &b, why, sizeof(why));
	if (rc)
		goto out_log;
	/* A new snapshot need not be durable: without it a restart
	 * replays more. Removals of older ones are (remove_snapshot). */
	rc = snaps_add(plog, leo);
	if (rc)
		goto out_log;
	plog->snap_offset = leo;
	plog->snap_seg_base = plog->segs[plog->nsegs - 1]->base;
	plog->snap_pos = segment_size(plog->segs[plog->nsegs - 1]);
	while (plog->nsnaps > SNAP_KEEP)
		remove_snapshot(plog, 0);
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
			uint8_t *chunk, int64_t *scanned, int64_t *start_pos)
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
	if (*start_pos < 0)
		*start_pos = pos;
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

/*
 * Replays every batch at or after start up to the LEO. *seg_base and
 * *pos get where start is (segment and byte position), when known.
 */
static int replay(struct plog *plog, int64_t start, int64_t *scanned,
		  int64_t *seg_base, int64_t *pos)
{
	int64_t leo = atomic_load(&plog->leo);
	uint8_t *chunk;
	int rc = 0;

	*scanned = 0;
	*seg_base = -1;
	*pos = -1;
	if (start >= leo) {
		struct segment *active = plog->segs[plog->nsegs - 1];

		*seg_base = active->base;
		*pos = segment_size(active);
		return 0;
	}
	chunk = malloc(SCAN_CHUNK);
	if (!chunk)
		return ERR_NOMEM;
	for (int i = 0; i < plog->nsegs && !rc; i++) {
		struct segment *seg = plog->segs[i];
		int64_t upper =
		    i + 1 < plog->nsegs ? plog->segs[i + 1]->base : leo;

		if (upper <= start || segment_size(seg) == 0)
			continue;
		if (*pos < 0)
			*seg_base = seg->base;
		rc = scan_segment(plog, seg, start, chunk, scanned, pos);
		/* As the loader leaves them: opened again on first use. */
		(void)segment_close_idle(seg, INT64_MAX, 0);
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
	int64_t t0 = clock_mono_ms(), seg_base, pos;
	bool from_snap;
	int rc = 0;

	pstate_clear(plog->pstate);
	plog->snap_offset = -1;
	if (remove_above(plog, leo) > 0)
		sync_removals(plog);
	while (plog->nsnaps > 0 && start < 0) {
		int64_t off = plog->snaps[plog->nsnaps - 1];

		rc = load_snapshot(plog, off);
		if (rc == 0) {
			start = off;
			break;
		}
		if (rc == ERR_NOMEM)
			return rc;
		log_warn(LOG_FAC,
			 "topic=%s partition=%" PRId32 " producer state "
			 "snapshot %020" PRId64
			 " is unusable (%s); deleting it",
			 plog->topic, plog->partition, off, err_str(rc));
		remove_snapshot(plog, plog->nsnaps - 1);
	}
	from_snap = start >= 0;
	if (!from_snap)
		start = plog->segs[0]->base;
	rc = replay(plog, start, &scanned, &seg_base, &pos);
	if (rc == 0 && from_snap && pos >= 0) {
		/* Where the newest snapshot sits, for replay_bytes. */
		plog->snap_offset = start;
		plog->snap_seg_base = seg_base;
		plog->snap_pos = pos;
	}
	if (rc == ERR_CORRUPT) {
		/* A batch header the loader trusted is bad: reads fail
		 * there too. Keep the partition available with what was
		 * learnt before it (replay logged the segment). */
		rc = 0;
	} else if (rc) {
		pstate_clear(plog->pstate);
		return rc;
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
	return 0;
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
