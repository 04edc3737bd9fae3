/*
 * handler_fetch.c - Fetch, ListOffsets and OffsetForLeaderEpoch.
 *
 * Fetch serves consumers (replica_id -1, bounded by the high watermark)
 * and followers (replica_id = their broker id, bounded by the log end
 * offset) with one code path. Each partition's data is a byte range of a
 * segment file, sent after the response head with sendfile(2): record
 * bytes are never copied through user space. Response size follows Kafka's
 * rules: partition_max_bytes per partition, max_bytes for the response,
 * except that the first partition with data may return one whole batch
 * larger than either (KIP-74), so a consumer can always make progress.
 *
 * When fewer than min_bytes are available and max_wait_ms > 0 the fetch
 * waits in the purgatory; every change to a watched partition re-runs the
 * reads, and the deadline answers with whatever is there. A follower whose
 * data was held back by the leader's replication throttle waits no longer
 * than the throttle asks, so the throttled rate is met without the
 * follower polling.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"
#include "handlers.h"
#include "partition.h"
#include "purgatory.h"
#include "server.h"
#include "broker/log/plog.h"

struct fetch_part {
	int32_t partition;
	int32_t current_leader_epoch;
	int64_t fetch_offset;
	int32_t last_fetched_epoch;
	int32_t max_bytes;
	struct partition *p;	/* NULL: unknown partition */
	struct fetch_result fr;
	Fluxo__FetchPartitionResponse resp;
	Fluxo__EpochEndOffset div;
};

struct fetch_topic {
	char *name;
	struct fetch_part *parts;
	size_t n_parts;
	Fluxo__FetchTopicResponse resp;
	Fluxo__FetchPartitionResponse **pptrs;
};

struct fetch_ctx {
	struct delayed_op op;
	struct deferred *d;
	int32_t replica_id;
	int32_t min_bytes;
	int32_t max_bytes;
	struct fetch_topic *topics;
	size_t n_topics;
	int32_t throttle_ms;	/* shortest throttle wait of the last reads */
};

static void release_results(struct fetch_ctx *fc)
{
	for (size_t t = 0; t < fc->n_topics; t++)
		for (size_t i = 0; i < fc->topics[t].n_parts; i++)
			fetch_slice_release(&fc->topics[t].parts[i].fr.slice);
}

/* Reads every partition; returns the bytes found and whether an error
 * occurred. */
static size_t run_reads(struct fetch_ctx *fc, bool *any_error)
{
	size_t total = 0;
	size_t budget = fc->max_bytes > 0 ? (size_t)fc->max_bytes : SIZE_MAX;

	*any_error = false;
	fc->throttle_ms = 0;
	for (size_t t = 0; t < fc->n_topics; t++) {
		struct fetch_topic *ft = &fc->topics[t];

		for (size_t i = 0; i < ft->n_parts; i++) {
			struct fetch_part *fp = &ft->parts[i];
			size_t limit = fp->max_bytes > 0 ? (size_t)fp->max_bytes
							 : SIZE_MAX;

			memset(&fp->fr, 0, sizeof(fp->fr));
			fp->fr.slice.fd = -1;
			fp->fr.diverging_epoch = -1;
			if (!fp->p) {
				fp->fr.err =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
				fp->fr.high_watermark = -1;
				fp->fr.log_start_offset = -1;
				*any_error = true;
				continue;
			}
			if (limit > budget - total)
				limit = budget - total;
			partition_fetch(fp->p, fc->replica_id,
					fp->current_leader_epoch,
					fp->fetch_offset, fp->last_fetched_epoch,
					limit, total == 0, &fp->fr);
			if (fp->fr.err != FLUXO__ERROR_CODE__NONE)
				*any_error = true;
			if (fp->fr.throttle_ms > 0 &&
			    (fc->throttle_ms == 0 ||
			     fp->fr.throttle_ms < fc->throttle_ms))
				fc->throttle_ms = fp->fr.throttle_ms;
			total += fp->fr.slice.len;
			if (total > budget)
				budget = total;	/* KIP-74 overshoot */
		}
	}
	return total;
}

