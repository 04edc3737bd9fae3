/*
 * controller_req.c - the per-event request batch to brokers.
 *
 * While an event is handled, state changes only record what each broker
 * must hear: partitions for its LeaderAndIsr, partitions for everyone's
 * UpdateMetadata, partitions for its StopReplica. ctl_batch_send() then
 * builds one request of each kind per broker (Kafka's
 * ControllerBrokerRequestBatch), in the order LeaderAndIsr,
 * UpdateMetadata, StopReplica, from the state as it is at the end of the
 * event, so a partition changed twice in one event is sent once, with its
 * final state.
 *
 * Each request carries this controller's id and epoch and the receiving
 * broker's epoch. Messages are built in an arena and packed straight into
 * a frame that the broker's channel owns from then on.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "err.h"
#include "frame.h"
#include "log.h"

#define E(x) FLUXO__ERROR_CODE__##x

static int vec_push(struct ctl_tpvec *v, struct ctl_topic *t, int p,
		    bool is_new, bool del)
{
	if (v->n == v->cap) {
		int cap = v->cap ? v->cap * 2 : 16;
		struct ctl_tpref *n = realloc(v->v, (size_t)cap * sizeof(*n));

		if (!n) {
			log_error(CTL_FAC, "out of memory queueing a request");
			return ERR_NOMEM;
		}
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = (struct ctl_tpref){t, p, is_new, del};
	return 0;
}

static void vec_free(struct ctl_tpvec *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

static int cmp_tpref(const void *a, const void *b)
{
	const struct ctl_tpref *x = a, *y = b;
	int c = strcmp(x->t->name, y->t->name);

	if (c)
		return c;
	return (x->p > y->p) - (x->p < y->p);
}

/* Sorts and merges duplicates (is_new and del are or-ed). */
static void vec_unique(struct ctl_tpvec *v)
{
	int k = 0;

	if (v->n < 2)
		return;
	qsort(v->v, (size_t)v->n, sizeof(v->v[0]), cmp_tpref);
	for (int i = 1; i < v->n; i++) {
		if (v->v[i].t == v->v[k].t && v->v[i].p == v->v[k].p) {
			v->v[k].is_new |= v->v[i].is_new;
			v->v[k].del |= v->v[i].del;
			continue;
		}
		v->v[++k] = v->v[i];
	}
	v->n = k + 1;
}

