/*
 * ctltest.c - the controller tests' shared fixture; see ctltest.h.
 */
#include "config.h"

#include "tests/lib/ctltest.h"

#include <stdlib.h>
#include <string.h>

#include "coordinator/registration.h"
#include "tests/lib/zktest.h"

char errstr[512];
const char *cs;
zk_session_t *admin;
fakebroker_t *fb[CTLTEST_MAX_BROKERS];

void setup(const char *prefix)
{
	char cid[64];

	cs = strdup(zktest_chroot(prefix));
	admin = zktest_session(cs, 4000);
	ck_assert_ptr_nonnull(admin);
	ck_assert_int_eq(registration_bootstrap(admin, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	memset(fb, 0, sizeof(fb));
}

void start_broker(int id)
{
	fb[id] = fakebroker_start(cs, id, NULL);
	ck_assert_ptr_nonnull(fb[id]);
}

void stop_broker(int id)
{
	fakebroker_stop(fb[id]);
	fb[id] = NULL;
}

void teardown(void)
{
	for (int i = 0; i < CTLTEST_MAX_BROKERS; i++)
		if (fb[i])
			stop_broker(i);
	zk_session_close(admin);
	admin = NULL;
	free((char *)cs);
	cs = NULL;
}

struct controller_config base_cfg(int id)
{
	struct controller_config c;

	controller_config_defaults(&c);
	c.broker_id = id;
	c.auto_leader_rebalance_enable = false;
	c.controller_socket_timeout_ms = 5000;
	c.connect_timeout_ms = 1000;
	return c;
}

controller_t *start_ctl_cfg(int host, const struct controller_config *c)
{
	controller_t *ctl = controller_start(fakebroker_session(fb[host]), c,
					     errstr, sizeof(errstr));

	ck_assert_msg(ctl != NULL, "controller_start: %s", errstr);
	return ctl;
}

controller_t *start_ctl(int host)
{
	struct controller_config c = base_cfg(host);

	return start_ctl_cfg(host, &c);
}

bool exists(const char *path)
{
	return zk_exists(admin, path, NULL, NULL) == ZOK;
}

static void on_done(void *arg, const Fluxo__Response *resp)
{
	struct call *c = arg;
	size_t n = fluxo__response__get_packed_size(resp);
	uint8_t *b = malloc(n + 1);

	ck_assert_ptr_nonnull(b);
	fluxo__response__pack(resp, b);
	pthread_mutex_lock(&c->mu);
	c->bytes = b;
	c->len = n;
	c->done = true;
	c->entered = true;
	pthread_cond_broadcast(&c->cv);
	while (c->block && !c->released)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

void call_init(struct call *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
}

void submit(controller_t *ctl, Fluxo__Request *req, struct call *c)
{
	size_t n = fluxo__request__get_packed_size(req);
	uint8_t *b = malloc(n + 1);

	ck_assert_ptr_nonnull(b);
	fluxo__request__pack(req, b);
	ck_assert_int_eq(controller_submit(ctl, b, n, on_done, c), 0);
	free(b);
}

Fluxo__Response *wait_call(struct call *c, int ms)
{
	int64_t deadline = clock_mono_ms() + ms;
	Fluxo__Response *r;
	bool done;

	pthread_mutex_lock(&c->mu);
	while (!c->done && clock_mono_ms() < deadline) {
		pthread_mutex_unlock(&c->mu);
		usleep(5 * 1000);
		pthread_mutex_lock(&c->mu);
	}
	done = c->done;
	pthread_mutex_unlock(&c->mu);
	ck_assert_msg(done, "no answer within %d ms", ms);
	r = fluxo__response__unpack(NULL, c->len, c->bytes);
	ck_assert_ptr_nonnull(r);
	free(c->bytes);
	c->bytes = NULL;
	return r;
}

Fluxo__Response *call_sync(controller_t *ctl, Fluxo__Request *req)
{
	struct call c;
	Fluxo__Response *r;

	call_init(&c);
	submit(ctl, req, &c);
	r = wait_call(&c, 10000);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	return r;
}
