/*
 * badinput.c - hostile and broken requests against a running broker.
 *
 * Run by test_bad_input.sh with FLUXO_BOOTSTRAP=host:port and
 * FLUXO_TOPIC (an existing topic with one partition). Every case checks
 * what a client would see (an error code, or a closed connection), that
 * the broker keeps serving other connections, and that nothing was
 * appended (the log end offset is unchanged).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/net.h"
#include "common/rpc.h"
#include "fluxo.pb-c.h"
#include "rawclient.h"

static char host[256];
static int port;
static const char *topic;

static int dial(void)
{
	char err[256];
	int fd = net_connect(host, port, 5000, err, sizeof(err));

	ck_assert_msg(fd >= 0, "connect: %s", err);
	return fd;
}

/* True when the peer closes fd within 5 s. */
static bool closed_by_peer(int fd)
{
	int64_t deadline = clock_mono_ms() + 5000;
	char b[256];

	while (clock_mono_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, b, sizeof(b));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

static Fluxo__Response *call(int fd, Fluxo__Request *req, const void *payload,
			     size_t plen, struct buf *rb)
{
	struct frame_info fi;
	int rc;

	rc = rpc_call(fd, &req->base, payload, plen, 64u << 20, 10000, rb,
		      &fi);
	if (rc < 0)
		return NULL;
	return fluxo__response__unpack(NULL, fi.head_len, rb->data);
}

/* ListOffsets(latest) of partition 0 of the test topic, on a fresh
 * connection: also proves the broker still serves. */
static int64_t log_end(void)
{
	struct rc_list_offsets lo;
	Fluxo__Response *resp;
	struct buf rb = BUF_INIT;
	int64_t off;
	int fd = dial();

	rc_list_offsets_init(&lo, topic, 0, -1);
	lo.req.correlation_id = 7;
	resp = call(fd, &lo.req, NULL, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->correlation_id, 7);
	ck_assert_int_eq(resp->list_offsets->topics[0]->partitions[0]->error,
			 0);
	off = resp->list_offsets->topics[0]->partitions[0]->offset;
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&rb);
	close(fd);
	return off;
}

static void build_batch(struct buf *out, int n)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;

	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(batch_builder_add(&bb, clock_wall_ms(), NULL,
						   -1, "value", 5, NULL, 0),
				 0);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
	buf_reset(out);
	buf_append(out, bb.out.data, bb.out.len);
	batch_builder_free(&bb);
}

/* A produce of data (records_size = size) to topic/partition 0. */
static Fluxo__Response *produce(int fd, const char *t, int acks,
				const void *data, uint32_t size,
				size_t payload_len, int version,
				struct buf *rb)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ProduceRequest pr = FLUXO__PRODUCE_REQUEST__INIT;
	Fluxo__ProduceTopic pt = FLUXO__PRODUCE_TOPIC__INIT;
	Fluxo__ProducePartition pp = FLUXO__PRODUCE_PARTITION__INIT;
	Fluxo__ProduceTopic *ptp = &pt;
	Fluxo__ProducePartition *ppp = &pp;

	pp.partition = 0;
	pp.records_size = size;
	pt.name = (char *)t;
	pt.partitions = &ppp;
	pt.n_partitions = 1;
	pr.acks = acks;
	pr.timeout_ms = 5000;
	pr.topics = &ptp;
	pr.n_topics = 1;
	req.api = FLUXO__API_KEY__PRODUCE;
	req.version = version;
	req.correlation_id = 11;
	req.client_id = "badinput";
	req.body_case = FLUXO__REQUEST__BODY_PRODUCE;
	req.produce = &pr;
	return call(fd, &req, data, payload_len, rb);
}

