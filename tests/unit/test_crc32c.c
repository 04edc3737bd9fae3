/*
 * test_crc32c.c - CRC-32C: published check values, the hardware and
 * portable paths agreeing on every length and alignment (including the
 * three-way interleaved sizes), and incremental == one-shot.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"

/* Deterministic filler (xorshift), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

/* Bit-at-a-time reference, independent of both implementations. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
	size_t i;
	int b;

	crc = ~crc;
	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
	}
	return ~crc;
}

START_TEST(test_vectors)
{
	uint8_t zeros[32], ones[32];
	/* RFC 3720 B.4: 32 bytes ascending, 32 bytes descending. */
	uint8_t inc[32], dec[32];
	int i;

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8a9136aau);
	ck_assert_uint_eq(crc32c_sw(0, zeros, 32), 0x8a9136aau);
	ck_assert_uint_eq(crc32c(0, ones, 32), 0x62a8ab43u);
	ck_assert_uint_eq(crc32c_sw(0, ones, 32), 0x62a8ab43u);
	ck_assert_uint_eq(crc32c(0, inc, 32), 0x46dd794eu);
	ck_assert_uint_eq(crc32c(0, dec, 32), 0x113fdb5cu);
	ck_assert_uint_eq(crc32c_sw(0, dec, 32), 0x113fdb5cu);
}
END_TEST

START_TEST(test_hw_matches_sw_small)
{
	enum { MAXLEN = 1024, PAD = 16 };
	uint8_t *buf = malloc(MAXLEN + PAD);
	size_t len, off;
	uint32_t ref, hw, sw;

	ck_assert_ptr_nonnull(buf);
	fill(buf, MAXLEN + PAD);
	for (len = 0; len <= MAXLEN; len++) {
		for (off = 0; off < 8; off++) {
			hw = crc32c(0, buf + off, len);
			sw = crc32c_sw(0, buf + off, len);
			ck_assert_msg(hw == sw, "len %zu off %zu: %08x != %08x",
				      len, off, hw, sw);
		}
		ref = crc_ref(0, buf + 3, len);
		ck_assert_uint_eq(crc32c(0, buf + 3, len), ref);
	}
	free(buf);
}
END_TEST

/* Lengths around the 3 x 256 and 3 x 4096 interleave thresholds. */
START_TEST(test_hw_matches_sw_large)
{
	static const size_t lens[] = {767,   768,   769,   775,	   776,	  1536,
				      2311,  12287, 12288, 12289,  12296, 16384,
				      24576, 24583, 65536, 100003, 262144};
	size_t i, off, n = 262144 + 16;
	uint8_t *buf = malloc(n);

	ck_assert_ptr_nonnull(buf);
	fill(buf, n);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (off = 0; off < 8; off += 3) {
			ck_assert_uint_eq(crc32c(0, buf + off, lens[i]),
					  crc32c_sw(0, buf + off, lens[i]));
		}
		ck_assert_uint_eq(crc32c(0, buf + 1, lens[i]),
				  crc_ref(0, buf + 1, lens[i]));
	}
	free(buf);
}
END_TEST

START_TEST(test_incremental)
{
	enum { LEN = 40000 };
	uint8_t *buf = malloc(LEN);
	uint32_t whole, part, part_sw;
	size_t cut, cut2;

	ck_assert_ptr_nonnull(buf);
	fill(buf, LEN);
	whole = crc32c(0, buf, LEN);
	ck_assert_uint_eq(whole, crc32c_sw(0, buf, LEN));
	for (cut = 0; cut <= LEN; cut += 997) {
		part = crc32c(crc32c(0, buf, cut), buf + cut, LEN - cut);
		part_sw =
		    crc32c_sw(crc32c_sw(0, buf, cut), buf + cut, LEN - cut);
		ck_assert_uint_eq(part, whole);
		ck_assert_uint_eq(part_sw, whole);
	}
	/* Three pieces, one of them empty. */
	cut = 13000;
	cut2 = 13000;
	part = crc32c(0, buf, cut);
	part = crc32c(part, buf + cut, cut2 - cut);
	part = crc32c(part, buf + cut2, LEN - cut2);
	ck_assert_uint_eq(part, whole);
	/* A changed byte changes the result. */
	buf[LEN / 2] ^= 1;
	ck_assert_uint_ne(crc32c(0, buf, LEN), whole);
	free(buf);
}
END_TEST

START_TEST(test_hw_reported)
{
	int hw = crc32c_hw_available();

	ck_assert(hw == 0 || hw == 1);
#if defined(__x86_64__)
	ck_assert_int_eq(hw, __builtin_cpu_supports("sse4.2") ? 1 : 0);
#endif
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crc32c");
	TCase *tc = tcase_create("crc32c");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_hw_matches_sw_small);
	tcase_add_test(tc, test_hw_matches_sw_large);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_hw_reported);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
