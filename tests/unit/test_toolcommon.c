/*
 * test_toolcommon.c - the tools' shared argument handling: flag parsing
 * with getopt_long, --help/--version, one-line usage errors with hints,
 * number and boolean parsing, bootstrap lists, key=value properties, and
 * the stop flag set by SIGINT/SIGTERM.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "tools/toolcommon.h"

enum { F_TOPIC = 1, F_PARTS, F_CODEC, F_PROPS, F_VERBOSE };

static const struct tool_flag flags[] = {
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC", "The topic.", F_TOPIC },
	{ "partitions", TOOL_ARG_REQUIRED, "N", "How many partitions.",
	  F_PARTS },
	{ "compression-codec", TOOL_ARG_OPTIONAL, "CODEC", "Codec.", F_CODEC },
	{ "producer-props", TOOL_ARG_MULTI, "K=V", "Settings.", F_PROPS },
	{ "verbose", TOOL_ARG_NONE, NULL, "Say more.", F_VERBOSE },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-test",
	.synopsis = "--topic TOPIC [options]",
	.summary = "A tool for tests.",
	.flags = flags,
};

static struct tool_spec spec_pos;

/* Captured output of one parse. */
static char *out_buf, *err_buf;
static size_t out_len, err_len;

static void capture(void)
{
	tool_out = open_memstream(&out_buf, &out_len);
	tool_err = open_memstream(&err_buf, &err_len);
	ck_assert_ptr_nonnull(tool_out);
	ck_assert_ptr_nonnull(tool_err);
}

static void release(void)
{
	fclose(tool_out);
	fclose(tool_err);
	tool_out = NULL;
	tool_err = NULL;
	free(out_buf);
	free(err_buf);
	out_buf = err_buf = NULL;
}

/* What the callback saw, as "id=value;" pairs. */
struct seen {
	char log[1024];
};

static int record(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%d=%s;", f ? f->id : 0,
		 arg ? arg : "(null)");
	return 0;
}

static int parse(const struct tool_spec *sp, struct seen *s, ...)
{
	char *argv[32];
	int argc = 0, rc;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"fluxo-test";
	va_start(ap, s);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	memset(s, 0, sizeof(*s));
	capture();
	rc = tool_parse_args(sp, argc, argv, record, s);
	fflush(tool_out);
	fflush(tool_err);
	return rc;
}

