/*
 * test_batch_fuzz.c - what bad bytes do to the batch codec: single bit
 * flips under the CRC, the fields outside it, truncation, length lies,
 * header lies with a recomputed CRC, hand-made malformed records, a few
 * thousand seeded random mutations, and runs of batches with the position
 * of the first bad one.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/buf.h"
#include "common/compress.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "batch_test_util.h"

#define MAX_BATCH (1 << 20)

static void fix_crc(uint8_t *p, size_t size)
{
	be32_put(p + BATCH_OFF_CRC, crc32c(0, p + BATCH_OFF_ATTRIBUTES,
					   size - BATCH_OFF_ATTRIBUTES));
}

START_TEST(test_bit_flips_fail_crc)
{
	static const char *const files[] = {"keyed-3.bin", "headers.bin",
					    "zstd-10.bin"};
	struct batch_header h;
	size_t f, size, i;
	uint8_t *bin;
	int bit;

	for (f = 0; f < 3; f++) {
		bin = tb_read_vector(files[f], &size);
		/* Every bit of the covered range and of the CRC itself. */
		for (i = BATCH_OFF_CRC; i < size; i++) {
			for (bit = 0; bit < 8; bit++) {
				bin[i] ^= (uint8_t)(1 << bit);
				ck_assert_msg(
				    batch_validate(bin, size, MAX_BATCH, &h) ==
					ERR_CORRUPT,
				    "%s byte %zu bit %d", files[f], i, bit);
				bin[i] ^= (uint8_t)(1 << bit);
			}
		}
		/* The magic byte. */
		for (bit = 0; bit < 8; bit++) {
			bin[BATCH_OFF_MAGIC] ^= (uint8_t)(1 << bit);
			ck_assert_int_eq(
			    batch_validate(bin, size, MAX_BATCH, NULL),
			    ERR_CORRUPT);
			bin[BATCH_OFF_MAGIC] ^= (uint8_t)(1 << bit);
		}
		ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL), 0);
		free(bin);
	}
	/* A bigger batch: one bit in every byte. */
	bin = tb_read_vector("hundred-100B.bin", &size);
	for (i = BATCH_OFF_ATTRIBUTES; i < size; i++) {
		bin[i] ^= (uint8_t)(1 << (i % 8));
		ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
				 ERR_CORRUPT);
		bin[i] ^= (uint8_t)(1 << (i % 8));
	}
	free(bin);
}
END_TEST

START_TEST(test_uncovered_fields)
{
	struct batch_header h;
	size_t size, i;
	uint8_t *bin = tb_read_vector("idempotent.bin", &size);
	int bit;

	for (i = 0; i < 16; i++) {
		if (i >= BATCH_OFF_LENGTH && i < BATCH_OFF_LEADER_EPOCH)
			continue;
		for (bit = 0; bit < 8; bit++) {
			bin[i] ^= (uint8_t)(1 << bit);
			ck_assert_int_eq(
			    batch_validate(bin, size, MAX_BATCH, &h), 0);
			bin[i] ^= (uint8_t)(1 << bit);
		}
	}
	batch_set_base_offset(bin, 123456789012LL);
	batch_set_leader_epoch(bin, 42);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, &h), 0);
	ck_assert_int_eq(h.base_offset, 123456789012LL);
	ck_assert_int_eq(h.partition_leader_epoch, 42);
	ck_assert_int_eq(batch_last_offset(&h), 123456789012LL + 4);
	free(bin);
}
END_TEST

START_TEST(test_truncated)
{
	struct batch_reader rd = BATCH_READER_INIT;
	size_t size, n;
	const char *const *f;
	uint8_t *bin, *cut;

	for (f = tb_vector_files; *f; f++) {
		bin = tb_read_vector(*f, &size);
		for (n = 0; n < size; n++) {
			/* An exactly sized copy, so overreads are caught. */
			cut = malloc(n ? n : 1);
			ck_assert_ptr_nonnull(cut);
			memcpy(cut, bin, n);
			ck_assert_msg(batch_validate(cut, n, MAX_BATCH, NULL) ==
					  ERR_TRUNCATED,
				      "%s cut at %zu", *f, n);
			ck_assert_int_eq(
			    batch_reader_init(&rd, cut, n, MAX_BATCH),
			    ERR_TRUNCATED);
			free(cut);
		}
		free(bin);
	}
	batch_reader_free(&rd);
}
END_TEST

