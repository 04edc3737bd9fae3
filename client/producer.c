/*
 * producer.c - fluxo_producer: fluxo_produce(), the sender, delivery
 * reports.
 *
 * Data path. fluxo_produce() (any application thread) picks the partition,
 * waits for buffer.memory if it must, and appends the record under the
 * producer's lock into that partition's open batch (accum.c). The sender
 * runs on the client's I/O thread as the serve() hook: it pops the ready
 * batches of every partition whose leader is connected and below
 * max.in.flight, packs them per leader into one ProduceRequest of at most
 * max.request.size, finishes them (compression, header, CRC) outside the
 * lock and queues the request; the batches' own buffers are the payload
 * pieces handed to writev, so record bytes are never copied after
 * fluxo_produce() encoded them.
 *
 * Wake-ups. The I/O thread is woken only when it could not know about new
 * work: when the accumulator was empty at the end of its last turn
 * ("armed"), or when a batch fills up. Under load the accumulator is never
 * empty (requests in flight hold the sender back), so records are
 * appended without any system call and batches grow: this is how linger.ms
 * 0 still batches.
 *
 * Outcomes. The response callback (I/O thread) settles each batch:
 * success; a retriable error within retries and delivery.timeout.ms (back
 * into the partition's queue in creation order, after retry.backoff.ms,
 * metadata refreshed for leadership errors); or failure. Settled batches go
 * to the report list, from which fluxo_producer_poll()/flush() (the
 * application's thread) expand one callback per record and recycle the
 * batch. With enable.idempotence the producer first obtains a producer id;
 * sequences are assigned per partition when a batch is first sent, and a
 * partition with a batch to retry sends nothing else until its in-flight
 * batches have come back, so the broker sees sequences in order (up to 5
 * requests in flight). A batch that fails for good after it was sent
 * leaves a hole in the sequence, so the producer then waits for every
 * request to finish and starts over with a new producer id.
 *
 * Locks: p->lock (accumulator, topics, partitions) before the client's
 * md_lock; p->dr_lock (report list) is a leaf. Callbacks to the
 * application run without any lock held.
 */
#include "config.h"
#include "fluxo.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accum.h"
#include "broker.h"
#include "client_int.h"
#include "common/arena.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"

#define IDEMPOTENT_MAX_INFLIGHT 5

struct fluxo_producer {
	struct client cl;
	fluxo_delivery_cb_t *dr_cb;
	void *dr_opaque;
	int acks;
	bool idempotent;

	pthread_mutex_t lock;
	pthread_cond_t space_cond; /* buffer.memory freed */
	int space_waiters;
	struct accum acc;
	struct ptopic **htab;
	int hcap;
	int topic_cnt;
	struct ptopic *last; /* fast path: same topic again */
	uint64_t rng;
	bool armed; /* I/O thread idle, accumulator empty */
	atomic_int flushing;
	atomic_bool closing;
	atomic_size_t outq; /* records without a served report */
	/* Wall clock = monotonic + offset, re-read once a second: one clock
	 * read per record instead of two. */
	_Atomic int64_t wall_off_us;
	_Atomic int64_t wall_sync_us;

	/* Idempotence; I/O thread (pid fields also read under lock). */
	int64_t pid;
	int16_t epoch;
	bool pid_inflight;
	bool pid_warned;
	int64_t pid_next_ms;
	bool need_reset;      /* sequence hole: new producer id */
	bool resequence;      /* renumber queued batches on new pid */
	int inflight_batches; /* over all partitions */

	/* I/O thread scratch. */
	struct arena arena;
	struct drain {
		struct ptoppar *tp;
		struct broker *bk;
	} * ready;
	int ready_cap;

	/* Reports. */
	pthread_mutex_t dr_lock;
	pthread_cond_t dr_cond;
	struct pbatch *dr_head, *dr_tail;
};

/* One produce request in flight: its batches in payload order. */
struct preq {
	struct fluxo_producer *p;
	int cnt;
	struct pbatch *b[];
};

/* ------------------------------------------------------------ topics */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static struct ptopic *topic_find(struct fluxo_producer *p, const char *name)
{
	struct ptopic *t;

	if (p->last && strcmp(p->last->name, name) == 0)
		return p->last;
	for (t = p->htab[name_hash(name) & (uint32_t)(p->hcap - 1)]; t;
	     t = t->hnext)
		if (strcmp(t->name, name) == 0)
			return p->last = t;
	return NULL;
}

static int htab_grow(struct fluxo_producer *p)
{
	int cap = p->hcap * 2;
	struct ptopic **tab = calloc((size_t)cap, sizeof(*tab));

	if (!tab)
		return ERR_NOMEM;
	for (int i = 0; i < p->hcap; i++) {
		struct ptopic *t, *next;

		for (t = p->htab[i]; t; t = next) {
			uint32_t h = name_hash(t->name) & (uint32_t)(cap - 1);

			next = t->hnext;
			t->hnext = tab[h];
			tab[h] = t;
		}
	}
	free(p->htab);
	p->htab = tab;
	p->hcap = cap;
	return 0;
}

static struct ptopic *topic_get(struct fluxo_producer *p, const char *name)
{
	struct ptopic *t = topic_find(p, name);
	uint32_t h;

	if (t)
		return t;
	if (p->topic_cnt >= p->hcap && htab_grow(p) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return NULL;
	}
	t->idx = p->topic_cnt++;
	t->sticky = -1;
	h = name_hash(name) & (uint32_t)(p->hcap - 1);
	t->hnext = p->htab[h];
	p->htab[h] = t;
	return p->last = t;
}

