/*
 * itest_client.c - libfluxo against a real fluxo-broker (started by
 * tests/integration/test_client.sh with a real ZooKeeper).
 *
 *   itest_client up BOOTSTRAP     every scenario against a live broker
 *   itest_client down BOOTSTRAP   the broker is gone: every call must fail
 *                                 with a bounded, explained error
 *
 * Scenarios: many records in order (one and several partitions, keys),
 * every codec, acks 0/1/all, seek by offset and by timestamp, unknown
 * topics, admin calls (create, describe, alter, partitions, delete, list
 * offsets).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fluxo.h"

#define TMO 30000

static const char *bootstrap;
static char run_id[32];

static fluxo_conf_t *conf(void)
{
	fluxo_conf_t *c = fluxo_conf_new();
	char err[512];

	ck_assert_int_eq(
	    fluxo_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)),
	    0);
	return c;
}

static void set(fluxo_conf_t *c, const char *k, const char *v)
{
	char err[512];

	ck_assert_msg(fluxo_conf_set(c, k, v, err, sizeof(err)) == 0, "%s",
		      err);
}

/* A fresh topic name per scenario and run. */
static const char *topic_name(const char *what)
{
	static char name[128];

	snprintf(name, sizeof(name), "it-%s-%s", run_id, what);
	return name;
}