START_TEST(test_length_lies)
{
	struct batch_reader rd = BATCH_READER_INIT;
	struct record rec;
	size_t size;
	uint8_t *bin = tb_read_vector("keyed-3.bin", &size);
	uint8_t *big = malloc(size + 100);
	int32_t real = (int32_t)size - BATCH_LOG_OVERHEAD;
	int rc;

	ck_assert_ptr_nonnull(big);
	memcpy(big, bin, size);
	memset(big + size, 0, 100);
	/* Longer than what is there. */
	be32_put(bin + BATCH_OFF_LENGTH, (uint32_t)real + 1);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_TRUNCATED);
	/* Longer, with bytes after it: the CRC then covers them. */
	be32_put(big + BATCH_OFF_LENGTH, (uint32_t)real + 1);
	ck_assert_int_eq(batch_validate(big, size + 100, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	/* Shorter: the CRC covers fewer bytes. */
	be32_put(bin + BATCH_OFF_LENGTH, (uint32_t)real - 1);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	/* Below the header, negative, or absurd. */
	be32_put(bin + BATCH_OFF_LENGTH, 48);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	be32_put(bin + BATCH_OFF_LENGTH, 0);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	be32_put(bin + BATCH_OFF_LENGTH, 0xffffffffu);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	be32_put(bin + BATCH_OFF_LENGTH, 0x80000000u);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	ck_assert_int_eq(batch_reader_init(&rd, bin, size, MAX_BATCH),
			 ERR_CORRUPT);
	be32_put(bin + BATCH_OFF_LENGTH, 0x7fffffffu);
	ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, NULL),
			 ERR_TOO_LARGE);
	ck_assert_int_eq(batch_reader_init(&rd, bin, size, MAX_BATCH),
			 ERR_TRUNCATED);
	/* The batch exceeds the configured maximum. */
	be32_put(bin + BATCH_OFF_LENGTH, (uint32_t)real);
	ck_assert_int_eq(batch_validate(bin, size, size - 1, NULL),
			 ERR_TOO_LARGE);
	ck_assert_int_eq(batch_validate(bin, size, size, NULL), 0);
	/* The reader wants exactly one batch. */
	be32_put(big + BATCH_OFF_LENGTH, (uint32_t)real);
	ck_assert_int_eq(batch_reader_init(&rd, big, size, MAX_BATCH), 0);
	ck_assert_int_eq(batch_reader_init(&rd, big, size + 1, MAX_BATCH),
			 ERR_CORRUPT);

	/* Shorter by one with the CRC recomputed to match: validation
	 * passes, and the reader finds the last record cut short. */
	be32_put(bin + BATCH_OFF_LENGTH, (uint32_t)real - 1);
	fix_crc(bin, size - 1);
	ck_assert_int_eq(batch_validate(bin, size - 1, MAX_BATCH, NULL), 0);
	ck_assert_int_eq(batch_reader_init(&rd, bin, size - 1, MAX_BATCH), 0);
	ck_assert_int_eq(batch_reader_next(&rd, &rec), 1);
	ck_assert_int_eq(batch_reader_next(&rd, &rec), 1);
	rc = batch_reader_next(&rd, &rec);
	ck_assert_int_eq(rc, ERR_CORRUPT);
	/* The error is sticky: the reader does not move past it. */
	ck_assert_int_eq(batch_reader_next(&rd, &rec), ERR_CORRUPT);
	batch_reader_free(&rd);
	free(bin);
	free(big);
}
END_TEST