/*
 * Copies what the metadata cache knows about t into it: the partition
 * count (partitions are added, never removed), leaders and the error of a
 * missing topic. Caller holds p->lock; takes md_lock.
 */
static void topic_refresh_locked(struct fluxo_producer *p, struct ptopic *t)
{
	struct client *cl = &p->cl;
	const struct md_topic *mt;

	pthread_mutex_lock(&cl->md_lock);
	mt = md_topic_find(&cl->md, t->name);
	if (!mt) {
		pthread_mutex_unlock(&cl->md_lock);
		return;
	}
	if (mt->err || mt->part_cnt == 0) {
		t->err =
		    mt->err ? mt->err : FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		free(t->errstr);
		t->errstr = mt->errstr ? strdup(mt->errstr) : NULL;
		pthread_mutex_unlock(&cl->md_lock);
		return;
	}
	t->err = 0;
	if (mt->part_cnt > t->part_cnt) {
		struct ptoppar **parts =
		    realloc(t->parts, (size_t)mt->part_cnt * sizeof(*parts));
		int32_t n = t->part_cnt;

		if (parts) {
			t->parts = parts;
			for (; n < mt->part_cnt; n++) {
				struct ptoppar *tp = calloc(1, sizeof(*tp));

				if (!tp)
					break;
				tp->topic = t;
				tp->partition = n;
				tp->leader = -1;
				t->parts[n] = tp;
			}
			t->part_cnt = n;
		}
	}
	for (int32_t i = 0; i < t->part_cnt; i++) {
		const struct md_partition *mp = md_partition_find(mt, i);

		t->parts[i]->leader = mp ? mp->leader : -1;
		t->parts[i]->leader_epoch = mp ? mp->leader_epoch : -1;
	}
	pthread_mutex_unlock(&cl->md_lock);
}

static void producer_md_updated(struct client *cl)
{
	struct fluxo_producer *p = cl->owner;

	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->hcap; i++)
		for (struct ptopic *t = p->htab[i]; t; t = t->hnext)
			topic_refresh_locked(p, t);
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------ reports */

/*
 * Appends settled batches to the report list. Callers collect them by
 * prepending, so list is newest first: it is reversed here to keep the
 * reports of a partition in offset order.
 */
static void dr_push(struct fluxo_producer *p, struct pbatch *list)
{
	struct pbatch *rev = NULL, *tail = list, *next;

	if (!list)
		return;
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	pthread_mutex_lock(&p->dr_lock);
	if (p->dr_tail)
		p->dr_tail->next = rev;
	else
		p->dr_head = rev;
	p->dr_tail = tail;
	pthread_cond_broadcast(&p->dr_cond);
	pthread_mutex_unlock(&p->dr_lock);
}

/* Sets a batch's failure; caller moves it to a report list. */
static void batch_fail(struct pbatch *b, int err, const char *errstr)
{
	b->err = err;
	free(b->errstr);
	b->errstr = errstr ? strdup(errstr) : NULL;
	b->base_offset = -1;
	b->done_us = clock_mono_us();
}

static int serve_reports(struct fluxo_producer *p, int timeout_ms)
{
	struct pbatch *list, *b, *next;
	int64_t deadline;
	int served = 0;

	pthread_mutex_lock(&p->dr_lock);
	if (!p->dr_head && timeout_ms != 0) {
		deadline =
		    timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
		while (!p->dr_head && clock_mono_ms() < deadline)
			if (client_cond_wait_until(&p->dr_cond, &p->dr_lock,
						   deadline) != 0 &&
			    timeout_ms >= 0)
				break;
	}
	list = p->dr_head;
	p->dr_head = p->dr_tail = NULL;
	pthread_mutex_unlock(&p->dr_lock);
	for (b = list; b; b = b->next) {
		fluxo_delivery_t dr;

		if (!p->dr_cb || !b->recs) {
			served += b->rec_cnt;
			continue;
		}
		dr.topic = b->tp->topic->name;
		dr.partition = b->tp->partition;
		dr.err = b->err;
		dr.errstr =
		    b->err ? (b->errstr ? b->errstr : fluxo_err2str(b->err))
			   : NULL;
		for (int32_t i = 0; i < b->rec_cnt; i++) {
			dr.offset = !b->err && b->base_offset >= 0
					? b->base_offset + i
					: -1;
			dr.timestamp = b->log_append_time >= 0
					   ? b->log_append_time
					   : b->recs[i].timestamp;
			dr.msg_opaque = b->recs[i].opaque;
			dr.latency_us = b->done_us - b->recs[i].enq_us;
			p->dr_cb(&dr, p->dr_opaque);
		}
		served += b->rec_cnt;
	}
	if (list) {
		pthread_mutex_lock(&p->lock);
		for (b = list; b; b = next) {
			next = b->next;
			atomic_fetch_sub(&p->outq, (size_t)b->rec_cnt);
			if (b->tp && b->tp->partition < 0) {
				/* A stand-alone report (fluxo_produce failed).
				 */
				free(b->tp);
				b->tp = NULL;
			}
			accum_batch_free(&p->acc, b);
		}
		if (p->space_waiters)
			pthread_cond_broadcast(&p->space_cond);
		pthread_mutex_unlock(&p->lock);
	}
	return served;
}

/* ------------------------------------------------------------ outcomes */

static bool leadership_err(int err)
{
	return err == FLUXO_ERR_NOT_LEADER_OR_FOLLOWER ||
	       err == FLUXO_ERR_LEADER_NOT_AVAILABLE ||
	       err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
	       err == FLUXO_ERR_FENCED_LEADER_EPOCH ||
	       err == FLUXO_ERR_UNKNOWN_LEADER_EPOCH ||
	       err == FLUXO_ERR_NOT_ENOUGH_REPLICAS ||
	       err == FLUXO_ERR__TRANSPORT || err == FLUXO_ERR__TIMED_OUT;
}

