/*
 * test_recovery.c - loading a partition log after an unclean stop: a tail
 * cut inside a batch, a flipped byte in the last batch, garbage after the
 * last batch, a corrupt segment in the middle (later segments dropped),
 * missing and corrupt indexes (rebuilt), an index that lies but passes the
 * cheap checks (caught when used), a lost epoch checkpoint (rebuilt), and
 * the recovery point (trusted segments are not re-read). Each time the
 * recovered log must hold exactly the valid prefix and accept appends.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/plog.h"
#include "common/batch.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];
static char pdir[512];
static int64_t now_ms;
static struct plog_env env;
static struct topic_conf conf;

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	snprintf(pdir, sizeof(pdir), "%s/rec-0", dir);
	now_ms = 1700000000000;
	memset(&env, 0, sizeof(env));
	env.clock_ms = lt_clock_fn;
	env.clock_arg = &now_ms;
	lt_conf(&conf, 6000, 500);
}

static void teardown(void)
{
	topic_conf_free(&conf);
	lt_rmtree(dir);
}

static plog_t *open_opts(const struct plog_load_opts *opts)
{
	char errstr[256] = "";
	int err = 0;
	plog_t *p = plog_open(pdir, "rec", 0, &conf, &env, opts, &err, errstr,
			      sizeof(errstr));

	ck_assert_msg(p != NULL, "open failed: %s", errstr);
	return p;
}

/* Opens as after kill -9 with no checkpoint: everything is re-validated. */
static plog_t *open_unclean(void)
{
	struct plog_load_opts o = {
	    .recovery_point = -1, .log_start = -1, .hw = -1};

	return open_opts(&o);
}

static void seg_path(int64_t base, const char *sfx, char *out, size_t size)
{
	snprintf(out, size, "%s/%020" PRId64 ".%s", pdir, base, sfx);
}

/* 30 batches of 4 records (offsets 0..119) over several segments. */
static int64_t fill(plog_t *p)
{
	int64_t seq = 0;

	for (int i = 0; i < 30; i++)
		lt_append(p, 1, 4, 80, now_ms + i, &seq, 1 + i / 10);
	return seq;
}

/* Base offset of the last segment and the last batch's size in it. */
static int64_t last_segment(plog_t *p, int64_t *last_batch_size)
{
	struct plog_slice sl;
	int64_t base = -1;

	ck_assert_int_eq(plog_read(p, plog_leo(p) - 1, 1 << 20, -1, true, &sl),
			 0);
	*last_batch_size = (int64_t)sl.len;
	plog_slice_release(&sl);
	for (int64_t b = plog_leo(p) - 1; b >= 0; b--) {
		char path[1024];

		seg_path(b, "log", path, sizeof(path));
		if (lt_file_size(path) >= 0) {
			base = b;
			break;
		}
	}
	return base;
}

static void flip_byte(const char *path, int64_t pos)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, pos), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, pos), 1);
	close(fd);
}

/* Common ending: the log holds exactly [0, expect) and takes appends. */
static void check_prefix_and_append(plog_t *p, int64_t expect)
{
	int64_t seq = expect;

	ck_assert_int_eq(plog_leo(p), expect);
	ck_assert_int_eq(lt_read_all(p, 0, expect, 1 << 20, 0, NULL), expect);
	lt_append(p, 2, 4, 80, now_ms, &seq, 9);
	ck_assert_int_eq(lt_read_all(p, 0, expect + 8, 1 << 20, 0, NULL),
			 expect + 8);
}

START_TEST(test_tail_cut_mid_batch)
{
	char path[1024];
	int64_t base, last, n;
	plog_t *p = open_opts(NULL);

	n = fill(p);
	base = last_segment(p, &last);
	plog_unref(p); /* no close: as after kill -9 */
	seg_path(base, "log", path, sizeof(path));
	ck_assert_int_eq(truncate(path, lt_file_size(path) - last / 2), 0);
	p = open_unclean();
	check_prefix_and_append(p, n - 4);
	plog_unref(p);
}
END_TEST

