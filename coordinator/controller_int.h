/*
 * controller_int.h - internals shared by the controller's files.
 *
 *   controller.c          lifecycle, event queue and loop, election,
 *                         fail-over, session and watch plumbing, requests
 *   controller_ctx.c      the cluster context: brokers, topics, partitions,
 *                         and reading them from ZooKeeper
 *   controller_zk.c       fenced, batched ZooKeeper writes
 *   controller_psm.c      partition state changes and leader elections
 *   controller_events.c   broker, topic and partition events, controlled
 *                         shutdown, AlterIsr, preferred elections
 *   controller_delete.c   topic deletion
 *   controller_reassign.c partition reassignment (KIP-455 and the znode)
 *   controller_req.c      the per-event request batch to brokers
 *   controller_channel.c  one sender thread per broker
 *
 * Everything here is used on the controller thread only, except the
 * channel functions and the event queue, which say otherwise.
 */
#ifndef FLUXO_CONTROLLER_INT_H
#define FLUXO_CONTROLLER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "controller.h"
#include "strmap.h"
#include "zk.h"
#include "zkdata.h"

#define CTL_FAC "controller"

/* Leader value sent in UpdateMetadata for a topic being deleted. */
#define CTL_LEADER_DELETING (-2)

/* ------------------------------------------------------------- context */

struct ctl_channel;

struct ctl_broker {
	int32_t id;
	int64_t epoch;		      /* czxid of its registration */
	struct zk_broker info;	      /* decoded registration */
	const struct zk_endpoint *ep; /* inter-broker listener, or NULL */
	bool shutting_down;	      /* sent ControlledShutdown */
	struct ctl_channel *chan;
};

/* Deletion progress of one replica. */
enum {
	DEL_NONE = 0,
	DEL_SENT,
	DEL_DONE,
	DEL_FAILED,
};

struct ctl_part {
	struct zk_replicas replicas; /* assignment order */
	struct zk_replicas adding, removing;
	struct zk_replicas original; /* order before a reassignment */
	bool has_state;		     /* state znode read or written */
	int32_t leader;
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t zk_version; /* partition epoch */
	struct zk_replicas isr;
	uint8_t *del; /* [replicas.n] DEL_*, or NULL */
	/* Reassignment: replicas taken out of the assignment that get
	 * StopReplica(delete) once a state write has taken them out of the
	 * ISR; and whether a LeaderAndIsr with a new leader epoch is due. */
	struct zk_replicas dropped;
	bool reassign_kick;
};

struct ctl_topic {
	char *name;
	char *topic_id;
	int n_parts;
	struct ctl_part *parts;
	bool deleting;	     /* queued for deletion */
	bool delete_started; /* UpdateMetadata -2 sent */
	bool ineligible_logged;
	bool removed;	      /* gone; freed after the event */
	bool unclean;	      /* cached unclean.leader.election */
	uint64_t unclean_seq; /* event the cache is valid for */
	struct ctl_topic *grave_next;
};

/* ------------------------------------------------------------- events */

enum ctl_ev_type {
	EV_ELECT,	      /* run for election if nobody holds it */
	EV_CONTROLLER_CHANGE, /* /controller created/changed/deleted */
	EV_EXPIRED,	      /* the session expired: resign */
	EV_NEW_SESSION,	      /* a new session: run for election */
	EV_BROKER_CHANGE,     /* /brokers/ids children or data */
	EV_TOPIC_CHANGE,      /* /brokers/topics children */
	EV_TOPIC_MODIFIED,    /* /brokers/topics/<t> data */
	EV_DELETE_TOPICS,     /* /admin/delete_topics children */
	EV_PREFERRED,	      /* /admin/preferred_replica_election */
	EV_REASSIGN,	      /* /admin/reassign_partitions */
	EV_REQUEST,	      /* submitted by the broker */
	EV_RESPONSE,	      /* a broker answered a control request */
	EV_STOP,
	EV__COUNT
};

/* A StopReplica(delete) entry remembered to match a failed response. */
struct ctl_tp_name {
	char *topic;
	int32_t partition;
};

struct ctl_event {
	enum ctl_ev_type type;
	struct ctl_event *next;
	char *path; /* EV_TOPIC_MODIFIED */
	/* EV_REQUEST */
	uint8_t *head;
	size_t head_len;
	controller_done_fn done;
	void *done_arg;
	/* EV_RESPONSE */
	uint64_t gen;
	int32_t broker_id;
	int64_t broker_epoch;
	int api;
	struct buf resp;
	size_t head_len_resp;
	struct ctl_tp_name *sent; /* StopReplica(delete) sent */
	int n_sent;
};

