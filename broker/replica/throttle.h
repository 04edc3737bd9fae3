/*
 * throttle.h - replication throttling (KIP-73): a byte rate shared by the
 * throttled replicas of one side of this broker, and the
 * "partition:broker" lists that name those replicas.
 *
 * A leader has one throttle for what it sends to throttled followers
 * (leader.replication.throttled.rate), a follower one for what it fetches
 * for throttled replicas (follower.replication.throttled.rate); each is
 * shared by every throttled partition on its side of the broker. Which
 * replicas are throttled is a topic setting
 * (leader|follower.replication.throttled.replicas). Replicas in the ISR
 * (leader side) or caught up with the leader's high watermark (follower
 * side) are never slowed, as in Kafka.
 *
 * The throttle is a token bucket whose balance may go negative: a
 * transfer may start whenever the balance is positive and its whole size
 * is charged afterwards, so one fetch is never cut into pieces, and the
 * debt is paid back before the next transfer starts. Over any long
 * interval the bytes passed are the rate times the interval, plus at most
 * one burst (THROTTLE_BURST_MS of the rate) and one transfer.
 *
 * Threads: every function may be called from any thread; a throttle has
 * its own lock. Times are monotonic microseconds, passed in so tests can
 * drive a clock of their own.
 */
#ifndef FLUXO_BROKER_REPLICA_THROTTLE_H
#define FLUXO_BROKER_REPLICA_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

/* A rate of INT64_MAX bytes/s means "not throttled" (Kafka's default). */
#define THROTTLE_UNLIMITED INT64_MAX

/* The most a throttle saves up while idle, in ms of its rate. */
#define THROTTLE_BURST_MS 200

/* How long to wait before asking again when the rate is 0. */
#define THROTTLE_ZERO_RATE_WAIT_MS 1000

struct throttle;

/* A throttle of bytes_per_sec (>= 0, or THROTTLE_UNLIMITED). NULL when
 * out of memory. Free with throttle_destroy() (NULL is ignored). */
struct throttle *throttle_new(int64_t bytes_per_sec);
void throttle_destroy(struct throttle *t);

/* Changes the rate; saved-up bytes are capped at the new burst. */
void throttle_set_rate(struct throttle *t, int64_t bytes_per_sec);
int64_t throttle_rate(const struct throttle *t);

/* True when a rate is set (anything but THROTTLE_UNLIMITED). Lock-free:
 * the cheap test on the data path. NULL is unlimited. */
bool throttle_limited(const struct throttle *t);

/*
 * 0 when a throttled transfer may start at now_us, else the ms to wait
 * (at least 1) until the debt of earlier transfers is paid. Always 0 when
 * unlimited; THROTTLE_ZERO_RATE_WAIT_MS at a rate of 0.
 */
int64_t throttle_delay_ms(struct throttle *t, int64_t now_us);

/* Charges bytes that were transferred at now_us. */
void throttle_record(struct throttle *t, int64_t bytes, int64_t now_us);

/*
 * True when list (a topic's leader|follower.replication.throttled.replicas
 * value) names replica (partition, broker): "*" names every replica,
 * otherwise comma-separated "partition:broker" entries (spaces allowed
 * around them). Malformed entries name nothing. NULL or "" names nothing.
 */
bool throttle_list_has(const char *list, int32_t partition, int32_t broker);

#endif
