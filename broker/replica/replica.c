/*
 * replica.c - the replica glue: partitions reach the fetchers and the ISR
 * manager through these functions, so partition.c does not depend on how
 * replication is organised.
 */
#include "config.h"

#include "broker/broker_int.h"
#include "broker/partition.h"
#include "broker/replica_glue.h"
#include "common/err.h"
#include "common/log.h"
#include "fetcher.h"
#include "isr.h"
#include "throttle.h"

int replica_glue_start(struct broker *b, char *errstr, size_t errstr_size)
{
	b->leader_throttle =
		throttle_new(b->conf.leader_replication_throttled_rate);
	b->follower_throttle =
		throttle_new(b->conf.follower_replication_throttled_rate);
	b->fetchers = fetcher_mgr_new(b);
	b->isrm = isr_mgr_start(b);
	if (!b->fetchers || !b->isrm || !b->leader_throttle ||
	    !b->follower_throttle) {
		snprintf(errstr, errstr_size,
			 "cannot start the replication threads");
		return ERR_NOMEM;
	}
	return 0;
}

void replica_glue_stop_all(struct broker *b)
{
	fetcher_mgr_destroy(b->fetchers);
	b->fetchers = NULL;
	isr_mgr_stop(b->isrm);
	b->isrm = NULL;
	throttle_destroy(b->leader_throttle);
	b->leader_throttle = NULL;
	throttle_destroy(b->follower_throttle);
	b->follower_throttle = NULL;
}

static void set_rate(struct throttle *t, const char *name, int64_t rate)
{
	if (!t || throttle_rate(t) == rate)
		return;
	throttle_set_rate(t, rate);
	if (rate == THROTTLE_UNLIMITED)
		log_info("replica", "%s: not throttled", name);
	else
		log_info("replica", "%s: %lld bytes/s", name,
			 (long long)rate);
}

void replica_glue_set_throttle_rates(struct broker *b, int64_t leader_rate,
				     int64_t follower_rate)
{
	set_rate(b->leader_throttle, "leader.replication.throttled.rate",
		 leader_rate);
	set_rate(b->follower_throttle, "follower.replication.throttled.rate",
		 follower_rate);
}

void replica_glue_start_fetching(struct broker *b, struct partition *p,
				 int32_t leader, int32_t leader_epoch)
{
	if (b->fetchers)
		fetcher_mgr_add(b->fetchers, p, leader, leader_epoch);
}

void replica_glue_stop_fetching(struct broker *b, struct partition *p)
{
	if (b->fetchers)
		fetcher_mgr_remove(b->fetchers, p);
}

void replica_glue_set_leaders(struct broker *b,
			      Fluxo__BrokerEndpoint *const *eps, size_t n)
{
	if (b->fetchers)
		fetcher_mgr_set_leaders(b->fetchers, eps, n);
}

void replica_glue_maybe_expand_isr_locked(struct partition *p,
					  int32_t replica_id)
{
	isr_maybe_expand_locked(p->b->isrm, p, replica_id);
}
