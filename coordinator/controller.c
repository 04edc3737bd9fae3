/*
 * controller.c - the controller's life: election, fail-over, the event
 * loop, resignation, and requests from the broker.
 *
 * Design. One thread owns every piece of controller state and handles
 * one event at a time, in arrival order (Kafka's ControllerEventManager).
 * Events come from ZooKeeper watches, the session listener, the broker
 * (submitted requests) and the channels (broker answers); all of those
 * only post. Events that mean "something under this path changed" are
 * coalesced: one queued copy is enough, since the handler re-reads the
 * path. After each event the request batch it built is sent, so each
 * broker gets at most one LeaderAndIsr, one UpdateMetadata and one
 * StopReplica per event.
 *
 * Election (reference 2.1). /controller is first-writer-wins. A candidate
 * reads /controller_epoch (creating it with 0), then in one multi creates
 * /controller (ephemeral) and sets /controller_epoch to E+1 at the version
 * it read. Losing either race fails the multi. If the connection drops
 * during the multi, both nodes are read again to learn whether it went
 * through. The winner remembers the epoch znode's version; every later
 * write is fenced by a check of it (controller_zk.c), and a failed check
 * makes it resign at once.
 *
 * Fail-over (2.2): read the whole context with pipelined reads that set
 * the watches, start a channel per live broker, send every live broker a
 * full UpdateMetadata, then LeaderAndIsr for every partition to its live
 * replicas together with elections for partitions without a live leader,
 * then resume partition reassignments (a LeaderAndIsr with a new leader
 * epoch for each, since a leader may not have learnt its new replicas),
 * topic deletions and pending preferred elections and schedule the
 * auto-rebalance task.
 *
 * Session expiry: resign at once (the ephemeral /controller is gone);
 * after the new session is established (registration runs first), run for
 * election again.
 *
 * Threads: ctl->mu guards the event queue only. active/epoch/active_id
 * are atomics read by other threads.
 */
#include "config.h"
#include "controller_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "clock.h"
#include "err.h"
#include "log.h"

#define E(x)	       FLUXO__ERROR_CODE__##x
#define ELECT_RETRY_MS 1000

void controller_config_defaults(struct controller_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num_partitions = 1;
	cfg->default_replication_factor = 1;
	cfg->delete_topic_enable = true;
	cfg->unclean_leader_election_enable = false;
	cfg->auto_leader_rebalance_enable = true;
	cfg->leader_imbalance_check_interval_seconds = 300;
	cfg->leader_imbalance_per_broker_percentage = 10;
	cfg->controller_socket_timeout_ms = 30000;
	cfg->connect_timeout_ms = 5000;
	cfg->inter_broker_listener_name = NULL;
	cfg->max_response_bytes = 100 * 1024 * 1024;
	cfg->rebalance_initial_delay_ms = 5000;
}

/* ------------------------------------------------------------- queue */

static bool coalesced(enum ctl_ev_type type)
{
	return type == EV_ELECT || type == EV_CONTROLLER_CHANGE ||
	       type == EV_BROKER_CHANGE || type == EV_TOPIC_CHANGE ||
	       type == EV_DELETE_TOPICS || type == EV_PREFERRED ||
	       type == EV_REASSIGN;
}

static void ev_free(struct ctl_event *ev)
{
	if (!ev)
		return;
	free(ev->path);
	free(ev->head);
	buf_free(&ev->resp);
	ctl_tp_names_free(ev->sent, ev->n_sent);
	free(ev);
}

void ctl_post(controller_t *ctl, struct ctl_event *ev)
{
	pthread_mutex_lock(&ctl->mu);
	if (coalesced(ev->type)) {
		if (ctl->pending[ev->type]) {
			pthread_mutex_unlock(&ctl->mu);
			ev_free(ev);
			return;
		}
		ctl->pending[ev->type] = true;
	}
	ev->next = NULL;
	if (ctl->tail)
		ctl->tail->next = ev;
	else
		ctl->head = ev;
	ctl->tail = ev;
	pthread_cond_signal(&ctl->cv);
	pthread_mutex_unlock(&ctl->mu);
}

void ctl_post_simple(controller_t *ctl, enum ctl_ev_type type)
{
	struct ctl_event *ev = calloc(1, sizeof(*ev));

	if (!ev) {
		log_error(CTL_FAC, "out of memory posting an event");
		return;
	}
	ev->type = type;
	ctl_post(ctl, ev);
}

/* ------------------------------------------------------------- watches */

