/*
 * fetcher.h - replica fetchers (one thread per leader broker).
 */
#ifndef FLUXO_BROKER_REPLICA_FETCHER_H
#define FLUXO_BROKER_REPLICA_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "fluxo.pb-c.h"

struct broker;
struct partition;
struct fetcher_mgr;

struct fetcher_mgr *fetcher_mgr_new(struct broker *b);
/* Stops and joins every fetcher thread. */
void fetcher_mgr_destroy(struct fetcher_mgr *m);

/* Records leader endpoints (from LeaderAndIsr's live_leaders). */
void fetcher_mgr_set_leaders(struct fetcher_mgr *m,
			     Fluxo__BrokerEndpoint *const *eps, size_t n);

/* Starts following p from leader at leader_epoch (replacing any previous
 * fetch of p). The partition first truncates by epoch, then fetches. */
void fetcher_mgr_add(struct fetcher_mgr *m, struct partition *p,
		     int32_t leader, int32_t leader_epoch);

/* Stops following p. When this returns no fetcher appends to p. */
void fetcher_mgr_remove(struct fetcher_mgr *m, struct partition *p);


#endif
