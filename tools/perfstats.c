/*
 * perfstats.c - latency histogram, producer statistics, throttler and the
 * report lines of the perf tools.
 *
 * Kafka's ProducerPerformance keeps a sampled array of int latencies
 * (at most 500,000 of them) and sorts it at the end; percentile p is
 * element (int)(p * n). A histogram of 1 ms buckets gives the same answer
 * for every record without sampling, without sorting and without memory
 * that grows with the run: the p-th value is the first bucket whose
 * cumulative count passes index (int)(p * n).
 *
 * Rates divide by the elapsed time; an elapsed time of 0 (a run faster
 * than the clock's resolution) counts as 1 ms so lines never show inf or
 * nan.
 */
#include "config.h"

#include "perfstats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MIB (1024.0 * 1024.0)

void lat_hist_reset(struct lat_hist *h)
{
	memset(h, 0, sizeof(*h));
}

int64_t lat_hist_percentile(const struct lat_hist *h, double p)
{
	uint64_t index, seen = 0;
	size_t i;

	if (h->count == 0)
		return 0;
	if (p < 0)
		p = 0;
	index = (uint64_t)(p * (double)h->count);
	if (index >= h->count)
		index = h->count - 1;
	for (i = 0; i < LAT_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > index)
			return (int64_t)i;
	}
	return LAT_HIST_BUCKETS - 1;
}

void perf_stats_init(struct perf_stats *s, int64_t now_ms)
{
	memset(s, 0, sizeof(*s));
	s->start_ms = now_ms;
	s->window_start_ms = now_ms;
	s->reporting_interval_ms = 5000;
}

bool perf_stats_window_due(const struct perf_stats *s, int64_t now_ms)
{
	return s->window_count > 0 &&
	       now_ms - s->window_start_ms >= s->reporting_interval_ms;
}

static double elapsed_ms(int64_t from, int64_t to)
{
	return to > from ? (double)(to - from) : 1.0;
}

int perf_stats_window(struct perf_stats *s, int64_t now_ms, char *out,
		      size_t size)
{
	double el = elapsed_ms(s->window_start_ms, now_ms);
	double n = (double)s->window_count;
	int len;

	len = snprintf(out, size,
		       "%lld records sent, %.1f records/sec (%.2f MB/sec), "
		       "%.1f ms avg latency, %.1f ms max latency.\n",
		       (long long)s->window_count, 1000.0 * n / el,
		       1000.0 * (double)s->window_bytes / el / MIB,
		       n > 0 ? (double)s->window_total_latency_us / 1000.0 / n :
			       0.0,
		       (double)s->window_max_latency_us / 1000.0);
	s->window_start_ms = now_ms;
	s->window_count = 0;
	s->window_bytes = 0;
	s->window_total_latency_us = 0;
	s->window_max_latency_us = 0;
	return len;
}

int perf_stats_total(const struct perf_stats *s, int64_t now_ms, char *out,
		     size_t size)
{
	double el = elapsed_ms(s->start_ms, now_ms);
	double n = (double)s->count;

	return snprintf(out, size,
			"%lld records sent, %f records/sec (%.2f MB/sec), "
			"%.2f ms avg latency, %.2f ms max latency, %lld ms "
			"50th, %lld ms 95th, %lld ms 99th, %lld ms 99.9th.\n",
			(long long)s->count, 1000.0 * n / el,
			1000.0 * (double)s->bytes / el / MIB,
			n > 0 ? (double)s->total_latency_us / 1000.0 / n : 0.0,
			(double)s->max_latency_us / 1000.0,
			(long long)lat_hist_percentile(&s->hist, 0.5),
			(long long)lat_hist_percentile(&s->hist, 0.95),
			(long long)lat_hist_percentile(&s->hist, 0.99),
			(long long)lat_hist_percentile(&s->hist, 0.999));
}

/* ------------------------------------------------------------ throttler */

void throttler_init(struct throttler *t, double target, int64_t start_ms)
{
	t->target = target;
	t->start_ms = start_ms;
	t->sleep_time_ns = target > 0 ? (int64_t)(1e9 / target) : INT64_MAX;
	t->sleep_deficit_ns = 0;
}

bool throttler_should_throttle(const struct throttler *t,
			       int64_t amount_so_far, int64_t now_ms)
{
	double elapsed_sec;

	if (t->target < 0)
		return false;
	elapsed_sec = (double)(now_ms - t->start_ms) / 1000.0;
	return elapsed_sec > 0 &&
	       (double)amount_so_far / elapsed_sec > t->target;
}

