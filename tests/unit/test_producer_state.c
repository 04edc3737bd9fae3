/*
 * test_producer_state.c - the idempotent producers of a partition log.
 *
 * The rules of producer_state.c on their own (duplicates in the window of
 * five batches, sequence gaps, wrap-around past INT32_MAX, epoch fencing
 * and bumps, unknown producers, runs that are undone, expiry, truncation,
 * snapshots and corrupt snapshots), then through the partition log:
 * duplicates are answered with their original offsets and not written,
 * a run is refused whole, a failed write leaves no state behind,
 * followers learn the state from replicated batches, and the state is
 * rebuilt after a clean close, after a crash (from the roll snapshot plus
 * the batch headers after it, or from the log start), after truncation,
 * and past a corrupt or stale snapshot.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/plog.h"
#include "broker/log/producer_state.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/err.h"
#include "log_test_util.h"

/* ------------------------------------------------------------ helpers */

static struct pstate_batch mk(int32_t first_seq, int32_t n, int64_t off,
			      int64_t ts)
{
	struct pstate_batch b;

	b.first_seq = first_seq;
	b.last_seq = pstate_seq_add(first_seq, n - 1);
	b.first_offset = off;
	b.last_offset = off + n - 1;
	b.timestamp = ts;
	return b;
}

/* One checked run of a single batch; returns pstate_check's verdict. */
static int run1(pstate_t *ps, int64_t pid, int16_t epoch, struct pstate_batch b,
		struct pstate_batch *dup)
{
	int rc;

	pstate_run_begin(ps, b.first_offset);
	rc = pstate_check(ps, pid, epoch, &b, dup);
	if (rc >= 0)
		pstate_run_commit(ps);
	else
		pstate_run_abort(ps);
	return rc;
}

static int32_t last_seq(pstate_t *ps, int64_t pid)
{
	struct pstate_batch b[PSTATE_BATCHES];
	int n = pstate_lookup(ps, pid, NULL, b, PSTATE_BATCHES);

	ck_assert_int_gt(n, 0);
	return b[n - 1].last_seq;
}

/* ------------------------------------------------------------- rules */

START_TEST(test_sequence_and_duplicates)
{
	pstate_t *ps = pstate_new();
	struct pstate_batch dup;
	int64_t off = 0;

	/* Batches 0-9, 10-19, ... 60-69: seven batches, five remembered. */
	for (int i = 0; i < 7; i++, off += 10)
		ck_assert_int_eq(run1(ps, 7, 0, mk(i * 10, 10, off, 100), NULL),
				 PSTATE_NEW);
	ck_assert_int_eq(pstate_count(ps), 1);
	ck_assert_int_eq(last_seq(ps, 7), 69);
	/* Every batch of the window is a duplicate with its offsets. */
	for (int i = 2; i < 7; i++) {
		memset(&dup, 0, sizeof(dup));
		ck_assert_int_eq(run1(ps, 7, 0, mk(i * 10, 10, off, 100), &dup),
				 PSTATE_DUPLICATE);
		ck_assert_int_eq(dup.first_offset, i * 10);
		ck_assert_int_eq(dup.last_offset, i * 10 + 9);
	}
	/* Older than the window: no longer known, hence out of order. */
	ck_assert_int_eq(run1(ps, 7, 0, mk(10, 10, off, 100), &dup),
			 ERR_SEQUENCE);
	/* Same first sequence, different length: not a duplicate. */
	ck_assert_int_eq(run1(ps, 7, 0, mk(60, 5, off, 100), &dup),
			 ERR_SEQUENCE);
	/* A gap and a repeat of the last sequence. */
	ck_assert_int_eq(run1(ps, 7, 0, mk(71, 1, off, 100), &dup),
			 ERR_SEQUENCE);
	ck_assert_int_eq(run1(ps, 7, 0, mk(69, 1, off, 100), &dup),
			 ERR_SEQUENCE);
	/* In order again. */
	ck_assert_int_eq(run1(ps, 7, 0, mk(70, 1, off, 100), &dup), PSTATE_NEW);
	ck_assert_int_eq(last_seq(ps, 7), 70);
	/* A different epoch's batch is never a duplicate. */
	ck_assert_int_eq(run1(ps, 7, 1, mk(60, 10, off + 1, 100), &dup),
			 ERR_SEQUENCE);
	pstate_destroy(ps);
}
END_TEST

