/*
 * test_server.c - the network layer's shutdown: a response completed off
 * the worker thread (deferred_respond_async, as the control task queue
 * does) after the server stopped is freed with its connection, not
 * leaked. The broker stops its network before draining its task queues,
 * so this happens whenever a controller request is in the queue at a
 * stop; LeakSanitizer (the sanitize build of the suite) reports the leak
 * this test would otherwise leave.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_int.h"
#include "broker/server.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/rpc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct deferred *parked;
static int handled;

/* Parks every request, as handle_control does before its task runs. */
static void park_handler(struct request *r)
{
	struct deferred *d = request_defer(r);

	pthread_mutex_lock(&lock);
	parked = d;
	handled++;
	pthread_mutex_unlock(&lock);
}

static struct deferred *wait_parked(int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	struct deferred *d = NULL;

	while (clock_mono_ms() < deadline) {
		pthread_mutex_lock(&lock);
		d = parked;
		pthread_mutex_unlock(&lock);
		if (d)
			break;
		usleep(10000);
	}
	return d;
}

START_TEST(test_async_response_after_stop)
{
	struct broker *b = calloc(1, sizeof(*b));
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ApiVersionsRequest body = FLUXO__API_VERSIONS_REQUEST__INIT;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	struct server *srv;
	struct deferred *d;
	char errstr[256] = "";
	int fd, port;

	ck_assert_ptr_nonnull(b);
	broker_conf_init(&b->conf);
	srv = server_new(b, "PLAINTEXT://127.0.0.1:0", 1, park_handler, errstr,
			 sizeof(errstr));
	ck_assert_msg(srv != NULL, "server_new: %s", errstr);
	ck_assert_int_eq(server_start(srv), 0);
	port = server_listener_port(srv, 0);
	ck_assert_int_gt(port, 0);

	fd = net_connect("127.0.0.1", port, 5000, errstr, sizeof(errstr));
	ck_assert_msg(fd >= 0, "connect: %s", errstr);
	req.api = FLUXO__API_KEY__API_VERSIONS;
	req.correlation_id = 7;
	req.body_case = FLUXO__REQUEST__BODY_API_VERSIONS;
	req.api_versions = &body;
	ck_assert_int_eq(rpc_send(fd, &req.base, NULL, 0,
				  clock_mono_ms() + 5000),
			 0);
	d = wait_parked(5000);
	ck_assert_msg(d != NULL, "the request never reached the handler");
	ck_assert_int_eq(deferred_correlation_id(d), 7);

	/* The workers stop and close their connections; the parked request
	 * keeps its connection referenced. Its answer then arrives from
	 * another thread, into the inbox of a worker that no longer runs. */
	server_stop(srv);
	resp.error = FLUXO__ERROR_CODE__NONE;
	deferred_respond_async(d, &resp);
	server_destroy(srv);

	close(fd);
	ck_assert_int_eq(handled, 1);
	broker_conf_free(&b->conf);
	free(b);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("shutdown");

	tcase_add_test(tc, test_async_response_after_stop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