/* Header fields that fail validation even with a CRC that matches. */
START_TEST(test_header_lies)
{
	struct batch_header h;
	size_t size;
	uint8_t *orig = tb_read_vector("keyed-3.bin", &size);
	uint8_t *bin = malloc(size);
	int codec;

	ck_assert_ptr_nonnull(bin);
#define RESET() memcpy(bin, orig, size)
#define CHECK(rc_want)                                                         \
	do {                                                                   \
		fix_crc(bin, size);                                            \
		ck_assert_int_eq(batch_validate(bin, size, MAX_BATCH, &h),     \
				 rc_want);                                     \
	} while (0)

	RESET();
	be32_put(bin + BATCH_OFF_RECORDS_COUNT, 0);
	be32_put(bin + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-1);
	CHECK(ERR_CORRUPT);
	RESET();
	be32_put(bin + BATCH_OFF_RECORDS_COUNT, (uint32_t)-3);
	CHECK(ERR_CORRUPT);
	RESET();
	be32_put(bin + BATCH_OFF_LAST_OFFSET_DELTA, 3);
	CHECK(ERR_CORRUPT);
	RESET();
	be32_put(bin + BATCH_OFF_LAST_OFFSET_DELTA, 1);
	CHECK(ERR_CORRUPT);
	/* More records than 40 bytes can hold. */
	RESET();
	be32_put(bin + BATCH_OFF_RECORDS_COUNT, 1000000);
	be32_put(bin + BATCH_OFF_LAST_OFFSET_DELTA, 999999);
	CHECK(ERR_CORRUPT);
	for (codec = 5; codec <= 7; codec++) {
		RESET();
		bin[BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)codec;
		CHECK(ERR_CORRUPT);
	}
	RESET();
	bin[BATCH_OFF_MAGIC] = 1;
	CHECK(ERR_CORRUPT);
	RESET();
	be64_put(bin + BATCH_OFF_MAX_TIMESTAMP, 1764000000000ULL - 1);
	CHECK(ERR_CORRUPT);
	RESET();
	be64_put(bin + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)-1);
	CHECK(ERR_CORRUPT);
	/* No timestamps at all is fine. */
	RESET();
	be64_put(bin + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)-1);
	be64_put(bin + BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)-1);
	CHECK(0);
	/* Transactional and control bits are allowed. */
	RESET();
	bin[BATCH_OFF_ATTRIBUTES + 1] |=
	    BATCH_ATTR_TRANSACTIONAL | BATCH_ATTR_LOG_APPEND_TIME;
	CHECK(0);
	ck_assert(h.attributes & BATCH_ATTR_TRANSACTIONAL);
#undef RESET
#undef CHECK
	free(bin);
	free(orig);
}
END_TEST

