/*
 * idem_client.c - a raw idempotent producer for test_idempotence.sh.
 *
 * Speaks the wire protocol directly (no libfluxo), so that the test
 * decides exactly which batch is sent and when: the same batch twice, a
 * sequence with a gap, a run that mixes a retry with new batches. It finds
 * the partition's leader through Metadata on every call, so it follows a
 * leader change.
 *
 * Usage (FLUXO_BOOTSTRAP=host:port, FLUXO_TOPIC=name, partition 0):
 *
 *   idem_client init STATE         InitProducerId; STATE records the id
 *   idem_client rules STATE        duplicates, gaps, mixed runs, bad fields
 *   idem_client send STATE NAME N  the next batch of N records, as NAME
 *   idem_client resend STATE NAME  NAME again: same offset, nothing added
 *   idem_client fill STATE COUNT   COUNT batches of 100 records
 *   idem_client resend-last STATE K  the last K batches again, and the one
 *                                  before them (out of the five-batch
 *                                  window when K = 5): refused
 *
 * STATE is a text file: "pid epoch next_seq" then one line per batch sent,
 * "name seq records offset". Exits 0 when every expectation held, else
 * prints what did not and exits 1.
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
#include "common/err.h"
#include "common/net.h"
#include "common/rpc.h"
#include "fluxo.pb-c.h"
#include "rawclient.h"

#define MAX_SENT 4096

struct sent {
	char name[32];
	int32_t seq;
	int n;
	int64_t offset;
};

struct state {
	int64_t pid;
	int16_t epoch;
	int32_t next_seq;
	struct sent s[MAX_SENT];
	int ns;
};

static const char *topic;
static char boot_host[256];
static int boot_port;

static int dial(const char *host, int port)
{
	char err[256];
	int fd = net_connect(host, port, 5000, err, sizeof(err));

	if (fd < 0)
		rc_die("connect %s:%d: %s", host, port, err);
	return fd;
}

/* As dial, but -1 when nobody answers (a leader that just died). */
static int try_dial(const char *host, int port)
{
	char err[256];

	return net_connect(host, port, 5000, err, sizeof(err));
}

static Fluxo__Response *call(int fd, Fluxo__Request *req, const void *payload,
			     size_t plen)
{
	struct buf rb = BUF_INIT;
	struct frame_info fi;
	Fluxo__Response *resp;

	if (rpc_call(fd, &req->base, payload, plen, 64u << 20, 15000, &rb,
		     &fi) < 0)
		rc_die("request %d failed", (int)req->api);
	resp = fluxo__response__unpack(NULL, fi.head_len, rb.data);
	buf_free(&rb);
	if (!resp)
		rc_die("undecodable response");
	return resp;
}

/* The leader connection, kept for the whole run (few sockets: the tests
 * around share the loopback's ports). */
static int leader_fd = -1;

/* A connection to the leader of partition 0 (waits up to 30 s, for the
 * controller to notice a dead leader). Not to be closed by the caller. */
static int dial_leader(void)
{
	int64_t deadline = clock_mono_ms() + 30000;

	if (leader_fd >= 0)
		return leader_fd;

	while (clock_mono_ms() < deadline) {
		Fluxo__Request req = FLUXO__REQUEST__INIT;
		Fluxo__MetadataRequest mr = FLUXO__METADATA_REQUEST__INIT;
		char *topics[1] = {(char *)topic};
		Fluxo__Response *resp;
		int fd = dial(boot_host, boot_port), leader = -1;

		mr.topics = topics;
		mr.n_topics = 1;
		req.api = FLUXO__API_KEY__METADATA;
		req.correlation_id = 1;
		req.client_id = "idem_client";
		req.body_case = FLUXO__REQUEST__BODY_METADATA;
		req.metadata = &mr;
		resp = call(fd, &req, NULL, 0);
		close(fd);
		if (resp->body_case == FLUXO__RESPONSE__BODY_METADATA &&
		    resp->metadata->n_topics == 1 &&
		    resp->metadata->topics[0]->n_partitions > 0)
			leader =
			    resp->metadata->topics[0]->partitions[0]->leader;
		for (size_t i = 0; leader >= 0 && i < resp->metadata->n_brokers;
		     i++) {
			Fluxo__BrokerEndpoint *b = resp->metadata->brokers[i];

			if (b->node_id == leader) {
				fd = try_dial(b->host, b->port);
				if (fd >= 0) {
					fluxo__response__free_unpacked(resp,
								       NULL);
					leader_fd = fd;
					return fd;
				}
			}
		}
		fluxo__response__free_unpacked(resp, NULL);
		usleep(200 * 1000);
	}
	rc_die("no reachable leader for %s-0 within 30 s", topic);
	return -1;
}

