/*
 * test_plog.c - the partition log: appends and reads across many segments,
 * slices on batch boundaries, reads bounded by the high watermark, out of
 * range, rolls (size, age through an injected clock, full index), follower
 * appends and truncation, the leader-epoch cache, an injected ENOSPC,
 * dynamic configuration, ListOffsets by time, LogAppendTime, the listener,
 * group commit and concurrent reads during appends.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/flusher.h"
#include "broker/log/plog.h"
#include "common/clock.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];

static uint64_t tb_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static char pdir[512];
static int64_t now_ms;
static struct plog_env env;
static struct topic_conf conf;

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	snprintf(pdir, sizeof(pdir), "%s/orders.v1_x-3", dir);
	now_ms = 1700000000000;
	memset(&env, 0, sizeof(env));
	env.clock_ms = lt_clock_fn;
	env.clock_arg = &now_ms;
	lt_conf(&conf, 1 << 20, 4096);
}

static void teardown(void)
{
	topic_conf_free(&conf);
	lt_rmtree(dir);
}

static plog_t *open_log(void)
{
	char errstr[256] = "";
	int err = 0;
	plog_t *p = plog_open(pdir, "orders.v1_x", 3, &conf, &env, NULL, &err,
			      errstr, sizeof(errstr));

	ck_assert_msg(p != NULL, "open failed: %s", errstr);
	return p;
}

static void seg_path(int64_t base, const char *sfx, char *out, size_t size)
{
	snprintf(out, size, "%s/%020" PRId64 ".%s", pdir, base, sfx);
}

START_TEST(test_append_read_many_segments)
{
	plog_t *p;
	int64_t seq = 0, batches, total = 0, files = 0;
	char path[1024];

	conf.segment_bytes = 8192;
	conf.index_interval_bytes = 1024;
	p = open_log();
	ck_assert_int_eq(plog_leo(p), 0);
	ck_assert_int_eq(plog_segment_count(p), 1);
	for (int i = 0; i < 300; i++)
		lt_append(p, 1 + i % 3, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_leo(p), seq);
	ck_assert_int_gt(plog_segment_count(p), 20);
	/* Every record comes back, in order, with any slice size. */
	ck_assert_int_eq(lt_read_all(p, 0, plog_leo(p), 1 << 20, 0, &batches),
			 seq);
	ck_assert_int_eq(batches, 600);
	ck_assert_int_eq(lt_read_all(p, 0, plog_leo(p), 700, 0, NULL), seq);
	ck_assert_int_eq(lt_read_all(p, 1234, plog_leo(p), 3000, 0, NULL),
			 seq - 1234);
	/* The size is the sum of the segment files. */
	for (int64_t base = 0; base < seq; base++) {
		seg_path(base, "log", path, sizeof(path));
		if (lt_file_size(path) >= 0) {
			total += lt_file_size(path);
			files++;
		}
	}
	ck_assert_int_eq(files, plog_segment_count(p));
	ck_assert_int_eq(total, plog_size_bytes(p));
	plog_unref(p);
}
END_TEST

/* Appends n single batches of recs records and returns their sizes. */
static void append_batches(plog_t *p, int n, int recs, int vlen, size_t *sizes,
			   int64_t *seq)
{
	for (int i = 0; i < n; i++) {
		int64_t before = plog_size_bytes(p);

		lt_append(p, 1, recs, vlen, now_ms, seq, 0);
		sizes[i] = (size_t)(plog_size_bytes(p) - before);
	}
}