START_TEST(test_good_produce_appends)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	int64_t before = log_end();
	Fluxo__Response *resp;
	int fd = dial();

	build_batch(&b, 3);
	resp = produce(fd, topic, 1, b.data, (uint32_t)b.len, b.len, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error, 0);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->base_offset,
			 before);
	ck_assert_int_eq(log_end(), before + 3);
	fluxo__response__free_unpacked(resp, NULL);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_bad_crc)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	int64_t before = log_end();
	Fluxo__Response *resp;
	int fd = dial();

	build_batch(&b, 2);
	b.data[b.len - 1] ^= 0x40;	/* a record byte: the CRC breaks */
	resp = produce(fd, topic, 1, b.data, (uint32_t)b.len, b.len, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error,
			 FLUXO__ERROR_CODE__CORRUPT_MESSAGE);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->base_offset,
			 -1);
	fluxo__response__free_unpacked(resp, NULL);
	/* The same connection keeps working. */
	build_batch(&b, 1);
	resp = produce(fd, topic, 1, b.data, (uint32_t)b.len, b.len, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error, 0);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->base_offset,
			 before);
	fluxo__response__free_unpacked(resp, NULL);
	ck_assert_int_eq(log_end(), before + 1);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_truncated_batch_and_size_lie)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	int64_t before = log_end();
	Fluxo__Response *resp;
	int fd = dial();

	build_batch(&b, 4);
	/* Half a batch. */
	resp = produce(fd, topic, 1, b.data, (uint32_t)(b.len / 2), b.len / 2,
		       0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error,
			 FLUXO__ERROR_CODE__CORRUPT_MESSAGE);
	fluxo__response__free_unpacked(resp, NULL);
	/* records_size larger than the payload. */
	resp = produce(fd, topic, 1, b.data, (uint32_t)b.len + 100, b.len, 0,
		       &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->error, FLUXO__ERROR_CODE__INVALID_REQUEST);
	fluxo__response__free_unpacked(resp, NULL);
	ck_assert_int_eq(log_end(), before);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_unknown_topic_names_the_setting)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	Fluxo__Response *resp;
	int fd = dial();

	build_batch(&b, 1);
	resp = produce(fd, "no-such-topic", 1, b.data, (uint32_t)b.len, b.len,
		       0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error,
			 FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION);
	ck_assert_ptr_nonnull(
		strstr(resp->produce->topics[0]->partitions[0]->error_message,
		       "auto.create.topics.enable"));
	fluxo__response__free_unpacked(resp, NULL);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_wrong_version_and_unknown_api)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__Response *resp;
	int64_t before = log_end();
	int fd = dial();

	build_batch(&b, 1);
	resp = produce(fd, topic, 1, b.data, (uint32_t)b.len, b.len, 99, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->error, FLUXO__ERROR_CODE__UNSUPPORTED_VERSION);
	ck_assert_ptr_nonnull(strstr(resp->error_message, "version"));
	fluxo__response__free_unpacked(resp, NULL);
	req.api = 77;
	req.correlation_id = 5;
	resp = call(fd, &req, NULL, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->correlation_id, 5);
	ck_assert_int_eq(resp->error, FLUXO__ERROR_CODE__UNSUPPORTED_VERSION);
	fluxo__response__free_unpacked(resp, NULL);
	ck_assert_int_eq(log_end(), before);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_bad_acks)
{
	struct buf b = BUF_INIT, rb = BUF_INIT;
	Fluxo__Response *resp;
	int64_t before = log_end();
	int fd = dial();

	build_batch(&b, 1);
	resp = produce(fd, topic, 7, b.data, (uint32_t)b.len, b.len, 0, &rb);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->produce->topics[0]->partitions[0]->error,
			 FLUXO__ERROR_CODE__INVALID_REQUIRED_ACKS);
	fluxo__response__free_unpacked(resp, NULL);
	ck_assert_int_eq(log_end(), before);
	close(fd);
	buf_free(&b);
	buf_free(&rb);
}
END_TEST

START_TEST(test_oversized_frame_closes)
{
	uint8_t prefix[8];
	int64_t before = log_end();
	int fd = dial();

	be32_put(prefix, 0x7fffffffu);
	be32_put(prefix + 4, 16);
	ck_assert_int_eq(write(fd, prefix, 8), 8);
	ck_assert(closed_by_peer(fd));
	close(fd);
	ck_assert_int_eq(log_end(), before);
}
END_TEST

START_TEST(test_garbage_closes)
{
	uint8_t junk[4096];
	int64_t before = log_end();
	int fd = dial();

	srand(42);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	/* A plausible length with an undecodable head. */
	be32_put(junk, 200);
	be32_put(junk + 4, 100);
	memset(junk + 8, 0xff, 100);
	ck_assert_int_eq(write(fd, junk, 204), 204);
	ck_assert(closed_by_peer(fd));
	close(fd);
	/* Random bytes from the start. */
	fd = dial();
	junk[0] = 0x00;
	junk[1] = 0x00;
	junk[2] = 0x00;
	junk[3] = 0x02;
	ck_assert_int_eq(write(fd, junk, 64), 64);
	ck_assert(closed_by_peer(fd));
	close(fd);
	ck_assert_int_eq(log_end(), before);
}
END_TEST

START_TEST(test_slow_partial_frame_does_not_block_others)
{
	uint8_t prefix[8];
	int fd = dial();

	/* Half a frame, never finished: other clients are unaffected. */
	be32_put(prefix, 1000);
	be32_put(prefix + 4, 10);
	ck_assert_int_eq(write(fd, prefix, 8), 8);
	for (int i = 0; i < 5; i++)
		(void)log_end();
	close(fd);
}
END_TEST

int main(void)
{
	const char *bs = getenv("FLUXO_BOOTSTRAP");
	Suite *s = suite_create("bad_input");
	TCase *tc = tcase_create("bad_input");
	SRunner *sr;
	int failed;

	topic = getenv("FLUXO_TOPIC");
	if (!bs || !topic || net_parse_hostport(bs, host, sizeof(host),
						&port) < 0) {
		fprintf(stderr, "set FLUXO_BOOTSTRAP=host:port and FLUXO_TOPIC\n");
		return 2;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_good_produce_appends);
	tcase_add_test(tc, test_bad_crc);
	tcase_add_test(tc, test_truncated_batch_and_size_lie);
	tcase_add_test(tc, test_unknown_topic_names_the_setting);
	tcase_add_test(tc, test_wrong_version_and_unknown_api);
	tcase_add_test(tc, test_bad_acks);
	tcase_add_test(tc, test_oversized_frame_closes);
	tcase_add_test(tc, test_garbage_closes);
	tcase_add_test(tc, test_slow_partial_frame_does_not_block_others);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