static int64_t log_end(void)
{
	struct rc_list_offsets lo;
	Fluxo__Response *resp;
	int64_t off;
	int fd = dial_leader();

	rc_list_offsets_init(&lo, topic, 0, -1);
	lo.req.correlation_id = 2;
	resp = call(fd, &lo.req, NULL, 0);
	if (resp->body_case != FLUXO__RESPONSE__BODY_LIST_OFFSETS ||
	    resp->list_offsets->topics[0]->partitions[0]->error)
		rc_die("ListOffsets failed");
	off = resp->list_offsets->topics[0]->partitions[0]->offset;
	fluxo__response__free_unpacked(resp, NULL);
	return off;
}

/* Appends a batch of n records (values "seq-<k>") of producer st to out. */
static void build(struct buf *out, const struct state *st, int16_t epoch,
		  int32_t seq, int n)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	char val[128];

	batch_builder_begin(&bb, 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(val, sizeof(val), "seq-%" PRId32 "-%-80d",
				   seq + i, 0);

		if (batch_builder_add(&bb, clock_wall_ms(), NULL, -1, val, len,
				      NULL, 0))
			rc_die("out of memory");
	}
	if (batch_builder_finish(&bb, st->pid, epoch, seq, -1))
		rc_die("cannot build a batch");
	buf_append(out, bb.out.data, bb.out.len);
	batch_builder_free(&bb);
}

/* One produce of data (acks=all) to the leader; returns the response's
 * partition entry (caller frees resp). */
static Fluxo__ProducePartitionResponse *produce(const struct buf *data,
						Fluxo__Response **resp)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ProduceRequest pr = FLUXO__PRODUCE_REQUEST__INIT;
	Fluxo__ProduceTopic pt = FLUXO__PRODUCE_TOPIC__INIT;
	Fluxo__ProducePartition pp = FLUXO__PRODUCE_PARTITION__INIT;
	Fluxo__ProduceTopic *ptp = &pt;
	Fluxo__ProducePartition *ppp = &pp;
	int fd = dial_leader();

	pp.partition = 0;
	pp.records_size = (uint32_t)data->len;
	pt.name = (char *)topic;
	pt.partitions = &ppp;
	pt.n_partitions = 1;
	pr.acks = -1;
	pr.timeout_ms = 10000;
	pr.topics = &ptp;
	pr.n_topics = 1;
	pr.transactional_id = "";
	req.api = FLUXO__API_KEY__PRODUCE;
	req.correlation_id = 3;
	req.client_id = "idem_client";
	req.body_case = FLUXO__REQUEST__BODY_PRODUCE;
	req.produce = &pr;
	*resp = call(fd, &req, data->data, data->len);
	if ((*resp)->body_case != FLUXO__RESPONSE__BODY_PRODUCE ||
	    (*resp)->produce->n_topics != 1 ||
	    (*resp)->produce->topics[0]->n_partitions != 1)
		rc_die("bad produce response (error %d: %s)", (int)(*resp)->error,
		    (*resp)->error_message);
	return (*resp)->produce->topics[0]->partitions[0];
}

/* Sends one batch; expects error want; returns its base offset. */
static int64_t send_one(const struct state *st, int16_t epoch, int32_t seq,
			int n, int want)
{
	struct buf b = BUF_INIT;
	Fluxo__Response *resp;
	Fluxo__ProducePartitionResponse *pp;
	int64_t off;

	build(&b, st, epoch, seq, n);
	pp = produce(&b, &resp);
	if ((int)pp->error != want)
		rc_die("batch seq %d (%d records): error %d (%s), expected %d",
		    seq, n, (int)pp->error, pp->error_message, want);
	off = pp->base_offset;
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&b);
	return off;
}

static void load(const char *path, struct state *st)
{
	FILE *f = fopen(path, "r");
	int epoch;

	memset(st, 0, sizeof(*st));
	if (!f || fscanf(f, "%" SCNd64 " %d %" SCNd32, &st->pid, &epoch,
			 &st->next_seq) != 3)
		rc_die("cannot read %s", path);
	st->epoch = (int16_t)epoch;
	while (st->ns < MAX_SENT) {
		struct sent *s = &st->s[st->ns];

		if (fscanf(f, "%31s %" SCNd32 " %d %" SCNd64, s->name, &s->seq,
			   &s->n, &s->offset) != 4)
			break;
		st->ns++;
	}
	fclose(f);
}

