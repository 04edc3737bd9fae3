/*
 * test_segment.c - one segment: appends with index entries, locating the
 * batch that holds an offset, bounding whole batches by bytes and offset,
 * roll decisions, truncation, recovery (including a batch larger than the
 * recovery buffer, validated with a streaming CRC), idle descriptor
 * closing and deletion while a reader holds the descriptor.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/segment.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
}

static void teardown(void)
{
	lt_rmtree(dir);
}

/*
 * Appends n batches of recs records at offsets from *next on, each its own
 * write; records each batch's position in pos[] (when not NULL).
 */
static void add(struct segment *seg, int n, int recs, int vlen, int64_t ts,
		int64_t *next, int64_t *pos, int32_t interval)
{
	int64_t seq = 0;

	for (int i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		struct batch_run_info info;

		lt_build_run(&b, 1, recs, vlen, ts, &seq, &info);
		batch_set_base_offset(b.data, *next);
		if (pos)
			pos[i] = segment_size(seg);
		ck_assert_int_eq(
		    segment_append(seg, b.data, b.len, interval, NULL), 0);
		*next += recs;
		buf_free(&b);
	}
}

START_TEST(test_append_locate_bound)
{
	struct segment *seg;
	struct batch_loc loc;
	int64_t next = 1000, pos[50], end, end_off;
	int err, fd;

	seg = segment_create(dir, 1000, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	add(seg, 50, 4, 30, 5000, &next, pos, 300);
	ck_assert_int_eq(segment_end_offset(seg), 1200);
	ck_assert_int_eq(segment_max_ts(seg), 5000);
	ck_assert_int_eq(segment_pin(seg, &fd), 0);
	for (int64_t off = 1000; off < 1200; off++) {
		ck_assert_int_eq(
		    segment_locate(seg, fd, off, segment_size(seg), &loc), 0);
		ck_assert_int_eq(loc.base, 1000 + (off - 1000) / 4 * 4);
		ck_assert_int_eq(loc.pos, pos[(off - 1000) / 4]);
		ck_assert_int_eq(loc.last, loc.base + 3);
	}
	ck_assert_int_eq(segment_locate(seg, fd, 1200, segment_size(seg), &loc),
			 ERR_NOT_FOUND);
	/* Bounded by bytes: the largest run of whole batches that fits. */
	ck_assert_int_eq(segment_bound(seg, fd, pos[3], 1012, INT64_MAX,
				       pos[10] + 5, &end, &end_off),
			 0);
	ck_assert_int_eq(end, pos[10]);
	ck_assert_int_eq(end_off, 1040);
	/* Bounded by offset: batches must end below max_offset. */
	ck_assert_int_eq(segment_bound(seg, fd, pos[3], 1012, 1030,
				       segment_size(seg), &end, &end_off),
			 0);
	ck_assert_int_eq(end, pos[7]);
	ck_assert_int_eq(end_off, 1028);
	/* Nothing fits. */
	ck_assert_int_eq(segment_bound(seg, fd, pos[3], 1012, INT64_MAX,
				       pos[3] + 10, &end, &end_off),
			 0);
	ck_assert_int_eq(end, pos[3]);
	segment_unpin(seg);
	segment_unref(seg);
}
END_TEST

START_TEST(test_should_roll)
{
	struct segment *seg;
	int64_t next = 0;
	int err;

	seg = segment_create(dir, 0, 10000, 100, 3, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	/* An empty segment never rolls. */
	ck_assert(!segment_should_roll(seg, 1 << 30, 10, 0, 1 << 30, 1024, 1));
	add(seg, 1, 1, 10, 5000, &next, NULL, 0);
	/* Size. */
	ck_assert(
	    segment_should_roll(seg, 2000, next, 5000, 10000, 1024, INT64_MAX));
	ck_assert(
	    !segment_should_roll(seg, 10, next, 5000, 10000, 1024, INT64_MAX));
	/* Age: incoming timestamps against the first batch's, minus the
	 * segment's jitter (100). */
	ck_assert(
	    !segment_should_roll(seg, 10, next, 5900, 10000, 1 << 20, 1000));
	ck_assert(
	    segment_should_roll(seg, 10, next, 5901, 10000, 1 << 20, 1000));
	/* Relative offsets must fit 31 bits. */
	ck_assert(segment_should_roll(seg, 10, (int64_t)INT32_MAX + 1, 5000,
				      10000, 1 << 20, INT64_MAX));
	/* A full offset index (3 entries with interval 0; the first batch
	 * of a segment gets none). */
	add(seg, 2, 1, 10, 5000, &next, NULL, 0);
	ck_assert(!segment_should_roll(seg, 10, next, 5000, 10000, 1 << 20,
				       INT64_MAX));
	add(seg, 1, 1, 10, 5000, &next, NULL, 0);
	ck_assert(segment_should_roll(seg, 10, next, 5000, 10000, 1 << 20,
				      INT64_MAX));
	segment_unref(seg);
}
END_TEST

START_TEST(test_truncate)
{
	struct segment *seg;
	int64_t next = 0, pos[20];
	char path[1024];
	int err;

	seg = segment_create(dir, 0, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	for (int i = 0; i < 20; i++)
		add(seg, 1, 2, 20, 100 + i, &next, &pos[i], 0);
	ck_assert_int_eq(segment_finalize(seg), 0);
	ck_assert_int_eq(segment_max_ts(seg), 119);
	ck_assert_int_eq(segment_truncate_to(seg, 21), 0); /* batch 10 */
	ck_assert_int_eq(segment_size(seg), pos[10]);
	ck_assert_int_eq(segment_end_offset(seg), 20);
	ck_assert_int_eq(segment_max_ts(seg), 109);
	segment_path(seg, "log", path, sizeof(path));
	ck_assert_int_eq(lt_file_size(path), pos[10]);
	segment_path(seg, "index", path, sizeof(path));
	ck_assert_int_eq(lt_file_size(path), 9 * 8); /* batches 1..9 */
	/* Appends continue at the cut. */
	add(seg, 1, 2, 20, 200, &next, NULL, 0);
	ck_assert_int_eq(segment_max_ts(seg), 200);
	ck_assert_int_eq(segment_truncate_to(seg, 0), 0);
	ck_assert_int_eq(segment_size(seg), 0);
	ck_assert_int_eq(segment_end_offset(seg), 0);
	segment_unref(seg);
}
END_TEST

static void count_batch(void *arg, int32_t epoch, int64_t base)
{
	(void)epoch;
	(void)base;
	(*(int *)arg)++;
}

START_TEST(test_recover_large_batch)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct segment_recovery rec;
	struct buf scratch = BUF_INIT;
	struct segment *seg;
	int64_t next = 0, size;
	char *big, path[1024];
	int err, batches = 0, fd;

	seg = segment_create(dir, 0, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	add(seg, 2, 3, 50, 100, &next, NULL, 0);
	/* One 9 MiB batch: larger than the 8 MiB recovery buffer. */
	big = malloc(9 << 20);
	memset(big, 'x', 9 << 20);
	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	ck_assert_int_eq(
	    batch_builder_add(&bb, 100, NULL, -1, big, 9 << 20, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
	batch_set_base_offset(bb.out.data, next);
	ck_assert_int_eq(segment_append(seg, bb.out.data, bb.out.len, 0, NULL),
			 0);
	next++;
	add(seg, 2, 3, 50, 100, &next, NULL, 0);
	size = segment_size(seg);
	segment_unref(seg);
	free(big);
	batch_builder_free(&bb);

	seg = segment_load(dir, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	ck_assert_int_eq(
	    segment_recover(seg, 0, 0, count_batch, &batches, &scratch, &rec),
	    0);
	ck_assert_int_eq(batches, 5);
	ck_assert_int_eq(rec.cut_bytes, 0);
	ck_assert_int_eq(segment_end_offset(seg), next);
	ck_assert_int_eq(segment_size(seg), size);
	segment_unref(seg);

	/* Corrupt the big batch's last byte: it and what follows go. */
	seg = segment_load(dir, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	segment_path(seg, "log", path, sizeof(path));
	fd = open(path, O_RDWR);
	{
		struct batch_loc loc;
		uint8_t c;
		int64_t p = 0;

		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(segment_read_batch(fd, p, size, &loc),
					 0);
			p += loc.size;
		}
		ck_assert_int_eq(pread(fd, &c, 1, p - 1), 1);
		c ^= 1;
		ck_assert_int_eq(pwrite(fd, &c, 1, p - 1), 1);
		close(fd);
		batches = 0;
		ck_assert_int_eq(segment_recover(seg, 0, 0, count_batch,
						 &batches, &scratch, &rec),
				 0);
		ck_assert_int_eq(batches, 2);
		ck_assert_int_eq(segment_size(seg), p - loc.size);
		ck_assert_int_eq(rec.cut_bytes, size - (p - loc.size));
	}
	buf_free(&scratch);
	segment_unref(seg);
}
END_TEST

START_TEST(test_idle_close_and_delete_while_pinned)
{
	struct segment *seg;
	int64_t next = 0;
	char path[1024];
	uint8_t hdr[12];
	int err, fd, fd2;

	seg = segment_create(dir, 0, 0, 0, 1000, 1000, &err);
	ck_assert_ptr_nonnull(seg);
	add(seg, 3, 2, 20, 100, &next, NULL, 0);
	/* Pinned: not closed. */
	ck_assert_int_eq(segment_pin(seg, &fd), 0);
	ck_assert(!segment_close_idle(seg, clock_mono_ms() + 100000, 0));
	segment_unpin(seg);
	ck_assert(segment_close_idle(seg, clock_mono_ms() + 100000, 0));
	/* Reopened on demand. */
	ck_assert_int_eq(segment_pin(seg, &fd), 0);
	ck_assert_int_eq(pread(fd, hdr, 12, 0), 12);
	/* Deleted while pinned: still readable through the pinned fd. */
	ck_assert_int_eq(segment_delete_files(seg, NULL, 0), 0);
	segment_path(seg, "log", path, sizeof(path));
	ck_assert_int_eq(lt_file_size(path), -1);
	ck_assert_int_eq(pread(fd, hdr, 12, 0), 12);
	ck_assert_int_eq((int64_t)be64_get(hdr), 0);
	segment_unpin(seg);
	/* A deleted segment keeps its descriptor for late readers. */
	ck_assert(!segment_close_idle(seg, clock_mono_ms() + 100000, 0));
	ck_assert_int_eq(segment_pin(seg, &fd2), 0);
	ck_assert_int_eq(fd2, fd);
	segment_unpin(seg);
	segment_unref(seg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("segment");
	TCase *tc = tcase_create("segment");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_locate_bound);
	tcase_add_test(tc, test_should_roll);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_recover_large_batch);
	tcase_add_test(tc, test_idle_close_and_delete_while_pinned);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