/*
 * Settles one batch that came back from a request. Caller holds p->lock;
 * a batch that is done is added to *done.
 */
static void settle(struct fluxo_producer *p, struct pbatch *b, int err,
		   const char *errstr, int64_t base_offset,
		   int64_t log_append_time, int64_t now_ms,
		   struct pbatch **done, bool *refresh)
{
	struct ptoppar *tp = b->tp;
	bool retry;

	tp->inflight--;
	p->inflight_batches--;
	if (err == 0 || err == FLUXO_ERR_DUPLICATE_SEQUENCE_NUMBER) {
		b->err = 0;
		b->base_offset = err ? -1 : base_offset;
		b->log_append_time = log_append_time > 0 ? log_append_time : -1;
		b->done_us = clock_mono_us();
		goto out_done;
	}
	retry = err != FLUXO_ERR__DESTROY && !atomic_load(&p->closing) &&
		(fluxo_err_is_retriable(err) ||
		 (p->idempotent && tp->retrying &&
		  err == FLUXO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)) &&
		b->attempts <= p->cl.conf.retries && now_ms < b->deadline_ms;
	if (leadership_err(err))
		*refresh = true;
	if (retry) {
		b->retry_at_ms = now_ms + p->cl.conf.retry_backoff_ms;
		if (p->idempotent)
			tp->retrying = true;
		accum_requeue(&p->acc, b);
		log_debug("producer",
			  "retrying batch topic=%s partition=%d "
			  "records=%d attempt=%d: %s",
			  tp->topic->name, tp->partition, b->rec_cnt,
			  b->attempts, errstr ? errstr : fluxo_err2str(err));
		return;
	}
	if (p->idempotent && b->base_seq >= 0 && err != FLUXO_ERR__DESTROY)
		p->need_reset = true;
	if (now_ms >= b->deadline_ms && fluxo_err_is_retriable(err)) {
		char why[512];

		client_fmt(why, sizeof(why),
			   "delivery.timeout.ms (%d ms) passed; last error: %s",
			   p->cl.conf.delivery_timeout_ms,
			   errstr ? errstr : fluxo_err2str(err));
		batch_fail(b, FLUXO_ERR__TIMED_OUT, why);
	} else {
		batch_fail(b, err, errstr);
	}
out_done:
	accum_release(&p->acc, b);
	b->next = *done;
	*done = b;
}

static void settle_all(struct fluxo_producer *p, struct preq *pr, int err,
		       const char *errstr)
{
	struct pbatch *done = NULL;
	bool refresh = false;
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < pr->cnt; i++)
		settle(p, pr->b[i], err, errstr, -1, -1, now, &done, &refresh);
	if (p->space_waiters)
		pthread_cond_broadcast(&p->space_cond);
	pthread_mutex_unlock(&p->lock);
	if (refresh)
		client_md_refresh(&p->cl, NULL);
	dr_push(p, done);
}

/*
 * The response entry of topic/partition. Brokers answer in request order,
 * so the entry after the previous match (*ti, *pj) is tried first; any
 * order is accepted.
 */
static const Fluxo__ProducePartitionResponse *
find_presp(const Fluxo__ProduceResponse *r, const char *topic, int32_t part,
	   size_t *ti, size_t *pj)
{
	for (size_t k = 0; k < 2; k++) {
		size_t i = *ti, j = *pj + k;

		if (i < r->n_topics && j >= r->topics[i]->n_partitions) {
			i++;
			j = 0;
		}
		if (i < r->n_topics && j < r->topics[i]->n_partitions &&
		    r->topics[i]->partitions[j]->partition == part &&
		    strcmp(r->topics[i]->name, topic) == 0) {
			*ti = i;
			*pj = j;
			return r->topics[i]->partitions[j];
		}
	}
	for (size_t i = 0; i < r->n_topics; i++) {
		const Fluxo__ProduceTopicResponse *t = r->topics[i];

		if (strcmp(t->name, topic) != 0)
			continue;
		for (size_t j = 0; j < t->n_partitions; j++)
			if (t->partitions[j]->partition == part) {
				*ti = i;
				*pj = j;
				return t->partitions[j];
			}
	}
	return NULL;
}

