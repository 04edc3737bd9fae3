/*
 * test_retention.c - deletion of whole segments by time (retention.ms) and
 * by size (retention.bytes), only below the high watermark, with per-topic
 * settings; the active segment rolled when it expires; the log start
 * offset advancing; deleted files renamed *.deleted and handed to the
 * delayed-unlink hook; no retention before the configuration is confirmed.
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/plog.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];
static int64_t now_ms;
static struct plog_env env;
static struct topic_conf conf;
static int unlinks;
static int64_t last_delay;

static void count_unlink(void *arg, const char *path, int64_t delay_ms)
{
	(void)arg;
	ck_assert_ptr_nonnull(strstr(path, ".deleted"));
	ck_assert_int_eq(unlink(path), 0);
	last_delay = delay_ms;
	unlinks++;
}

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	now_ms = 1700000000000;
	memset(&env, 0, sizeof(env));
	env.clock_ms = lt_clock_fn;
	env.clock_arg = &now_ms;
	env.schedule_unlink = count_unlink;
	unlinks = 0;
	lt_conf(&conf, 2000, 4096);
}

static void teardown(void)
{
	topic_conf_free(&conf);
	lt_rmtree(dir);
}

static plog_t *open_named(const char *name, const struct topic_conf *c,
			  const struct plog_load_opts *opts)
{
	char path[1024], errstr[256] = "";
	int err;
	plog_t *p;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	p = plog_open(path, "ret", 0, c, &env, opts, &err, errstr,
		      sizeof(errstr));
	ck_assert_msg(p != NULL, "%s", errstr);
	return p;
}

/* Ten segments of 3 batches (15 records each), segment i stamped
 * now - (10 - i) hours. */
static void fill(plog_t *p)
{
	int64_t seq = 0, hour = 3600 * 1000;

	for (int s = 0; s < 10; s++)
		for (int b = 0; b < 3; b++)
			lt_append(p, 1, 5, 80, now_ms - (10 - s) * hour, &seq,
				  0);
	ck_assert_int_eq(plog_leo(p), 150);
	ck_assert_int_eq(plog_segment_count(p), 10);
}

START_TEST(test_by_time)
{
	struct plog_slice sl;
	plog_t *p;

	conf.retention_ms = 5 * 3600 * 1000 + 1; /* keeps 5 hours */
	conf.file_delete_delay_ms = 1234;
	p = open_named("a-0", &conf, NULL);
	fill(p);
	plog_set_hw(p, plog_leo(p));
	ck_assert_int_eq(plog_retention(p, now_ms), 5);
	ck_assert_int_eq(plog_segment_count(p), 5);
	ck_assert_int_eq(plog_log_start(p), 75);
	ck_assert_int_eq(unlinks, 15); /* .log, .index, .timeindex */
	ck_assert_int_eq(last_delay, 1234);
	ck_assert_int_eq(plog_read(p, 10, 1000, -1, false, &sl),
			 ERR_OUT_OF_RANGE);
	ck_assert_int_eq(lt_read_all(p, 75, 150, 1 << 20, 0, NULL), 75);
	/* Nothing more is due. */
	ck_assert_int_eq(plog_retention(p, now_ms), 0);
	plog_unref(p);
}
END_TEST

START_TEST(test_never_above_hw)
{
	plog_t *p;

	conf.retention_ms = 1;
	p = open_named("a-0", &conf, NULL);
	fill(p);
	plog_set_hw(p, 44); /* inside segment 3 (offsets 30..44) */
	ck_assert_int_eq(plog_retention(p, now_ms), 2);
	ck_assert_int_eq(plog_log_start(p), 30);
	plog_set_hw(p, 45);
	ck_assert_int_eq(plog_retention(p, now_ms), 1);
	ck_assert_int_eq(plog_log_start(p), 45);
	plog_unref(p);
}
END_TEST

