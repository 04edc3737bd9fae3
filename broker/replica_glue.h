/*
 * replica_glue.h - what partitions need from the rest of the broker:
 * their logs, their topic configuration, the replica fetchers and the ISR
 * logic.
 */
#ifndef FLUXO_BROKER_REPLICA_GLUE_H
#define FLUXO_BROKER_REPLICA_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/log/plog.h"
#include "common/topic_conf.h"
#include "fluxo.pb-c.h"

struct broker;
struct partition;

/* The effective topic configuration (blocking; control thread). */
int broker_topic_conf(struct broker *b, const char *topic,
		      struct topic_conf *tc);

/* Opens or creates the partition's log. Returns a reference, or NULL
 * with errstr. Control thread. */
plog_t *broker_log_open(struct broker *b, const char *topic, int32_t id,
			const struct topic_conf *tc, char *errstr,
			size_t errstr_size);

/* Deletes the partition's log (asynchronously). Control thread. */
void broker_log_delete(struct broker *b, const char *topic, int32_t id);

/* Replica fetchers (replica/fetcher.c). */
int replica_glue_start(struct broker *b, char *errstr, size_t errstr_size);
void replica_glue_stop_all(struct broker *b);
void replica_glue_start_fetching(struct broker *b, struct partition *p,
				 int32_t leader, int32_t leader_epoch);
void replica_glue_stop_fetching(struct broker *b, struct partition *p);
void replica_glue_set_leaders(struct broker *b,
			      Fluxo__BrokerEndpoint *const *eps, size_t n);

/*
 * Applies leader.replication.throttled.rate and
 * follower.replication.throttled.rate (bytes/s; THROTTLE_UNLIMITED for
 * none) to the running throttles. Any thread, after replica_glue_start.
 */
void replica_glue_set_throttle_rates(struct broker *b, int64_t leader_rate,
				     int64_t follower_rate);

/*
 * Leader side, after a follower fetch (caller holds p->lock): proposes
 * adding the follower to the ISR when it has caught up.
 */
void replica_glue_maybe_expand_isr_locked(struct partition *p,
					  int32_t replica_id);

#endif
