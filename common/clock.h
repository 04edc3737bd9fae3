/*
 * clock.h - wall-clock and monotonic time in the units fluxo uses.
 *
 * Record timestamps and retention use the wall clock in milliseconds since
 * the epoch (Kafka's convention). Timeouts, latencies and rates use the
 * monotonic clock, which never jumps.
 */
#ifndef FLUXO_CLOCK_H
#define FLUXO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t clock_mono_ms(void)
{
	return clock_mono_us() / 1000;
}

static inline int64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
