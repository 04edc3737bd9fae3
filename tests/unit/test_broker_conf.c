/*
 * test_broker_conf.c - server.properties: Kafka's quickstart file loads,
 * unknown keys and bad values are refused with the key named, retention
 * and roll keys take Kafka's precedence, listeners are checked.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_conf.h"
#include "common/err.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/fluxo-bconf-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

START_TEST(test_kafka_quickstart_file)
{
	struct broker_conf c;
	struct topic_conf tc;
	char err[512];

	/* The settings of Kafka 2.8's config/server.properties. */
	write_file("broker.id=0\n"
		   "num.network.threads=3\n"
		   "num.io.threads=8\n"
		   "socket.send.buffer.bytes=102400\n"
		   "socket.receive.buffer.bytes=102400\n"
		   "socket.request.max.bytes=104857600\n"
		   "log.dirs=/tmp/kafka-logs\n"
		   "num.partitions=1\n"
		   "num.recovery.threads.per.data.dir=1\n"
		   "offsets.topic.replication.factor=1\n"
		   "transaction.state.log.replication.factor=1\n"
		   "transaction.state.log.min.isr=1\n"
		   "log.retention.hours=168\n"
		   "log.segment.bytes=1073741824\n"
		   "log.retention.check.interval.ms=300000\n"
		   "zookeeper.connect=localhost:2181\n"
		   "zookeeper.connection.timeout.ms=18000\n"
		   "group.initial.rebalance.delay.ms=0\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_validate(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.num_network_threads, 3);
	ck_assert_str_eq(broker_conf_log_dirs(&c), "/tmp/kafka-logs");
	ck_assert_int_eq(broker_conf_retention_ms(&c), 168LL * 3600 * 1000);
	ck_assert(!c.auto_create_topics_enable);
	ck_assert_int_eq(broker_conf_topic_defaults(&c, &tc), 0);
	ck_assert_int_eq(tc.retention_ms, 168LL * 3600 * 1000);
	ck_assert_int_eq(tc.segment_bytes, 1073741824);
	topic_conf_free(&tc);
	broker_conf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_unknown_and_bad)
{
	struct broker_conf c;
	char err[512];

	write_file("broker.id=1\nzookeeper.connect=x:1\nlog.retention.hourz=3\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)),
			 ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err, "log.retention.hourz"));
	ck_assert_ptr_nonnull(strstr(err, ":3:"));
	broker_conf_free(&c);

	write_file("broker.id=-5\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "broker.id"));
	broker_conf_free(&c);

	write_file("broker.id=1\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_validate(&c, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "zookeeper.connect"));
	broker_conf_free(&c);

	write_file("zookeeper.connect=x:1\nlisteners=127.0.0.1:9092\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_validate(&c, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "listeners"));
	broker_conf_free(&c);

	write_file("zookeeper.connect=x:1\nlisteners=SSL://127.0.0.1:9093\n");
	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_load(&c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_validate(&c, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "PLAINTEXT"));
	broker_conf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_precedence)
{
	struct broker_conf c;
	char err[512];

	broker_conf_init(&c);
	ck_assert_int_eq(broker_conf_set(&c, "log.retention.hours", "2", err,
					 sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_retention_ms(&c), 2 * 3600000LL);
	ck_assert_int_eq(broker_conf_set(&c, "log.retention.minutes", "3",
					 err, sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_retention_ms(&c), 3 * 60000LL);
	ck_assert_int_eq(broker_conf_set(&c, "log.retention.ms", "1234", err,
					 sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_retention_ms(&c), 1234);
	ck_assert_int_eq(broker_conf_set(&c, "log.retention.ms", "-1", err,
					 sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_retention_ms(&c), -1);
	ck_assert_int_eq(broker_conf_roll_ms(&c), 168 * 3600000LL);
	ck_assert_int_eq(broker_conf_set(&c, "log.roll.ms", "5000", err,
					 sizeof(err)), 0);
	ck_assert_int_eq(broker_conf_roll_ms(&c), 5000);
	ck_assert(broker_conf_is_set(&c, "log.roll.ms"));
	ck_assert(!broker_conf_is_set(&c, "log.dirs"));
	broker_conf_free(&c);
}
END_TEST

START_TEST(test_every_default_parses)
{
	struct broker_conf c;
	char err[512];

	/* Every row's default is valid for its own row. */
	for (const struct conf_def *d = broker_conf_table; d->name; d++)
		if (d->dflt)
			ck_assert_msg(conf_check(d, d->dflt, err,
						 sizeof(err)) == 0,
				      "%s: %s", d->name, err);
	broker_conf_init(&c);
	ck_assert_int_eq(c.zookeeper_session_timeout_ms, 6000);
	ck_assert_str_eq(c.listeners, "PLAINTEXT://:9092");
	broker_conf_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("broker_conf");
	TCase *tc = tcase_create("broker_conf");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_kafka_quickstart_file);
	tcase_add_test(tc, test_unknown_and_bad);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_every_default_parses);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
