/*
 * fetcher.h - replica fetchers (one thread per leader broker).
 */
#ifndef FLUXO_BROKER_REPLICA_FETCHER_H
#define FLUXO_BROKER_REPLICA_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/log/plog.h"
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

/*
 * The truncation decision of a follower (exported for its unit test):
 * where log must end, given the leader's answer to OffsetForLeaderEpoch
 * for log's latest epoch (leader_epoch: the leader's largest epoch <= it,
 * leader_end_offset: where that epoch ends in the leader's log; both -1
 * when the leader knows no such epoch). That is the leader's end offset,
 * capped by where leader_epoch ends locally (KIP-279: our log may hold
 * a later epoch the leader never had), or the high watermark when no
 * common epoch is known; never above the log end offset. The caller
 * truncates when the result is below the log end offset. Reads only;
 * any thread.
 */
int64_t fetcher_truncation_offset(plog_t *log, int32_t leader_epoch,
				  int64_t leader_end_offset);

/*
 * What a follower does when it keeps its whole log (the truncation point
 * is its log end offset): drops the epochs that start at the log end. Such
 * an epoch was begun when this replica became leader, and nothing was
 * written in it (it was paused, or lost leadership at once): the leader
 * never had it, and fetching with it as the last fetched epoch would be
 * answered with a diverging epoch, again and again, without ever
 * catching up. Returns the number of epochs dropped, or ERR_IO. Exported
 * for its unit test; any thread, but no append may run meanwhile.
 */
int fetcher_drop_unwritten_epochs(plog_t *log);

#endif
