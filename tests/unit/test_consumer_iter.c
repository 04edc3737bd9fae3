/*
 * test_consumer_iter.c - decoding fetched data: records in order from the
 * position on (earlier ones skipped, also inside a batch), every codec,
 * control batches skipped, a cut-off batch at the end ignored, a corrupt
 * CRC turned into one error event, and the next fetch offset computed from
 * batch headers alone.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/consumer_int.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/crc32c.h"

/* Appends a batch of n records, offsets from base, to out. */
static void add_batch(struct buf *out, int codec, int64_t base, int n)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	char v[32];

	ck_assert_int_eq(batch_builder_begin(&bb, codec), 0);
	for (int i = 0; i < n; i++) {
		int len =
		    snprintf(v, sizeof(v), "v%lld", (long long)(base + i));

		ck_assert_int_eq(batch_builder_add(&bb, 5000 + base + i, "k", 1,
						   v, len, NULL, 0),
				 0);
	}
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
	batch_set_base_offset(bb.out.data, base);
	ck_assert_int_eq(buf_append(out, bb.out.data, bb.out.len), 0);
	batch_builder_free(&bb);
}

static struct citer it;
static fluxo_message_t msg;
static char errbuf[256];

static int drain(const struct buf *data, int64_t *position, int64_t *first,
		 int64_t *last)
{
	struct fpart part = {0};
	int n = 0, rc;

	part.data = data->data;
	part.len = data->len;
	part.hw = 99;
	memset(&it, 0, sizeof(it));
	it.rd = (struct batch_reader)BATCH_READER_INIT;
	it.check_crcs = true;
	it.max_decompressed = 1 << 20;
	citer_start(&it, &part, "t", 3, position);
	*first = *last = -1;
	while ((rc = citer_next(&it, &msg, errbuf, sizeof(errbuf))) == 1) {
		char want[32];

		snprintf(want, sizeof(want), "v%lld", (long long)msg.offset);
		ck_assert_uint_eq(msg.value_len, strlen(want));
		ck_assert(memcmp(msg.value, want, msg.value_len) == 0);
		ck_assert_int_eq(msg.timestamp, 5000 + msg.offset);
		ck_assert_str_eq(msg.topic, "t");
		ck_assert_int_eq(msg.partition, 3);
		ck_assert_int_eq(msg.high_watermark, 99);
		if (*last >= 0)
			ck_assert_int_eq(msg.offset, *last + 1);
		if (*first < 0)
			*first = msg.offset;
		*last = msg.offset;
		n++;
	}
	citer_free(&it);
	return rc < 0 ? -1 : n;
}

START_TEST(test_codecs_and_skip)
{
	for (int codec = 0; codec <= 4; codec++) {
		struct buf data = BUF_INIT;
		int64_t pos = 0, first, last;

		add_batch(&data, codec, 0, 10);
		add_batch(&data, codec, 10, 10);
		add_batch(&data, codec, 20, 5);
		ck_assert_int_eq(drain(&data, &pos, &first, &last), 25);
		ck_assert_int_eq(first, 0);
		ck_assert_int_eq(last, 24);
		ck_assert_int_eq(pos, 25);
		/* From inside the second batch. */
		pos = 13;
		ck_assert_int_eq(drain(&data, &pos, &first, &last), 12);
		ck_assert_int_eq(first, 13);
		ck_assert_int_eq(pos, 25);
		/* Past everything. */
		pos = 40;
		ck_assert_int_eq(drain(&data, &pos, &first, &last), 0);
		ck_assert_int_eq(citer_next_fetch_offset(data.data, data.len),
				 25);
		buf_free(&data);
	}
}
END_TEST

