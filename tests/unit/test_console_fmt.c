/*
 * test_console_fmt.c - the console tools' text formats: Kafka's
 * LineMessageReader (key parsing, separators, ignore.error) and
 * DefaultMessageFormatter (field order, labels, separators, headers, null
 * literal), byte for byte.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tools/console_fmt.h"

START_TEST(test_reader_defaults)
{
	struct line_reader lr;
	const char *k, *v;
	size_t kl, vl;

	ck_assert_int_eq(line_reader_init(&lr), 0);
	ck_assert_int_eq(line_reader_split(&lr, "a\tb", 3, &k, &kl, &v, &vl),
			 0);
	ck_assert_ptr_null(k);
	ck_assert_uint_eq(vl, 3);
	ck_assert(memcmp(v, "a\tb", 3) == 0);
	ck_assert_int_eq(line_reader_split(&lr, "", 0, &k, &kl, &v, &vl), 0);
	ck_assert_uint_eq(vl, 0);
	line_reader_free(&lr);
}
END_TEST

START_TEST(test_reader_keys)
{
	struct line_reader lr;
	char err[256] = "";
	const char *k, *v;
	size_t kl, vl;

	ck_assert_int_eq(line_reader_init(&lr), 0);
	ck_assert_int_eq(line_reader_set(&lr, "parse.key", "true", err,
					 sizeof(err)),
			 0);
	ck_assert_int_eq(line_reader_split(&lr, "user1\thello\tworld", 17, &k,
					   &kl, &v, &vl),
			 0);
	ck_assert_uint_eq(kl, 5);
	ck_assert(memcmp(k, "user1", 5) == 0);
	ck_assert_uint_eq(vl, 11);
	ck_assert(memcmp(v, "hello\tworld", 11) == 0);
	/* No separator: an error unless ignore.error. */
	ck_assert_int_eq(line_reader_split(&lr, "novalue", 7, &k, &kl, &v,
					   &vl),
			 ERR_INVAL);
	ck_assert_int_eq(line_reader_set(&lr, "ignore.error", "TRUE", err,
					 sizeof(err)),
			 0);
	ck_assert_int_eq(line_reader_split(&lr, "novalue", 7, &k, &kl, &v,
					   &vl),
			 0);
	ck_assert_ptr_null(k);
	ck_assert_uint_eq(vl, 7);
	/* A multi-byte separator; a separator at the end: empty value. */
	ck_assert_int_eq(line_reader_set(&lr, "key.separator", "::", err,
					 sizeof(err)),
			 0);
	ck_assert_int_eq(line_reader_split(&lr, "k::v::w", 7, &k, &kl, &v,
					   &vl),
			 0);
	ck_assert_uint_eq(kl, 1);
	ck_assert_uint_eq(vl, 4);
	ck_assert(memcmp(v, "v::w", 4) == 0);
	ck_assert_int_eq(line_reader_split(&lr, "k::", 3, &k, &kl, &v, &vl),
			 0);
	ck_assert_uint_eq(kl, 1);
	ck_assert_uint_eq(vl, 0);
	ck_assert_int_eq(line_reader_split(&lr, "::v", 3, &k, &kl, &v, &vl),
			 0);
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(kl, 0);

	ck_assert_int_eq(line_reader_set(&lr, "parse.headers", "true", err,
					 sizeof(err)),
			 ERR_NOT_FOUND);
	ck_assert_int_eq(line_reader_set(&lr, "parse.key", "yes", err,
					 sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "--property parse.key expects true or false, "
			      "got 'yes'");
	ck_assert_int_eq(line_reader_set(&lr, "key.separator", "", err,
					 sizeof(err)),
			 ERR_INVAL);
	line_reader_free(&lr);
}
END_TEST

static int fake_header(const fluxo_message_t *m, size_t idx,
		       fluxo_header_t *out)
{
	static const char *const names[] = { "h1", "h2" };

	(void)m;
	if (idx > 1)
		return -1;
	out->name = names[idx];
	out->name_len = 2;
	out->value = idx == 0 ? "v1" : NULL;
	out->value_len = idx == 0 ? 2 : 0;
	return 0;
}

static fluxo_message_t sample(void)
{
	fluxo_message_t m;

	memset(&m, 0, sizeof(m));
	m.topic = "t";
	m.partition = 0;
	m.offset = 3;
	m.timestamp = 1690000000000LL;
	m.key = "key";
	m.key_len = 3;
	m.value = "value";
	m.value_len = 5;
	return m;
}

