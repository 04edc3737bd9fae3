/*
 * test_client_admin.c - libfluxo's controller calls (leader elections,
 * reassignments) and the routing of config requests, against in-process
 * mock brokers (tests/unit/mock_broker.c) posing as a two-broker cluster:
 * requests reach the broker the metadata names as controller, a
 * NOT_CONTROLLER answer makes the client look again and retry, results
 * come back sorted with the broker's codes and sentences, a broker's
 * settings are asked of that broker, and the synonyms of a setting reach
 * the caller.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "fluxo.h"
#include "mock_broker.h"

static struct mock_broker m1, m2;

/* Brokers 1 and 2, each listing the other; broker 2 is the controller. */
static void setup(void)
{
	ck_assert_int_eq(mock_start(&m1), 0);
	ck_assert_int_eq(mock_start(&m2), 0);
	pthread_mutex_lock(&m2.lock);
	m2.node_id = 2;
	snprintf(m2.node_str, sizeof(m2.node_str), "2");
	pthread_mutex_unlock(&m2.lock);
	mock_add_peer(&m1, 2, m2.port);
	mock_add_peer(&m2, 1, m1.port);
	for (struct mock_broker *m = &m1; m; m = m == &m1 ? &m2 : NULL) {
		mock_add_topic(m, "t", 4);
		mock_add_topic(m, "u", 1);
		pthread_mutex_lock(&m->lock);
		m->controller_id = 2;
		pthread_mutex_unlock(&m->lock);
	}
}

static void teardown(void)
{
	mock_stop(&m1);
	mock_stop(&m2);
}

static int locked(struct mock_broker *m, const int *field)
{
	int v;

	pthread_mutex_lock(&m->lock);
	v = *field;
	pthread_mutex_unlock(&m->lock);
	return v;
}