void ctl_batch_init(struct ctl_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void ctl_batch_clear(struct ctl_batch *b)
{
	for (int i = 0; i < b->n; i++) {
		vec_free(&b->b[i].lai);
		vec_free(&b->b[i].stop);
	}
	free(b->b);
	vec_free(&b->um);
	for (int i = 0; i < b->n_deleted; i++)
		free(b->deleted[i]);
	free(b->deleted);
	memset(b, 0, sizeof(*b));
}

static struct ctl_bbatch *bb_get(controller_t *ctl, int32_t broker)
{
	struct ctl_batch *b = &ctl->batch;

	for (int i = 0; i < b->n; i++)
		if (b->b[i].broker_id == broker)
			return &b->b[i];
	if (b->n == b->cap) {
		int cap = b->cap ? b->cap * 2 : 8;
		struct ctl_bbatch *v = realloc(b->b, (size_t)cap * sizeof(*v));

		if (!v)
			return NULL;
		b->b = v;
		b->cap = cap;
	}
	memset(&b->b[b->n], 0, sizeof(b->b[0]));
	b->b[b->n].broker_id = broker;
	return &b->b[b->n++];
}

void ctl_batch_lai_to(controller_t *ctl, int32_t broker, struct ctl_topic *t,
		      int p, bool is_new)
{
	struct ctl_bbatch *bb = bb_get(ctl, broker);

	if (bb)
		vec_push(&bb->lai, t, p, is_new, false);
}

void ctl_batch_lai(controller_t *ctl, struct ctl_topic *t, int p, bool is_new)
{
	const struct ctl_part *cp = &t->parts[p];

	for (int i = 0; i < cp->replicas.n; i++)
		if (ctl_is_live(ctl, cp->replicas.ids[i]))
			ctl_batch_lai_to(ctl, cp->replicas.ids[i], t, p,
					 is_new);
}

void ctl_batch_um(controller_t *ctl, struct ctl_topic *t, int p)
{
	vec_push(&ctl->batch.um, t, p, false, false);
}

void ctl_batch_um_full(controller_t *ctl, int32_t broker)
{
	struct ctl_bbatch *bb = bb_get(ctl, broker);

	if (bb)
		bb->um_full = true;
}

void ctl_batch_um_ping(controller_t *ctl)
{
	ctl->batch.um_ping = true;
}

void ctl_batch_um_deleted(controller_t *ctl, const char *topic)
{
	struct ctl_batch *b = &ctl->batch;
	char **v = realloc(b->deleted, ((size_t)b->n_deleted + 1) * sizeof(*v));
	char *s = strdup(topic);

	if (!v || !s) {
		free(s);
		if (v)
			b->deleted = v;
		return;
	}
	b->deleted = v;
	b->deleted[b->n_deleted++] = s;
}

void ctl_batch_stop(controller_t *ctl, int32_t broker, struct ctl_topic *t,
		    int p, bool del)
{
	struct ctl_bbatch *bb = bb_get(ctl, broker);

	if (bb)
		vec_push(&bb->stop, t, p, false, del);
}

/* ------------------------------------------------------------- building */

static int32_t *arena_ids(struct arena *a, const int32_t *ids, int n)
{
	int32_t *v = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(*v));

	if (v && n > 0)
		memcpy(v, ids, (size_t)n * sizeof(*v));
	return v;
}

static Fluxo__BrokerEndpoint *
broker_endpoint(controller_t *ctl, struct arena *a, const struct ctl_broker *b)
{
	Fluxo__BrokerEndpoint *e = arena_alloc(a, sizeof(*e));

	if (!e)
		return NULL;
	fluxo__broker_endpoint__init(e);
	e->node_id = b->id;
	e->host = b->ep ? b->ep->host : "";
	e->port = b->ep ? b->ep->port : -1;
	e->rack = b->info.rack ? b->info.rack : "";
	e->n_endpoints = (size_t)b->info.n_endpoints;
	e->endpoints = arena_alloc(a, (e->n_endpoints + 1) * sizeof(void *));
	if (!e->endpoints)
		return NULL;
	for (int i = 0; i < b->info.n_endpoints; i++) {
		const struct zk_endpoint *z = &b->info.endpoints[i];
		Fluxo__ListenerEndpoint *l = arena_alloc(a, sizeof(*l));

		if (!l)
			return NULL;
		fluxo__listener_endpoint__init(l);
		l->listener = z->listener;
		l->host = z->host;
		l->port = z->port;
		l->security_protocol = z->protocol;
		e->endpoints[i] = l;
	}
	(void)ctl;
	return e;
}

static Fluxo__UpdateMetadataPartitionState *
um_state(controller_t *ctl, struct arena *a, struct ctl_topic *t, int p)
{
	const struct ctl_part *cp = &t->parts[p];
	Fluxo__UpdateMetadataPartitionState *s = arena_alloc(a, sizeof(*s));
	int n_off = 0;

	if (!s)
		return NULL;
	fluxo__update_metadata_partition_state__init(s);
	s->topic = t->name;
	s->partition = p;
	s->controller_epoch = cp->controller_epoch;
	s->leader = t->delete_started ? CTL_LEADER_DELETING
		    : cp->has_state   ? cp->leader
				      : -1;
	s->leader_epoch = cp->leader_epoch;
	s->partition_epoch = cp->zk_version;
	s->isr = arena_ids(a, cp->isr.ids, cp->isr.n);
	s->n_isr = (size_t)cp->isr.n;
	s->replicas = arena_ids(a, cp->replicas.ids, cp->replicas.n);
	s->n_replicas = (size_t)cp->replicas.n;
	s->offline_replicas =
	    arena_alloc(a, (size_t)(cp->replicas.n > 0 ? cp->replicas.n : 1) *
			       sizeof(int32_t));
	if (!s->isr || !s->replicas || !s->offline_replicas)
		return NULL;
	for (int i = 0; i < cp->replicas.n; i++)
		if (!ctl_is_live(ctl, cp->replicas.ids[i]))
			s->offline_replicas[n_off++] = cp->replicas.ids[i];
	s->n_offline_replicas = (size_t)n_off;
	return s;
}