static char *format(struct msg_format *f, const fluxo_message_t *m)
{
	struct buf b = BUF_INIT;
	char *s;

	ck_assert_int_eq(msg_format_write(f, m, fake_header, &b), 0);
	s = strndup((const char *)b.data, b.len);
	buf_free(&b);
	return s;
}

static void set(struct msg_format *f, const char *k, const char *v)
{
	char err[256];

	ck_assert_int_eq(msg_format_set(f, k, v, err, sizeof(err)), 0);
}

#define ASSERT_FMT(f, m, want)                                                 \
	do {                                                                   \
		char *got_ = format(f, m);                                     \
		ck_assert_str_eq(got_, want);                                  \
		free(got_);                                                    \
	} while (0)

START_TEST(test_formatter_kafka_layout)
{
	struct msg_format f;
	fluxo_message_t m = sample();

	ck_assert_int_eq(msg_format_init(&f), 0);
	ASSERT_FMT(&f, &m, "value\n");
	set(&f, "print.key", "true");
	ASSERT_FMT(&f, &m, "key\tvalue\n");
	set(&f, "print.timestamp", "true");
	set(&f, "print.partition", "true");
	set(&f, "print.offset", "true");
	ASSERT_FMT(&f, &m,
		   "CreateTime:1690000000000\tPartition:0\tOffset:3\tkey\t"
		   "value\n");
	m.timestamp_type = 1;
	ASSERT_FMT(&f, &m,
		   "LogAppendTime:1690000000000\tPartition:0\tOffset:3\tkey\t"
		   "value\n");
	m.timestamp_type = 0;
	set(&f, "print.headers", "true");
	ASSERT_FMT(&f, &m,
		   "CreateTime:1690000000000\tPartition:0\tOffset:3\t"
		   "NO_HEADERS\tkey\tvalue\n");
	m.header_cnt = 2;
	ASSERT_FMT(&f, &m,
		   "CreateTime:1690000000000\tPartition:0\tOffset:3\t"
		   "h1:v1,h2:null\tkey\tvalue\n");
	msg_format_free(&f);
}
END_TEST

START_TEST(test_formatter_separators_and_nulls)
{
	struct msg_format f;
	fluxo_message_t m = sample();
	char err[256];

	ck_assert_int_eq(msg_format_init(&f), 0);
	set(&f, "print.key", "true");
	set(&f, "print.offset", "true");
	set(&f, "key.separator", " | ");
	set(&f, "line.separator", "\r\n");
	ASSERT_FMT(&f, &m, "Offset:3 | key | value\r\n");
	m.key = NULL;
	m.value = NULL;
	ASSERT_FMT(&f, &m, "Offset:3 | null | null\r\n");
	set(&f, "null.literal", "<nil>");
	ASSERT_FMT(&f, &m, "Offset:3 | <nil> | <nil>\r\n");
	/* Without the value, the last field ends the line. */
	set(&f, "print.value", "false");
	ASSERT_FMT(&f, &m, "Offset:3 | <nil>\r\n");
	set(&f, "print.key", "false");
	ASSERT_FMT(&f, &m, "Offset:3\r\n");
	/* Headers separator. */
	set(&f, "print.headers", "true");
	set(&f, "headers.separator", ";");
	m.header_cnt = 2;
	ASSERT_FMT(&f, &m, "Offset:3 | h1:v1;h2:<nil>\r\n");
	/* Binary values go out byte for byte. */
	set(&f, "print.headers", "false");
	set(&f, "print.offset", "false");
	set(&f, "print.value", "true");
	m.value = "a\0b";
	m.value_len = 3;
	{
		struct buf b = BUF_INIT;

		ck_assert_int_eq(msg_format_write(&f, &m, fake_header, &b), 0);
		ck_assert_uint_eq(b.len, 5);
		ck_assert(memcmp(b.data, "a\0b\r\n", 5) == 0);
		buf_free(&b);
	}
	ck_assert_int_eq(msg_format_set(&f, "print.key", "maybe", err,
					sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(msg_format_set(&f, "key.deserializer", "x", err,
					sizeof(err)),
			 ERR_NOT_FOUND);
	msg_format_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("console_fmt");
	TCase *tc = tcase_create("console_fmt");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_reader_defaults);
	tcase_add_test(tc, test_reader_keys);
	tcase_add_test(tc, test_formatter_kafka_layout);
	tcase_add_test(tc, test_formatter_separators_and_nulls);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