static void produce_cb(struct client *cl, struct req *req, int err,
		       const char *errstr, struct resp *resp)
{
	struct preq *pr = req->opaque;
	struct fluxo_producer *p = pr->p;
	const Fluxo__ProduceResponse *r;
	struct pbatch *done = NULL;
	bool refresh = false;
	int64_t now = clock_mono_ms();
	size_t ti, pj;

	if (err == 0 && !resp) {
		/* acks=0: written is all there will ever be. */
		settle_all(p, pr, 0, NULL);
		goto out_free;
	}
	if (err) {
		settle_all(p, pr, err, errstr);
		goto out_free;
	}
	if (resp->head->error ||
	    resp->head->body_case != FLUXO__RESPONSE__BODY_PRODUCE) {
		int e = resp->head->error ? (int)resp->head->error
					  : FLUXO_ERR__BAD_MSG;

		settle_all(p, pr, e,
			   resp->head->error_message[0]
			       ? resp->head->error_message
			       : "the broker's answer to a produce request "
				 "has no produce body");
		goto out_free;
	}
	r = resp->head->produce;
	ti = pj = 0;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < pr->cnt; i++) {
		struct pbatch *b = pr->b[i];
		const Fluxo__ProducePartitionResponse *pp;
		int64_t base;

		pp = find_presp(r, b->tp->topic->name, b->tp->partition, &ti,
				&pj);
		if (!pp) {
			settle(p, b, FLUXO_ERR__BAD_MSG,
			       "the broker's produce response does not "
			       "mention this partition",
			       -1, -1, now, &done, &refresh);
			continue;
		}
		/* Several batches of one partition in one request: the
		 * broker reports the first one's base offset, or each
		 * batch's when some were idempotent retries already in the
		 * log (their offsets are then not consecutive). */
		base = pp->base_offset;
		if (!pp->error && base >= 0) {
			size_t k = 0;

			for (int j = i - 1; j >= 0 && pr->b[j]->tp == b->tp;
			     j--) {
				base += pr->b[j]->rec_cnt;
				k++;
			}
			if (k < pp->n_batch_base_offsets)
				base = pp->batch_base_offsets[k];
		}
		settle(p, b, pp->error,
		       pp->error_message[0] ? pp->error_message : NULL, base,
		       pp->log_append_time_ms, now, &done, &refresh);
	}
	if (p->space_waiters)
		pthread_cond_broadcast(&p->space_cond);
	pthread_mutex_unlock(&p->lock);
	if (refresh)
		client_md_refresh(cl, NULL);
	dr_push(p, done);
out_free:
	free(pr);
}

/* ------------------------------------------------------------ idempotence */

