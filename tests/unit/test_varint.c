/*
 * test_varint.c - zig-zag varints: round trips at the boundaries, the
 * known encodings of Kafka's record format, and rejection of truncated and
 * over-long input.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/varint.h"

static void rt32(int32_t v)
{
	uint8_t b[VARINT32_MAX + 4];
	int32_t out = 0;
	size_t n, m;

	memset(b, 0xee, sizeof(b));
	n = varint_encode_i32(b, v);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, VARINT32_MAX);
	ck_assert_uint_eq(n, varint_size_i32(v));
	ck_assert_uint_eq(b[n], 0xee); /* wrote nothing more */
	m = varint_decode_i32(b, b + n, &out);
	ck_assert_uint_eq(m, n);
	ck_assert_int_eq(out, v);
	/* Every shorter input is truncated. */
	for (m = 0; m < n; m++)
		ck_assert_uint_eq(varint_decode_i32(b, b + m, &out), 0);
}

static void rt64(int64_t v)
{
	uint8_t b[VARINT64_MAX + 4];
	int64_t out = 0;
	size_t n, m;

	memset(b, 0xee, sizeof(b));
	n = varint_encode_i64(b, v);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, VARINT64_MAX);
	ck_assert_uint_eq(n, varint_size_i64(v));
	ck_assert_uint_eq(b[n], 0xee);
	m = varint_decode_i64(b, b + n, &out);
	ck_assert_uint_eq(m, n);
	ck_assert(out == v);
	for (m = 0; m < n; m++)
		ck_assert_uint_eq(varint_decode_i64(b, b + m, &out), 0);
}

START_TEST(test_round_trip_boundaries)
{
	static const int32_t v32[] = {0,
				      1,
				      -1,
				      2,
				      -2,
				      63,
				      -64,
				      64,
				      -65,
				      8191,
				      -8192,
				      8192,
				      -8193,
				      1 << 20,
				      -(1 << 20),
				      INT32_MAX,
				      INT32_MIN,
				      INT32_MAX - 1,
				      INT32_MIN + 1};
	static const int64_t v64[] = {0,
				      1,
				      -1,
				      63,
				      -64,
				      64,
				      -65,
				      INT32_MAX,
				      INT32_MIN,
				      (int64_t)INT32_MAX + 1,
				      (int64_t)INT32_MIN - 1,
				      1764000000000LL,
				      -1764000000000LL,
				      INT64_MAX,
				      INT64_MIN,
				      INT64_MAX - 1,
				      INT64_MIN + 1};
	size_t i;
	int s;

	for (i = 0; i < sizeof(v32) / sizeof(v32[0]); i++) {
		rt32(v32[i]);
		rt64(v32[i]);
	}
	for (i = 0; i < sizeof(v64) / sizeof(v64[0]); i++)
		rt64(v64[i]);
	/* Every power of two and its neighbours. */
	for (s = 0; s < 63; s++) {
		rt64((int64_t)1 << s);
		rt64(-((int64_t)1 << s));
		rt64(((int64_t)1 << s) - 1);
		if (s < 31) {
			rt32((int32_t)1 << s);
			rt32(-((int32_t)1 << s));
		}
	}
	ck_assert_uint_eq(varint_size_i32(INT32_MIN), 5);
	ck_assert_uint_eq(varint_size_i32(INT32_MAX), 5);
	ck_assert_uint_eq(varint_size_i64(INT64_MIN), 10);
	ck_assert_uint_eq(varint_size_i64(INT64_MAX), 10);
	ck_assert_uint_eq(varint_size_i32(-64), 1);
	ck_assert_uint_eq(varint_size_i32(64), 2);
}
END_TEST

START_TEST(test_known_encodings)
{
	static const struct {
		int64_t v;
		size_t n;
		uint8_t b[10];
	} cases[] = {
	    {0, 1, {0x00}},
	    {-1, 1, {0x01}},
	    {1, 1, {0x02}},
	    {-2, 1, {0x03}},
	    {5, 1, {0x0a}}, /* "hello" value length */
	    {63, 1, {0x7e}},
	    {-64, 1, {0x7f}},
	    {64, 2, {0x80, 0x01}},
	    {150, 2, {0xac, 0x02}}, /* 300 zig-zagged */
	    {300, 2, {0xd8, 0x04}}, /* the 300-byte vector */
	    {INT32_MAX, 5, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
	    {INT32_MIN, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
	    {INT64_MAX,
	     10,
	     {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	    {INT64_MIN,
	     10,
	     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	};
	uint8_t b[VARINT64_MAX];
	size_t i, n;
	int32_t v32;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = varint_encode_i64(b, cases[i].v);
		ck_assert_uint_eq(n, cases[i].n);
		ck_assert_mem_eq(b, cases[i].b, n);
		if (cases[i].v >= INT32_MIN && cases[i].v <= INT32_MAX) {
			n = varint_encode_i32(b, (int32_t)cases[i].v);
			ck_assert_uint_eq(n, cases[i].n);
			ck_assert_mem_eq(b, cases[i].b, n);
			ck_assert_uint_eq(
			    varint_decode_i32(cases[i].b, cases[i].b + n, &v32),
			    n);
			ck_assert_int_eq(v32, cases[i].v);
		}
	}
}
END_TEST

START_TEST(test_rejects_bad_input)
{
	/* Six bytes for an int32: too long. */
	static const uint8_t long32[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	/* Five bytes whose last carries more than 32 bits. */
	static const uint8_t over32[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
	/* Eleven bytes for an int64. */
	static const uint8_t long64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					 0x80, 0x80, 0x80, 0x80, 0x00};
	/* Ten bytes whose last carries more than 64 bits. */
	static const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0x02};
	/* A continuation bit with nothing after it. */
	static const uint8_t cont[] = {0x80};
	int32_t v32 = 12345;
	int64_t v64 = 12345;

	ck_assert_uint_eq(varint_decode_i32(long32, long32 + 6, &v32), 0);
	ck_assert_uint_eq(varint_decode_i32(over32, over32 + 5, &v32), 0);
	ck_assert_uint_eq(varint_decode_i64(long64, long64 + 11, &v64), 0);
	ck_assert_uint_eq(varint_decode_i64(over64, over64 + 10, &v64), 0);
	ck_assert_uint_eq(varint_decode_i32(cont, cont + 1, &v32), 0);
	ck_assert_uint_eq(varint_decode_i64(cont, cont + 1, &v64), 0);
	ck_assert_uint_eq(varint_decode_i32(cont, cont, &v32), 0);
	ck_assert_uint_eq(varint_decode_i64(cont, cont, &v64), 0);
	/* Failed decodes leave the output alone. */
	ck_assert_int_eq(v32, 12345);
	ck_assert_int_eq(v64, 12345);
	/* The longest valid int64 decoded by the int32 decoder: too long. */
	ck_assert_uint_eq(varint_decode_i32(long64, long64 + 11, &v32), 0);
	/* A non-minimal but in-range encoding of 0 is accepted. */
	ck_assert_uint_eq(varint_decode_i32(long32 + 1, long32 + 6, &v32), 5);
	ck_assert_int_eq(v32, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("varint");
	TCase *tc = tcase_create("varint");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_round_trip_boundaries);
	tcase_add_test(tc, test_known_encodings);
	tcase_add_test(tc, test_rejects_bad_input);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