START_TEST(test_wrap_around)
{
	pstate_t *ps = pstate_new();
	struct pstate_batch b = mk(INT32_MAX - 4, 10, 0, 1);

	/* A batch that itself wraps: INT32_MAX-4 .. 4. */
	ck_assert_int_eq(b.last_seq, 4);
	ck_assert_int_eq(run1(ps, 1, 0, b, NULL), PSTATE_NEW);
	ck_assert_int_eq(run1(ps, 1, 0, mk(5, 3, 10, 1), NULL), PSTATE_NEW);
	ck_assert_int_eq(last_seq(ps, 1), 7);
	/* Ending exactly at INT32_MAX: the next starts at 0. */
	ck_assert_int_eq(run1(ps, 2, 0, mk(INT32_MAX - 2, 3, 13, 1), NULL),
			 PSTATE_NEW);
	ck_assert_int_eq(last_seq(ps, 2), INT32_MAX);
	ck_assert_int_eq(run1(ps, 2, 0, mk(INT32_MAX, 1, 16, 1), NULL),
			 ERR_SEQUENCE);
	ck_assert_int_eq(run1(ps, 2, 0, mk(0, 1, 16, 1), NULL), PSTATE_NEW);
	/* The wrapped batch is still recognised as a duplicate. */
	ck_assert_int_eq(run1(ps, 1, 0, mk(INT32_MAX - 4, 10, 17, 1), NULL),
			 PSTATE_DUPLICATE);
	pstate_destroy(ps);
}
END_TEST

START_TEST(test_epochs_and_unknown_producers)
{
	pstate_t *ps = pstate_new();
	struct pstate_batch b[PSTATE_BATCHES];
	int16_t epoch = -9;

	/* Unknown producers: any first sequence (Kafka 2.5+). */
	ck_assert_int_eq(run1(ps, 3, 2, mk(500, 10, 0, 1), NULL), PSTATE_NEW);
	ck_assert_int_eq(run1(ps, 4, 0, mk(0, 1, 10, 1), NULL), PSTATE_NEW);
	/* An older epoch is fenced, whatever its sequence. */
	ck_assert_int_eq(run1(ps, 3, 1, mk(510, 1, 11, 1), NULL), ERR_FENCED);
	ck_assert_int_eq(run1(ps, 3, 1, mk(0, 1, 11, 1), NULL), ERR_FENCED);
	/* A newer epoch starts at 0 only. */
	ck_assert_int_eq(run1(ps, 3, 3, mk(510, 1, 11, 1), NULL), ERR_SEQUENCE);
	ck_assert_int_eq(run1(ps, 3, 3, mk(0, 4, 11, 1), NULL), PSTATE_NEW);
	ck_assert_int_eq(pstate_lookup(ps, 3, &epoch, b, PSTATE_BATCHES), 1);
	ck_assert_int_eq(epoch, 3);
	ck_assert_int_eq(b[0].first_offset, 11);
	ck_assert_int_eq(run1(ps, 3, 3, mk(4, 1, 15, 1), NULL), PSTATE_NEW);
	/* Old-epoch batches are no duplicates after the bump. */
	ck_assert_int_eq(run1(ps, 3, 2, mk(500, 10, 16, 1), NULL), ERR_FENCED);
	/* Missing producer fields. */
	ck_assert_int_eq(run1(ps, 5, -1, mk(0, 1, 16, 1), NULL), ERR_INVAL);
	ck_assert_int_eq(run1(ps, 5, 0, mk(-1, 1, 16, 1), NULL), ERR_INVAL);
	ck_assert_int_eq(pstate_lookup(ps, 5, NULL, b, 1), ERR_NOT_FOUND);
	pstate_destroy(ps);
}
END_TEST

START_TEST(test_runs_check_against_each_other_and_undo)
{
	pstate_t *ps = pstate_new();
	struct pstate_batch b, dup;
	int16_t epoch;

	ck_assert_int_eq(run1(ps, 1, 0, mk(0, 5, 0, 1), NULL), PSTATE_NEW);
	/* A run: 5-9 (new), 10-14 (new, checked against 5-9), then 5-9
	 * again, which is no duplicate of the same run: out of order. */
	pstate_run_begin(ps, 5);
	b = mk(5, 5, 5, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 0, &b, &dup), PSTATE_NEW);
	b = mk(10, 5, 10, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 0, &b, &dup), PSTATE_NEW);
	b = mk(20, 1, 15, 1);
	ck_assert_int_eq(pstate_check(ps, 9, 0, &b, &dup), PSTATE_NEW);
	b = mk(5, 5, 16, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 0, &b, &dup), ERR_SEQUENCE);
	ck_assert_int_eq(pstate_count(ps), 2);
	/* The append fails: everything the run did is undone. */
	pstate_run_abort(ps);
	ck_assert_int_eq(pstate_count(ps), 1);
	ck_assert_int_eq(pstate_lookup(ps, 9, NULL, &b, 1), ERR_NOT_FOUND);
	ck_assert_int_eq(last_seq(ps, 1), 4);
	/* A run with an epoch bump undone restores the old epoch. */
	pstate_run_begin(ps, 5);
	b = mk(0, 2, 5, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 4, &b, &dup), PSTATE_NEW);
	pstate_run_abort(ps);
	ck_assert_int_eq(pstate_lookup(ps, 1, &epoch, &b, 1), 1);
	ck_assert_int_eq(epoch, 0);
	/* Committed runs stay. */
	pstate_run_begin(ps, 5);
	b = mk(5, 2, 5, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 0, &b, &dup), PSTATE_NEW);
	b = mk(7, 2, 7, 1);
	ck_assert_int_eq(pstate_check(ps, 1, 0, &b, &dup), PSTATE_NEW);
	pstate_run_commit(ps);
	ck_assert_int_eq(last_seq(ps, 1), 8);
	pstate_destroy(ps);
}
END_TEST