static void respond(struct fetch_ctx *fc, struct request *r)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__FetchResponse body = FLUXO__FETCH_RESPONSE__INIT;
	Fluxo__FetchTopicResponse **tptrs;
	struct out_file *files;
	size_t n_files = 0, n_parts = 0;

	for (size_t t = 0; t < fc->n_topics; t++)
		n_parts += fc->topics[t].n_parts;
	tptrs = calloc(fc->n_topics + 1, sizeof(*tptrs));
	files = calloc(n_parts + 1, sizeof(*files));
	if (!tptrs || !files)
		fatal("fetch", "out of memory");
	for (size_t t = 0; t < fc->n_topics; t++) {
		struct fetch_topic *ft = &fc->topics[t];

		fluxo__fetch_topic_response__init(&ft->resp);
		ft->resp.name = ft->name;
		ft->resp.partitions = ft->pptrs;
		ft->resp.n_partitions = ft->n_parts;
		for (size_t i = 0; i < ft->n_parts; i++) {
			struct fetch_part *fp = &ft->parts[i];
			Fluxo__FetchPartitionResponse *pr = &fp->resp;

			fluxo__fetch_partition_response__init(pr);
			pr->partition = fp->partition;
			pr->error = fp->fr.err;
			pr->high_watermark = fp->fr.high_watermark;
			pr->last_stable_offset = fp->fr.high_watermark;
			pr->log_start_offset = fp->fr.log_start_offset;
			pr->log_end_offset = fp->fr.log_end_offset;
			pr->records_size = (uint32_t)fp->fr.slice.len;
			if (fp->fr.diverging_epoch >= 0) {
				fluxo__epoch_end_offset__init(&fp->div);
				fp->div.epoch = fp->fr.diverging_epoch;
				fp->div.end_offset =
					fp->fr.diverging_end_offset;
				pr->diverging_epoch = &fp->div;
			}
			ft->pptrs[i] = pr;
			if (fp->fr.slice.len > 0) {
				files[n_files].fd = fp->fr.slice.fd;
				files[n_files].pos = fp->fr.slice.pos;
				files[n_files].len = fp->fr.slice.len;
				files[n_files].release = fetch_slice_release_cb;
				files[n_files].arg = fp->fr.slice.ref;
				n_files++;
			} else {
				fetch_slice_release(&fp->fr.slice);
			}
			/* Ownership of the slice moved to the server. */
			fp->fr.slice.ref = NULL;
			fp->fr.slice.len = 0;
		}
		tptrs[t] = &ft->resp;
	}
	body.topics = tptrs;
	body.n_topics = fc->n_topics;
	resp.body_case = FLUXO__RESPONSE__BODY_FETCH;
	resp.fetch = &body;
	if (r)
		request_respond(r, &resp, files, (int)n_files);
	else
		deferred_respond(fc->d, &resp, files, (int)n_files);
	fc->d = NULL;
	free(tptrs);
	free(files);
}

static void fetch_ctx_free(struct fetch_ctx *fc)
{
	release_results(fc);
	for (size_t t = 0; t < fc->n_topics; t++) {
		struct fetch_topic *ft = &fc->topics[t];

		for (size_t i = 0; i < ft->n_parts; i++)
			if (ft->parts[i].p)
				partition_unref(ft->parts[i].p);
		free(ft->name);
		free(ft->parts);
		free(ft->pptrs);
	}
	free(fc->topics);
	free(fc);
}

static bool fetch_try_complete(struct delayed_op *op, bool expired)
{
	struct fetch_ctx *fc = (struct fetch_ctx *)op;
	bool any_error;
	size_t total = run_reads(fc, &any_error);

	if (!expired && !any_error && total < (size_t)fc->min_bytes) {
		release_results(fc);
		return false;
	}
	respond(fc, NULL);
	return true;
}

