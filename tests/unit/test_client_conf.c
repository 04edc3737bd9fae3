/*
 * test_client_conf.c - libfluxo's configuration: names and defaults,
 * refused names and values (with sentences naming them), properties
 * files, the cross-property rules (idempotence on by default and turned
 * off by an explicit conflicting setting, as in Kafka 3.x), error names,
 * and handle creation with bad bootstrap lists.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/conf_int.h"
#include "fluxo.h"

static void expect(const fluxo_conf_t *c, const char *name, const char *want)
{
	char out[256];

	ck_assert_int_eq(fluxo_conf_get(c, name, out, sizeof(out)), 0);
	ck_assert_msg(strcmp(out, want) == 0, "%s is \"%s\", not \"%s\"", name,
		      out, want);
}

START_TEST(test_defaults)
{
	fluxo_conf_t *c = fluxo_conf_new();

	expect(c, "client.id", "fluxo");
	expect(c, "request.timeout.ms", "30000");
	expect(c, "socket.connection.setup.timeout.ms", "10000");
	expect(c, "retry.backoff.ms", "100");
	expect(c, "acks", "1");
	expect(c, "linger.ms", "0");
	expect(c, "batch.size", "65536");
	expect(c, "buffer.memory", "33554432");
	expect(c, "max.request.size", "1048576");
	expect(c, "compression.type", "none");
	expect(c, "retries", "2147483647");
	expect(c, "delivery.timeout.ms", "120000");
	expect(c, "max.in.flight.requests.per.connection", "5");
	expect(c, "max.block.ms", "60000");
	expect(c, "enable.idempotence", "true");
	expect(c, "fetch.min.bytes", "1");
	expect(c, "fetch.max.wait.ms", "500");
	expect(c, "fetch.max.bytes", "52428800");
	expect(c, "max.partition.fetch.bytes", "1048576");
	expect(c, "auto.offset.reset", "latest");
	expect(c, "isolation.level", "read_uncommitted");
	expect(c, "check.crcs", "true");
	expect(c, "default.api.timeout.ms", "60000");
	expect(c, "bootstrap.servers", "");
	fluxo_conf_destroy(c);
	/* The header's version is the package's (configure.ac's AC_INIT):
	 * every tool's --version prints it. */
	ck_assert_str_eq(FLUXO_VERSION_STR, PACKAGE_VERSION);
}
END_TEST

START_TEST(test_set_and_refuse)
{
	fluxo_conf_t *c = fluxo_conf_new(), *d;
	char err[2048];

	ck_assert_int_eq(fluxo_conf_set(c, "acks", "all", err, sizeof(err)), 0);
	expect(c, "acks", "all");
	ck_assert_int_eq(fluxo_conf_set(c, "acks", "-1", err, sizeof(err)), 0);
	ck_assert_int_eq(fluxo_conf_set(c, "acks", "0", err, sizeof(err)), 0);
	expect(c, "acks", "0");
	ck_assert_int_eq(fluxo_conf_set(c, "acks", "2", err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "acks"));
	ck_assert_ptr_nonnull(strstr(err, "all"));

	ck_assert_int_eq(
	    fluxo_conf_set(c, "compression.type", "zstd", err, sizeof(err)), 0);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "compression.type", "brotli", err, sizeof(err)),
	    FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "brotli"));
	expect(c, "compression.type", "zstd");

	ck_assert_int_eq(
	    fluxo_conf_set(c, "linger.ms", "five", err, sizeof(err)),
	    FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "linger.ms"));
	ck_assert_int_eq(fluxo_conf_set(c, "linger.ms", "-3", err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "check.crcs", "maybe", err, sizeof(err)),
	    FLUXO_ERR__INVALID_ARG);
	ck_assert_int_eq(fluxo_conf_set(c, "auto.offset.reset", "earliest", err,
					sizeof(err)),
			 0);

	/* An unknown name lists the known ones. */
	ck_assert_int_eq(fluxo_conf_set(c, "linger", "5", err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "\"linger\""));
	ck_assert_ptr_nonnull(strstr(err, "linger.ms"));
	ck_assert_int_eq(fluxo_conf_get(c, "linger", err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);

	/* dup is deep. */
	ck_assert_int_eq(
	    fluxo_conf_set(c, "client.id", "one", err, sizeof(err)), 0);
	d = fluxo_conf_dup(c);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "client.id", "two", err, sizeof(err)), 0);
	expect(d, "client.id", "one");
	expect(d, "compression.type", "zstd");
	fluxo_conf_destroy(d);
	fluxo_conf_destroy(c);
}
END_TEST