START_TEST(test_many_producers_expire_truncate)
{
	pstate_t *ps = pstate_new();
	struct pstate_batch b[PSTATE_BATCHES];
	int64_t off = 0;

	/* Enough producers to grow the table several times. */
	for (int64_t pid = 0; pid < 1000; pid++)
		for (int s = 0; s < 3; s++, off += 2)
			ck_assert_int_eq(
			    pstate_apply(ps, pid * 7919, 0,
					 &(struct pstate_batch){
					     s * 2, s * 2 + 1, off, off + 1,
					     pid < 500 ? 1000 : 2000}),
			    0);
	ck_assert_int_eq(pstate_count(ps), 1000);
	for (int64_t pid = 0; pid < 1000; pid++)
		ck_assert_int_eq(
		    pstate_lookup(ps, pid * 7919, NULL, b, PSTATE_BATCHES), 3);
	/* Half of them were silent since 1000. */
	ck_assert_int_eq(pstate_expire(ps, 1500), 500);
	ck_assert_int_eq(pstate_count(ps), 500);
	for (int64_t pid = 0; pid < 1000; pid++)
		ck_assert_int_eq(
		    pstate_lookup(ps, pid * 7919, NULL, b, PSTATE_BATCHES) > 0,
		    pid >= 500);
	/* Truncation at 4000 keeps the batches below it. Producer 500's
	 * batches start at 3000, 666's end at 4000: 3 and 2 remain... */
	pstate_truncate(ps, 4000);
	ck_assert_int_eq(pstate_lookup(ps, 500 * 7919, NULL, b, 5), 3);
	ck_assert_int_eq(pstate_lookup(ps, 666 * 7919, NULL, b, 5), 2);
	ck_assert_int_eq(b[1].last_offset, 3999);
	ck_assert_int_eq(pstate_lookup(ps, 667 * 7919, NULL, b, 5),
			 ERR_NOT_FOUND);
	ck_assert_int_eq(pstate_count(ps), 167);
	pstate_destroy(ps);
}
END_TEST

START_TEST(test_snapshot_roundtrip_and_corruption)
{
	pstate_t *ps = pstate_new(), *rd = pstate_new();
	struct pstate_batch a[PSTATE_BATCHES], b[PSTATE_BATCHES];
	struct buf snap = BUF_INIT;
	int16_t ea, eb;
	int64_t off = 0, got = -1;

	for (int64_t pid = 1; pid <= 50; pid++)
		for (int s = 0; s < (int)(pid % 8); s++, off += 3)
			ck_assert_int_eq(run1(ps, pid, (int16_t)(pid % 3),
					      mk(s * 3, 3, off, 5000 + off),
					      NULL),
					 PSTATE_NEW);
	ck_assert_int_eq(pstate_encode(ps, off, &snap), 0);
	ck_assert_int_eq(pstate_decode(rd, snap.data, snap.len, &got), 0);
	ck_assert_int_eq(got, off);
	ck_assert_int_eq(pstate_count(rd), pstate_count(ps));
	for (int64_t pid = 1; pid <= 50; pid++) {
		int na = pstate_lookup(ps, pid, &ea, a, PSTATE_BATCHES);
		int nb = pstate_lookup(rd, pid, &eb, b, PSTATE_BATCHES);

		ck_assert_int_eq(na, nb);
		if (na < 0)
			continue;
		ck_assert_int_eq(ea, eb);
		ck_assert_mem_eq(a, b, (size_t)na * sizeof(*a));
	}
	/* The decoded state keeps working: next sequence of producer 7. */
	ck_assert_int_eq(run1(rd, 7, 1, mk(21, 1, off, 1), NULL), PSTATE_NEW);
	ck_assert_int_eq(run1(rd, 7, 1, mk(18, 3, off + 1, 1), NULL),
			 PSTATE_DUPLICATE);
	/* Any flipped byte, any truncation: refused, state left empty. */
	for (size_t i = 0; i < snap.len; i += 7) {
		snap.data[i] ^= 0x20;
		ck_assert_int_eq(pstate_decode(rd, snap.data, snap.len, &got),
				 ERR_CORRUPT);
		ck_assert_int_eq(pstate_count(rd), 0);
		snap.data[i] ^= 0x20;
	}
	for (size_t n = 0; n < snap.len; n += 13)
		ck_assert_int_eq(pstate_decode(rd, snap.data, n, &got),
				 ERR_CORRUPT);
	/* An empty state makes a valid snapshot. */
	pstate_clear(ps);
	buf_reset(&snap);
	ck_assert_int_eq(pstate_encode(ps, 42, &snap), 0);
	ck_assert_int_eq(pstate_decode(rd, snap.data, snap.len, &got), 0);
	ck_assert_int_eq(got, 42);
	ck_assert_int_eq(pstate_count(rd), 0);
	buf_free(&snap);
	pstate_destroy(ps);
	pstate_destroy(rd);
}
END_TEST