START_TEST(test_flipped_byte_in_last_batch)
{
	char path[1024];
	int64_t base, last, n, size;
	plog_t *p = open_opts(NULL);

	n = fill(p);
	base = last_segment(p, &last);
	plog_unref(p);
	seg_path(base, "log", path, sizeof(path));
	size = lt_file_size(path);
	flip_byte(path, size - 5); /* inside the last record */
	p = open_unclean();
	/* The bad batch was cut from the file. */
	ck_assert_int_eq(lt_file_size(path), size - last);
	check_prefix_and_append(p, n - 4);
	plog_unref(p);
}
END_TEST

START_TEST(test_garbage_appended)
{
	char path[1024], junk[700];
	int64_t base, last, n, size;
	plog_t *p = open_opts(NULL);
	int fd;

	n = fill(p);
	base = last_segment(p, &last);
	plog_unref(p);
	seg_path(base, "log", path, sizeof(path));
	size = lt_file_size(path);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	p = open_unclean();
	ck_assert_int_eq(lt_file_size(path), size);
	check_prefix_and_append(p, n);
	plog_unref(p);
}
END_TEST

START_TEST(test_corrupt_middle_segment_drops_later)
{
	char path[1024];
	int64_t n;
	plog_t *p = open_opts(NULL);
	struct plog_slice sl;
	int segs;

	n = fill(p);
	segs = plog_segment_count(p);
	ck_assert_int_ge(segs, 3);
	/* Find the second segment and corrupt its second batch. */
	ck_assert_int_eq(plog_read(p, 0, 1 << 20, -1, true, &sl), 0);
	int64_t second = sl.end_offset; /* base of segment 2 */
	plog_slice_release(&sl);
	plog_unref(p);
	seg_path(second, "log", path, sizeof(path));
	{
		uint8_t hdr[12];
		int fd = open(path, O_RDONLY);

		ck_assert_int_eq(pread(fd, hdr, 12, 0), 12);
		close(fd);
		/* A byte inside the second batch's records. */
		flip_byte(path, 12 + be32_get(hdr + 8) + 70);
	}
	p = open_unclean();
	ck_assert_int_eq(plog_segment_count(p), 2);
	check_prefix_and_append(p, second + 4);
	(void)n;
	plog_unref(p);
}
END_TEST

START_TEST(test_missing_and_corrupt_index_rebuilt)
{
	struct plog_load_opts clean = {
	    .recovery_point = -1, .log_start = -1, .hw = -1, .clean = true};
	char path[1024];
	int64_t n;
	plog_t *p;
	int fd;
	uint8_t bad[16];

	p = open_opts(NULL);
	n = fill(p);
	ck_assert_int_eq(plog_close(p), 0);
	plog_unref(p);
	/* Segment 0: index missing. */
	seg_path(0, "index", path, sizeof(path));
	ck_assert_int_gt(lt_file_size(path), 0);
	ck_assert_int_eq(unlink(path), 0);
	/* Last segment: an index entry beyond the log. */
	for (int64_t b = n - 1; b >= 0; b--) {
		seg_path(b, "log", path, sizeof(path));
		if (lt_file_size(path) >= 0) {
			seg_path(b, "index", path, sizeof(path));
			break;
		}
	}
	memset(bad, 0x7f, sizeof(bad));
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, bad, 8), 8);
	close(fd);
	p = open_opts(&clean);
	seg_path(0, "index", path, sizeof(path));
	ck_assert_int_gt(lt_file_size(path), 0); /* rebuilt */
	for (int64_t off = 0; off < n; off += 7)
		ck_assert_int_eq(lt_read_all(p, off, n, 900, 0, NULL), n - off);
	check_prefix_and_append(p, n);
	plog_unref(p);
}
END_TEST

START_TEST(test_lying_index_caught_at_use)
{
	struct plog_load_opts clean = {
	    .recovery_point = -1, .log_start = -1, .hw = -1, .clean = true};
	char path[1024];
	uint8_t e[8];
	int64_t n;
	plog_t *p;
	int fd;

	p = open_opts(NULL);
	n = fill(p);
	ck_assert_int_eq(plog_close(p), 0);
	plog_unref(p);
	/* Shift the first entry of segment 0's index by one batch's worth of
	 * offsets: positions stay plausible, offsets are wrong. */
	seg_path(0, "index", path, sizeof(path));
	fd = open(path, O_RDWR);
	ck_assert_int_eq(pread(fd, e, 8, 0), 8);
	be32_put(e, be32_get(e) + 1);
	ck_assert_int_eq(pwrite(fd, e, 8, 0), 8);
	close(fd);
	p = open_opts(&clean);
	for (int64_t off = 0; off < n; off += 3)
		ck_assert_int_eq(lt_read_all(p, off, n, 700, 0, NULL), n - off);
	plog_unref(p);
}
END_TEST