static Fluxo__LeaderAndIsrPartitionState *
lai_state(controller_t *ctl, struct arena *a, const struct ctl_tpref *r)
{
	const struct ctl_part *cp = &r->t->parts[r->p];
	Fluxo__LeaderAndIsrPartitionState *s = arena_alloc(a, sizeof(*s));

	(void)ctl;
	if (!s)
		return NULL;
	fluxo__leader_and_isr_partition_state__init(s);
	s->topic = r->t->name;
	s->partition = r->p;
	s->controller_epoch = cp->controller_epoch;
	s->leader = cp->leader;
	s->leader_epoch = cp->leader_epoch;
	s->isr = arena_ids(a, cp->isr.ids, cp->isr.n);
	s->n_isr = (size_t)cp->isr.n;
	s->partition_epoch = cp->zk_version;
	s->replicas = arena_ids(a, cp->replicas.ids, cp->replicas.n);
	s->n_replicas = (size_t)cp->replicas.n;
	s->adding_replicas = arena_ids(a, cp->adding.ids, cp->adding.n);
	s->n_adding_replicas = (size_t)cp->adding.n;
	s->removing_replicas = arena_ids(a, cp->removing.ids, cp->removing.n);
	s->n_removing_replicas = (size_t)cp->removing.n;
	s->is_new = r->is_new;
	if (!s->isr || !s->replicas || !s->adding_replicas ||
	    !s->removing_replicas)
		return NULL;
	return s;
}

/* Frames req and hands it to b's channel. */
static void send_req(controller_t *ctl, struct ctl_broker *b,
		     Fluxo__Request *req, struct ctl_tp_name *sent, int n_sent)
{
	struct buf frame = BUF_INIT;
	char client_id[32];

	snprintf(client_id, sizeof(client_id), "controller-%" PRId32,
		 ctl->cfg.broker_id);
	req->version = 0;
	req->correlation_id = ++ctl->corr;
	req->client_id = client_id;
	if (!b->chan || frame_encode_head(&frame, &req->base, 0) < 0) {
		if (b->chan)
			log_error(CTL_FAC,
				  "cannot frame a request to broker %" PRId32,
				  b->id);
		buf_free(&frame);
		ctl_tp_names_free(sent, n_sent);
		return;
	}
	ctl_channel_send(b->chan, req->api, ctl->gen, b->epoch, &frame, sent,
			 n_sent);
}

struct um_cache {
	Fluxo__UpdateMetadataPartitionState **full, **inc;
	size_t n_full, n_inc;
	bool full_built, inc_built;
	Fluxo__BrokerEndpoint **live;
	size_t n_live;
};

static int build_full(controller_t *ctl, struct arena *a, struct um_cache *c)
{
	size_t n = 0, k = 0;

	strmap_foreach(&ctl->topics, i) n +=
	    (size_t)((struct ctl_topic *)ctl->topics.v[i].val)->n_parts;
	c->full = arena_alloc(a, (n + 1) * sizeof(void *));
	if (!c->full)
		return ERR_NOMEM;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++) {
			if (!t->parts[p].has_state)
				continue;
			c->full[k] = um_state(ctl, a, t, p);
			if (!c->full[k])
				return ERR_NOMEM;
			k++;
		}
	}
	c->n_full = k;
	c->full_built = true;
	return 0;
}

