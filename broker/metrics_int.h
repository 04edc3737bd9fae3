/*
 * metrics_int.h - shared internals of broker/metrics.c (registry, updates,
 * exposition) and broker/metrics_http.c (the HTTP endpoint).
 */
#ifndef FLUXO_METRICS_INT_H
#define FLUXO_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "metrics.h"

struct mfamily;
struct mcollector;

struct metrics {
	pthread_mutex_t lock;	  /* families, collectors */
	struct mfamily *families; /* registration order */
	struct mfamily **families_tail;
	struct mcollector *collectors; /* order added */
	struct mcollector **collectors_tail;
	unsigned stripe_mask; /* stripes - 1, a power of two - 1 */

	/* HTTP endpoint (metrics_http.c); owning thread only, but port. */
	atomic_int http_timeout_ms;
	bool http_running;
	pthread_t http_thread;
	int http_listen_fd;
	int http_wake_fd[2];  /* pipe: stop request */
	atomic_int http_port; /* -1 when not serving */
};

/*
 * metrics_new with an explicit stripe count (a power of two, 1 to 64)
 * instead of one from the CPU count: lets tests make threads share
 * stripes. Returns NULL for a bad count or no memory.
 */
struct metrics *metrics_new_stripes(unsigned stripes);

#endif