/* ------------------------------------------------------------- batch */

struct ctl_tpref {
	struct ctl_topic *t;
	int32_t p;
	bool is_new;
	bool del; /* StopReplica: delete_partition */
};

struct ctl_tpvec {
	struct ctl_tpref *v;
	int n, cap;
};

struct ctl_bbatch {
	int32_t broker_id;
	struct ctl_tpvec lai;
	struct ctl_tpvec stop;
	bool um_full;
};

/* What one event sends; flushed by ctl_batch_send(). */
struct ctl_batch {
	struct ctl_bbatch *b;
	int n, cap;
	struct ctl_tpvec um; /* partitions in UpdateMetadata to all */
	bool um_ping;	     /* UpdateMetadata to all even if empty */
	char **deleted;	     /* topics gone, told to all */
	int n_deleted;
};

/* ------------------------------------------------------------- controller */

struct controller {
	struct controller_config cfg;
	char *listener; /* inter-broker listener name */
	zk_session_t *zs;
	int listener_id;
	zk_watcher_t *w_controller, *w_brokers, *w_broker_data, *w_topics,
	    *w_topic_data, *w_delete, *w_preferred, *w_reassign;

	pthread_t thread;
	pthread_mutex_t mu; /* event queue */
	pthread_cond_t cv;
	struct ctl_event *head, *tail;
	bool pending[EV__COUNT]; /* coalesced event already queued */
	bool stopping;		 /* EV_STOP queued */

	atomic_bool active;
	atomic_int epoch; /* -1 when not active */
	atomic_int active_id;
	/* Leader changes this controller made (new partitions included),
	 * and those that took a replica outside the ISR. */
	atomic_llong leader_elections;
	atomic_llong unclean_elections;

	/* Controller thread only from here on. */
	int32_t epoch_zkversion;
	uint64_t gen;		     /* bumped on each activation */
	struct ctl_broker **brokers; /* live brokers, sorted by id */
	int n_brokers, cap_brokers;
	struct strmap topics;	      /* name -> struct ctl_topic */
	int64_t next_rebalance_ms;    /* 0: none */
	int64_t next_delete_retry_ms; /* 0: none */
	int64_t next_elect_ms;	      /* 0: none */
	int64_t next_reassign_ms;     /* 0: none */
	int64_t reassign_czxid;	      /* /admin/reassign_partitions handled */
	bool reassign_dirty;	      /* a reassignment may need work */
	int elect_failures;
	struct ctl_batch batch;
	struct ctl_topic *grave;     /* removed topics, freed after events */
	struct ctl_channel *retired; /* stopping channels */
	int32_t corr;		     /* correlation ids */
	uint64_t event_seq;	     /* events handled */
};

/* controller.c */
void ctl_post(controller_t *ctl, struct ctl_event *ev);
void ctl_post_simple(controller_t *ctl, enum ctl_ev_type type);
/* Gives up the office after a fencing failure or expiry. */
void ctl_resign(controller_t *ctl, const char *why);
/* Handles a ZooKeeper write result: resigns on ERR_FENCED. */
bool ctl_write_failed(controller_t *ctl, int rc);

/* controller_ctx.c */
struct ctl_broker *ctl_broker_find(controller_t *ctl, int32_t id);
bool ctl_is_live(controller_t *ctl, int32_t id);
/* Live and not shutting down: may lead or join an ISR. */
bool ctl_is_eligible(controller_t *ctl, int32_t id);
struct ctl_topic *ctl_topic_find(controller_t *ctl, const char *name);
/* Builds a topic from its assignment (takes nothing from a). */
struct ctl_topic *ctl_topic_new(const char *name,
				const struct zk_topic_assign *a);
/* Adds partitions from a grown assignment. Returns 0 or ERR_NOMEM. */
int ctl_topic_extend(struct ctl_topic *t, const struct zk_topic_assign *a);
void ctl_topic_free(struct ctl_topic *t);
/* Removes t from the map and frees it after the current event. */
void ctl_topic_remove(controller_t *ctl, struct ctl_topic *t);
void ctl_graveyard_flush(controller_t *ctl);
int ctl_broker_add(controller_t *ctl, struct ctl_broker *b);
void ctl_broker_remove(controller_t *ctl, int32_t id);
void ctl_broker_free(struct ctl_broker *b);
void ctl_context_clear(controller_t *ctl);
/* Reads brokers (with watches); new/dead/bounced computed by caller. */
int ctl_read_brokers(controller_t *ctl, struct ctl_broker ***out, int *n);
/* Reads topic assignments for names (with data watches). */
int ctl_read_topics(controller_t *ctl, char **names, int n,
		    struct ctl_topic **out);
