/*
 * broker_int.h - the body of struct broker, shared by the broker's own
 * modules (not by coordinator/ or client/).
 */
#ifndef FLUXO_BROKER_BROKER_INT_H
#define FLUXO_BROKER_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "broker_conf.h"
#include "common/topic_conf.h"
#include "topic_metrics.h"

struct md_cache;
struct replica_mgr;
struct server;
struct taskq;
struct metrics;
struct fetcher_mgr;
struct isr_mgr;
struct throttle;

#define BROKER_MAX_ENDPOINTS 8

struct endpoint {
	char name[32];
	char host[256];
	int port;
};

struct broker {
	struct broker_conf conf;
	char *config_path;

	/* Topic defaults from server.properties; the dynamic copy may be
	 * replaced at run time (guarded by defaults_lock). */
	pthread_mutex_t defaults_lock;
	struct topic_conf topic_defaults;

	char cluster_id[64];
	atomic_llong broker_epoch;	/* czxid of our registration; -1 */

	struct endpoint advertised[BROKER_MAX_ENDPOINTS];
	int n_advertised;

	struct server *srv;
	struct md_cache *md;
	struct replica_mgr *rm;
	struct taskq *admin_q;
	struct taskq *control_q;
	void *metrics;		/* struct metrics_state (broker_metrics.c) */

	/* Storage and coordination (see broker.c). */
	void *logs;
	void *zk;
	void *reg;
	void *ctl;
	void *cfgwatch;

	/* Replication (replica/). The throttles live from
	 * replica_glue_start() to replica_glue_stop_all(); their rates
	 * change with the dynamic settings. */
	struct fetcher_mgr *fetchers;
	struct isr_mgr *isrm;
	struct throttle *leader_throttle;
	struct throttle *follower_throttle;

	atomic_bool stopping;
	int64_t start_ms;
};

/* Registers (or finds) the counters of topic. Not under a lock a metrics
 * collector takes (partition locks). */
void broker_topic_metrics(struct broker *b, const char *topic,
			  struct topic_metrics *tm);

/* Copies the current topic defaults into tc (caller frees). */
int broker_topic_defaults(struct broker *b, struct topic_conf *tc);

#endif