/* ------------------------------------------------- through the plog */

static char dir[256], pdir[512];
static int64_t now_ms;
static struct plog_env env;
static struct topic_conf conf;

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	snprintf(pdir, sizeof(pdir), "%s/idem-0", dir);
	now_ms = 1700000000000;
	memset(&env, 0, sizeof(env));
	env.clock_ms = lt_clock_fn;
	env.clock_arg = &now_ms;
	lt_conf(&conf, 64 << 10, 4096);
}

static void teardown(void)
{
	topic_conf_free(&conf);
	lt_rmtree(dir);
}

static plog_t *open_at(const char *d, bool clean)
{
	struct plog_load_opts opts = {.recovery_point = 0,
				      .log_start = -1,
				      .hw = -1,
				      .clean = clean,
				      .conf_confirmed = true};
	char errstr[256] = "";
	int err = 0;
	plog_t *p = plog_open(d, "idem", 0, &conf, &env, &opts, &err, errstr,
			      sizeof(errstr));

	ck_assert_msg(p != NULL, "open failed: %s", errstr);
	return p;
}

static plog_t *open_log(bool clean)
{
	return open_at(pdir, clean);
}

/* Appends one idempotent batch of n records (values of vlen bytes) to
 * out. */
static void idem_batch(struct buf *out, int64_t pid, int16_t epoch, int32_t seq,
		       int n, int vlen)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	char val[2048];

	ck_assert_int_lt(vlen, (int)sizeof(val));
	memset(val, 'v', (size_t)vlen);
	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(batch_builder_add(&bb, now_ms, NULL, -1, val,
						   vlen, NULL, 0),
				 0);
	ck_assert_int_eq(batch_builder_finish(&bb, pid, epoch, seq, -1), 0);
	ck_assert_int_eq(buf_append(out, bb.out.data, bb.out.len), 0);
	batch_builder_free(&bb);
}

/* Leader-appends the run in b (a copy: the caller's bytes stay as
 * built, like a client's retry buffer). */
static int append(plog_t *p, const struct buf *b, int64_t *bases,
		  struct plog_append_result *res)
{
	struct batch_run_info info;
	uint8_t *copy = malloc(b->len);
	int rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, b->data, b->len);
	ck_assert_int_eq(batch_run_validate(copy, b->len, 1 << 30, &info, NULL),
			 0);
	rc = plog_append_leader(p, copy, b->len, &info, 0, NULL, NULL, bases,
				res);
	free(copy);
	return rc;
}

/* One batch: returns its base offset (or the error). */
static int64_t produce(plog_t *p, int64_t pid, int16_t epoch, int32_t seq,
		       int n)
{
	struct plog_append_result res;
	struct buf b = BUF_INIT;
	int rc;

	idem_batch(&b, pid, epoch, seq, n, 100);
	rc = append(p, &b, NULL, &res);
	buf_free(&b);
	return rc < 0 ? rc : res.first_offset;
}

/* Reads the whole log: batches must follow each other without gaps or
 * overlaps. Returns the number of records. */
static int64_t count_records(plog_t *p)
{
	int64_t off = plog_log_start(p), n = 0;

	while (off < plog_leo(p)) {
		struct plog_slice sl;
		uint8_t *data;

		ck_assert_int_eq(plog_read(p, off, 1 << 20, -1, true, &sl), 0);
		ck_assert_uint_gt(sl.len, 0);
		data = malloc(sl.len);
		ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
		for (size_t pos = 0; pos < sl.len;) {
			struct batch_header h;

			ck_assert_int_eq(batch_validate(data + pos,
							sl.len - pos, 1 << 30,
							&h),
					 0);
			ck_assert_int_eq(h.base_offset, off);
			n += h.records_count;
			off = batch_last_offset(&h) + 1;
			pos += batch_total_size(&h);
		}
		free(data);
		plog_slice_release(&sl);
	}
	return n;
}