START_TEST(test_load_file)
{
	char path[] = "/tmp/fluxo-conf-XXXXXX", err[512];
	fluxo_conf_t *c = fluxo_conf_new();
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "# producer\nacks=all\nlinger.ms = 5\n\nbogus.key=1\n");
	fclose(f);
	ck_assert_int_eq(fluxo_conf_load_file(c, path, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, ":5:"));
	ck_assert_ptr_nonnull(strstr(err, "bogus.key"));
	expect(c, "acks", "all");
	expect(c, "linger.ms", "5");
	unlink(path);
	ck_assert_int_eq(fluxo_conf_load_file(c, path, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, path));
	fluxo_conf_destroy(c);
}
END_TEST

START_TEST(test_rules_and_bootstrap)
{
	char err[512];
	fluxo_conf_t *c;

	/* No bootstrap.servers. */
	c = fluxo_conf_new();
	ck_assert_ptr_null(fluxo_producer_new(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "bootstrap.servers"));
	/* Not host:port. */
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers",
					"localhost:9092,nohostport", err,
					sizeof(err)),
			 0);
	ck_assert_ptr_null(fluxo_consumer_new(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "nohostport"));
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers", "localhost:abc",
					err, sizeof(err)),
			 0);
	ck_assert_ptr_null(fluxo_admin_new(c, err, sizeof(err)));
	/* Idempotence needs acks=all. */
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
					err, sizeof(err)),
			 0);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "enable.idempotence", "true", err, sizeof(err)),
	    0);
	ck_assert_int_eq(fluxo_conf_set(c, "acks", "1", err, sizeof(err)), 0);
	ck_assert_ptr_null(fluxo_producer_new(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "acks"));
	fluxo_conf_destroy(c);
	/* ... and max.in.flight <= 5. */
	c = fluxo_conf_new();
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
					err, sizeof(err)),
			 0);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "enable.idempotence", "true", err, sizeof(err)),
	    0);
	ck_assert_int_eq(fluxo_conf_set(c,
					"max.in.flight.requests.per.connection",
					"6", err, sizeof(err)),
			 0);
	ck_assert_ptr_null(fluxo_producer_new(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "max.in.flight"));
	fluxo_conf_destroy(c);
	/* An explicit delivery.timeout.ms below linger + request timeout. */
	c = fluxo_conf_new();
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
					err, sizeof(err)),
			 0);
	ck_assert_int_eq(
	    fluxo_conf_set(c, "delivery.timeout.ms", "1000", err, sizeof(err)),
	    0);
	ck_assert_ptr_null(fluxo_producer_new(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "delivery.timeout.ms"));
	fluxo_conf_destroy(c);
}
END_TEST

/* A conf with bootstrap.servers and the given settings, finalized for a
 * producer; returns finalize's result. */
static int finalize(fluxo_conf_t *c, const char *const *kv, char *err,
		    size_t err_size)
{
	ck_assert_int_eq(fluxo_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
					err, err_size),
			 0);
	for (; kv && kv[0]; kv += 2)
		ck_assert_int_eq(fluxo_conf_set(c, kv[0], kv[1], err, err_size),
				 0);
	return client_conf_finalize(c, true, err, err_size);
}