/* A batch around hand-made record bytes, compressed with codec. */
static void craft(struct buf *out, const uint8_t *recs, size_t rlen,
		  int32_t count, int codec)
{
	uint8_t *h;

	buf_reset(out);
	h = buf_extend(out, BATCH_HEADER_SIZE);
	ck_assert_ptr_nonnull(h);
	memset(h, 0, BATCH_HEADER_SIZE);
	h[BATCH_OFF_MAGIC] = BATCH_MAGIC;
	be16_put(h + BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
	be32_put(h + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
	be64_put(h + BATCH_OFF_FIRST_TIMESTAMP, 1000);
	be64_put(h + BATCH_OFF_MAX_TIMESTAMP, 1000);
	be64_put(h + BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
	be32_put(h + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
	ck_assert_int_eq(compress_append(codec, -1, recs, rlen, out), 0);
	be32_put(out->data + BATCH_OFF_LENGTH,
		 (uint32_t)(out->len - BATCH_LOG_OVERHEAD));
	fix_crc(out->data, out->len);
}

START_TEST(test_malformed_records)
{
	static const struct {
		const char *what;
		uint8_t bytes[24];
		size_t len;
		int32_t count;
		int good; /* records read before the error */
	} cases[] = {
	    {"valid", {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0}, 8, 1, -1},
	    {"length past end", {0x7e, 0, 0, 0, 0x01, 0x02, 'x', 0}, 8, 1, 0},
	    {"length too short", {0x04, 0, 0, 0, 0x01, 0x02, 'x', 0}, 8, 1, 0},
	    {"negative length", {0x01, 0, 0, 0, 0x01, 0x02, 'x', 0}, 8, 1, 0},
	    {"key past record", {0x0e, 0, 0, 0, 0x14, 0x02, 'x', 0}, 8, 1, 0},
	    {"key length -2", {0x0e, 0, 0, 0, 0x03, 0x02, 'x', 0}, 8, 1, 0},
	    {"value length -5", {0x0e, 0, 0, 0, 0x01, 0x09, 'x', 0}, 8, 1, 0},
	    {"value past record", {0x0e, 0, 0, 0, 0x01, 0x06, 'x', 0}, 8, 1, 0},
	    {"header count huge",
	     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x7e},
	     8,
	     1,
	     0},
	    {"header count negative",
	     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x01},
	     8,
	     1,
	     0},
	    {"header missing", {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x02}, 8, 1, 0},
	    {"header key null",
	     {0x10, 0, 0, 0, 0x01, 0x00, 0x02, 0x01, 0x00},
	     9,
	     1,
	     0},
	    {"header key past",
	     {0x10, 0, 0, 0, 0x01, 0x00, 0x02, 0x10, 0x00},
	     9,
	     1,
	     0},
	    {"header value past",
	     {0x10, 0, 0, 0, 0x01, 0x00, 0x02, 0x00, 0x08},
	     9,
	     1,
	     0},
	    {"bytes left in record",
	     {0x10, 0, 0, 0, 0x01, 0x02, 'x', 0, 0xff},
	     9,
	     1,
	     0},
	    {"over-long varint",
	     {0x18, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0x01},
	     13,
	     1,
	     0},
	    {"varint cut by record end",
	     {0x0c, 0, 0x80, 0x80, 0x80, 0x80, 0x80},
	     7,
	     1,
	     0},
	    {"fewer than count", {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0}, 8, 2, 1},
	    {"more than count",
	     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0, 0x0e, 0, 0, 0x02, 0x01, 0x02,
	      'y', 0},
	     16,
	     1,
	     1},
	    {"no records, count 1", {0}, 0, 1, 0},
	};
	struct batch_reader rd = BATCH_READER_INIT;
	struct buf b = BUF_INIT;
	struct record rec;
	size_t i;
	int codec, n, rc;

	for (codec = 0; codec <= COMPRESS_ZSTD; codec++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			craft(&b, cases[i].bytes, cases[i].len, cases[i].count,
			      codec);
			ck_assert_int_eq(
			    batch_reader_init(&rd, b.data, b.len, MAX_BATCH),
			    0);
			n = 0;
			while ((rc = batch_reader_next(&rd, &rec)) == 1 &&
			       n < 10)
				n++;
			if (cases[i].good < 0) {
				ck_assert_msg(rc == 0 && n == cases[i].count,
					      "%s codec %d: rc %d n %d",
					      cases[i].what, codec, rc, n);
				ck_assert_int_eq(rec.value_len, 1);
				ck_assert_int_eq(rec.timestamp, 1000);
			} else {
				ck_assert_msg(rc == ERR_CORRUPT &&
						  n == cases[i].good,
					      "%s codec %d: rc %d n %d",
					      cases[i].what, codec, rc, n);
			}
		}
	}
	/* Zero records: nothing to read (validation would refuse it). */
	craft(&b, NULL, 0, 0, 0);
	ck_assert_int_eq(batch_validate(b.data, b.len, MAX_BATCH, NULL),
			 ERR_CORRUPT);
	ck_assert_int_eq(batch_reader_init(&rd, b.data, b.len, MAX_BATCH), 0);
	ck_assert_int_eq(batch_reader_next(&rd, &rec), 0);
	/* Unknown codec, and compressed bytes that are not. */
	craft(&b, cases[0].bytes, cases[0].len, 1, 0);
	b.data[BATCH_OFF_ATTRIBUTES + 1] = 6;
	ck_assert_int_eq(batch_reader_init(&rd, b.data, b.len, MAX_BATCH),
			 ERR_UNSUPPORTED);
	for (codec = 1; codec <= COMPRESS_ZSTD; codec++) {
		b.data[BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)codec;
		ck_assert_int_eq(
		    batch_reader_init(&rd, b.data, b.len, MAX_BATCH),
		    ERR_CORRUPT);
	}
	buf_free(&b);
	batch_reader_free(&rd);
}
END_TEST