static int count_files(const char *d, const char *suffix)
{
	struct dirent *de;
	size_t m = strlen(suffix);
	int n = 0;
	DIR *dd = opendir(d);

	ck_assert_ptr_nonnull(dd);
	while ((de = readdir(dd)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > m && strcmp(de->d_name + l - m, suffix) == 0)
			n++;
	}
	closedir(dd);
	return n;
}

START_TEST(test_plog_duplicates_not_written)
{
	plog_t *p = open_log(false);
	struct plog_append_result res;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	int64_t bases[4];

	ck_assert_int_eq(produce(p, 5, 0, 0, 3), 0);
	ck_assert_int_eq(produce(p, -1, -1, -1, 2), 3); /* not idempotent */
	ck_assert_int_eq(produce(p, 5, 0, 3, 4), 5);
	/* The retry of either: original offsets, nothing written. */
	ck_assert_int_eq(produce(p, 5, 0, 0, 3), 0);
	ck_assert_int_eq(produce(p, 5, 0, 3, 4), 5);
	ck_assert_int_eq(plog_leo(p), 9);
	/* A gap refuses; so does an old epoch. */
	ck_assert_int_eq(produce(p, 5, 0, 8, 1), ERR_SEQUENCE);
	ck_assert_int_eq(plog_leo(p), 9);
	/* A run: the retry of 3-6, then 7-8 and 9 new. The new batches
	 * move down; every batch gets its offset. */
	idem_batch(&b, 5, 0, 3, 4, 100);
	idem_batch(&b, 5, 0, 7, 2, 100);
	idem_batch(&b, 5, 0, 9, 1, 100);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(append(p, &b, bases, &res), 0);
	ck_assert_int_eq(res.dup_batches, 1);
	ck_assert_int_eq(res.first_offset, 5);
	ck_assert_int_eq(res.last_offset, 11);
	ck_assert_int_eq(bases[0], 5);
	ck_assert_int_eq(bases[1], 9);
	ck_assert_int_eq(bases[2], 11);
	ck_assert_int_eq(plog_leo(p), 12);
	/* The log holds each record once, in order. */
	ck_assert_int_eq(count_records(p), 12);
	/* The whole run again: all duplicates, per-batch offsets, no
	 * write. */
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(append(p, &b, bases, &res), 0);
	ck_assert_int_eq(res.dup_batches, 3);
	ck_assert_int_eq(res.first_offset, 5);
	ck_assert_int_eq(res.last_offset, 11);
	ck_assert_int_eq(bases[1], 9);
	ck_assert_int_eq(plog_leo(p), 12);
	/* A run with a bad batch after a good one is refused whole. */
	idem_batch(&b2, 5, 0, 10, 1, 100);
	idem_batch(&b2, 5, 0, 12, 1, 100);
	ck_assert_int_eq(append(p, &b2, bases, &res), ERR_SEQUENCE);
	ck_assert_int_eq(plog_leo(p), 12);
	ck_assert_int_eq(produce(p, 5, 0, 10, 1), 12);
	/* Epoch bump and fencing. */
	ck_assert_int_eq(produce(p, 5, 1, 5, 1), ERR_SEQUENCE);
	ck_assert_int_eq(produce(p, 5, 1, 0, 1), 13);
	ck_assert_int_eq(produce(p, 5, 0, 11, 1), ERR_FENCED);
	ck_assert_int_eq(plog_leo(p), 14);
	buf_free(&b);
	buf_free(&b2);
	plog_unref(p);
}
END_TEST

static int fail_writes;

static ssize_t failing_pwrite(int fd, const void *buf, size_t len, off_t pos)
{
	if (fail_writes) {
		errno = ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, len, pos);
}

START_TEST(test_plog_failed_write_leaves_no_state)
{
	plog_t *p;

	env.pwrite_fn = failing_pwrite;
	p = open_log(false);
	ck_assert_int_eq(produce(p, 8, 0, 0, 2), 0);
	fail_writes = 1;
	ck_assert_int_eq(produce(p, 8, 0, 2, 2), ERR_NOSPACE);
	ck_assert_int_eq(produce(p, 9, 0, 0, 2), ERR_NOSPACE);
	fail_writes = 0;
	ck_assert_int_eq(plog_producer_count(p), 1);
	/* Not a duplicate: the failed batch was never appended. */
	ck_assert_int_eq(produce(p, 8, 0, 2, 2), 2);
	ck_assert_int_eq(plog_leo(p), 4);
	plog_unref(p);
}
END_TEST

