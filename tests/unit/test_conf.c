/*
 * test_conf.c - the configuration table: parsing, bounds, errors that name
 * the key, properties files, and the topic-level table.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/topic_conf.h"

struct sample {
	int32_t port;
	int64_t bytes;
	bool flag;
	char *name;
	int mode;
	double ratio;
};

static const char *const modes[] = { "fast", "safe", NULL };

static const struct conf_def sample_table[] = {
	{ "port", CONF_INT, "9092", 1, 65535, 0, offsetof(struct sample, port),
	  "Port", NULL },
	{ "bytes", CONF_LONG, "-1", -1, INT64_MAX, 0,
	  offsetof(struct sample, bytes), "Bytes", NULL },
	{ "flag", CONF_BOOL, "false", 0, 1, 0, offsetof(struct sample, flag),
	  "Flag", NULL },
	{ "name", CONF_STRING, "fluxo", 0, 0, 0, offsetof(struct sample, name),
	  "Name", NULL },
	{ "mode", CONF_ENUM, "safe", 0, 0, 0, offsetof(struct sample, mode),
	  "Mode", modes },
	{ "ratio", CONF_DOUBLE, "0.5", 0, 1, 0, offsetof(struct sample, ratio),
	  "Ratio", NULL },
	CONF_END
};

START_TEST(test_defaults_and_set)
{
	struct sample s;
	char err[256];

	ck_assert_int_eq(conf_defaults(sample_table, &s), 0);
	ck_assert_int_eq(s.port, 9092);
	ck_assert_int_eq(s.bytes, -1);
	ck_assert(!s.flag);
	ck_assert_str_eq(s.name, "fluxo");
	ck_assert_int_eq(s.mode, 1);
	ck_assert_int_eq(conf_set(sample_table, &s, "port", "19092", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(s.port, 19092);
	ck_assert_int_eq(conf_set(sample_table, &s, "flag", "TRUE", err,
				  sizeof(err)), 0);
	ck_assert(s.flag);
	ck_assert_int_eq(conf_set(sample_table, &s, "mode", "fast", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(s.mode, 0);
	ck_assert_int_eq(conf_set(sample_table, &s, "name", "x", err,
				  sizeof(err)), 0);
	ck_assert_str_eq(s.name, "x");
	conf_free(sample_table, &s);
	ck_assert_ptr_null(s.name);
}
END_TEST

START_TEST(test_errors_name_the_key)
{
	struct sample s;
	char err[256];

	conf_defaults(sample_table, &s);
	ck_assert_int_eq(conf_set(sample_table, &s, "nope", "1", err,
				  sizeof(err)), ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err, "nope"));
	ck_assert_int_eq(conf_set(sample_table, &s, "port", "70000", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "port"));
	ck_assert_ptr_nonnull(strstr(err, "65535"));
	ck_assert_int_eq(s.port, 9092);
	ck_assert_int_eq(conf_set(sample_table, &s, "port", "12x", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_int_eq(conf_set(sample_table, &s, "flag", "yes", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_int_eq(conf_set(sample_table, &s, "mode", "quick", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "fast"));
	ck_assert_int_eq(conf_set(sample_table, &s, "ratio", "2", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_int_eq(conf_set(sample_table, &s, "bytes",
				  "99999999999999999999", err, sizeof(err)),
			 ERR_INVAL);
	conf_free(sample_table, &s);
}
END_TEST

START_TEST(test_properties_file)
{
	char path[] = "/tmp/fluxo-conf-XXXXXX";
	struct sample s;
	char err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("# comment\n! also comment\n\n  port = 1234\nname: a\\\n  b\n"
	      "flag true\n",
	      f);
	fclose(f);
	conf_defaults(sample_table, &s);
	ck_assert_int_eq(conf_load_file(sample_table, &s, path, err,
					sizeof(err)), 0);
	ck_assert_int_eq(s.port, 1234);
	ck_assert_str_eq(s.name, "ab");
	ck_assert(s.flag);

	f = fopen(path, "w");
	fputs("port=1\nbogus.key=3\n", f);
	fclose(f);
	ck_assert_int_eq(conf_load_file(sample_table, &s, path, err,
					sizeof(err)), ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
	ck_assert_ptr_nonnull(strstr(err, "bogus.key"));
	unlink(path);
	ck_assert_int_eq(conf_load_file(sample_table, &s, path, err,
					sizeof(err)), ERR_IO);
	conf_free(sample_table, &s);
}
END_TEST

START_TEST(test_topic_conf)
{
	struct topic_conf tc, copy;
	char err[256];

	topic_conf_defaults(&tc);
	ck_assert_int_eq(tc.retention_ms, 7LL * 24 * 3600 * 1000);
	ck_assert_int_eq(tc.retention_bytes, -1);
	ck_assert_int_eq(tc.segment_bytes, 1073741824);
	ck_assert_int_eq(tc.min_insync_replicas, 1);
	ck_assert(!tc.unclean_leader_election_enable);
	ck_assert_int_eq(conf_set(topic_conf_table, &tc, "retention.ms",
				  "1000", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(topic_conf_table, &tc, "cleanup.policy",
				  "compact", err, sizeof(err)), ERR_INVAL);
	ck_assert_int_eq(conf_set(topic_conf_table, &tc,
				  "min.insync.replicas", "0", err,
				  sizeof(err)), ERR_INVAL);
	ck_assert_str_eq(topic_conf_broker_key("retention.bytes"),
			 "log.retention.bytes");
	ck_assert_int_eq(topic_conf_copy(&copy, &tc), 0);
	ck_assert_int_eq(copy.retention_ms, 1000);
	topic_conf_free(&copy);
	topic_conf_free(&tc);
}
END_TEST

START_TEST(test_split_kv)
{
	char buf[64], *k, *v;

	ck_assert_int_eq(conf_split_kv("a.b = c=d", buf, sizeof(buf), &k, &v),
			 0);
	ck_assert_str_eq(k, "a.b");
	ck_assert_str_eq(v, "c=d");
	ck_assert_int_eq(conf_split_kv("=x", buf, sizeof(buf), &k, &v),
			 ERR_INVAL);
	ck_assert_int_eq(conf_split_kv("novalue", buf, sizeof(buf), &k, &v),
			 ERR_INVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults_and_set);
	tcase_add_test(tc, test_errors_name_the_key);
	tcase_add_test(tc, test_properties_file);
	tcase_add_test(tc, test_topic_conf);
	tcase_add_test(tc, test_split_kv);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
