/*
 * test_compress.c - the four codecs: round trips over sizes and data
 * kinds, the framing Kafka's clients expect, decompression bounded by
 * max_out, and bad input giving ERR_CORRUPT (never a crash).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compress.h"
#include "common/err.h"

static const int codecs[] = {COMPRESS_GZIP, COMPRESS_SNAPPY, COMPRESS_LZ4,
			     COMPRESS_ZSTD};
#define NCODECS (int)(sizeof(codecs) / sizeof(codecs[0]))

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Text-like data (compressible) or random bytes (incompressible). */
static uint8_t *make_data(size_t n, int random)
{
	static const char words[] = "fluxo record batch partition offset "
				    "leader epoch replica ";
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		p[i] = random	     ? (uint8_t)rng()
		       : i % 64 == 0 ? (uint8_t)('0' + i / 64 % 10)
				     : (uint8_t)words[i % (sizeof(words) - 1)];
	return p;
}

static void round_trip(int codec, const uint8_t *in, size_t n)
{
	struct buf c = BUF_INIT, d = BUF_INIT;
	int rc;

	/* Appends after existing content, which stays intact. */
	ck_assert_int_eq(buf_append(&c, "XY", 2), 0);
	ck_assert_int_eq(compress_append(codec, -1, in, n, &c), 0);
	if (codec != COMPRESS_NONE)
		ck_assert_uint_gt(c.len, 2);
	ck_assert_mem_eq(c.data, "XY", 2);
	ck_assert_int_eq(buf_append(&d, "Z", 1), 0);
	rc = decompress_append(codec, c.data + 2, c.len - 2, n, &d);
	ck_assert_msg(rc == 0, "%s size %zu: rc %d", compress_codec_name(codec),
		      n, rc);
	ck_assert_uint_eq(d.len, n + 1);
	ck_assert_mem_eq(d.data, "Z", 1);
	if (n)
		ck_assert_mem_eq(d.data + 1, in, n);
	buf_free(&c);
	buf_free(&d);
}

START_TEST(test_round_trip)
{
	static const size_t sizes[] = {0, 1, 100, 100 * 1024, 300 * 1024};
	size_t i;
	int k, random;
	uint8_t *data;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (random = 0; random < 2; random++) {
			data = make_data(sizes[i], random);
			for (k = 0; k < NCODECS; k++)
				round_trip(codecs[k], data, sizes[i]);
			round_trip(COMPRESS_NONE, data, sizes[i]);
			free(data);
		}
	}
}
END_TEST

START_TEST(test_levels)
{
	uint8_t *data = make_data(50000, 0);
	struct buf c = BUF_INIT, d = BUF_INIT;
	static const int levels[] = {0, 1, 5, 9, 12, 100};
	size_t i;
	int k;

	for (k = 0; k < NCODECS; k++) {
		for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			buf_reset(&c);
			buf_reset(&d);
			ck_assert_int_eq(compress_append(codecs[k], levels[i],
							 data, 50000, &c),
					 0);
			/* gzip level 0 stores; all else must shrink. */
			if (codecs[k] != COMPRESS_GZIP || levels[i] != 0)
				ck_assert_uint_lt(c.len, 25000);
			ck_assert_int_eq(decompress_append(codecs[k], c.data,
							   c.len, 50000, &d),
					 0);
			ck_assert_uint_eq(d.len, 50000);
			ck_assert_mem_eq(d.data, data, 50000);
		}
	}
	buf_free(&c);
	buf_free(&d);
	free(data);
}
END_TEST

