/*
 * test_reassign_util.c - fluxo-reassign-partitions without a broker
 * (tools/reassign_util.c) on hand-made metadata: --broker-list parsing,
 * --generate's placement (Kafka's algorithm with a fixed start, racks),
 * the throttled-replica lists and brokers of --throttle, and the --verify
 * and --list reports in Kafka's words.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tools/reassign_util.h"

static char err[512];

/* Topic t: p0 on 1,2; p1 on 2,3; p2 on 3,1. Topic u: p0 on 1. */
static int32_t r12[] = {1, 2}, r23[] = {2, 3}, r31[] = {3, 1}, r1[] = {1};
static fluxo_partition_md_t tparts[] = {
    {.id = 0,
     .leader = 1,
     .replicas = r12,
     .replica_cnt = 2,
     .isr = r12,
     .isr_cnt = 2},
    {.id = 1,
     .leader = 2,
     .replicas = r23,
     .replica_cnt = 2,
     .isr = r23,
     .isr_cnt = 2},
    {.id = 2,
     .leader = 3,
     .replicas = r31,
     .replica_cnt = 2,
     .isr = r31,
     .isr_cnt = 2},
};
static fluxo_partition_md_t uparts[] = {
    {.id = 0,
     .leader = 1,
     .replicas = r1,
     .replica_cnt = 1,
     .isr = r1,
     .isr_cnt = 1},
};
static fluxo_topic_md_t topics[] = {
    {.name = "t", .partitions = tparts, .partition_cnt = 3},
    {.name = "u", .partitions = uparts, .partition_cnt = 1},
};
static fluxo_broker_md_t brokers[] = {
    {.id = 1, .host = "h1", .port = 9092},
    {.id = 2, .host = "h2", .port = 9092},
    {.id = 3, .host = "h3", .port = 9092},
    {.id = 4, .host = "h4", .port = 9092},
};
static fluxo_metadata_t md = {.controller_id = 1,
			      .brokers = brokers,
			      .broker_cnt = 4,
			      .topics = topics,
			      .topic_cnt = 2};