START_TEST(test_truncated_tail)
{
	struct buf data = BUF_INIT;
	int64_t pos = 0, first, last;
	size_t full;

	add_batch(&data, 0, 0, 10);
	full = data.len;
	add_batch(&data, 0, 10, 10);
	/* The response was cut in the middle of the second batch. */
	data.len = full + 30;
	ck_assert_int_eq(drain(&data, &pos, &first, &last), 10);
	ck_assert_int_eq(pos, 10);
	ck_assert_int_eq(citer_next_fetch_offset(data.data, data.len), 10);
	/* Not even one whole batch. */
	ck_assert_int_eq(citer_next_fetch_offset(data.data, 40), -1);
	buf_free(&data);
}
END_TEST

START_TEST(test_control_batch_skipped)
{
	struct buf data = BUF_INIT;
	int64_t pos = 0, first, last;
	size_t second;
	uint8_t *p;

	add_batch(&data, 0, 0, 3);
	second = data.len;
	add_batch(&data, 0, 3, 2);
	add_batch(&data, 0, 5, 3);
	/* Mark the middle batch as a control batch (fix its CRC). */
	p = data.data + second;
	p[BATCH_OFF_ATTRIBUTES + 1] |= BATCH_ATTR_CONTROL;
	{
		struct batch_header h;

		batch_header_decode(p, data.len - second, &h);
		be32_put(p + BATCH_OFF_CRC,
			 crc32c(0, p + BATCH_OFF_ATTRIBUTES,
				batch_total_size(&h) - BATCH_OFF_ATTRIBUTES));
	}
	pos = 0;
	{
		struct fpart part = {0};
		int64_t seen[8];
		int n = 0;

		part.data = data.data;
		part.len = data.len;
		memset(&it, 0, sizeof(it));
		it.rd = (struct batch_reader)BATCH_READER_INIT;
		it.check_crcs = true;
		it.max_decompressed = 1 << 20;
		citer_start(&it, &part, "t", 0, &pos);
		while (citer_next(&it, &msg, errbuf, sizeof(errbuf)) == 1 &&
		       n < 8)
			seen[n++] = msg.offset;
		citer_free(&it);
		ck_assert_int_eq(n, 6);
		ck_assert_int_eq(seen[2], 2);
		ck_assert_int_eq(seen[3], 5);
	}
	(void)first;
	(void)last;
	buf_free(&data);
}
END_TEST

START_TEST(test_corrupt_crc)
{
	struct buf data = BUF_INIT;
	int64_t pos = 0, first, last;
	size_t second;

	add_batch(&data, 0, 0, 4);
	second = data.len;
	add_batch(&data, 0, 4, 4);
	add_batch(&data, 0, 8, 4);
	data.data[second + BATCH_HEADER_SIZE + 3] ^= 0x55;
	/* The first batch is delivered, then one error event. */
	ck_assert_int_eq(drain(&data, &pos, &first, &last), -1);
	ck_assert_int_eq(last, 3);
	ck_assert_int_eq(msg.err, FLUXO_ERR__BAD_MSG);
	ck_assert_ptr_nonnull(strstr(msg.errstr, "corrupt"));
	ck_assert_int_eq(msg.partition, 3);
	/* Without check.crcs the bytes are not verified. */
	{
		struct fpart part = {0};
		int n = 0;

		pos = 0;
		part.data = data.data;
		part.len = data.len;
		memset(&it, 0, sizeof(it));
		it.rd = (struct batch_reader)BATCH_READER_INIT;
		it.check_crcs = false;
		it.max_decompressed = 1 << 20;
		citer_start(&it, &part, "t", 0, &pos);
		while (citer_next(&it, &msg, errbuf, sizeof(errbuf)) == 1)
			n++;
		citer_free(&it);
		ck_assert_int_ge(n, 4);
	}
	/* A nonsense length is an error, not a crash. */
	memset(data.data + second + 8, 0xff, 4);
	pos = 0;
	ck_assert_int_eq(drain(&data, &pos, &first, &last), -1);
	buf_free(&data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("consumer_iter");
	TCase *tc = tcase_create("iter");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_codecs_and_skip);
	tcase_add_test(tc, test_truncated_tail);
	tcase_add_test(tc, test_control_batch_skipped);
	tcase_add_test(tc, test_corrupt_crc);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