START_TEST(test_plog_follower_learns_state)
{
	char fdir[600];
	plog_t *p = open_log(false), *f;
	struct plog_append_result res;
	struct batch_run_info info;
	struct pstate_batch last[PSTATE_BATCHES];
	struct plog_slice sl;
	int64_t off = 0;
	uint8_t *data;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(produce(p, 21, 3, i * 5, 5), i * 5);
	ck_assert_int_eq(produce(p, 22, 0, 0, 1), 20);
	snprintf(fdir, sizeof(fdir), "%s/follower-0", dir);
	f = open_at(fdir, false);
	while (off < plog_leo(p)) {
		ck_assert_int_eq(plog_read(p, off, 1 << 20, -1, true, &sl), 0);
		data = malloc(sl.len);
		ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
		ck_assert_int_eq(
		    batch_run_validate(data, sl.len, 1 << 30, &info, NULL), 0);
		ck_assert_int_eq(
		    plog_append_follower(f, data, sl.len, &info, &res), 0);
		off = sl.end_offset;
		free(data);
		plog_slice_release(&sl);
	}
	/* The follower, as a new leader, knows both producers. */
	ck_assert_int_eq(plog_producer_count(f), 2);
	ck_assert_int_eq(plog_producer_lookup(f, 21, NULL, last, 5), 4);
	ck_assert_int_eq(last[3].last_seq, 19);
	ck_assert_int_eq(produce(f, 21, 3, 15, 5), 15);
	ck_assert_int_eq(produce(f, 21, 3, 21, 1), ERR_SEQUENCE);
	ck_assert_int_eq(produce(f, 21, 3, 20, 1), 21);
	plog_unref(f);
	plog_unref(p);
}
END_TEST

/* A clean stop as the log manager does it. */
static void close_clean(plog_t *p)
{
	ck_assert_int_eq(plog_close(p), 0);
	ck_assert_int_eq(plog_snapshot_producers(p), 0);
}

/* Appends nb batches of producer pid from *seq; returns the LEO. */
static int64_t fill(plog_t *p, int64_t pid, int32_t *seq, int nb, int recs)
{
	for (int i = 0; i < nb; i++) {
		ck_assert_int_ge(produce(p, pid, 0, *seq, recs), 0);
		*seq += recs;
	}
	return plog_leo(p);
}

START_TEST(test_plog_rebuild_clean_and_crash)
{
	plog_t *p = open_log(false);
	struct pstate_batch last[PSTATE_BATCHES];
	int32_t s1 = 0, s2 = 0;
	int64_t leo;

	/* 64 KiB segments, ~1.1 KiB batches: several rolls. */
	fill(p, 1, &s1, 150, 10);
	fill(p, 2, &s2, 3, 1);
	fill(p, 1, &s1, 20, 10);
	ck_assert_int_gt(plog_segment_count(p), 2);
	ck_assert_int_ge(count_files(pdir, ".snapshot"), 1);
	ck_assert_int_le(count_files(pdir, ".snapshot"), 3);
	leo = plog_leo(p);
	ck_assert_int_eq(leo, 1703);
	/* Clean close: a snapshot at the LEO, nothing to replay. */
	close_clean(p);
	plog_unref(p);
	p = open_log(true);
	ck_assert_int_eq(plog_leo(p), leo);
	ck_assert_int_eq(plog_producer_lookup(p, 1, NULL, last, 5), 5);
	ck_assert_int_eq(last[4].last_seq, s1 - 1);
	ck_assert_int_eq(produce(p, 1, 0, s1 - 10, 10), leo - 10);
	ck_assert_int_eq(produce(p, 2, 0, 0, 1), 1500);
	ck_assert_int_eq(produce(p, 2, 0, 2, 1), 1502);
	ck_assert_int_eq(produce(p, 2, 0, 4, 1), ERR_SEQUENCE);
	ck_assert_int_eq(produce(p, 2, 0, 3, 1), leo);
	/* More batches, then a "crash": no close, reopened unclean. The
	 * state comes from the newest snapshot plus the headers after
	 * it. */
	leo = fill(p, 1, &s1, 80, 10);
	plog_unref(p);
	p = open_log(false);
	ck_assert_int_eq(plog_leo(p), leo);
	ck_assert_int_eq(produce(p, 1, 0, s1 - 10, 10), leo - 10);
	ck_assert_int_eq(produce(p, 1, 0, s1 - 50, 10), leo - 50);
	ck_assert_int_eq(produce(p, 1, 0, s1 + 1, 10), ERR_SEQUENCE);
	ck_assert_int_eq(produce(p, 2, 0, 3, 1), 1703);
	ck_assert_int_eq(produce(p, 2, 0, 4, 1), leo);
	ck_assert_int_eq(plog_producer_count(p), 2);
	plog_unref(p);
	/* A log that never rolled nor closed: replayed from its start. */
	snprintf(pdir + strlen(pdir), sizeof(pdir) - strlen(pdir), "-b");
	p = open_log(false);
	s1 = 0;
	leo = fill(p, 9, &s1, 20, 2);
	ck_assert_int_eq(plog_segment_count(p), 1);
	plog_unref(p);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 0);
	p = open_log(false);
	ck_assert_int_eq(produce(p, 9, 0, s1 - 2, 2), leo - 2);
	ck_assert_int_eq(produce(p, 9, 0, s1 + 2, 2), ERR_SEQUENCE);
	plog_unref(p);
}
END_TEST