START_TEST(test_slices_on_batch_boundaries)
{
	struct plog_slice sl;
	size_t sizes[10];
	int64_t seq = 0;
	plog_t *p;

	conf.index_interval_bytes = 0;
	p = open_log();
	append_batches(p, 10, 4, 50, sizes, &seq); /* offsets 0..39 */
	/* Exactly three batches fit. */
	ck_assert_int_eq(
	    plog_read(p, 8, sizes[2] + sizes[3] + sizes[4], -1, false, &sl), 0);
	ck_assert_int_eq(sl.first_offset, 8);
	ck_assert_int_eq(sl.end_offset, 20);
	ck_assert_uint_eq(sl.len, sizes[2] + sizes[3] + sizes[4]);
	plog_slice_release(&sl);
	/* One byte less: two. */
	ck_assert_int_eq(
	    plog_read(p, 8, sizes[2] + sizes[3] + sizes[4] - 1, -1, false, &sl),
	    0);
	ck_assert_int_eq(sl.end_offset, 16);
	ck_assert_uint_eq(sl.len, sizes[2] + sizes[3]);
	plog_slice_release(&sl);
	/* A fetch inside a batch starts at that batch. */
	ck_assert_int_eq(plog_read(p, 10, 1 << 20, -1, false, &sl), 0);
	ck_assert_int_eq(sl.first_offset, 8);
	ck_assert_int_eq(sl.end_offset, 40);
	plog_slice_release(&sl);
	/* The first batch is larger than max_bytes (KIP-74). */
	ck_assert_int_eq(plog_read(p, 4, 10, -1, true, &sl), 0);
	ck_assert_uint_eq(sl.len, sizes[1]);
	ck_assert_int_eq(sl.end_offset, 8);
	plog_slice_release(&sl);
	ck_assert_int_eq(plog_read(p, 4, 10, -1, false, &sl), 0);
	ck_assert_uint_eq(sl.len, 0);
	plog_slice_release(&sl);
	/* The same again from the position cache (second read). */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(plog_read(p, 20, sizes[5], -1, false, &sl), 0);
		ck_assert_int_eq(sl.first_offset, 20);
		ck_assert_int_eq(sl.end_offset, 24);
		plog_slice_release(&sl);
	}
	plog_unref(p);
}
END_TEST

START_TEST(test_reads_bounded_by_hw)
{
	struct plog_slice sl;
	size_t sizes[6];
	int64_t seq = 0;
	plog_t *p = open_log();

	append_batches(p, 6, 5, 40, sizes, &seq); /* 0..29 */
	ck_assert_int_eq(plog_hw(p), 0);
	plog_set_hw(p, 15);
	ck_assert_int_eq(plog_hw(p), 15);
	ck_assert_int_eq(plog_read(p, 0, 1 << 20, plog_hw(p), false, &sl), 0);
	ck_assert_int_eq(sl.end_offset, 15);
	ck_assert_uint_eq(sl.len, sizes[0] + sizes[1] + sizes[2]);
	plog_slice_release(&sl);
	/* At the HW: nothing yet. */
	ck_assert_int_eq(plog_read(p, 15, 1 << 20, plog_hw(p), false, &sl), 0);
	ck_assert_uint_eq(sl.len, 0);
	ck_assert_int_eq(sl.end_offset, 15);
	plog_slice_release(&sl);
	/* A HW inside a batch excludes that batch. */
	plog_set_hw(p, 17);
	ck_assert_int_eq(plog_read(p, 10, 1 << 20, plog_hw(p), true, &sl), 0);
	ck_assert_int_eq(sl.end_offset, 15);
	plog_slice_release(&sl);
	ck_assert_int_eq(plog_read(p, 15, 1 << 20, plog_hw(p), true, &sl), 0);
	ck_assert_uint_eq(sl.len, 0);
	plog_slice_release(&sl);
	/* Followers read to the LEO. */
	ck_assert_int_eq(plog_read(p, 15, 1 << 20, -1, false, &sl), 0);
	ck_assert_int_eq(sl.end_offset, 30);
	plog_slice_release(&sl);
	/* The HW is clamped to the LEO. */
	plog_set_hw(p, 1000);
	ck_assert_int_eq(plog_hw(p), 30);
	plog_unref(p);
}
END_TEST

START_TEST(test_out_of_range)
{
	struct plog_slice sl;
	int64_t seq = 0;
	plog_t *p = open_log();

	lt_append(p, 2, 5, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_read(p, 11, 1000, -1, false, &sl),
			 ERR_OUT_OF_RANGE);
	ck_assert_int_eq(plog_read(p, 10, 1000, -1, false, &sl), 0);
	ck_assert_uint_eq(sl.len, 0);
	plog_slice_release(&sl);
	ck_assert_int_eq(plog_truncate_fully(p, 100), 0);
	ck_assert_int_eq(plog_log_start(p), 100);
	ck_assert_int_eq(plog_leo(p), 100);
	ck_assert_int_eq(plog_read(p, 5, 1000, -1, false, &sl),
			 ERR_OUT_OF_RANGE);
	seq = 100;
	lt_append(p, 1, 3, 10, now_ms, &seq, 0);
	ck_assert_int_eq(lt_read_all(p, 100, 103, 1000, 0, NULL), 3);
	plog_unref(p);
}
END_TEST

