/*
 * test_index.c - the sparse offset and time indexes: floor lookups across
 * the in-memory buffer and the file, truncation, the load-time sanity
 * checks, and the file format (big-endian entries of 8 and 12 bytes).
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/index.h"
#include "common/buf.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];
static char path[512];

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/00000000000000001000.index", dir);
}

static void teardown(void)
{
	lt_rmtree(dir);
}

/* Entry i: offset 1000 + 10 i at position 100 i. */
static void fill(struct log_index *ix, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(index_append(ix, 1000 + 10 * i, 100 * i), 0);
}

START_TEST(test_floor_across_buffer_and_file)
{
	struct log_index ix;
	int64_t key, val;
	const int n = 5000; /* many pending flushes, several chunks */

	index_init(&ix, INDEX_OFFSET, 1000, 1 << 20);
	ck_assert_int_eq(index_open(&ix, path, true), 0);
	fill(&ix, n);
	ck_assert_uint_eq(index_count(&ix), n);
	ck_assert_uint_gt(ix.nfile, 0); /* some went to the file */
	ck_assert_int_eq(lt_file_size(path), (int64_t)ix.nfile * 8);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, 999, &key, &val),
			 ERR_NOT_FOUND);
	for (int i = 0; i < n; i += 7) {
		ck_assert_int_eq(
		    index_floor(&ix, INDEX_KEY, 1000 + 10 * i + 9, &key, &val),
		    0);
		ck_assert_int_eq(key, 1000 + 10 * i);
		ck_assert_int_eq(val, 100 * i);
		ck_assert_int_eq(
		    index_floor(&ix, INDEX_VAL, 100 * i, &key, &val), 0);
		ck_assert_int_eq(key, 1000 + 10 * i);
	}
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, INT64_MAX, &key, &val), 0);
	ck_assert_int_eq(key, 1000 + 10 * (n - 1));
	/* Out-of-order or duplicate entries are ignored. */
	ck_assert_int_eq(index_append(&ix, 1000, 1), 0);
	ck_assert_uint_eq(index_count(&ix), n);
	index_destroy(&ix);
}
END_TEST

START_TEST(test_format_and_reload)
{
	struct log_index ix;
	uint8_t e[12];
	int fd;
	int64_t key, val;

	index_init(&ix, INDEX_OFFSET, 1000, 100);
	ck_assert_int_eq(index_open(&ix, path, true), 0);
	fill(&ix, 3);
	ck_assert_int_eq(index_write_pending(&ix), 0);
	index_destroy(&ix);
	ck_assert_int_eq(lt_file_size(path), 24);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, e, 8, 8), 8);
	close(fd);
	ck_assert_uint_eq(be32_get(e), 10);	 /* relative offset */
	ck_assert_uint_eq(be32_get(e + 4), 100); /* position */

	index_init(&ix, INDEX_OFFSET, 1000, 100);
	ck_assert_int_eq(index_load(&ix, path, 1000), 0);
	ck_assert_uint_eq(index_count(&ix), 3);
	ck_assert_int_eq(ix.last_key, 1020);
	ck_assert_int_eq(ix.fd, -1); /* closed after the check */
	ck_assert_int_eq(index_open(&ix, path, false), 0);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, 1015, &key, &val), 0);
	ck_assert_int_eq(val, 100);
	index_destroy(&ix);

	/* The last entry points past the log: corrupt. */
	index_init(&ix, INDEX_OFFSET, 1000, 100);
	ck_assert_int_eq(index_load(&ix, path, 200), ERR_CORRUPT);
	index_destroy(&ix);
	/* A partial entry: corrupt. */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "xyz", 3), 3);
	close(fd);
	index_init(&ix, INDEX_OFFSET, 1000, 100);
	ck_assert_int_eq(index_load(&ix, path, 1000), ERR_CORRUPT);
	index_destroy(&ix);
	/* Missing. */
	unlink(path);
	index_init(&ix, INDEX_OFFSET, 1000, 100);
	ck_assert_int_eq(index_load(&ix, path, 1000), ERR_NOT_FOUND);
	index_destroy(&ix);
}
END_TEST

