/*
 * batch.c - record batch v2: validation for the broker, a record reader
 * for consumers, a builder for producers.
 *
 * Three hot paths, three designs:
 *
 *  - batch_validate runs on the broker for every produced batch (and for
 *    every batch of a log being recovered). It reads the fixed header, does
 *    a handful of integer comparisons and one CRC-32C over the batch, and
 *    touches nothing else: no decompression, no record decoding. Offsets
 *    and the leader epoch are then rewritten in place (outside the CRC).
 *
 *  - batch_reader_next decodes one record per call straight out of the
 *    batch (or out of the reader's decompression scratch, which is reused
 *    from batch to batch), returning pointers into it: no allocation and
 *    no copy per record. Every length is checked against the end of the
 *    record before it is used, and each record must exactly fill the
 *    length it declares, so malformed records inside a batch whose CRC is
 *    valid (a buggy or hostile producer) give ERR_CORRUPT, never a read
 *    out of bounds. Headers are walked once to check them; the caller
 *    iterates them again with record_header_next if it wants them.
 *
 *  - batch_builder_add computes the record's exact encoded size, extends
 *    the output once and writes the fields in place. The buffers are kept
 *    across batches, so a steady-state producer allocates nothing. Records
 *    go straight after the header space when the batch is uncompressed,
 *    and into a separate raw buffer when it will be compressed at finish.
 *
 * Varints take a one-byte fast path inline here (most fields of most
 * records are small) and fall back to varint.c otherwise.
 *
 * Nothing here keeps global state; all functions are reentrant, and one
 * reader or builder must be used by one thread at a time.
 */
#include "config.h"
#include "batch.h"

#include <string.h>

#include "compress.h"
#include "crc32c.h"
#include "err.h"
#include "varint.h"

/* batchLength of a batch with no records: the header after the length. */
#define BATCH_MIN_LENGTH (BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)

/* The smallest record: length, attributes, timestampDelta, offsetDelta,
 * keyLen, valueLen and headerCount, one byte each. */
#define RECORD_MIN_SIZE 7

/* Largest total batch size the int32 batchLength can describe. */
#define BATCH_MAX_TOTAL ((size_t)INT32_MAX + BATCH_LOG_OVERHEAD)

/* ------------------------------------------------------------ varints */

static inline size_t get_i32(const uint8_t *p, const uint8_t *end, int32_t *v)
{
	if (p < end && *p < 0x80) {
		*v = (int32_t)(*p >> 1) ^ -(int32_t)(*p & 1);
		return 1;
	}
	return varint_decode_i32(p, end, v);
}

static inline size_t get_i64(const uint8_t *p, const uint8_t *end, int64_t *v)
{
	if (p < end && *p < 0x80) {
		*v = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
		return 1;
	}
	return varint_decode_i64(p, end, v);
}

static inline size_t size_i32(int32_t v)
{
	return (v >= -64 && v < 64) ? 1 : varint_size_i32(v);
}

static inline size_t size_i64(int64_t v)
{
	return (v >= -64 && v < 64) ? 1 : varint_size_i64(v);
}

/* Bytes of payload for a length that may be -1 (null). */
static inline size_t payload(int32_t len)
{
	return len > 0 ? (size_t)len : 0;
}

static inline uint8_t *put_i32(uint8_t *p, int32_t v)
{
	if (v >= -64 && v < 64) {
		*p = (uint8_t)(v < 0 ? ~((uint32_t)v << 1) : (uint32_t)v << 1);
		return p + 1;
	}
	return p + varint_encode_i32(p, v);
}

static inline uint8_t *put_i64(uint8_t *p, int64_t v)
{
	if (v >= -64 && v < 64)
		return put_i32(p, (int32_t)v);
	return p + varint_encode_i64(p, v);
}

/* ------------------------------------------------------------ header */