/* Rewrites the producer fields of a finished batch and its CRC. */
static void restamp(struct pbatch *b, int64_t pid, int16_t epoch)
{
	uint8_t *d = b->bb.out.data;
	size_t len = b->bb.out.len;

	if (!b->finished || len < BATCH_HEADER_SIZE)
		return;
	be64_put(d + BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
	be16_put(d + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
	be32_put(d + BATCH_OFF_BASE_SEQUENCE, (uint32_t)b->base_seq);
	be32_put(d + BATCH_OFF_CRC, crc32c(0, d + BATCH_OFF_ATTRIBUTES,
					   len - BATCH_OFF_ATTRIBUTES));
}

static void pid_cb(struct client *cl, struct req *req, int err,
		   const char *errstr, struct resp *resp)
{
	struct fluxo_producer *p = cl->owner;
	const Fluxo__InitProducerIdResponse *r = NULL;

	p->pid_inflight = false;
	if (!err && resp->head->error)
		err = resp->head->error;
	if (!err &&
	    resp->head->body_case == FLUXO__RESPONSE__BODY_INIT_PRODUCER_ID)
		r = resp->head->init_producer_id;
	if (!err && (!r || r->error))
		err = r ? (int)r->error : FLUXO_ERR__BAD_MSG;
	if (err) {
		if (!p->pid_warned)
			log_warn("producer",
				 "InitProducerId failed (retrying "
				 "every %d ms): %s",
				 cl->conf.retry_backoff_ms,
				 errstr ? errstr : fluxo_err2str(err));
		p->pid_warned = true;
		p->pid_next_ms = clock_mono_ms() + cl->conf.retry_backoff_ms;
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->pid = r->producer_id;
	p->epoch = (int16_t)r->producer_epoch;
	if (p->resequence) {
		/* Renumber what waits, in order, under the new id. */
		for (int i = 0; i < p->hcap; i++)
			for (struct ptopic *t = p->htab[i]; t; t = t->hnext)
				for (int32_t k = 0; k < t->part_cnt; k++) {
					struct ptoppar *tp = t->parts[k];

					tp->next_seq = 0;
					tp->retrying = false;
					for (struct pbatch *b = tp->head; b;
					     b = b->next) {
						if (b->base_seq < 0)
							continue;
						b->base_seq = tp->next_seq;
						tp->next_seq += b->rec_cnt;
						restamp(b, p->pid, p->epoch);
					}
				}
		p->resequence = false;
	}
	pthread_mutex_unlock(&p->lock);
	log_debug("producer", "producer id %lld epoch %d", (long long)p->pid,
		 p->epoch);
}

/* Returns true when produce requests may be sent. I/O thread. */
static bool idempotence_ready(struct fluxo_producer *p, int64_t now,
			      int64_t *next)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__InitProducerIdRequest ip = FLUXO__INIT_PRODUCER_ID_REQUEST__INIT;
	struct req *req;

	if (!p->idempotent)
		return true;
	if (p->need_reset) {
		if (p->inflight_batches > 0)
			return false;
		pthread_mutex_lock(&p->lock);
		p->pid = -1;
		p->need_reset = false;
		p->resequence = true;
		pthread_mutex_unlock(&p->lock);
	}
	if (p->pid >= 0)
		return true;
	if (p->pid_inflight)
		return false;
	if (now < p->pid_next_ms) {
		if (p->pid_next_ms < *next)
			*next = p->pid_next_ms;
		return false;
	}
	ip.transactional_id = "";
	ip.producer_id = -1;
	ip.producer_epoch = -1;
	head.body_case = FLUXO__REQUEST__BODY_INIT_PRODUCER_ID;
	head.init_producer_id = &ip;
	req =
	    req_new(&p->cl, &head, NULL, 0, CLIENT_ANY_BROKER, 0, pid_cb, NULL);
	if (req) {
		p->pid_inflight = true;
		client_submit(&p->cl, req);
	}
	return false;
}

/* ------------------------------------------------------------ sender */

static int cmp_drain(const void *a, const void *b)
{
	const struct drain *x = a, *y = b;

	if (x->bk != y->bk)
		return x->bk->id < y->bk->id ? -1 : 1;
	if (x->tp->topic->idx != y->tp->topic->idx)
		return x->tp->topic->idx < y->tp->topic->idx ? -1 : 1;
	return (x->tp->partition > y->tp->partition) -
	       (x->tp->partition < y->tp->partition);
}

/* Fails queued batches whose delivery.timeout.ms passed. Locked. */
static void expire(struct fluxo_producer *p, struct ptoppar *tp, int64_t now,
		   struct pbatch **done)
{
	char why[200];

	while (tp->head && tp->head->deadline_ms <= now) {
		struct pbatch *b = accum_pop(&p->acc, tp);

		client_fmt(why, sizeof(why),
			   "delivery.timeout.ms (%d ms) passed before the "
			   "batch could be sent%s",
			   p->cl.conf.delivery_timeout_ms,
			   tp->leader < 0 ? " (the partition has no leader)"
					  : "");
		if (p->idempotent && b->base_seq >= 0)
			p->need_reset = true;
		batch_fail(b, FLUXO_ERR__TIMED_OUT, why);
		accum_release(&p->acc, b);
		b->next = *done;
		*done = b;
	}
}

/*
 * Pops the ready batches of a run of partitions led by one broker into
 * one request's worth. Locked. Returns the number of batches taken into
 * out (payload order) and lowers *next.
 */
static int take_batches(struct fluxo_producer *p, struct drain *d, int cnt,
			int64_t now, bool flush, struct pbatch **out,
			int out_max, int64_t *next)
{
	size_t max = (size_t)p->cl.conf.max_request_size, bytes = 0;
	int n = 0;

	for (int i = 0; i < cnt && n < out_max; i++) {
		struct ptoppar *tp = d[i].tp;

		while (n < out_max &&
		       accum_ready(&p->acc, tp, now, flush, next)) {
			size_t sz = batch_builder_size(&tp->head->bb);
			struct pbatch *b;

			if (bytes > 0 && bytes + sz > max)
				return n;
			if (p->idempotent &&
			    tp->inflight >= IDEMPOTENT_MAX_INFLIGHT)
				break;
			b = accum_pop(&p->acc, tp);
			if (p->idempotent && b->base_seq < 0) {
				b->base_seq = tp->next_seq;
				tp->next_seq += b->rec_cnt;
			}
			tp->inflight++;
			p->inflight_batches++;
			b->attempts++;
			out[n++] = b;
			bytes += sz;
		}
	}
	return n;
}

/*
 * Batches popped for a request that will not carry them (encoding failed,
 * out of memory): they are done, with the error already set.
 */
static void fail_unsent(struct fluxo_producer *p, struct pbatch **bs, int n)
{
	struct pbatch *done = NULL;

	if (n == 0)
		return;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < n; i++) {
		struct pbatch *b = bs[i];

		b->tp->inflight--;
		p->inflight_batches--;
		if (p->idempotent && b->base_seq >= 0)
			p->need_reset = true;
		accum_release(&p->acc, b);
		b->next = done;
		done = b;
	}
	if (p->space_waiters)
		pthread_cond_broadcast(&p->space_cond);
	pthread_mutex_unlock(&p->lock);
	dr_push(p, done);
}

/*
 * Builds and queues one ProduceRequest from n popped batches, which are in
 * payload order (grouped by topic, then partition). bs is scratch: on
 * return it holds nothing of interest.
 */
static void send_request(struct fluxo_producer *p, struct broker *bk,
			 struct pbatch **bs, int n)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__ProduceRequest pr = FLUXO__PRODUCE_REQUEST__INIT;
	Fluxo__ProduceTopic *topics, **tptrs;
	Fluxo__ProducePartition *parts, **pptrs;
	struct iovec *iov;
	struct preq *preq;
	struct req *req;
	int ok = 0, bad = 0, nt = 0, np = 0;

	preq = malloc(sizeof(*preq) + (size_t)n * sizeof(preq->b[0]));
	topics = arena_alloc(&p->arena, (size_t)n * sizeof(*topics));
	tptrs = arena_alloc(&p->arena, (size_t)n * sizeof(*tptrs));
	parts = arena_alloc(&p->arena, (size_t)n * sizeof(*parts));
	pptrs = arena_alloc(&p->arena, (size_t)n * sizeof(*pptrs));
	iov = arena_alloc(&p->arena, (size_t)n * sizeof(*iov));
	if (!preq || !topics || !tptrs || !parts || !pptrs || !iov) {
		for (int i = 0; i < n; i++)
			batch_fail(bs[i], FLUXO_ERR__NOMEM,
				   "out of memory building a produce request");
		bad = n;
		goto out_fail;
	}
	preq->p = p;
	/* Finish outside the lock: compression, header and CRC. */
	for (int i = 0; i < n; i++) {
		struct pbatch *b = bs[i];
		int rc = 0;

		if (!b->finished) {
			rc = batch_builder_finish(
			    &b->bb, p->idempotent ? p->pid : -1,
			    p->idempotent ? p->epoch : -1,
			    p->idempotent ? b->base_seq : -1,
			    p->cl.conf.compression_level);
			b->finished = rc == 0;
		}
		if (rc < 0) {
			batch_fail(b, client_err_from_local(rc),
				   "the batch could not be encoded");
			bs[bad++] = b; /* bad <= i: never overwrites ahead */
			continue;
		}
		preq->b[ok] = b;
		iov[ok].iov_base = b->bb.out.data;
		iov[ok].iov_len = b->bb.out.len;
		if (nt == 0 || topics[nt - 1].name != b->tp->topic->name) {
			fluxo__produce_topic__init(&topics[nt]);
			topics[nt].name = b->tp->topic->name;
			topics[nt].partitions = &pptrs[np];
			tptrs[nt] = &topics[nt];
			nt++;
		}
		if (topics[nt - 1].n_partitions == 0 ||
		    parts[np - 1].partition != b->tp->partition) {
			fluxo__produce_partition__init(&parts[np]);
			parts[np].partition = b->tp->partition;
			pptrs[np] = &parts[np];
			np++;
			topics[nt - 1].n_partitions++;
		}
		parts[np - 1].records_size += (uint32_t)b->bb.out.len;
		ok++;
	}
	preq->cnt = ok;
	if (ok == 0)
		goto out_fail;
	pr.acks = p->acks;
	pr.timeout_ms = p->cl.conf.request_timeout_ms;
	pr.topics = tptrs;
	pr.n_topics = (size_t)nt;
	pr.transactional_id = "";
	head.body_case = FLUXO__REQUEST__BODY_PRODUCE;
	head.produce = &pr;
	req = req_new(&p->cl, &head, iov, ok, bk->id, 0, produce_cb, preq);
	if (!req) {
		for (int i = 0; i < ok; i++) {
			batch_fail(preq->b[i], FLUXO_ERR__NOMEM,
				   "out of memory building a produce request");
			bs[bad++] = preq->b[i];
		}
		goto out_fail;
	}
	if (p->acks == 0)
		req->flags |= REQ_F_NO_RESPONSE;
	broker_enqueue(bk, req, false);
	preq = NULL; /* the callback frees it */
out_fail:
	arena_reset(&p->arena);
	free(preq);
	fail_unsent(p, bs, bad);
}