START_TEST(test_by_size)
{
	int64_t seg, size;
	plog_t *p;

	p = open_named("a-0", &conf, NULL);
	fill(p);
	plog_set_hw(p, plog_leo(p));
	size = plog_size_bytes(p);
	seg = size / 10; /* all segments are the same size */
	ck_assert_int_eq(seg * 10, size);
	/* Deletes while total - segment >= limit: 4 segments leave 6. */
	conf.retention_bytes = 6 * seg;
	ck_assert_int_eq(plog_set_conf(p, &conf), 0);
	ck_assert_int_eq(plog_retention(p, now_ms), 4);
	ck_assert_int_eq(plog_size_bytes(p), 6 * seg);
	/* A limit one byte above: nothing more goes. */
	conf.retention_bytes = 5 * seg + 1;
	ck_assert_int_eq(plog_set_conf(p, &conf), 0);
	ck_assert_int_eq(plog_retention(p, now_ms), 0);
	conf.retention_bytes = 5 * seg;
	ck_assert_int_eq(plog_set_conf(p, &conf), 0);
	ck_assert_int_eq(plog_retention(p, now_ms), 1);
	ck_assert_int_eq(plog_log_start(p), 75);
	plog_unref(p);
}
END_TEST

START_TEST(test_active_segment_rolled)
{
	int64_t seq = 150;
	plog_t *p;

	conf.retention_ms = 1000;
	p = open_named("a-0", &conf, NULL);
	fill(p);
	plog_set_hw(p, plog_leo(p));
	ck_assert_int_eq(plog_retention(p, now_ms), 10);
	ck_assert_int_eq(plog_segment_count(p), 1);
	ck_assert_int_eq(plog_size_bytes(p), 0);
	ck_assert_int_eq(plog_log_start(p), 150);
	ck_assert_int_eq(plog_leo(p), 150);
	lt_append(p, 1, 5, 80, now_ms, &seq, 0);
	ck_assert_int_eq(lt_read_all(p, 150, 155, 1 << 20, 0, NULL), 5);
	/* An empty active segment is never "expired". */
	ck_assert_int_eq(plog_retention(p, now_ms + 3600 * 1000), 0);
	plog_unref(p);
}
END_TEST

START_TEST(test_per_topic_and_unconfirmed)
{
	struct plog_load_opts unconfirmed = {.recovery_point = -1,
					     .log_start = -1,
					     .hw = -1,
					     .clean = false,
					     .conf_confirmed = false};
	struct topic_conf keep;
	plog_t *a, *b;

	conf.retention_ms = 3600 * 1000;
	lt_conf(&keep, 2000, 4096);
	keep.retention_ms = -1; /* this topic keeps everything */
	a = open_named("a-0", &conf, NULL);
	b = open_named("b-0", &keep, NULL);
	fill(a);
	fill(b);
	plog_set_hw(a, 150);
	plog_set_hw(b, 150);
	ck_assert_int_eq(plog_retention(a, now_ms), 9);
	ck_assert_int_eq(plog_retention(b, now_ms), 0);
	plog_unref(b);
	/* Reloaded before its configuration is known: nothing is deleted,
	 * even under the (stricter) default. */
	b = open_named("b-0", &conf, &unconfirmed);
	plog_set_hw(b, 150);
	ck_assert_int_eq(plog_retention(b, now_ms), 0);
	ck_assert_int_eq(plog_set_conf(b, &keep), 0);
	ck_assert_int_eq(plog_retention(b, now_ms), 0);
	ck_assert_int_eq(plog_set_conf(b, &conf), 0);
	ck_assert_int_eq(plog_retention(b, now_ms), 9);
	topic_conf_free(&keep);
	plog_unref(a);
	plog_unref(b);
}
END_TEST

START_TEST(test_log_start_offset)
{
	plog_t *p = open_named("a-0", &conf, NULL);

	fill(p);
	ck_assert_int_eq(plog_advance_log_start(p, 40), ERR_OUT_OF_RANGE);
	plog_set_hw(p, 150);
	ck_assert_int_eq(plog_advance_log_start(p, 40), 0);
	ck_assert_int_eq(plog_log_start(p), 40);
	/* Segments entirely below the log start go (0..14, 15..29). */
	ck_assert_int_eq(plog_retention(p, now_ms), 2);
	ck_assert_int_eq(plog_log_start(p), 40);
	ck_assert_int_eq(lt_read_all(p, 40, 150, 1 << 20, 0, NULL), 110);
	plog_unref(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("retention");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_by_time);
	tcase_add_test(tc, test_never_above_hw);
	tcase_add_test(tc, test_by_size);
	tcase_add_test(tc, test_active_segment_rolled);
	tcase_add_test(tc, test_per_topic_and_unconfirmed);
	tcase_add_test(tc, test_log_start_offset);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