START_TEST(test_roll_by_size)
{
	int64_t seq = 0;
	char path[1024];
	plog_t *p;
	size_t sizes[1];

	conf.segment_bytes = 1500;
	p = open_log();
	append_batches(p, 1, 5, 100, sizes, &seq);
	/* Each batch is ~600 bytes: two fit, the third rolls. */
	ck_assert_int_gt(sizes[0], 500);
	ck_assert_int_lt(sizes[0], 750);
	lt_append(p, 1, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 1);
	lt_append(p, 1, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 2);
	seg_path(10, "log", path, sizeof(path));
	ck_assert_int_eq(lt_file_size(path), (int64_t)sizes[0]);
	/* The rolled segment has both indexes (the active one gets them at
	 * its first index write, roll or close). */
	seg_path(0, "index", path, sizeof(path));
	ck_assert_int_ge(lt_file_size(path), 0);
	seg_path(0, "timeindex", path, sizeof(path));
	ck_assert_int_eq(lt_file_size(path), 12);
	/* A run larger than a whole segment still goes in (alone). */
	lt_append(p, 4, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 3);
	lt_append(p, 1, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 4);
	ck_assert_int_eq(lt_read_all(p, 0, plog_leo(p), 1 << 20, 0, NULL), seq);
	plog_unref(p);
}
END_TEST

START_TEST(test_roll_by_age)
{
	int64_t seq = 0;
	plog_t *p;

	conf.segment_ms = 1000;
	p = open_log();
	lt_append(p, 1, 2, 10, now_ms, &seq, 0);
	now_ms += 900;
	lt_append(p, 1, 2, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 1);
	now_ms += 200; /* first record now 1100 ms old */
	lt_append(p, 1, 2, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 2);
	/* Records without timestamps: the wall clock decides. */
	now_ms += 10;
	lt_append(p, 1, 2, 10, -1, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 2);
	plog_unref(p);
}
END_TEST

START_TEST(test_roll_by_full_index)
{
	int64_t seq = 0;
	plog_t *p;

	conf.index_interval_bytes = 0;
	conf.segment_index_bytes = 4 * 8; /* four offset entries */
	p = open_log();
	/* The first batch of a segment gets no entry; four more fill it.
	 * (One timestamp: the time index, 2 entries here, stays at one.) */
	for (int i = 0; i < 5; i++)
		lt_append(p, 1, 1, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 1);
	lt_append(p, 1, 1, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 2);
	/* A growing timestamp fills the time index (2 entries) first. */
	for (int i = 1; i <= 3; i++)
		lt_append(p, 1, 1, 10, now_ms + i, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 3);
	ck_assert_int_eq(lt_read_all(p, 0, 9, 1 << 20, 0, NULL), 9);
	plog_unref(p);
}
END_TEST

