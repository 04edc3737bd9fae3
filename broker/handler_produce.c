/*
 * handler_produce.c - the Produce API.
 *
 * The payload holds, in head order, each partition's run of record
 * batches; records_size says how long each run is. The sizes are checked
 * against the payload before anything is appended, so a request that
 * lies about its layout appends nothing and gets INVALID_REQUEST.
 * Each partition's run is validated (bounds, magic, CRC, sizes) and
 * appended by partition_append; partitions fail or succeed
 * independently, as in Kafka. Batches an idempotent producer retries are
 * answered with their original offsets (error NONE), with per-batch
 * offsets when only part of a run was a retry; an acks=all retry still
 * waits until those offsets are replicated.
 *
 * acks=0: no response; any error closes the connection so the producer
 * notices (Kafka's rule). acks=1: answer after the append. acks=all: park
 * in the purgatory until the high watermark passes every appended
 * partition's last offset, or the request's timeout. With flush.on.ack the
 * same wait also covers the group-committed fsync.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "partition.h"
#include "purgatory.h"
#include "server.h"

struct part_outcome {
	Fluxo__ProducePartitionResponse resp;
	struct partition *p;	/* referenced while waiting */
	int64_t required_end;
	bool wait_hw, wait_flush;
	int64_t *batch_bases;	/* owned; resp.batch_base_offsets */
	char msg[256];
};

struct topic_outcome {
	Fluxo__ProduceTopicResponse resp;
	Fluxo__ProducePartitionResponse **parts;
};

/* A produce waiting in the purgatory. */
struct delayed_produce {
	struct delayed_op op;
	struct deferred *d;
	struct topic_outcome *topics;
	size_t n_topics;
	struct part_outcome *parts;	/* flat, in head order */
	size_t n_parts;
	bool names_owned;
};

static Fluxo__ErrorCode unknown_partition_error(struct broker *b,
						const char *topic, char *msg,
						size_t msg_size)
{
	struct md_snapshot *s = md_cache_acquire(b->md);
	const struct md_topic *t = md_find_topic(s, topic);

	if (!t || t->deleting)
		unknown_topic_message(b, topic, msg, msg_size);
	else
		snprintf(msg, msg_size,
			 "This broker does not host that partition of topic "
			 "'%s' (it has %d partitions)",
			 topic, t->n_parts);
	md_snapshot_release(s);
	return FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
}

static void build_response(struct delayed_produce *dp, Fluxo__Response *resp,
			   Fluxo__ProduceResponse *body,
			   Fluxo__ProduceTopicResponse **tptrs)
{
	for (size_t i = 0; i < dp->n_topics; i++)
		tptrs[i] = &dp->topics[i].resp;
	body->topics = tptrs;
	body->n_topics = dp->n_topics;
	resp->body_case = FLUXO__RESPONSE__BODY_PRODUCE;
	resp->produce = body;
}

static void free_outcomes(struct delayed_produce *dp)
{
	for (size_t i = 0; i < dp->n_parts; i++) {
		if (dp->parts[i].p)
			partition_unref(dp->parts[i].p);
		free(dp->parts[i].batch_bases);
	}
	for (size_t i = 0; i < dp->n_topics; i++) {
		free(dp->topics[i].parts);
		if (dp->names_owned)
			free(dp->topics[i].resp.name);
	}
	free(dp->topics);
	free(dp->parts);
}

/* Why a produce that waited for replication failed, for the client. */
static const char *wait_error_sentence(Fluxo__ErrorCode st)
{
	switch (st) {
	case FLUXO__ERROR_CODE__REQUEST_TIMED_OUT:
		return "The records were written but not replicated to the "
		       "in-sync replicas within the request timeout";
	case FLUXO__ERROR_CODE__NOT_ENOUGH_REPLICAS_AFTER_APPEND:
		return "The records were written, but the in-sync replicas "
		       "fell below min.insync.replicas before they were "
		       "replicated";
	case FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER:
		return "The records were written, but this broker stopped "
		       "leading the partition before they were replicated";
	case FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR:
		return "The records were written, but flushing them to disk "
		       "failed";
	default:
		return "The records were written but could not be "
		       "acknowledged";
	}
}

