/*
 * test_topics_util.c - fluxo-topics without a broker: the
 * --replica-assignment parser and its Kafka messages, the anchored --topic
 * patterns, the describe filters, and the describe lines in Kafka 2.8's
 * layout.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tools/topics_util.h"

START_TEST(test_assignment_ok)
{
	struct replica_assignment ra;
	char err[256] = "";

	ck_assert_int_eq(replica_assignment_parse("0:1,1:2,2:0", &ra, err,
						  sizeof(err)),
			 0);
	ck_assert_int_eq(ra.partition_cnt, 3);
	ck_assert_int_eq(ra.replica_cnt, 2);
	ck_assert_int_eq(ra.rows[0][0], 0);
	ck_assert_int_eq(ra.rows[0][1], 1);
	ck_assert_int_eq(ra.rows[2][0], 2);
	ck_assert_int_eq(ra.rows[2][1], 0);
	ck_assert_int_eq(ra.row_cnt[1], 2);
	replica_assignment_free(&ra);

	ck_assert_int_eq(replica_assignment_parse(" 5 : 6 : 7 ", &ra, err,
						  sizeof(err)),
			 0);
	ck_assert_int_eq(ra.partition_cnt, 1);
	ck_assert_int_eq(ra.replica_cnt, 3);
	ck_assert_int_eq(ra.rows[0][2], 7);
	replica_assignment_free(&ra);
}
END_TEST

START_TEST(test_assignment_errors)
{
	struct replica_assignment ra;
	char err[256];

	ck_assert_int_eq(replica_assignment_parse("1:2:1", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "Partition replica lists may not contain "
			      "duplicate entries: 1");
	ck_assert_int_eq(replica_assignment_parse("1:2,3", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "Partition 1 has different replication factor: "
			      "3");
	ck_assert_int_eq(replica_assignment_parse("1:x", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "'x' in partition 0 is not a "
					  "broker id"));
	ck_assert_int_eq(replica_assignment_parse("1,,2", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(replica_assignment_parse("1:", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(replica_assignment_parse("-1", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(replica_assignment_parse("", &ra, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(replica_assignment_parse("99999999999", &ra, err,
						  sizeof(err)),
			 ERR_INVAL);
	/* Nothing is left allocated after an error. */
	ck_assert_ptr_null(ra.ids);
}
END_TEST

START_TEST(test_topic_filter)
{
	struct topic_filter f;
	char err[256];

	ck_assert_int_eq(topic_filter_init(&f, NULL, err, sizeof(err)), 0);
	ck_assert(topic_filter_match(&f, "anything"));
	topic_filter_free(&f);

	/* Whole-name matches only. */
	ck_assert_int_eq(topic_filter_init(&f, "orders", err, sizeof(err)), 0);
	ck_assert(topic_filter_match(&f, "orders"));
	ck_assert(!topic_filter_match(&f, "orders2"));
	ck_assert(!topic_filter_match(&f, "my-orders"));
	topic_filter_free(&f);

	ck_assert_int_eq(topic_filter_init(&f, "ord.*", err, sizeof(err)), 0);
	ck_assert(topic_filter_match(&f, "orders"));
	ck_assert(!topic_filter_match(&f, "payments"));
	topic_filter_free(&f);

	/* Commas mean alternatives; quotes and spaces are dropped. */
	ck_assert_int_eq(topic_filter_init(&f, "\"a, b\"", err, sizeof(err)),
			 0);
	ck_assert(topic_filter_match(&f, "a"));
	ck_assert(topic_filter_match(&f, "b"));
	ck_assert(!topic_filter_match(&f, "ab"));
	topic_filter_free(&f);

	ck_assert_int_eq(topic_filter_init(&f, "test\\.topic", err,
					   sizeof(err)),
			 0);
	ck_assert(topic_filter_match(&f, "test.topic"));
	ck_assert(!topic_filter_match(&f, "testXtopic"));
	topic_filter_free(&f);

	ck_assert_int_eq(topic_filter_init(&f, "(", err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "--topic '(' is not a valid "
					  "regular expression"));
}
END_TEST

static int32_t r12[] = { 1, 2 }, r1[] = { 1 }, r123[] = { 1, 2, 3 };

static fluxo_partition_md_t part(int32_t id, int32_t leader, int32_t *reps,
				 int nreps, int32_t *isr, int nisr)
{
	fluxo_partition_md_t p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.leader = leader;
	p.replicas = reps;
	p.replica_cnt = nreps;
	p.isr = isr;
	p.isr_cnt = nisr;
	return p;
}

START_TEST(test_predicates)
{
	fluxo_broker_md_t brokers[2] = { { .id = 1 }, { .id = 2 } };
	fluxo_metadata_t md = { .brokers = brokers, .broker_cnt = 2 };
	fluxo_partition_md_t healthy = part(0, 1, r12, 2, r12, 2);
	fluxo_partition_md_t under = part(1, 1, r12, 2, r1, 1);
	fluxo_partition_md_t offline = part(2, -1, r12, 2, NULL, 0);
	fluxo_partition_md_t dead_leader = part(3, 3, r123, 3, r123, 3);

	ck_assert(!partition_under_replicated(&healthy));
	ck_assert(partition_under_replicated(&under));
	ck_assert(!partition_unavailable(&healthy, &md));
	ck_assert(partition_unavailable(&offline, &md));
	ck_assert(partition_unavailable(&dead_leader, &md));
	/* min.insync.replicas = 2 */
	ck_assert(!partition_under_min_isr(&healthy, 2));
	ck_assert(partition_under_min_isr(&under, 2));
	ck_assert(partition_under_min_isr(&offline, 2));
	ck_assert(partition_under_min_isr(&offline, -1));
	ck_assert(!partition_under_min_isr(&under, -1));
	ck_assert(partition_at_min_isr(&healthy, 2));
	ck_assert(!partition_at_min_isr(&under, 2));
	ck_assert(!partition_at_min_isr(&healthy, -1));
}
END_TEST

START_TEST(test_describe_lines)
{
	fluxo_partition_md_t p0 = part(0, 1, r12, 2, r12, 2);
	fluxo_partition_md_t p1 = part(1, -1, r12, 2, NULL, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	topic_print_summary(f, "quickstart", 2, 2, "segment.bytes=1073741824");
	topic_print_partition(f, "quickstart", &p0);
	topic_print_partition(f, "quickstart", &p1);
	topic_print_summary(f, "bare", 1, 1, "");
	fclose(f);
	ck_assert_str_eq(buf,
			 "Topic: quickstart\tPartitionCount: 2\t"
			 "ReplicationFactor: 2\tConfigs: "
			 "segment.bytes=1073741824\n"
			 "\tTopic: quickstart\tPartition: 0\tLeader: 1\t"
			 "Replicas: 1,2\tIsr: 1,2\n"
			 "\tTopic: quickstart\tPartition: 1\tLeader: none\t"
			 "Replicas: 1,2\tIsr: \n"
			 "Topic: bare\tPartitionCount: 1\tReplicationFactor: "
			 "1\tConfigs: \n");
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("topics_util");
	TCase *tc = tcase_create("topics_util");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_assignment_ok);
	tcase_add_test(tc, test_assignment_errors);
	tcase_add_test(tc, test_topic_filter);
	tcase_add_test(tc, test_predicates);
	tcase_add_test(tc, test_describe_lines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
