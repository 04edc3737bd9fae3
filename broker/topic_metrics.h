/*
 * topic_metrics.h - the per-topic counters updated on the data path.
 */
#ifndef FLUXO_BROKER_TOPIC_METRICS_H
#define FLUXO_BROKER_TOPIC_METRICS_H

struct metrics_counter;

/* Members are NULL when metrics are off (updates on NULL do nothing). */
struct topic_metrics {
	struct metrics_counter *bytes_in;
	struct metrics_counter *records_in;
	struct metrics_counter *bytes_out;
	struct metrics_counter *records_out;
	struct metrics_counter *replication_bytes_out;
};

#endif
