/*
 * test_jsonout.c - JSON lines of the verifiable clients: escaping of
 * arbitrary record bytes (quotes, control characters, valid and invalid
 * UTF-8), the line builder's exact output, and a randomized check that
 * every line parses as JSON (with jansson) back to what was meant.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tools/jsonout.h"

static char *escape(const void *s, size_t len)
{
	struct buf b = BUF_INIT;
	char *out;

	ck_assert_int_eq(json_append_string(&b, s, len), 0);
	out = strndup((const char *)b.data, b.len);
	buf_free(&b);
	return out;
}

#define ASSERT_ESC(in, len, want)                                              \
	do {                                                                   \
		char *got_ = escape(in, len);                                  \
		ck_assert_str_eq(got_, want);                                  \
		free(got_);                                                    \
	} while (0)

START_TEST(test_escape_ascii)
{
	ASSERT_ESC("", 0, "\"\"");
	ASSERT_ESC("P.12", 4, "\"P.12\"");
	ASSERT_ESC("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
	ASSERT_ESC("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	ASSERT_ESC("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	/* A NUL inside the value is kept, escaped. */
	ASSERT_ESC("a\0b", 3, "\"a\\u0000b\"");
}
END_TEST

START_TEST(test_escape_utf8)
{
	/* Valid sequences pass through unchanged. */
	ASSERT_ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* Each byte outside a valid sequence becomes U+FFFD. */
	ASSERT_ESC("\xff", 1, "\"\\ufffd\"");
	ASSERT_ESC("a\x80z", 3, "\"a\\ufffdz\"");
	/* Truncated: the lead byte and its lone continuation. */
	ASSERT_ESC("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
	/* Overlong '/' and a UTF-16 surrogate are not valid UTF-8. */
	ASSERT_ESC("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	ASSERT_ESC("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	/* Above U+10FFFF. */
	ASSERT_ESC("\xf4\x90\x80\x80", 4,
		   "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* A bad byte does not swallow the good text after it. */
	ASSERT_ESC("\xe2(ok)", 5, "\"\\ufffd(ok)\"");
}
END_TEST

static char *line_of(struct json_line *j)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_int_eq(jl_end(j, f), 0);
	fclose(f);
	return buf;
}

START_TEST(test_line_builder)
{
	struct json_line j = JSON_LINE_INIT;
	char *s;

	jl_begin(&j);
	jl_i64(&j, "timestamp", 1690000000000LL);
	jl_cstr(&j, "name", "producer_send_success");
	jl_cstr(&j, "topic", "t");
	jl_i64(&j, "partition", 0);
	jl_i64(&j, "offset", 12);
	jl_str(&j, "key", NULL, 0);
	jl_cstr(&j, "value", "P.12");
	s = line_of(&j);
	ck_assert_str_eq(s, "{\"timestamp\":1690000000000,\"name\":"
			    "\"producer_send_success\",\"topic\":\"t\","
			    "\"partition\":0,\"offset\":12,\"key\":null,"
			    "\"value\":\"P.12\"}\n");
	free(s);

	/* The builder is reusable; numbers never print as nan or inf. */
	jl_begin(&j);
	jl_cstr(&j, "name", "tool_data");
	jl_double(&j, "avg_throughput", 1234.5);
	jl_double(&j, "bad", 0.0 / 0.0);
	jl_i64(&j, "sent", -1);
	s = line_of(&j);
	ck_assert_str_eq(s, "{\"name\":\"tool_data\",\"avg_throughput\":"
			    "1234.500,\"bad\":0.000,\"sent\":-1}\n");
	free(s);

	jl_begin(&j);
	s = line_of(&j);
	ck_assert_str_eq(s, "{}\n");
	free(s);
	jl_free(&j);
}
END_TEST

/* Random bytes: every line is valid JSON, and valid UTF-8 input decodes
 * back to itself. */
START_TEST(test_random_bytes_parse)
{
	struct json_line j = JSON_LINE_INIT;
	unsigned seed = 12345;
	int iter;

	for (iter = 0; iter < 3000; iter++) {
		unsigned char in[64];
		size_t len = (size_t)(rand_r(&seed) % sizeof(in)), i;
		bool ascii = iter % 2 == 0;
		json_error_t jerr;
		json_t *root;
		char *s;

		for (i = 0; i < len; i++)
			in[i] = ascii ? (unsigned char)(rand_r(&seed) % 128) :
					(unsigned char)rand_r(&seed);
		jl_begin(&j);
		jl_str(&j, "value", in, len);
		s = line_of(&j);
		root = json_loads(s, JSON_ALLOW_NUL, &jerr);
		ck_assert_msg(root != NULL, "not JSON: %s (%s)", s, jerr.text);
		if (ascii) {
			json_t *v = json_object_get(root, "value");

			ck_assert_uint_eq(json_string_length(v), len);
			ck_assert(memcmp(json_string_value(v), in, len) == 0);
		}
		json_decref(root);
		free(s);
	}
	jl_free(&j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonout");
	TCase *tc = tcase_create("jsonout");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_escape_ascii);
	tcase_add_test(tc, test_escape_utf8);
	tcase_add_test(tc, test_line_builder);
	tcase_add_test(tc, test_random_bytes_parse);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
