/*
 * test_assign.c - replica placement reproduces Kafka's tables.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/assign.h"
#include "fluxo.pb-c.h"

static char errstr[256];

/* AdminUtils' doc comment: 5 brokers, 10 partitions, RF 3, start 0. */
START_TEST(test_kafka_worked_example)
{
	static const int32_t expect[10][3] = {
	    {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
	    {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
	};
	/* Given out of order: placement sorts brokers by id. */
	struct assign_broker b[5] = {
	    {3, NULL}, {0, NULL}, {4, NULL}, {1, NULL}, {2, NULL}};
	int32_t out[30];

	ck_assert_int_eq(assign_replicas(b, 5, 10, 3, 0, 0, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	for (int p = 0; p < 10; p++)
		for (int r = 0; r < 3; r++)
			ck_assert_msg(out[p * 3 + r] == expect[p][r],
				      "partition %d replica %d: %d, want %d", p,
				      r, out[p * 3 + r], expect[p][r]);
}
END_TEST

/* Adding partitions continues the round-robin (Kafka's addPartitions). */
START_TEST(test_create_partitions_continuation)
{
	static const int32_t expect[3][3] = {{0, 2, 3}, {1, 3, 4}, {2, 4, 0}};
	struct assign_broker b[5] = {
	    {0, NULL}, {1, NULL}, {2, NULL}, {3, NULL}, {4, NULL}};
	int32_t out[9];

	ck_assert_int_eq(assign_replicas(b, 5, 3, 3, 0, 0, 10, false, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	for (int p = 0; p < 3; p++)
		for (int r = 0; r < 3; r++)
			ck_assert_int_eq(out[p * 3 + r], expect[p][r]);
	/* A start index of 2 puts the new partitions' leaders after it. */
	ck_assert_int_eq(assign_replicas(b, 5, 2, 1, 2, 2, 3, false, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(out[1], 1);
}
END_TEST

START_TEST(test_rack_alternated)
{
	struct assign_broker b[6] = {{0, "r1"}, {1, "r3"}, {2, "r3"},
				     {3, "r2"}, {4, "r2"}, {5, "r1"}};
	static const int32_t expect[6] = {0, 3, 1, 5, 4, 2};
	int32_t out[6];

	ck_assert_int_eq(assign_rack_alternated(b, 6, out), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(out[i], expect[i]);
	/* Without broker 5, rack r1 runs out first: 0,3,1,4,2. */
	ck_assert_int_eq(assign_rack_alternated(b, 5, out), 0);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(out[1], 3);
	ck_assert_int_eq(out[2], 1);
	ck_assert_int_eq(out[3], 4);
	ck_assert_int_eq(out[4], 2);
}
END_TEST

static const char *rack_of(const struct assign_broker *b, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (b[i].id == id)
			return b[i].rack;
	return NULL;
}

START_TEST(test_rack_aware_table)
{
	struct assign_broker b[6] = {{0, "r1"}, {1, "r3"}, {2, "r3"},
				     {3, "r2"}, {4, "r2"}, {5, "r1"}};
	/* Worked by hand from Kafka's algorithm (start 0, shift 0). */
	static const int32_t expect[6][3] = {
	    {0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3},
	};
	int32_t out[18];

	ck_assert_int_eq(assign_replicas(b, 6, 6, 3, 0, 0, 0, true, out, errstr,
					 sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	for (int p = 0; p < 6; p++)
		for (int r = 0; r < 3; r++)
			ck_assert_msg(out[p * 3 + r] == expect[p][r],
				      "partition %d replica %d: %d, want %d", p,
				      r, out[p * 3 + r], expect[p][r]);
}
END_TEST

/* Random starts: each partition spans all racks when RF >= racks, and no
 * rack twice when RF < racks; never a broker twice. */
START_TEST(test_rack_aware_properties)
{
	struct assign_broker b[6] = {{10, "a"}, {11, "a"}, {12, "b"},
				     {13, "b"}, {14, "c"}, {15, "c"}};
	int32_t out[50 * 4];

	for (int rf = 1; rf <= 4; rf++) {
		ck_assert_int_eq(assign_replicas(b, 6, 50, rf, -1, -1, 0, true,
						 out, errstr, sizeof(errstr)),
				 FLUXO__ERROR_CODE__NONE);
		for (int p = 0; p < 50; p++) {
			const int32_t *r = out + p * rf;
			int racks = 0;

			for (int i = 0; i < rf; i++) {
				bool new_rack = true;

				for (int j = 0; j < i; j++) {
					ck_assert_int_ne(r[i], r[j]);
					if (strcmp(rack_of(b, 6, r[i]),
						   rack_of(b, 6, r[j])) == 0)
						new_rack = false;
				}
				racks += new_rack;
			}
			ck_assert_int_eq(racks, rf < 3 ? rf : 3);
		}
	}
}
END_TEST

START_TEST(test_errors)
{
	struct assign_broker b[2] = {{1, NULL}, {2, "r1"}};
	int32_t out[8];

	ck_assert_int_eq(assign_replicas(b, 1, 3, 3, -1, -1, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__INVALID_REPLICATION_FACTOR);
	ck_assert_str_eq(
	    errstr, "Replication factor: 3 larger than available brokers: 1.");
	ck_assert_int_eq(assign_replicas(b, 1, 0, 1, -1, -1, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__INVALID_PARTITIONS);
	ck_assert_int_eq(assign_replicas(b, 1, 1, 0, -1, -1, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(assign_replicas(b, 2, 1, 1, -1, -1, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__INVALID_REPLICA_ASSIGNMENT);
	ck_assert_str_eq(errstr, "Not all brokers have rack information for "
				 "replica rack aware assignment.");
	/* Rack-unaware placement ignores the racks. */
	ck_assert_int_eq(assign_replicas(b, 2, 4, 2, -1, -1, 0, false, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	for (int p = 0; p < 4; p++)
		ck_assert_int_ne(out[2 * p], out[2 * p + 1]);
}
END_TEST

/* Random start: leaders are still spread evenly over the brokers. */
START_TEST(test_random_start_balance)
{
	struct assign_broker b[4] = {
	    {1, NULL}, {2, NULL}, {3, NULL}, {4, NULL}};
	int32_t out[40 * 2];
	int leaders[5] = {0}, replicas[5] = {0};

	ck_assert_int_eq(assign_replicas(b, 4, 40, 2, -1, -1, 0, true, out,
					 errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	for (int p = 0; p < 40; p++) {
		leaders[out[2 * p]]++;
		replicas[out[2 * p]]++;
		replicas[out[2 * p + 1]]++;
		ck_assert_int_ne(out[2 * p], out[2 * p + 1]);
	}
	for (int i = 1; i <= 4; i++) {
		ck_assert_int_eq(leaders[i], 10);
		ck_assert_int_eq(replicas[i], 20);
	}
}
END_TEST

static Suite *assign_suite(void)
{
	Suite *s = suite_create("assign");
	TCase *tc = tcase_create("placement");

	tcase_add_test(tc, test_kafka_worked_example);
	tcase_add_test(tc, test_create_partitions_continuation);
	tcase_add_test(tc, test_rack_alternated);
	tcase_add_test(tc, test_rack_aware_table);
	tcase_add_test(tc, test_rack_aware_properties);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_random_start_balance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(assign_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