static void watch_controller(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	ctl_post_simple(arg, EV_CONTROLLER_CHANGE);
}

static void watch_brokers(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	ctl_post_simple(arg, EV_BROKER_CHANGE);
}

static void watch_topics(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	ctl_post_simple(arg, EV_TOPIC_CHANGE);
}

static void watch_topic_data(void *arg, int type, const char *path)
{
	struct ctl_event *ev;

	if (type != ZOO_CHANGED_EVENT || !path)
		return;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return;
	ev->type = EV_TOPIC_MODIFIED;
	ev->path = strdup(path);
	if (!ev->path) {
		free(ev);
		return;
	}
	ctl_post(arg, ev);
}

static void watch_delete(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	ctl_post_simple(arg, EV_DELETE_TOPICS);
}

static void watch_preferred(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	/* Also on deletion: the handler re-arms the exists watch. */
	ctl_post_simple(arg, EV_PREFERRED);
}

static void watch_reassign(void *arg, int type, const char *path)
{
	(void)type;
	(void)path;
	/* Creation, deletion or a rewrite: the handler tells them apart by
	 * the node's czxid and re-arms the exists watch. */
	ctl_post_simple(arg, EV_REASSIGN);
}

static void on_session(zk_session_t *zs, enum zk_event ev, void *arg)
{
	controller_t *ctl = arg;

	(void)zs;
	switch (ev) {
	case ZK_EVENT_EXPIRED:
		ctl_post_simple(ctl, EV_EXPIRED);
		break;
	case ZK_EVENT_NEW_SESSION:
		ctl_post_simple(ctl, EV_NEW_SESSION);
		break;
	case ZK_EVENT_CONNECTED:
		/* Re-arm anything a failed read during the blip left unset. */
		ctl_post_simple(ctl, EV_CONTROLLER_CHANGE);
		if (atomic_load(&ctl->active)) {
			ctl_post_simple(ctl, EV_BROKER_CHANGE);
			ctl_post_simple(ctl, EV_TOPIC_CHANGE);
			ctl_post_simple(ctl, EV_DELETE_TOPICS);
			ctl_post_simple(ctl, EV_PREFERRED);
			ctl_post_simple(ctl, EV_REASSIGN);
		}
		break;
	case ZK_EVENT_DISCONNECTED:
		break;
	}
}

/* ------------------------------------------------------------- office */

void ctl_resign(controller_t *ctl, const char *why)
{
	if (!atomic_load(&ctl->active))
		return;
	log_warn(CTL_FAC,
		 "broker %" PRId32 " resigns as controller (epoch %d): %s",
		 ctl->cfg.broker_id, atomic_load(&ctl->epoch), why);
	atomic_store(&ctl->active, false);
	atomic_store(&ctl->epoch, -1);
	ctl->gen++;
	ctl_context_clear(ctl);
	ctl->next_rebalance_ms = 0;
	ctl->next_delete_retry_ms = 0;
	ctl->next_reassign_ms = 0;
	ctl->reassign_czxid = 0;
	ctl->reassign_dirty = false;
	/* Learn who holds the office now. */
	ctl_post_simple(ctl, EV_CONTROLLER_CHANGE);
}

bool ctl_write_failed(controller_t *ctl, int rc)
{
	if (rc == ERR_FENCED) {
		ctl_resign(ctl, "a newer controller exists");
		return true;
	}
	return rc < 0;
}

/* Releases /controller if we hold it (fenced by our epoch). */
static void release_office(controller_t *ctl)
{
	bool fenced;
	int rc;

	if (!atomic_load(&ctl->active))
		return;
	rc = ctl_zk_one(ctl, ZOO_DELETE_OP, ZK_PATH_CONTROLLER, NULL, -1, -1,
			&fenced);
	if (rc != ZOK && rc != ZNONODE)
		log_warn(CTL_FAC, "could not release %s: %s",
			 ZK_PATH_CONTROLLER, zerror(rc));
}