static bool produce_try_complete(struct delayed_op *op, bool expired)
{
	struct delayed_produce *dp = (struct delayed_produce *)op;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__ProduceResponse body = FLUXO__PRODUCE_RESPONSE__INIT;
	Fluxo__ProduceTopicResponse **tptrs;
	bool done = true;

	for (size_t i = 0; i < dp->n_parts; i++) {
		struct part_outcome *po = &dp->parts[i];
		Fluxo__ErrorCode st;

		if (!po->p)
			continue;
		st = partition_produce_status(po->p, po->required_end,
					      po->wait_hw, po->wait_flush);
		if (st == FLUXO__ERROR_CODE__REQUEST_TIMED_OUT && !expired) {
			done = false;
			continue;
		}
		if (st != FLUXO__ERROR_CODE__NONE) {
			po->resp.error = st;
			po->resp.base_offset = -1;
			po->resp.n_batch_base_offsets = 0;
			snprintf(po->msg, sizeof(po->msg), "%s",
				 wait_error_sentence(st));
			po->resp.error_message = po->msg;
		}
		partition_unref(po->p);
		po->p = NULL;
	}
	if (!done)
		return false;
	tptrs = malloc((dp->n_topics + 1) * sizeof(*tptrs));
	if (!tptrs)
		fatal("produce", "out of memory");
	build_response(dp, &resp, &body, tptrs);
	deferred_respond(dp->d, &resp, NULL, 0);
	dp->d = NULL;
	free(tptrs);
	return true;
}

static void produce_release(struct delayed_op *op)
{
	struct delayed_produce *dp = (struct delayed_produce *)op;

	free_outcomes(dp);
	free(dp);
}

static const struct delayed_op_ops produce_ops = {
	.try_complete = produce_try_complete,
	.release = produce_release,
};