static void fetch_release(struct delayed_op *op)
{
	fetch_ctx_free((struct fetch_ctx *)op);
}

static const struct delayed_op_ops fetch_ops = {
	.try_complete = fetch_try_complete,
	.release = fetch_release,
};

void handle_fetch(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	const Fluxo__FetchRequest *fr = r->req->fetch;
	struct fetch_ctx *fc;
	size_t total, n_watch = 0;
	bool any_error;

	fc = calloc(1, sizeof(*fc));
	if (!fc)
		fatal("fetch", "out of memory");
	fc->op.ops = &fetch_ops;
	fc->replica_id = fr->replica_id;
	fc->min_bytes = fr->min_bytes > 0 ? fr->min_bytes : 1;
	fc->max_bytes = fr->max_bytes;
	fc->topics = calloc(fr->n_topics + 1, sizeof(*fc->topics));
	if (!fc->topics)
		fatal("fetch", "out of memory");
	fc->n_topics = fr->n_topics;
	for (size_t t = 0; t < fr->n_topics; t++) {
		const Fluxo__FetchTopic *ftq = fr->topics[t];
		struct fetch_topic *ft = &fc->topics[t];

		ft->name = strdup(ftq->name);
		ft->parts = calloc(ftq->n_partitions + 1, sizeof(*ft->parts));
		ft->pptrs = calloc(ftq->n_partitions + 1, sizeof(*ft->pptrs));
		if (!ft->name || !ft->parts || !ft->pptrs)
			fatal("fetch", "out of memory");
		ft->n_parts = ftq->n_partitions;
		for (size_t i = 0; i < ftq->n_partitions; i++) {
			const Fluxo__FetchPartition *fq = ftq->partitions[i];
			struct fetch_part *fp = &ft->parts[i];

			fp->partition = fq->partition;
			fp->current_leader_epoch = fq->current_leader_epoch;
			fp->fetch_offset = fq->fetch_offset;
			fp->last_fetched_epoch = fq->last_fetched_epoch;
			fp->max_bytes = fq->partition_max_bytes;
			fp->p = rm_get(b->rm, ftq->name, fq->partition);
			fp->fr.slice.fd = -1;
			if (fp->p)
				n_watch++;
		}
	}
	total = run_reads(fc, &any_error);
	if (any_error || total >= (size_t)fc->min_bytes ||
	    fr->max_wait_ms <= 0 || n_watch == 0) {
		respond(fc, r);
		fetch_ctx_free(fc);
		return;
	}
	release_results(fc);
	fc->op.watch = calloc(n_watch, sizeof(*fc->op.watch));
	if (!fc->op.watch)
		fatal("fetch", "out of memory");
	for (size_t t = 0; t < fc->n_topics; t++)
		for (size_t i = 0; i < fc->topics[t].n_parts; i++) {
			struct partition *p = fc->topics[t].parts[i].p;

			if (p) {
				partition_ref(p);
				fc->op.watch[fc->op.n_watch++] = p;
			}
		}
	fc->d = request_defer(r);
	purgatory_add(&fc->op, fc->throttle_ms > 0 &&
					       fc->throttle_ms < fr->max_wait_ms
				       ? fc->throttle_ms
				       : fr->max_wait_ms);
}

