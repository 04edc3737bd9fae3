/*
 * test_throttle.c - the replication throttle's token bucket and its
 * replica lists, on a simulated clock: senders that move data in fetch
 * sized chunks whenever the throttle allows must average the configured
 * rate, unthrottled senders are never delayed, a changed rate applies at
 * once, and a rate of 0 passes nothing.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "broker/replica/throttle.h"

#define SEC 1000000LL /* us */

/*
 * Simulates a sender of chunk-byte transfers for dur_us from start_us
 * (each transfer instantaneous; waits as told). Returns the bytes moved.
 */
static int64_t simulate(struct throttle *t, int64_t start_us, int64_t dur_us,
			int64_t chunk, int *max_wait_ms)
{
	int64_t now = start_us, moved = 0;

	while (now < start_us + dur_us) {
		int64_t d = throttle_delay_ms(t, now);

		if (d > 0) {
			if (max_wait_ms && d > *max_wait_ms)
				*max_wait_ms = (int)d;
			now += d * 1000;
			continue;
		}
		throttle_record(t, chunk, now);
		moved += chunk;
	}
	return moved;
}

START_TEST(test_unlimited)
{
	struct throttle *t = throttle_new(THROTTLE_UNLIMITED);

	ck_assert(!throttle_limited(t));
	ck_assert(!throttle_limited(NULL));
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(throttle_delay_ms(t, i), 0);
		throttle_record(t, 100 << 20, i);
	}
	ck_assert_int_eq(throttle_delay_ms(t, 1000), 0);
	throttle_destroy(t);
	throttle_destroy(NULL);
}
END_TEST

/* The average over a long run is the rate, whatever the chunk size. */
START_TEST(test_long_run_rate)
{
	static const int64_t rates[] = {5000000, 1000000, 20000, 100};
	static const int64_t chunks[] = {1 << 20, 16384, 1 << 20, 1000};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct throttle *t = throttle_new(rates[i]);
		int64_t dur = 60 * SEC, expect = rates[i] * 60;
		int64_t slack = rates[i] * THROTTLE_BURST_MS / 1000 + chunks[i];
		int64_t moved = simulate(t, 7 * SEC, dur, chunks[i], NULL);

		ck_assert(throttle_limited(t));
		ck_assert_msg(moved >= expect - chunks[i] &&
				  moved <= expect + slack,
			      "rate %lld chunk %lld: moved %lld in 60 s",
			      (long long)rates[i], (long long)chunks[i],
			      (long long)moved);
		throttle_destroy(t);
	}
}
END_TEST

/* The brief's case: 20 MB at 5 MB/s takes close to 4 s, never < 3 s. */
START_TEST(test_copy_time)
{
	struct throttle *t = throttle_new(5000000);
	int64_t now = SEC, moved = 0;

	while (moved < 20000000) {
		int64_t d = throttle_delay_ms(t, now);

		if (d > 0) {
			now += d * 1000;
			continue;
		}
		throttle_record(t, 1 << 20, now);
		moved += 1 << 20;
	}
	ck_assert_msg(now - SEC >= 3 * SEC && now - SEC <= 4 * SEC,
		      "20 MB at 5 MB/s took %lld ms",
		      (long long)(now - SEC) / 1000);
	throttle_destroy(t);
}
END_TEST

/* One big transfer is a debt paid back before the next one. */
START_TEST(test_debt_and_idle)
{
	struct throttle *t = throttle_new(1000000);
	int64_t d;

	ck_assert_int_eq(throttle_delay_ms(t, SEC), 0);
	throttle_record(t, 10000000, SEC);
	d = throttle_delay_ms(t, SEC);
	/* 10 MB minus the 200 KB burst at 1 MB/s: about 9.8 s, capped. */
	ck_assert_int_eq(d, THROTTLE_ZERO_RATE_WAIT_MS);
	ck_assert_int_gt(throttle_delay_ms(t, 9 * SEC), 700);
	ck_assert_int_eq(throttle_delay_ms(t, 11 * SEC), 0);
	/* An hour idle saves up no more than the burst. */
	ck_assert_int_eq(throttle_delay_ms(t, 3600 * SEC), 0);
	throttle_record(t, 1000000 * THROTTLE_BURST_MS / 1000 + 100000,
			3600 * SEC);
	d = throttle_delay_ms(t, 3600 * SEC);
	ck_assert_int_ge(d, 99);
	ck_assert_int_le(d, 101);
	throttle_destroy(t);
}
END_TEST