START_TEST(test_follower_append_and_truncate)
{
	char fdir[1024], errstr[256];
	int32_t ep[8], eo;
	int64_t st[8], seq = 0, nleo, end;
	int err;
	plog_t *leader, *follower;
	struct plog_slice sl;
	struct batch_run_info info;
	uint8_t *data;

	conf.segment_bytes = 4000;
	leader = open_log();
	snprintf(fdir, sizeof(fdir), "%s/orders.v1_x-3-follower", dir);
	follower = plog_open(fdir, "orders.v1_x", 3, &conf, &env, NULL, &err,
			     errstr, sizeof(errstr));
	ck_assert_ptr_nonnull(follower);
	ck_assert_int_eq(plog_epoch_assign(leader, 1, 0), 0);
	lt_append(leader, 20, 3, 60, now_ms, &seq, 1); /* 0..59, epoch 1 */
	lt_append(leader, 20, 3, 60, now_ms, &seq, 4); /* 60..119, epoch 4 */
	lt_replicate(leader, follower, 0);
	ck_assert_int_eq(plog_leo(follower), 120);
	ck_assert_int_gt(plog_segment_count(follower), 3);
	ck_assert_int_eq(lt_read_all(follower, 0, 120, 5000, 0, NULL), 120);
	ck_assert_int_eq(plog_epoch_entries(follower, ep, st, 8), 2);
	ck_assert_int_eq(ep[0], 1);
	ck_assert_int_eq(st[0], 0);
	ck_assert_int_eq(ep[1], 4);
	ck_assert_int_eq(st[1], 60);
	/* A run that does not start at the LEO is refused. */
	ck_assert_int_eq(plog_read(leader, 30, 100000, -1, true, &sl), 0);
	data = malloc(sl.len);
	ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
	ck_assert_int_eq(batch_run_validate(data, sl.len, 1 << 30, &info, NULL),
			 0);
	ck_assert_int_eq(
	    plog_append_follower(follower, data, sl.len, &info, NULL),
	    ERR_OUT_OF_RANGE);
	ck_assert_int_eq(plog_leo(follower), 120);
	free(data);
	plog_slice_release(&sl);
	/* Truncate inside a batch: the whole batch goes. */
	ck_assert_int_eq(plog_truncate_to(follower, 64, &nleo), 0);
	ck_assert_int_eq(nleo, 63);
	ck_assert_int_eq(plog_leo(follower), 63);
	ck_assert_int_eq(plog_epoch_entries(follower, ep, st, 8), 2);
	ck_assert_int_eq(plog_epoch_end_offset(follower, 4, &eo, &end), 0);
	ck_assert_int_eq(eo, 4);
	ck_assert_int_eq(end, 63);
	ck_assert_int_eq(plog_truncate_to(follower, 45, &nleo), 0);
	ck_assert_int_eq(nleo, 45);
	ck_assert_int_eq(plog_epoch_entries(follower, ep, st, 8), 1);
	ck_assert_int_eq(lt_read_all(follower, 0, 45, 5000, 0, NULL), 45);
	/* It catches up again from there. */
	lt_replicate(leader, follower, 45);
	ck_assert_int_eq(lt_read_all(follower, 0, 120, 5000, 0, NULL), 120);
	ck_assert_int_eq(plog_epoch_entries(follower, ep, st, 8), 2);
	/* Truncation below the first segment restarts the log. */
	ck_assert_int_eq(plog_truncate_to(follower, 0, &nleo), 0);
	ck_assert_int_eq(plog_leo(follower), 0);
	ck_assert_int_eq(plog_segment_count(follower), 1);
	plog_unref(leader);
	plog_unref(follower);
}
END_TEST

START_TEST(test_epoch_cache)
{
	int32_t eo, ep[8];
	int64_t end, st[8], seq = 0;
	plog_t *p = open_log();

	ck_assert_int_eq(plog_epoch_latest(p), -1);
	lt_append(p, 2, 5, 10, now_ms, &seq, 2);	  /* 0..9 */
	lt_append(p, 2, 5, 10, now_ms, &seq, 5);	  /* 10..19 */
	ck_assert_int_eq(plog_epoch_assign(p, 7, 20), 0); /* leader, empty */
	lt_append(p, 1, 5, 10, now_ms, &seq, 7);	  /* 20..24 */
	ck_assert_int_eq(plog_epoch_latest(p), 7);
	/* Kafka's endOffsetFor. */
	plog_epoch_end_offset(p, 7, &eo, &end);
	ck_assert_int_eq(eo, 7);
	ck_assert_int_eq(end, 25);
	plog_epoch_end_offset(p, 5, &eo, &end);
	ck_assert_int_eq(eo, 5);
	ck_assert_int_eq(end, 20);
	plog_epoch_end_offset(p, 3, &eo, &end); /* unknown: largest below */
	ck_assert_int_eq(eo, 2);
	ck_assert_int_eq(end, 10);
	plog_epoch_end_offset(p, 1, &eo, &end); /* below every epoch */
	ck_assert_int_eq(eo, 1);
	ck_assert_int_eq(end, 0);
	plog_epoch_end_offset(p, 9, &eo, &end); /* above the latest */
	ck_assert_int_eq(eo, -1);
	ck_assert_int_eq(end, -1);
	/* Persisted: a reopen sees the same cache. */
	ck_assert_int_eq(plog_close(p), 0);
	plog_unref(p);
	p = open_log();
	ck_assert_int_eq(plog_epoch_entries(p, ep, st, 8), 3);
	ck_assert_int_eq(ep[2], 7);
	ck_assert_int_eq(st[2], 20);
	/* A lower epoch replaces later entries (Kafka's assign). */
	ck_assert_int_eq(plog_epoch_assign(p, 6, 22), 0);
	ck_assert_int_eq(plog_epoch_entries(p, ep, st, 8), 3);
	ck_assert_int_eq(ep[2], 6);
	plog_unref(p);
}
END_TEST

