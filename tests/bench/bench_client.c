/*
 * bench_client.c - libfluxo's own cost, against the in-process mock
 * broker: produce N 100-byte records (acks=1, default settings) and time
 * until every delivery report is served; then consume them back. The mock
 * shares the CPU with the client, so the figures bound the client's
 * per-record cost from above; the real numbers come from
 * fluxo-producer-perf / fluxo-consumer-perf against fluxo-broker.
 *
 *   bench_client [records] [acks] [compression]
 *   bench_client --latency RATE SECONDS   p50/p99/max delivery latency at
 *                                          a fixed rate
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "fluxo.h"
#include "../unit/mock_broker.h"

static long delivered, failed;
static int64_t *lat;
static long lat_cnt, lat_cap;

static void dr_cb(const fluxo_delivery_t *dr, void *opaque)
{
	(void)opaque;
	if (dr->err)
		failed++;
	else
		delivered++;
	if (lat && lat_cnt < lat_cap)
		lat[lat_cnt++] = dr->latency_us;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int latency(const char *bs, long rate, int secs)
{
	fluxo_conf_t *c = fluxo_conf_new();
	fluxo_producer_t *p;
	char err[512], val[100];
	int64_t t0, now;
	long sent = 0;

	memset(val, 'y', sizeof(val));
	lat_cap = rate * secs + 10;
	lat = malloc((size_t)lat_cap * sizeof(*lat));
	fluxo_conf_set(c, "bootstrap.servers", bs, err, sizeof(err));
	fluxo_conf_set_delivery_cb(c, dr_cb, NULL);
	p = fluxo_producer_new(c, err, sizeof(err));
	fluxo_producer_partition_count(p, "bench", 5000);
	t0 = clock_mono_us();
	while ((now = clock_mono_us()) - t0 < (int64_t)secs * 1000000) {
		long due = (long)((now - t0) * rate / 1000000);

		while (sent < due) {
			fluxo_produce(p, "bench", 0, NULL, 0, val, sizeof(val),
				      NULL, 0, 0, NULL);
			sent++;
		}
		fluxo_producer_poll(p, 0);
		/* Spread records evenly: a short sleep between slices. */
		{
			struct timespec ts = {0, 50000};

			nanosleep(&ts, NULL);
		}
	}
	fluxo_producer_flush(p, 10000);
	qsort(lat, (size_t)lat_cnt, sizeof(*lat), cmp64);
	printf("latency at %ld records/s for %d s: %ld records, p50 %lld us, "
	       "p99 %lld us, p99.9 %lld us, max %lld us\n",
	       rate, secs, lat_cnt, (long long)lat[lat_cnt / 2],
	       (long long)lat[lat_cnt * 99 / 100],
	       (long long)lat[lat_cnt * 999 / 1000],
	       (long long)lat[lat_cnt - 1]);
	fluxo_producer_destroy(p);
	free(lat);
	lat = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	const char *acks = argc > 2 ? argv[2] : "1";
	const char *codec = argc > 3 ? argv[3] : "none";
	struct mock_broker m;
	fluxo_conf_t *c;
	fluxo_producer_t *p;
	fluxo_consumer_t *cons;
	char bs[64], err[512], val[100];
	int64_t t0, t1;
	long got = 0;

	memset(val, 'x', sizeof(val));
	if (mock_start(&m) < 0)
		return 1;
	mock_add_topic(&m, "bench", 1);
	mock_bootstrap(&m, bs, sizeof(bs));
	if (argc > 3 && strcmp(argv[1], "--latency") == 0) {
		latency(bs, atol(argv[2]), atoi(argv[3]));
		mock_stop(&m);
		return 0;
	}
	c = fluxo_conf_new();
	fluxo_conf_set(c, "bootstrap.servers", bs, err, sizeof(err));
	fluxo_conf_set(c, "acks", acks, err, sizeof(err));
	fluxo_conf_set(c, "compression.type", codec, err, sizeof(err));
	fluxo_conf_set_delivery_cb(c, dr_cb, NULL);
	p = fluxo_producer_new(c, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	fluxo_producer_partition_count(p, "bench", 5000);
	t0 = clock_mono_us();
	for (long i = 0; i < n; i++) {
		while (fluxo_produce(p, "bench", 0, NULL, 0, val, sizeof(val),
				     NULL, 0, 0, NULL) == FLUXO_ERR__QUEUE_FULL)
			fluxo_producer_poll(p, 1);
		if ((i & 1023) == 0)
			fluxo_producer_poll(p, 0);
	}
	fluxo_producer_flush(p, 60000);
	t1 = clock_mono_us();
	pthread_mutex_lock(&m.lock);
	printf("produce: %ld records in %.3f s: %.0f records/s, %ld failed, "
	       "%d requests, %d batches\n",
	       delivered, (t1 - t0) / 1e6, delivered * 1e6 / (t1 - t0), failed,
	       m.produce_requests, m.produce_batches);
	pthread_mutex_unlock(&m.lock);
	fluxo_producer_destroy(p);

	c = fluxo_conf_new();
	fluxo_conf_set(c, "bootstrap.servers", bs, err, sizeof(err));
	cons = fluxo_consumer_new(c, err, sizeof(err));
	fluxo_consumer_assign(cons, "bench", 0, FLUXO_OFFSET_BEGINNING);
	t0 = clock_mono_us();
	while (got < delivered) {
		const fluxo_message_t *msg = fluxo_consumer_poll(cons, 5000);

		if (!msg)
			break;
		if (!msg->err)
			got++;
	}
	t1 = clock_mono_us();
	pthread_mutex_lock(&m.lock);
	printf("consume: %ld records in %.3f s: %.0f records/s, %d fetches\n",
	       got, (t1 - t0) / 1e6, got * 1e6 / (t1 - t0), m.fetch_requests);
	pthread_mutex_unlock(&m.lock);
	fluxo_consumer_destroy(cons);
	mock_stop(&m);
	return 0;
}
