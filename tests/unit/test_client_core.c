/*
 * test_client_core.c - libfluxo end to end against the in-process mock
 * broker (tests/unit/mock_broker.c): connections, metadata, the producer
 * (batching, acks, retries, codecs, unknown topics, back-pressure), the
 * consumer (order, seek by offset and time, out-of-range) and the admin
 * calls; and bounded failures against a closed port and a silent broker.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/clock.h"
#include "client/client_int.h"
#include "common/frame.h"
#include "common/net.h"
#include "fluxo.h"
#include "mock_broker.h"

static struct mock_broker mock;

static void setup(void)
{
	ck_assert_int_eq(mock_start(&mock), 0);
	mock_add_topic(&mock, "t1", 1);
	mock_add_topic(&mock, "t3", 3);
}

static void teardown(void)
{
	mock_stop(&mock);
}

/* Reads a mock counter under the mock's lock. */
static int locked(const int *field)
{
	int v;

	pthread_mutex_lock(&mock.lock);
	v = *field;
	pthread_mutex_unlock(&mock.lock);
	return v;
}

static fluxo_conf_t *conf_for(const struct mock_broker *m)
{
	fluxo_conf_t *c = fluxo_conf_new();
	char bs[64], err[256];

	mock_bootstrap(m, bs, sizeof(bs));
	ck_assert_int_eq(
	    fluxo_conf_set(c, "bootstrap.servers", bs, err, sizeof(err)), 0);
	return c;
}

static void set(fluxo_conf_t *c, const char *k, const char *v)
{
	char err[512];

	ck_assert_msg(fluxo_conf_set(c, k, v, err, sizeof(err)) == 0, "%s",
		      err);
}

/* A port nothing listens on. */
static int closed_port(void)
{
	char err[128];
	int fd = net_listen("127.0.0.1", 0, 1, err, sizeof(err));
	int port = net_local_port(fd);

	close(fd);
	return port;
}

struct drs {
	int ok, failed, last_err;
	int64_t offsets[4][20000];
	int cnt[4];
	char errstr[512];
	int64_t max_latency_us;
};

static void dr_cb(const fluxo_delivery_t *dr, void *opaque)
{
	struct drs *d = opaque;

	if (dr->err) {
		d->failed++;
		d->last_err = dr->err;
		snprintf(d->errstr, sizeof(d->errstr), "%s",
			 dr->errstr ? dr->errstr : "");
		return;
	}
	d->ok++;
	if (dr->partition >= 0 && dr->partition < 4 &&
	    d->cnt[dr->partition] < 20000)
		d->offsets[dr->partition][d->cnt[dr->partition]++] = dr->offset;
	if (dr->latency_us > d->max_latency_us)
		d->max_latency_us = dr->latency_us;
	ck_assert_ptr_eq(dr->msg_opaque, (void *)0x1234);
}

static fluxo_producer_t *producer(fluxo_conf_t *c, struct drs *d)
{
	char err[512];
	fluxo_producer_t *p;

	fluxo_conf_set_delivery_cb(c, dr_cb, d);
	p = fluxo_producer_new(c, err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	return p;
}

static void produce_n(fluxo_producer_t *p, const char *topic, int32_t part,
		      int n, int first)
{
	char val[100];

	for (int i = 0; i < n; i++) {
		int len = snprintf(val, sizeof(val), "value-%06d", first + i);
		int rc = fluxo_produce(p, topic, part, NULL, 0, val,
				       (size_t)len, NULL, 0, 0, (void *)0x1234);

		ck_assert_int_eq(rc, 0);
	}
}

START_TEST(test_produce_in_order)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_producer_t *p = producer(conf_for(&mock), d);

	produce_n(p, "t1", 0, 5000, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 10000), 0);
	ck_assert_int_eq(d->ok, 5000);
	ck_assert_int_eq(d->failed, 0);
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(d->offsets[0][i], i);
	ck_assert_int_eq(mock_log_end(&mock, "t1", 0), 5000);
	ck_assert_uint_eq(fluxo_producer_outq_len(p), 0);
	/* Batching: far fewer requests than records. */
	ck_assert_int_lt(locked(&mock.produce_requests), 5000);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

struct burst_arg {
	fluxo_producer_t *p;
	int n;
};

static void *burst_thread(void *arg)
{
	struct burst_arg *a = arg;

	for (int i = 0; i < a->n; i++) {
		fluxo_produce(a->p, "t3", i % 3, NULL, 0, "v", 1, NULL, 0, 0,
			      (void *)0x1234);
		if (i % 50 == 0)
			usleep(200);
	}
	return NULL;
}

/* Several threads produce at once: every record is delivered, and none
 * waits long (a missed wake-up of the I/O thread shows as ~1 s). */