START_TEST(test_framing)
{
	static const uint8_t xerial[16] = {
	    0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
	uint8_t *data = make_data(100000, 0);
	struct buf c = BUF_INIT;

	ck_assert_int_eq(compress_append(COMPRESS_GZIP, -1, data, 100, &c), 0);
	ck_assert_uint_eq(c.data[0], 0x1f);
	ck_assert_uint_eq(c.data[1], 0x8b);
	buf_reset(&c);
	ck_assert_int_eq(compress_append(COMPRESS_SNAPPY, -1, data, 100000, &c),
			 0);
	ck_assert_mem_eq(c.data, xerial, 16);
	/* 100000 bytes in 32 KB blocks: four length-prefixed blocks. */
	{
		size_t pos = 16;
		int blocks = 0;

		while (pos + 4 <= c.len) {
			pos += 4 + ((size_t)c.data[pos] << 24 |
				    (size_t)c.data[pos + 1] << 16 |
				    (size_t)c.data[pos + 2] << 8 |
				    c.data[pos + 3]);
			blocks++;
		}
		ck_assert_uint_eq(pos, c.len);
		ck_assert_int_eq(blocks, 4);
	}
	buf_reset(&c);
	ck_assert_int_eq(compress_append(COMPRESS_LZ4, -1, data, 100000, &c),
			 0);
	/* Magic 04 22 4d 18; FLG 0x60: version 1, independent blocks, no
	 * block checksum, no content size, no content checksum; BD 0x40:
	 * 64 KB blocks. */
	ck_assert_uint_eq(c.data[0], 0x04);
	ck_assert_uint_eq(c.data[1], 0x22);
	ck_assert_uint_eq(c.data[2], 0x4d);
	ck_assert_uint_eq(c.data[3], 0x18);
	ck_assert_uint_eq(c.data[4], 0x60);
	ck_assert_uint_eq(c.data[5], 0x40);
	buf_reset(&c);
	ck_assert_int_eq(compress_append(COMPRESS_ZSTD, -1, data, 100, &c), 0);
	ck_assert_uint_eq(c.data[0], 0x28);
	ck_assert_uint_eq(c.data[1], 0xb5);
	ck_assert_uint_eq(c.data[2], 0x2f);
	ck_assert_uint_eq(c.data[3], 0xfd);
	buf_free(&c);
	free(data);
}
END_TEST

/* Decoding accepts a raw snappy block and concatenated gzip members. */
START_TEST(test_alternative_inputs)
{
	static const uint8_t raw_snappy[] = {0x05, 0x10, 'h', 'e',
					     'l',  'l',	 'o'};
	uint8_t *data = make_data(5000, 0);
	struct buf c = BUF_INIT, d = BUF_INIT;
	size_t first;
	int k;

	ck_assert_int_eq(decompress_append(COMPRESS_SNAPPY, raw_snappy,
					   sizeof(raw_snappy), 100, &d),
			 0);
	ck_assert_uint_eq(d.len, 5);
	ck_assert_mem_eq(d.data, "hello", 5);
	/* Two frames/members back to back decode to both payloads. */
	for (k = 0; k < NCODECS; k++) {
		if (codecs[k] == COMPRESS_SNAPPY)
			continue;
		buf_reset(&c);
		buf_reset(&d);
		ck_assert_int_eq(compress_append(codecs[k], -1, data, 3000, &c),
				 0);
		first = c.len;
		ck_assert_int_eq(
		    compress_append(codecs[k], -1, data + 3000, 2000, &c), 0);
		ck_assert_uint_gt(c.len, first);
		ck_assert_int_eq(
		    decompress_append(codecs[k], c.data, c.len, 5000, &d), 0);
		ck_assert_uint_eq(d.len, 5000);
		ck_assert_mem_eq(d.data, data, 5000);
	}
	buf_free(&c);
	buf_free(&d);
	free(data);
}
END_TEST

START_TEST(test_bounded)
{
	enum { N = 1 << 20 };
	uint8_t *zeros = calloc(1, N);
	struct buf c = BUF_INIT, d = BUF_INIT;
	int k;

	ck_assert_ptr_nonnull(zeros);
	for (k = 0; k < NCODECS; k++) {
		buf_reset(&c);
		ck_assert_int_eq(compress_append(codecs[k], -1, zeros, N, &c),
				 0);
		ck_assert_uint_lt(c.len, N / 10);
		ck_assert_int_eq(buf_append(&d, "keep", 4), 0);
		ck_assert_int_eq(
		    decompress_append(codecs[k], c.data, c.len, N - 1, &d),
		    ERR_TOO_LARGE);
		/* Nothing appended on failure, and no more memory than the
		 * bound (plus doubling slack) was taken. */
		ck_assert_uint_eq(d.len, 4);
		ck_assert_mem_eq(d.data, "keep", 4);
		ck_assert_uint_le(d.cap, 2 * (size_t)N + 4096);
		ck_assert_int_eq(
		    decompress_append(codecs[k], c.data, c.len, 1000, &d),
		    ERR_TOO_LARGE);
		ck_assert_int_eq(
		    decompress_append(codecs[k], c.data, c.len, 0, &d),
		    ERR_TOO_LARGE);
		ck_assert_uint_eq(d.len, 4);
		/* Exactly the bound is fine. */
		ck_assert_int_eq(
		    decompress_append(codecs[k], c.data, c.len, N, &d), 0);
		ck_assert_uint_eq(d.len, N + 4);
		ck_assert_int_eq(d.data[4 + N - 1], 0);
		buf_free(&d);
	}
	ck_assert_int_eq(decompress_append(COMPRESS_NONE, zeros, 10, 9, &d),
			 ERR_TOO_LARGE);
	buf_free(&c);
	buf_free(&d);
	free(zeros);
}
END_TEST

START_TEST(test_garbage)
{
	static const uint8_t junk[] = "this is not a compressed stream at all";
	uint8_t *data = make_data(20000, 0);
	struct buf c = BUF_INIT, d = BUF_INIT;
	size_t cut, i;
	int k, rc, round;

	for (k = 0; k < NCODECS; k++) {
		/* Empty input and plain junk. */
		ck_assert_int_eq(
		    decompress_append(codecs[k], junk, 0, 1000, &d),
		    ERR_CORRUPT);
		rc = decompress_append(codecs[k], junk, sizeof(junk), 1000, &d);
		ck_assert_msg(rc == ERR_CORRUPT, "%s junk: %d",
			      compress_codec_name(codecs[k]), rc);
		ck_assert_uint_eq(d.len, 0);

		/* Every truncation of a valid stream fails cleanly. */
		buf_reset(&c);
		ck_assert_int_eq(
		    compress_append(codecs[k], -1, data, 20000, &c), 0);
		for (cut = 0; cut < c.len; cut += cut < 64 ? 1 : 37) {
			buf_reset(&d);
			rc = decompress_append(codecs[k], c.data, cut, 20000,
					       &d);
			/* A xerial stream cut right after its header is a
			 * valid empty stream: the format cannot tell. */
			if (codecs[k] == COMPRESS_SNAPPY && cut == 16) {
				ck_assert_int_eq(rc, 0);
				ck_assert_uint_eq(d.len, 0);
				continue;
			}
			ck_assert_msg(
			    rc == ERR_CORRUPT, "%s cut at %zu of %zu: %d",
			    compress_codec_name(codecs[k]), cut, c.len, rc);
			ck_assert_uint_eq(d.len, 0);
		}
		/* Random damage never crashes; the result is either an
		 * error or some output within the bound. */
		for (round = 0; round < 300; round++) {
			struct buf m = BUF_INIT;

			ck_assert_int_eq(buf_append(&m, c.data, c.len), 0);
			for (i = 0; i < 1 + rng() % 4; i++)
				m.data[rng() % m.len] ^=
				    (uint8_t)(1 + rng() % 255);
			buf_reset(&d);
			rc = decompress_append(codecs[k], m.data, m.len, 30000,
					       &d);
			ck_assert(rc == 0 || rc == ERR_CORRUPT ||
				  rc == ERR_TOO_LARGE);
			ck_assert_uint_le(d.len, 30000);
			buf_free(&m);
		}
	}
	ck_assert_int_eq(compress_append(7, -1, junk, 3, &c), ERR_UNSUPPORTED);
	ck_assert_int_eq(decompress_append(5, junk, 3, 10, &d),
			 ERR_UNSUPPORTED);
	buf_free(&c);
	buf_free(&d);
	free(data);
}
END_TEST

START_TEST(test_names)
{
	static const char *const names[] = {"none", "gzip", "snappy", "lz4",
					    "zstd"};
	int i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(compress_codec_parse(names[i]), i);
		ck_assert_str_eq(compress_codec_name(i), names[i]);
	}
	ck_assert_int_eq(compress_codec_parse("lz5"), -1);
	ck_assert_int_eq(compress_codec_parse(""), -1);
	ck_assert_int_eq(compress_codec_parse(NULL), -1);
	ck_assert_str_eq(compress_codec_name(9), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("compress");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_alternative_inputs);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
