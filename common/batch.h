/*
 * batch.h - record batch v2: the unit of data on the wire, on disk and in
 * replication.
 *
 * Byte layout (big-endian, Kafka's RecordBatch v2, magic 2):
 *
 *   off  size field
 *     0     8 baseOffset            assigned by the leader
 *     8     4 batchLength           bytes after this field
 *    12     4 partitionLeaderEpoch  stamped by the leader, outside the CRC
 *    16     1 magic = 2
 *    17     4 crc                   CRC-32C of bytes [21, end)
 *    21     2 attributes            bits 0-2 codec, 3 LogAppendTime,
 *                                   4 transactional, 5 control
 *    23     4 lastOffsetDelta
 *    27     8 firstTimestamp
 *    35     8 maxTimestamp
 *    43     8 producerId            -1 if not idempotent
 *    51     2 producerEpoch
 *    53     4 baseSequence
 *    57     4 recordsCount
 *    61       records (compressed as one block when codec != 0)
 *
 * Record: length varint | attributes i8 | timestampDelta varlong |
 * offsetDelta varint | keyLen varint, key | valueLen varint, value |
 * headerCount varint, [keyLen varint, key, valueLen varint, value]...
 * (lengths -1 mean null; varints are zig-zag).
 *
 * The broker only ever looks at the header and the CRC (batch_validate);
 * it rewrites baseOffset and partitionLeaderEpoch in place, which the CRC
 * does not cover. Clients build batches with struct batch_builder and read
 * them with struct batch_reader. Nothing here allocates except the builder
 * and the reader's decompression scratch. All functions are reentrant.
 */
#ifndef FLUXO_BATCH_H
#define FLUXO_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BATCH_MAGIC 2
#define BATCH_LOG_OVERHEAD 12	/* baseOffset + batchLength */
#define BATCH_HEADER_SIZE 61	/* bytes before the first record */

#define BATCH_OFF_BASE_OFFSET 0
#define BATCH_OFF_LENGTH 8
#define BATCH_OFF_LEADER_EPOCH 12
#define BATCH_OFF_MAGIC 16
#define BATCH_OFF_CRC 17
#define BATCH_OFF_ATTRIBUTES 21
#define BATCH_OFF_LAST_OFFSET_DELTA 23
#define BATCH_OFF_FIRST_TIMESTAMP 27
#define BATCH_OFF_MAX_TIMESTAMP 35
#define BATCH_OFF_PRODUCER_ID 43
#define BATCH_OFF_PRODUCER_EPOCH 51
#define BATCH_OFF_BASE_SEQUENCE 53
#define BATCH_OFF_RECORDS_COUNT 57

#define BATCH_ATTR_CODEC_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20

struct batch_header {
	int64_t base_offset;
	int32_t batch_length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t first_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t records_count;
};

/* Total bytes of the batch: 12 + batchLength. */
static inline size_t batch_total_size(const struct batch_header *h)
{
	return (size_t)BATCH_LOG_OVERHEAD + (size_t)(uint32_t)h->batch_length;
}

static inline int64_t batch_last_offset(const struct batch_header *h)
{
	return h->base_offset + h->last_offset_delta;
}

static inline int batch_codec(const struct batch_header *h)
{
	return h->attributes & BATCH_ATTR_CODEC_MASK;
}

/*
 * Decodes the fixed header. len must be >= BATCH_HEADER_SIZE, otherwise
 * ERR_TRUNCATED. No other check. Returns 0.
 */
int batch_header_decode(const uint8_t *p, size_t len, struct batch_header *h);

/*
 * Reads only baseOffset and batchLength (the first 12 bytes), for walking a
 * log. Returns 0 or ERR_TRUNCATED when len < 12.
 */
int batch_peek(const uint8_t *p, size_t len, int64_t *base_offset,
	       int32_t *batch_length);

/*
 * Validates the batch that starts at p, of which avail bytes are present:
 * the header fits, batchLength is sane (>= 49, whole batch <= avail and <=
 * max_batch_bytes), magic is 2, the CRC matches, recordsCount >= 1 and
 * lastOffsetDelta == recordsCount - 1 (and, uncompressed, no more records
 * than the bytes can hold at 7 bytes each), the codec is known (0..4),
 * maxTimestamp >= firstTimestamp or both are -1. Does not decompress or
 * decode records. Fills *h when not NULL.
 * Returns 0; ERR_TRUNCATED when avail is shorter than the batch claims;
 * ERR_TOO_LARGE when the batch exceeds max_batch_bytes; ERR_CORRUPT
 * otherwise.
 */
int batch_validate(const uint8_t *p, size_t avail, size_t max_batch_bytes,
		   struct batch_header *h);

/* Summary of a run of consecutive batches. */
struct batch_run_info {
	int batch_cnt;
	int64_t record_cnt;	/* sum of (lastOffsetDelta + 1) */
	int64_t first_timestamp;	/* of the first batch */
	int64_t max_timestamp;	/* over all batches */
	int64_t first_base_offset;
	int64_t last_offset;	/* baseOffset + lastOffsetDelta of the last */
	int64_t producer_id;	/* of the first batch */
	int16_t producer_epoch;
	int32_t base_sequence;	/* of the first batch */
	int32_t last_sequence;	/* baseSequence + lastOffsetDelta of the last */
	bool compressed;	/* any batch compressed */
};

/*
 * Validates every batch of p[0..len), which must be exactly a sequence of
 * whole batches (batch_validate on each). On failure *bad_at (when not
 * NULL) is the byte position of the first bad batch. Returns 0,
 * ERR_CORRUPT, ERR_TOO_LARGE or ERR_TRUNCATED (a partial batch at the end;
 * *bad_at is where it starts). len == 0 is ERR_CORRUPT.
 */