static int build_inc(controller_t *ctl, struct arena *a, struct um_cache *c)
{
	struct ctl_tpvec *um = &ctl->batch.um;
	size_t k = 0;

	vec_unique(um);
	c->inc = arena_alloc(a, ((size_t)um->n + 1) * sizeof(void *));
	if (!c->inc)
		return ERR_NOMEM;
	for (int i = 0; i < um->n; i++) {
		if (um->v[i].t->removed ||
		    !um->v[i].t->parts[um->v[i].p].has_state)
			continue;
		c->inc[k] = um_state(ctl, a, um->v[i].t, um->v[i].p);
		if (!c->inc[k])
			return ERR_NOMEM;
		k++;
	}
	c->n_inc = k;
	c->inc_built = true;
	return 0;
}

static int send_lai(controller_t *ctl, struct arena *a, struct ctl_broker *b,
		    struct ctl_bbatch *bb)
{
	Fluxo__LeaderAndIsrRequest *lai = arena_alloc(a, sizeof(*lai));
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	size_t k = 0, n_leaders = 0;

	if (!lai)
		return ERR_NOMEM;
	vec_unique(&bb->lai);
	fluxo__leader_and_isr_request__init(lai);
	lai->controller_id = ctl->cfg.broker_id;
	lai->controller_epoch = atomic_load(&ctl->epoch);
	lai->broker_epoch = b->epoch;
	lai->partitions =
	    arena_alloc(a, ((size_t)bb->lai.n + 1) * sizeof(void *));
	lai->live_leaders =
	    arena_alloc(a, ((size_t)ctl->n_brokers + 1) * sizeof(void *));
	if (!lai->partitions || !lai->live_leaders)
		return ERR_NOMEM;
	for (int i = 0; i < bb->lai.n; i++) {
		const struct ctl_tpref *r = &bb->lai.v[i];

		if (r->t->removed || !r->t->parts[r->p].has_state)
			continue;
		lai->partitions[k] = lai_state(ctl, a, r);
		if (!lai->partitions[k])
			return ERR_NOMEM;
		k++;
	}
	lai->n_partitions = k;
	if (k == 0)
		return 0;
	/* Endpoints of the leaders named in this request. */
	for (int i = 0; i < ctl->n_brokers; i++) {
		struct ctl_broker *l = ctl->brokers[i];
		bool named = false;

		for (size_t j = 0; j < k && !named; j++)
			named = lai->partitions[j]->leader == l->id;
		if (!named)
			continue;
		lai->live_leaders[n_leaders] = broker_endpoint(ctl, a, l);
		if (!lai->live_leaders[n_leaders])
			return ERR_NOMEM;
		n_leaders++;
	}
	lai->n_live_leaders = n_leaders;
	req.api = FLUXO__API_KEY__LEADER_AND_ISR;
	req.body_case = FLUXO__REQUEST__BODY_LEADER_AND_ISR;
	req.leader_and_isr = lai;
	send_req(ctl, b, &req, NULL, 0);
	return 0;
}

static int send_um(controller_t *ctl, struct arena *a, struct ctl_broker *b,
		   bool full, struct um_cache *c)
{
	Fluxo__UpdateMetadataRequest *um = arena_alloc(a, sizeof(*um));
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	int rc;

	if (!um)
		return ERR_NOMEM;
	if (full && !c->full_built && (rc = build_full(ctl, a, c)) < 0)
		return rc;
	if (!full && !c->inc_built && (rc = build_inc(ctl, a, c)) < 0)
		return rc;
	fluxo__update_metadata_request__init(um);
	um->controller_id = ctl->cfg.broker_id;
	um->controller_epoch = atomic_load(&ctl->epoch);
	um->broker_epoch = b->epoch;
	um->full = full;
	um->partitions = full ? c->full : c->inc;
	um->n_partitions = full ? c->n_full : c->n_inc;
	um->live_brokers = c->live;
	um->n_live_brokers = c->n_live;
	um->deleted_topics = ctl->batch.deleted;
	um->n_deleted_topics = (size_t)ctl->batch.n_deleted;
	req.api = FLUXO__API_KEY__UPDATE_METADATA;
	req.body_case = FLUXO__REQUEST__BODY_UPDATE_METADATA;
	req.update_metadata = um;
	send_req(ctl, b, &req, NULL, 0);
	return 0;
}

