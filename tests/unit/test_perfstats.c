/*
 * test_perfstats.c - the perf tools' arithmetic and report lines: Kafka's
 * percentile rule on the fixed histogram, the exact progress and final
 * lines of the producer perf tool, the throttler's rate, and the consumer
 * perf tool's date format and columns.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/perfstats.h"

static struct perf_stats stats;	/* large: keep it off the stack */

START_TEST(test_percentiles_kafka_rule)
{
	static struct lat_hist h;
	int i;

	lat_hist_reset(&h);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.5), 0);
	/* Latencies 1..100 ms, added out of order. */
	for (i = 100; i >= 1; i--)
		lat_hist_add(&h, i);
	ck_assert_uint_eq(h.count, 100);
	/* sorted[(int)(p * n)]: index 50 -> 51, 95 -> 96, 99 -> 100. */
	ck_assert_int_eq(lat_hist_percentile(&h, 0.5), 51);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.95), 96);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.99), 100);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.999), 100);
	ck_assert_int_eq(lat_hist_percentile(&h, 0), 1);

	/* A slow tail lands in the last bucket rather than being lost. */
	lat_hist_reset(&h);
	lat_hist_add(&h, 3);
	lat_hist_add(&h, 10 * 1000 * 1000);
	lat_hist_add(&h, -7);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.999),
			 LAT_HIST_BUCKETS - 1);
	ck_assert_int_eq(lat_hist_percentile(&h, 0), 0);
	ck_assert_int_eq(lat_hist_percentile(&h, 0.5), 3);
}
END_TEST

START_TEST(test_total_line)
{
	char line[512];
	int i;

	perf_stats_init(&stats, 1000);
	for (i = 1; i <= 4; i++)
		perf_stats_record(&stats, i * 1000, 262144);
	perf_stats_total(&stats, 2000, line, sizeof(line));
	ck_assert_str_eq(line, "4 records sent, 4.000000 records/sec (1.00 "
			       "MB/sec), 2.50 ms avg latency, 4.00 ms max "
			       "latency, 3 ms 50th, 4 ms 95th, 4 ms 99th, 4 ms "
			       "99.9th.\n");

	/* Nothing acknowledged: zeros, never nan or inf. */
	perf_stats_init(&stats, 5000);
	perf_stats_total(&stats, 5000, line, sizeof(line));
	ck_assert_str_eq(line, "0 records sent, 0.000000 records/sec (0.00 "
			       "MB/sec), 0.00 ms avg latency, 0.00 ms max "
			       "latency, 0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms "
			       "99.9th.\n");
}
END_TEST

START_TEST(test_window_line)
{
	char line[256];

	perf_stats_init(&stats, 0);
	ck_assert(!perf_stats_window_due(&stats, 10000));	/* empty */
	perf_stats_record(&stats, 1500, 1048576);
	perf_stats_record(&stats, 2500, 1048576);
	ck_assert(!perf_stats_window_due(&stats, 4999));
	ck_assert(perf_stats_window_due(&stats, 5000));
	perf_stats_window(&stats, 2000, line, sizeof(line));
	ck_assert_str_eq(line, "2 records sent, 1.0 records/sec (1.00 "
			       "MB/sec), 2.0 ms avg latency, 2.5 ms max "
			       "latency.\n");
	/* A new window starts; the totals keep everything. */
	ck_assert_int_eq(stats.window_count, 0);
	ck_assert_int_eq(stats.window_start_ms, 2000);
	ck_assert_int_eq(stats.count, 2);
	perf_stats_record(&stats, 500, 10);
	perf_stats_window(&stats, 3000, line, sizeof(line));
	ck_assert_str_eq(line, "1 records sent, 1.0 records/sec (0.00 "
			       "MB/sec), 0.5 ms avg latency, 0.5 ms max "
			       "latency.\n");
	ck_assert_int_eq(stats.max_latency_us, 2500);
}
END_TEST