int batch_run_validate(const uint8_t *p, size_t len, size_t max_batch_bytes,
		       struct batch_run_info *info, size_t *bad_at);

/* In-place rewrites of fields the CRC does not cover. */
void batch_set_base_offset(uint8_t *p, int64_t base_offset);
void batch_set_leader_epoch(uint8_t *p, int32_t epoch);

/*
 * Marks the batch LogAppendTime with maxTimestamp = ts and recomputes the
 * CRC (the only rewrite that needs it). size is the batch's total size.
 */
void batch_set_log_append_time(uint8_t *p, size_t size, int64_t ts);

/* ------------------------------------------------------------ reading */

struct record {
	int64_t offset;		/* baseOffset + offsetDelta */
	int64_t timestamp;	/* firstTimestamp + delta, or maxTimestamp
				 * for LogAppendTime batches */
	const uint8_t *key;
	int32_t key_len;	/* -1: null key */
	const uint8_t *value;
	int32_t value_len;	/* -1: null value (tombstone) */
	int32_t header_cnt;
	const uint8_t *headers;	/* raw header section, header_cnt entries */
	const uint8_t *headers_end;
};

struct record_header {
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;	/* -1: null */
};

struct batch_reader {
	struct batch_header h;
	const uint8_t *pos;	/* next record */
	const uint8_t *end;	/* end of the records section */
	int32_t remaining;	/* records still to read */
	struct buf scratch;	/* decompressed records; owned */
};

#define BATCH_READER_INIT { .scratch = BUF_INIT }

/*
 * Prepares to read the records of the whole batch p[0..size) (size is the
 * batch's total size). Compressed batches are decompressed into
 * rd->scratch, at most max_decompressed bytes. The reader may be re-used
 * for another batch without freeing in between.
 * Returns 0, ERR_CORRUPT, ERR_TRUNCATED, ERR_UNSUPPORTED (codec) or
 * ERR_TOO_LARGE.
 */
int batch_reader_init(struct batch_reader *rd, const uint8_t *p, size_t size,
		      size_t max_decompressed);

/*
 * Decodes the next record into *rec, whose pointers stay valid while the
 * input batch (or, for compressed batches, the reader) is unchanged.
 * Returns 1 when a record was read, 0 at the end, ERR_CORRUPT when a
 * record is malformed (lengths run past the section, more or fewer records
 * than recordsCount).
 */
int batch_reader_next(struct batch_reader *rd, struct record *rec);

void batch_reader_free(struct batch_reader *rd);

/*
 * Iterates a record's headers: *pos starts at rec->headers. Returns 1 with
 * *hdr filled, 0 at rec->headers_end, ERR_CORRUPT if malformed.
 */
int record_header_next(const uint8_t **pos, const uint8_t *end,
		       struct record_header *hdr);

/* ------------------------------------------------------------ building */

struct batch_builder {
	struct buf out;		/* the batch being built: header + records */
	struct buf raw;		/* uncompressed records when codec != 0 */
	int codec;
	int32_t count;
	int64_t first_timestamp;
	int64_t max_timestamp;
	bool open;
};

#define BATCH_BUILDER_INIT { .out = BUF_INIT, .raw = BUF_INIT }

/*
 * Starts a new batch (discarding any previous content; buffers are kept
 * for reuse). Returns 0 or ERR_UNSUPPORTED for an unknown codec.
 */
int batch_builder_begin(struct batch_builder *bb, int codec);

/*
 * Appends one record with the next offset delta. key/value may be NULL
 * with a length of -1 (null; any negative length means null). headers may
 * be NULL when header_cnt is 0; a header key is never null (a negative
 * key_len is written as empty). The first record's timestamp becomes
 * firstTimestamp; maxTimestamp is the largest seen.
 * Returns 0 or ERR_NOMEM; also ERR_STATE outside begin..finish and
 * ERR_TOO_LARGE when the batch would pass the int32 batchLength limit.
 */
int batch_builder_add(struct batch_builder *bb, int64_t timestamp,
		      const void *key, int32_t key_len, const void *value,
		      int32_t value_len, const struct record_header *headers,
		      int header_cnt);

/* Uncompressed bytes of the batch so far, header included. */
size_t batch_builder_size(const struct batch_builder *bb);

/* Bytes a record with these lengths adds (an upper bound, exact for the
 * uncompressed encoding when timestamp/offset deltas are small).
 * headers_bytes is batch_headers_size() of its headers. The bound assumes
 * the largest timestampDelta, offsetDelta, headerCount and length varints,
 * so it exceeds the exact size by at most 21 bytes. */
size_t batch_record_size_estimate(int32_t key_len, int32_t value_len,
				  size_t headers_bytes);

/* Encoded bytes of header_cnt headers (their entries, not the count). */
size_t batch_headers_size(const struct record_header *headers, int header_cnt);

/*
 * Completes the batch: compresses the records when the codec is not 0,
 * writes the header (baseOffset 0, partitionLeaderEpoch -1, the producer
 * fields given, attributes with the codec) and the CRC. The result is
 * bb->out.data[0 .. bb->out.len). level < 0: codec default.
 * Returns 0, ERR_STATE when no record was added, ERR_NOMEM or ERR_CORRUPT
 * (compressor failure).
 */
int batch_builder_finish(struct batch_builder *bb, int64_t producer_id,
			 int16_t producer_epoch, int32_t base_sequence,
			 int level);

void batch_builder_free(struct batch_builder *bb);

#endif