static int64_t producer_serve(struct client *cl, int64_t now)
{
	struct fluxo_producer *p = cl->owner;
	struct pbatch *done = NULL, *bs[512];
	int64_t next = INT64_MAX;
	bool flush = atomic_load(&p->flushing) > 0;
	bool can_send, want_md = false;
	int nready = 0, max_inflight = cl->conf.max_in_flight;

	can_send = idempotence_ready(p, now, &next);
	pthread_mutex_lock(&p->lock);
	for (struct ptoppar *tp = p->acc.pend_head, *nx; tp; tp = nx) {
		struct broker *bk;

		nx = tp->pend_next;
		expire(p, tp, now, &done);
		if (!tp->head)
			continue;
		if (tp->head->deadline_ms < next)
			next = tp->head->deadline_ms;
		if (!can_send)
			continue;
		if (p->idempotent && tp->retrying) {
			if (tp->inflight > 0)
				continue;
			tp->retrying = false;
		}
		if (!accum_ready(&p->acc, tp, now, flush, &next))
			continue;
		if (tp->leader < 0) {
			want_md = true;
			continue;
		}
		bk = client_broker_ready(cl, tp->leader);
		if (!bk || bk->produce_inflight >= max_inflight)
			continue;
		if (nready == p->ready_cap) {
			int cap = p->ready_cap ? p->ready_cap * 2 : 64;
			struct drain *grown =
			    realloc(p->ready, (size_t)cap * sizeof(*grown));

			if (!grown)
				break;
			p->ready = grown;
			p->ready_cap = cap;
		}
		p->ready[nready].tp = tp;
		p->ready[nready].bk = bk;
		nready++;
	}
	if (nready > 1)
		qsort(p->ready, (size_t)nready, sizeof(*p->ready), cmp_drain);
	for (int i = 0, j; i < nready; i = j) {
		struct broker *bk = p->ready[i].bk;

		for (j = i; j < nready && p->ready[j].bk == bk; j++)
			;
		while (bk->produce_inflight < max_inflight) {
			int n = take_batches(p, &p->ready[i], j - i, now, flush,
					     bs, 512, &next);

			if (n == 0)
				break;
			pthread_mutex_unlock(&p->lock);
			send_request(p, bk, bs, n);
			pthread_mutex_lock(&p->lock);
		}
	}
	/* With nothing queued, the next record must wake us up. */
	p->armed = p->acc.pend_head == NULL;
	if (done && p->space_waiters)
		pthread_cond_broadcast(&p->space_cond);
	pthread_mutex_unlock(&p->lock);
	if (want_md) {
		client_md_refresh(cl, NULL);
		if (now + cl->conf.retry_backoff_ms < next)
			next = now + cl->conf.retry_backoff_ms;
	}
	dr_push(p, done);
	return next;
}

static const struct client_ops producer_ops = {
    .serve = producer_serve,
    .md_updated = producer_md_updated,
};

/* ------------------------------------------------------------ public API */