static _Atomic int64_t fail_after = -1; /* bytes until ENOSPC */

static ssize_t failing_pwrite(int fd, const void *buf, size_t len, off_t pos)
{
	int64_t left = atomic_load(&fail_after);

	if (left < 0)
		return pwrite(fd, buf, len, pos);
	if (left == 0) {
		errno = ENOSPC;
		return -1;
	}
	if ((int64_t)len > left)
		len = (size_t)left;
	atomic_store(&fail_after, 0);
	return pwrite(fd, buf, len, pos);
}

START_TEST(test_enospc_leaves_log_usable)
{
	struct buf b = BUF_INIT;
	struct batch_run_info info;
	struct plog_append_result res;
	char path[1024];
	int64_t seq = 0, size;
	plog_t *p;

	env.pwrite_fn = failing_pwrite;
	p = open_log();
	lt_append(p, 3, 4, 30, now_ms, &seq, 0);
	seg_path(0, "log", path, sizeof(path));
	size = lt_file_size(path);
	lt_build_run(&b, 2, 4, 30, now_ms, &seq, &info);
	atomic_store(&fail_after, 100); /* a short write, then full */
	ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0, NULL,
					    NULL, NULL, &res),
			 ERR_NOSPACE);
	ck_assert_int_eq(plog_leo(p), 12);
	ck_assert_int_eq(lt_file_size(path), size);
	ck_assert_int_eq(plog_size_bytes(p), size);
	/* Space again: the same run goes in, and everything reads back. */
	atomic_store(&fail_after, -1);
	seq = 12;
	buf_reset(&b);
	lt_build_run(&b, 2, 4, 30, now_ms, &seq, &info);
	ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0, NULL,
					    NULL, NULL, &res),
			 0);
	ck_assert_int_eq(res.first_offset, 12);
	ck_assert_int_eq(lt_read_all(p, 0, 20, 1 << 20, 0, NULL), 20);
	buf_free(&b);
	plog_unref(p);
}
END_TEST

static int refuse_hook(void *arg, plog_t *plog, const uint8_t *buf, size_t len,
		       const struct batch_run_info *info, int64_t first)
{
	int *calls = arg;

	(void)plog;
	(void)buf;
	(void)len;
	(void)info;
	(*calls)++;
	return first >= 5 ? ERR_INVAL : 0;
}

START_TEST(test_append_hook)
{
	struct buf b = BUF_INIT;
	struct batch_run_info info;
	int64_t seq = 0;
	int calls = 0;
	plog_t *p = open_log();

	lt_build_run(&b, 1, 5, 10, now_ms, &seq, &info);
	ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0,
					    refuse_hook, &calls, NULL, NULL),
			 0);
	buf_reset(&b);
	lt_build_run(&b, 1, 5, 10, now_ms, &seq, &info);
	ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0,
					    refuse_hook, &calls, NULL, NULL),
			 ERR_INVAL);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(plog_leo(p), 5);
	buf_free(&b);
	plog_unref(p);
}
END_TEST

START_TEST(test_dynamic_conf)
{
	struct topic_conf c2;
	int64_t seq = 0;
	plog_t *p = open_log();

	for (int i = 0; i < 10; i++)
		lt_append(p, 1, 5, 100, now_ms, &seq, 0);
	ck_assert_int_eq(plog_segment_count(p), 1);
	lt_conf(&c2, 1500, 4096);
	ck_assert_int_eq(plog_set_conf(p, &c2), 0);
	topic_conf_free(&c2);
	for (int i = 0; i < 10; i++)
		lt_append(p, 1, 5, 100, now_ms, &seq, 0);
	ck_assert_int_ge(plog_segment_count(p), 5);
	ck_assert_int_eq(plog_get_conf(p, &c2), 0);
	ck_assert_int_eq(c2.segment_bytes, 1500);
	topic_conf_free(&c2);
	plog_unref(p);
}
END_TEST