static void become_controller(controller_t *ctl, int32_t epoch,
			      int32_t zkversion)
{
	int64_t t0 = clock_mono_ms();
	int ret;

	ctl->epoch_zkversion = zkversion;
	atomic_store(&ctl->epoch, epoch);
	atomic_store(&ctl->active_id, ctl->cfg.broker_id);
	atomic_store(&ctl->active, true);
	ctl->gen++;
	ctl->elect_failures = 0;
	log_info(CTL_FAC,
		 "broker %" PRId32 " is the controller, epoch %" PRId32,
		 ctl->cfg.broker_id, epoch);

	ret = ctl_load_context(ctl);
	if (ret < 0) {
		log_error(CTL_FAC,
			  "cannot read the cluster state (%s); "
			  "giving up the controller role",
			  err_str(ret));
		release_office(ctl);
		ctl_resign(ctl, "fail-over failed");
		return;
	}
	for (int i = 0; i < ctl->n_brokers; i++) {
		struct ctl_broker *b = ctl->brokers[i];

		if (b->ep)
			b->chan = ctl_channel_start(ctl, b->id, b->ep->host,
						    b->ep->port);
		ctl_batch_um_full(ctl, b->id);
	}
	/* Brokers learn the live broker list before any LeaderAndIsr. */
	ctl_batch_send(ctl);
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++)
			if (t->parts[p].has_state && !t->deleting)
				ctl_batch_lai(ctl, t, p, false);
	}
	ret = ctl_elect_offline(ctl);
	if (ret < 0 || !atomic_load(&ctl->active))
		return;
	ret = ctl_shrink_dead_isrs(ctl);
	if (ret < 0 || !atomic_load(&ctl->active))
		return;
	ctl_reassign_failover(ctl);
	if (!atomic_load(&ctl->active))
		return;
	ctl_on_delete_topics(ctl);
	if (!atomic_load(&ctl->active))
		return;
	ctl_on_preferred_znode(ctl);
	if (ctl->cfg.auto_leader_rebalance_enable)
		ctl->next_rebalance_ms =
		    clock_mono_ms() + ctl->cfg.rebalance_initial_delay_ms;
	log_info(CTL_FAC,
		 "fail-over done in %" PRId64 " ms (%d brokers, %zu topics)",
		 clock_mono_ms() - t0, ctl->n_brokers, ctl->topics.n);
}

/* Reads /controller_epoch, creating it with 0. Returns ZK rc. */
static int read_epoch(controller_t *ctl, int32_t *epoch, struct Stat *st)
{
	char *data = NULL, why[256];
	int len, rc;

	for (int attempt = 0; attempt < 3; attempt++) {
		rc = zk_get(ctl->zs, ZK_PATH_CONTROLLER_EPOCH, NULL, &data,
			    &len, st);
		if (rc == ZNONODE) {
			rc = zk_create(ctl->zs, ZK_PATH_CONTROLLER_EPOCH, "0",
				       1, 0, NULL, 0, NULL);
			if (rc != ZOK && rc != ZNODEEXISTS)
				return rc;
			continue;
		}
		if (rc != ZOK)
			return rc;
		if (zkdata_epoch_decode(data, (size_t)len, epoch, why,
					sizeof(why)) < 0) {
			log_error(CTL_FAC, "%s; counting from 0", why);
			*epoch = 0;
		}
		free(data);
		return ZOK;
	}
	return ZNONODE;
}

/* Reads /controller; *id -1 when absent. Sets the watch. Returns ZK rc. */
static int read_controller(controller_t *ctl, int32_t *id, int64_t *owner)
{
	char *data = NULL, why[256];
	struct Stat st;
	int len, rc;

	*id = -1;
	*owner = 0;
	rc = zk_get(ctl->zs, ZK_PATH_CONTROLLER, ctl->w_controller, &data, &len,
		    &st);
	if (rc == ZNONODE) {
		/* Watch for its creation as well. */
		rc = zk_exists(ctl->zs, ZK_PATH_CONTROLLER, ctl->w_controller,
			       &st);
		if (rc == ZOK)
			return read_controller(ctl, id, owner);
		return rc == ZNONODE ? ZOK : rc;
	}
	if (rc != ZOK)
		return rc;
	*owner = st.ephemeralOwner;
	if (zkdata_controller_decode(data, (size_t)len, id, why, sizeof(why)) <
	    0) {
		log_error(CTL_FAC, "%s", why);
		*id = -2; /* held, unreadable */
	}
	free(data);
	return ZOK;
}

static void schedule_elect(controller_t *ctl)
{
	int backoff =
	    ELECT_RETRY_MS *
	    (1 << (ctl->elect_failures < 4 ? ctl->elect_failures : 4));

	ctl->elect_failures++;
	ctl->next_elect_ms = clock_mono_ms() + backoff;
}