START_TEST(test_flags_and_values)
{
	struct seen s;

	ck_assert_int_eq(parse(&spec, &s, "--topic", "t1", "--partitions=3",
			       "--verbose", NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "1=t1;2=3;5=(null);");
	ck_assert_uint_eq(err_len, 0);
	release();

	/* Optional value as the next word, or bare. */
	ck_assert_int_eq(parse(&spec, &s, "--compression-codec", "lz4",
			       "--topic", "x", NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "3=lz4;1=x;");
	release();
	ck_assert_int_eq(parse(&spec, &s, "--compression-codec", "--topic",
			       "x", NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "3=(null);1=x;");
	release();

	/* A multi-value flag takes words up to the next flag. */
	ck_assert_int_eq(parse(&spec, &s, "--producer-props", "a=1", "b=-2",
			       "--topic", "t", NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "4=a=1;4=b=-2;1=t;");
	release();

	/* Unique prefixes are accepted, as joptsimple does. */
	ck_assert_int_eq(parse(&spec, &s, "--top", "t", NULL), TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "1=t;");
	release();

	/* Negative numbers are values, not flags. */
	ck_assert_int_eq(parse(&spec, &s, "--partitions", "-1", NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "2=-1;");
	release();
}
END_TEST

START_TEST(test_errors)
{
	struct seen s;

	ck_assert_int_eq(parse(&spec, &s, "--topik", "t", NULL), TOOL_ERROR);
	ck_assert_str_eq(err_buf,
			 "fluxo-test: unrecognized option '--topik' (did you "
			 "mean '--topic'?)\nRun with --help for usage.\n");
	release();

	ck_assert_int_eq(parse(&spec, &s, "--frobnicate", NULL), TOOL_ERROR);
	ck_assert_str_eq(err_buf,
			 "fluxo-test: unrecognized option '--frobnicate' "
			 "(remove it or check its spelling)\nRun with --help "
			 "for usage.\n");
	release();

	ck_assert_int_eq(parse(&spec, &s, "--topic", NULL), TOOL_ERROR);
	ck_assert_str_eq(err_buf,
			 "fluxo-test: option '--topic' requires a value (e.g. "
			 "--topic TOPIC)\nRun with --help for usage.\n");
	release();

	/* "--topic --partitions 3": the value is missing. */
	ck_assert_int_eq(parse(&spec, &s, "--topic", "--partitions", "3", NULL),
			 TOOL_ERROR);
	ck_assert_ptr_nonnull(strstr(err_buf, "'--topic' requires a value"));
	ck_assert_str_eq(s.log, "");
	release();

	ck_assert_int_eq(parse(&spec, &s, "--topic", "t", "stray", NULL),
			 TOOL_ERROR);
	ck_assert_ptr_nonnull(strstr(err_buf, "unexpected argument 'stray'"));
	release();

	ck_assert_int_eq(parse(&spec, &s, "--verbose=yes", NULL), TOOL_ERROR);
	ck_assert_str_eq(err_buf, "fluxo-test: option '--verbose' does not "
				  "take a value\nRun with --help for usage.\n");
	release();

	/* No arguments at all: the usage, on stderr, and a failure. */
	ck_assert_int_eq(parse(&spec, &s, NULL), TOOL_ERROR);
	ck_assert_ptr_nonnull(strstr(err_buf, "Usage: fluxo-test"));
	ck_assert_uint_eq(out_len, 0);
	release();
}
END_TEST

START_TEST(test_positional)
{
	struct seen s;

	spec_pos = spec;
	spec_pos.positional_ok = true;
	ck_assert_int_eq(parse(&spec_pos, &s, "a.log", "--verbose", "b.log",
			       NULL),
			 TOOL_CONTINUE);
	ck_assert_str_eq(s.log, "0=a.log;5=(null);0=b.log;");
	release();
}
END_TEST

START_TEST(test_help_and_version)
{
	struct seen s;
	size_t i;

	ck_assert_int_eq(parse(&spec, &s, "--help", NULL), TOOL_DONE);
	ck_assert_uint_eq(err_len, 0);
	ck_assert_ptr_nonnull(strstr(out_buf, "Usage: fluxo-test --topic"));
	ck_assert_ptr_nonnull(strstr(out_buf, "A tool for tests."));
	for (i = 0; flags[i].name; i++) {
		char want[64];

		snprintf(want, sizeof(want), "--%s", flags[i].name);
		ck_assert_msg(strstr(out_buf, want), "help lacks %s", want);
		ck_assert_ptr_nonnull(strstr(out_buf, flags[i].help));
	}
	ck_assert_ptr_nonnull(strstr(out_buf, "--compression-codec [CODEC]"));
	ck_assert_ptr_nonnull(strstr(out_buf, "--producer-props K=V..."));
	ck_assert_ptr_nonnull(strstr(out_buf, "--help"));
	ck_assert_ptr_nonnull(strstr(out_buf, "--version"));
	release();

	ck_assert_int_eq(parse(&spec, &s, "--topic", "t", "--version", NULL),
			 TOOL_DONE);
	ck_assert_str_eq(out_buf, "fluxo-test " PACKAGE_VERSION "\n");
	release();
}
END_TEST

START_TEST(test_numbers)
{
	int64_t v = 0;
	int i = 0;
	double d = 0;
	bool b = false;

	capture();
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", "42", 1, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", "-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", "101", 1, 100, &v),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", "4x", 1, 100, &v),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", "", 1, 100, &v),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n", " 4", 1, 100, &v),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_i64(&spec, "--n",
					"99999999999999999999", 1, INT64_MAX,
					&v),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_int(&spec, "--partitions", "0", 1,
					INT32_MAX, &i),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_double(&spec, "--throughput", "-1", -1e9,
					   1e9, &d),
			 0);
	ck_assert(d == -1);
	ck_assert_int_eq(tool_parse_double(&spec, "--throughput", "nan", -1e9,
					   1e9, &d),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_parse_bool(&spec, "--property print.key",
					 " TRUE ", &b),
			 0);
	ck_assert(b);
	ck_assert_int_eq(tool_parse_bool(&spec, "--property print.key",
					 "false", &b),
			 0);
	ck_assert(!b);
	ck_assert_int_eq(tool_parse_bool(&spec, "--property print.key", "yes",
					 &b),
			 TOOL_ERROR);
	fflush(tool_err);
	ck_assert_ptr_nonnull(strstr(err_buf,
				     "fluxo-test: --n expects an integer "
				     "between 1 and 100, got '101'\n"));
	ck_assert_ptr_nonnull(strstr(err_buf,
				     "--partitions expects an integer >= 1, "
				     "got '0'"));
	ck_assert_ptr_nonnull(strstr(err_buf,
				     "--property print.key expects true or "
				     "false, got 'yes'"));
	release();
}
END_TEST

START_TEST(test_bootstrap)
{
	static const char *const good[] = {
		"localhost:9092", "a:1,b:65535", "10.0.0.1:9092",
		"[::1]:9092", "h1:9092,[fe80::1]:9093,h3:1"
	};
	static const char *const bad[] = {
		"", "localhost", "localhost:", ":9092", "h:0", "h:65536",
		"h:90a", "h:9092,", ",h:9092", "h:1,,h:2", "[::1]", "::1:9092",
		"h 1:9092", "h:123456"
	};
	size_t i;

	capture();
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(tool_check_bootstrap(&spec, "--bootstrap-server",
						   good[i]) == 0,
			      "refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(tool_check_bootstrap(&spec, "--bootstrap-server",
						   bad[i]) == TOOL_ERROR,
			      "accepted '%s'", bad[i]);
	fflush(tool_err);
	ck_assert_ptr_nonnull(strstr(err_buf,
				     "fluxo-test: --bootstrap-server expects "
				     "host:port[,host:port...], got "
				     "'localhost' (e.g. --bootstrap-server "
				     "localhost:9092)\n"));
	release();
}
END_TEST

