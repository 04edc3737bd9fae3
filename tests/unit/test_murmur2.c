/*
 * test_murmur2.c - Kafka's murmur2: the values Kafka's own UtilsTest
 * (testMurmur2) pins, and the partition helper built on it.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/murmur2.h"

START_TEST(test_kafka_values)
{
	static const struct {
		const char *key;
		int32_t want;
	} cases[] = {
	    {"21", -973932308},
	    {"foobar", -790332482},
	    {"a-little-bit-long-string", -985981536},
	    {"a-little-bit-longer-string", -1486304829},
	    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	    {"abc", 479470107},
	};
	static const uint8_t abc[] = {'a', 'b', 'c'};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_int_eq(
		    (int32_t)murmur2(cases[i].key, strlen(cases[i].key)),
		    cases[i].want);
	ck_assert_int_eq((int32_t)murmur2(abc, sizeof(abc)), 479470107);
}
END_TEST

START_TEST(test_partition)
{
	int32_t p, n;

	/* "21" hashes negative: the sign bit is masked, not negated. */
	for (n = 1; n <= 64; n++) {
		p = murmur2_partition("21", 2, n);
		ck_assert_int_eq(
		    p, (int32_t)((uint32_t)(-973932308) & 0x7fffffffu) % n);
		ck_assert_int_ge(p, 0);
		ck_assert_int_lt(p, n);
	}
	ck_assert_int_eq(murmur2_partition("foobar", 6, 1), 0);
	ck_assert_int_eq(murmur2_partition("abc", 3, 7), 479470107 % 7);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("murmur2");
	TCase *tc = tcase_create("murmur2");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_kafka_values);
	tcase_add_test(tc, test_partition);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