START_TEST(test_throttler_decisions)
{
	struct throttler t;

	throttler_init(&t, 100, 1000);
	ck_assert(!throttler_should_throttle(&t, 50, 1000));	/* 0 s */
	ck_assert(!throttler_should_throttle(&t, 50, 2000));
	ck_assert(throttler_should_throttle(&t, 150, 2000));
	/* 10 ms per record: sleeps come in slices of >= 2 ms. */
	ck_assert_int_eq(throttler_throttle(&t), 10000000);

	throttler_init(&t, 1000, 0);
	ck_assert_int_eq(throttler_throttle(&t), 0);	/* 1 ms owed */
	ck_assert_int_eq(throttler_throttle(&t), 2000000);
	ck_assert_int_eq(throttler_throttle(&t), 0);

	throttler_init(&t, -1, 0);
	ck_assert(!throttler_should_throttle(&t, 1000000000, 1));
	ck_assert_int_eq(throttler_throttle(&t), 0);

	throttler_init(&t, 0, 0);
	ck_assert(throttler_should_throttle(&t, 1, 10));
	ck_assert(throttler_throttle(&t) == THROTTLE_FOREVER);
}
END_TEST

/* A simulated run: sending is instant, time passes only while sleeping.
 * The achieved rate must be close to the target. */
START_TEST(test_throttler_rate)
{
	static const double targets[] = { 50, 500, 5000, 123456 };
	size_t k;

	for (k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
		struct throttler t;
		int64_t now_ns = 1000000, i, n = (int64_t)(targets[k] * 4);
		double secs, rate;

		throttler_init(&t, targets[k], now_ns / 1000000);
		for (i = 0; i < n; i++) {
			/* The first record at time 0 cannot be throttled. */
			if (i == 0)
				now_ns += 1000000;
			if (throttler_should_throttle(&t, i, now_ns / 1000000))
				now_ns += throttler_throttle(&t);
		}
		secs = (double)(now_ns - 1000000) / 1e9;
		rate = (double)n / secs;
		ck_assert_msg(rate > targets[k] * 0.95 &&
				      rate < targets[k] * 1.05,
			      "target %.0f/s, got %.1f/s", targets[k], rate);
	}
}
END_TEST

START_TEST(test_consumer_lines)
{
	char line[512], date[48];

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_str_eq(perf_format_date(0, date, sizeof(date)),
			 "1970-01-01 00:00:00:000");
	ck_assert_str_eq(perf_format_date(1690000000123LL, date, sizeof(date)),
			 "2023-07-22 04:26:40:123");
	ck_assert_str_eq(perf_consumer_header(false),
			 "start.time, end.time, data.consumed.in.MB, MB.sec, "
			 "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
			 "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
	ck_assert_str_eq(perf_consumer_header(true),
			 "time, threadId, data.consumed.in.MB, MB.sec, "
			 "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
			 "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
	/* 2 MiB and 1000 records in 2 s. */
	perf_consumer_total(line, sizeof(line), 1690000000000LL,
			    1690000002000LL, 2 * 1048576, 1000, 0);
	ck_assert_str_eq(line, "2023-07-22 04:26:40:000, 2023-07-22 "
			       "04:26:42:000, 2.0000, 1.0000, 1000, 500.0000, "
			       "0, 2000, 1.0000, 500.0000\n");
	perf_consumer_interval(line, sizeof(line), 0, 3 * 1048576, 1048576,
			       300, 100, 1690000000000LL, 1690000001000LL, 0);
	ck_assert_str_eq(line, "2023-07-22 04:26:41:000, 0, 3.0000, 2.0000, "
			       "300, 200.0000, 0, 1000, 2.0000, 200.0000\n");
}
END_TEST

START_TEST(test_metrics_block)
{
	const struct perf_metric m[] = { { "a-rate", 1.5 },
					 { "record-send-total", 10 } };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	perf_print_metrics(f, "producer-metrics", "c1", m, 2);
	fclose(f);
	ck_assert_str_eq(buf,
			 "\nMetric Name                                      "
			 "   Value\n"
			 "producer-metrics:a-rate:{client-id=c1}           "
			 " : 1.500\n"
			 "producer-metrics:record-send-total:{client-id=c1}"
			 " : 10.000\n");
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("perfstats");
	TCase *tc = tcase_create("perfstats");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_percentiles_kafka_rule);
	tcase_add_test(tc, test_total_line);
	tcase_add_test(tc, test_window_line);
	tcase_add_test(tc, test_throttler_decisions);
	tcase_add_test(tc, test_throttler_rate);
	tcase_add_test(tc, test_consumer_lines);
	tcase_add_test(tc, test_metrics_block);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
