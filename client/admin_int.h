/*
 * admin_int.h - what the files of fluxo_admin share: the handle, request
 * deadlines, a call that checks the answer's body, and a wait for fresh
 * cluster metadata.
 *
 * admin.c holds metadata, topics, configs and offsets; admin_ctl.c the
 * calls the controller answers (leader elections, reassignments).
 *
 * Thread: the admin handle's owner thread (one at a time, see fluxo.h).
 */
#ifndef FLUXO_CLIENT_ADMIN_INT_H
#define FLUXO_CLIENT_ADMIN_INT_H

#include <stdint.h>

#include "client_int.h"

struct fluxo_admin {
	struct client cl;
};

/* Monotonic deadline of a call given timeout_ms (<= 0: the handle's
 * default.api.timeout.ms). */
int64_t admin_deadline(struct fluxo_admin *a, int timeout_ms);

/* Milliseconds left until deadline, 0 when passed. */
int admin_left_ms(int64_t deadline);

/*
 * Sends head to broker (or CLIENT_ANY_BROKER) and waits for the answer
 * until deadline. Returns 0 with *respp (free with resp_free) when the
 * answer carries the expected body; otherwise the error of client_call(),
 * FLUXO_ERR__TIMED_OUT when the deadline already passed, or
 * FLUXO_ERR__BAD_MSG for another body, with errstr set.
 */
int admin_call(struct fluxo_admin *a, Fluxo__Request *head, int32_t broker,
	       int64_t deadline, Fluxo__Response__BodyCase body,
	       struct resp **respp, char *errstr, size_t errstr_size);

/*
 * Asks for a metadata refresh and waits until a new answer has been
 * applied to the handle's cache (brokers, controller). Returns 0,
 * FLUXO_ERR__TRANSPORT when every broker failed meanwhile, or
 * FLUXO_ERR__TIMED_OUT at deadline, with errstr set. Takes md_lock.
 */
int admin_md_fresh(struct fluxo_admin *a, int64_t deadline, char *errstr,
		   size_t errstr_size);

/* Lets a call without errstr buffer write its sentences somewhere. */
extern char admin_scratch_err[1];

#define ADMIN_ERRBUF(e, n)                                                     \
	do {                                                                   \
		if (!(e) || (n) == 0) {                                        \
			(e) = admin_scratch_err;                               \
			(n) = sizeof(admin_scratch_err);                       \
		}                                                              \
		(e)[0] = '\0';                                                 \
	} while (0)

#endif
