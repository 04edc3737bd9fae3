/*
 * bench_metrics.c - the cost of a metrics update on the hot path.
 *
 * Times counter increments, gauge adds and histogram observations from 1
 * and from N threads all updating the same series, next to a plain shared
 * atomic counter for comparison, and one scrape of a registry with many
 * series. Prints nanoseconds per update (per thread). Not run by make
 * check.
 *
 *   tests/bench/bench_metrics [threads] [million updates per thread]
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/metrics.h"
#include "common/buf.h"
#include "common/clock.h"

enum op { OP_COUNTER, OP_GAUGE, OP_HIST, OP_SHARED_ATOMIC };

static struct metrics_counter *counter;
static struct metrics_gauge *gauge;
static struct metrics_histogram *hist;
static _Atomic uint64_t shared;
static long iters;
static pthread_barrier_t barrier;

static void *run(void *arg)
{
	enum op op = (enum op)(intptr_t)arg;
	long i;

	pthread_barrier_wait(&barrier);
	switch (op) {
	case OP_COUNTER:
		for (i = 0; i < iters; i++)
			metrics_counter_inc(counter);
		break;
	case OP_GAUGE:
		for (i = 0; i < iters; i++)
			metrics_gauge_add(gauge, 1);
		break;
	case OP_HIST:
		for (i = 0; i < iters; i++)
			metrics_histogram_observe(hist, (i & 1023) * 1e-5);
		break;
	case OP_SHARED_ATOMIC:
		for (i = 0; i < iters; i++)
			atomic_fetch_add_explicit(&shared, 1,
						  memory_order_relaxed);
		break;
	}
	return NULL;
}

static double timed(enum op op, int threads)
{
	pthread_t th[64];
	int64_t t0;
	int i;

	pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
	for (i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, (void *)(intptr_t)op);
	pthread_barrier_wait(&barrier);
	t0 = clock_mono_ns();
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	return (double)(clock_mono_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"counter_inc", "gauge_add",
					    "histogram_observe",
					    "shared atomic (reference)"};
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	struct metrics *m = metrics_new();
	struct buf out = BUF_INIT;
	char labels[64];
	int64_t t0;
	int op, i;

	iters = (argc > 2 ? atol(argv[2]) : 20) * 1000000L;
	if (threads < 1 || threads > 64 || iters <= 0) {
		fprintf(stderr, "usage: %s [threads 1-64] [million]\n",
			argv[0]);
		return 2;
	}
	counter = metrics_add_counter(m, "bench_total", NULL, NULL);
	gauge = metrics_add_gauge(m, "bench_gauge", NULL, NULL);
	hist = metrics_add_histogram(m, "bench_seconds", NULL, NULL,
				     metrics_latency_buckets,
				     METRICS_LATENCY_NBUCKETS);
	printf("%-28s %12s %12s\n", "update", "1 thread", "threads");
	for (op = OP_COUNTER; op <= OP_SHARED_ATOMIC; op++)
		printf("%-28s %9.2f ns %9.2f ns  (%d threads)\n", names[op],
		       timed((enum op)op, 1), timed((enum op)op, threads),
		       threads);
	for (i = 0; i < 200; i++) {
		snprintf(labels, sizeof(labels), "api=\"a%d\"", i);
		metrics_add_counter(m, "bench_requests_total", NULL, labels);
		metrics_add_histogram(m, "bench_request_seconds", NULL, labels,
				      metrics_latency_buckets,
				      METRICS_LATENCY_NBUCKETS);
	}
	t0 = clock_mono_ns();
	metrics_render(m, &out);
	printf("scrape of 400 series: %zu bytes in %.2f ms\n", out.len,
	       (double)(clock_mono_ns() - t0) / 1e6);
	buf_free(&out);
	metrics_destroy(m);
	return 0;
}