START_TEST(test_rate_changes)
{
	struct throttle *t = throttle_new(THROTTLE_UNLIMITED);
	int64_t moved;
	int max_wait = 0;

	throttle_set_rate(t, 2000000);
	ck_assert_int_eq(throttle_rate(t), 2000000);
	ck_assert(throttle_limited(t));
	moved = simulate(t, SEC, 10 * SEC, 65536, &max_wait);
	ck_assert_int_ge(moved, 20000000 - 65536);
	ck_assert_int_le(moved, 20000000 + 400000 + 65536);
	/* Lower: the new rate applies from now. */
	throttle_set_rate(t, 500000);
	moved = simulate(t, 11 * SEC, 10 * SEC, 65536, NULL);
	ck_assert_int_ge(moved, 5000000 - 2 * 65536);
	ck_assert_int_le(moved, 5000000 + 100000 + 2 * 65536);
	/* Zero: nothing passes, the caller is told to look again later. */
	throttle_set_rate(t, 0);
	ck_assert_int_eq(simulate(t, 30 * SEC, 10 * SEC, 1, &max_wait), 0);
	ck_assert_int_eq(max_wait, THROTTLE_ZERO_RATE_WAIT_MS);
	/* Back to unlimited. */
	throttle_set_rate(t, THROTTLE_UNLIMITED);
	ck_assert(!throttle_limited(t));
	ck_assert_int_eq(throttle_delay_ms(t, 41 * SEC), 0);
	throttle_set_rate(t, -5);
	ck_assert_int_eq(throttle_rate(t), 0);
	throttle_destroy(t);
}
END_TEST

/* Two senders share one throttle: together they get the rate. */
START_TEST(test_shared)
{
	struct throttle *t = throttle_new(1000000);
	int64_t now = SEC, a = 0, b = 0;

	while (now < 31 * SEC) {
		if (throttle_delay_ms(t, now) == 0) {
			throttle_record(t, 100000, now);
			a += 100000;
		}
		if (throttle_delay_ms(t, now) == 0) {
			throttle_record(t, 30000, now);
			b += 30000;
		}
		now += 1000;
	}
	ck_assert_int_ge(a + b, 30000000 - 100000);
	ck_assert_int_le(a + b, 30000000 + 200000 + 130000);
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	throttle_destroy(t);
}
END_TEST

START_TEST(test_lists)
{
	ck_assert(!throttle_list_has(NULL, 0, 1));
	ck_assert(!throttle_list_has("", 0, 1));
	ck_assert(throttle_list_has("*", 0, 1));
	ck_assert(throttle_list_has(" * ", 7, 3));
	ck_assert(throttle_list_has("0:1,1:2", 0, 1));
	ck_assert(throttle_list_has("0:1,1:2", 1, 2));
	ck_assert(!throttle_list_has("0:1,1:2", 0, 2));
	ck_assert(!throttle_list_has("0:1,1:2", 2, 1));
	ck_assert(throttle_list_has(" 0:1 , 12:34 ", 12, 34));
	ck_assert(throttle_list_has("0:1,,3:4,", 3, 4));
	/* Malformed entries name nothing; the rest still counts. */
	ck_assert(!throttle_list_has("x:1", 0, 1));
	ck_assert(!throttle_list_has("0:", 0, 0));
	ck_assert(!throttle_list_has(":1", 0, 1));
	ck_assert(!throttle_list_has("0:1:2", 0, 1));
	ck_assert(!throttle_list_has("-1:1", 1, 1));
	ck_assert(!throttle_list_has("99999999999:1", 0, 1));
	ck_assert(throttle_list_has("0:1:2,5:6", 5, 6));
	ck_assert(!throttle_list_has("**", 0, 1));
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_long_run_rate);
	tcase_add_test(tc, test_copy_time);
	tcase_add_test(tc, test_debt_and_idle);
	tcase_add_test(tc, test_rate_changes);
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_lists);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(throttle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