START_TEST(test_props)
{
	struct tool_props p = TOOL_PROPS_INIT;

	capture();
	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--property",
					   " key.separator = : "),
			 0);
	ck_assert_str_eq(tool_props_get(&p, "key.separator"), " : ");
	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--producer-property",
					   "sasl.jaas.config=a=b;c=d"),
			 0);
	ck_assert_str_eq(tool_props_get(&p, "sasl.jaas.config"), "a=b;c=d");
	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--property", "empty="),
			 0);
	ck_assert_str_eq(tool_props_get(&p, "empty"), "");
	/* The same key again replaces the value and keeps the order. */
	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--property",
					   "key.separator=,"),
			 0);
	ck_assert_uint_eq(p.cnt, 3);
	ck_assert_str_eq(p.v[0].key, "key.separator");
	ck_assert_str_eq(p.v[0].value, ",");
	ck_assert(p.v[0].kv);
	ck_assert_str_eq(p.v[0].origin, "--property");
	ck_assert_ptr_null(tool_props_get(&p, "missing"));

	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--property",
					   "print.key"),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_props_add_kv(&spec, &p, "--property", " =x"),
			 TOOL_ERROR);
	ck_assert_int_eq(tool_props_set(&p, "acks", "all", "--acks"), 0);
	ck_assert(!p.v[3].kv);
	fflush(tool_err);
	ck_assert_ptr_nonnull(strstr(err_buf,
				     "fluxo-test: --property expects "
				     "key=value, got 'print.key' (e.g. "
				     "--property acks=all)\n"));
	ck_assert_ptr_nonnull(strstr(err_buf, "(the key is empty)"));
	tool_props_free(&p);
	ck_assert_uint_eq(p.cnt, 0);
	release();
}
END_TEST

START_TEST(test_signals)
{
	int64_t t0;

	tool_signals_init();
	ck_assert(!tool_stopping());
	/* The first SIGINT only sets the flag; the process lives on. */
	raise(SIGINT);
	ck_assert(tool_stopping());
	/* Sleeps end at once once a stop was requested. */
	t0 = clock_mono_ms();
	tool_sleep_ns(5000000000LL);
	ck_assert_int_lt(clock_mono_ms() - t0, 100);
}
END_TEST

START_TEST(test_sleep)
{
	int64_t t0 = clock_mono_ms(), el;

	tool_sleep_ns(30000000);	/* 30 ms */
	el = clock_mono_ms() - t0;
	ck_assert_int_ge(el, 29);
	ck_assert_int_lt(el, 2000);
	tool_request_stop();
	ck_assert(tool_stopping());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("toolcommon");
	TCase *tc = tcase_create("toolcommon");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_flags_and_values);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_positional);
	tcase_add_test(tc, test_help_and_version);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_bootstrap);
	tcase_add_test(tc, test_props);
	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_sleep);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
