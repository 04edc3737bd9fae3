/*
 * probe_client.c - times single requests against one broker, for the
 * integration tests that assert how long the broker holds a request:
 * test_flush_on_ack.sh (a produce is acknowledged only after its
 * fdatasync) and test_fetch_wait.sh (a fetch waits in the purgatory for
 * max_wait_ms or min_bytes, and wakes up when a produce arrives).
 *
 *   probe_client HOST:PORT produce TOPIC N
 *       N produces of one record each to partition 0, one after the
 *       other (acks=1), each on its own request; prints one line per
 *       produce, "offset=O ms=M", then "min=A median=B max=C" in
 *       milliseconds.
 *   probe_client HOST:PORT fetch TOPIC OFFSET MAX_WAIT_MS MIN_BYTES
 *       one Fetch of partition 0 from OFFSET; prints "sent=T" (wall-clock
 *       ms, flushed at once) when the request is on the wire, then
 *       "end=T ms=M error=E records=R bytes=B hw=H" when the answer is in.
 *   probe_client HOST:PORT end TOPIC
 *       prints the latest offset of partition 0 (ListOffsets).
 *
 * The broker at HOST:PORT must lead partition 0; the client speaks the
 * wire protocol directly so that one request is exactly one call, with no
 * client-side batching, retries or polling to blur the times. Exits 0 when
 * every request was answered without error, else says why and exits 1.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/rpc.h"
#include "fluxo.pb-c.h"
#include "rawclient.h"

/* Longer than any wait a test asks of the broker. */
#define CALL_TIMEOUT_MS 30000

static const char *topic;
static int conn = -1;

static void dial(const char *hostport)
{
	char host[256], err[256];
	int port;

	if (net_parse_hostport(hostport, host, sizeof(host), &port))
		rc_die("bad address %s", hostport);
	conn = net_connect(host, port, 5000, err, sizeof(err));
	if (conn < 0)
		rc_die("connect %s: %s", hostport, err);
}

static int send_req(Fluxo__Request *req, const void *payload, size_t plen)
{
	static int32_t corr;

	req->correlation_id = ++corr;
	req->client_id = "probe_client";
	return rpc_send(conn, &req->base, payload, plen,
			clock_mono_ms() + CALL_TIMEOUT_MS);
}

/* The response (caller frees) and, in rb, its payload after the head. */
static Fluxo__Response *recv_resp(struct buf *rb, struct frame_info *fi)
{
	Fluxo__Response *resp;

	if (rpc_recv(conn, 64u << 20, clock_mono_ms() + CALL_TIMEOUT_MS, rb,
		     fi) < 0)
		rc_die("no response within %d ms", CALL_TIMEOUT_MS);
	resp = fluxo__response__unpack(NULL, fi->head_len, rb->data);
	if (!resp)
		rc_die("undecodable response");
	if (resp->error)
		rc_die("request refused: error %d (%s)", (int)resp->error,
		    resp->error_message ? resp->error_message : "");
	return resp;
}