START_TEST(test_time_index)
{
	struct log_index ix;
	uint8_t e[12];
	int64_t ts, off;
	int fd;

	index_init(&ix, INDEX_TIME, 1000, 100);
	ck_assert_int_eq(index_open(&ix, path, true), 0);
	ck_assert_int_eq(index_append(&ix, 5000, 1004), 0);
	ck_assert_int_eq(index_append(&ix, 5000, 1010), 0); /* no growth */
	ck_assert_int_eq(index_append(&ix, 7000, 1020), 0);
	ck_assert_uint_eq(index_count(&ix), 2);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, 6999, &ts, &off), 0);
	ck_assert_int_eq(ts, 5000);
	ck_assert_int_eq(off, 1004);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, 4999, &ts, &off),
			 ERR_NOT_FOUND);
	ck_assert_int_eq(index_write_pending(&ix), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, e, 12, 12), 12);
	close(fd);
	ck_assert_int_eq((int64_t)be64_get(e), 7000);
	ck_assert_uint_eq(be32_get(e + 8), 20);
	/* Many entries: the buffer (341 time entries) spills to the file. */
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(index_append(&ix, 8000 + i, 1030 + i), 0);
	ck_assert_uint_eq(index_count(&ix), 2002);
	ck_assert_uint_gt(ix.nfile, 1000);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, 8999, &ts, &off), 0);
	ck_assert_int_eq(off, 1030 + 999);
	ck_assert_int_eq(index_floor(&ix, INDEX_VAL, 1030 + 1500, &ts, &off),
			 0);
	ck_assert_int_eq(ts, 9500);
	ck_assert_int_eq(index_truncate(&ix, INDEX_VAL, 1030), 0);
	ck_assert_uint_eq(index_count(&ix), 2);
	/* Truncation by offset removes entries at or above it. */
	ck_assert_int_eq(index_truncate(&ix, INDEX_VAL, 1020), 0);
	ck_assert_uint_eq(index_count(&ix), 1);
	ck_assert_int_eq(lt_file_size(path), 12);
	ck_assert_int_eq(ix.last_key, 5000);
	index_destroy(&ix);
}
END_TEST

START_TEST(test_truncate_and_full)
{
	struct log_index ix;
	int64_t key, val;

	index_init(&ix, INDEX_OFFSET, 1000, 1000);
	ck_assert_int_eq(index_open(&ix, path, true), 0);
	fill(&ix, 800);
	ck_assert(!index_full(&ix));
	/* Cut inside the file part. */
	ck_assert_int_eq(index_truncate(&ix, INDEX_KEY, 1000 + 10 * 300 + 1),
			 0);
	ck_assert_uint_eq(index_count(&ix), 301);
	ck_assert_uint_eq(ix.npend, 0);
	ck_assert_int_eq(lt_file_size(path), 301 * 8);
	ck_assert_int_eq(index_floor(&ix, INDEX_KEY, INT64_MAX, &key, &val), 0);
	ck_assert_int_eq(key, 1000 + 10 * 300);
	/* Appends continue after the cut. */
	ck_assert_int_eq(index_append(&ix, 1000 + 10 * 301, 100 * 301), 0);
	fill(&ix, 0);
	for (int i = 302; i < 1000; i++)
		ck_assert_int_eq(index_append(&ix, 1000 + 10 * i, 100 * i), 0);
	ck_assert(index_full(&ix));
	ck_assert_int_eq(index_reset(&ix), 0);
	ck_assert_uint_eq(index_count(&ix), 0);
	ck_assert_int_eq(lt_file_size(path), 0);
	index_destroy(&ix);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("index");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_floor_across_buffer_and_file);
	tcase_add_test(tc, test_format_and_reload);
	tcase_add_test(tc, test_time_index);
	tcase_add_test(tc, test_truncate_and_full);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