void handle_list_offsets(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	const Fluxo__ListOffsetsRequest *lr = r->req->list_offsets;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__ListOffsetsResponse body = FLUXO__LIST_OFFSETS_RESPONSE__INIT;

	body.n_topics = lr->n_topics;
	body.topics = request_alloc(r, (lr->n_topics + 1) * sizeof(*body.topics));
	for (size_t t = 0; t < lr->n_topics; t++) {
		const Fluxo__ListOffsetsTopic *lt = lr->topics[t];
		Fluxo__ListOffsetsTopicResponse *tr =
			request_alloc(r, sizeof(*tr));

		fluxo__list_offsets_topic_response__init(tr);
		tr->name = lt->name;
		tr->n_partitions = lt->n_partitions;
		tr->partitions = request_alloc(
			r, (lt->n_partitions + 1) * sizeof(*tr->partitions));
		for (size_t i = 0; i < lt->n_partitions; i++) {
			const Fluxo__ListOffsetsPartition *lp =
				lt->partitions[i];
			Fluxo__ListOffsetsPartitionResponse *pr =
				request_alloc(r, sizeof(*pr));
			struct partition *p =
				rm_get(b->rm, lt->name, lp->partition);
			int64_t off = -1, ts = -1;
			int32_t epoch = -1;

			fluxo__list_offsets_partition_response__init(pr);
			pr->partition = lp->partition;
			if (!p) {
				pr->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
			} else {
				pr->error = partition_list_offset(
					p, lp->timestamp,
					lp->current_leader_epoch,
					lr->replica_id < 0, &off, &ts, &epoch);
				partition_unref(p);
			}
			pr->offset = off;
			pr->timestamp = ts;
			pr->leader_epoch = epoch;
			tr->partitions[i] = pr;
		}
		body.topics[t] = tr;
	}
	resp.body_case = FLUXO__RESPONSE__BODY_LIST_OFFSETS;
	resp.list_offsets = &body;
	request_respond(r, &resp, NULL, 0);
}

void handle_offset_for_leader_epoch(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	const Fluxo__OffsetForLeaderEpochRequest *oq =
		r->req->offset_for_leader_epoch;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__OffsetForLeaderEpochResponse body =
		FLUXO__OFFSET_FOR_LEADER_EPOCH_RESPONSE__INIT;

	body.n_topics = oq->n_topics;
	body.topics = request_alloc(r, (oq->n_topics + 1) * sizeof(*body.topics));
	for (size_t t = 0; t < oq->n_topics; t++) {
		const Fluxo__OffsetForLeaderEpochTopic *ot = oq->topics[t];
		Fluxo__OffsetForLeaderEpochTopicResult *tr =
			request_alloc(r, sizeof(*tr));

		fluxo__offset_for_leader_epoch_topic_result__init(tr);
		tr->name = ot->name;
		tr->n_partitions = ot->n_partitions;
		tr->partitions = request_alloc(
			r, (ot->n_partitions + 1) * sizeof(*tr->partitions));
		for (size_t i = 0; i < ot->n_partitions; i++) {
			const Fluxo__OffsetForLeaderEpochPartition *op =
				ot->partitions[i];
			Fluxo__EpochEndOffsetResult *er =
				request_alloc(r, sizeof(*er));
			struct partition *p =
				rm_get(b->rm, ot->name, op->partition);

			fluxo__epoch_end_offset_result__init(er);
			er->partition = op->partition;
			er->leader_epoch = -1;
			er->end_offset = -1;
			if (!p) {
				er->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
			} else {
				int32_t cur;
				int role;

				pthread_mutex_lock(&p->lock);
				cur = p->leader_epoch;
				role = p->role;
				pthread_mutex_unlock(&p->lock);
				if (op->current_leader_epoch >= 0 &&
				    op->current_leader_epoch < cur)
					er->error =
					    FLUXO__ERROR_CODE__FENCED_LEADER_EPOCH;
				else if (op->current_leader_epoch > cur)
					er->error =
					    FLUXO__ERROR_CODE__UNKNOWN_LEADER_EPOCH;
				else if (role != ROLE_LEADER)
					er->error =
					    FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
				else
					plog_epoch_end_offset(
						p->log, op->leader_epoch,
						&er->leader_epoch,
						&er->end_offset);
				partition_unref(p);
			}
			tr->partitions[i] = er;
		}
		body.topics[t] = tr;
	}
	resp.body_case = FLUXO__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH;
	resp.offset_for_leader_epoch = &body;
	request_respond(r, &resp, NULL, 0);
}