static void save(const char *path, const struct state *st)
{
	FILE *f = fopen(path, "w");

	if (!f)
		rc_die("cannot write %s", path);
	fprintf(f, "%" PRId64 " %d %" PRId32 "\n", st->pid, st->epoch,
		st->next_seq);
	for (int i = 0; i < st->ns; i++)
		fprintf(f, "%s %" PRId32 " %d %" PRId64 "\n", st->s[i].name,
			st->s[i].seq, st->s[i].n, st->s[i].offset);
	fclose(f);
}

/* Sends the next batch of n records and records it as name. */
static int64_t send_next(struct state *st, const char *name, int n)
{
	struct sent *s;

	if (st->ns == MAX_SENT)
		rc_die("too many batches");
	s = &st->s[st->ns++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->seq = st->next_seq;
	s->n = n;
	s->offset = send_one(st, st->epoch, s->seq, n, 0);
	st->next_seq += n;
	return s->offset;
}

static void resend(const struct state *st, const struct sent *s)
{
	int64_t end = log_end(), off;

	off = send_one(st, st->epoch, s->seq, s->n, 0);
	if (off != s->offset)
		rc_die("retry of %s (seq %d) got offset %" PRId64
		    ", first sent at %" PRId64,
		    s->name, s->seq, off, s->offset);
	if (log_end() != end)
		rc_die("retry of %s appended: log end %" PRId64 " -> %" PRId64,
		    s->name, end, log_end());
}

static void cmd_init(const char *path)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__InitProducerIdRequest ip = FLUXO__INIT_PRODUCER_ID_REQUEST__INIT;
	Fluxo__Response *resp;
	struct state st;
	int fd = dial(boot_host, boot_port);

	ip.transactional_id = "";
	ip.producer_id = -1;
	ip.producer_epoch = -1;
	req.api = FLUXO__API_KEY__INIT_PRODUCER_ID;
	req.correlation_id = 4;
	req.body_case = FLUXO__REQUEST__BODY_INIT_PRODUCER_ID;
	req.init_producer_id = &ip;
	resp = call(fd, &req, NULL, 0);
	close(fd);
	if (resp->body_case != FLUXO__RESPONSE__BODY_INIT_PRODUCER_ID ||
	    resp->init_producer_id->error)
		rc_die("InitProducerId failed");
	memset(&st, 0, sizeof(st));
	st.pid = resp->init_producer_id->producer_id;
	st.epoch = (int16_t)resp->init_producer_id->producer_epoch;
	fluxo__response__free_unpacked(resp, NULL);
	save(path, &st);
	printf("producer id %" PRId64 " epoch %d\n", st.pid, st.epoch);
}

/* A produce of a non-idempotent batch of n records; returns its offset. */
static int64_t plain(int n)
{
	struct buf b = BUF_INIT;
	struct batch_builder bb = BATCH_BUILDER_INIT;
	Fluxo__Response *resp;
	Fluxo__ProducePartitionResponse *pp;
	int64_t off;

	batch_builder_begin(&bb, 0);
	for (int i = 0; i < n; i++)
		batch_builder_add(&bb, clock_wall_ms(), NULL, -1, "plain", 5,
				  NULL, 0);
	batch_builder_finish(&bb, -1, -1, -1, -1);
	buf_append(&b, bb.out.data, bb.out.len);
	batch_builder_free(&bb);
	pp = produce(&b, &resp);
	if (pp->error)
		rc_die("plain produce: %d", (int)pp->error);
	off = pp->base_offset;
	fluxo__response__free_unpacked(resp, NULL);
	buf_free(&b);
	return off;
}