fluxo_producer_t *fluxo_producer_new(fluxo_conf_t *conf, char *errstr,
				     size_t errstr_size)
{
	struct fluxo_producer *p;
	struct accum_conf ac;
	char scratch[1];
	int rc;

	if (!errstr || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (!conf) {
		client_fmt(errstr, errstr_size, "fluxo_producer_new: no conf");
		return NULL;
	}
	if (client_conf_finalize(conf, true, errstr, errstr_size) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		client_fmt(errstr, errstr_size, "out of memory");
		return NULL;
	}
	p->hcap = 16;
	p->htab = calloc((size_t)p->hcap, sizeof(*p->htab));
	if (!p->htab) {
		free(p);
		client_fmt(errstr, errstr_size, "out of memory");
		return NULL;
	}
	p->dr_cb = conf->dr_cb;
	p->dr_opaque = conf->dr_opaque;
	p->acks = client_conf_acks(&conf->c);
	p->idempotent = conf->c.enable_idempotence;
	p->pid = -1;
	p->epoch = -1;
	p->rng = (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)p;
	p->armed = true;
	atomic_init(&p->flushing, 0);
	atomic_init(&p->closing, false);
	atomic_init(&p->outq, 0);
	atomic_init(&p->wall_off_us, 0);
	atomic_init(&p->wall_sync_us, INT64_MIN / 2);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->dr_lock, NULL);
	client_cond_init(&p->space_cond);
	client_cond_init(&p->dr_cond);
	arena_init(&p->arena, 0);
	ac.batch_size = (size_t)conf->c.batch_size;
	ac.linger_ms = conf->c.linger_ms;
	ac.codec = conf->c.compression_type;
	ac.level = conf->c.compression_level;
	ac.buffer_memory = conf->c.buffer_memory;
	ac.max_request_size = (size_t)conf->c.max_request_size;
	ac.delivery_timeout_ms = conf->c.delivery_timeout_ms;
	ac.keep_recs = p->dr_cb != NULL;
	accum_init(&p->acc, &ac);
	rc = client_init(&p->cl, &conf->c, &producer_ops, p, errstr,
			 errstr_size);
	if (rc < 0) {
		accum_destroy(&p->acc);
		arena_destroy(&p->arena);
		pthread_mutex_destroy(&p->lock);
		pthread_mutex_destroy(&p->dr_lock);
		pthread_cond_destroy(&p->space_cond);
		pthread_cond_destroy(&p->dr_cond);
		free(p->htab);
		free(p);
		return NULL;
	}
	fluxo_conf_destroy(conf);
	return p;
}

/* The wall clock in ms for a monotonic time of now (see wall_off_us). */
static int64_t wall_ms(struct fluxo_producer *p, int64_t now_us)
{
	int64_t off =
	    atomic_load_explicit(&p->wall_off_us, memory_order_relaxed);

	if (now_us -
		atomic_load_explicit(&p->wall_sync_us, memory_order_relaxed) >
	    1000000) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		off = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 -
		      clock_mono_us();
		atomic_store_explicit(&p->wall_off_us, off,
				      memory_order_relaxed);
		atomic_store_explicit(&p->wall_sync_us, now_us,
				      memory_order_relaxed);
	}
	return (now_us + off) / 1000;
}

/*
 * Queues a delivery report for a record fluxo_produce() refused after it
 * waited for the topic, so that callback-driven code sees the broker's
 * explanation. Only when a delivery callback is set.
 */
static void report_refused(struct fluxo_producer *p, struct ptopic *t, int err,
			   const char *errstr, int64_t timestamp, void *opaque,
			   int64_t enq_us)
{
	struct ptoppar *tp;
	struct pbatch *b;

	if (!p->dr_cb)
		return;
	tp = calloc(1, sizeof(*tp));
	b = calloc(1, sizeof(*b));
	if (b)
		b->recs = malloc(sizeof(*b->recs));
	if (!tp || !b || !b->recs) {
		free(tp);
		if (b)
			free(b->recs);
		free(b);
		return;
	}
	tp->topic = t;
	tp->partition = -1; /* marks the stand-alone report */
	b->bb = (struct batch_builder)BATCH_BUILDER_INIT;
	b->tp = tp;
	b->rec_cnt = 1;
	b->rec_cap = 1;
	b->recs[0].opaque = opaque;
	b->recs[0].timestamp = timestamp;
	b->recs[0].enq_us = enq_us;
	b->log_append_time = -1;
	batch_fail(b, err, errstr);
	atomic_fetch_add(&p->outq, 1);
	dr_push(p, b);
}

int fluxo_produce(fluxo_producer_t *p, const char *topic, int32_t partition,
		  const void *key, size_t key_len, const void *value,
		  size_t value_len, const fluxo_header_t *headers,
		  size_t header_cnt, int64_t timestamp_ms, void *msg_opaque)
{
	struct ptopic *t;
	struct ptoppar *tp;
	int64_t now_us, now_ms, deadline;
	size_t size;
	bool ready = false, wake;
	char errstr[512];
	int rc;

	if (!p || !topic || !*topic || (header_cnt && !headers) ||
	    partition < FLUXO_PARTITION_UA)
		return FLUXO_ERR__INVALID_ARG;
	if ((key && key_len > INT32_MAX) || (value && value_len > INT32_MAX))
		return FLUXO_ERR__MSG_SIZE_TOO_LARGE;
	size = accum_record_size(key_len, !key, value_len, !value, headers,
				 header_cnt);
	if (size + BATCH_HEADER_SIZE + 1024 >
	    (size_t)p->cl.conf.max_request_size)
		return FLUXO_ERR__MSG_SIZE_TOO_LARGE;
	if (atomic_load(&p->closing))
		return FLUXO_ERR__DESTROY;
	now_us = clock_mono_us();
	now_ms = now_us / 1000;
	if (timestamp_ms == 0)
		timestamp_ms = wall_ms(p, now_us);
	deadline = now_ms + p->cl.conf.max_block_ms;

	pthread_mutex_lock(&p->lock);
	t = topic_get(p, topic);
	if (!t) {
		pthread_mutex_unlock(&p->lock);
		return FLUXO_ERR__NOMEM;
	}
	if (t->part_cnt <= 0)
		topic_refresh_locked(p, t);
	while (t->part_cnt <= 0) {
		pthread_mutex_unlock(&p->lock);
		rc = client_topic_wait(&p->cl, topic, deadline, 0, errstr,
				       sizeof(errstr));
		pthread_mutex_lock(&p->lock);
		topic_refresh_locked(p, t);
		if (t->part_cnt > 0)
			break;
		if (rc >= 0)
			continue; /* known now; the cache tells next time */
		pthread_mutex_unlock(&p->lock);
		if (rc == FLUXO_ERR__UNKNOWN_TOPIC)
			report_refused(p, t, rc, errstr, timestamp_ms,
				       msg_opaque, now_us);
		return rc;
	}
	if (partition != FLUXO_PARTITION_UA) {
		if (partition >= t->part_cnt) {
			pthread_mutex_unlock(&p->lock);
			return FLUXO_ERR__UNKNOWN_PARTITION;
		}
		tp = t->parts[partition];
	} else if (key && !p->cl.conf.partitioner_ignore_keys) {
		tp = t->parts[partitioner_key(key, key_len, t->part_cnt)];
	} else {
		if (t->sticky < 0 || t->sticky >= t->part_cnt)
			t->sticky = partitioner_sticky_next(t, -1, &p->rng);
		tp = t->parts[t->sticky];
		if (accum_would_open(&p->acc, tp, size)) {
			/* KIP-480: a new batch means a new sticky
			 * partition. */
			t->sticky =
			    partitioner_sticky_next(t, t->sticky, &p->rng);
			tp = t->parts[t->sticky];
		}
	}
	while (!accum_has_room(&p->acc, size)) {
		if (clock_mono_ms() >= deadline) {
			pthread_mutex_unlock(&p->lock);
			return FLUXO_ERR__QUEUE_FULL;
		}
		p->space_waiters++;
		client_cond_wait_until(&p->space_cond, &p->lock, deadline);
		p->space_waiters--;
	}
	rc = accum_append(&p->acc, tp, timestamp_ms, key, key_len, value,
			  value_len, headers, header_cnt, size, msg_opaque,
			  now_ms, now_us, &ready);
	if (rc < 0) {
		pthread_mutex_unlock(&p->lock);
		return client_err_from_local(rc);
	}
	atomic_fetch_add_explicit(&p->outq, 1, memory_order_relaxed);
	wake = ready || p->armed;
	p->armed = false;
	pthread_mutex_unlock(&p->lock);
	if (wake)
		client_wakeup(&p->cl);
	return 0;
}

