/*
 * ctltest.h - the fixture the controller tests share (test_controller.c,
 * test_controller_reassign.c): a fresh chroot in a real ZooKeeper with the
 * cluster id bootstrapped, an admin session on it, up to ten fake brokers
 * (fakebroker.h), a controller hosted by one of them, and requests handed
 * to the controller as a broker's network thread hands them.
 *
 * The state is global, as a Check test in its own process owns it: call
 * setup() first and teardown() last in each test.
 */
#ifndef FLUXO_TEST_CTLTEST_H
#define FLUXO_TEST_CTLTEST_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "common/clock.h"
#include "coordinator/controller.h"
#include "coordinator/zk.h"
#include "fluxo.pb-c.h"
#include "tests/lib/fakebroker.h"

/* Polls cond every 10 ms until it holds or ms pass; fails the test. */
#define WAIT_UNTIL(cond, ms)                                                   \
	do {                                                                   \
		int64_t deadline_ = clock_mono_ms() + (ms);                    \
		while (!(cond) && clock_mono_ms() < deadline_)                 \
			usleep(10 * 1000);                                     \
		ck_assert_msg((cond), "timed out after %d ms waiting for: %s", \
			      (int)(ms), #cond);                               \
	} while (0)

#define CTLTEST_MAX_BROKERS 10

extern char errstr[512];
extern const char *cs;	    /* connect string with the test's chroot */
extern zk_session_t *admin; /* the test's own session */
extern fakebroker_t *fb[CTLTEST_MAX_BROKERS];

/* A chroot named after prefix, the admin session and the cluster id. */
void setup(const char *prefix);
/* Stops every fake broker still running and closes the admin session. */
void teardown(void);
void start_broker(int id);
void stop_broker(int id);

/* The tests' controller settings: no auto-rebalance, short timeouts. */
struct controller_config base_cfg(int id);
controller_t *start_ctl_cfg(int host, const struct controller_config *c);
controller_t *start_ctl(int host);

bool exists(const char *path);

/* A request in flight to the controller and its packed answer. */
struct call {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	uint8_t *bytes;
	size_t len;
	/* Set block to hold the controller thread inside the answer's
	 * callback (entered tells it is there) until released is set. */
	bool block;
	bool entered;
	bool released;
};

void call_init(struct call *c);
void submit(controller_t *ctl, Fluxo__Request *req, struct call *c);
/* The answer, unpacked (free it); fails the test after ms without one. */
Fluxo__Response *wait_call(struct call *c, int ms);
/* submit() and wait_call() with 10 s. */
Fluxo__Response *call_sync(controller_t *ctl, Fluxo__Request *req);

#endif
