/*
 * fakebroker.h - a stand-in broker for controller tests.
 *
 * It registers /brokers/ids/<id> in ZooKeeper with its own session (so it
 * dies, to the controller, when the session closes), listens on a
 * loopback port, decodes the control requests it receives (LeaderAndIsr,
 * UpdateMetadata, StopReplica), records them and answers success (or a
 * chosen error for StopReplica). Queries lock, so tests may poll from
 * their own thread.
 */
#ifndef FLUXO_TEST_FAKEBROKER_H
#define FLUXO_TEST_FAKEBROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/zk.h"

typedef struct fakebroker fakebroker_t;

struct fb_pstate {
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	int32_t controller_epoch;
	int32_t isr[16];
	int n_isr;
	int32_t replicas[16];
	int n_replicas;
	int32_t offline[16];
	int n_offline;
	bool is_new;
	int32_t adding[16]; /* LeaderAndIsr only */
	int n_adding;
	int32_t removing[16];
	int n_removing;
};

/* Registers broker id (rack may be NULL) under connect. NULL on failure. */
fakebroker_t *fakebroker_start(const char *connect, int32_t id,
			       const char *rack);
/* Closes the session (the registration vanishes) and stops listening. */
void fakebroker_stop(fakebroker_t *fb);

int32_t fakebroker_id(fakebroker_t *fb);
int64_t fakebroker_epoch(fakebroker_t *fb);
zk_session_t *fakebroker_session(fakebroker_t *fb);

/* Requests received of an ApiKey. */
int fakebroker_count(fakebroker_t *fb, int api);
/* LeaderAndIsr partition states received in total. */
int fakebroker_lai_total(fakebroker_t *fb);
/* Latest LeaderAndIsr / UpdateMetadata state of a partition. */
bool fakebroker_lai(fakebroker_t *fb, const char *topic, int32_t p,
		    struct fb_pstate *out);
bool fakebroker_um(fakebroker_t *fb, const char *topic, int32_t p,
		   struct fb_pstate *out);
/* Partitions in the UpdateMetadata cache (full snapshots replace it). */
int fakebroker_um_size(fakebroker_t *fb);
/* Live brokers named by the last UpdateMetadata. */
int fakebroker_um_live(fakebroker_t *fb);
/* Full UpdateMetadata requests received. */
int fakebroker_um_full_count(fakebroker_t *fb);
/* StopReplica entries for (topic, p) with the given delete flag. */
int fakebroker_stops(fakebroker_t *fb, const char *topic, int32_t p, bool del);
/* Whether an UpdateMetadata listed topic as deleted. */
bool fakebroker_deleted(fakebroker_t *fb, const char *topic);
/* Requests whose broker_epoch was not this broker's epoch. */
int fakebroker_bad_epochs(fakebroker_t *fb);
/* Highest controller epoch seen, -1 before any request. */
int32_t fakebroker_controller_epoch(fakebroker_t *fb);
/* Monotonic ms of the last request received (0: none). */
int64_t fakebroker_last_request_ms(fakebroker_t *fb);
/* Answer StopReplica partitions with this error (0: success). */
void fakebroker_set_stop_error(fakebroker_t *fb, int error);

#endif