/* Reads the state znodes of the given partitions (pipelined). */
int ctl_read_states(controller_t *ctl, struct ctl_tpref *tps, int n);
/* Fail-over: reads the whole context. Returns 0 or ERR_ZK. */
int ctl_load_context(controller_t *ctl);
bool ids_contain(const int32_t *v, int n, int32_t id);

/* controller_zk.c */
struct ctl_zop {
	int type;   /* ZOO_CREATE_OP, ZOO_SETDATA_OP, ... */
	char *path; /* owned */
	char *data; /* owned, may be NULL */
	int len;
	int version;
	int group;
	struct Stat stat; /* SETDATA result */
};

struct ctl_zbatch {
	struct ctl_zop *ops;
	int n, cap;
	int n_groups;
	int *group_rc; /* after ctl_zk_run: ZOK or failure */
};

void ctl_zb_init(struct ctl_zbatch *zb);
void ctl_zb_free(struct ctl_zbatch *zb);
/* Starts a group of ops that succeed or fail together. Returns its id. */
int ctl_zb_group(struct ctl_zbatch *zb);
int ctl_zb_add(struct ctl_zbatch *zb, int type, const char *path, char *data,
	       int len, int version);
/*
 * Runs the batch fenced by the controller epoch. Returns 0 when it ran
 * (see group_rc for each group), ERR_FENCED when a newer controller
 * exists, ERR_ZK when ZooKeeper could not be reached, ERR_NOMEM.
 */
int ctl_zk_run(controller_t *ctl, struct ctl_zbatch *zb);
/* One fenced write of a single op; returns ZK rc or ZBADVERSION for
 * fencing via *fenced. */
int ctl_zk_one(controller_t *ctl, int type, const char *path, const char *data,
	       int len, int version, bool *fenced);

/* controller_psm.c */
struct ctl_newstate {
	int32_t leader;
	int32_t leader_epoch;
	int32_t isr[64];
	int n_isr;
	bool is_new; /* create the state znode */
	bool no_lai; /* ISR-only change from the leader */
};

/*
 * Decides a partition's new state; idx is its index in the list given to
 * ctl_update_partitions(). Returns 1 to write ns, 0 to leave it, or a
 * negative wire error to report (ElectLeaders) without a change.
 */
typedef int (*ctl_decide_fn)(controller_t *ctl, struct ctl_topic *t, int p,
			     int idx, struct ctl_newstate *ns, void *arg);

/*
 * Applies decide to each partition, writes the changes with fenced
 * multi-ops (re-reading and re-deciding partitions whose state changed
 * underneath), updates memory and queues LeaderAndIsr to the replicas
 * and UpdateMetadata to all brokers. results (may be NULL) receives per
 * partition: 1 changed, 0 unchanged, negative wire error.
 * Returns 0, or ERR_FENCED (the controller has resigned) / ERR_ZK.
 */
int ctl_update_partitions(controller_t *ctl, struct ctl_tpref *tps, int n,
			  ctl_decide_fn decide, void *arg, int *results);

int ctl_decide_online(controller_t *ctl, struct ctl_topic *t, int p, int idx,
		      struct ctl_newstate *ns, void *arg);
int ctl_decide_preferred(controller_t *ctl, struct ctl_topic *t, int p, int idx,
			 struct ctl_newstate *ns, void *arg);
/* The offline election; force_unclean for ElectLeaders(UNCLEAN). */
int ctl_elect_one_offline(controller_t *ctl, struct ctl_topic *t, int p,
			  struct ctl_newstate *ns, bool force_unclean);
/* Elects leaders for partitions without a live leader (not deleting). */
int ctl_elect_offline(controller_t *ctl);
/* Fail-over: drops replicas of dead brokers from ISRs (live leaders). */
int ctl_shrink_dead_isrs(controller_t *ctl);
bool ctl_unclean_allowed(controller_t *ctl, struct ctl_topic *t);