int batch_header_decode(const uint8_t *p, size_t len, struct batch_header *h)
{
	if (len < BATCH_HEADER_SIZE)
		return ERR_TRUNCATED;
	h->base_offset = (int64_t)be64_get(p + BATCH_OFF_BASE_OFFSET);
	h->batch_length = (int32_t)be32_get(p + BATCH_OFF_LENGTH);
	h->partition_leader_epoch =
	    (int32_t)be32_get(p + BATCH_OFF_LEADER_EPOCH);
	h->magic = (int8_t)p[BATCH_OFF_MAGIC];
	h->crc = be32_get(p + BATCH_OFF_CRC);
	h->attributes = (int16_t)be16_get(p + BATCH_OFF_ATTRIBUTES);
	h->last_offset_delta =
	    (int32_t)be32_get(p + BATCH_OFF_LAST_OFFSET_DELTA);
	h->first_timestamp = (int64_t)be64_get(p + BATCH_OFF_FIRST_TIMESTAMP);
	h->max_timestamp = (int64_t)be64_get(p + BATCH_OFF_MAX_TIMESTAMP);
	h->producer_id = (int64_t)be64_get(p + BATCH_OFF_PRODUCER_ID);
	h->producer_epoch = (int16_t)be16_get(p + BATCH_OFF_PRODUCER_EPOCH);
	h->base_sequence = (int32_t)be32_get(p + BATCH_OFF_BASE_SEQUENCE);
	h->records_count = (int32_t)be32_get(p + BATCH_OFF_RECORDS_COUNT);
	return 0;
}

int batch_peek(const uint8_t *p, size_t len, int64_t *base_offset,
	       int32_t *batch_length)
{
	if (len < BATCH_LOG_OVERHEAD)
		return ERR_TRUNCATED;
	*base_offset = (int64_t)be64_get(p + BATCH_OFF_BASE_OFFSET);
	*batch_length = (int32_t)be32_get(p + BATCH_OFF_LENGTH);
	return 0;
}

int batch_validate(const uint8_t *p, size_t avail, size_t max_batch_bytes,
		   struct batch_header *h)
{
	struct batch_header hh;
	int32_t blen;
	size_t total;
	int codec;

	if (avail < BATCH_LOG_OVERHEAD)
		return ERR_TRUNCATED;
	blen = (int32_t)be32_get(p + BATCH_OFF_LENGTH);
	if (blen < BATCH_MIN_LENGTH)
		return ERR_CORRUPT;
	total = (size_t)BATCH_LOG_OVERHEAD + (size_t)blen;
	if (total > max_batch_bytes)
		return ERR_TOO_LARGE;
	if (total > avail)
		return ERR_TRUNCATED;
	batch_header_decode(p, total, &hh);
	if (hh.magic != BATCH_MAGIC)
		return ERR_CORRUPT;
	if (hh.records_count < 1 ||
	    hh.last_offset_delta != hh.records_count - 1)
		return ERR_CORRUPT;
	codec = batch_codec(&hh);
	if (codec > COMPRESS_ZSTD)
		return ERR_CORRUPT;
	/* An uncompressed batch cannot hold more records than fit. */
	if (codec == COMPRESS_NONE &&
	    (size_t)hh.records_count >
		(total - BATCH_HEADER_SIZE) / RECORD_MIN_SIZE)
		return ERR_CORRUPT;
	if (hh.max_timestamp < hh.first_timestamp &&
	    !(hh.max_timestamp == -1 && hh.first_timestamp == -1))
		return ERR_CORRUPT;
	if (crc32c(0, p + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES) !=
	    hh.crc)
		return ERR_CORRUPT;
	if (h)
		*h = hh;
	return 0;
}

/* baseSequence + delta, wrapping past INT32_MAX to 0 as Kafka does. */
static int32_t sequence_add(int32_t base, int32_t delta)
{
	if (base < 0)
		return base;
	if (base > INT32_MAX - delta)
		return delta - (INT32_MAX - base) - 1;
	return base + delta;
}

int batch_run_validate(const uint8_t *p, size_t len, size_t max_batch_bytes,
		       struct batch_run_info *info, size_t *bad_at)
{
	struct batch_run_info ri;
	struct batch_header h;
	size_t pos = 0;
	int rc = ERR_CORRUPT;