static void cmd_rules(const char *path)
{
	struct state st;
	struct buf run = BUF_INIT;
	Fluxo__Response *resp;
	Fluxo__ProducePartitionResponse *pp;
	int64_t a, b, c, end;

	load(path, &st);
	/* The same batch twice: one offset, one copy. */
	a = send_next(&st, "a", 3);
	resend(&st, &st.s[st.ns - 1]);
	/* A gap: refused, nothing appended. */
	end = log_end();
	send_one(&st, st.epoch, st.next_seq + 2, 1,
		 FLUXO__ERROR_CODE__OUT_OF_ORDER_SEQUENCE_NUMBER);
	/* A producer id without a base sequence. */
	send_one(&st, st.epoch, -1, 1, FLUXO__ERROR_CODE__INVALID_RECORD);
	if (log_end() != end)
		rc_die("refused batches were appended");
	/* A run of the retry of a, then b, after another writer's
	 * records: per-batch offsets. */
	plain(4);
	build(&run, &st, st.epoch, st.s[st.ns - 1].seq, 3);
	build(&run, &st, st.epoch, st.next_seq, 2);
	pp = produce(&run, &resp);
	if (pp->error || pp->n_batch_base_offsets != 2 ||
	    pp->batch_base_offsets[0] != a || pp->base_offset != a)
		rc_die("mixed run: error %d, %zu per-batch offsets, base %" PRId64
		    " (a at %" PRId64 ")",
		    (int)pp->error, pp->n_batch_base_offsets, pp->base_offset,
		    a);
	b = pp->batch_base_offsets[1];
	if (b != end + 4)
		rc_die("mixed run: b at %" PRId64 ", expected %" PRId64, b,
		    end + 4);
	fluxo__response__free_unpacked(resp, NULL);
	st.s[st.ns].seq = st.next_seq;
	st.s[st.ns].n = 2;
	st.s[st.ns].offset = b;
	snprintf(st.s[st.ns].name, sizeof(st.s[st.ns].name), "b");
	st.ns++;
	st.next_seq += 2;
	/* The same run again: all duplicates. */
	end = log_end();
	pp = produce(&run, &resp);
	if (pp->error || pp->base_offset != a ||
	    pp->n_batch_base_offsets != 2 || pp->batch_base_offsets[1] != b ||
	    log_end() != end)
		rc_die("repeated run: error %d base %" PRId64, (int)pp->error,
		    pp->base_offset);
	fluxo__response__free_unpacked(resp, NULL);
	/* In order again. */
	c = send_next(&st, "c", 1);
	if (c != end)
		rc_die("c at %" PRId64 ", expected %" PRId64, c, end);
	buf_free(&run);
	save(path, &st);
	printf("rules ok: a=%" PRId64 " b=%" PRId64 " c=%" PRId64 "\n", a, b,
	       c);
}

static const struct sent *find(const struct state *st, const char *name)
{
	for (int i = st->ns - 1; i >= 0; i--)
		if (strcmp(st->s[i].name, name) == 0)
			return &st->s[i];
	rc_die("no batch named %s", name);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *bs = getenv("FLUXO_BOOTSTRAP");
	struct state st;

	topic = getenv("FLUXO_TOPIC");
	if (!bs || !topic || argc < 3)
		rc_die("usage: FLUXO_BOOTSTRAP=h:p FLUXO_TOPIC=t idem_client "
		    "CMD STATE [ARGS]");
	if (net_parse_hostport(bs, boot_host, sizeof(boot_host), &boot_port))
		rc_die("bad FLUXO_BOOTSTRAP %s", bs);
	if (strcmp(argv[1], "init") == 0) {
		cmd_init(argv[2]);
	} else if (strcmp(argv[1], "rules") == 0) {
		cmd_rules(argv[2]);
	} else if (strcmp(argv[1], "send") == 0 && argc == 5) {
		load(argv[2], &st);
		printf("%s at %" PRId64 "\n", argv[3],
		       send_next(&st, argv[3], atoi(argv[4])));
		save(argv[2], &st);
	} else if (strcmp(argv[1], "resend") == 0 && argc == 4) {
		load(argv[2], &st);
		resend(&st, find(&st, argv[3]));
		printf("%s again at %" PRId64 "\n", argv[3],
		       find(&st, argv[3])->offset);
	} else if (strcmp(argv[1], "fill") == 0 && argc == 4) {
		char name[32];
		int n = atoi(argv[3]);

		load(argv[2], &st);
		for (int i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			send_next(&st, name, 100);
		}
		save(argv[2], &st);
		printf("filled %d batches, log end %" PRId64 "\n", n,
		       log_end());
	} else if (strcmp(argv[1], "resend-last") == 0 && argc == 4) {
		int k = atoi(argv[3]);

		load(argv[2], &st);
		if (k < 1 || k > 5 || st.ns < k + 1)
			rc_die("resend-last needs 1..5 and more batches sent");
		for (int i = st.ns - k; i < st.ns; i++)
			resend(&st, &st.s[i]);
		if (k == 5)
			send_one(
			    &st, st.epoch, st.s[st.ns - 6].seq,
			    st.s[st.ns - 6].n,
			    FLUXO__ERROR_CODE__OUT_OF_ORDER_SEQUENCE_NUMBER);
		printf("the last %d batches are duplicates\n", k);
	} else {
		rc_die("unknown command %s", argv[1]);
	}
	return 0;
}
