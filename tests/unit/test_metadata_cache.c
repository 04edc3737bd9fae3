/*
 * test_metadata_cache.c - UpdateMetadata applied to the cache: full and
 * incremental updates, topic deletion, epoch fencing, and snapshots that
 * stay valid while newer ones are published.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/metadata_cache.h"
#include "common/err.h"

static Fluxo__UpdateMetadataPartitionState *pstate(const char *topic, int p,
						   int leader, int epoch)
{
	Fluxo__UpdateMetadataPartitionState *s = calloc(1, sizeof(*s));
	int32_t *rep = malloc(2 * sizeof(int32_t));

	fluxo__update_metadata_partition_state__init(s);
	s->topic = (char *)topic;
	s->partition = p;
	s->leader = leader;
	s->leader_epoch = epoch;
	rep[0] = leader;
	rep[1] = 9;
	s->replicas = rep;
	s->n_replicas = 2;
	s->isr = rep;
	s->n_isr = 1;
	return s;
}

static void free_req(Fluxo__UpdateMetadataRequest *r)
{
	for (size_t i = 0; i < r->n_partitions; i++) {
		free(r->partitions[i]->replicas);
		free(r->partitions[i]);
	}
	free(r->partitions);
}

static Fluxo__BrokerEndpoint ep1 = FLUXO__BROKER_ENDPOINT__INIT;
static Fluxo__BrokerEndpoint *eps[] = { &ep1 };

static void init_req(Fluxo__UpdateMetadataRequest *r, int epoch, bool full,
		     int n)
{
	fluxo__update_metadata_request__init(r);
	r->controller_id = 1;
	r->controller_epoch = epoch;
	r->full = full;
	r->partitions = calloc((size_t)n + 1, sizeof(*r->partitions));
	ep1.node_id = 1;
	ep1.host = "127.0.0.1";
	ep1.port = 9092;
	r->live_brokers = eps;
	r->n_live_brokers = 1;
}

START_TEST(test_full_then_incremental)
{
	struct md_cache *mc = md_cache_new();
	Fluxo__UpdateMetadataRequest r;
	struct md_snapshot *s0, *s1, *s2;
	char *del[] = { "b" };

	s0 = md_cache_acquire(mc);
	ck_assert_int_eq(s0->n_topics, 0);

	init_req(&r, 3, true, 4);
	r.partitions[r.n_partitions++] = pstate("b", 0, 1, 0);
	r.partitions[r.n_partitions++] = pstate("a", 1, 1, 0);
	r.partitions[r.n_partitions++] = pstate("a", 0, 1, 0);
	ck_assert_int_eq(md_cache_update(mc, &r), 0);
	free_req(&r);
	s1 = md_cache_acquire(mc);
	ck_assert_int_eq(s1->n_topics, 2);
	ck_assert_str_eq(s1->topics[0]->name, "a");
	ck_assert_int_eq(md_find_topic(s1, "a")->n_parts, 2);
	ck_assert_int_eq(md_find_partition(s1, "a", 1)->leader, 1);
	ck_assert_ptr_null(md_find_partition(s1, "a", 2));
	ck_assert(md_topic_ready(s1, "a", 2));
	ck_assert(!md_topic_ready(s1, "a", 3));
	ck_assert_ptr_nonnull(md_find_broker(s1, 1));
	ck_assert_ptr_null(md_find_broker(s1, 2));
	/* The old snapshot is untouched. */
	ck_assert_int_eq(s0->n_topics, 0);

	/* Incremental: a new leader for a/1, a new topic c, delete b. */
	init_req(&r, 3, false, 4);
	r.partitions[r.n_partitions++] = pstate("a", 1, -1, 1);
	r.partitions[r.n_partitions++] = pstate("c", 0, 1, 0);
	r.deleted_topics = del;
	r.n_deleted_topics = 1;
	ck_assert_int_eq(md_cache_update(mc, &r), 0);
	free_req(&r);
	s2 = md_cache_acquire(mc);
	ck_assert_int_eq(s2->n_topics, 2);
	ck_assert_ptr_null(md_find_topic(s2, "b"));
	ck_assert_int_eq(md_find_partition(s2, "a", 1)->leader, -1);
	ck_assert_int_eq(md_find_partition(s2, "a", 0)->leader, 1);
	ck_assert(!md_topic_ready(s2, "a", 2));
	ck_assert_ptr_nonnull(md_find_topic(s2, "c"));
	/* s1 still shows the state it was published with. */
	ck_assert_int_eq(md_find_partition(s1, "a", 1)->leader, 1);
	ck_assert_ptr_nonnull(md_find_topic(s1, "b"));

	md_snapshot_release(s0);
	md_snapshot_release(s1);
	md_snapshot_release(s2);
	md_cache_destroy(mc);
}
END_TEST

START_TEST(test_fencing)
{
	struct md_cache *mc = md_cache_new();
	Fluxo__UpdateMetadataRequest r;
	struct md_snapshot *s;

	init_req(&r, 5, true, 2);
	r.partitions[r.n_partitions++] = pstate("a", 0, 1, 0);
	ck_assert_int_eq(md_cache_update(mc, &r), 0);
	free_req(&r);
	init_req(&r, 4, true, 2);
	r.partitions[r.n_partitions++] = pstate("zombie", 0, 1, 0);
	ck_assert_int_eq(md_cache_update(mc, &r), ERR_FENCED);
	free_req(&r);
	s = md_cache_acquire(mc);
	ck_assert_ptr_null(md_find_topic(s, "zombie"));
	ck_assert_int_eq(s->controller_epoch, 5);
	ck_assert_int_eq(md_cache_controller_epoch(mc), 5);
	md_snapshot_release(s);
	md_cache_destroy(mc);
}
END_TEST

START_TEST(test_many_partitions)
{
	struct md_cache *mc = md_cache_new();
	Fluxo__UpdateMetadataRequest r;
	struct md_snapshot *s;
	char names[100][16];

	init_req(&r, 1, true, 10000);
	for (int t = 0; t < 100; t++) {
		snprintf(names[t], sizeof(names[t]), "t%03d", 99 - t);
		for (int p = 0; p < 100; p++)
			r.partitions[r.n_partitions++] =
				pstate(names[t], p, 1, 0);
	}
	ck_assert_int_eq(md_cache_update(mc, &r), 0);
	free_req(&r);
	s = md_cache_acquire(mc);
	ck_assert_int_eq(s->n_topics, 100);
	for (int i = 1; i < s->n_topics; i++)
		ck_assert(strcmp(s->topics[i - 1]->name, s->topics[i]->name) <
			  0);
	ck_assert(md_topic_ready(s, "t050", 100));
	md_snapshot_release(s);
	md_cache_destroy(mc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metadata_cache");
	TCase *tc = tcase_create("metadata_cache");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_full_then_incremental);
	tcase_add_test(tc, test_fencing);
	tcase_add_test(tc, test_many_partitions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