	memset(&ri, 0, sizeof(ri));
	if (len == 0)
		goto out_bad;
	while (pos < len) {
		rc = batch_validate(p + pos, len - pos, max_batch_bytes, &h);
		if (rc < 0)
			goto out_bad;
		if (ri.batch_cnt == 0) {
			ri.first_timestamp = h.first_timestamp;
			ri.max_timestamp = h.max_timestamp;
			ri.first_base_offset = h.base_offset;
			ri.producer_id = h.producer_id;
			ri.producer_epoch = h.producer_epoch;
			ri.base_sequence = h.base_sequence;
		} else if (h.max_timestamp > ri.max_timestamp) {
			ri.max_timestamp = h.max_timestamp;
		}
		ri.batch_cnt++;
		ri.record_cnt += (int64_t)h.last_offset_delta + 1;
		ri.last_offset = batch_last_offset(&h);
		ri.last_sequence =
		    sequence_add(h.base_sequence, h.last_offset_delta);
		if (batch_codec(&h) != COMPRESS_NONE)
			ri.compressed = true;
		pos += batch_total_size(&h);
	}
	if (info)
		*info = ri;
	return 0;
out_bad:
	if (bad_at)
		*bad_at = pos;
	if (info)
		*info = ri;
	return rc;
}

void batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
	be64_put(p + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void batch_set_leader_epoch(uint8_t *p, int32_t epoch)
{
	be32_put(p + BATCH_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

void batch_set_log_append_time(uint8_t *p, size_t size, int64_t ts)
{
	uint16_t attr = be16_get(p + BATCH_OFF_ATTRIBUTES);

	be16_put(p + BATCH_OFF_ATTRIBUTES,
		 (uint16_t)(attr | BATCH_ATTR_LOG_APPEND_TIME));
	be64_put(p + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)ts);
	be32_put(p + BATCH_OFF_CRC, crc32c(0, p + BATCH_OFF_ATTRIBUTES,
					   size - BATCH_OFF_ATTRIBUTES));
}

/* ------------------------------------------------------------ reading */

int batch_reader_init(struct batch_reader *rd, const uint8_t *p, size_t size,
		      size_t max_decompressed)
{
	size_t total;
	int codec, rc;

	rd->pos = NULL;
	rd->end = NULL;
	rd->remaining = 0;
	rc = batch_header_decode(p, size, &rd->h);
	if (rc < 0)
		return rc;
	if (rd->h.batch_length < BATCH_MIN_LENGTH)
		return ERR_CORRUPT;
	total = batch_total_size(&rd->h);
	if (total > size)
		return ERR_TRUNCATED;
	if (total < size || rd->h.magic != BATCH_MAGIC ||
	    rd->h.records_count < 0)
		return ERR_CORRUPT;
	codec = batch_codec(&rd->h);
	if (codec == COMPRESS_NONE) {
		rd->pos = p + BATCH_HEADER_SIZE;
		rd->end = p + total;
	} else {
		if (codec > COMPRESS_ZSTD)
			return ERR_UNSUPPORTED;
		buf_reset(&rd->scratch);
		rc = decompress_append(codec, p + BATCH_HEADER_SIZE,
				       total - BATCH_HEADER_SIZE,
				       max_decompressed, &rd->scratch);
		if (rc < 0)
			return rc;
		if (rd->scratch.len > 0) {
			rd->pos = rd->scratch.data;
			rd->end = rd->scratch.data + rd->scratch.len;
		}
	}
	rd->remaining = rd->h.records_count;
	return 0;
}

int record_header_next(const uint8_t **pos, const uint8_t *end,
		       struct record_header *hdr)
{
	const uint8_t *p = *pos;
	int32_t klen, vlen;
	size_t n;

	if (p >= end)
		return 0;
	n = get_i32(p, end, &klen);
	if (!n || klen < 0 || klen > end - (p + n))
		return ERR_CORRUPT;
	p += n;
	hdr->key = p;
	hdr->key_len = klen;
	p += klen;
	n = get_i32(p, end, &vlen);
	if (!n || vlen < -1 || vlen > end - (p + n))
		return ERR_CORRUPT;
	p += n;
	if (vlen < 0) {
		hdr->value = NULL;
	} else {
		hdr->value = p;
		p += vlen;
	}
	hdr->value_len = vlen;
	*pos = p;
	return 1;
}

int batch_reader_next(struct batch_reader *rd, struct record *rec)
{
	const uint8_t *p = rd->pos, *end = rd->end, *rend;
	struct record_header hh;
	int32_t len, odelta, klen, vlen, hcnt, i;
	int64_t tdelta;
	size_t n;

	if (rd->remaining <= 0)
		return p == end ? 0 : ERR_CORRUPT;
	if (p == end)
		return ERR_CORRUPT; /* fewer records than recordsCount */
	n = get_i32(p, end, &len);
	if (!n)
		return ERR_CORRUPT;
	p += n;
	if (len < RECORD_MIN_SIZE - 1 || len > end - p)
		return ERR_CORRUPT;
	rend = p + len;
	p++; /* attributes: unused */
	n = get_i64(p, rend, &tdelta);
	if (!n)
		return ERR_CORRUPT;
	p += n;
	n = get_i32(p, rend, &odelta);
	if (!n)
		return ERR_CORRUPT;
	p += n;

	n = get_i32(p, rend, &klen);
	if (!n || klen < -1 || klen > rend - (p + n))
		return ERR_CORRUPT;
	p += n;
	if (klen < 0) {
		rec->key = NULL;
	} else {
		rec->key = p;
		p += klen;
	}
	rec->key_len = klen;

	n = get_i32(p, rend, &vlen);
	if (!n || vlen < -1 || vlen > rend - (p + n))
		return ERR_CORRUPT;
	p += n;
	if (vlen < 0) {
		rec->value = NULL;
	} else {
		rec->value = p;
		p += vlen;
	}
	rec->value_len = vlen;

	n = get_i32(p, rend, &hcnt);
	if (!n)
		return ERR_CORRUPT;
	p += n;
	/* Each header takes at least two bytes (two length varints). */
	if (hcnt < 0 || hcnt > (rend - p) / 2)
		return ERR_CORRUPT;
	rec->headers = p;
	for (i = 0; i < hcnt; i++)
		if (record_header_next(&p, rend, &hh) != 1)
			return ERR_CORRUPT;
	if (p != rend)
		return ERR_CORRUPT;
	rec->headers_end = rend;
	rec->header_cnt = hcnt;

	rec->offset = (int64_t)((uint64_t)rd->h.base_offset + (uint64_t)odelta);
	if (rd->h.attributes & BATCH_ATTR_LOG_APPEND_TIME)
		rec->timestamp = rd->h.max_timestamp;
	else
		rec->timestamp = (int64_t)((uint64_t)rd->h.first_timestamp +
					   (uint64_t)tdelta);
	rd->pos = rend;
	rd->remaining--;
	return 1;
}

void batch_reader_free(struct batch_reader *rd)
{
	buf_free(&rd->scratch);
	rd->pos = NULL;
	rd->end = NULL;
	rd->remaining = 0;
}

/* ------------------------------------------------------------ building */

int batch_builder_begin(struct batch_builder *bb, int codec)
{
	if (codec < COMPRESS_NONE || codec > COMPRESS_ZSTD)
		return ERR_UNSUPPORTED;
	buf_reset(&bb->out);
	buf_reset(&bb->raw);
	if (!buf_extend(&bb->out, BATCH_HEADER_SIZE))
		return ERR_NOMEM;
	bb->codec = codec;
	bb->count = 0;
	bb->first_timestamp = -1;
	bb->max_timestamp = -1;
	bb->open = true;
	return 0;
}

size_t batch_headers_size(const struct record_header *headers, int header_cnt)
{
	size_t sz = 0;
	int i;

	for (i = 0; i < header_cnt; i++) {
		sz += size_i32((int32_t)payload(headers[i].key_len)) +
		      payload(headers[i].key_len);
		sz +=
		    size_i32(headers[i].value_len < 0 ? -1
						      : headers[i].value_len) +
		    payload(headers[i].value_len);
	}
	return sz;
}

int batch_builder_add(struct batch_builder *bb, int64_t timestamp,
		      const void *key, int32_t key_len, const void *value,
		      int32_t value_len, const struct record_header *headers,
		      int header_cnt)
{
	struct buf *dst = bb->codec ? &bb->raw : &bb->out;
	const struct record_header *hh;
	int64_t first, tdelta;
	size_t body, need, hbytes = 0;
	uint8_t *p;
	int i;

	if (!bb->open)
		return ERR_STATE;
	if (key_len < 0)
		key_len = -1;
	if (value_len < 0)
		value_len = -1;
	if (header_cnt < 0 || !headers)
		header_cnt = 0;
	first = bb->count ? bb->first_timestamp : timestamp;
	tdelta = (int64_t)((uint64_t)timestamp - (uint64_t)first);
	if (header_cnt)
		hbytes = batch_headers_size(headers, header_cnt);
	body = 1 + size_i64(tdelta) + size_i32(bb->count) + size_i32(key_len) +
	       payload(key_len) + size_i32(value_len) + payload(value_len) +
	       size_i32(header_cnt) + hbytes;
	if (body > INT32_MAX || bb->count == INT32_MAX)
		return ERR_TOO_LARGE;
	need = size_i32((int32_t)body) + body;
	if (need > BATCH_MAX_TOTAL - batch_builder_size(bb))
		return ERR_TOO_LARGE;
	p = buf_extend(dst, need);
	if (!p)
		return ERR_NOMEM;

	p = put_i32(p, (int32_t)body);
	*p++ = 0; /* attributes */
	p = put_i64(p, tdelta);
	p = put_i32(p, bb->count);
	p = put_i32(p, key_len);
	if (key_len > 0) {
		memcpy(p, key, (size_t)key_len);
		p += key_len;
	}
	p = put_i32(p, value_len);
	if (value_len > 0) {
		memcpy(p, value, (size_t)value_len);
		p += value_len;
	}
	p = put_i32(p, header_cnt);
	for (i = 0; i < header_cnt; i++) {
		hh = &headers[i];
		p = put_i32(p, hh->key_len > 0 ? hh->key_len : 0);
		if (hh->key_len > 0) {
			memcpy(p, hh->key, (size_t)hh->key_len);
			p += hh->key_len;
		}
		p = put_i32(p, hh->value_len < 0 ? -1 : hh->value_len);
		if (hh->value_len > 0) {
			memcpy(p, hh->value, (size_t)hh->value_len);
			p += hh->value_len;
		}
	}

	if (bb->count == 0 || timestamp > bb->max_timestamp)
		bb->max_timestamp = timestamp;
	bb->first_timestamp = first;
	bb->count++;
	return 0;
}

size_t batch_builder_size(const struct batch_builder *bb)
{
	return bb->out.len + (bb->codec ? bb->raw.len : 0);
}

size_t batch_record_size_estimate(int32_t key_len, int32_t value_len,
				  size_t headers_bytes)
{
	size_t body;

	if (key_len < 0)
		key_len = -1;
	if (value_len < 0)
		value_len = -1;
	/* attributes, worst-case timestampDelta, offsetDelta, headerCount */
	body = 1 + VARINT64_MAX + VARINT32_MAX + VARINT32_MAX;
	body += varint_size_i32(key_len) + payload(key_len);
	body += varint_size_i32(value_len) + payload(value_len);
	body += headers_bytes;
	return VARINT32_MAX + body;
}

int batch_builder_finish(struct batch_builder *bb, int64_t producer_id,
			 int16_t producer_epoch, int32_t base_sequence,
			 int level)
{
	uint8_t *h;
	size_t total;
	int rc;

	if (!bb->open || bb->count == 0)
		return ERR_STATE;
	if (bb->codec != COMPRESS_NONE) {
		bb->out.len = BATCH_HEADER_SIZE;
		rc = compress_append(bb->codec, level, bb->raw.data,
				     bb->raw.len, &bb->out);
		if (rc < 0)
			return rc == ERR_UNSUPPORTED ? ERR_CORRUPT : rc;
	}
	total = bb->out.len;
	if (total > BATCH_MAX_TOTAL)
		return ERR_TOO_LARGE;
	h = bb->out.data;
	be64_put(h + BATCH_OFF_BASE_OFFSET, 0);
	be32_put(h + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
	be32_put(h + BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
	h[BATCH_OFF_MAGIC] = BATCH_MAGIC;
	be16_put(h + BATCH_OFF_ATTRIBUTES, (uint16_t)bb->codec);
	be32_put(h + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(bb->count - 1));
	be64_put(h + BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)bb->first_timestamp);
	be64_put(h + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)bb->max_timestamp);
	be64_put(h + BATCH_OFF_PRODUCER_ID, (uint64_t)producer_id);
	be16_put(h + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
	be32_put(h + BATCH_OFF_BASE_SEQUENCE, (uint32_t)base_sequence);
	be32_put(h + BATCH_OFF_RECORDS_COUNT, (uint32_t)bb->count);
	be32_put(h + BATCH_OFF_CRC, crc32c(0, h + BATCH_OFF_ATTRIBUTES,
					   total - BATCH_OFF_ATTRIBUTES));
	bb->open = false;
	return 0;
}

void batch_builder_free(struct batch_builder *bb)
{
	buf_free(&bb->out);
	buf_free(&bb->raw);
	bb->count = 0;
	bb->open = false;
}