void handle_produce(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	const Fluxo__ProduceRequest *pr = r->req->produce;
	struct delayed_produce *dp;
	size_t total = 0, n_parts = 0, k = 0, off = 0;
	bool any_wait = false, any_error = false;
	Fluxo__ErrorCode bad_acks = FLUXO__ERROR_CODE__NONE;

	/* The head must describe the payload exactly. */
	for (size_t t = 0; t < pr->n_topics; t++) {
		for (size_t i = 0; i < pr->topics[t]->n_partitions; i++)
			total += pr->topics[t]->partitions[i]->records_size;
		n_parts += pr->topics[t]->n_partitions;
	}
	if (total != r->payload_len) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "records_size values add up to %zu bytes but the "
			 "payload has %zu",
			 total, r->payload_len);
		if (!r->slot)
			request_close_connection(r, msg);
		else
			request_respond_error(
				r, FLUXO__ERROR_CODE__INVALID_REQUEST, msg);
		return;
	}
	if (pr->acks != 0 && pr->acks != 1 && pr->acks != -1)
		bad_acks = FLUXO__ERROR_CODE__INVALID_REQUIRED_ACKS;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		fatal("produce", "out of memory");
	dp->op.ops = &produce_ops;
	dp->topics = calloc(pr->n_topics + 1, sizeof(*dp->topics));
	dp->parts = calloc(n_parts + 1, sizeof(*dp->parts));
	if (!dp->topics || !dp->parts)
		fatal("produce", "out of memory");
	dp->n_topics = pr->n_topics;
	dp->n_parts = n_parts;

	for (size_t t = 0; t < pr->n_topics; t++) {
		const Fluxo__ProduceTopic *pt = pr->topics[t];
		struct topic_outcome *to = &dp->topics[t];

		fluxo__produce_topic_response__init(&to->resp);
		to->resp.name = pt->name;	/* arena: copied below if parked */
		to->parts = calloc(pt->n_partitions + 1, sizeof(*to->parts));
		if (!to->parts)
			fatal("produce", "out of memory");
		to->resp.partitions = to->parts;
		to->resp.n_partitions = pt->n_partitions;
		for (size_t i = 0; i < pt->n_partitions; i++) {
			const Fluxo__ProducePartition *pp = pt->partitions[i];
			struct part_outcome *po = &dp->parts[k++];
			struct append_result res;
			struct partition *p;
			Fluxo__ErrorCode err;

			fluxo__produce_partition_response__init(&po->resp);
			to->parts[i] = &po->resp;
			po->resp.partition = pp->partition;
			po->resp.base_offset = -1;
			po->resp.log_append_time_ms = -1;
			po->resp.error_message = "";
			po->msg[0] = '\0';
			if (bad_acks) {
				err = bad_acks;
				snprintf(po->msg, sizeof(po->msg),
					 "acks must be 0, 1 or -1 (all), not %d",
					 pr->acks);
			} else if (!(p = rm_get(b->rm, pt->name,
						 pp->partition))) {
				err = unknown_partition_error(
					b, pt->name, po->msg, sizeof(po->msg));
			} else {
				err = partition_append(p, r->payload + off,
						       pp->records_size,
						       pr->acks, &res, po->msg,
						       sizeof(po->msg));
				if (err == FLUXO__ERROR_CODE__NONE) {
					po->resp.base_offset = res.base_offset;
					po->resp.log_append_time_ms =
						res.log_append_time;
					po->resp.log_start_offset =
						res.log_start_offset;
					po->batch_bases = res.batch_bases;
					po->resp.batch_base_offsets =
						res.batch_bases;
					po->resp.n_batch_base_offsets =
						res.n_batch_bases;
					if (res.wait_hw || res.wait_flush) {
						po->p = p;
						p = NULL;
						po->required_end =
							res.last_offset + 1;
						po->wait_hw = res.wait_hw;
						po->wait_flush = res.wait_flush;
						any_wait = true;
					}
				}
				if (p)
					partition_unref(p);
			}
			off += pp->records_size;
			po->resp.error = err;
			if (err != FLUXO__ERROR_CODE__NONE) {
				any_error = true;
				po->resp.error_message = po->msg;
				log_debug("produce",
					  "topic=%s partition=%d peer=%s: %s",
					  pt->name, pp->partition,
					  request_peer(r), po->msg);
			}
		}
	}

	if (!r->slot) {
		/* acks=0 */
		if (any_error)
			request_close_connection(
				r, "a produce with acks=0 failed");
		free_outcomes(dp);
		free(dp);
		return;
	}
	if (!any_wait) {
		Fluxo__Response resp = FLUXO__RESPONSE__INIT;
		Fluxo__ProduceResponse body = FLUXO__PRODUCE_RESPONSE__INIT;
		Fluxo__ProduceTopicResponse **tptrs =
			request_alloc(r, (dp->n_topics + 1) * sizeof(*tptrs));

		build_response(dp, &resp, &body, tptrs);
		request_respond(r, &resp, NULL, 0);
		free_outcomes(dp);
		free(dp);
		return;
	}
	/* Parked: names must outlive the request's arena. */
	for (size_t t = 0; t < dp->n_topics; t++) {
		dp->topics[t].resp.name = strdup(pr->topics[t]->name);
		if (!dp->topics[t].resp.name)
			fatal("produce", "out of memory");
	}
	dp->names_owned = true;
	dp->op.watch = calloc(dp->n_parts + 1, sizeof(*dp->op.watch));
	if (!dp->op.watch)
		fatal("produce", "out of memory");
	for (size_t i = 0; i < dp->n_parts; i++) {
		if (!dp->parts[i].p)
			continue;
		partition_ref(dp->parts[i].p);
		dp->op.watch[dp->op.n_watch++] = dp->parts[i].p;
	}
	dp->d = request_defer(r);
	purgatory_add(&dp->op, pr->timeout_ms > 0 ? pr->timeout_ms : 30000);
}
