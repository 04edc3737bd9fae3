/*
 * test_accum.c - the producer's accumulator and partitioners: batches
 * close at batch.size, linger and readiness, buffer.memory accounting,
 * retries keep creation order, the bytes are valid record batches, the
 * murmur2 partitioner matches Kafka's for known keys, and the sticky
 * partitioner only moves to partitions with a leader.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/accum.h"
#include "common/batch.h"

static struct accum acc;
static struct ptopic topic;
static struct ptoppar tps[4], *tpp[4];

static void setup_with(size_t batch_size, int64_t linger, int64_t memory)
{
	struct accum_conf ac = {
	    .batch_size = batch_size,
	    .linger_ms = linger,
	    .codec = 0,
	    .level = -1,
	    .buffer_memory = memory,
	    .max_request_size = 1 << 20,
	    .delivery_timeout_ms = 120000,
	    .keep_recs = true,
	};

	accum_init(&acc, &ac);
	memset(&topic, 0, sizeof(topic));
	memset(tps, 0, sizeof(tps));
	topic.name = "t";
	topic.part_cnt = 4;
	topic.parts = tpp;
	for (int i = 0; i < 4; i++) {
		tps[i].topic = &topic;
		tps[i].partition = i;
		tps[i].leader = 1;
		tpp[i] = &tps[i];
	}
}

static void drain_free(struct ptoppar *tp)
{
	struct pbatch *b;

	while ((b = accum_pop(&acc, tp)) != NULL)
		accum_batch_free(&acc, b);
}

static void teardown(void)
{
	for (int i = 0; i < 4; i++)
		drain_free(&tps[i]);
	accum_destroy(&acc);
}

static int append(struct ptoppar *tp, int i, int64_t now, bool *ready)
{
	char v[100];
	size_t size = accum_record_size(0, true, sizeof(v), false, NULL, 0);

	memset(v, 'a' + i % 26, sizeof(v));
	return accum_append(&acc, tp, 1000 + i, NULL, 0, v, sizeof(v), NULL, 0,
			    size, (void *)(intptr_t)i, now, now * 1000, ready);
}

START_TEST(test_batch_size)
{
	struct ptoppar *tp = &tps[0];
	struct pbatch *b;
	bool ready = false;
	int closed_at = -1, n = 0;
	int64_t next = INT64_MAX;

	setup_with(4096, 0, 1 << 20);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(append(tp, i, 5, &ready), 0);
		if (ready && closed_at < 0)
			closed_at = i;
	}
	/* ~120 bytes per record: the first batch closed near 4096. */
	ck_assert_int_gt(closed_at, 25);
	ck_assert_int_lt(closed_at, 40);
	ck_assert_ptr_nonnull(tp->head);
	ck_assert(tp->head->closed);
	ck_assert(!tp->tail->closed);
	ck_assert(tp->pending);
	ck_assert_uint_eq(acc.queued_records, 100);
	while ((b = accum_pop(&acc, tp)) != NULL) {
		struct batch_run_info info;
		struct batch_header h;

		ck_assert_uint_le(batch_builder_size(&b->bb), 4096);
		ck_assert(b->rec_cnt > 0);
		ck_assert_ptr_eq(b->recs[0].opaque, (void *)(intptr_t)n);
		ck_assert_int_eq(b->recs[0].timestamp, 1000 + n);
		n += b->rec_cnt;
		ck_assert_int_eq(batch_builder_finish(&b->bb, -1, -1, -1, -1),
				 0);
		ck_assert_int_eq(batch_run_validate(b->bb.out.data,
						    b->bb.out.len, 1 << 20,
						    &info, NULL),
				 0);
		batch_header_decode(b->bb.out.data, b->bb.out.len, &h);
		ck_assert_int_eq(h.records_count, b->rec_cnt);
		accum_batch_free(&acc, b);
	}
	ck_assert_int_eq(n, 100);
	ck_assert(!tp->pending);
	ck_assert_ptr_null(acc.pend_head);
	ck_assert_int_eq(acc.buffered, 0);
	ck_assert(!accum_ready(&acc, tp, 100, true, &next));
	teardown();
}
END_TEST

START_TEST(test_linger_and_ready)
{
	struct ptoppar *tp = &tps[1];
	int64_t next = INT64_MAX;
	bool ready;

	setup_with(1 << 16, 20, 1 << 20);
	ck_assert_int_eq(append(tp, 0, 100, &ready), 0);
	ck_assert(!ready);
	ck_assert(!accum_ready(&acc, tp, 110, false, &next));
	ck_assert_int_eq(next, 120); /* created 100 + linger 20 */
	ck_assert(accum_ready(&acc, tp, 110, true, &next)); /* flush */
	ck_assert(accum_ready(&acc, tp, 120, false, &next));
	/* Backoff after a retry holds the batch back even when flushing. */
	tp->head->retry_at_ms = 200;
	next = INT64_MAX;
	ck_assert(!accum_ready(&acc, tp, 150, true, &next));
	ck_assert_int_eq(next, 200);
	ck_assert(accum_ready(&acc, tp, 200, false, &next));
	teardown();

	/* linger.ms 0: ready as soon as there is a record. */
	setup_with(1 << 16, 0, 1 << 20);
	next = INT64_MAX;
	ck_assert(!accum_ready(&acc, tp, 0, false, &next));
	ck_assert_int_eq(append(tp, 0, 100, &ready), 0);
	ck_assert(accum_ready(&acc, tp, 100, false, &next));
	teardown();
}
END_TEST