static int send_stop(controller_t *ctl, struct arena *a, struct ctl_broker *b,
		     struct ctl_bbatch *bb)
{
	Fluxo__StopReplicaRequest *sr = arena_alloc(a, sizeof(*sr));
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	struct ctl_tp_name *sent = NULL;
	int n_sent = 0;
	size_t k = 0;

	if (!sr)
		return ERR_NOMEM;
	vec_unique(&bb->stop);
	fluxo__stop_replica_request__init(sr);
	sr->controller_id = ctl->cfg.broker_id;
	sr->controller_epoch = atomic_load(&ctl->epoch);
	sr->broker_epoch = b->epoch;
	sr->partitions =
	    arena_alloc(a, ((size_t)bb->stop.n + 1) * sizeof(void *));
	sent = calloc((size_t)bb->stop.n + 1, sizeof(*sent));
	if (!sr->partitions || !sent) {
		free(sent);
		return ERR_NOMEM;
	}
	for (int i = 0; i < bb->stop.n; i++) {
		const struct ctl_tpref *r = &bb->stop.v[i];
		Fluxo__StopReplicaPartition *sp = arena_alloc(a, sizeof(*sp));

		if (!sp) {
			ctl_tp_names_free(sent, n_sent);
			return ERR_NOMEM;
		}
		fluxo__stop_replica_partition__init(sp);
		sp->topic = r->t->name;
		sp->partition = r->p;
		sp->delete_partition = r->del;
		sp->leader_epoch = r->del ? CTL_LEADER_DELETING
					  : r->t->parts[r->p].leader_epoch;
		sr->partitions[k++] = sp;
		if (r->del) {
			sent[n_sent].topic = strdup(r->t->name);
			sent[n_sent].partition = r->p;
			if (sent[n_sent].topic)
				n_sent++;
		}
	}
	sr->n_partitions = k;
	req.api = FLUXO__API_KEY__STOP_REPLICA;
	req.body_case = FLUXO__REQUEST__BODY_STOP_REPLICA;
	req.stop_replica = sr;
	send_req(ctl, b, &req, sent, n_sent);
	return 0;
}

void ctl_batch_send(controller_t *ctl)
{
	struct ctl_batch *batch = &ctl->batch;
	struct um_cache c = {0};
	bool um_all;
	struct arena a;
	int rc = 0;

	if (!atomic_load(&ctl->active))
		goto out_clear;
	arena_init(&a, 64 * 1024);
	c.live = arena_alloc(&a, ((size_t)ctl->n_brokers + 1) * sizeof(void *));
	if (!c.live) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < ctl->n_brokers; i++) {
		c.live[i] = broker_endpoint(ctl, &a, ctl->brokers[i]);
		if (!c.live[i]) {
			rc = ERR_NOMEM;
			goto out;
		}
	}
	c.n_live = (size_t)ctl->n_brokers;
	um_all = batch->um.n > 0 || batch->um_ping || batch->n_deleted > 0;
	for (int i = 0; i < ctl->n_brokers && rc == 0; i++) {
		struct ctl_broker *b = ctl->brokers[i];
		struct ctl_bbatch *bb = NULL;

		for (int j = 0; j < batch->n; j++)
			if (batch->b[j].broker_id == b->id)
				bb = &batch->b[j];
		if (bb && bb->lai.n > 0)
			rc = send_lai(ctl, &a, b, bb);
		if (rc == 0 && bb && bb->um_full)
			rc = send_um(ctl, &a, b, true, &c);
		else if (rc == 0 && um_all)
			rc = send_um(ctl, &a, b, false, &c);
		if (rc == 0 && bb && bb->stop.n > 0)
			rc = send_stop(ctl, &a, b, bb);
	}
out:
	if (rc < 0)
		log_error(CTL_FAC, "out of memory building control requests");
	arena_destroy(&a);
out_clear:
	ctl_batch_clear(batch);
}