START_TEST(test_idempotence_default)
{
	static const char *const acks1[] = {"acks", "1", NULL};
	static const char *const acks0[] = {"acks", "0", NULL};
	static const char *const acks_all[] = {"acks", "all", NULL};
	static const char *const no_retries[] = {"retries", "0", NULL};
	static const char *const inflight[] = {
	    "max.in.flight.requests.per.connection", "10", NULL};
	static const char *const off[] = {"enable.idempotence", "false", NULL};
	static const char *const on_acks1[] = {"enable.idempotence", "true",
					       "acks", "1", NULL};
	static const char *const on_retries[] = {
	    "retries", "0", "enable.idempotence", "true", NULL};
	char err[512];
	fluxo_conf_t *c;

	/* Nothing set: idempotent, acks=all. */
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, NULL, err, sizeof(err)), 0);
	ck_assert(c->c.enable_idempotence);
	ck_assert_int_eq(client_conf_acks(&c->c), -1);
	fluxo_conf_destroy(c);
	/* An explicit acks=1 or 0 turns it off (the console producer's
	 * --request-required-acks 1). */
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, acks1, err, sizeof(err)), 0);
	ck_assert(!c->c.enable_idempotence);
	ck_assert_int_eq(client_conf_acks(&c->c), 1);
	fluxo_conf_destroy(c);
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, acks0, err, sizeof(err)), 0);
	ck_assert(!c->c.enable_idempotence);
	ck_assert_int_eq(client_conf_acks(&c->c), 0);
	fluxo_conf_destroy(c);
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, acks_all, err, sizeof(err)), 0);
	ck_assert(c->c.enable_idempotence);
	fluxo_conf_destroy(c);
	/* So do retries=0 and max.in.flight > 5; acks keeps its default. */
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, no_retries, err, sizeof(err)), 0);
	ck_assert(!c->c.enable_idempotence);
	ck_assert_int_eq(client_conf_acks(&c->c), 1);
	fluxo_conf_destroy(c);
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, inflight, err, sizeof(err)), 0);
	ck_assert(!c->c.enable_idempotence);
	fluxo_conf_destroy(c);
	/* Explicitly off: acks keeps its default of 1. */
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, off, err, sizeof(err)), 0);
	ck_assert(!c->c.enable_idempotence);
	ck_assert_int_eq(client_conf_acks(&c->c), 1);
	fluxo_conf_destroy(c);
	/* Explicitly on with a conflict: refused, whatever the order. */
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, on_acks1, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "acks=all"));
	fluxo_conf_destroy(c);
	c = fluxo_conf_new();
	ck_assert_int_eq(finalize(c, on_retries, err, sizeof(err)),
			 FLUXO_ERR__INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(err, "retries"));
	fluxo_conf_destroy(c);
	/* fluxo_conf_dup keeps what was set explicitly. */
	c = fluxo_conf_new();
	ck_assert_int_eq(fluxo_conf_set(c, "acks", "1", err, sizeof(err)), 0);
	{
		fluxo_conf_t *d = fluxo_conf_dup(c);

		ck_assert_int_eq(finalize(d, NULL, err, sizeof(err)), 0);
		ck_assert(!d->c.enable_idempotence);
		fluxo_conf_destroy(d);
	}
	fluxo_conf_destroy(c);
}
END_TEST

START_TEST(test_errors)
{
	ck_assert_str_eq(fluxo_err2name(FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION),
			 "UNKNOWN_TOPIC_OR_PARTITION");
	ck_assert_str_eq(fluxo_err2name(FLUXO_ERR__TIMED_OUT), "_TIMED_OUT");
	ck_assert_str_eq(fluxo_err2str(FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION),
			 "Broker: Unknown topic or partition");
	ck_assert_ptr_nonnull(strstr(fluxo_err2str(12345), "Broker"));
	ck_assert_ptr_nonnull(strstr(fluxo_err2str(-150), "Local"));
	ck_assert(fluxo_err_is_retriable(FLUXO_ERR_NOT_LEADER_OR_FOLLOWER));
	ck_assert(fluxo_err_is_retriable(FLUXO_ERR_NOT_ENOUGH_REPLICAS));
	ck_assert(fluxo_err_is_retriable(FLUXO_ERR__TRANSPORT));
	ck_assert(!fluxo_err_is_retriable(FLUXO_ERR_INVALID_RECORD));
	ck_assert(!fluxo_err_is_retriable(FLUXO_ERR__DESTROY));
	ck_assert_str_eq(fluxo_version_str(), FLUXO_VERSION_STR);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client_conf");
	TCase *tc = tcase_create("conf");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_set_and_refuse);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_rules_and_bootstrap);
	tcase_add_test(tc, test_idempotence_default);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