int fluxo_producer_poll(fluxo_producer_t *p, int timeout_ms)
{
	if (!p)
		return 0;
	return serve_reports(p, timeout_ms);
}

int fluxo_producer_flush(fluxo_producer_t *p, int timeout_ms)
{
	int64_t deadline;
	int rc = 0;

	if (!p)
		return FLUXO_ERR__INVALID_ARG;
	deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
	atomic_fetch_add(&p->flushing, 1);
	client_wakeup(&p->cl);
	while (atomic_load(&p->outq) > 0) {
		int64_t left =
		    deadline == INT64_MAX ? 100 : deadline - clock_mono_ms();

		if (left <= 0) {
			rc = FLUXO_ERR__TIMED_OUT;
			break;
		}
		serve_reports(p, left > 100 ? 100 : (int)left);
	}
	atomic_fetch_sub(&p->flushing, 1);
	return rc;
}

size_t fluxo_producer_outq_len(fluxo_producer_t *p)
{
	return p ? atomic_load(&p->outq) : 0;
}

int fluxo_producer_partition_count(fluxo_producer_t *p, const char *topic,
				   int timeout_ms)
{
	struct ptopic *t;
	char errstr[512];
	int rc;

	if (!p || !topic || !*topic)
		return FLUXO_ERR__INVALID_ARG;
	pthread_mutex_lock(&p->lock);
	t = topic_get(p, topic);
	if (t && t->part_cnt <= 0)
		topic_refresh_locked(p, t);
	rc = t ? t->part_cnt : FLUXO_ERR__NOMEM;
	pthread_mutex_unlock(&p->lock);
	if (rc != 0)
		return rc;
	rc = client_topic_wait(&p->cl, topic,
			       clock_mono_ms() +
				   (timeout_ms < 0 ? INT32_MAX : timeout_ms),
			       3, errstr, sizeof(errstr));
	if (rc > 0) {
		pthread_mutex_lock(&p->lock);
		topic_refresh_locked(p, t);
		pthread_mutex_unlock(&p->lock);
	}
	return rc;
}

void fluxo_producer_destroy(fluxo_producer_t *p)
{
	struct pbatch *done = NULL;

	if (!p)
		return;
	atomic_store(&p->closing, true);
	/* Stops the I/O thread: requests in flight come back with
	 * FLUXO_ERR__DESTROY and their batches land on the report list. */
	client_destroy(&p->cl);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->hcap; i++)
		for (struct ptopic *t = p->htab[i]; t; t = t->hnext)
			for (int32_t k = 0; k < t->part_cnt; k++) {
				struct ptoppar *tp = t->parts[k];
				struct pbatch *b;

				while ((b = accum_pop(&p->acc, tp)) != NULL) {
					batch_fail(b, FLUXO_ERR__DESTROY,
						   "the producer was destroyed "
						   "before the record was "
						   "acknowledged");
					accum_release(&p->acc, b);
					b->next = done;
					done = b;
				}
			}
	pthread_mutex_unlock(&p->lock);
	dr_push(p, done);
	serve_reports(p, 0);
	for (int i = 0; i < p->hcap; i++) {
		struct ptopic *t, *next;

		for (t = p->htab[i]; t; t = next) {
			next = t->hnext;
			for (int32_t k = 0; k < t->part_cnt; k++)
				free(t->parts[k]);
			free(t->parts);
			free(t->name);
			free(t->errstr);
			free(t);
		}
	}
	free(p->htab);
	free(p->ready);
	accum_destroy(&p->acc);
	arena_destroy(&p->arena);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->dr_lock);
	pthread_cond_destroy(&p->space_cond);
	pthread_cond_destroy(&p->dr_cond);
	free(p);
}