START_TEST(test_buffer_memory)
{
	size_t size = accum_record_size(0, true, 100, false, NULL, 0);
	struct pbatch *b;
	bool ready;
	int n = 0;

	setup_with(1 << 16, 0, 1000);
	while (accum_has_room(&acc, size)) {
		ck_assert_int_eq(append(&tps[0], n, 1, &ready), 0);
		n++;
	}
	ck_assert_int_eq(n, (int)(1000 / size));
	ck_assert_int_eq(acc.buffered, (int64_t)(n * size));
	b = accum_pop(&acc, &tps[0]);
	ck_assert_int_eq(acc.buffered, (int64_t)(n * size)); /* in flight */
	accum_release(&acc, b);
	ck_assert_int_eq(acc.buffered, 0);
	accum_release(&acc, b); /* twice is harmless */
	ck_assert_int_eq(acc.buffered, 0);
	ck_assert(accum_has_room(&acc, size));
	accum_batch_free(&acc, b);
	/* One record bigger than everything is let through alone. */
	ck_assert(accum_has_room(&acc, 5000));
	teardown();
}
END_TEST

START_TEST(test_requeue_order)
{
	struct ptoppar *tp = &tps[2];
	struct pbatch *b1, *b2, *b3;
	bool ready;

	setup_with(200, 0, 1 << 20); /* one record per batch */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(append(tp, i, 1, &ready), 0);
	b1 = accum_pop(&acc, tp);
	b2 = accum_pop(&acc, tp);
	b3 = accum_pop(&acc, tp);
	ck_assert_ptr_eq(b1->recs[0].opaque, (void *)0);
	/* Retries come back in creation order, before what is queued. */
	accum_requeue(&acc, b2);
	accum_requeue(&acc, b1);
	accum_requeue(&acc, b3);
	ck_assert_ptr_eq(tp->head, b1);
	ck_assert_ptr_eq(b1->next, b2);
	ck_assert_ptr_eq(b2->next, b3);
	ck_assert_ptr_eq(b3->next, tp->tail);
	ck_assert_ptr_eq(tp->tail->recs[0].opaque, (void *)3);
	/* The open tail takes the next record. */
	ck_assert(!accum_would_open(&acc, tp, 10) ||
		  batch_builder_size(&tp->tail->bb) + 10 > 200);
	ck_assert_uint_eq(acc.queued_records, 4);
	teardown();
}
END_TEST

START_TEST(test_murmur2_partitioner)
{
	/* Kafka: toPositive(murmur2(key)) % n, with Utils.murmur2's values
	 * ("21" -> -973932308, ...). */
	ck_assert_int_eq(partitioner_key("21", 2, 7), 3);
	ck_assert_int_eq(partitioner_key("foobar", 6, 7), 0);
	ck_assert_int_eq(partitioner_key("a-little-bit-long-string", 24, 7), 1);
	ck_assert_int_eq(partitioner_key("a-little-bit-longer-string", 26, 100),
			 19);
	ck_assert_int_eq(
	    partitioner_key("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
			    48, 100),
	    77);
	ck_assert_int_eq(partitioner_key("abc", 3, 100), 7);
	ck_assert_int_eq(partitioner_key("abc", 3, 1), 0);
}
END_TEST

START_TEST(test_sticky_partitioner)
{
	uint64_t rng = 42;
	int hits[4] = {0};
	int32_t p = -1;

	setup_with(1 << 16, 0, 1 << 20);
	for (int i = 0; i < 400; i++) {
		int32_t q = partitioner_sticky_next(&topic, p, &rng);

		ck_assert_int_ge(q, 0);
		ck_assert_int_lt(q, 4);
		if (p >= 0)
			ck_assert_int_ne(q, p); /* always moves */
		hits[q]++;
		p = q;
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(hits[i], 50);
	/* Only partitions with a leader, when some have one. */
	tps[0].leader = -1;
	tps[2].leader = -1;
	for (int i = 0; i < 100; i++) {
		p = partitioner_sticky_next(&topic, p, &rng);
		ck_assert(p == 1 || p == 3);
	}
	/* One available partition: stays. */
	tps[3].leader = -1;
	ck_assert_int_eq(partitioner_sticky_next(&topic, 1, &rng), 1);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accum");
	TCase *tc = tcase_create("accum");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_batch_size);
	tcase_add_test(tc, test_linger_and_ready);
	tcase_add_test(tc, test_buffer_memory);
	tcase_add_test(tc, test_requeue_order);
	tcase_add_test(tc, test_murmur2_partitioner);
	tcase_add_test(tc, test_sticky_partitioner);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