/* Writes garbage over every snapshot file whose offset is >= min. */
static int damage_snapshots(int64_t min)
{
	struct dirent *de;
	char path[1024];
	DIR *d = opendir(pdir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (!strstr(de->d_name, ".snapshot") ||
		    strtoll(de->d_name, NULL, 10) < min)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pdir, de->d_name);
		f = fopen(path, "r+");
		ck_assert_ptr_nonnull(f);
		fseek(f, 30, SEEK_SET);
		fputs("garbage", f);
		fclose(f);
		n++;
	}
	closedir(d);
	return n;
}

/* The largest offset of a snapshot file in pdir, or -1. */
static int64_t newest_snapshot(void)
{
	struct dirent *de;
	int64_t max = -1;
	DIR *d = opendir(pdir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".snapshot") &&
		    strtoll(de->d_name, NULL, 10) > max)
			max = strtoll(de->d_name, NULL, 10);
	closedir(d);
	return max;
}

START_TEST(test_plog_rebuild_past_bad_snapshots)
{
	plog_t *p = open_log(false);
	int32_t s = 0;
	int64_t leo;

	leo = fill(p, 4, &s, 200, 10);
	close_clean(p);
	plog_unref(p);
	/* Every snapshot damaged: replay from the log start; the damaged
	 * files are removed. */
	ck_assert_int_ge(damage_snapshots(0), 2);
	p = open_log(true);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 0);
	ck_assert_int_eq(produce(p, 4, 0, s - 10, 10), leo - 10);
	ck_assert_int_eq(produce(p, 4, 0, s + 10, 10), ERR_SEQUENCE);
	leo = fill(p, 4, &s, 100, 10);
	plog_unref(p);
	/* Only the newest is damaged: an older one is used. */
	p = open_log(false);
	close_clean(p);
	plog_unref(p);
	ck_assert_int_ge(count_files(pdir, ".snapshot"), 2);
	ck_assert_int_eq(damage_snapshots(newest_snapshot()), 1);
	p = open_log(true);
	ck_assert_int_eq(produce(p, 4, 0, s - 20, 10), leo - 20);
	ck_assert_int_eq(produce(p, 4, 0, s, 10), leo);
	plog_unref(p);
}
END_TEST

START_TEST(test_plog_truncation_rebuilds)
{
	plog_t *p = open_log(false);
	struct pstate_batch last[PSTATE_BATCHES];
	int32_t s = 0, t = 0;
	int64_t mid, leo, nleo = -1;

	fill(p, 6, &s, 100, 10);
	mid = fill(p, 7, &t, 1, 4);
	leo = fill(p, 6, &s, 100, 10);
	ck_assert_int_gt(plog_segment_count(p), 3);
	/* Truncate into the middle: snapshots above the new end go, the
	 * state is that of the first 100 batches of 6 plus producer 7. */
	ck_assert_int_eq(plog_truncate_to(p, mid, &nleo), 0);
	ck_assert_int_eq(nleo, mid);
	ck_assert_int_eq(plog_producer_lookup(p, 6, NULL, last, 5), 5);
	ck_assert_int_eq(last[4].last_seq, 999);
	ck_assert_int_eq(last[4].last_offset, mid - 5);
	ck_assert_int_eq(plog_producer_lookup(p, 7, NULL, last, 5), 1);
	ck_assert_int_eq(produce(p, 6, 0, 1000, 10), mid);
	(void)leo;
	/* Truncate below producer 7's batch: it is gone. */
	ck_assert_int_eq(plog_truncate_to(p, mid - 20, &nleo), 0);
	ck_assert_int_eq(plog_producer_lookup(p, 7, NULL, last, 5),
			 ERR_NOT_FOUND);
	ck_assert_int_eq(plog_producer_lookup(p, 6, NULL, last, 5), 5);
	ck_assert_int_eq(last[4].last_offset, nleo - 1);
	/* Truncating fully forgets everyone and every snapshot. */
	ck_assert_int_eq(plog_truncate_fully(p, 5000), 0);
	ck_assert_int_eq(plog_producer_count(p), 0);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 0);
	ck_assert_int_eq(produce(p, 6, 0, 77, 1), 5000); /* unknown: any */
	plog_unref(p);
}
END_TEST