START_TEST(test_offset_for_time)
{
	int64_t seq = 0, off, ts;
	plog_t *p;

	conf.segment_bytes = 2000;
	conf.index_interval_bytes = 200;
	p = open_log();
	/* Batch i (5 records) has timestamp 1000 + 10 i. */
	for (int i = 0; i < 40; i++)
		lt_append(p, 1, 5, 40, 1000 + 10 * i, &seq, 0);
	ck_assert_int_gt(plog_segment_count(p), 3);
	ck_assert_int_eq(plog_offset_for_time(p, 0, -1, &off, &ts), 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(ts, 1000);
	for (int i = 0; i < 40; i += 3) {
		ck_assert_int_eq(
		    plog_offset_for_time(p, 1000 + 10 * i, -1, &off, &ts), 0);
		ck_assert_int_eq(off, 5 * i);
		ck_assert_int_eq(ts, 1000 + 10 * i);
		ck_assert_int_eq(
		    plog_offset_for_time(p, 1000 + 10 * i - 5, -1, &off, &ts),
		    0);
		ck_assert_int_eq(off, 5 * i);
	}
	ck_assert_int_eq(plog_offset_for_time(p, 5000, -1, &off, &ts),
			 ERR_NOT_FOUND);
	/* Only below max_offset (the HW for consumers). */
	ck_assert_int_eq(plog_offset_for_time(p, 1200, 100, &off, &ts),
			 ERR_NOT_FOUND);
	ck_assert_int_eq(plog_offset_for_time(p, 1190, 100, &off, &ts), 0);
	ck_assert_int_eq(off, 95);
	plog_unref(p);
}
END_TEST

START_TEST(test_log_append_time)
{
	struct plog_slice sl;
	struct batch_header h;
	struct plog_append_result res;
	struct buf b = BUF_INIT;
	struct batch_run_info info;
	uint8_t data[4096];
	int64_t seq = 0, off, ts;
	plog_t *p;

	conf.message_timestamp_type = TS_TYPE_LOG_APPEND_TIME;
	p = open_log();
	lt_build_run(&b, 1, 3, 10, 5, &seq, &info);
	ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0, NULL,
					    NULL, NULL, &res),
			 0);
	ck_assert_int_eq(res.append_time, now_ms);
	ck_assert_int_eq(plog_read(p, 0, sizeof(data), -1, false, &sl), 0);
	ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
	ck_assert_int_eq(batch_validate(data, sl.len, 1 << 20, &h), 0);
	ck_assert_int_eq(h.max_timestamp, now_ms);
	ck_assert(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
	plog_slice_release(&sl);
	ck_assert_int_eq(plog_offset_for_time(p, now_ms, -1, &off, &ts), 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(ts, now_ms);
	buf_free(&b);
	plog_unref(p);
}
END_TEST

struct events {
	_Atomic int n[6];
};

static void listener(void *arg, plog_t *plog, enum plog_event ev)
{
	struct events *e = arg;

	(void)plog;
	atomic_fetch_add(&e->n[ev], 1);
}

START_TEST(test_listener)
{
	struct events e;
	int64_t seq = 0;
	plog_t *p = open_log();

	memset(&e, 0, sizeof(e));
	plog_set_listener(p, listener, &e);
	lt_append(p, 1, 2, 10, now_ms, &seq, 0);
	lt_append(p, 1, 2, 10, now_ms, &seq, 0);
	plog_set_hw(p, 2);
	plog_set_hw(p, 2); /* unchanged: no event */
	ck_assert_int_eq(plog_flush(p, plog_leo(p)), 0);
	ck_assert_int_eq(plog_flushed(p), 4);
	ck_assert_int_eq(plog_truncate_to(p, 2, NULL), 0);
	ck_assert_int_eq(atomic_load(&e.n[PLOG_EV_APPEND]), 2);
	ck_assert_int_eq(atomic_load(&e.n[PLOG_EV_HW]), 1);
	ck_assert_int_eq(atomic_load(&e.n[PLOG_EV_FLUSHED]), 1);
	ck_assert_int_eq(atomic_load(&e.n[PLOG_EV_TRUNCATE]), 1);
	ck_assert_int_eq(plog_flushed(p), 2);
	plog_set_listener(p, NULL, NULL);
	plog_unref(p);
}
END_TEST

START_TEST(test_group_commit)
{
	struct events e;
	struct flusher *fl;
	int64_t seq = 0, deadline;
	int err = 0;
	plog_t *p;

	fl = flusher_start("test", &err);
	ck_assert_ptr_nonnull(fl);
	env.flusher = fl;
	conf.flush_on_ack = true;
	p = open_log();
	memset(&e, 0, sizeof(e));
	plog_set_listener(p, listener, &e);
	for (int i = 0; i < 50; i++) {
		struct buf b = BUF_INIT;
		struct batch_run_info info;
		struct plog_append_result res;

		lt_build_run(&b, 1, 2, 10, now_ms, &seq, &info);
		ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0,
						    NULL, NULL, NULL, &res),
				 0);
		ck_assert(res.flush_requested);
		buf_free(&b);
	}
	deadline = clock_mono_ms() + 10000;
	while (plog_flushed(p) < 100 && clock_mono_ms() < deadline)
		usleep(1000);
	ck_assert_int_eq(plog_flushed(p), 100);
	/* One fsync pass covered many requests. */
	ck_assert_uint_le(flusher_passes(fl), 50);
	ck_assert_int_ge(atomic_load(&e.n[PLOG_EV_FLUSHED]), 1);
	plog_set_listener(p, NULL, NULL);
	ck_assert_int_eq(plog_close(p), 0);
	plog_unref(p);
	flusher_stop(fl);
}
END_TEST