/* An admin client bootstrapped at m1 only. */
static fluxo_admin_t *admin(void)
{
	fluxo_conf_t *c = fluxo_conf_new();
	char bs[64], err[256];
	fluxo_admin_t *a;

	mock_bootstrap(&m1, bs, sizeof(bs));
	ck_assert_int_eq(
	    fluxo_conf_set(c, "bootstrap.servers", bs, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "retry.backoff.ms", "20", err, sizeof(err)), 0);
	a = fluxo_admin_new(c, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

START_TEST(test_elect_goes_to_controller)
{
	fluxo_admin_t *a = admin();
	const fluxo_topic_partition_t tps[] = {
	    {"u", 0}, {"t", 1}, {"t", 0}, {"nosuch", 3}, {"t", 2}};
	fluxo_partition_result_t *res = NULL;
	size_t n = 0;
	char err[512];
	int rc;

	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED, tps, 5,
				       5000, &res, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(locked(&m2, &m2.elect_requests), 1);
	ck_assert_int_eq(locked(&m1, &m1.elect_requests), 0);
	ck_assert_int_eq(locked(&m2, &m2.last_elect_partitions), 5);
	ck_assert_int_eq(locked(&m2, &m2.last_election_type), 0);
	/* Sorted by topic, then partition. */
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(res[0].topic, "nosuch");
	ck_assert_int_eq(res[0].partition, 3);
	ck_assert_int_eq(res[0].err, FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	ck_assert_str_eq(res[0].errstr, "No such partition.");
	ck_assert_str_eq(res[1].topic, "t");
	ck_assert_int_eq(res[1].partition, 0);
	ck_assert_int_eq(res[1].err, 0);
	ck_assert_ptr_null(res[1].errstr);
	ck_assert_int_eq(res[2].partition, 1);
	ck_assert_int_eq(res[2].err, FLUXO_ERR_ELECTION_NOT_NEEDED);
	/* No sentence from the broker: the code's own. */
	ck_assert_str_eq(res[2].errstr,
			 fluxo_err2str(FLUXO_ERR_ELECTION_NOT_NEEDED));
	ck_assert_int_eq(res[3].partition, 2);
	ck_assert_int_eq(res[3].err, 0);
	ck_assert_str_eq(res[4].topic, "u");
	ck_assert_int_eq(res[4].err, 0);
	fluxo_partition_results_destroy(res, n);

	/* Every partition, unclean. */
	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_UNCLEAN, NULL, 0, 5000,
				       &res, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(locked(&m2, &m2.last_elect_partitions), 0);
	ck_assert_int_eq(locked(&m2, &m2.last_election_type), 1);
	ck_assert_uint_eq(n, 0);
	fluxo_partition_results_destroy(res, n);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_not_controller_retries)
{
	fluxo_admin_t *a = admin();
	const fluxo_topic_partition_t tp = {"t", 0};
	fluxo_partition_result_t *res = NULL;
	size_t n = 0;
	char err[512];
	int rc, md_before;

	/* Fetch metadata once so that the counts below are the retries'. */
	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED, &tp, 1,
				       5000, &res, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	fluxo_partition_results_destroy(res, n);
	md_before = locked(&m1, &m1.metadata_requests) +
		    locked(&m2, &m2.metadata_requests);
	pthread_mutex_lock(&m2.lock);
	m2.not_controller = 2;
	m2.elect_requests = 0;
	pthread_mutex_unlock(&m2.lock);
	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED, &tp, 1,
				       5000, &res, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(res[0].err, 0);
	fluxo_partition_results_destroy(res, n);
	ck_assert_int_eq(locked(&m2, &m2.elect_requests), 3);
	/* Each attempt looked the controller up afresh. */
	ck_assert_int_ge(locked(&m1, &m1.metadata_requests) +
			     locked(&m2, &m2.metadata_requests) - md_before,
			 3);

	/* The office moves to broker 1 and the metadata says so. */
	for (struct mock_broker *m = &m1; m; m = m == &m1 ? &m2 : NULL) {
		pthread_mutex_lock(&m->lock);
		m->controller_id = 1;
		pthread_mutex_unlock(&m->lock);
	}
	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED, &tp, 1,
				       5000, &res, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	fluxo_partition_results_destroy(res, n);
	ck_assert_int_eq(locked(&m1, &m1.elect_requests), 1);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_no_controller_times_out)
{
	fluxo_admin_t *a = admin();
	fluxo_partition_result_t *res = (void *)1;
	size_t n = 7;
	char err[512];
	int64_t t0;
	int rc;

	for (struct mock_broker *m = &m1; m; m = m == &m1 ? &m2 : NULL) {
		pthread_mutex_lock(&m->lock);
		m->controller_id = -1;
		pthread_mutex_unlock(&m->lock);
	}
	/* 2 s: long enough for the metadata round trips even on a loaded
	 * sanitizer build (with 600 ms the call could time out before it
	 * learnt that there is no controller), short enough to bound. */
	t0 = clock_mono_ms();
	rc = fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED, NULL, 0,
				       2000, &res, &n, err, sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR_NOT_CONTROLLER);
	ck_assert_msg(strstr(err, "no controller") != NULL, "%s", err);
	ck_assert_ptr_null(res);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_le(clock_mono_ms() - t0, 5000);
	ck_assert_int_eq(locked(&m1, &m1.elect_requests) +
			     locked(&m2, &m2.elect_requests),
			 0);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_bad_arguments)
{
	fluxo_admin_t *a = admin();
	const fluxo_topic_partition_t bad = {"t", -1};
	const fluxo_reassignment_t empty = {"t", 0, NULL, 0, false};
	fluxo_partition_result_t *res;
	fluxo_ongoing_reassignment_t *l;
	size_t n;
	char err[256];

	ck_assert_int_eq(fluxo_admin_elect_leaders(a, 7, NULL, 0, 1000, &res,
						   &n, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(fluxo_admin_elect_leaders(a, FLUXO_ELECTION_PREFERRED,
						   &bad, 1, 1000, &res, &n, err,
						   sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(fluxo_admin_alter_reassignments(
			     a, &empty, 1, 1000, &res, &n, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(fluxo_admin_list_reassignments(a, &bad, 1, 1000, &l,
							&n, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	/* Nothing was sent. */
	ck_assert_int_eq(locked(&m2, &m2.elect_requests) +
			     locked(&m2, &m2.alter_reassign_requests) +
			     locked(&m2, &m2.list_reassign_requests),
			 0);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_reassignments)
{
	fluxo_admin_t *a = admin();
	const int32_t to12[] = {1, 2}, to2[] = {2};
	const fluxo_reassignment_t moves[] = {
	    {"t", 3, to2, 1, false},
	    {"t", 0, to12, 2, false},
	    {"t", 1, NULL, 0, true},
	    {"t", 9, to2, 1, false},
	};
	const fluxo_reassignment_t cancel = {"t", 0, NULL, 0, true};
	const fluxo_topic_partition_t only_t1 = {"t", 1};
	fluxo_partition_result_t *res = NULL;
	fluxo_ongoing_reassignment_t *l = NULL;
	size_t n = 0;
	char err[512];
	int rc;

	rc = fluxo_admin_alter_reassignments(a, moves, 4, 5000, &res, &n, err,
					     sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(locked(&m2, &m2.alter_reassign_requests), 1);
	ck_assert_int_eq(locked(&m1, &m1.alter_reassign_requests), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(res[0].partition, 0);
	ck_assert_int_eq(res[0].err, 0);
	ck_assert_int_eq(res[1].partition, 1);
	ck_assert_int_eq(res[1].err, FLUXO_ERR_NO_REASSIGNMENT_IN_PROGRESS);
	ck_assert_int_eq(res[2].partition, 3);
	ck_assert_int_eq(res[2].err, 0);
	ck_assert_int_eq(res[3].partition, 9);
	ck_assert_int_eq(res[3].err, FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	fluxo_partition_results_destroy(res, n);

	rc = fluxo_admin_list_reassignments(a, NULL, 0, 5000, &l, &n, err,
					    sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(l[0].topic, "t");
	ck_assert_int_eq(l[0].partition, 0);
	ck_assert_int_eq(l[0].replica_cnt, 2);
	ck_assert_int_eq(l[0].replicas[0], 1);
	ck_assert_int_eq(l[0].replicas[1], 2);
	ck_assert_int_eq(l[0].adding_cnt, 1);
	ck_assert_int_eq(l[0].adding[0], 2);
	ck_assert_int_eq(l[0].removing_cnt, 0);
	ck_assert_ptr_null(l[0].removing);
	ck_assert_int_eq(l[1].partition, 3);
	ck_assert_int_eq(l[1].removing_cnt, 1);
	ck_assert_int_eq(l[1].removing[0], 1);
	fluxo_ongoing_reassignments_destroy(l, n);

	rc = fluxo_admin_list_reassignments(a, &only_t1, 1, 5000, &l, &n, err,
					    sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 0);
	fluxo_ongoing_reassignments_destroy(l, n);

	rc = fluxo_admin_alter_reassignments(a, &cancel, 1, 5000, &res, &n, err,
					     sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(res[0].err, 0);
	fluxo_partition_results_destroy(res, n);
	rc = fluxo_admin_list_reassignments(a, NULL, 0, 5000, &l, &n, err,
					    sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(l[0].partition, 3);
	fluxo_ongoing_reassignments_destroy(l, n);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_reassign_unsupported)
{
	fluxo_admin_t *a = admin();
	const int32_t to2[] = {2};
	const fluxo_reassignment_t mv = {"t", 0, to2, 1, false};
	fluxo_partition_result_t *res = NULL;
	fluxo_ongoing_reassignment_t *l = NULL;
	size_t n = 0;
	char err[512];
	int rc;

	pthread_mutex_lock(&m2.lock);
	m2.reassign_unsupported = true;
	pthread_mutex_unlock(&m2.lock);
	rc = fluxo_admin_alter_reassignments(a, &mv, 1, 5000, &res, &n, err,
					     sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR_INVALID_REQUEST);
	ck_assert_msg(strstr(err, "Not a controller request") != NULL, "%s",
		      err);
	ck_assert_ptr_null(res);
	/* Answered once: a refusal is not retried. */
	ck_assert_int_eq(locked(&m2, &m2.alter_reassign_requests), 1);
	rc = fluxo_admin_list_reassignments(a, NULL, 0, 5000, &l, &n, err,
					    sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR_INVALID_REQUEST);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_broker_configs_routed)
{
	fluxo_admin_t *a = admin();
	fluxo_config_entry_t *e = NULL;
	size_t n = 0;
	char err[512];
	int rc;

	/* Broker 2 is asked directly, though only broker 1 bootstraps. */
	rc = fluxo_admin_describe_configs(a, FLUXO_RESOURCE_BROKER, "2", false,
					  5000, &e, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].name, "broker.id");
	ck_assert_str_eq(e[0].value, "2");
	ck_assert_int_eq(locked(&m2, &m2.describe_configs_requests), 1);
	ck_assert_int_eq(locked(&m1, &m1.describe_configs_requests), 0);
	fluxo_config_entries_destroy(e, n);
	rc = fluxo_admin_describe_configs(a, FLUXO_RESOURCE_BROKER, "1", false,
					  5000, &e, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(e[0].value, "1");
	fluxo_config_entries_destroy(e, n);

	/* An id the cluster does not have, and a name that is no id. */
	rc = fluxo_admin_describe_configs(a, FLUXO_RESOURCE_BROKER, "7", false,
					  5000, &e, &n, err, sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR_BROKER_NOT_AVAILABLE);
	ck_assert_msg(strstr(err, "broker 7") != NULL, "%s", err);
	rc =
	    fluxo_admin_describe_configs(a, FLUXO_RESOURCE_BROKER, "one", false,
					 5000, &e, &n, err, sizeof(err));
	ck_assert_int_eq(rc, FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(locked(&m1, &m1.describe_configs_requests) +
			     locked(&m2, &m2.describe_configs_requests),
			 2);
	fluxo_admin_destroy(a);
}
END_TEST

START_TEST(test_config_synonyms)
{
	fluxo_admin_t *a = admin();
	fluxo_config_entry_t *e = NULL;
	size_t n = 0;
	char err[512];
	int rc;

	/* Topic requests may go to either mock: both hold the override. */
	for (struct mock_broker *m = &m1; m; m = m == &m1 ? &m2 : NULL) {
		pthread_mutex_lock(&m->lock);
		snprintf(m->topics[0].config_key,
			 sizeof(m->topics[0].config_key), "retention.bytes");
		snprintf(m->topics[0].config_value,
			 sizeof(m->topics[0].config_value), "4096");
		pthread_mutex_unlock(&m->lock);
	}
	rc = fluxo_admin_describe_configs(a, FLUXO_RESOURCE_TOPIC, "t", false,
					  5000, &e, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(e[0].synonym_cnt, 1);
	ck_assert_str_eq(e[0].synonyms[0].name, "log.retention.ms");
	ck_assert_int_eq(e[0].synonyms[0].source, FLUXO_CONFIG_SOURCE_DEFAULT);
	ck_assert_str_eq(e[1].name, "retention.bytes");
	ck_assert_str_eq(e[1].value, "4096");
	ck_assert_int_eq(e[1].source, FLUXO_CONFIG_SOURCE_TOPIC);
	ck_assert_uint_eq(e[1].synonym_cnt, 2);
	ck_assert_str_eq(e[1].synonyms[0].name, "retention.bytes");
	ck_assert_str_eq(e[1].synonyms[0].value, "4096");
	ck_assert_int_eq(e[1].synonyms[0].source, FLUXO_CONFIG_SOURCE_TOPIC);
	ck_assert_int_eq(e[1].synonyms[1].source, FLUXO_CONFIG_SOURCE_DEFAULT);
	fluxo_config_entries_destroy(e, n);
	fluxo_admin_destroy(a);
}
END_TEST

/* An explicit assignment is sent without counts (the broker refuses
 * both at once); the counts come from the assignment. */
START_TEST(test_create_with_assignment)
{
	fluxo_admin_t *a = admin();
	const int32_t p0[] = {1, 2}, p1[] = {2, 1}, p2[] = {1, 2};
	const int32_t *rows[] = {p0, p1, p2};
	const int cnt[] = {2, 2, 2};
	fluxo_new_topic_t nt = {.name = "placed",
				.num_partitions = 3,
				.replication_factor = 2,
				.assignment = rows,
				.assignment_cnt = cnt};
	char err[512];
	int rc;

	rc = fluxo_admin_create_topic(a, &nt, true, 5000, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	fluxo_admin_destroy(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("client_admin");
	TCase *tc = tcase_create("controller");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_elect_goes_to_controller);
	tcase_add_test(tc, test_not_controller_retries);
	tcase_add_test(tc, test_no_controller_times_out);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_reassignments);
	tcase_add_test(tc, test_reassign_unsupported);
	tcase_add_test(tc, test_broker_configs_routed);
	tcase_add_test(tc, test_config_synonyms);
	tcase_add_test(tc, test_create_with_assignment);
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
