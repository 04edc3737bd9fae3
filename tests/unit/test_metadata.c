/*
 * test_metadata.c - the client's metadata cache: merging responses,
 * lookups of topics, partitions, leaders and brokers, full refreshes that
 * drop topics, and refused input.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client/metadata.h"
#include "common/err.h"

/* A response builder on the stack. */
struct mdb {
	Fluxo__MetadataResponse r;
	Fluxo__BrokerEndpoint be[4], *bep[4];
	Fluxo__TopicMetadata tm[4], *tmp[4];
	Fluxo__PartitionMetadata pm[4][8], *pmp[4][8];
	int32_t reps[3];
};

static void mdb_init(struct mdb *b)
{
	memset(b, 0, sizeof(*b));
	fluxo__metadata_response__init(&b->r);
	b->r.brokers = b->bep;
	b->r.topics = b->tmp;
	b->r.cluster_id = "c1";
	b->r.controller_id = 2;
	b->reps[0] = 1;
	b->reps[1] = 2;
	b->reps[2] = 3;
}

static void mdb_broker(struct mdb *b, int32_t id, const char *host, int port)
{
	Fluxo__BrokerEndpoint *e = &b->be[b->r.n_brokers];

	fluxo__broker_endpoint__init(e);
	e->node_id = id;
	e->host = (char *)host;
	e->port = port;
	b->bep[b->r.n_brokers++] = e;
}

/* Adds a topic; partitions listed in reverse order on purpose. */
static void mdb_topic(struct mdb *b, const char *name, int err, int nparts,
		      int32_t leader)
{
	int t = (int)b->r.n_topics;
	Fluxo__TopicMetadata *tm = &b->tm[t];

	fluxo__topic_metadata__init(tm);
	tm->name = (char *)name;
	tm->error = err;
	tm->error_message = err ? "no such topic" : "";
	tm->partitions = b->pmp[t];
	for (int i = nparts - 1; i >= 0; i--) {
		Fluxo__PartitionMetadata *pm = &b->pm[t][tm->n_partitions];

		fluxo__partition_metadata__init(pm);
		pm->partition = i;
		pm->leader = leader >= 0 ? leader + i : -1;
		pm->leader_epoch = 7;
		pm->replicas = b->reps;
		pm->n_replicas = 3;
		pm->isr = b->reps;
		pm->n_isr = 2;
		b->pmp[t][tm->n_partitions++] = pm;
	}
	b->tmp[b->r.n_topics++] = tm;
}

START_TEST(test_update_and_lookup)
{
	struct md_cache md;
	struct mdb b;
	const struct md_topic *t;
	const struct md_partition *p;
	int32_t epoch;

	md_cache_init(&md);
	mdb_init(&b);
	mdb_broker(&b, 3, "h3", 9093);
	mdb_broker(&b, 1, "h1", 9091);
	mdb_topic(&b, "orders", 0, 3, 1);
	mdb_topic(&b, "gone", 3, 0, -1);
	ck_assert_int_eq(md_cache_update(&md, &b.r, false), 0);
	ck_assert_str_eq(md.cluster_id, "c1");
	ck_assert_int_eq(md.controller_id, 2);
	ck_assert_int_eq(md.broker_cnt, 2);
	ck_assert_int_eq(md.brokers[0].id, 1); /* sorted */
	ck_assert_str_eq(md_broker_find(&md, 3)->host, "h3");
	ck_assert_int_eq(md_broker_find(&md, 3)->port, 9093);
	ck_assert_ptr_null(md_broker_find(&md, 2));

	t = md_topic_find(&md, "orders");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->part_cnt, 3);
	ck_assert_int_eq(t->parts[0].id, 0); /* sorted */
	p = md_partition_find(t, 2);
	ck_assert_int_eq(p->leader, 3);
	ck_assert_int_eq(p->isr_cnt, 2);
	ck_assert_int_eq(p->replicas[2], 3);
	ck_assert_ptr_null(md_partition_find(t, 3));
	ck_assert_int_eq(md_leader(&md, "orders", 1, &epoch), 2);
	ck_assert_int_eq(epoch, 7);
	ck_assert_int_eq(md_leader(&md, "orders", 9, &epoch), -1);
	ck_assert_int_eq(md_leader(&md, "nope", 0, NULL), -1);

	t = md_topic_find(&md, "gone");
	ck_assert_int_eq(t->err, 3);
	ck_assert_str_eq(t->errstr, "no such topic");
	ck_assert_int_eq(md_leader(&md, "gone", 0, NULL), -1);

	/* A later partial response updates one topic, keeps the other. */
	mdb_init(&b);
	mdb_broker(&b, 1, "h1", 9091);
	mdb_topic(&b, "gone", 0, 1, -1);
	ck_assert_int_eq(md_cache_update(&md, &b.r, false), 0);
	ck_assert_int_eq(md_topic_find(&md, "gone")->err, 0);
	ck_assert_int_eq(md_topic_find(&md, "gone")->part_cnt, 1);
	ck_assert_int_eq(md_leader(&md, "gone", 0, NULL), -1);
	ck_assert_ptr_nonnull(md_topic_find(&md, "orders"));
	ck_assert_int_eq(md.broker_cnt, 1);

	/* A full response drops what it does not list. */
	ck_assert_int_eq(md_cache_update(&md, &b.r, true), 0);
	ck_assert_ptr_null(md_topic_find(&md, "orders"));
	ck_assert_int_eq(md.topic_cnt, 1);
	md_cache_forget(&md, "gone");
	ck_assert_int_eq(md.topic_cnt, 0);
	md_cache_clear(&md);
}
END_TEST

START_TEST(test_many_topics_sorted)
{
	static const char *const names[] = {"m", "b", "z", "a"};
	struct md_cache md;
	struct mdb b;

	md_cache_init(&md);
	mdb_init(&b);
	for (int i = 0; i < 4; i++)
		mdb_topic(&b, names[i], 0, 1, 0);
	ck_assert_int_eq(md_cache_update(&md, &b.r, false), 0);
	ck_assert_int_eq(md.topic_cnt, 4);
	ck_assert_str_eq(md.topics[0]->name, "a");
	ck_assert_str_eq(md.topics[3]->name, "z");
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(md_topic_find(&md, names[i]));
	ck_assert_uint_eq(md.version, 1);
	md_cache_clear(&md);
}
END_TEST

START_TEST(test_refused)
{
	struct md_cache md;
	struct mdb b;

	md_cache_init(&md);
	mdb_init(&b);
	mdb_topic(&b, "dup", 0, 2, 0);
	b.pm[0][1].partition = 1;
	b.pm[0][0].partition = 1; /* two partitions numbered 1 */
	ck_assert_int_eq(md_cache_update(&md, &b.r, false), ERR_PROTO);
	ck_assert_ptr_null(md_topic_find(&md, "dup"));
	b.pm[0][0].partition = -4;
	ck_assert_int_eq(md_cache_update(&md, &b.r, false), ERR_PROTO);
	ck_assert_ptr_null(md_topic_find(&md, "dup"));
	md_cache_clear(&md);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metadata");
	TCase *tc = tcase_create("cache");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_update_and_lookup);
	tcase_add_test(tc, test_many_topics_sorted);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