int64_t throttler_throttle(struct throttler *t)
{
	int64_t ns;

	if (t->target == 0)
		return THROTTLE_FOREVER;
	if (t->target < 0)
		return 0;
	t->sleep_deficit_ns += t->sleep_time_ns;
	if (t->sleep_deficit_ns < THROTTLE_MIN_SLEEP_NS)
		return 0;
	ns = t->sleep_deficit_ns;
	t->sleep_deficit_ns = 0;
	return ns;
}

/* ------------------------------------------------------- consumer perf */

char *perf_format_date(int64_t ms, char *out, size_t size)
{
	time_t sec = (time_t)(ms / 1000);
	int msec = (int)(ms % 1000);
	struct tm tm;
	char base[32];

	if (msec < 0) {
		msec += 1000;
		sec--;
	}
	if (!localtime_r(&sec, &tm) ||
	    strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(base, sizeof(base), "%lld", (long long)sec);
	snprintf(out, size, "%s:%03d", base, msec);
	return out;
}

const char *perf_consumer_header(bool detailed)
{
	return detailed ? "time, threadId, data.consumed.in.MB, MB.sec, "
			  "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
			  "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec" :
			  "start.time, end.time, data.consumed.in.MB, MB.sec, "
			  "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
			  "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
}

int perf_consumer_total(char *out, size_t size, int64_t start_ms,
			int64_t end_ms, int64_t bytes, int64_t msgs,
			int64_t rebalance_ms)
{
	char start[48], end[48];
	double secs = elapsed_ms(start_ms, end_ms) / 1000.0;
	int64_t fetch_ms = end_ms - start_ms - rebalance_ms;
	double fetch_secs = (fetch_ms > 0 ? (double)fetch_ms : 1.0) / 1000.0;
	double mb = (double)bytes / MIB;

	return snprintf(out, size,
			"%s, %s, %.4f, %.4f, %lld, %.4f, %lld, %lld, %.4f, "
			"%.4f\n",
			perf_format_date(start_ms, start, sizeof(start)),
			perf_format_date(end_ms, end, sizeof(end)), mb,
			mb / secs, (long long)msgs, (double)msgs / secs,
			(long long)rebalance_ms, (long long)fetch_ms,
			mb / fetch_secs, (double)msgs / fetch_secs);
}

int perf_consumer_interval(char *out, size_t size, int thread_id,
			   int64_t bytes, int64_t last_bytes, int64_t msgs,
			   int64_t last_msgs, int64_t last_ms, int64_t now_ms,
			   int64_t rebalance_ms)
{
	char now[48];
	double el = elapsed_ms(last_ms, now_ms);
	double interval_mb = (double)(bytes - last_bytes) / MIB;
	double interval_msgs = (double)(msgs - last_msgs);
	int64_t fetch_ms = now_ms - last_ms - rebalance_ms;
	double fetch_mb_sec = 0, fetch_msg_sec = 0;

	if (fetch_ms > 0) {
		fetch_mb_sec = 1000.0 * interval_mb / (double)fetch_ms;
		fetch_msg_sec = 1000.0 * interval_msgs / (double)fetch_ms;
	}
	return snprintf(out, size,
			"%s, %d, %.4f, %.4f, %lld, %.4f, %lld, %lld, %.4f, "
			"%.4f\n",
			perf_format_date(now_ms, now, sizeof(now)), thread_id,
			(double)bytes / MIB, 1000.0 * interval_mb / el,
			(long long)msgs, 1000.0 * interval_msgs / el,
			(long long)rebalance_ms, (long long)fetch_ms,
			fetch_mb_sec, fetch_msg_sec);
}

/* ------------------------------------------------------------ metrics */

void perf_print_metrics(FILE *out, const char *group, const char *client_id,
			const struct perf_metric *m, size_t n)
{
	char name[512];
	size_t i;
	int width = 0;

	for (i = 0; i < n; i++) {
		int len = snprintf(name, sizeof(name), "%s:%s:{client-id=%s}",
				   group, m[i].name, client_id);

		if (len > width)
			width = len;
	}
	fprintf(out, "\n%-*s   %s\n", width, "Metric Name", "Value");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s:%s:{client-id=%s}", group,
			 m[i].name, client_id);
		fprintf(out, "%-*s : %.3f\n", width, name, m[i].value);
	}
}
