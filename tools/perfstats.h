/*
 * perfstats.h - the measuring parts of the perf tools: a fixed latency
 * histogram with Kafka's percentile rule, the producer's window and total
 * statistics, Kafka's ThroughputThrottler, and the consumer perf tool's
 * report lines and date format.
 *
 * Everything here is allocation-free on the hot path: the histogram is a
 * fixed array of 1 ms buckets, recording a latency is an increment.
 * Report lines are formatted into caller buffers, in the exact layout of
 * Kafka's ProducerPerformance and ConsumerPerformance, so scripts written
 * for those tools parse ours.
 *
 * Threads: none; each struct belongs to one thread.
 */
#ifndef FLUXO_PERFSTATS_H
#define FLUXO_PERFSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 1 ms buckets from 0 to 65534 ms; the last bucket holds anything slower. */
#define LAT_HIST_BUCKETS 65536

struct lat_hist {
	uint64_t count;
	uint64_t buckets[LAT_HIST_BUCKETS];
};

void lat_hist_reset(struct lat_hist *h);

static inline void lat_hist_add(struct lat_hist *h, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms >= LAT_HIST_BUCKETS)
		ms = LAT_HIST_BUCKETS - 1;
	h->buckets[ms]++;
	h->count++;
}

/*
 * The p-th percentile (0 <= p < 1) in ms with Kafka's rule: the value at
 * index (int)(p * n) of the sorted latencies. 0 when empty.
 */
int64_t lat_hist_percentile(const struct lat_hist *h, double p);

/* ------------------------------------------------------- producer stats */

struct perf_stats {
	int64_t start_ms;
	int64_t window_start_ms;
	int64_t reporting_interval_ms;	/* 5000, as Kafka */
	int64_t count;
	int64_t bytes;
	int64_t total_latency_us;
	int64_t max_latency_us;
	int64_t window_count;
	int64_t window_bytes;
	int64_t window_total_latency_us;
	int64_t window_max_latency_us;
	struct lat_hist hist;
};

/* Starts the clock at now_ms (wall or monotonic, used consistently). */
void perf_stats_init(struct perf_stats *s, int64_t now_ms);

/* Records one acknowledged record of bytes bytes. */
static inline void perf_stats_record(struct perf_stats *s, int64_t latency_us,
				     int64_t bytes)
{
	if (latency_us < 0)
		latency_us = 0;
	s->count++;
	s->bytes += bytes;
	s->total_latency_us += latency_us;
	if (latency_us > s->max_latency_us)
		s->max_latency_us = latency_us;
	s->window_count++;
	s->window_bytes += bytes;
	s->window_total_latency_us += latency_us;
	if (latency_us > s->window_max_latency_us)
		s->window_max_latency_us = latency_us;
	lat_hist_add(&s->hist, latency_us / 1000);
}

/* True when the current window is at least reporting_interval_ms old and
 * holds at least one record. */
bool perf_stats_window_due(const struct perf_stats *s, int64_t now_ms);

/*
 * Formats the window line and starts a new window:
 * "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max
 * latency.\n". Returns the length (as snprintf).
 */
int perf_stats_window(struct perf_stats *s, int64_t now_ms, char *out,
		      size_t size);

/*
 * Formats the final line: "N records sent, X records/sec (Y MB/sec), A ms
 * avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th,
 * P999 ms 99.9th.\n". Returns the length (as snprintf).
 */
int perf_stats_total(const struct perf_stats *s, int64_t now_ms, char *out,
		     size_t size);

/* ------------------------------------------------------------ throttler */

/*
 * Kafka's ThroughputThrottler: keeps the average rate near target (records
 * or bytes per second) by sleeping in slices of at least 2 ms.
 * target < 0 disables it; target == 0 blocks until the tool stops.
 */
struct throttler {
	double target;
	int64_t start_ms;
	int64_t sleep_time_ns;		/* per unit */
	int64_t sleep_deficit_ns;
};

#define THROTTLE_MIN_SLEEP_NS 2000000
#define THROTTLE_FOREVER INT64_MAX

void throttler_init(struct throttler *t, double target, int64_t start_ms);

/* True when amount_so_far units sent by now_ms exceed the target rate. */
bool throttler_should_throttle(const struct throttler *t,
			       int64_t amount_so_far, int64_t now_ms);

/*
 * Adds one unit's worth of sleep to the deficit and returns how long to
 * sleep now: 0 while the deficit is under THROTTLE_MIN_SLEEP_NS, else the
 * whole deficit (which is then cleared); THROTTLE_FOREVER for target 0.
 */
int64_t throttler_throttle(struct throttler *t);

/* ------------------------------------------------------- consumer perf */

/* Kafka's default date format "yyyy-MM-dd HH:mm:ss:SSS", local time.
 * Returns out. */
char *perf_format_date(int64_t ms, char *out, size_t size);

/* The header line (without newline), plain or with --show-detailed-stats. */
const char *perf_consumer_header(bool detailed);

/*
 * The final line of fluxo-consumer-perf:
 * "start, end, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms,
 * fetch.MB.sec, fetch.nMsg.sec\n". Returns the length (as snprintf).
 */
int perf_consumer_total(char *out, size_t size, int64_t start_ms,
			int64_t end_ms, int64_t bytes, int64_t msgs,
			int64_t rebalance_ms);

/*
 * One --show-detailed-stats line for the interval [last_ms, now_ms):
 * "time, threadId, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms,
 * fetch.MB.sec, fetch.nMsg.sec\n" (totals so far, rates of the interval).
 */
int perf_consumer_interval(char *out, size_t size, int thread_id,
			   int64_t bytes, int64_t last_bytes, int64_t msgs,
			   int64_t last_msgs, int64_t last_ms, int64_t now_ms,
			   int64_t rebalance_ms);

/* ------------------------------------------------------------ metrics */

struct perf_metric {
	const char *name;
	double value;
};

/*
 * Prints metrics as Kafka's ToolsUtils.printMetrics does: a blank line, a
 * "Metric Name   Value" header, then "group:name:{client-id=ID} : %.3f"
 * lines padded to one width, in the order given (give them sorted).
 */
void perf_print_metrics(FILE *out, const char *group, const char *client_id,
			const struct perf_metric *m, size_t n);

#endif