struct reader_arg {
	plog_t *p;
	_Atomic bool stop;
	int64_t records;
	int errors;
};

static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	int64_t off = 0;
	uint8_t *data = malloc(1 << 16);

	while (!atomic_load(&ra->stop) || off < plog_leo(ra->p)) {
		struct plog_slice sl;
		size_t pos = 0;

		if (plog_read(ra->p, off, 1 << 16, -1, true, &sl) != 0) {
			ra->errors++;
			break;
		}
		if (sl.len == 0) {
			plog_slice_release(&sl);
			usleep(100);
			continue;
		}
		if (plog_slice_copy(&sl, data) != 0)
			ra->errors++;
		while (pos < sl.len) {
			struct batch_header h;

			if (batch_validate(data + pos, sl.len - pos, 1 << 20,
					   &h) != 0 ||
			    h.base_offset != off) {
				ra->errors++;
				break;
			}
			ra->records += h.records_count;
			off = batch_last_offset(&h) + 1;
			pos += batch_total_size(&h);
		}
		plog_slice_release(&sl);
		if (ra->errors)
			break;
	}
	free(data);
	return NULL;
}

START_TEST(test_concurrent_reads_during_appends)
{
	struct reader_arg ra;
	pthread_t t;
	int64_t seq = 0;

	conf.segment_bytes = 20000;
	memset(&ra, 0, sizeof(ra));
	ra.p = open_log();
	ck_assert_int_eq(pthread_create(&t, NULL, reader_main, &ra), 0);
	for (int i = 0; i < 2000; i++)
		lt_append(ra.p, 1 + i % 2, 3, 50, now_ms, &seq, 0);
	atomic_store(&ra.stop, true);
	pthread_join(t, NULL);
	ck_assert_int_eq(ra.errors, 0);
	ck_assert_int_eq(ra.records, seq);
	ck_assert_int_gt(plog_segment_count(ra.p), 10);
	plog_unref(ra.p);
}
END_TEST