static void create_topic(const char *name, int parts)
{
	fluxo_admin_t *a;
	fluxo_new_topic_t nt = {0};
	char err[512];
	int rc;

	a = fluxo_admin_new(conf(), err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	nt.name = name;
	nt.num_partitions = parts;
	nt.replication_factor = 1;
	rc = fluxo_admin_create_topic(a, &nt, false, TMO, err, sizeof(err));
	ck_assert_msg(rc == 0, "create %s: %s (%s)", name, err,
		      fluxo_err2name(rc));
	fluxo_admin_destroy(a);
}

struct drs {
	long ok, failed;
	int last_err;
	int64_t next[16]; /* expected next offset per partition */
	bool in_order;
};

static void dr_cb(const fluxo_delivery_t *dr, void *opaque)
{
	struct drs *d = opaque;

	if (dr->err) {
		d->failed++;
		d->last_err = dr->err;
		return;
	}
	d->ok++;
	if (dr->offset >= 0 && dr->partition < 16) {
		if (dr->offset != d->next[dr->partition])
			d->in_order = false;
		d->next[dr->partition] = dr->offset + 1;
	}
}

static fluxo_producer_t *producer(fluxo_conf_t *c, struct drs *d)
{
	fluxo_producer_t *p;
	char err[512];

	memset(d, 0, sizeof(*d));
	d->in_order = true;
	fluxo_conf_set_delivery_cb(c, dr_cb, d);
	p = fluxo_producer_new(c, err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	return p;
}

static void produce(fluxo_producer_t *p, const char *topic, int32_t part,
		    long first, long n, int64_t ts_base)
{
	char v[64];

	for (long i = first; i < first + n; i++) {
		int len = snprintf(v, sizeof(v), "record-%08ld", i);
		int rc =
		    fluxo_produce(p, topic, part, NULL, 0, v, (size_t)len, NULL,
				  0, ts_base ? ts_base + i : 0, NULL);

		ck_assert_msg(rc == 0, "produce: %s", fluxo_err2name(rc));
	}
}

/* Consumes n records of one partition from offset and checks them. */
static void consume_check(const char *topic, int32_t part, int64_t from,
			  long first_value, long n)
{
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	char err[512], want[64];
	long got = 0;

	c = fluxo_consumer_new(conf(), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(fluxo_consumer_assign(c, topic, part, from), 0);
	while (got < n && (m = fluxo_consumer_poll(c, 10000)) != NULL) {
		ck_assert_msg(m->err == 0, "%s", m->errstr);
		snprintf(want, sizeof(want), "record-%08ld", first_value + got);
		ck_assert_uint_eq(m->value_len, strlen(want));
		ck_assert_msg(memcmp(m->value, want, m->value_len) == 0,
			      "offset %lld: got %.*s want %s",
			      (long long)m->offset, (int)m->value_len,
			      (const char *)m->value, want);
		got++;
	}
	ck_assert_int_eq(got, n);
	fluxo_consumer_destroy(c);
}

START_TEST(test_many_in_order)
{
	const char *t = topic_name("order");
	struct drs d;
	fluxo_producer_t *p;

	create_topic(t, 1);
	p = producer(conf(), &d);
	produce(p, t, FLUXO_PARTITION_UA, 0, 200000, 0);
	ck_assert_int_eq(fluxo_producer_flush(p, 60000), 0);
	ck_assert_int_eq(d.ok, 200000);
	ck_assert_int_eq(d.failed, 0);
	ck_assert(d.in_order);
	ck_assert_int_eq(d.next[0], 200000);
	fluxo_producer_destroy(p);
	consume_check(t, 0, FLUXO_OFFSET_BEGINNING, 0, 200000);
}
END_TEST

START_TEST(test_partitions_and_keys)
{
	const char *t = topic_name("keys");
	struct drs d;
	fluxo_producer_t *p;
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	int32_t key_part[8];
	char err[512];
	long n = 0;

	create_topic(t, 4);
	p = producer(conf(), &d);
	ck_assert_int_eq(fluxo_producer_partition_count(p, t, TMO), 4);
	for (int i = 0; i < 8000; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i % 8);
		ck_assert_int_eq(fluxo_produce(p, t, FLUXO_PARTITION_UA, k,
					       strlen(k), "v", 1, NULL, 0, 0,
					       NULL),
				 0);
	}
	ck_assert_int_eq(fluxo_producer_flush(p, 60000), 0);
	ck_assert_int_eq(d.ok, 8000);
	ck_assert(d.in_order);
	fluxo_producer_destroy(p);
	/* Each key stayed on one partition. */
	for (int i = 0; i < 8; i++)
		key_part[i] = -1;
	c = fluxo_consumer_new(conf(), err, sizeof(err));
	ck_assert_int_eq(
	    fluxo_consumer_assign(c, t, -1, FLUXO_OFFSET_BEGINNING), 0);
	while (n < 8000 && (m = fluxo_consumer_poll(c, 10000)) != NULL) {
		int k;

		ck_assert_int_eq(m->err, 0);
		k = ((const char *)m->key)[1] - '0';
		if (key_part[k] < 0)
			key_part[k] = m->partition;
		ck_assert_int_eq(key_part[k], m->partition);
		n++;
	}
	ck_assert_int_eq(n, 8000);
	fluxo_consumer_destroy(c);
}
END_TEST

START_TEST(test_codecs)
{
	static const char *const codecs[] = {"none", "gzip", "snappy", "lz4",
					     "zstd"};
	const char *t = topic_name("codecs");
	char topic[128];

	snprintf(topic, sizeof(topic), "%s", t);
	create_topic(topic, 1);
	for (int k = 0; k < 5; k++) {
		fluxo_conf_t *c = conf();
		struct drs d;
		fluxo_producer_t *p;

		set(c, "compression.type", codecs[k]);
		p = producer(c, &d);
		produce(p, topic, 0, k * 20000, 20000, 0);
		ck_assert_int_eq(fluxo_producer_flush(p, 60000), 0);
		ck_assert_msg(d.ok == 20000, "%s: %ld ok, error %s", codecs[k],
			      d.ok, fluxo_err2name(d.last_err));
		fluxo_producer_destroy(p);
	}
	consume_check(topic, 0, FLUXO_OFFSET_BEGINNING, 0, 100000);
}
END_TEST

START_TEST(test_acks)
{
	static const char *const acks[] = {"0", "1", "all"};
	const char *t = topic_name("acks");
	char topic[128];

	snprintf(topic, sizeof(topic), "%s", t);
	create_topic(topic, 1);
	for (int k = 0; k < 3; k++) {
		fluxo_conf_t *c = conf();
		struct drs d;
		fluxo_producer_t *p;

		set(c, "acks", acks[k]);
		p = producer(c, &d);
		produce(p, topic, 0, k * 1000, 1000, 0);
		ck_assert_int_eq(fluxo_producer_flush(p, 60000), 0);
		ck_assert_int_eq(d.ok, 1000);
		if (k > 0)
			ck_assert_int_eq(d.next[0], (k + 1) * 1000);
		fluxo_producer_destroy(p);
	}
	consume_check(topic, 0, FLUXO_OFFSET_BEGINNING, 0, 3000);
}
END_TEST

START_TEST(test_seek)
{
	const char *t = topic_name("seek");
	char topic[128], err[512];
	struct drs d;
	fluxo_producer_t *p;
	fluxo_consumer_t *c;
	const fluxo_message_t *m;
	fluxo_admin_t *a;
	int64_t base = 1600000000000LL, off;

	snprintf(topic, sizeof(topic), "%s", t);
	create_topic(topic, 1);
	p = producer(conf(), &d);
	produce(p, topic, 0, 0, 1000, base);
	ck_assert_int_eq(fluxo_producer_flush(p, 60000), 0);
	fluxo_producer_destroy(p);
	consume_check(topic, 0, 500, 500, 100);
	c = fluxo_consumer_new(conf(), err, sizeof(err));
	ck_assert_int_eq(fluxo_consumer_assign(c, topic, 0, 10), 0);
	m = fluxo_consumer_poll(c, 10000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->offset, 10);
	ck_assert_int_eq(m->timestamp, base + 10);
	ck_assert_int_eq(fluxo_consumer_seek_timestamp(c, topic, 0, base + 777),
			 0);
	m = fluxo_consumer_poll(c, 10000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->offset, 777);
	ck_assert_int_eq(fluxo_consumer_seek(c, topic, 0, FLUXO_OFFSET_END), 0);
	ck_assert_ptr_null(fluxo_consumer_poll(c, 1000));
	fluxo_consumer_destroy(c);
	a = fluxo_admin_new(conf(), err, sizeof(err));
	ck_assert_int_eq(fluxo_admin_list_offset(a, topic, 0, base + 300, TMO,
						 &off, err, sizeof(err)),
			 0);
	ck_assert_int_eq(off, 300);
	ck_assert_int_eq(fluxo_admin_list_offset(a, topic, 0, FLUXO_OFFSET_END,
						 TMO, &off, err, sizeof(err)),
			 0);
	ck_assert_int_eq(off, 1000);
	ck_assert_int_eq(fluxo_admin_list_offset(a, topic, 0,
						 FLUXO_OFFSET_BEGINNING, TMO,
						 &off, err, sizeof(err)),
			 0);
	ck_assert_int_eq(off, 0);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_unknown_topic)
{
	fluxo_conf_t *c = conf();
	struct drs d;
	fluxo_producer_t *p;
	fluxo_consumer_t *cons;
	char err[512];

	set(c, "max.block.ms", "2000");
	p = producer(c, &d);
	ck_assert_int_eq(fluxo_produce(p, topic_name("missing"),
				       FLUXO_PARTITION_UA, NULL, 0, "v", 1,
				       NULL, 0, 0, NULL),
			 FLUXO_ERR__UNKNOWN_TOPIC);
	fluxo_producer_destroy(p);
	cons = fluxo_consumer_new(conf(), err, sizeof(err));
	ck_assert_int_eq(
	    fluxo_consumer_assign(cons, topic_name("missing"), 0, 0),
	    FLUXO_ERR__UNKNOWN_TOPIC);
	fluxo_consumer_destroy(cons);
}
END_TEST

START_TEST(test_admin)
{
	const char *t = topic_name("admin");
	char topic[128], err[512];
	const char *names[] = {"retention.ms"}, *vals[] = {"3600000"};
	fluxo_admin_t *a;
	fluxo_metadata_t *md;
	fluxo_new_topic_t nt = {0};
	fluxo_config_entry_t *ents;
	size_t cnt;
	bool found = false;

	snprintf(topic, sizeof(topic), "%s", t);
	a = fluxo_admin_new(conf(), err, sizeof(err));
	nt.name = topic;
	nt.num_partitions = 2;
	nt.replication_factor = 1;
	ck_assert_msg(
	    fluxo_admin_create_topic(a, &nt, false, TMO, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(
	    fluxo_admin_create_topic(a, &nt, false, TMO, err, sizeof(err)),
	    FLUXO_ERR_TOPIC_ALREADY_EXISTS);
	ck_assert_int_eq(fluxo_admin_metadata(a, (const char *const *)&nt.name,
					      1, TMO, &md, err, sizeof(err)),
			 0);
	ck_assert_int_eq(md->topic_cnt, 1);
	ck_assert_int_eq(md->topics[0].partition_cnt, 2);
	ck_assert_int_ge(md->topics[0].partitions[1].leader, 0);
	ck_assert_int_ge(md->broker_cnt, 1);
	fluxo_metadata_destroy(md);
	ck_assert_msg(fluxo_admin_alter_configs(a, FLUXO_RESOURCE_TOPIC, topic,
						names, vals, 1, NULL, 0, false,
						TMO, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(fluxo_admin_describe_configs(a, FLUXO_RESOURCE_TOPIC,
						      topic, false, TMO, &ents,
						      &cnt, err, sizeof(err)),
			 0);
	for (size_t i = 0; i < cnt; i++)
		if (strcmp(ents[i].name, "retention.ms") == 0) {
			ck_assert_str_eq(ents[i].value, "3600000");
			ck_assert_int_eq(ents[i].source,
					 FLUXO_CONFIG_SOURCE_TOPIC);
			found = true;
		}
	ck_assert(found);
	fluxo_config_entries_destroy(ents, cnt);
	ck_assert_msg(fluxo_admin_create_partitions(a, topic, 3, TMO, err,
						    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(
	    fluxo_admin_delete_topic(a, topic, TMO, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(
	    fluxo_admin_delete_topic(a, topic, TMO, err, sizeof(err)),
	    FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	fluxo_admin_destroy(a);
}
END_TEST

/* ------------------------------------------------------------ down */

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(test_broker_down)
{
	struct timespec t0;
	fluxo_producer_t *p;
	fluxo_consumer_t *c;
	fluxo_admin_t *a;
	fluxo_metadata_t *md = NULL;
	char err[512];
	struct drs d;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	p = producer(conf(), &d);
	rc = fluxo_produce(p, "any", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL);
	ck_assert_int_eq(rc, FLUXO_ERR__TRANSPORT);
	fluxo_producer_destroy(p);
	a = fluxo_admin_new(conf(), err, sizeof(err));
	ck_assert_int_eq(
	    fluxo_admin_metadata(a, NULL, 0, TMO, &md, err, sizeof(err)),
	    FLUXO_ERR__TRANSPORT);
	ck_assert_msg(strstr(err, bootstrap) != NULL, "%s", err);
	fluxo_admin_destroy(a);
	c = fluxo_consumer_new(conf(), err, sizeof(err));
	ck_assert_int_eq(fluxo_consumer_assign(c, "any", 0, 0),
			 FLUXO_ERR__TRANSPORT);
	fluxo_consumer_destroy(c);
	ck_assert_int_lt(elapsed_ms(&t0), 10000);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("itest_client");
	TCase *tc = tcase_create("broker");
	SRunner *sr;
	int failed;

	if (argc != 3) {
		fprintf(stderr, "usage: itest_client up|down BOOTSTRAP\n");
		return 2;
	}
	bootstrap = argv[2];
	snprintf(run_id, sizeof(run_id), "%ld", (long)time(NULL) % 100000);
	tcase_set_timeout(tc, 300);
	if (strcmp(argv[1], "down") == 0) {
		tcase_add_test(tc, test_broker_down);
	} else {
		tcase_add_test(tc, test_admin);
		tcase_add_test(tc, test_unknown_topic);
		tcase_add_test(tc, test_many_in_order);
		tcase_add_test(tc, test_partitions_and_keys);
		tcase_add_test(tc, test_codecs);
		tcase_add_test(tc, test_acks);
		tcase_add_test(tc, test_seek);
	}
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