START_TEST(test_broker_list)
{
	int32_t *ids;
	int n;

	ck_assert_int_eq(
	    broker_list_parse("4,5, 6", &ids, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(ids[0], 4);
	ck_assert_int_eq(ids[2], 6);
	free(ids);
	ck_assert_int_eq(broker_list_parse("4,5,4", &ids, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "Broker list contains duplicate entries: 4");
	ck_assert_int_eq(broker_list_parse("4,,5", &ids, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(broker_list_parse("x", &ids, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(broker_list_parse("-1", &ids, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_null(ids);
}
END_TEST

START_TEST(test_generate)
{
	char *names[] = {"t", "u"};
	const int32_t list[] = {1, 2, 3};
	struct move_list cur, prop;
	const struct move *m;

	ck_assert_int_eq(reassign_generate(&md, names, 2, list, 3, true, 0, 0,
					   &cur, &prop, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cur.n, 4);
	ck_assert_uint_eq(prop.n, 4);
	/* The current assignment, as is. */
	ck_assert_str_eq(cur.v[2].topic, "t");
	ck_assert_int_eq(cur.v[2].partition, 2);
	ck_assert_int_eq(cur.v[2].replicas[0], 3);
	/* Kafka's placement from broker index 0, shift 0: leaders round
	 * robin, followers next to them; the replication factor kept. */
	m = move_list_find(&prop, "t", 0);
	ck_assert_int_eq(m->n_replicas, 2);
	ck_assert_int_eq(m->replicas[0], 1);
	ck_assert_int_eq(m->replicas[1], 2);
	m = move_list_find(&prop, "t", 1);
	ck_assert_int_eq(m->replicas[0], 2);
	ck_assert_int_eq(m->replicas[1], 3);
	m = move_list_find(&prop, "t", 2);
	ck_assert_int_eq(m->replicas[0], 3);
	ck_assert_int_eq(m->replicas[1], 1);
	m = move_list_find(&prop, "u", 0);
	ck_assert_int_eq(m->n_replicas, 1);
	move_list_free(&cur);
	move_list_free(&prop);
}
END_TEST

START_TEST(test_generate_random_stays_on_list)
{
	char *names[] = {"t"};
	const int32_t list[] = {3, 4};

	for (int round = 0; round < 20; round++) {
		struct move_list cur, prop;

		ck_assert_int_eq(reassign_generate(&md, names, 1, list, 2, true,
						   -1, -1, &cur, &prop, err,
						   sizeof(err)),
				 0);
		for (size_t i = 0; i < prop.n; i++) {
			const struct move *m = &prop.v[i];

			ck_assert_int_eq(m->n_replicas, 2);
			ck_assert(m->replicas[0] >= 3 && m->replicas[1] >= 3);
			ck_assert_int_ne(m->replicas[0], m->replicas[1]);
		}
		move_list_free(&cur);
		move_list_free(&prop);
	}
}
END_TEST

START_TEST(test_generate_errors)
{
	char *names[] = {"t"}, *missing[] = {"nosuch"};
	const int32_t one[] = {1}, unknown[] = {1, 9};
	struct move_list cur, prop;

	ck_assert_int_eq(reassign_generate(&md, names, 1, one, 1, true, 0, 0,
					   &cur, &prop, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "Replication factor: 2 larger than "
					  "available brokers: 1"));
	ck_assert_uint_eq(cur.n + prop.n, 0);
	ck_assert_int_eq(reassign_generate(&md, names, 1, unknown, 2, true, 0,
					   0, &cur, &prop, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err,
			 "Broker 9 of --broker-list is not in the cluster");
	ck_assert_int_eq(reassign_generate(&md, missing, 1, one, 1, true, 0, 0,
					   &cur, &prop, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "Topic 'nosuch' does not exist");
}
END_TEST

START_TEST(test_generate_racks)
{
	char *names[] = {"t"};
	const int32_t list[] = {1, 2, 3, 4};
	struct move_list cur, prop;

	brokers[0].rack = "a";
	brokers[1].rack = "a";
	brokers[2].rack = "b";
	/* Broker 4 has no rack: refused unless racks are ignored. */
	ck_assert_int_eq(reassign_generate(&md, names, 1, list, 4, true, 0, 0,
					   &cur, &prop, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "Not all brokers have rack "
					  "information"));
	ck_assert_int_eq(reassign_generate(&md, names, 1, list, 4, false, 0, 0,
					   &cur, &prop, err, sizeof(err)),
			 0);
	move_list_free(&cur);
	move_list_free(&prop);
	/* All racked: every partition's two replicas on different racks. */
	brokers[3].rack = "b";
	ck_assert_int_eq(reassign_generate(&md, names, 1, list, 4, true, -1, -1,
					   &cur, &prop, err, sizeof(err)),
			 0);
	for (size_t i = 0; i < prop.n; i++) {
		const int32_t *r = prop.v[i].replicas;
		bool in_a0 = r[0] <= 2, in_a1 = r[1] <= 2;

		ck_assert_msg(in_a0 != in_a1, "t-%d on %d,%d: same rack",
			      (int)prop.v[i].partition, (int)r[0], (int)r[1]);
	}
	move_list_free(&cur);
	move_list_free(&prop);
	for (int i = 0; i < 4; i++)
		brokers[i].rack = NULL;
}
END_TEST

/* t-0 1,2 -> 2,3; t-1 2,3 -> 3,2 (order only); t-2 3,1 -> 1,4; u-0
 * unchanged. */
static void moves_fixture(struct move_list *l)
{
	const int32_t a[] = {2, 3}, b[] = {3, 2}, c[] = {1, 4}, d[] = {1};

	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(move_list_add(l, "t", 2, c, 2), 0);
	ck_assert_int_eq(move_list_add(l, "t", 0, a, 2), 0);
	ck_assert_int_eq(move_list_add(l, "t", 1, b, 2), 0);
	ck_assert_int_eq(move_list_add(l, "u", 0, d, 1), 0);
}

START_TEST(test_throttles)
{
	struct move_list l;
	char *leader, *follower;
	const char **tv;
	int32_t *ids;
	size_t nt;
	int n;

	moves_fixture(&l);
	ck_assert_int_eq(reassign_throttles(&md, &l, "t", &leader, &follower),
			 0);
	ck_assert_str_eq(leader, "0:1,0:2,2:3,2:1");
	ck_assert_str_eq(follower, "0:3,2:4");
	free(leader);
	free(follower);
	ck_assert_int_eq(reassign_throttles(&md, &l, "u", &leader, &follower),
			 0);
	ck_assert_str_eq(leader, "");
	ck_assert_str_eq(follower, "");
	free(leader);
	free(follower);
	ck_assert_int_eq(reassign_brokers(&md, &l, &ids, &n), 0);
	ck_assert_int_eq(n, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ids[i], i + 1);
	free(ids);
	ck_assert_int_eq(reassign_topics(&l, &tv, &nt), 0);
	ck_assert_uint_eq(nt, 2);
	ck_assert_str_eq(tv[0], "t");
	ck_assert_str_eq(tv[1], "u");
	free(tv);
	move_list_free(&l);
}
END_TEST

static char *slurp(FILE *f)
{
	static char buf[2048];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_verify_report)
{
	int32_t rep[] = {1, 2, 3}, add[] = {3};
	fluxo_ongoing_reassignment_t ongoing[] = {
	    {.topic = "t",
	     .partition = 0,
	     .replicas = rep,
	     .replica_cnt = 3,
	     .adding = add,
	     .adding_cnt = 1},
	};
	const int32_t e[] = {9};
	struct verify_result vr;
	struct move_list l, cur;
	FILE *f = tmpfile();

	moves_fixture(&l);
	ck_assert_int_eq(move_list_add(&l, "t", 5, e, 1), 0);
	move_list_sort(&l);
	reassign_print_verify(f, &l, ongoing, 1, &md, &vr);
	ck_assert_str_eq(slurp(f),
			 "Status of partition reassignment:\n"
			 "Reassignment of partition t-0 is still in "
			 "progress.\n"
			 "There is no active reassignment of partition t-1, "
			 "but replica set is 2,3 rather than 3,2.\n"
			 "There is no active reassignment of partition t-2, "
			 "but replica set is 3,1 rather than 1,4.\n"
			 "Partition t-5 does not exist.\n"
			 "Reassignment of partition u-0 is complete.\n");
	ck_assert_int_eq(vr.in_progress, 1);
	ck_assert_int_eq(vr.differ, 2);
	ck_assert_int_eq(vr.missing, 1);
	ck_assert_int_eq(vr.complete, 1);

	/* The rollback JSON's input: current sets of the file's partitions
	 * that exist. */
	ck_assert_int_eq(reassign_current(&md, &l, &cur), 0);
	ck_assert_uint_eq(cur.n, 4);
	ck_assert_int_eq(cur.v[0].replicas[0], 1);
	ck_assert_int_eq(cur.v[0].replicas[1], 2);
	move_list_free(&cur);
	move_list_free(&l);
}
END_TEST

START_TEST(test_list_report)
{
	int32_t rep[] = {1, 2, 3}, add[] = {3}, rem[] = {1};
	fluxo_ongoing_reassignment_t l[] = {
	    {.topic = "t",
	     .partition = 0,
	     .replicas = rep,
	     .replica_cnt = 3,
	     .adding = add,
	     .adding_cnt = 1,
	     .removing = rem,
	     .removing_cnt = 1},
	    {.topic = "t", .partition = 4, .replicas = rep, .replica_cnt = 2},
	};
	FILE *f = tmpfile();

	reassign_print_list(f, l, 2);
	ck_assert_str_eq(slurp(f),
			 "Current partition reassignments:\n"
			 "t-0: replicas: 1,2,3. adding: 3. removing: 1.\n"
			 "t-4: replicas: 1,2.\n");
	f = tmpfile();
	reassign_print_list(f, NULL, 0);
	ck_assert_str_eq(slurp(f), "No partition reassignments found.\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reassign_util");
	TCase *tc = tcase_create("reassign");

	tcase_add_test(tc, test_broker_list);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_generate_random_stays_on_list);
	tcase_add_test(tc, test_generate_errors);
	tcase_add_test(tc, test_generate_racks);
	tcase_add_test(tc, test_throttles);
	tcase_add_test(tc, test_verify_report);
	tcase_add_test(tc, test_list_report);
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