/* Reads everything the reader will give; the bytes are arbitrary. */
static void read_all(struct batch_reader *rd, const uint8_t *p, size_t size)
{
	struct record rec;
	struct record_header hdr;
	const uint8_t *hp;
	int rc, hrc, n = 0;
	volatile uint8_t sink = 0;

	rc = batch_reader_init(rd, p, size, MAX_BATCH);
	ck_assert(rc == 0 || rc == ERR_CORRUPT || rc == ERR_TRUNCATED ||
		  rc == ERR_UNSUPPORTED || rc == ERR_TOO_LARGE);
	if (rc < 0)
		return;
	while ((rc = batch_reader_next(rd, &rec)) == 1) {
		ck_assert_int_lt(n++, 1 << 20);
		/* Touch the first and last byte of everything returned. */
		if (rec.key_len > 0)
			sink ^= rec.key[0] ^ rec.key[rec.key_len - 1];
		if (rec.value_len > 0)
			sink ^= rec.value[0] ^ rec.value[rec.value_len - 1];
		hp = rec.headers;
		while ((hrc = record_header_next(&hp, rec.headers_end, &hdr)) ==
		       1) {
			if (hdr.key_len > 0)
				sink ^= hdr.key[hdr.key_len - 1];
			if (hdr.value_len > 0)
				sink ^= hdr.value[hdr.value_len - 1];
		}
		ck_assert_int_eq(hrc, 0);
	}
	ck_assert(rc == 0 || rc == ERR_CORRUPT);
	(void)sink;
}

/* The mutation pool: the vectors plus built batches with headers. */
static size_t pool_build(uint8_t **pool, size_t *sizes, size_t max)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct record_header hdrs[2] = {
	    {(const uint8_t *)"a", 1, (const uint8_t *)"xyz", 3},
	    {(const uint8_t *)"bb", 2, NULL, -1},
	};
	const char *const *f;
	size_t n = 0;
	int codec, i;
	char val[64];

	for (f = tb_vector_files; *f && n < max; f++, n++)
		pool[n] = tb_read_vector(*f, &sizes[n]);
	for (codec = 0; codec <= COMPRESS_ZSTD && n < max; codec++, n++) {
		ck_assert_int_eq(batch_builder_begin(&bb, codec), 0);
		for (i = 0; i < 20; i++) {
			memset(val, 'a' + i, sizeof(val));
			ck_assert_int_eq(batch_builder_add(&bb, 5000 - i * 7,
							   i % 3 ? "key" : NULL,
							   i % 3 ? 3 : -1, val,
							   i * 3, hdrs, i % 3),
					 0);
		}
		ck_assert_int_eq(batch_builder_finish(&bb, 9, 1, 0, -1), 0);
		pool[n] = malloc(bb.out.len);
		ck_assert_ptr_nonnull(pool[n]);
		memcpy(pool[n], bb.out.data, bb.out.len);
		sizes[n] = bb.out.len;
	}
	batch_builder_free(&bb);
	return n;
}

