/*
 * accum.c - the producer's record accumulator and partitioners.
 *
 * Invariants (all under the producer's lock):
 *   - a partition's queue is ordered by seq_no (creation order); only the
 *     tail may be open (closed == false);
 *   - a partition is on the pending list exactly when its queue is not
 *     empty;
 *   - acc->buffered is the sum of bytes over batches not yet released.
 * A batch that reaches batch.size is closed at once, so the sender sees it
 * ready without waiting for linger.ms. Batches in requests are off every
 * queue; a retry puts them back in seq_no order.
 */
#include "config.h"
#include "accum.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/murmur2.h"

#define POOL_MAX	 64
#define HEADERS_ON_STACK 16

void accum_init(struct accum *acc, const struct accum_conf *conf)
{
	memset(acc, 0, sizeof(*acc));
	acc->conf = *conf;
}

static void batch_destroy(struct pbatch *b)
{
	batch_builder_free(&b->bb);
	free(b->recs);
	free(b->errstr);
	free(b);
}

void accum_destroy(struct accum *acc)
{
	struct pbatch *b, *next;

	for (b = acc->pool; b; b = next) {
		next = b->next;
		batch_destroy(b);
	}
	acc->pool = NULL;
	acc->pool_cnt = 0;
}

size_t accum_record_size(size_t key_len, bool key_null, size_t value_len,
			 bool value_null, const fluxo_header_t *headers,
			 size_t header_cnt)
{
	size_t hbytes = 0;

	for (size_t i = 0; i < header_cnt; i++)
		hbytes += 10 + headers[i].name_len +
			  (headers[i].value ? headers[i].value_len : 0);
	return batch_record_size_estimate(key_null ? -1 : (int32_t)key_len,
					  value_null ? -1 : (int32_t)value_len,
					  hbytes);
}

bool accum_has_room(const struct accum *acc, size_t size)
{
	return acc->buffered == 0 ||
	       acc->buffered + (int64_t)size <= acc->conf.buffer_memory;
}

static struct pbatch *open_batch_of(const struct ptoppar *tp)
{
	return tp->tail && !tp->tail->closed ? tp->tail : NULL;
}

bool accum_would_open(const struct accum *acc, const struct ptoppar *tp,
		      size_t size)
{
	const struct pbatch *b = open_batch_of(tp);

	return !b || batch_builder_size(&b->bb) + size > acc->conf.batch_size;
}

static void pend_add(struct accum *acc, struct ptoppar *tp)
{
	if (tp->pending)
		return;
	tp->pending = true;
	tp->pend_next = NULL;
	tp->pend_prev = acc->pend_tail;
	if (acc->pend_tail)
		acc->pend_tail->pend_next = tp;
	else
		acc->pend_head = tp;
	acc->pend_tail = tp;
}

void accum_pend_update(struct accum *acc, struct ptoppar *tp)
{
	if (!tp->pending || tp->head)
		return;
	if (tp->pend_prev)
		tp->pend_prev->pend_next = tp->pend_next;
	else
		acc->pend_head = tp->pend_next;
	if (tp->pend_next)
		tp->pend_next->pend_prev = tp->pend_prev;
	else
		acc->pend_tail = tp->pend_prev;
	tp->pend_next = tp->pend_prev = NULL;
	tp->pending = false;
}

static struct pbatch *batch_get(struct accum *acc, struct ptoppar *tp,
				int64_t now_ms)
{
	struct pbatch *b = acc->pool;

	if (b) {
		acc->pool = b->next;
		acc->pool_cnt--;
	} else {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->bb = (struct batch_builder)BATCH_BUILDER_INIT;
	}
	if (batch_builder_begin(&b->bb, acc->conf.codec) < 0) {
		b->next = acc->pool;
		acc->pool = b;
		acc->pool_cnt++;
		return NULL;
	}
	b->next = NULL;
	b->tp = tp;
	b->rec_cnt = 0;
	b->bytes = 0;
	b->created_ms = now_ms;
	b->deadline_ms = now_ms + acc->conf.delivery_timeout_ms;
	b->first_enq_us = 0;
	b->seq_no = tp->next_seq_no++;
	b->base_seq = -1;
	b->attempts = 0;
	b->retry_at_ms = 0;
	b->closed = false;
	b->finished = false;
	b->err = 0;
	free(b->errstr);
	b->errstr = NULL;
	b->base_offset = -1;
	b->log_append_time = -1;
	b->done_us = 0;
	return b;
}

static void queue_tail(struct accum *acc, struct ptoppar *tp, struct pbatch *b)
{
	b->next = NULL;
	if (tp->tail)
		tp->tail->next = b;
	else
		tp->head = b;
	tp->tail = b;
	pend_add(acc, tp);
}