/* controller_events.c */
int ctl_on_broker_change(controller_t *ctl);
int ctl_on_topic_change(controller_t *ctl);
int ctl_on_topic_modified(controller_t *ctl, const char *path);
int ctl_on_preferred_znode(controller_t *ctl);
void ctl_auto_rebalance(controller_t *ctl);
/* Requests; fill resp (arena-allocated message parts). */
struct arena;
void ctl_handle_controlled_shutdown(controller_t *ctl,
				    const Fluxo__ControlledShutdownRequest *req,
				    Fluxo__Response *resp, struct arena *a);
void ctl_handle_alter_isr(controller_t *ctl, const Fluxo__AlterIsrRequest *req,
			  Fluxo__Response *resp, struct arena *a);
void ctl_handle_elect_leaders(controller_t *ctl,
			      const Fluxo__ElectLeadersRequest *req,
			      Fluxo__Response *resp, struct arena *a);

/* controller_delete.c */
int ctl_on_delete_topics(controller_t *ctl);
/* Starts or resumes deletion of every queued topic that is eligible. */
void ctl_resume_deletion(controller_t *ctl);
void ctl_on_stop_replica_response(controller_t *ctl, int32_t broker,
				  const Fluxo__StopReplicaResponse *r,
				  const struct ctl_tp_name *sent, int n_sent);

/* controller_reassign.c */
/* True while adding or removing replicas are recorded for cp. */
bool ctl_part_reassigning(const struct ctl_part *cp);
/* True when any partition of t is being reassigned. */
bool ctl_topic_reassigning(const struct ctl_topic *t);
/*
 * Moves every reassignment on: partitions whose target replicas are all
 * in the ISR complete (leader moved into the target, removed replicas
 * out of the ISR and deleted, final assignment written); partitions
 * waiting for a LeaderAndIsr with a new epoch get it. Cheap when nothing
 * is being reassigned. Call after events that change ISRs or leaders.
 */
void ctl_reassign_progress(controller_t *ctl);
/* EV_REASSIGN: starts the reassignments of a new
 * /admin/reassign_partitions znode (and re-arms its watch). */
int ctl_on_reassign_znode(controller_t *ctl);
/* Fail-over: resumes every reassignment found in the topic znodes and
 * processes a pending /admin/reassign_partitions. */
void ctl_reassign_failover(controller_t *ctl);
void ctl_handle_alter_reassignments(
    controller_t *ctl, const Fluxo__AlterPartitionReassignmentsRequest *req,
    Fluxo__Response *resp, struct arena *a);
void ctl_handle_list_reassignments(
    controller_t *ctl, const Fluxo__ListPartitionReassignmentsRequest *req,
    Fluxo__Response *resp, struct arena *a);

/* controller_req.c */
void ctl_batch_init(struct ctl_batch *b);
void ctl_batch_clear(struct ctl_batch *b);
/* LeaderAndIsr for (t, p) to each live replica. */
void ctl_batch_lai(controller_t *ctl, struct ctl_topic *t, int p, bool is_new);
void ctl_batch_lai_to(controller_t *ctl, int32_t broker, struct ctl_topic *t,
		      int p, bool is_new);
void ctl_batch_um(controller_t *ctl, struct ctl_topic *t, int p);
void ctl_batch_um_full(controller_t *ctl, int32_t broker);
void ctl_batch_um_ping(controller_t *ctl);
void ctl_batch_um_deleted(controller_t *ctl, const char *topic);
void ctl_batch_stop(controller_t *ctl, int32_t broker, struct ctl_topic *t,
		    int p, bool del);
/* Builds and queues every request of the batch, then clears it. */
void ctl_batch_send(controller_t *ctl);

/* controller_channel.c */
/* Starts a sender thread to b's inter-broker endpoint. Returns NULL on
 * failure. */
struct ctl_channel *ctl_channel_start(controller_t *ctl, int32_t broker_id,
				      const char *host, int port);
/* Queues one framed request (takes frame). sent: StopReplica(delete)
 * entries to report back with the response (taken). Any thread. */
void ctl_channel_send(struct ctl_channel *ch, int api, uint64_t gen,
		      int64_t broker_epoch, struct buf *frame,
		      struct ctl_tp_name *sent, int n_sent);
/* Stops the thread without waiting; the channel moves to ctl->retired. */
void ctl_channel_retire(controller_t *ctl, struct ctl_channel *ch);
/* Joins retired channels whose thread has ended (all when wait). */
void ctl_channel_reap(controller_t *ctl, bool wait);
void ctl_tp_names_free(struct ctl_tp_name *v, int n);

#endif