START_TEST(test_random_mutations)
{
	enum { POOL = 24, ROUNDS = 4000 };
	struct batch_reader rd = BATCH_READER_INIT;
	uint8_t *pool[POOL], *m;
	size_t sizes[POOL], npool, k, size, pos, j, nmut;
	uint64_t seed = 0x5eed0f15ull;
	int round, rc, accepted = 0;

	npool = pool_build(pool, sizes, POOL);
	ck_assert_uint_ge(npool, 18);
	for (round = 0; round < ROUNDS; round++) {
		k = tb_rng(&seed) % npool;
		size = sizes[k];
		/* Sometimes cut the tail off. */
		if (tb_rng(&seed) % 8 == 0)
			size -= tb_rng(&seed) % size;
		m = malloc(size);
		ck_assert_ptr_nonnull(m);
		memcpy(m, pool[k], size);
		nmut = 1 + tb_rng(&seed) % 4;
		for (j = 0; j < nmut; j++) {
			pos = tb_rng(&seed) % size;
			/* Favour the records over the header. */
			if (size > BATCH_HEADER_SIZE && tb_rng(&seed) % 4)
				pos =
				    BATCH_HEADER_SIZE +
				    tb_rng(&seed) % (size - BATCH_HEADER_SIZE);
			switch (tb_rng(&seed) % 3) {
			case 0:
				m[pos] ^= (uint8_t)(1u << (tb_rng(&seed) % 8));
				break;
			case 1:
				m[pos] = (uint8_t)tb_rng(&seed);
				break;
			default:
				m[pos] = tb_rng(&seed) % 2 ? 0xff : 0x00;
				break;
			}
		}
		/* Mostly make the CRC match, so the reader sees it all. */
		if (size >= BATCH_HEADER_SIZE && tb_rng(&seed) % 4)
			fix_crc(m, size);
		rc = batch_validate(m, size, MAX_BATCH, NULL);
		ck_assert(rc == 0 || rc == ERR_CORRUPT || rc == ERR_TRUNCATED ||
			  rc == ERR_TOO_LARGE);
		if (rc == 0)
			accepted++;
		/* The reader must survive whatever validation said. */
		read_all(&rd, m, size);
		free(m);
	}
	/* The mutations reached the reader with valid CRCs. */
	ck_assert_int_gt(accepted, ROUNDS / 10);
	for (k = 0; k < npool; k++)
		free(pool[k]);
	batch_reader_free(&rd);
}
END_TEST

/* Appends a file's batch to run; returns where it starts. */
static size_t run_add(struct buf *run, const char *name)
{
	size_t size, at = run->len;
	uint8_t *bin = tb_read_vector(name, &size);

	ck_assert_int_eq(buf_append(run, bin, size), 0);
	free(bin);
	return at;
}

static size_t run_add_built(struct buf *run, int32_t records, int64_t pid,
			    int32_t seq)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	size_t at = run->len;
	int32_t i;

	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	for (i = 0; i < records; i++)
		ck_assert_int_eq(
		    batch_builder_add(&bb, 100 + i, NULL, -1, "v", 1, NULL, 0),
		    0);
	ck_assert_int_eq(batch_builder_finish(&bb, pid, 0, seq, -1), 0);
	ck_assert_int_eq(buf_append(run, bb.out.data, bb.out.len), 0);
	batch_builder_free(&bb);
	return at;
}

