/*
 * test_configs_util.c - fluxo-configs without a broker
 * (tools/configs_util.c): Kafka's --add-config syntax with bracketed
 * values, --delete-config lists, which settings a describe shows, and the
 * describe lines and headings byte for byte.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tools/configs_util.h"

static char err[512];

START_TEST(test_add_config)
{
	struct config_list l = {0};

	ck_assert_int_eq(
	    config_parse_add(" retention.ms = 1000,"
			     "leader.replication.throttled.replicas="
			     "[0:1,1:2],cleanup.policy=delete",
			     &l, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.names[0], "retention.ms");
	ck_assert_str_eq(l.values[0], "1000");
	ck_assert_str_eq(l.names[1], "leader.replication.throttled.replicas");
	ck_assert_str_eq(l.values[1], "0:1,1:2");
	ck_assert_str_eq(l.values[2], "delete");
	/* A second flag adds to the list; '=' in a value is kept. */
	ck_assert_int_eq(config_parse_add("a=b=c", &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_str_eq(l.values[3], "b=c");
	/* An empty value is a value. */
	ck_assert_int_eq(config_parse_add("x=", &l, err, sizeof(err)), 0);
	ck_assert_str_eq(l.values[4], "");
	ck_assert_int_eq(
	    config_parse_add("retention.ms=5", &l, err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_str_eq(err, "--add-config names retention.ms more than once");
	config_list_free(&l);
}
END_TEST

START_TEST(test_add_config_errors)
{
	static const char *const bad[] = {"retention.ms", "=1", "a=1,,b=2", "",
					  "a=1,b"};
	struct config_list l = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(config_parse_add(bad[i], &l, err, sizeof(err)),
				 ERR_INVAL);
		ck_assert_str_eq(err,
				 "Invalid entity config: all configs to be "
				 "added must be in the format "
				 "\"key=val\".");
		config_list_free(&l);
	}
}
END_TEST

START_TEST(test_delete_config)
{
	struct config_list l = {0};

	ck_assert_int_eq(config_parse_delete("retention.ms, segment.bytes,"
					     "retention.ms",
					     &l, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.names[0], "retention.ms");
	ck_assert_str_eq(l.names[1], "segment.bytes");
	ck_assert_ptr_null(l.values[0]);
	ck_assert_int_eq(config_parse_delete("a,,b", &l, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "--delete-config expects names"));
	config_list_free(&l);
	ck_assert_int_eq(config_parse_delete("", &l, err, sizeof(err)),
			 ERR_INVAL);
}
END_TEST

START_TEST(test_shown)
{
	fluxo_config_entry_t e = {.name = "x", .value = "1"};

	e.source = FLUXO_CONFIG_SOURCE_TOPIC;
	ck_assert(config_shown(&e, CONFIG_SCOPE_TOPIC, false));
	ck_assert(!config_shown(&e, CONFIG_SCOPE_BROKER, false));
	e.source = FLUXO_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER;
	ck_assert(!config_shown(&e, CONFIG_SCOPE_TOPIC, false));
	ck_assert(!config_shown(&e, CONFIG_SCOPE_BROKER, false));
	ck_assert(config_shown(&e, CONFIG_SCOPE_BROKER_DEFAULT, false));
	e.source = FLUXO_CONFIG_SOURCE_DYNAMIC_BROKER;
	ck_assert(config_shown(&e, CONFIG_SCOPE_BROKER, false));
	e.source = FLUXO_CONFIG_SOURCE_STATIC_BROKER;
	ck_assert(!config_shown(&e, CONFIG_SCOPE_BROKER, false));
	ck_assert(config_shown(&e, CONFIG_SCOPE_BROKER, true));
	e.source = FLUXO_CONFIG_SOURCE_DEFAULT;
	ck_assert(config_shown(&e, CONFIG_SCOPE_TOPIC, true));
}
END_TEST

/* What f printed, via a temporary file. */
static char *printed(void (*f)(FILE *, const void *), const void *arg)
{
	static char buf[1024];
	FILE *tmp = tmpfile();
	size_t n;

	ck_assert_ptr_nonnull(tmp);
	f(tmp, arg);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static void print_entry(FILE *out, const void *e)
{
	config_print_entry(out, e);
}

START_TEST(test_entry_line)
{
	fluxo_config_synonym_t syn[] = {
	    {"retention.ms", "1000", FLUXO_CONFIG_SOURCE_TOPIC},
	    {"log.retention.ms", "86400000",
	     FLUXO_CONFIG_SOURCE_DYNAMIC_BROKER},
	    {"log.retention.ms", "604800000", FLUXO_CONFIG_SOURCE_DEFAULT},
	};
	fluxo_config_entry_t e = {.name = "retention.ms",
				  .value = "1000",
				  .source = FLUXO_CONFIG_SOURCE_TOPIC,
				  .synonyms = syn,
				  .synonym_cnt = 3};
	fluxo_config_entry_t secret = {
	    .name = "ssl.key.password", .value = NULL, .is_sensitive = true};

	ck_assert_str_eq(printed(print_entry, &e),
			 "  retention.ms=1000 sensitive=false "
			 "synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, "
			 "DYNAMIC_BROKER_CONFIG:log.retention.ms=86400000, "
			 "DEFAULT_CONFIG:log.retention.ms=604800000}\n");
	ck_assert_str_eq(
	    printed(print_entry, &secret),
	    "  ssl.key.password=null sensitive=true synonyms={}\n");
	ck_assert_str_eq(config_source_name(FLUXO_CONFIG_SOURCE_STATIC_BROKER),
			 "STATIC_BROKER_CONFIG");
	ck_assert_str_eq(
	    config_source_name(FLUXO_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER),
	    "DYNAMIC_DEFAULT_BROKER_CONFIG");
	ck_assert_str_eq(config_source_name(FLUXO_CONFIG_SOURCE_UNKNOWN),
			 "UNKNOWN");
}
END_TEST

struct heading {
	const char *type, *name;
	bool all;
};

static void print_heading(FILE *out, const void *arg)
{
	const struct heading *h = arg;

	config_print_heading(out, h->type, h->name, h->all);
}

START_TEST(test_headings)
{
	struct heading h1 = {"topics", "t", false}, h2 = {"brokers", "1", true},
		       h3 = {"brokers", "", false};

	ck_assert_str_eq(printed(print_heading, &h1),
			 "Dynamic configs for topic t are:\n");
	ck_assert_str_eq(printed(print_heading, &h2),
			 "All configs for broker 1 are:\n");
	ck_assert_str_eq(printed(print_heading, &h3),
			 "Default configs for brokers in the cluster are:\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("configs_util");
	TCase *tc = tcase_create("configs");

	tcase_add_test(tc, test_add_config);
	tcase_add_test(tc, test_add_config_errors);
	tcase_add_test(tc, test_delete_config);
	tcase_add_test(tc, test_shown);
	tcase_add_test(tc, test_entry_line);
	tcase_add_test(tc, test_headings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