static void elect(controller_t *ctl)
{
	int64_t sid = zk_session_id(ctl->zs);
	zoo_op_result_t res[2];
	struct Stat st, set_st;
	zoo_op_t ops[2];
	char *me = NULL, next[16];
	int32_t epoch = 0, holder;
	int64_t owner;
	int rc;

	if (sid == 0) {
		schedule_elect(ctl);
		return;
	}
	rc = read_epoch(ctl, &epoch, &st);
	if (rc != ZOK) {
		log_warn(CTL_FAC, "cannot read %s: %s",
			 ZK_PATH_CONTROLLER_EPOCH, zerror(rc));
		schedule_elect(ctl);
		return;
	}
	me = zkdata_controller_encode(ctl->cfg.broker_id, clock_wall_ms());
	if (!me) {
		schedule_elect(ctl);
		return;
	}
	snprintf(next, sizeof(next), "%" PRId32, epoch + 1);
	memset(&set_st, 0, sizeof(set_st));
	zoo_create_op_init(&ops[0], ZK_PATH_CONTROLLER, me, (int)strlen(me),
			   &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
	zoo_set_op_init(&ops[1], ZK_PATH_CONTROLLER_EPOCH, next,
			(int)strlen(next), st.version, &set_st);
	rc = zk_multi(ctl->zs, 2, ops, res);
	free(me);
	if (rc == ZOK) {
		become_controller(ctl, epoch + 1, set_st.version);
		return;
	}
	if (!zk_rc_is_connection(rc)) {
		/* NODEEXISTS or BADVERSION: someone else won. */
		if (read_controller(ctl, &holder, &owner) == ZOK) {
			atomic_store(&ctl->active_id, holder);
			if (holder == -1)
				ctl_post_simple(ctl, EV_ELECT);
		}
		return;
	}
	/* The connection dropped: did our multi go through? */
	rc = read_controller(ctl, &holder, &owner);
	if (rc == ZOK && holder == ctl->cfg.broker_id &&
	    owner == zk_session_id(ctl->zs)) {
		int32_t now_epoch;

		if (read_epoch(ctl, &now_epoch, &st) == ZOK &&
		    now_epoch == epoch + 1) {
			become_controller(ctl, now_epoch, st.version);
			return;
		}
	}
	if (rc == ZOK)
		atomic_store(&ctl->active_id, holder);
	schedule_elect(ctl);
}

/* EV_ELECT / EV_CONTROLLER_CHANGE / EV_NEW_SESSION. */
static void check_controller(controller_t *ctl)
{
	int64_t owner, sid = zk_session_id(ctl->zs);
	int32_t holder;
	int rc;

	rc = read_controller(ctl, &holder, &owner);
	if (rc != ZOK) {
		if (!zk_rc_is_connection(rc))
			log_warn(CTL_FAC, "cannot read %s: %s",
				 ZK_PATH_CONTROLLER, zerror(rc));
		schedule_elect(ctl);
		return;
	}
	atomic_store(&ctl->active_id, holder);
	if (holder == -1) {
		if (atomic_load(&ctl->active))
			ctl_resign(ctl, "/controller disappeared");
		elect(ctl);
		return;
	}
	if (atomic_load(&ctl->active)) {
		if (holder != ctl->cfg.broker_id || owner != sid)
			ctl_resign(ctl, "another broker became controller");
		return;
	}
	if (holder == ctl->cfg.broker_id && owner == sid) {
		/* We hold the office without knowing: take it up. */
		struct Stat st;
		int32_t epoch;

		if (read_epoch(ctl, &epoch, &st) == ZOK)
			become_controller(ctl, epoch, st.version);
		else
			schedule_elect(ctl);
	}
}

/* ------------------------------------------------------------- requests */

static void set_not_controller(Fluxo__Response *resp, struct arena *a, int api)
{
	switch (api) {
	case FLUXO__API_KEY__CONTROLLED_SHUTDOWN: {
		Fluxo__ControlledShutdownResponse *r =
		    arena_alloc(a, sizeof(*r));

		if (!r)
			break;
		fluxo__controlled_shutdown_response__init(r);
		r->error = E(NOT_CONTROLLER);
		resp->body_case = FLUXO__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
		resp->controlled_shutdown = r;
		return;
	}
	case FLUXO__API_KEY__ALTER_ISR: {
		Fluxo__AlterIsrResponse *r = arena_alloc(a, sizeof(*r));

		if (!r)
			break;
		fluxo__alter_isr_response__init(r);
		r->error = E(NOT_CONTROLLER);
		resp->body_case = FLUXO__RESPONSE__BODY_ALTER_ISR;
		resp->alter_isr = r;
		return;
	}
	case FLUXO__API_KEY__ELECT_LEADERS: {
		Fluxo__ElectLeadersResponse *r = arena_alloc(a, sizeof(*r));

		if (!r)
			break;
		fluxo__elect_leaders_response__init(r);
		r->error = E(NOT_CONTROLLER);
		resp->body_case = FLUXO__RESPONSE__BODY_ELECT_LEADERS;
		resp->elect_leaders = r;
		return;
	}
	case FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS: {
		Fluxo__AlterPartitionReassignmentsResponse *r =
		    arena_alloc(a, sizeof(*r));

		if (!r)
			break;
		fluxo__alter_partition_reassignments_response__init(r);
		r->error = E(NOT_CONTROLLER);
		resp->body_case =
		    FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS;
		resp->alter_partition_reassignments = r;
		return;
	}
	case FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS: {
		Fluxo__ListPartitionReassignmentsResponse *r =
		    arena_alloc(a, sizeof(*r));

		if (!r)
			break;
		fluxo__list_partition_reassignments_response__init(r);
		r->error = E(NOT_CONTROLLER);
		resp->body_case =
		    FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS;
		resp->list_partition_reassignments = r;
		return;
	}
	default:
		break;
	}
	resp->error = E(NOT_CONTROLLER);
	resp->error_message = "This broker is not the controller.";
}

/* Decodes and answers one request; active says whether to handle it. */
static void answer(controller_t *ctl, const uint8_t *head, size_t len,
		   bool active, controller_done_fn done, void *arg)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__Request *req;
	struct arena a;

	arena_init(&a, 16 * 1024);
	req = fluxo__request__unpack(NULL, len, head);
	if (!req) {
		resp.error = E(INVALID_REQUEST);
		resp.error_message = "The request head does not decode.";
		goto out;
	}
	resp.api = req->api;
	resp.correlation_id = req->correlation_id;
	if (!active) {
		set_not_controller(&resp, &a, req->api);
		goto out;
	}
	if (req->api == FLUXO__API_KEY__CONTROLLED_SHUTDOWN &&
	    req->body_case == FLUXO__REQUEST__BODY_CONTROLLED_SHUTDOWN) {
		ctl_handle_controlled_shutdown(ctl, req->controlled_shutdown,
					       &resp, &a);
	} else if (req->api == FLUXO__API_KEY__ALTER_ISR &&
		   req->body_case == FLUXO__REQUEST__BODY_ALTER_ISR) {
		ctl_handle_alter_isr(ctl, req->alter_isr, &resp, &a);
	} else if (req->api == FLUXO__API_KEY__ELECT_LEADERS &&
		   req->body_case == FLUXO__REQUEST__BODY_ELECT_LEADERS) {
		ctl_handle_elect_leaders(ctl, req->elect_leaders, &resp, &a);
	} else if (req->api == FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS &&
		   req->body_case ==
		       FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS) {
		ctl_handle_alter_reassignments(
		    ctl, req->alter_partition_reassignments, &resp, &a);
	} else if (req->api == FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS &&
		   req->body_case ==
		       FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS) {
		ctl_handle_list_reassignments(
		    ctl, req->list_partition_reassignments, &resp, &a);
	} else {
		resp.error = E(INVALID_REQUEST);
		resp.error_message = "Not a controller request, or its body "
				     "does not match its api.";
	}
	if (resp.body_case == FLUXO__RESPONSE__BODY__NOT_SET &&
	    resp.error == E(NONE)) {
		resp.error = E(UNKNOWN_SERVER_ERROR);
		resp.error_message = "Out of memory.";
	}
out:
	done(arg, &resp);
	if (req)
		fluxo__request__free_unpacked(req, NULL);
	arena_destroy(&a);
}

