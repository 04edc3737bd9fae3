/*
 * consumer_iter.c - decoding fetched record batches into messages.
 *
 * Runs on the application thread inside fluxo_consumer_poll(), so that the
 * I/O thread only reads sockets and the decoding of one response overlaps
 * the fetching of the next. Per record the cost is one batch_reader_next()
 * and a few stores into the borrowed message: no allocation, no lock.
 *
 * Fetched data is untrusted. Every batch is bounds-checked (and CRC-checked
 * with check.crcs) before its records are read; a partial batch at the end
 * of a response (cut by the fetch size limit) is ignored, as Kafka's
 * consumer does; a corrupt batch yields one error event and ends the part.
 */
#include "config.h"
#include "consumer_int.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

void citer_start(struct citer *it, const struct fpart *part, const char *topic,
		 int32_t partition, int64_t *position)
{
	it->part = part;
	it->topic = topic;
	it->partition = partition;
	it->position = position;
	it->pos = part->data;
	it->end = part->data ? part->data + part->len : NULL;
	it->in_batch = false;
}

void citer_abort(struct citer *it)
{
	it->pos = it->end;
	it->in_batch = false;
}

void citer_free(struct citer *it)
{
	batch_reader_free(&it->rd);
}

static int corrupt(struct citer *it, fluxo_message_t *m, char *errbuf,
		   size_t errbuf_size, const char *what, int rc)
{
	snprintf(errbuf, errbuf_size,
		 "fetched data of %s [%d] is corrupt at offset %lld: %s (%s)",
		 it->topic, it->partition,
		 (long long)(it->in_batch ? it->rec.offset : *it->position),
		 what, err_str(rc));
	memset(m, 0, sizeof(*m));
	m->err = FLUXO_ERR__BAD_MSG;
	m->errstr = errbuf;
	m->topic = it->topic;
	m->partition = it->partition;
	m->offset = *it->position;
	m->leader_epoch = -1;
	m->high_watermark = it->part->hw;
	citer_abort(it);
	return -1;
}

/* Opens the next batch that has records at or after the position. */
static int next_batch(struct citer *it, fluxo_message_t *m, char *errbuf,
		      size_t errbuf_size)
{
	while (it->pos && it->pos < it->end) {
		size_t avail = (size_t)(it->end - it->pos), size;
		int rc;

		if (avail < BATCH_HEADER_SIZE)
			break; /* a cut-off tail */
		batch_header_decode(it->pos, avail, &it->h);
		if (it->h.batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
			return corrupt(it, m, errbuf, errbuf_size,
				       "bad batch length", ERR_CORRUPT);
		if (batch_total_size(&it->h) > avail)
			break; /* cut off by the fetch size limit */
		if (it->check_crcs) {
			rc = batch_validate(it->pos, batch_total_size(&it->h),
					    batch_total_size(&it->h), NULL);
			if (rc < 0)
				return corrupt(it, m, errbuf, errbuf_size,
					       "bad batch", rc);
		}
		size = batch_total_size(&it->h);
		if (batch_last_offset(&it->h) < *it->position ||
		    (it->h.attributes & BATCH_ATTR_CONTROL)) {
			it->pos += size;
			continue;
		}
		rc = batch_reader_init(&it->rd, it->pos, size,
				       it->max_decompressed);
		if (rc < 0)
			return corrupt(it, m, errbuf, errbuf_size,
				       "cannot read the batch", rc);
		it->pos += size;
		it->in_batch = true;
		return 1;
	}
	it->pos = it->end;
	return 0;
}

int citer_next(struct citer *it, fluxo_message_t *m, char *errbuf,
	       size_t errbuf_size)
{
	int rc;

	for (;;) {
		if (!it->in_batch) {
			rc = next_batch(it, m, errbuf, errbuf_size);
			if (rc <= 0)
				return rc;
		}
		rc = batch_reader_next(&it->rd, &it->rec);
		if (rc == 0) {
			it->in_batch = false;
			continue;
		}
		if (rc < 0)
			return corrupt(it, m, errbuf, errbuf_size, "bad record",
				       rc);
		if (it->rec.offset < *it->position)
			continue;
		m->err = 0;
		m->errstr = NULL;
		m->topic = it->topic;
		m->partition = it->partition;
		m->offset = it->rec.offset;
		m->timestamp = it->rec.timestamp;
		m->timestamp_type =
		    (it->h.attributes & BATCH_ATTR_LOG_APPEND_TIME) ? 1 : 0;
		m->leader_epoch = it->h.partition_leader_epoch;
		m->key =
		    it->rec.key_len >= 0 ? (const void *)it->rec.key : NULL;
		m->key_len = it->rec.key_len >= 0 ? (size_t)it->rec.key_len : 0;
		m->value =
		    it->rec.value_len >= 0 ? (const void *)it->rec.value : NULL;
		m->value_len =
		    it->rec.value_len >= 0 ? (size_t)it->rec.value_len : 0;
		m->header_cnt =
		    it->rec.header_cnt > 0 ? (size_t)it->rec.header_cnt : 0;
		m->high_watermark = it->part->hw;
		m->priv = &it->rec;
		*it->position = it->rec.offset + 1;
		return 1;
	}
}

int64_t citer_next_fetch_offset(const uint8_t *data, size_t len)
{
	size_t pos = 0;
	int64_t next = -1;

	while (len - pos >= BATCH_HEADER_SIZE) {
		struct batch_header h;
		size_t size;

		if (batch_header_decode(data + pos, len - pos, &h) < 0 ||
		    h.batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
			break;
		size = batch_total_size(&h);
		if (size > len - pos)
			break;
		next = batch_last_offset(&h) + 1;
		pos += size;
	}
	return next;
}

int fluxo_message_header(const fluxo_message_t *m, size_t idx,
			 fluxo_header_t *out)
{
	const struct record *rec;
	const uint8_t *pos;
	struct record_header hdr;

	if (!m || !out || m->err || !m->priv || idx >= m->header_cnt)
		return FLUXO_ERR__INVALID_ARG;
	rec = m->priv;
	pos = rec->headers;
	for (size_t i = 0; i <= idx; i++)
		if (record_header_next(&pos, rec->headers_end, &hdr) != 1)
			return FLUXO_ERR__INVALID_ARG;
	out->name = (const char *)hdr.key;
	out->name_len = hdr.key_len > 0 ? (size_t)hdr.key_len : 0;
	out->value = hdr.value_len >= 0 ? (const void *)hdr.value : NULL;
	out->value_len = hdr.value_len > 0 ? (size_t)hdr.value_len : 0;
	return 0;
}
