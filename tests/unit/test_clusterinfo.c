/*
 * test_clusterinfo.c - fluxo-cluster-info's summary (tools/clusterinfo.c)
 * on hand-made metadata: which partitions count as offline and as
 * under-replicated, and the text and JSON reports byte for byte.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/clusterinfo.h"

/* Brokers 1 and 3 live (2 is down). t-0 healthy, t-1 led by 1 with 2
 * out of the ISR, t-2 led by the dead broker 2, u-0 without leader. */
static int32_t r12[] = {1, 2}, r21[] = {2, 1}, r1[] = {1}, r2[] = {2},
	       r13[] = {1, 3};
static fluxo_partition_md_t tparts[] = {
    {.id = 0,
     .leader = 1,
     .replicas = r13,
     .replica_cnt = 2,
     .isr = r13,
     .isr_cnt = 2},
    {.id = 1,
     .leader = 1,
     .replicas = r12,
     .replica_cnt = 2,
     .isr = r1,
     .isr_cnt = 1},
    {.id = 2,
     .leader = 2,
     .replicas = r21,
     .replica_cnt = 2,
     .isr = r21,
     .isr_cnt = 2},
};
static fluxo_partition_md_t uparts[] = {
    {.id = 0,
     .leader = -1,
     .replicas = r2,
     .replica_cnt = 1,
     .isr = r2,
     .isr_cnt = 1},
};
static fluxo_topic_md_t topics[] = {
    {.name = "t", .partitions = tparts, .partition_cnt = 3},
    {.name = "u", .partitions = uparts, .partition_cnt = 1},
    {.name = "gone", .err = FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION},
};
static fluxo_broker_md_t brokers[] = {
    {.id = 1, .host = "127.0.0.1", .port = 9092, .rack = "r1"},
    {.id = 3, .host = "::1", .port = 9094},
};
static fluxo_metadata_t md = {.cluster_id = "abcdefghijklmnopqrstuv",
			      .controller_id = 3,
			      .controller_epoch = 7,
			      .brokers = brokers,
			      .broker_cnt = 2,
			      .topics = topics,
			      .topic_cnt = 3};

static char *slurp(FILE *f)
{
	static char buf[4096];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_summary)
{
	struct cluster_summary s;

	ck_assert_int_eq(cluster_summarize(&md, &s), 0);
	ck_assert_int_eq(s.topic_cnt, 2);
	ck_assert_int_eq(s.partition_cnt, 4);
	ck_assert_uint_eq(s.under_replicated.n, 1);
	ck_assert_str_eq(s.under_replicated.v[0].topic, "t");
	ck_assert_int_eq(s.under_replicated.v[0].partition, 1);
	/* Offline: no leader, or a leader that is not live; never also
	 * counted as under-replicated. */
	ck_assert_uint_eq(s.offline.n, 2);
	ck_assert_int_eq(s.offline.v[0].partition, 2);
	ck_assert_str_eq(s.offline.v[1].topic, "u");
	cluster_summary_free(&s);
}
END_TEST

START_TEST(test_text)
{
	struct cluster_summary s;
	FILE *f = tmpfile();

	ck_assert_int_eq(cluster_summarize(&md, &s), 0);
	cluster_print_text(f, &md, &s);
	ck_assert_str_eq(slurp(f),
			 "Cluster ID: abcdefghijklmnopqrstuv\n"
			 "Controller: 3 (epoch 7)\n"
			 "Brokers: 2\n"
			 "  1\t127.0.0.1:9092\track: r1\n"
			 "  3\t[::1]:9094\track: none\n"
			 "Topics: 2\n"
			 "Partitions: 4\n"
			 "Under-replicated partitions: 1\n"
			 "  t-1\tLeader: 1\tReplicas: 1,2\tIsr: 1\n"
			 "Offline partitions: 2\n"
			 "  t-2\tLeader: 2\tReplicas: 2,1\tIsr: 2,1\n"
			 "  u-0\tLeader: none\tReplicas: 2\tIsr: 2\n");
	cluster_summary_free(&s);
}
END_TEST

START_TEST(test_json)
{
	fluxo_metadata_t none = md;
	struct cluster_summary s;
	FILE *f = tmpfile();

	ck_assert_int_eq(cluster_summarize(&md, &s), 0);
	ck_assert_int_eq(cluster_print_json(f, &md, &s), 0);
	ck_assert_str_eq(
	    slurp(f),
	    "{\"cluster_id\":\"abcdefghijklmnopqrstuv\",\"controller\":{\"id\":"
	    "3,"
	    "\"epoch\":7},\"brokers\":[{\"id\":1,\"host\":\"127.0.0.1\","
	    "\"port\":"
	    "9092,\"rack\":\"r1\"},{\"id\":3,\"host\":\"::1\",\"port\":9094,"
	    "\"rack\":null}],\"topic_count\":2,\"partition_count\":4,"
	    "\"under_replicated_count\":1,\"offline_count\":2,"
	    "\"under_replicated_partitions\":[{\"topic\":\"t\",\"partition\":1,"
	    "\"leader\":1,\"replicas\":[1,2],\"isr\":[1]}],\"offline_"
	    "partitions\":"
	    "[{\"topic\":\"t\",\"partition\":2,\"leader\":2,\"replicas\":[2,1],"
	    "\"isr\":[2,1]},{\"topic\":\"u\",\"partition\":0,\"leader\":-1,"
	    "\"replicas\":[2],\"isr\":[2]}]}\n");
	cluster_summary_free(&s);

	/* No controller, nothing else. */
	none.controller_id = -1;
	none.topic_cnt = 0;
	none.broker_cnt = 0;
	ck_assert_int_eq(cluster_summarize(&none, &s), 0);
	f = tmpfile();
	ck_assert_int_eq(cluster_print_json(f, &none, &s), 0);
	ck_assert_str_eq(
	    slurp(f),
	    "{\"cluster_id\":\"abcdefghijklmnopqrstuv\",\"controller\":null,"
	    "\"brokers\":[],\"topic_count\":0,\"partition_count\":0,"
	    "\"under_replicated_count\":0,\"offline_count\":0,"
	    "\"under_replicated_partitions\":[],\"offline_partitions\":[]}\n");
	f = tmpfile();
	cluster_print_text(f, &none, &s);
	ck_assert_ptr_nonnull(strstr(slurp(f), "Controller: none\n"));
	cluster_summary_free(&s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("clusterinfo");
	TCase *tc = tcase_create("summary");

	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