/* ------------------------------------------------------------- responses */

static void on_response(controller_t *ctl, struct ctl_event *ev)
{
	Fluxo__Response *r;

	if (ev->gen != ctl->gen || !atomic_load(&ctl->active))
		return;
	r = fluxo__response__unpack(NULL, ev->head_len_resp, ev->resp.data);
	if (!r) {
		log_warn(CTL_FAC,
			 "broker %" PRId32 " sent an undecodable answer",
			 ev->broker_id);
		if (ev->api == FLUXO__API_KEY__STOP_REPLICA)
			ctl_on_stop_replica_response(ctl, ev->broker_id, NULL,
						     ev->sent, ev->n_sent);
		return;
	}
	switch (ev->api) {
	case FLUXO__API_KEY__STOP_REPLICA: {
		const Fluxo__StopReplicaResponse *sr =
		    r->body_case == FLUXO__RESPONSE__BODY_STOP_REPLICA
			? r->stop_replica
			: NULL;

		if (r->error != E(NONE))
			sr = NULL;
		ctl_on_stop_replica_response(ctl, ev->broker_id, sr, ev->sent,
					     ev->n_sent);
		break;
	}
	case FLUXO__API_KEY__LEADER_AND_ISR:
		if (r->error != E(NONE) ||
		    (r->leader_and_isr && r->leader_and_isr->error != E(NONE)))
			log_warn(
			    CTL_FAC,
			    "broker %" PRId32 " refused LeaderAndIsr: error %d",
			    ev->broker_id,
			    r->error != E(NONE) ? r->error
						: r->leader_and_isr->error);
		else if (r->leader_and_isr)
			for (size_t i = 0; i < r->leader_and_isr->n_partitions;
			     i++) {
				const Fluxo__PartitionError *pe =
				    r->leader_and_isr->partitions[i];

				if (pe->error != E(NONE))
					log_warn(CTL_FAC,
						 "broker %" PRId32
						 " topic=%s partition=%" PRId32
						 ": LeaderAndIsr error %d",
						 ev->broker_id, pe->topic,
						 pe->partition, pe->error);
			}
		break;
	case FLUXO__API_KEY__UPDATE_METADATA:
		if (r->error != E(NONE) ||
		    (r->update_metadata &&
		     r->update_metadata->error != E(NONE)))
			log_warn(CTL_FAC,
				 "broker %" PRId32 " refused UpdateMetadata",
				 ev->broker_id);
		break;
	default:
		break;
	}
	fluxo__response__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------- loop */

static void handle(controller_t *ctl, struct ctl_event *ev)
{
	bool active = atomic_load(&ctl->active);
	int ret = 0;

	switch (ev->type) {
	case EV_ELECT:
	case EV_CONTROLLER_CHANGE:
		check_controller(ctl);
		break;
	case EV_NEW_SESSION:
		log_info(CTL_FAC,
			 "new ZooKeeper session; running for controller");
		ctl->elect_failures = 0;
		check_controller(ctl);
		break;
	case EV_EXPIRED:
		atomic_store(&ctl->active_id, -1);
		ctl_resign(ctl, "the ZooKeeper session expired");
		break;
	case EV_BROKER_CHANGE:
		if (active)
			ret = ctl_on_broker_change(ctl);
		break;
	case EV_TOPIC_CHANGE:
		if (active)
			ret = ctl_on_topic_change(ctl);
		break;
	case EV_TOPIC_MODIFIED:
		if (active)
			ret = ctl_on_topic_modified(ctl, ev->path);
		break;
	case EV_DELETE_TOPICS:
		if (active)
			ret = ctl_on_delete_topics(ctl);
		break;
	case EV_PREFERRED:
		if (active)
			ret = ctl_on_preferred_znode(ctl);
		break;
	case EV_REASSIGN:
		if (active)
			ret = ctl_on_reassign_znode(ctl);
		break;
	case EV_REQUEST:
		answer(ctl, ev->head, ev->head_len, active, ev->done,
		       ev->done_arg);
		break;
	case EV_RESPONSE:
		on_response(ctl, ev);
		break;
	case EV_STOP:
		release_office(ctl);
		ctl_resign(ctl, "the broker is stopping");
		break;
	case EV__COUNT:
		break;
	}
	if (ret == ERR_FENCED)
		ctl_resign(ctl, "a newer controller exists");
	else if (ret < 0)
		log_warn(CTL_FAC, "event %d failed: %s", (int)ev->type,
			 err_str(ret));
}

static int64_t next_timer(controller_t *ctl)
{
	int64_t t = 0;
	int64_t c[4] = {ctl->next_elect_ms, 0, 0, 0};

	if (atomic_load(&ctl->active)) {
		c[1] = ctl->next_rebalance_ms;
		c[2] = ctl->next_delete_retry_ms;
		c[3] = ctl->next_reassign_ms;
	}
	for (int i = 0; i < 4; i++)
		if (c[i] && (!t || c[i] < t))
			t = c[i];
	return t;
}

static void run_timers(controller_t *ctl)
{
	int64_t now = clock_mono_ms();

	if (ctl->next_elect_ms && now >= ctl->next_elect_ms) {
		ctl->next_elect_ms = 0;
		check_controller(ctl);
	}
	if (!atomic_load(&ctl->active))
		return;
	if (ctl->next_delete_retry_ms && now >= ctl->next_delete_retry_ms) {
		ctl->next_delete_retry_ms = 0;
		ctl_resume_deletion(ctl);
	}
	if (atomic_load(&ctl->active) && ctl->next_reassign_ms &&
	    now >= ctl->next_reassign_ms) {
		ctl->next_reassign_ms = 0;
		ctl->reassign_dirty = true;
		ctl_reassign_progress(ctl);
	}
	if (atomic_load(&ctl->active) && ctl->next_rebalance_ms &&
	    now >= ctl->next_rebalance_ms) {
		ctl_auto_rebalance(ctl);
		ctl->next_rebalance_ms =
		    clock_mono_ms() +
		    (int64_t)ctl->cfg.leader_imbalance_check_interval_seconds *
			1000;
	}
}

static void after_event(controller_t *ctl)
{
	ctl_batch_send(ctl);
	ctl_graveyard_flush(ctl);
	ctl_channel_reap(ctl, false);
}

static void *controller_thread(void *arg)
{
	controller_t *ctl = arg;

	pthread_mutex_lock(&ctl->mu);
	for (;;) {
		struct ctl_event *ev;
		int64_t due;

		while (!ctl->head) {
			due = next_timer(ctl);
			if (due && clock_mono_ms() >= due) {
				pthread_mutex_unlock(&ctl->mu);
				run_timers(ctl);
				after_event(ctl);
				pthread_mutex_lock(&ctl->mu);
				continue;
			}
			if (due) {
				struct timespec ts;
				int64_t ms = due - clock_mono_ms();

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += ms / 1000;
				ts.tv_nsec += (long)(ms % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&ctl->cv, &ctl->mu, &ts);
			} else {
				pthread_cond_wait(&ctl->cv, &ctl->mu);
			}
		}
		ev = ctl->head;
		ctl->head = ev->next;
		if (!ctl->head)
			ctl->tail = NULL;
		if (coalesced(ev->type))
			ctl->pending[ev->type] = false;
		pthread_mutex_unlock(&ctl->mu);

		ctl->event_seq++;
		handle(ctl, ev);
		after_event(ctl);
		if (ev->type == EV_STOP) {
			ev_free(ev);
			return NULL;
		}
		ev_free(ev);
		pthread_mutex_lock(&ctl->mu);
	}
}

/* ------------------------------------------------------------- API */

controller_t *controller_start(zk_session_t *zs,
			       const struct controller_config *cfg,
			       char *errstr, size_t errstr_size)
{
	controller_t *ctl = calloc(1, sizeof(*ctl));

	if (!ctl) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	ctl->cfg = *cfg;
	ctl->listener = strdup(cfg->inter_broker_listener_name &&
				       *cfg->inter_broker_listener_name
				   ? cfg->inter_broker_listener_name
				   : "PLAINTEXT");
	ctl->cfg.inter_broker_listener_name = ctl->listener;
	if (ctl->cfg.controller_socket_timeout_ms <= 0)
		ctl->cfg.controller_socket_timeout_ms = 30000;
	if (ctl->cfg.connect_timeout_ms <= 0)
		ctl->cfg.connect_timeout_ms = 5000;
	if (ctl->cfg.max_response_bytes == 0)
		ctl->cfg.max_response_bytes = 100 * 1024 * 1024;
	if (ctl->cfg.leader_imbalance_check_interval_seconds <= 0)
		ctl->cfg.leader_imbalance_check_interval_seconds = 300;
	ctl->zs = zs;
	ctl->listener_id = -1;
	atomic_init(&ctl->active, false);
	atomic_init(&ctl->epoch, -1);
	atomic_init(&ctl->active_id, -1);
	pthread_mutex_init(&ctl->mu, NULL);
	pthread_cond_init(&ctl->cv, NULL);
	strmap_init(&ctl->topics);
	ctl_batch_init(&ctl->batch);
	ctl->w_controller = zk_watcher_new(zs, watch_controller, ctl);
	ctl->w_brokers = zk_watcher_new(zs, watch_brokers, ctl);
	ctl->w_broker_data = zk_watcher_new(zs, watch_brokers, ctl);
	ctl->w_topics = zk_watcher_new(zs, watch_topics, ctl);
	ctl->w_topic_data = zk_watcher_new(zs, watch_topic_data, ctl);
	ctl->w_delete = zk_watcher_new(zs, watch_delete, ctl);
	ctl->w_preferred = zk_watcher_new(zs, watch_preferred, ctl);
	ctl->w_reassign = zk_watcher_new(zs, watch_reassign, ctl);
	if (!ctl->listener || !ctl->w_controller || !ctl->w_brokers ||
	    !ctl->w_broker_data || !ctl->w_topics || !ctl->w_topic_data ||
	    !ctl->w_delete || !ctl->w_preferred || !ctl->w_reassign) {
		snprintf(errstr, errstr_size, "out of memory");
		goto err;
	}
	ctl->listener_id = zk_session_listen(zs, on_session, ctl);
	if (ctl->listener_id < 0) {
		snprintf(errstr, errstr_size, "out of memory");
		goto err;
	}
	if (pthread_create(&ctl->thread, NULL, controller_thread, ctl) != 0) {
		snprintf(errstr, errstr_size,
			 "cannot start the controller thread");
		goto err;
	}
	ctl_post_simple(ctl, EV_ELECT);
	return ctl;
err:
	if (ctl->listener_id >= 0)
		zk_session_unlisten(zs, ctl->listener_id);
	zk_watcher_disable(ctl->w_controller);
	zk_watcher_disable(ctl->w_brokers);
	zk_watcher_disable(ctl->w_broker_data);
	zk_watcher_disable(ctl->w_topics);
	zk_watcher_disable(ctl->w_topic_data);
	zk_watcher_disable(ctl->w_delete);
	zk_watcher_disable(ctl->w_preferred);
	zk_watcher_disable(ctl->w_reassign);
	free(ctl->listener);
	pthread_mutex_destroy(&ctl->mu);
	pthread_cond_destroy(&ctl->cv);
	free(ctl);
	return NULL;
}

void controller_stop(controller_t *ctl)
{
	struct ctl_event *ev, *next;

	if (!ctl)
		return;
	ctl_post_simple(ctl, EV_STOP);
	pthread_join(ctl->thread, NULL);
	zk_session_unlisten(ctl->zs, ctl->listener_id);
	zk_watcher_disable(ctl->w_controller);
	zk_watcher_disable(ctl->w_brokers);
	zk_watcher_disable(ctl->w_broker_data);
	zk_watcher_disable(ctl->w_topics);
	zk_watcher_disable(ctl->w_topic_data);
	zk_watcher_disable(ctl->w_delete);
	zk_watcher_disable(ctl->w_preferred);
	zk_watcher_disable(ctl->w_reassign);
	ctl_context_clear(ctl);
	ctl_graveyard_flush(ctl);
	/* Channels may post answers until they are joined. */
	ctl_channel_reap(ctl, true);
	/* Nothing posts any more: answer what is left. */
	pthread_mutex_lock(&ctl->mu);
	ev = ctl->head;
	ctl->head = ctl->tail = NULL;
	pthread_mutex_unlock(&ctl->mu);
	for (; ev; ev = next) {
		next = ev->next;
		if (ev->type == EV_REQUEST)
			answer(ctl, ev->head, ev->head_len, false, ev->done,
			       ev->done_arg);
		ev_free(ev);
	}
	strmap_free(&ctl->topics);
	free(ctl->brokers);
	free(ctl->listener);
	pthread_mutex_destroy(&ctl->mu);
	pthread_cond_destroy(&ctl->cv);
	free(ctl);
}

bool controller_is_active(controller_t *ctl)
{
	return atomic_load(&ctl->active);
}

int32_t controller_epoch(controller_t *ctl)
{
	return atomic_load(&ctl->active) ? atomic_load(&ctl->epoch) : -1;
}

int32_t controller_active_id(controller_t *ctl)
{
	int32_t id = atomic_load(&ctl->active_id);

	return id >= 0 ? id : -1;
}

int64_t controller_leader_elections(controller_t *ctl)
{
	return ctl ? atomic_load(&ctl->leader_elections) : 0;
}

int64_t controller_unclean_elections(controller_t *ctl)
{
	return ctl ? atomic_load(&ctl->unclean_elections) : 0;
}

int controller_submit(controller_t *ctl, const void *head, size_t head_len,
		      controller_done_fn done, void *arg)
{
	struct ctl_event *ev;

	if (!atomic_load(&ctl->active)) {
		answer(ctl, head, head_len, false, done, arg);
		return 0;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return ERR_NOMEM;
	ev->type = EV_REQUEST;
	ev->head = malloc(head_len ? head_len : 1);
	if (!ev->head) {
		free(ev);
		return ERR_NOMEM;
	}
	memcpy(ev->head, head, head_len);
	ev->head_len = head_len;
	ev->done = done;
	ev->done_arg = arg;
	ctl_post(ctl, ev);
	return 0;
}