START_TEST(test_lost_epoch_checkpoint_rebuilt)
{
	char path[1024];
	int32_t ep[8];
	int64_t st[8], n;
	plog_t *p = open_opts(NULL);

	n = fill(p); /* epochs 1 at 0, 2 at 40, 3 at 80 */
	ck_assert_int_eq(plog_close(p), 0);
	plog_unref(p);
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", pdir);
	ck_assert_int_eq(unlink(path), 0);
	p = open_unclean();
	ck_assert_int_eq(plog_epoch_entries(p, ep, st, 8), 3);
	ck_assert_int_eq(ep[1], 2);
	ck_assert_int_eq(st[1], 40);
	ck_assert_int_eq(ep[2], 3);
	ck_assert_int_eq(st[2], 80);
	ck_assert_int_eq(plog_leo(p), n);
	plog_unref(p);
	/* A cut also truncates the cache. */
	p = open_opts(NULL);
	ck_assert_int_eq(plog_truncate_to(p, 50, NULL), 0);
	ck_assert_int_eq(plog_epoch_entries(p, ep, st, 8), 2);
	plog_unref(p);
}
END_TEST

START_TEST(test_trusted_below_recovery_point)
{
	struct plog_load_opts o = {.log_start = -1, .hw = -1};
	char path[1024];
	int64_t n;
	plog_t *p;
	struct plog_slice sl;

	p = open_opts(NULL);
	n = fill(p);
	ck_assert_int_eq(plog_flush(p, n), 0);
	ck_assert_int_eq(plog_flushed(p), n);
	ck_assert_int_eq(plog_read(p, 0, 1 << 20, -1, true, &sl), 0);
	int64_t second = sl.end_offset;
	plog_slice_release(&sl);
	plog_unref(p);
	/* Below the recovery point nothing is re-read: a flipped byte in
	 * the first segment stays (the fsync vouched for it). Above it,
	 * the last segment is re-validated. */
	seg_path(0, "log", path, sizeof(path));
	flip_byte(path, 100);
	o.recovery_point = second;
	p = open_opts(&o);
	ck_assert_int_eq(plog_leo(p), n);
	ck_assert_int_eq(plog_flushed(p), second);
	ck_assert_int_eq(plog_segment_count(p) >= 3, 1);
	plog_unref(p);
}
END_TEST

START_TEST(test_empty_and_leftovers)
{
	char path[1024];
	plog_t *p;
	int fd;

	p = open_opts(NULL);
	ck_assert_int_eq(plog_leo(p), 0);
	plog_unref(p);
	/* Leftovers of an interrupted delete and checkpoint write, and an
	 * index without its segment. */
	snprintf(path, sizeof(path), "%s/00000000000000000050.log.deleted",
		 pdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint.tmp", pdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	seg_path(70, "index", path, sizeof(path));
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	p = open_unclean();
	ck_assert_int_eq(lt_file_size(path), -1);
	snprintf(path, sizeof(path), "%s/00000000000000000050.log.deleted",
		 pdir);
	ck_assert_int_eq(lt_file_size(path), -1);
	check_prefix_and_append(p, 0);
	plog_unref(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recovery");
	TCase *tc = tcase_create("recovery");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tail_cut_mid_batch);
	tcase_add_test(tc, test_flipped_byte_in_last_batch);
	tcase_add_test(tc, test_garbage_appended);
	tcase_add_test(tc, test_corrupt_middle_segment_drops_later);
	tcase_add_test(tc, test_missing_and_corrupt_index_rebuilt);
	tcase_add_test(tc, test_lying_index_caught_at_use);
	tcase_add_test(tc, test_lost_epoch_checkpoint_rebuilt);
	tcase_add_test(tc, test_trusted_below_recovery_point);
	tcase_add_test(tc, test_empty_and_leftovers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