/* One produce of one record; returns its offset, *ms its latency. */
static int64_t produce_one(int i, double *ms)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ProduceRequest pr = FLUXO__PRODUCE_REQUEST__INIT;
	Fluxo__ProduceTopic pt = FLUXO__PRODUCE_TOPIC__INIT;
	Fluxo__ProducePartition pp = FLUXO__PRODUCE_PARTITION__INIT;
	Fluxo__ProduceTopic *ptp = &pt;
	Fluxo__ProducePartition *ppp = &pp;
	Fluxo__ProducePartitionResponse *r;
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct buf rb = BUF_INIT;
	struct frame_info fi;
	Fluxo__Response *resp;
	char val[64];
	int len = snprintf(val, sizeof(val), "probe-%d", i);
	int64_t t0, off;

	if (batch_builder_begin(&bb, 0) ||
	    batch_builder_add(&bb, clock_wall_ms(), NULL, -1, val, len, NULL,
			      0) ||
	    batch_builder_finish(&bb, -1, -1, -1, -1))
		rc_die("cannot build a batch");
	pp.partition = 0;
	pp.records_size = (uint32_t)bb.out.len;
	pt.name = (char *)topic;
	pt.partitions = &ppp;
	pt.n_partitions = 1;
	pr.acks = 1;
	pr.timeout_ms = CALL_TIMEOUT_MS;
	pr.topics = &ptp;
	pr.n_topics = 1;
	pr.transactional_id = "";
	req.api = FLUXO__API_KEY__PRODUCE;
	req.body_case = FLUXO__REQUEST__BODY_PRODUCE;
	req.produce = &pr;

	t0 = clock_mono_us();
	if (send_req(&req, bb.out.data, bb.out.len) < 0)
		rc_die("cannot send produce %d", i);
	resp = recv_resp(&rb, &fi);
	*ms = (double)(clock_mono_us() - t0) / 1000.0;
	if (resp->body_case != FLUXO__RESPONSE__BODY_PRODUCE ||
	    resp->produce->n_topics != 1 ||
	    resp->produce->topics[0]->n_partitions != 1)
		rc_die("bad produce response");
	r = resp->produce->topics[0]->partitions[0];
	if (r->error)
		rc_die("produce %d: error %d (%s)", i, (int)r->error,
		    r->error_message ? r->error_message : "");
	off = r->base_offset;
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&rb);
	batch_builder_free(&bb);
	return off;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void cmd_produce(int n)
{
	double *ms;

	if (n < 1 || n > 100000)
		rc_die("N must be 1..100000");
	ms = calloc((size_t)n, sizeof(*ms));
	if (!ms)
		rc_die("out of memory");
	for (int i = 0; i < n; i++) {
		int64_t off = produce_one(i, &ms[i]);

		printf("offset=%" PRId64 " ms=%.1f\n", off, ms[i]);
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("min=%.1f median=%.1f max=%.1f\n", ms[0], ms[n / 2], ms[n - 1]);
	free(ms);
}

/* Records in the batches of p[0..len) at or after offset from. */
static long count_records(const uint8_t *p, size_t len, int64_t from)
{
	struct batch_header h;
	long n = 0;

	while (len >= BATCH_HEADER_SIZE &&
	       batch_header_decode(p, len, &h) == 0 &&
	       batch_total_size(&h) <= len) {
		for (int64_t o = h.base_offset; o <= batch_last_offset(&h); o++)
			n += o >= from;
		p += batch_total_size(&h);
		len -= batch_total_size(&h);
	}
	return n;
}

static void cmd_fetch(int64_t offset, int max_wait, int min_bytes)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__FetchRequest fr = FLUXO__FETCH_REQUEST__INIT;
	Fluxo__FetchTopic ft = FLUXO__FETCH_TOPIC__INIT;
	Fluxo__FetchPartition fp = FLUXO__FETCH_PARTITION__INIT;
	Fluxo__FetchTopic *ftp = &ft;
	Fluxo__FetchPartition *fpp = &fp;
	Fluxo__FetchPartitionResponse *r;
	struct buf rb = BUF_INIT;
	struct frame_info fi;
	Fluxo__Response *resp;
	int64_t t0, wall0;

	fp.partition = 0;
	fp.current_leader_epoch = -1;
	fp.fetch_offset = offset;
	fp.last_fetched_epoch = -1;
	fp.log_start_offset = -1;
	fp.partition_max_bytes = 1 << 20;
	ft.name = (char *)topic;
	ft.partitions = &fpp;
	ft.n_partitions = 1;
	fr.replica_id = -1;
	fr.replica_epoch = -1;
	fr.max_wait_ms = max_wait;
	fr.min_bytes = min_bytes;
	fr.max_bytes = 1 << 20;
	fr.topics = &ftp;
	fr.n_topics = 1;
	req.api = FLUXO__API_KEY__FETCH;
	req.body_case = FLUXO__REQUEST__BODY_FETCH;
	req.fetch = &fr;

	t0 = clock_mono_us();
	wall0 = clock_wall_ms();
	if (send_req(&req, NULL, 0) < 0)
		rc_die("cannot send the fetch");
	printf("sent=%" PRId64 "\n", wall0);
	fflush(stdout);
	resp = recv_resp(&rb, &fi);
	if (resp->body_case != FLUXO__RESPONSE__BODY_FETCH ||
	    resp->fetch->n_topics != 1 ||
	    resp->fetch->topics[0]->n_partitions != 1)
		rc_die("bad fetch response");
	r = resp->fetch->topics[0]->partitions[0];
	if (r->records_size > fi.payload_len)
		rc_die("the fetch response claims %u bytes of %u", r->records_size,
		    fi.payload_len);
	printf("end=%" PRId64 " ms=%.1f error=%d records=%ld bytes=%u "
	       "hw=%" PRId64 "\n",
	       clock_wall_ms(), (double)(clock_mono_us() - t0) / 1000.0,
	       (int)r->error,
	       count_records(rb.data + fi.head_len, r->records_size, offset),
	       r->records_size, r->high_watermark);
	if (r->error)
		rc_die("fetch: error %d", (int)r->error);
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&rb);
}

static void cmd_end(void)
{
	struct rc_list_offsets lo;
	Fluxo__ListOffsetsPartitionResponse *r;
	struct buf rb = BUF_INIT;
	struct frame_info fi;
	Fluxo__Response *resp;

	rc_list_offsets_init(&lo, topic, 0, -1);
	if (send_req(&lo.req, NULL, 0) < 0)
		rc_die("cannot send ListOffsets");
	resp = recv_resp(&rb, &fi);
	if (resp->body_case != FLUXO__RESPONSE__BODY_LIST_OFFSETS ||
	    resp->list_offsets->n_topics != 1 ||
	    resp->list_offsets->topics[0]->n_partitions != 1)
		rc_die("bad ListOffsets response");
	r = resp->list_offsets->topics[0]->partitions[0];
	if (r->error)
		rc_die("ListOffsets: error %d", (int)r->error);
	printf("%" PRId64 "\n", r->offset);
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&rb);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		rc_die("usage: probe_client HOST:PORT produce|fetch|end TOPIC "
		    "[ARGS] (see the file's header)");
	topic = argv[3];
	dial(argv[1]);
	if (strcmp(argv[2], "produce") == 0 && argc == 5)
		cmd_produce(atoi(argv[4]));
	else if (strcmp(argv[2], "fetch") == 0 && argc == 7)
		cmd_fetch(strtoll(argv[4], NULL, 10), atoi(argv[5]),
			  atoi(argv[6]));
	else if (strcmp(argv[2], "end") == 0 && argc == 4)
		cmd_end();
	else
		rc_die("bad arguments for %s", argv[2]);
	close(conn);
	return 0;
}