int accum_append(struct accum *acc, struct ptoppar *tp, int64_t timestamp,
		 const void *key, size_t key_len, const void *value,
		 size_t value_len, const fluxo_header_t *headers,
		 size_t header_cnt, size_t size, void *opaque, int64_t now_ms,
		 int64_t now_us, bool *became_ready)
{
	struct record_header hstack[HEADERS_ON_STACK], *hdrs = hstack;
	struct pbatch *b = open_batch_of(tp);
	bool ready = false;
	int rc;

	if (b && b->rec_cnt > 0 &&
	    batch_builder_size(&b->bb) + size > acc->conf.batch_size) {
		b->closed = true;
		ready = true;
		b = NULL;
	}
	if (!b) {
		b = batch_get(acc, tp, now_ms);
		if (!b)
			return ERR_NOMEM;
		queue_tail(acc, tp, b);
	}
	if (acc->conf.keep_recs && b->rec_cnt == b->rec_cap) {
		int cap = b->rec_cap ? b->rec_cap * 2 : 64;
		struct dr_rec *grown =
		    realloc(b->recs, (size_t)cap * sizeof(*grown));

		if (!grown) {
			rc = ERR_NOMEM;
			goto out;
		}
		b->recs = grown;
		b->rec_cap = cap;
	}
	if (header_cnt > HEADERS_ON_STACK) {
		hdrs = malloc(header_cnt * sizeof(*hdrs));
		if (!hdrs) {
			rc = ERR_NOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < header_cnt; i++) {
		hdrs[i].key = (const uint8_t *)headers[i].name;
		hdrs[i].key_len = (int32_t)headers[i].name_len;
		hdrs[i].value = headers[i].value;
		hdrs[i].value_len =
		    headers[i].value ? (int32_t)headers[i].value_len : -1;
	}
	rc = batch_builder_add(&b->bb, timestamp, key,
			       key ? (int32_t)key_len : -1, value,
			       value ? (int32_t)value_len : -1,
			       header_cnt ? hdrs : NULL, (int)header_cnt);
	if (hdrs != hstack)
		free(hdrs);
	if (rc < 0)
		goto out;
	if (acc->conf.keep_recs) {
		b->recs[b->rec_cnt].opaque = opaque;
		b->recs[b->rec_cnt].timestamp = timestamp;
		b->recs[b->rec_cnt].enq_us = now_us;
	}
	if (b->rec_cnt == 0)
		b->first_enq_us = now_us;
	b->rec_cnt++;
	b->bytes += size;
	acc->buffered += (int64_t)size;
	acc->queued_records++;
	if (batch_builder_size(&b->bb) >= acc->conf.batch_size) {
		b->closed = true;
		ready = true;
	}
out:
	if (b->rec_cnt == 0 && tp->tail == b) {
		/* Nothing went in: do not leave an empty batch queued. */
		struct pbatch *prev = NULL, *cur;

		for (cur = tp->head; cur != b; cur = cur->next)
			prev = cur;
		if (prev)
			prev->next = NULL;
		else
			tp->head = NULL;
		tp->tail = prev;
		accum_pend_update(acc, tp);
		accum_batch_free(acc, b);
	}
	if (became_ready)
		*became_ready = ready;
	return rc;
}

bool accum_ready(const struct accum *acc, const struct ptoppar *tp,
		 int64_t now_ms, bool flush, int64_t *next)
{
	const struct pbatch *b = tp->head;
	int64_t at;

	if (!b)
		return false;
	if (b->retry_at_ms > now_ms) {
		if (b->retry_at_ms < *next)
			*next = b->retry_at_ms;
		return false;
	}
	if (b->closed || b->next || flush)
		return true;
	at = b->created_ms + acc->conf.linger_ms;
	if (at <= now_ms)
		return true;
	if (at < *next)
		*next = at;
	return false;
}

struct pbatch *accum_pop(struct accum *acc, struct ptoppar *tp)
{
	struct pbatch *b = tp->head;

	if (!b)
		return NULL;
	tp->head = b->next;
	if (!tp->head)
		tp->tail = NULL;
	b->next = NULL;
	b->closed = true;
	acc->queued_records -= (size_t)b->rec_cnt;
	accum_pend_update(acc, tp);
	return b;
}

void accum_requeue(struct accum *acc, struct pbatch *b)
{
	struct ptoppar *tp = b->tp;
	struct pbatch *prev = NULL, *cur;

	for (cur = tp->head; cur && cur->seq_no < b->seq_no; cur = cur->next)
		prev = cur;
	b->next = cur;
	if (prev)
		prev->next = b;
	else
		tp->head = b;
	if (!cur)
		tp->tail = b;
	acc->queued_records += (size_t)b->rec_cnt;
	pend_add(acc, tp);
}

void accum_release(struct accum *acc, struct pbatch *b)
{
	acc->buffered -= (int64_t)b->bytes;
	if (acc->buffered < 0)
		acc->buffered = 0;
	b->bytes = 0;
}

void accum_batch_free(struct accum *acc, struct pbatch *b)
{
	accum_release(acc, b);
	if (acc->pool_cnt >= POOL_MAX) {
		batch_destroy(b);
		return;
	}
	free(b->errstr);
	b->errstr = NULL;
	b->tp = NULL;
	b->next = acc->pool;
	acc->pool = b;
	acc->pool_cnt++;
}

/* ------------------------------------------------------------ partitioners */

int32_t partitioner_key(const void *key, size_t len, int32_t cnt)
{
	return murmur2_partition(key, len, cnt);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

int32_t partitioner_sticky_next(const struct ptopic *t, int32_t prev,
				uint64_t *rng)
{
	int32_t avail = 0, pick, seen = 0;
	bool excl;

	if (t->part_cnt <= 0)
		return -1;
	if (t->part_cnt == 1)
		return 0;
	for (int32_t i = 0; i < t->part_cnt; i++)
		avail += t->parts[i]->leader >= 0;
	if (avail == 0) {
		/* No leader known anywhere: spread over all of them. */
		if (prev < 0 || prev >= t->part_cnt)
			return (int32_t)(xorshift(rng) % (uint64_t)t->part_cnt);
		pick = (int32_t)(xorshift(rng) % (uint64_t)(t->part_cnt - 1));
		return pick >= prev ? pick + 1 : pick;
	}
	excl = prev >= 0 && prev < t->part_cnt && t->parts[prev]->leader >= 0 &&
	       avail > 1;
	pick = (int32_t)(xorshift(rng) % (uint64_t)(avail - (excl ? 1 : 0)));
	for (int32_t i = 0; i < t->part_cnt; i++) {
		if (t->parts[i]->leader < 0 || (excl && i == prev))
			continue;
		if (seen++ == pick)
			return i;
	}
	return 0;
}