START_TEST(test_produce_threads_no_stall)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_producer_t *p = producer(conf_for(&mock), d);
	struct burst_arg a = {p, 3000};
	pthread_t th[3];

	ck_assert_int_eq(fluxo_producer_partition_count(p, "t3", 5000), 3);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, burst_thread, &a);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(fluxo_producer_flush(p, 10000), 0);
	ck_assert_int_eq(d->ok, 9000);
	ck_assert_msg(d->max_latency_us < 500000, "a record waited %lld us",
		      (long long)d->max_latency_us);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_linger)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	int64_t t0;
	int before;

	set(c, "linger.ms", "150");
	p = producer(c, d);
	ck_assert_int_eq(fluxo_producer_partition_count(p, "t1", 5000), 1);
	before = locked(&mock.produce_requests);
	produce_n(p, "t1", 0, 10, 0);
	usleep(50000);
	/* Still lingering: nothing sent yet. */
	ck_assert_int_eq(locked(&mock.produce_requests), before);
	for (int i = 0; i < 50 && d->ok + d->failed < 10; i++)
		fluxo_producer_poll(p, 100);
	ck_assert_int_eq(d->ok, 10);
	ck_assert_int_eq(locked(&mock.produce_requests), before + 1);
	ck_assert_int_ge(d->max_latency_us, 140000);
	/* flush does not wait for linger.ms. */
	produce_n(p, "t1", 0, 5, 10);
	t0 = clock_mono_ms();
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_lt(clock_mono_ms() - t0, 120);
	ck_assert_int_eq(d->ok, 15);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_keys_and_sticky)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_producer_t *p = producer(conf_for(&mock), d);
	int rc;

	ck_assert_int_eq(fluxo_producer_partition_count(p, "t3", 5000), 3);
	/* The same key always lands on the same partition. */
	for (int i = 0; i < 30; i++) {
		rc = fluxo_produce(p, "t3", FLUXO_PARTITION_UA, "key-a", 5, "v",
				   1, NULL, 0, 0, (void *)0x1234);
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(d->ok, 30);
	ck_assert_int_eq(d->cnt[0] == 30 || d->cnt[1] == 30 || d->cnt[2] == 30,
			 1);
	/* Explicit partition out of range. */
	rc = fluxo_produce(p, "t3", 7, NULL, 0, "v", 1, NULL, 0, 0, NULL);
	ck_assert_int_eq(rc, FLUXO_ERR__UNKNOWN_PARTITION);
	/* Null keys spread over the partitions over time. */
	for (int round = 0; round < 40; round++) {
		produce_n(p, "t3", FLUXO_PARTITION_UA, 10, 0);
		ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	}
	ck_assert_int_gt(d->cnt[0] + d->cnt[1] + d->cnt[2], 400);
	ck_assert_int_gt((d->cnt[0] > 0) + (d->cnt[1] > 0) + (d->cnt[2] > 0),
			 1);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_acks0)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;

	set(c, "acks", "0");
	p = producer(c, d);
	produce_n(p, "t1", 0, 100, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(d->ok, 100);
	ck_assert_int_eq(d->offsets[0][0], -1);
	/* The broker got them all even though it never answered. */
	for (int i = 0; i < 100 && mock_log_end(&mock, "t1", 0) < 100; i++)
		usleep(10000);
	ck_assert_int_eq(mock_log_end(&mock, "t1", 0), 100);
	ck_assert_int_eq(locked(&mock.last_acks), 0);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_retry)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;

	set(c, "retry.backoff.ms", "10");
	set(c, "max.in.flight.requests.per.connection", "1");
	p = producer(c, d);
	produce_n(p, "t1", 0, 10, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	pthread_mutex_lock(&mock.lock);
	mock.produce_errors = 3;
	mock.produce_error_code = FLUXO_ERR_NOT_LEADER_OR_FOLLOWER;
	pthread_mutex_unlock(&mock.lock);
	produce_n(p, "t1", 0, 10, 10);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(d->ok, 20);
	ck_assert_int_eq(d->failed, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(d->offsets[0][i], i);
	/* A non-retriable error fails the batch with its code. */
	pthread_mutex_lock(&mock.lock);
	mock.produce_errors = 1;
	mock.produce_error_code = FLUXO_ERR_INVALID_RECORD;
	pthread_mutex_unlock(&mock.lock);
	produce_n(p, "t1", 0, 1, 20);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(d->failed, 1);
	ck_assert_int_eq(d->last_err, FLUXO_ERR_INVALID_RECORD);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_reconnect)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;

	set(c, "retry.backoff.ms", "10");
	set(c, "reconnect.backoff.ms", "10");
	set(c, "enable.idempotence", "false");
	p = producer(c, d);
	produce_n(p, "t1", 0, 10, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	/* The broker appends, then drops the connection before answering:
	 * the retry duplicates (no idempotence), but nothing is lost. */
	pthread_mutex_lock(&mock.lock);
	mock.close_after_produce = true;
	pthread_mutex_unlock(&mock.lock);
	produce_n(p, "t1", 0, 10, 10);
	ck_assert_int_eq(fluxo_producer_flush(p, 10000), 0);
	ck_assert_int_eq(d->ok, 20);
	ck_assert_int_eq(d->failed, 0);
	ck_assert_int_ge(mock_log_end(&mock, "t1", 0), 20);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_idempotent)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	char out[32];

	set(c, "enable.idempotence", "true");
	ck_assert_int_eq(fluxo_conf_get(c, "acks", out, sizeof(out)), 0);
	p = producer(c, d);
	produce_n(p, "t1", 0, 1000, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(d->ok, 1000);
	ck_assert_int_eq(locked(&mock.last_acks), -1);
	/* Batches carry the producer id and consecutive sequences. */
	{
		struct mock_part *part = &mock.topics[0].parts[0];
		size_t pos = 0;
		int32_t seq = 0;

		pthread_mutex_lock(&mock.lock);
		while (pos < part->log.len) {
			struct batch_header h;

			batch_header_decode(part->log.data + pos,
					    part->log.len - pos, &h);
			ck_assert_int_eq(h.producer_id, 1000);
			ck_assert_int_eq(h.base_sequence, seq);
			seq += h.records_count;
			pos += batch_total_size(&h);
		}
		pthread_mutex_unlock(&mock.lock);
		ck_assert_int_eq(seq, 1000);
	}
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

/* The value of the record at offset in the mock's t1/0, into out. */
static void mock_value_at(int64_t offset, char *out, size_t size)
{
	struct mock_part *part = &mock.topics[0].parts[0];
	struct batch_reader rd = BATCH_READER_INIT;
	struct record rec;

	out[0] = '\0';
	pthread_mutex_lock(&mock.lock);
	for (size_t pos = 0; pos < part->log.len;) {
		struct batch_header h;

		batch_header_decode(part->log.data + pos, part->log.len - pos,
				    &h);
		if (offset >= h.base_offset &&
		    offset <= batch_last_offset(&h)) {
			ck_assert_int_eq(
			    batch_reader_init(&rd, part->log.data + pos,
					      batch_total_size(&h), 1 << 20),
			    0);
			while (batch_reader_next(&rd, &rec) == 1)
				if (rec.offset == offset)
					snprintf(out, size, "%.*s",
						 (int)rec.value_len,
						 (const char *)rec.value);
			break;
		}
		pos += batch_total_size(&h);
	}
	pthread_mutex_unlock(&mock.lock);
	batch_reader_free(&rd);
}

/*
 * The default (idempotent) producer: the broker appends, then drops the
 * connection before answering, and another writer appends right after.
 * The retries (the lost batches together with newer ones in one run) are
 * recognised as duplicates: every record is in the log once and reported
 * at its real offset, also when the offsets of a run are not consecutive
 * (the broker's per-batch offsets).
 */
START_TEST(test_produce_idempotent_reconnect)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	char want[64], got[64];

	set(c, "retry.backoff.ms", "10");
	set(c, "reconnect.backoff.ms", "10");
	set(c, "batch.size", "300");
	p = producer(c, d);
	produce_n(p, "t1", 0, 10, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_eq(locked(&mock.last_acks), -1);
	for (int round = 0; round < 4; round++) {
		pthread_mutex_lock(&mock.lock);
		mock.close_after_produce = true;
		mock.gap_after_close = round % 2 ? 7 : 0;
		pthread_mutex_unlock(&mock.lock);
		produce_n(p, "t1", 0, 200, 10 + round * 200);
		ck_assert_int_eq(fluxo_producer_flush(p, 10000), 0);
	}
	ck_assert_int_eq(d->failed, 0);
	ck_assert_int_eq(d->ok, 810);
	ck_assert_int_eq(mock_log_end(&mock, "t1", 0), 810 + 2 * 7);
	for (int i = 0; i < 810; i++) {
		snprintf(want, sizeof(want), "value-%06d", i);
		mock_value_at(d->offsets[0][i], got, sizeof(got));
		ck_assert_str_eq(got, want);
	}
	ck_assert_int_gt(locked(&mock.duplicates), 0);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

/* Retries with 5 requests in flight keep sequences and offsets in order. */
START_TEST(test_produce_idempotent_retry)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;

	set(c, "enable.idempotence", "true");
	set(c, "retry.backoff.ms", "5");
	set(c, "batch.size", "1000");
	p = producer(c, d);
	produce_n(p, "t1", 0, 10, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	pthread_mutex_lock(&mock.lock);
	mock.produce_errors = 1;
	mock.produce_error_code = FLUXO_ERR_NOT_ENOUGH_REPLICAS;
	mock.produce_delay_ms = 2; /* let requests pile up */
	pthread_mutex_unlock(&mock.lock);
	for (int round = 0; round < 5; round++) {
		produce_n(p, "t1", 0, 2000, 10 + round * 2000);
		pthread_mutex_lock(&mock.lock);
		mock.produce_errors = 1;
		pthread_mutex_unlock(&mock.lock);
	}
	ck_assert_int_eq(fluxo_producer_flush(p, 20000), 0);
	ck_assert_int_eq(d->failed, 0);
	ck_assert_int_eq(d->ok, 10010);
	for (int i = 0; i < 10010; i++)
		ck_assert_int_eq(d->offsets[0][i], i);
	ck_assert_int_eq(mock_log_end(&mock, "t1", 0), 10010);
	/* The broker saw requests behind a failed one, out of order, and
	 * the producer resent them in order. */
	ck_assert_int_gt(locked(&mock.produce_requests), 20);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_unknown_topic)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	int64_t t0;
	int rc;

	set(c, "max.block.ms", "500");
	set(c, "retry.backoff.ms", "50");
	p = producer(c, d);
	t0 = clock_mono_ms();
	rc = fluxo_produce(p, "nope", FLUXO_PARTITION_UA, NULL, 0, "v", 1, NULL,
			   0, 0, NULL);
	ck_assert_int_eq(rc, FLUXO_ERR__UNKNOWN_TOPIC);
	ck_assert_int_ge(clock_mono_ms() - t0, 450);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	/* Metadata was asked again while waiting. */
	ck_assert_int_gt(locked(&mock.metadata_requests), 3);
	/* The broker's explanation reaches the delivery report. */
	ck_assert_int_eq(fluxo_producer_poll(p, 1000), 1);
	ck_assert_int_eq(d->failed, 1);
	ck_assert_int_eq(d->last_err, FLUXO_ERR__UNKNOWN_TOPIC);
	ck_assert_ptr_nonnull(strstr(d->errstr, "auto.create.topics.enable"));
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_produce_codecs)
{
	static const char *const codecs[] = {"gzip", "snappy", "lz4", "zstd"};
	fluxo_conf_t *cc;
	fluxo_consumer_t *cons;
	const fluxo_message_t *m;
	char err[512];
	int seen = 0;

	for (int k = 0; k < 4; k++) {
		struct drs *d = calloc(1, sizeof(*d));
		fluxo_conf_t *c = conf_for(&mock);
		fluxo_producer_t *p;

		set(c, "compression.type", codecs[k]);
		p = producer(c, d);
		produce_n(p, "t1", 0, 500, k * 500);
		ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
		ck_assert_int_eq(d->ok, 500);
		fluxo_producer_destroy(p);
		free(d);
	}
	cc = conf_for(&mock);
	cons = fluxo_consumer_new(cc, err, sizeof(err));
	ck_assert_msg(cons != NULL, "%s", err);
	ck_assert_int_eq(
	    fluxo_consumer_assign(cons, "t1", 0, FLUXO_OFFSET_BEGINNING), 0);
	while (seen < 2000 && (m = fluxo_consumer_poll(cons, 5000)) != NULL) {
		char want[32];

		ck_assert_int_eq(m->err, 0);
		ck_assert_int_eq(m->offset, seen);
		snprintf(want, sizeof(want), "value-%06d", seen);
		ck_assert_uint_eq(m->value_len, strlen(want));
		ck_assert(memcmp(m->value, want, m->value_len) == 0);
		seen++;
	}
	ck_assert_int_eq(seen, 2000);
	fluxo_consumer_destroy(cons);
}
END_TEST

START_TEST(test_consume_seek)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_producer_t *p = producer(conf_for(&mock), d);
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	fluxo_header_t hdrs[2] = {{"h1", 2, "v1", 2}, {"h2", 2, NULL, 0}};
	fluxo_header_t got;
	char err[512];
	int64_t pos;

	for (int i = 0; i < 100; i++) {
		char v[16];
		int len = snprintf(v, sizeof(v), "%d", i);

		ck_assert_int_eq(
		    fluxo_produce(p, "t1", 0, "k", 1, v, (size_t)len, hdrs, 2,
				  1000000 + i * 10, (void *)0x1234),
		    0);
	}
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	c = fluxo_consumer_new(conf_for(&mock), err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(fluxo_consumer_assign(c, "t1", 0, 40), 0);
	m = fluxo_consumer_poll(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->offset, 40);
	ck_assert_int_eq(m->timestamp, 1000400);
	ck_assert_uint_eq(m->key_len, 1);
	ck_assert_uint_eq(m->header_cnt, 2);
	ck_assert_int_eq(fluxo_message_header(m, 0, &got), 0);
	ck_assert_uint_eq(got.name_len, 2);
	ck_assert(memcmp(got.name, "h1", 2) == 0);
	ck_assert(memcmp(got.value, "v1", 2) == 0);
	ck_assert_int_eq(fluxo_message_header(m, 1, &got), 0);
	ck_assert_ptr_null(got.value);
	ck_assert_int_eq(fluxo_message_header(m, 2, &got),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(fluxo_consumer_position(c, "t1", 0, &pos), 0);
	ck_assert_int_eq(pos, 41);
	/* Seek backwards: data fetched before the seek never shows. */
	ck_assert_int_eq(fluxo_consumer_seek(c, "t1", 0, 7), 0);
	m = fluxo_consumer_poll(c, 5000);
	ck_assert_int_eq(m->offset, 7);
	/* By timestamp. */
	ck_assert_int_eq(fluxo_consumer_seek_timestamp(c, "t1", 0, 1000555), 0);
	m = fluxo_consumer_poll(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->offset, 56);
	/* To the end: nothing more arrives. */
	ck_assert_int_eq(fluxo_consumer_seek(c, "t1", 0, FLUXO_OFFSET_END), 0);
	ck_assert_int_eq(fluxo_consumer_position(c, "t1", 0, &pos), 0);
	ck_assert_int_eq(pos, 100);
	ck_assert_ptr_null(fluxo_consumer_poll(c, 300));
	/* New data after the end shows up. */
	produce_n(p, "t1", 0, 1, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	m = fluxo_consumer_poll(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->offset, 100);
	/* Unassigned partitions are refused. */
	ck_assert_int_eq(fluxo_consumer_seek(c, "t3", 0, 0),
			 FLUXO_ERR__UNKNOWN_PARTITION);
	fluxo_consumer_destroy(c);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_consume_out_of_range)
{
	fluxo_conf_t *cc = conf_for(&mock);
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	char err[512];

	set(cc, "auto.offset.reset", "none");
	c = fluxo_consumer_new(cc, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(fluxo_consumer_assign(c, "t1", 0, 50), 0);
	m = fluxo_consumer_poll(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->err, FLUXO_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_str_eq(m->topic, "t1");
	ck_assert_int_eq(m->offset, 50);
	fluxo_consumer_destroy(c);

	/* earliest: moves to the start and goes on. */
	cc = conf_for(&mock);
	set(cc, "auto.offset.reset", "earliest");
	c = fluxo_consumer_new(cc, err, sizeof(err));
	ck_assert_int_eq(fluxo_consumer_assign(c, "t3", -1, 50), 0);
	ck_assert_ptr_null(fluxo_consumer_poll(c, 300));
	fluxo_consumer_destroy(c);
}
END_TEST

START_TEST(test_consume_unknown_topic)
{
	fluxo_conf_t *cc = conf_for(&mock);
	fluxo_consumer_t *c;
	char err[512];
	int64_t t0;

	set(cc, "retry.backoff.ms", "50");
	c = fluxo_consumer_new(cc, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	t0 = clock_mono_ms();
	ck_assert_int_eq(fluxo_consumer_assign(c, "nope", 0, 0),
			 FLUXO_ERR__UNKNOWN_TOPIC);
	ck_assert_int_lt(clock_mono_ms() - t0, 2000);
	ck_assert_int_eq(fluxo_consumer_assign(c, "t1", 3, 0),
			 FLUXO_ERR__UNKNOWN_PARTITION);
	ck_assert_int_eq(fluxo_consumer_assign(c, "t1", 0, -7),
			 FLUXO_ERR__INVALID_ARG);
	fluxo_consumer_destroy(c);
}
END_TEST

START_TEST(test_consume_multi_partition)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_producer_t *p = producer(conf_for(&mock), d);
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	int64_t next[3] = {0, 0, 0};
	char err[512];
	int n = 0;

	for (int part = 0; part < 3; part++)
		produce_n(p, "t3", part, 300, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	c = fluxo_consumer_new(conf_for(&mock), err, sizeof(err));
	ck_assert_int_eq(
	    fluxo_consumer_assign(c, "t3", -1, FLUXO_OFFSET_BEGINNING), 0);
	while (n < 900 && (m = fluxo_consumer_poll(c, 5000)) != NULL) {
		ck_assert_int_eq(m->err, 0);
		ck_assert_int_eq(m->offset, next[m->partition]);
		next[m->partition]++;
		n++;
	}
	ck_assert_int_eq(n, 900);
	ck_assert_int_eq(fluxo_consumer_unassign(c), 0);
	ck_assert_ptr_null(fluxo_consumer_poll(c, 200));
	fluxo_consumer_destroy(c);
	fluxo_producer_destroy(p);
	free(d);
}
END_TEST

START_TEST(test_admin)
{
	fluxo_admin_t *a;
	fluxo_metadata_t *md;
	fluxo_new_topic_t nt = {0};
	fluxo_config_entry_t *ents;
	const char *names[] = {"x.y"}, *vals[] = {"z"};
	size_t cnt;
	int64_t off;
	char err[512];

	a = fluxo_admin_new(conf_for(&mock), err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(
	    fluxo_admin_metadata(a, NULL, 0, 5000, &md, err, sizeof(err)), 0);
	ck_assert_int_eq(md->broker_cnt, 1);
	ck_assert_int_eq(md->topic_cnt, 2);
	ck_assert_str_eq(md->topics[0].name, "t1");
	ck_assert_int_eq(md->topics[1].partition_cnt, 3);
	ck_assert_int_eq(md->topics[1].partitions[2].leader, 1);
	ck_assert_str_eq(md->cluster_id, "mock-cluster");
	fluxo_metadata_destroy(md);

	nt.name = "fresh";
	nt.num_partitions = 4;
	nt.replication_factor = 1;
	ck_assert_int_eq(
	    fluxo_admin_create_topic(a, &nt, false, 5000, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    fluxo_admin_create_topic(a, &nt, false, 5000, err, sizeof(err)),
	    FLUXO_ERR_TOPIC_ALREADY_EXISTS);
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	ck_assert_int_eq(fluxo_admin_create_partitions(a, "fresh", 6, 5000, err,
						       sizeof(err)),
			 0);
	ck_assert_int_eq(fluxo_admin_create_partitions(a, "fresh", 2, 5000, err,
						       sizeof(err)),
			 FLUXO_ERR_INVALID_PARTITIONS);
	ck_assert_int_eq(fluxo_admin_alter_configs(
			     a, FLUXO_RESOURCE_TOPIC, "fresh", names, vals, 1,
			     NULL, 0, false, 5000, err, sizeof(err)),
			 0);
	ck_assert_int_eq(fluxo_admin_describe_configs(
			     a, FLUXO_RESOURCE_TOPIC, "fresh", false, 5000,
			     &ents, &cnt, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cnt, 2);
	ck_assert_str_eq(ents[1].name, "x.y");
	ck_assert_str_eq(ents[1].value, "z");
	ck_assert_int_eq(ents[1].source, FLUXO_CONFIG_SOURCE_TOPIC);
	fluxo_config_entries_destroy(ents, cnt);
	ck_assert_msg(fluxo_admin_describe_configs(a, FLUXO_RESOURCE_BROKER,
						   "1", false, 5000, &ents,
						   &cnt, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(cnt, 1);
	ck_assert_str_eq(ents[0].name, "broker.id");
	fluxo_config_entries_destroy(ents, cnt);
	ck_assert_int_eq(fluxo_admin_list_offset(a, "fresh", 5,
						 FLUXO_OFFSET_END, 5000, &off,
						 err, sizeof(err)),
			 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(fluxo_admin_list_offset(a, "fresh", 9,
						 FLUXO_OFFSET_END, 5000, &off,
						 err, sizeof(err)),
			 FLUXO_ERR__UNKNOWN_PARTITION);
	ck_assert_int_eq(
	    fluxo_admin_delete_topic(a, "fresh", 5000, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    fluxo_admin_delete_topic(a, "fresh", 5000, err, sizeof(err)),
	    FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	fluxo_admin_destroy(a);
}
END_TEST

/* ------------------------------------------------------------ failures */

START_TEST(test_broker_down)
{
	fluxo_conf_t *c;
	fluxo_producer_t *p;
	fluxo_consumer_t *cons;
	fluxo_admin_t *a;
	fluxo_metadata_t *md = NULL;
	char bs[64], err[512];
	int64_t t0;
	int rc;

	snprintf(bs, sizeof(bs), "127.0.0.1:%d", closed_port());
	/* Producer: the metadata wait gives up once every broker failed. */
	c = fluxo_conf_new();
	set(c, "bootstrap.servers", bs);
	p = fluxo_producer_new(c, err, sizeof(err));
	ck_assert_ptr_nonnull(p);
	t0 = clock_mono_ms();
	rc = fluxo_produce(p, "t1", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL);
	ck_assert_int_eq(rc, FLUXO_ERR__TRANSPORT);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	fluxo_producer_destroy(p);
	/* Admin: an error naming the address, quickly. */
	c = fluxo_conf_new();
	set(c, "bootstrap.servers", bs);
	a = fluxo_admin_new(c, err, sizeof(err));
	t0 = clock_mono_ms();
	rc = fluxo_admin_metadata(a, NULL, 0, 30000, &md, err, sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR__TRANSPORT);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	ck_assert_msg(strstr(err, bs) != NULL, "%s", err);
	ck_assert_ptr_null(md);
	fluxo_admin_destroy(a);
	/* Consumer: assign fails the same way. */
	c = fluxo_conf_new();
	set(c, "bootstrap.servers", bs);
	cons = fluxo_consumer_new(c, err, sizeof(err));
	t0 = clock_mono_ms();
	ck_assert_int_eq(fluxo_consumer_assign(cons, "t1", 0, 0),
			 FLUXO_ERR__TRANSPORT);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	fluxo_consumer_destroy(cons);
}
END_TEST

START_TEST(test_silent_broker)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	fluxo_admin_t *a;
	fluxo_metadata_t *md = NULL;
	char err[512];
	int64_t t0;

	set(c, "request.timeout.ms", "300");
	set(c, "delivery.timeout.ms", "1000");
	set(c, "retry.backoff.ms", "50");
	p = producer(c, d);
	produce_n(p, "t1", 0, 1, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	pthread_mutex_lock(&mock.lock);
	mock.silent = 1;
	pthread_mutex_unlock(&mock.lock);
	t0 = clock_mono_ms();
	produce_n(p, "t1", 0, 5, 1);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	ck_assert_int_eq(d->failed, 5);
	ck_assert_int_eq(d->last_err, FLUXO_ERR__TIMED_OUT);
	fluxo_producer_destroy(p);

	c = conf_for(&mock);
	a = fluxo_admin_new(c, err, sizeof(err));
	t0 = clock_mono_ms();
	ck_assert_int_eq(
	    fluxo_admin_metadata(a, NULL, 0, 400, &md, err, sizeof(err)),
	    FLUXO_ERR__TIMED_OUT);
	ck_assert_int_lt(clock_mono_ms() - t0, 2000);
	fluxo_admin_destroy(a);
	free(d);
}
END_TEST

START_TEST(test_destroy_fails_pending)
{
	struct drs *d = calloc(1, sizeof(*d));
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;

	p = producer(c, d);
	produce_n(p, "t1", 0, 1, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	pthread_mutex_lock(&mock.lock);
	mock.silent = 1;
	pthread_mutex_unlock(&mock.lock);
	produce_n(p, "t1", 0, 50, 1);
	ck_assert_int_eq(fluxo_producer_flush(p, 200), FLUXO_ERR__TIMED_OUT);
	ck_assert_uint_eq(fluxo_producer_outq_len(p), 50);
	fluxo_producer_destroy(p);
	ck_assert_int_eq(d->failed, 50);
	ck_assert_int_eq(d->last_err, FLUXO_ERR__DESTROY);
	free(d);
}
END_TEST

START_TEST(test_buffer_memory_blocks)
{
	fluxo_conf_t *c = conf_for(&mock);
	fluxo_producer_t *p;
	char err[512], big[800];
	int64_t t0;
	int rc = 0;

	set(c, "buffer.memory", "4096");
	set(c, "max.block.ms", "300");
	p = fluxo_producer_new(c, err, sizeof(err));
	ck_assert_ptr_nonnull(p);
	memset(big, 'x', sizeof(big));
	produce_n(p, "t1", 0, 1, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 5000), 0);
	pthread_mutex_lock(&mock.lock);
	mock.silent = 1;
	pthread_mutex_unlock(&mock.lock);
	t0 = clock_mono_ms();
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = fluxo_produce(p, "t1", 0, NULL, 0, big, sizeof(big), NULL,
				   0, 0, NULL);
	ck_assert_int_eq(rc, FLUXO_ERR__QUEUE_FULL);
	ck_assert_int_ge(clock_mono_ms() - t0, 250);
	/* Too big for any request. */
	{
		size_t n = 2 << 20;
		char *huge = calloc(1, n);

		ck_assert_int_eq(fluxo_produce(p, "t1", 0, NULL, 0, huge, n,
					       NULL, 0, 0, NULL),
				 FLUXO_ERR__MSG_SIZE_TOO_LARGE);
		free(huge);
	}
	fluxo_producer_destroy(p);
}
END_TEST

/* ------------------------------------------------------------ encoding */

START_TEST(test_request_encoding)
{
	struct client cl;
	Fluxo__Request head = FLUXO__REQUEST__INIT, *back;
	Fluxo__MetadataRequest mr = FLUXO__METADATA_REQUEST__INIT;
	struct iovec pieces[6];
	char payload[6][10];
	struct frame_info fi;
	struct req *r1, *r2;
	struct buf all = BUF_INIT;
	char *topics[] = {"a", "b"};

	memset(&cl, 0, sizeof(cl));
	cl.conf.client_id = "tester";
	cl.conf.request_timeout_ms = 1234;
	atomic_init(&cl.corr_seq, 41);
	mr.topics = topics;
	mr.n_topics = 2;
	head.body_case = FLUXO__REQUEST__BODY_METADATA;
	head.metadata = &mr;
	for (int i = 0; i < 6; i++) {
		memset(payload[i], 'a' + i, sizeof(payload[i]));
		pieces[i].iov_base = payload[i];
		pieces[i].iov_len = sizeof(payload[i]);
	}
	r1 = req_new(&cl, &head, pieces, 6, 7, 0, NULL, NULL);
	r2 = req_new(&cl, &head, NULL, 0, CLIENT_ANY_BROKER, 50, NULL, NULL);
	ck_assert_ptr_nonnull(r1);
	ck_assert_int_eq(r1->corr_id, 41);
	ck_assert_int_eq(r2->corr_id, 42);
	ck_assert_int_eq(r1->api, FLUXO__API_KEY__METADATA);
	ck_assert_int_eq(r1->timeout_ms, 1234);
	ck_assert_int_eq(r2->timeout_ms, 50);
	ck_assert_uint_eq(r1->total, r1->head.len + 60);
	ck_assert_int_eq(r1->iov_cnt, 6);
	/* The frame on the wire: prefix, head, payload pieces in order. */
	buf_append(&all, r1->head.data, r1->head.len);
	for (int i = 0; i < r1->iov_cnt; i++)
		buf_append(&all, r1->iov[i].iov_base, r1->iov[i].iov_len);
	ck_assert_int_eq(frame_parse_prefix(all.data, all.len, 1 << 20, &fi),
			 0);
	ck_assert_uint_eq(fi.total, all.len);
	ck_assert_uint_eq(fi.payload_len, 60);
	back = fluxo__request__unpack(NULL, fi.head_len, all.data + 8);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(back->api, FLUXO__API_KEY__METADATA);
	ck_assert_int_eq(back->version, 0);
	ck_assert_int_eq(back->correlation_id, 41);
	ck_assert_str_eq(back->client_id, "tester");
	ck_assert_int_eq(back->body_case, FLUXO__REQUEST__BODY_METADATA);
	ck_assert_uint_eq(back->metadata->n_topics, 2);
	ck_assert_str_eq(back->metadata->topics[1], "b");
	ck_assert(memcmp(all.data + 8 + fi.head_len + 50, payload[5], 10) == 0);
	fluxo__request__free_unpacked(back, NULL);
	buf_free(&all);
	req_free(r1);
	req_free(r2);
}
END_TEST

START_TEST(test_response_detach)
{
	Fluxo__Response head = FLUXO__RESPONSE__INIT;
	struct buf frame = BUF_INIT;
	struct resp r, *d;

	head.correlation_id = 9;
	head.error = FLUXO__ERROR_CODE__NOT_CONTROLLER;
	head.error_message = "go elsewhere";
	ck_assert_int_eq(frame_encode_head(&frame, &head.base, 5), 0);
	buf_append(&frame, "12345", 5);
	memset(&r, 0, sizeof(r));
	r.frame = frame.data;
	r.frame_len = frame.len;
	r.frame_owned = false;
	d = resp_detach(&r);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_ne(d->frame, frame.data); /* copied: not owned */
	ck_assert_int_eq(d->head->correlation_id, 9);
	ck_assert_str_eq(d->head->error_message, "go elsewhere");
	ck_assert_uint_eq(d->payload_len, 5);
	ck_assert(memcmp(d->payload, "12345", 5) == 0);
	ck_assert_ptr_eq(resp_detach(d), d); /* already detached */
	resp_free(d);
	/* An owned frame moves instead of being copied. */
	r.frame_owned = true;
	d = resp_detach(&r);
	ck_assert_ptr_eq(d->frame, frame.data);
	ck_assert(!r.frame_owned);
	resp_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client_core");
	TCase *tc = tcase_create("mock");
	TCase *enc = tcase_create("encoding");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_produce_in_order);
	tcase_add_test(tc, test_produce_threads_no_stall);
	tcase_add_test(tc, test_produce_linger);
	tcase_add_test(tc, test_produce_keys_and_sticky);
	tcase_add_test(tc, test_produce_acks0);
	tcase_add_test(tc, test_produce_retry);
	tcase_add_test(tc, test_produce_reconnect);
	tcase_add_test(tc, test_produce_idempotent);
	tcase_add_test(tc, test_produce_idempotent_retry);
	tcase_add_test(tc, test_produce_idempotent_reconnect);
	tcase_add_test(tc, test_produce_unknown_topic);
	tcase_add_test(tc, test_produce_codecs);
	tcase_add_test(tc, test_consume_seek);
	tcase_add_test(tc, test_consume_out_of_range);
	tcase_add_test(tc, test_consume_unknown_topic);
	tcase_add_test(tc, test_consume_multi_partition);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_broker_down);
	tcase_add_test(tc, test_silent_broker);
	tcase_add_test(tc, test_destroy_fails_pending);
	tcase_add_test(tc, test_buffer_memory_blocks);
	suite_add_tcase(s, tc);
	tcase_add_test(enc, test_request_encoding);
	tcase_add_test(enc, test_response_detach);
	suite_add_tcase(s, enc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
