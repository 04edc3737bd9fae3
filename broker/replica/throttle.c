/*
 * throttle.c - the token bucket and replica lists of replication
 * throttling (see throttle.h for the model).
 *
 * The balance is kept in bytes as a double: at rates of a few bytes per
 * second and refills every few microseconds an integer would round the
 * refill away. It is refilled lazily, from the time elapsed since the
 * last call, and capped at THROTTLE_BURST_MS worth of the rate, so a
 * throttle idle for an hour does not let a gigabyte through at once.
 *
 * Invariants: last_us is 0 until the first call after the throttle became
 * limited (the bucket then starts full); the balance never exceeds the
 * burst. The rate is also an atomic so that the unthrottled data path
 * tests it without the lock.
 */
#include "config.h"
#include "throttle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct throttle {
	pthread_mutex_t lock;
	_Atomic int64_t rate; /* bytes/s */
	double tokens;	      /* bytes; negative: debt */
	int64_t last_us;      /* 0: not started */
};

static double burst_of(int64_t rate)
{
	double b = (double)rate * THROTTLE_BURST_MS / 1000.0;

	return b < 1.0 ? 1.0 : b;
}

struct throttle *throttle_new(int64_t bytes_per_sec)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->rate, bytes_per_sec < 0 ? 0 : bytes_per_sec);
	return t;
}

void throttle_destroy(struct throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void throttle_set_rate(struct throttle *t, int64_t bytes_per_sec)
{
	int64_t old;

	if (bytes_per_sec < 0)
		bytes_per_sec = 0;
	pthread_mutex_lock(&t->lock);
	old = atomic_load(&t->rate);
	atomic_store(&t->rate, bytes_per_sec);
	if (old == THROTTLE_UNLIMITED)
		t->last_us = 0; /* start afresh, full */
	else if (t->tokens > burst_of(bytes_per_sec))
		t->tokens = burst_of(bytes_per_sec);
	pthread_mutex_unlock(&t->lock);
}

int64_t throttle_rate(const struct throttle *t)
{
	return atomic_load(&t->rate);
}

bool throttle_limited(const struct throttle *t)
{
	return t && atomic_load(&t->rate) != THROTTLE_UNLIMITED;
}

/* Caller holds t->lock. */
static void refill(struct throttle *t, int64_t rate, int64_t now_us)
{
	double burst = burst_of(rate);

	if (t->last_us == 0) {
		t->tokens = burst;
		t->last_us = now_us;
		return;
	}
	if (now_us > t->last_us) {
		t->tokens += (double)rate * (double)(now_us - t->last_us) / 1e6;
		t->last_us = now_us;
	}
	if (t->tokens > burst)
		t->tokens = burst;
}

int64_t throttle_delay_ms(struct throttle *t, int64_t now_us)
{
	int64_t rate, ms = 0;

	if (!throttle_limited(t))
		return 0;
	pthread_mutex_lock(&t->lock);
	rate = atomic_load(&t->rate);
	if (rate == 0) {
		ms = THROTTLE_ZERO_RATE_WAIT_MS;
	} else if (rate != THROTTLE_UNLIMITED) {
		refill(t, rate, now_us);
		if (t->tokens <= 0) {
			ms = (int64_t)(-t->tokens * 1000.0 / (double)rate) + 1;
			if (ms > THROTTLE_ZERO_RATE_WAIT_MS)
				ms = THROTTLE_ZERO_RATE_WAIT_MS;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ms;
}

void throttle_record(struct throttle *t, int64_t bytes, int64_t now_us)
{
	int64_t rate;

	if (!throttle_limited(t) || bytes <= 0)
		return;
	pthread_mutex_lock(&t->lock);
	rate = atomic_load(&t->rate);
	if (rate != THROTTLE_UNLIMITED) {
		refill(t, rate, now_us);
		t->tokens -= (double)bytes;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Parses a decimal int32 in [s, e); false when it is not one. */
static bool parse_id(const char *s, const char *e, int32_t *out)
{
	int64_t v = 0;

	if (s == e || e - s > 10)
		return false;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

bool throttle_list_has(const char *list, int32_t partition, int32_t broker)
{
	const char *s = list;

	if (!s)
		return false;
	while (*s) {
		const char *e, *colon = NULL, *b, *end;
		int32_t p, id;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		for (e = s; *e && *e != ','; e++)
			if (*e == ':' && !colon)
				colon = e;
		end = e;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - s == 1 && *s == '*')
			return true;
		b = colon ? colon + 1 : NULL;
		if (colon && parse_id(s, colon, &p) && parse_id(b, end, &id) &&
		    p == partition && id == broker)
			return true;
		s = e;
	}
	return false;
}