START_TEST(test_flush_policies)
{
	int64_t seq = 0;
	plog_t *p;

	conf.flush_messages = 10;
	conf.flush_ms = 5000;
	p = open_log();
	lt_append(p, 1, 6, 10, now_ms, &seq, 0);
	ck_assert_int_eq(plog_flushed(p), 0);
	lt_append(p, 1, 6, 10, now_ms, &seq, 0); /* 12 >= 10 unflushed */
	ck_assert_int_eq(plog_flushed(p), 12);
	lt_append(p, 1, 3, 10, now_ms, &seq, 0);
	plog_check_flush_time(p, now_ms + 4999);
	ck_assert_int_eq(plog_flushed(p), 12);
	plog_check_flush_time(p, now_ms + 5000);
	ck_assert_int_eq(plog_flushed(p), 15);
	plog_unref(p);
}
END_TEST

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(test_idle_sweep_closes_descriptors)
{
	int64_t seq = 0;
	int before, during, after;
	plog_t *p;

	conf.segment_bytes = 2000;
	conf.index_interval_bytes = 100;
	before = count_fds();
	p = open_log();
	for (int i = 0; i < 20; i++)
		lt_append(p, 1, 5, 50, now_ms, &seq, 0);
	ck_assert_int_eq(lt_read_all(p, 0, seq, 1 << 20, 0, NULL), seq);
	during = count_fds();
	ck_assert_int_gt(during, before);
	plog_sweep_idle(p, INT64_MAX, 0);
	after = count_fds();
	ck_assert_int_eq(after, before);
	/* Everything reopens on demand. */
	ck_assert_int_eq(lt_read_all(p, 0, seq, 700, 0, NULL), seq);
	lt_append(p, 1, 5, 50, now_ms, &seq, 0);
	ck_assert_int_eq(lt_read_all(p, 0, seq, 1 << 20, 0, NULL), seq);
	plog_unref(p);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* What the log should hold, batch by batch. */
struct mbatch {
	int64_t base, last, size;
	int seg; /* index of its segment */
};

START_TEST(test_random_reads_against_model)
{
	struct mbatch *m = calloc(4000, sizeof(*m));
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	int nb = 0, segs = 1;
	int64_t seq = 0;
	uint8_t *data = malloc(1 << 20);
	plog_t *p;

	conf.segment_bytes = 6000;
	conf.index_interval_bytes = 700;
	p = open_log();
	for (int i = 0; i < 600; i++) {
		int recs = 1 + (int)(tb_next(&rng) % 6);
		int vlen = 5 + (int)(tb_next(&rng) % 200);
		int64_t before = plog_size_bytes(p);

		lt_append(p, 1, recs, vlen, now_ms, &seq, 0);
		if (plog_segment_count(p) != segs)
			segs = plog_segment_count(p);
		m[nb].base = seq - recs;
		m[nb].last = seq - 1;
		m[nb].size = plog_size_bytes(p) - before;
		m[nb].seg = segs;
		nb++;
	}
	plog_set_hw(p, m[nb / 2].base);
	for (int q = 0; q < 3000; q++) {
		int64_t fetch = (int64_t)(tb_next(&rng) % (uint64_t)(seq + 1));
		size_t max_bytes = 1 + tb_next(&rng) % 9000;
		int64_t max_off =
		    q % 3 == 0 ? plog_hw(p)
		    : q % 3 == 1
			? -1
			: (int64_t)(tb_next(&rng) % (uint64_t)(seq + 1));
		bool min_one = q % 2;
		int64_t eff = max_off < 0 ? seq : max_off;
		struct plog_slice sl;
		int k, j;
		int64_t len = 0;

		ck_assert_int_eq(
		    plog_read(p, fetch, max_bytes, max_off, min_one, &sl), 0);
		for (k = 0; k < nb && m[k].last < fetch; k++)
			;
		if (fetch >= eff || k == nb) {
			ck_assert_uint_eq(sl.len, 0);
			plog_slice_release(&sl);
			continue;
		}
		/* The expected slice: from batch k, same segment, below
		 * eff, within max_bytes (or one batch with min_one). */
		for (j = k; j < nb && m[j].seg == m[k].seg && m[j].last < eff;
		     j++) {
			if (len + m[j].size > (int64_t)max_bytes &&
			    !(j == k && min_one))
				break;
			len += m[j].size;
		}
		ck_assert_msg((int64_t)sl.len == len,
			      "fetch %" PRId64 " max_bytes %zu max_off %" PRId64
			      " min_one %d: len %zu, expected %" PRId64,
			      fetch, max_bytes, max_off, (int)min_one, sl.len,
			      len);
		if (len > 0) {
			ck_assert_int_eq(sl.first_offset, m[k].base);
			ck_assert_int_eq(sl.end_offset, m[j - 1].last + 1);
			ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
			ck_assert_int_eq((int64_t)be64_get(data), m[k].base);
		}
		plog_slice_release(&sl);
	}
	free(m);
	free(data);
	plog_unref(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plog");
	TCase *tc = tcase_create("plog");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_append_read_many_segments);
	tcase_add_test(tc, test_slices_on_batch_boundaries);
	tcase_add_test(tc, test_reads_bounded_by_hw);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_roll_by_size);
	tcase_add_test(tc, test_roll_by_age);
	tcase_add_test(tc, test_roll_by_full_index);
	tcase_add_test(tc, test_follower_append_and_truncate);
	tcase_add_test(tc, test_epoch_cache);
	tcase_add_test(tc, test_enospc_leaves_log_usable);
	tcase_add_test(tc, test_append_hook);
	tcase_add_test(tc, test_dynamic_conf);
	tcase_add_test(tc, test_offset_for_time);
	tcase_add_test(tc, test_log_append_time);
	tcase_add_test(tc, test_listener);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_concurrent_reads_during_appends);
	tcase_add_test(tc, test_flush_policies);
	tcase_add_test(tc, test_idle_sweep_closes_descriptors);
	tcase_add_test(tc, test_random_reads_against_model);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