/* A clean close writes a snapshot at the LEO when the next start would
 * otherwise replay 64 KiB or more, and not for less. */
START_TEST(test_plog_close_snapshot)
{
	plog_t *p;
	char path[1024];
	int32_t s = 0;
	int64_t leo;

	conf.segment_bytes = 1 << 20;
	p = open_log(false);
	leo = fill(p, 2, &s, 5, 10);
	close_clean(p);
	plog_unref(p);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 0);
	p = open_log(true);
	ck_assert_int_eq(produce(p, 2, 0, s - 10, 10), leo - 10);
	leo = fill(p, 2, &s, 100, 10);
	close_clean(p);
	plog_unref(p);
	snprintf(path, sizeof(path), "%s/%020" PRId64 ".snapshot", pdir, leo);
	ck_assert_int_gt(lt_file_size(path), 0);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 1);
	p = open_log(true);
	ck_assert_int_eq(produce(p, 2, 0, s - 10, 10), leo - 10);
	ck_assert_int_eq(produce(p, 2, 0, s, 10), leo);
	s += 10;
	/* One batch since that snapshot: not worth another one. */
	close_clean(p);
	plog_unref(p);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 1);
	p = open_log(true);
	ck_assert_int_eq(produce(p, 2, 0, s - 10, 10), leo);
	fill(p, 2, &s, 100, 10);
	close_clean(p);
	plog_unref(p);
	ck_assert_int_eq(count_files(pdir, ".snapshot"), 2);
}
END_TEST

START_TEST(test_plog_stale_snapshot_above_leo)
{
	plog_t *p = open_log(false);
	char path[1024];
	FILE *f;
	int32_t s = 0;
	int64_t leo;

	leo = fill(p, 3, &s, 10, 10);
	close_clean(p);
	plog_unref(p);
	/* A snapshot for offsets the log does not have (a cut tail). */
	snprintf(path, sizeof(path), "%s/%020" PRId64 ".snapshot", pdir,
		 leo + 1000);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("stale", f);
	fclose(f);
	p = open_log(false);
	ck_assert_int_eq(lt_file_size(path), -1);
	ck_assert_int_eq(produce(p, 3, 0, s, 10), leo);
	plog_unref(p);
}
END_TEST

START_TEST(test_plog_expiry_at_retention)
{
	plog_t *p;

	env.producer_expiry_ms = 60000;
	p = open_log(false);
	ck_assert_int_eq(produce(p, 1, 0, 0, 1), 0);
	now_ms += 30000;
	ck_assert_int_eq(produce(p, 2, 0, 0, 1), 1);
	now_ms += 40000;
	ck_assert_int_ge(plog_retention(p, now_ms), 0);
	ck_assert_int_eq(plog_producer_count(p), 1);
	ck_assert_int_eq(plog_producer_lookup(p, 2, NULL, NULL, 0), 1);
	/* Producer 1 is unknown again: any sequence. */
	ck_assert_int_eq(produce(p, 1, 0, 40, 1), 2);
	plog_unref(p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_state");
	TCase *tc = tcase_create("rules");
	TCase *tp = tcase_create("plog");

	tcase_add_test(tc, test_sequence_and_duplicates);
	tcase_add_test(tc, test_wrap_around);
	tcase_add_test(tc, test_epochs_and_unknown_producers);
	tcase_add_test(tc, test_runs_check_against_each_other_and_undo);
	tcase_add_test(tc, test_many_producers_expire_truncate);
	tcase_add_test(tc, test_snapshot_roundtrip_and_corruption);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_set_timeout(tp, 60);
	tcase_add_test(tp, test_plog_duplicates_not_written);
	tcase_add_test(tp, test_plog_failed_write_leaves_no_state);
	tcase_add_test(tp, test_plog_follower_learns_state);
	tcase_add_test(tp, test_plog_rebuild_clean_and_crash);
	tcase_add_test(tp, test_plog_rebuild_past_bad_snapshots);
	tcase_add_test(tp, test_plog_truncation_rebuilds);
	tcase_add_test(tp, test_plog_close_snapshot);
	tcase_add_test(tp, test_plog_stale_snapshot_above_leo);
	tcase_add_test(tp, test_plog_expiry_at_retention);
	suite_add_tcase(s, tp);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