START_TEST(test_run_validate)
{
	struct batch_run_info info;
	struct buf run = BUF_INIT;
	size_t at[5], bad = 12345, end;
	uint8_t *copy;

	at[0] = run_add(&run, "single.bin");
	at[1] = run_add(&run, "idempotent.bin");
	at[2] = run_add(&run, "gzip-10.bin");
	at[3] = run_add(&run, "base-offset-1000.bin");
	at[4] = run_add(&run, "hundred-100B.bin");
	ck_assert_int_eq(
	    batch_run_validate(run.data, run.len, MAX_BATCH, &info, &bad), 0);
	ck_assert_uint_eq(bad, 12345); /* untouched on success */
	ck_assert_int_eq(info.batch_cnt, 5);
	ck_assert_int_eq(info.record_cnt, 1 + 5 + 10 + 2 + 100);
	ck_assert_int_eq(info.first_timestamp, 1764000000000LL);
	ck_assert_int_eq(info.max_timestamp, 1764000000099LL);
	ck_assert_int_eq(info.first_base_offset, 0);
	ck_assert_int_eq(info.last_offset, 99);
	ck_assert_int_eq(info.producer_id, -1);
	ck_assert_int_eq(info.producer_epoch, -1);
	ck_assert_int_eq(info.base_sequence, -1);
	ck_assert_int_eq(info.last_sequence, -1);
	ck_assert(info.compressed);
	/* Without the gzip batch nothing is compressed. */
	ck_assert_int_eq(batch_run_validate(run.data + at[3], run.len - at[3],
					    MAX_BATCH, &info, NULL),
			 0);
	ck_assert(!info.compressed);
	ck_assert_int_eq(info.first_base_offset, 1000);
	ck_assert_int_eq(info.batch_cnt, 2);

	/* A flipped bit in the third batch. */
	copy = malloc(run.len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, run.data, run.len);
	copy[at[2] + 70] ^= 0x10;
	ck_assert_int_eq(
	    batch_run_validate(copy, run.len, MAX_BATCH, &info, &bad),
	    ERR_CORRUPT);
	ck_assert_uint_eq(bad, at[2]);
	free(copy);
	/* A partial last batch, and a partial 12-byte prefix. */
	ck_assert_int_eq(
	    batch_run_validate(run.data, run.len - 1, MAX_BATCH, &info, &bad),
	    ERR_TRUNCATED);
	ck_assert_uint_eq(bad, at[4]);
	ck_assert_int_eq(
	    batch_run_validate(run.data, at[4] + 5, MAX_BATCH, &info, &bad),
	    ERR_TRUNCATED);
	ck_assert_uint_eq(bad, at[4]);
	/* The big batch passes the limit the others fit in. */
	ck_assert_int_eq(
	    batch_run_validate(run.data, run.len, 5000, &info, &bad),
	    ERR_TOO_LARGE);
	ck_assert_uint_eq(bad, at[4]);
	/* The first batch is bad. */
	copy = malloc(run.len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, run.data, run.len);
	copy[BATCH_OFF_MAGIC] = 1;
	ck_assert_int_eq(
	    batch_run_validate(copy, run.len, MAX_BATCH, &info, &bad),
	    ERR_CORRUPT);
	ck_assert_uint_eq(bad, 0);
	free(copy);
	ck_assert_int_eq(
	    batch_run_validate(run.data, 0, MAX_BATCH, &info, &bad),
	    ERR_CORRUPT);
	ck_assert_uint_eq(bad, 0);

	/* Sequences of an idempotent producer, and their wrap. */
	buf_reset(&run);
	run_add_built(&run, 5, 4242, 10);
	run_add_built(&run, 5, 4242, 15);
	end = run_add_built(&run, 3, 4242, 20);
	ck_assert_uint_gt(end, 0);
	ck_assert_int_eq(
	    batch_run_validate(run.data, run.len, MAX_BATCH, &info, NULL), 0);
	ck_assert_int_eq(info.producer_id, 4242);
	ck_assert_int_eq(info.base_sequence, 10);
	ck_assert_int_eq(info.last_sequence, 22);
	ck_assert_int_eq(info.record_cnt, 13);
	ck_assert_int_eq(info.max_timestamp, 104);
	buf_reset(&run);
	run_add_built(&run, 5, 4242, INT32_MAX - 1);
	ck_assert_int_eq(
	    batch_run_validate(run.data, run.len, MAX_BATCH, &info, NULL), 0);
	ck_assert_int_eq(info.base_sequence, INT32_MAX - 1);
	ck_assert_int_eq(info.last_sequence, 2);
	buf_free(&run);
}
END_TEST

TCase *tb_fuzz_tcase(void)
{
	TCase *tc = tcase_create("corruption");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bit_flips_fail_crc);
	tcase_add_test(tc, test_uncovered_fields);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_length_lies);
	tcase_add_test(tc, test_header_lies);
	tcase_add_test(tc, test_malformed_records);
	tcase_add_test(tc, test_random_mutations);
	tcase_add_test(tc, test_run_validate);
	return tc;
}
