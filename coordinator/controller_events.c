/*
 * controller_events.c - what the controller does about each event.
 *
 * Broker changes (reference 2.3): the registrations are re-read and
 * compared with the context by id and epoch (czxid): new brokers start,
 * missing ones failed, and a broker whose epoch grew bounced, which is a
 * failure followed by a start. A failure elects new leaders for the
 * partitions it led and shrinks the ISRs it was in; a start sends the new
 * broker the whole metadata and the state of its replicas, and retries
 * the elections that were waiting for it.
 *
 * Topic changes (2.6, 2.7): new topics and added partitions get their
 * state znodes and initial leaders. Controlled shutdown (2.4), AlterIsr
 * (3.6), preferred elections and the auto-rebalance task (2.5) are here
 * too; each builds a list of partitions and a decision and hands both to
 * ctl_update_partitions().
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
#include "clock.h"
#include "err.h"
#include "log.h"

#define E(x) FLUXO__ERROR_CODE__##x

/* ------------------------------------------------------------- helpers */

struct tplist {
	struct ctl_tpref *v;
	int n, cap;
};

static int tpl_add(struct tplist *l, struct ctl_topic *t, int p)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		struct ctl_tpref *v = realloc(l->v, (size_t)cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct ctl_tpref){t, p, false, false};
	return 0;
}

static int32_t *arena_ids_copy(struct arena *a, const int32_t *ids, int n)
{
	int32_t *v = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(*v));

	if (v && n > 0)
		memcpy(v, ids, (size_t)n * sizeof(*v));
	return v;
}

static void tpl_free(struct tplist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool endpoints_equal(const struct zk_broker *a,
			    const struct zk_broker *b)
{
	if (a->n_endpoints != b->n_endpoints)
		return false;
	if ((a->rack == NULL) != (b->rack == NULL) ||
	    (a->rack && strcmp(a->rack, b->rack) != 0))
		return false;
	for (int i = 0; i < a->n_endpoints; i++) {
		const struct zk_endpoint *x = &a->endpoints[i],
					 *y = &b->endpoints[i];

		if (strcmp(x->listener, y->listener) != 0 ||
		    strcmp(x->host, y->host) != 0 || x->port != y->port ||
		    strcmp(x->protocol, y->protocol) != 0)
			return false;
	}
	return true;
}

static void start_channel(controller_t *ctl, struct ctl_broker *b)
{
	if (!b->ep || b->chan)
		return;
	b->chan = ctl_channel_start(ctl, b->id, b->ep->host, b->ep->port);
	if (!b->chan)
		log_error(CTL_FAC, "cannot start a channel to broker %" PRId32,
			  b->id);
}

/* ------------------------------------------------------------- brokers */

struct fail_arg {
	const int32_t *dead;
	int n_dead;
};

/* After brokers died: elect for lost leaders, shrink ISRs. */
static int decide_failure(controller_t *ctl, struct ctl_topic *t, int p,
			  int idx, struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];

	(void)arg;
	(void)idx;
	if (t->deleting || !cp->has_state || cp->replicas.n > 64)
		return 0;
	if (cp->leader < 0 || !ctl_is_live(ctl, cp->leader))
		return ctl_elect_one_offline(ctl, t, p, ns, false);
	/* The leader lives: drop dead members from the ISR. */
	ns->n_isr = 0;
	for (int i = 0; i < cp->isr.n && ns->n_isr < 64; i++)
		if (ctl_is_live(ctl, cp->isr.ids[i]))
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	if (ns->n_isr == cp->isr.n)
		return 0;
	ns->leader = cp->leader;
	ns->leader_epoch = cp->leader_epoch + 1;
	ns->is_new = false;
	return 1;
}

static void mark_dead_deletions(controller_t *ctl, const int32_t *dead,
				int n_dead)
{
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (!t->deleting)
			continue;
		for (int p = 0; p < t->n_parts; p++) {
			struct ctl_part *cp = &t->parts[p];

			for (int r = 0; cp->del && r < cp->replicas.n; r++)
				if (cp->del[r] == DEL_SENT &&
				    ids_contain(dead, n_dead,
						cp->replicas.ids[r]))
					cp->del[r] = DEL_FAILED;
		}
	}
}

static int on_failures(controller_t *ctl, const int32_t *dead, int n_dead)
{
	struct tplist l = {0};
	int ret;

	if (n_dead == 0)
		return 0;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++) {
			const struct ctl_part *cp = &t->parts[p];
			bool hit = false;

			for (int r = 0; r < cp->replicas.n && !hit; r++)
				hit = ids_contain(dead, n_dead,
						  cp->replicas.ids[r]);
			if (!hit)
				continue;
			if (tpl_add(&l, t, p) < 0) {
				tpl_free(&l);
				return ERR_NOMEM;
			}
			/* Offline replicas changed: tell everyone. */
			ctl_batch_um(ctl, t, p);
		}
	}
	mark_dead_deletions(ctl, dead, n_dead);
	ret = ctl_update_partitions(ctl, l.v, l.n, decide_failure, NULL, NULL);
	tpl_free(&l);
	return ret;
}

/*
 * After a controller fail-over: replicas on brokers that are not live
 * leave the ISR of partitions whose leader lives (Kafka's replica state
 * machine start-up moves them to OfflineReplica). Without this, a broker
 * that died while there was no controller (the previous controller died
 * with it, or before noticing) would stay in ISRs it can never catch up
 * with, holding the high watermark and acks=all back.
 */
int ctl_shrink_dead_isrs(controller_t *ctl)
{
	struct tplist l = {0};
	int ret;

	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (t->deleting)
			continue;
		for (int p = 0; p < t->n_parts; p++) {
			const struct ctl_part *cp = &t->parts[p];
			bool dead = false;

			if (!cp->has_state || cp->leader < 0 ||
			    !ctl_is_live(ctl, cp->leader))
				continue;
			for (int r = 0; r < cp->isr.n && !dead; r++)
				dead = !ctl_is_live(ctl, cp->isr.ids[r]);
			if (dead && tpl_add(&l, t, p) < 0) {
				tpl_free(&l);
				return ERR_NOMEM;
			}
		}
	}
	ret = l.n ? ctl_update_partitions(ctl, l.v, l.n, decide_failure, NULL,
					  NULL)
		  : 0;
	tpl_free(&l);
	return ret;
}

static int on_startups(controller_t *ctl, const int32_t *ids, int n)
{
	if (n == 0)
		return 0;
	for (int k = 0; k < n; k++)
		ctl_batch_um_full(ctl, ids[k]);
	/* The others learn the new live broker list. */
	ctl_batch_um_ping(ctl);
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (t->deleting)
			continue;
		for (int p = 0; p < t->n_parts; p++) {
			const struct ctl_part *cp = &t->parts[p];

			if (!cp->has_state)
				continue;
			for (int k = 0; k < n; k++)
				if (ids_contain(cp->replicas.ids,
						cp->replicas.n, ids[k]))
					ctl_batch_lai_to(ctl, ids[k], t, p,
							 false);
		}
	}
	return ctl_elect_offline(ctl);
}

int ctl_on_broker_change(controller_t *ctl)
{
	struct ctl_broker **cur = NULL;
	int32_t *dead = NULL, *born = NULL;
	int n_cur = 0, n_dead = 0, n_born = 0, ret;

	ret = ctl_read_brokers(ctl, &cur, &n_cur);
	if (ret < 0)
		return ret;
	dead = calloc((size_t)ctl->n_brokers + 1, sizeof(*dead));
	born = calloc((size_t)n_cur + 1, sizeof(*born));
	if (!dead || !born) {
		ret = ERR_NOMEM;
		goto out;
	}
	/* Dead: live before, absent now. Bounced: present, larger epoch. */
	for (int i = 0; i < ctl->n_brokers; i++) {
		struct ctl_broker *b = ctl->brokers[i];
		bool present = false;

		for (int j = 0; j < n_cur; j++)
			if (cur[j] && cur[j]->id == b->id) {
				present = true;
				if (cur[j]->epoch != b->epoch) {
					log_info(CTL_FAC,
						 "broker %" PRId32
						 " bounced (epoch %" PRId64
						 " -> %" PRId64 ")",
						 b->id, b->epoch,
						 cur[j]->epoch);
					dead[n_dead++] = b->id;
				} else if (!endpoints_equal(&b->info,
							    &cur[j]->info)) {
					/* Same registration, new endpoints:
					 * reconnect and tell everyone. */
					struct zk_broker tmp = b->info;

					log_info(CTL_FAC,
						 "broker %" PRId32
						 " changed its endpoints",
						 b->id);
					b->info = cur[j]->info;
					cur[j]->info = tmp;
					b->ep = zkdata_broker_endpoint(
					    &b->info, ctl->listener);
					if (b->chan)
						ctl_channel_retire(ctl,
								   b->chan);
					b->chan = NULL;
					start_channel(ctl, b);
					ctl_batch_um_ping(ctl);
					ctl_broker_free(cur[j]);
					cur[j] = NULL;
				} else {
					ctl_broker_free(cur[j]);
					cur[j] = NULL;
				}
			}
		if (!present)
			dead[n_dead++] = b->id;
	}
	/*
	 * Kafka's order: failures are handled with the dead and bounced
	 * brokers out of the live set, so a broker that restarted before we
	 * noticed loses its leaderships and ISR places (leader epochs move
	 * on, and it truncates as a follower); only then does it start.
	 */
	for (int k = 0; k < n_dead; k++) {
		log_info(CTL_FAC, "broker %" PRId32 " is gone", dead[k]);
		ctl_broker_remove(ctl, dead[k]);
	}
	ret = on_failures(ctl, dead, n_dead);
	if (ret < 0 || !atomic_load(&ctl->active))
		goto out;
	for (int j = 0; j < n_cur; j++) {
		if (!cur[j])
			continue;
		if (ctl_broker_add(ctl, cur[j]) < 0) {
			ctl_broker_free(cur[j]);
			cur[j] = NULL;
			continue;
		}
		log_info(CTL_FAC,
			 "broker %" PRId32 " is live (epoch %" PRId64 ")",
			 cur[j]->id, cur[j]->epoch);
		start_channel(ctl, cur[j]);
		born[n_born++] = cur[j]->id;
		cur[j] = NULL;
	}
	ret = on_startups(ctl, born, n_born);
	if (ret == 0 && atomic_load(&ctl->active)) {
		if (n_dead > 0 && n_born == 0)
			ctl_batch_um_ping(ctl);
		if (n_born > 0)
			ctl_resume_deletion(ctl);
		/* Leaders and ISRs moved: reassignments may go on. */
		ctl_reassign_progress(ctl);
	}
out:
	for (int j = 0; j < n_cur; j++)
		ctl_broker_free(cur[j]);
	free(cur);
	free(dead);
	free(born);
	return ret;
}

/* ------------------------------------------------------------- topics */

/* Creates .../partitions for new topics in one fenced batch. */
static int create_partition_parents(controller_t *ctl, struct ctl_topic **v,
				    int n)
{
	struct ctl_zbatch zb;
	int ret;

	ctl_zb_init(&zb);
	for (int i = 0; i < n; i++) {
		char path[ZKPATH_MAX];

		if (!v[i])
			continue;
		zkpath_partitions(path, sizeof(path), v[i]->name);
		ctl_zb_group(&zb);
		ctl_zb_add(&zb, ZOO_CREATE_OP, path, NULL, -1, -1);
	}
	ret = zb.n > 0 ? ctl_zk_run(ctl, &zb) : 0;
	ctl_zb_free(&zb);
	if (ret == ERR_FENCED)
		ctl_resign(ctl, "a newer controller exists");
	return ret;
}

/* Initialises partitions [from, n_parts) of each topic in v. */
static int init_partitions(controller_t *ctl, struct ctl_topic **v, int n,
			   const int *from)
{
	struct tplist l = {0};
	int ret;

	for (int i = 0; i < n; i++) {
		if (!v[i] || v[i]->deleting)
			continue;
		for (int p = from ? from[i] : 0; p < v[i]->n_parts; p++)
			if (tpl_add(&l, v[i], p) < 0) {
				tpl_free(&l);
				return ERR_NOMEM;
			}
	}
	if (l.n == 0)
		return 0;
	ret =
	    ctl_update_partitions(ctl, l.v, l.n, ctl_decide_online, NULL, NULL);
	if (ret == 0) {
		/* Adopted states (a predecessor created them) go out too. */
		for (int i = 0; i < l.n; i++) {
			struct ctl_topic *t = l.v[i].t;
			int p = l.v[i].p;

			if (t->parts[p].has_state && !t->removed) {
				ctl_batch_lai(ctl, t, p, true);
				ctl_batch_um(ctl, t, p);
			}
		}
	}
	tpl_free(&l);
	return ret;
}

int ctl_on_topic_change(controller_t *ctl)
{
	struct String_vector kids;
	struct ctl_topic **fresh = NULL;
	char **names = NULL;
	int n_new = 0, rc, ret = 0;

	rc = zk_children(ctl->zs, ZK_PATH_BROKER_TOPICS, ctl->w_topics, &kids);
	if (rc != ZOK) {
		log_warn(CTL_FAC, "cannot list %s: %s", ZK_PATH_BROKER_TOPICS,
			 zerror(rc));
		return ERR_ZK;
	}
	/* Topics whose znode is gone. */
	{
		struct ctl_topic **gone =
		    calloc(ctl->topics.n + 1, sizeof(*gone));
		int n_gone = 0;

		if (!gone) {
			ret = ERR_NOMEM;
			goto out;
		}
		strmap_foreach(&ctl->topics, i)
		{
			struct ctl_topic *t = ctl->topics.v[i].val;
			bool present = false;

			for (int k = 0; k < kids.count && !present; k++)
				present = strcmp(kids.data[k], t->name) == 0;
			if (!present)
				gone[n_gone++] = t;
		}
		for (int k = 0; k < n_gone; k++) {
			log_info(CTL_FAC, "topic %s is gone", gone[k]->name);
			ctl_batch_um_deleted(ctl, gone[k]->name);
			ctl_topic_remove(ctl, gone[k]);
		}
		free(gone);
	}
	names = calloc((size_t)kids.count + 1, sizeof(*names));
	fresh = calloc((size_t)kids.count + 1, sizeof(*fresh));
	if (!names || !fresh) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int k = 0; k < kids.count; k++)
		if (!ctl_topic_find(ctl, kids.data[k]))
			names[n_new++] = kids.data[k];
	if (n_new == 0)
		goto out;
	ret = ctl_read_topics(ctl, names, n_new, fresh);
	if (ret < 0)
		goto out;
	for (int k = 0; k < n_new; k++) {
		if (!fresh[k])
			continue;
		if (strmap_put(&ctl->topics, fresh[k]->name, fresh[k]) < 0) {
			ctl_topic_free(fresh[k]);
			fresh[k] = NULL;
			continue;
		}
		log_info(CTL_FAC, "new topic %s with %d partitions",
			 fresh[k]->name, fresh[k]->n_parts);
	}
	ret = create_partition_parents(ctl, fresh, n_new);
	if (ret == 0)
		ret = init_partitions(ctl, fresh, n_new, NULL);
out:
	free(fresh);
	free(names);
	deallocate_String_vector(&kids);
	return ret;
}

int ctl_on_topic_modified(controller_t *ctl, const char *path)
{
	const char *prefix = ZK_PATH_BROKER_TOPICS "/";
	struct zk_topic_assign a;
	struct ctl_topic *t;
	char *data = NULL, why[256];
	int len, rc, from, ret;

	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return 0;
	t = ctl_topic_find(ctl, path + strlen(prefix));
	rc = zk_get(ctl->zs, path, ctl->w_topic_data, &data, &len, NULL);
	if (rc == ZNONODE || !t)
		goto out_free;
	if (rc != ZOK) {
		free(data);
		return ERR_ZK;
	}
	if (zkdata_topic_decode(data, (size_t)len, &a, why, sizeof(why)) < 0) {
		log_error(CTL_FAC, "ignoring the new assignment of %s: %s",
			  t->name, why);
		goto out_free;
	}
	if (t->deleting) {
		log_info(CTL_FAC,
			 "ignoring partition changes of %s, which is "
			 "being deleted",
			 t->name);
		zkdata_topic_free(&a);
		goto out_free;
	}
	from = t->n_parts;
	ret = ctl_topic_extend(t, &a);
	zkdata_topic_free(&a);
	free(data);
	if (ret < 0)
		return ret;
	if (t->n_parts == from)
		return 0;
	log_info(CTL_FAC, "topic %s grew from %d to %d partitions", t->name,
		 from, t->n_parts);
	return init_partitions(ctl, &t, 1, &from);
out_free:
	free(data);
	return 0;
}

/* ------------------------------------------------------------- preferred */

static int preferred_for(controller_t *ctl, struct ctl_tpref *tps, int n,
			 int *results)
{
	return ctl_update_partitions(ctl, tps, n, ctl_decide_preferred, NULL,
				     results);
}

int ctl_on_preferred_znode(controller_t *ctl)
{
	struct zk_tp_list l = {NULL, 0};
	struct tplist tps = {0};
	char *data = NULL, why[256];
	struct Stat st;
	bool fenced;
	int len, rc, ret = 0;

	rc = zk_exists(ctl->zs, ZK_PATH_PREFERRED, ctl->w_preferred, &st);
	if (rc == ZNONODE)
		return 0; /* the exists watch is armed */
	if (rc != ZOK)
		return ERR_ZK;
	rc = zk_get(ctl->zs, ZK_PATH_PREFERRED, ctl->w_preferred, &data, &len,
		    &st);
	if (rc == ZNONODE)
		return 0;
	if (rc != ZOK)
		return ERR_ZK;
	if (zkdata_preferred_decode(data, (size_t)len, &l, why, sizeof(why)) <
	    0) {
		log_error(CTL_FAC, "ignoring %s: %s", ZK_PATH_PREFERRED, why);
	} else {
		for (int i = 0; i < l.n; i++) {
			struct ctl_topic *t = ctl_topic_find(ctl, l.v[i].topic);

			if (t && l.v[i].partition < t->n_parts)
				tpl_add(&tps, t, l.v[i].partition);
		}
		log_info(CTL_FAC,
			 "preferred replica election for %d partitions", tps.n);
		ret = preferred_for(ctl, tps.v, tps.n, NULL);
	}
	if (ret == 0) {
		rc = ctl_zk_one(ctl, ZOO_DELETE_OP, ZK_PATH_PREFERRED, NULL, -1,
				-1, &fenced);
		if (fenced) {
			ctl_resign(ctl, "a newer controller exists");
			ret = ERR_FENCED;
		}
	}
	zkdata_tp_list_free(&l);
	tpl_free(&tps);
	free(data);
	return ret;
}

void ctl_auto_rebalance(controller_t *ctl)
{
	struct tplist l = {0};

	for (int b = 0; b < ctl->n_brokers; b++) {
		int32_t id = ctl->brokers[b]->id;
		int preferred = 0, not_leading = 0;

		if (ctl->brokers[b]->shutting_down)
			continue;
		strmap_foreach(&ctl->topics, i)
		{
			struct ctl_topic *t = ctl->topics.v[i].val;

			if (t->deleting)
				continue;
			for (int p = 0; p < t->n_parts; p++) {
				const struct ctl_part *cp = &t->parts[p];

				if (!cp->has_state || cp->replicas.n == 0 ||
				    cp->replicas.ids[0] != id)
					continue;
				preferred++;
				if (cp->leader != id)
					not_leading++;
			}
		}
		if (preferred == 0 ||
		    (int64_t)not_leading * 100 <=
			(int64_t)ctl->cfg
				.leader_imbalance_per_broker_percentage *
			    preferred)
			continue;
		log_info(
		    CTL_FAC,
		    "broker %" PRId32
		    " leads %d of the %d partitions it prefers; rebalancing",
		    id, preferred - not_leading, preferred);
		strmap_foreach(&ctl->topics, i)
		{
			struct ctl_topic *t = ctl->topics.v[i].val;

			if (t->deleting)
				continue;
			for (int p = 0; p < t->n_parts; p++) {
				const struct ctl_part *cp = &t->parts[p];

				/* Reassignments move leaders themselves. */
				if (cp->has_state && cp->replicas.n > 0 &&
				    cp->replicas.ids[0] == id &&
				    cp->leader != id &&
				    ids_contain(cp->isr.ids, cp->isr.n, id) &&
				    !ctl_part_reassigning(cp))
					tpl_add(&l, t, p);
			}
		}
	}
	if (l.n > 0)
		preferred_for(ctl, l.v, l.n, NULL);
	tpl_free(&l);
}

/* ------------------------------------------------------------- requests */

static int decide_shutdown(controller_t *ctl, struct ctl_topic *t, int p,
			   int idx, struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];
	int32_t id = *(const int32_t *)arg;

	(void)idx;
	if (t->deleting || !cp->has_state || cp->replicas.n > 64)
		return 0;
	ns->is_new = false;
	ns->n_isr = 0;
	if (cp->leader == id) {
		int32_t leader = -1;

		for (int i = 0; i < cp->replicas.n; i++) {
			int32_t r = cp->replicas.ids[i];

			if (ctl_is_eligible(ctl, r) &&
			    ids_contain(cp->isr.ids, cp->isr.n, r)) {
				leader = r;
				break;
			}
		}
		if (leader < 0)
			return 0; /* stays; reported as remaining */
		for (int i = 0; i < cp->isr.n; i++)
			if (ctl_is_eligible(ctl, cp->isr.ids[i]))
				ns->isr[ns->n_isr++] = cp->isr.ids[i];
		ns->leader = leader;
		ns->leader_epoch = cp->leader_epoch + 1;
		return 1;
	}
	/* A follower: leave the ISR (if a leader remains to run it). */
	if (!ids_contain(cp->isr.ids, cp->isr.n, id) || cp->leader < 0)
		return 0;
	for (int i = 0; i < cp->isr.n; i++)
		if (cp->isr.ids[i] != id)
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	if (ns->n_isr == 0)
		return 0;
	ns->leader = cp->leader;
	ns->leader_epoch = cp->leader_epoch + 1;
	return 1;
}

void ctl_handle_controlled_shutdown(controller_t *ctl,
				    const Fluxo__ControlledShutdownRequest *req,
				    Fluxo__Response *resp, struct arena *a)
{
	Fluxo__ControlledShutdownResponse *r = arena_alloc(a, sizeof(*r));
	struct ctl_broker *b = ctl_broker_find(ctl, req->broker_id);
	struct tplist l = {0};
	int32_t id = req->broker_id;
	int64_t t0 = clock_mono_ms();
	int ret, n_topics = 0, remaining = 0;

	if (!r)
		return;
	fluxo__controlled_shutdown_response__init(r);
	resp->body_case = FLUXO__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
	resp->controlled_shutdown = r;
	if (!b) {
		r->error = E(BROKER_NOT_AVAILABLE);
		return;
	}
	if (req->broker_epoch != b->epoch) {
		log_warn(CTL_FAC,
			 "refusing controlled shutdown of broker %" PRId32
			 " with stale epoch %" PRId64 " (current %" PRId64 ")",
			 id, req->broker_epoch, b->epoch);
		r->error = E(STALE_BROKER_EPOCH);
		return;
	}
	b->shutting_down = true;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (t->deleting)
			continue;
		for (int p = 0; p < t->n_parts; p++) {
			const struct ctl_part *cp = &t->parts[p];

			if (cp->replicas.n > 1 &&
			    ids_contain(cp->replicas.ids, cp->replicas.n, id))
				tpl_add(&l, t, p);
		}
	}
	ret = ctl_update_partitions(ctl, l.v, l.n, decide_shutdown, &id, NULL);
	if (ret < 0) {
		r->error = ret == ERR_FENCED ? E(NOT_CONTROLLER)
					     : E(UNKNOWN_SERVER_ERROR);
		tpl_free(&l);
		return;
	}
	/* Stop the replicas it no longer leads (they left the ISR). */
	for (int i = 0; i < l.n; i++)
		if (l.v[i].t->parts[l.v[i].p].leader != id)
			ctl_batch_stop(ctl, id, l.v[i].t, l.v[i].p, false);
		else
			remaining++;
	/* Answer with the partitions it still leads, by topic. */
	r->remaining_partitions =
	    arena_alloc(a, ((size_t)l.n + 1) * sizeof(void *));
	for (int i = 0; r->remaining_partitions && i < l.n; i++) {
		struct ctl_topic *t = l.v[i].t;
		Fluxo__TopicPartitions *tp = NULL;

		if (t->parts[l.v[i].p].leader != id)
			continue;
		if (n_topics > 0 &&
		    strcmp(r->remaining_partitions[n_topics - 1]->topic,
			   t->name) == 0)
			tp = r->remaining_partitions[n_topics - 1];
		if (!tp) {
			tp = arena_alloc(a, sizeof(*tp));
			if (!tp)
				break;
			fluxo__topic_partitions__init(tp);
			tp->topic = t->name;
			tp->partitions = arena_alloc(
			    a, (size_t)(t->n_parts + 1) * sizeof(int32_t));
			if (!tp->partitions)
				break;
			r->remaining_partitions[n_topics++] = tp;
		}
		tp->partitions[tp->n_partitions++] = l.v[i].p;
	}
	r->n_remaining_partitions = (size_t)n_topics;
	log_info(CTL_FAC,
		 "controlled shutdown of broker %" PRId32
		 ": %d partitions examined, %d still led, %" PRId64 " ms",
		 id, l.n, remaining, clock_mono_ms() - t0);
	tpl_free(&l);
	ctl_reassign_progress(ctl);
}

struct isr_arg {
	int32_t **isr;
	int *n_isr;
	int32_t *partition_epoch;
	int *err;
};

static int decide_alter_isr(controller_t *ctl, struct ctl_topic *t, int p,
			    int idx, struct ctl_newstate *ns, void *arg)
{
	struct isr_arg *ia = arg;
	struct ctl_part *cp = &t->parts[p];

	(void)ctl;
	/* On a re-read round the version may have moved on. */
	if (cp->zk_version != ia->partition_epoch[idx]) {
		ia->err[idx] = E(INVALID_UPDATE_VERSION);
		return 0;
	}
	ns->leader = cp->leader;
	ns->leader_epoch = cp->leader_epoch;
	ns->n_isr = ia->n_isr[idx];
	memcpy(ns->isr, ia->isr[idx], (size_t)ns->n_isr * sizeof(int32_t));
	ns->is_new = false;
	ns->no_lai = true;
	return 1;
}

/* Checks one proposed ISR; returns a wire error or NONE. */
static int check_alter_isr(controller_t *ctl, struct ctl_topic *t, int p,
			   int32_t broker, const Fluxo__AlterIsrPartition *ap)
{
	struct ctl_part *cp = &t->parts[p];

	if (!cp->has_state)
		return E(UNKNOWN_TOPIC_OR_PARTITION);
	if (cp->leader != broker)
		return E(NOT_LEADER_OR_FOLLOWER);
	if (ap->leader_epoch != cp->leader_epoch)
		return E(FENCED_LEADER_EPOCH);
	if (ap->partition_epoch != cp->zk_version)
		return E(INVALID_UPDATE_VERSION);
	if (ap->n_new_isr == 0 || ap->n_new_isr > 64 ||
	    !ids_contain(ap->new_isr, (int)ap->n_new_isr, broker))
		return E(INVALID_REQUEST);
	for (size_t i = 0; i < ap->n_new_isr; i++) {
		int32_t r = ap->new_isr[i];

		if (!ids_contain(cp->replicas.ids, cp->replicas.n, r) ||
		    ids_contain(ap->new_isr, (int)i, r))
			return E(INVALID_REQUEST);
		/* Joining members must be able to serve. */
		if (!ids_contain(cp->isr.ids, cp->isr.n, r) &&
		    !ctl_is_eligible(ctl, r))
			return E(INELIGIBLE_REPLICA);
	}
	return E(NONE);
}

static bool same_set(const int32_t *a, int na, const int32_t *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (!ids_contain(b, nb, a[i]))
			return false;
	return true;
}

void ctl_handle_alter_isr(controller_t *ctl, const Fluxo__AlterIsrRequest *req,
			  Fluxo__Response *resp, struct arena *a)
{
	Fluxo__AlterIsrResponse *r = arena_alloc(a, sizeof(*r));
	struct ctl_broker *b = ctl_broker_find(ctl, req->broker_id);
	size_t total = 0, k = 0;
	struct tplist l = {0};
	struct isr_arg ia = {0};
	int *slot = NULL, ret;
	Fluxo__AlterIsrPartitionResponse **pr = NULL;

	if (!r)
		return;
	fluxo__alter_isr_response__init(r);
	resp->body_case = FLUXO__RESPONSE__BODY_ALTER_ISR;
	resp->alter_isr = r;
	if (!b || req->broker_epoch != b->epoch) {
		r->error = E(STALE_BROKER_EPOCH);
		return;
	}
	for (size_t i = 0; i < req->n_topics; i++)
		total += req->topics[i]->n_partitions;
	pr = arena_alloc(a, (total + 1) * sizeof(*pr));
	slot = calloc(total + 1, sizeof(*slot));
	ia.isr = calloc(total + 1, sizeof(*ia.isr));
	ia.n_isr = calloc(total + 1, sizeof(int));
	ia.partition_epoch = calloc(total + 1, sizeof(int32_t));
	ia.err = calloc(total + 1, sizeof(int));
	r->topics = arena_alloc(a, (req->n_topics + 1) * sizeof(void *));
	if (!pr || !slot || !ia.isr || !ia.n_isr || !ia.partition_epoch ||
	    !ia.err || !r->topics) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	/* Validate each, collect the real changes. */
	for (size_t i = 0; i < req->n_topics; i++) {
		const Fluxo__AlterIsrTopic *tt = req->topics[i];
		struct ctl_topic *t = ctl_topic_find(ctl, tt->name);

		for (size_t j = 0; j < tt->n_partitions; j++) {
			const Fluxo__AlterIsrPartition *ap = tt->partitions[j];
			Fluxo__AlterIsrPartitionResponse *pp =
			    arena_alloc(a, sizeof(*pp));
			int err;

			if (!pp) {
				r->error = E(UNKNOWN_SERVER_ERROR);
				goto out;
			}
			fluxo__alter_isr_partition_response__init(pp);
			pp->partition = ap->partition;
			pr[k] = pp;
			slot[k] = -1;
			if (!t || ap->partition < 0 ||
			    ap->partition >= t->n_parts)
				err = E(UNKNOWN_TOPIC_OR_PARTITION);
			else
				err = check_alter_isr(ctl, t, ap->partition,
						      req->broker_id, ap);
			pp->error = err;
			if (err == E(NONE) &&
			    !same_set(ap->new_isr, (int)ap->n_new_isr,
				      t->parts[ap->partition].isr.ids,
				      t->parts[ap->partition].isr.n)) {
				slot[k] = l.n;
				ia.isr[l.n] = ap->new_isr;
				ia.n_isr[l.n] = (int)ap->n_new_isr;
				ia.partition_epoch[l.n] = ap->partition_epoch;
				tpl_add(&l, t, ap->partition);
			}
			k++;
		}
	}
	ret = ctl_update_partitions(ctl, l.v, l.n, decide_alter_isr, &ia, NULL);
	if (ret < 0) {
		r->error = ret == ERR_FENCED ? E(NOT_CONTROLLER)
					     : E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	/* Answer with the state as it now is. */
	k = 0;
	for (size_t i = 0; i < req->n_topics; i++) {
		const Fluxo__AlterIsrTopic *tt = req->topics[i];
		struct ctl_topic *t = ctl_topic_find(ctl, tt->name);
		Fluxo__AlterIsrTopicResponse *tr = arena_alloc(a, sizeof(*tr));

		if (!tr) {
			r->error = E(UNKNOWN_SERVER_ERROR);
			goto out;
		}
		fluxo__alter_isr_topic_response__init(tr);
		tr->name = tt->name;
		tr->partitions = &pr[k];
		tr->n_partitions = tt->n_partitions;
		r->topics[r->n_topics++] = tr;
		for (size_t j = 0; j < tt->n_partitions; j++, k++) {
			Fluxo__AlterIsrPartitionResponse *pp = pr[k];
			const struct ctl_part *cp;

			if (slot[k] >= 0 && ia.err[slot[k]] != E(NONE))
				pp->error = ia.err[slot[k]];
			if (pp->error != E(NONE)) {
				pp->leader = -1;
				pp->leader_epoch = -1;
				pp->partition_epoch = -1;
				continue;
			}
			cp = &t->parts[pp->partition];
			pp->leader = cp->leader;
			pp->leader_epoch = cp->leader_epoch;
			pp->partition_epoch = cp->zk_version;
			pp->isr = arena_ids_copy(a, cp->isr.ids, cp->isr.n);
			pp->n_isr = (size_t)cp->isr.n;
		}
	}
	/*
	 * A new replica joining the ISR may complete a reassignment. The
	 * answer above was copied, so it reports the ISR the leader asked
	 * for; the LeaderAndIsr that completion sends has a newer epoch.
	 */
	if (l.n > 0)
		ctl_reassign_progress(ctl);
out:
	tpl_free(&l);
	free(slot);
	free(ia.isr);
	free(ia.n_isr);
	free(ia.partition_epoch);
	free(ia.err);
}

static int decide_unclean(controller_t *ctl, struct ctl_topic *t, int p,
			  int idx, struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];
	int rc;

	(void)idx;
	(void)arg;
	if (t->deleting)
		return -E(UNKNOWN_TOPIC_OR_PARTITION);
	if (!cp->has_state || cp->replicas.n > 64)
		return -E(ELIGIBLE_LEADERS_NOT_AVAILABLE);
	if (cp->leader >= 0 && ctl_is_live(ctl, cp->leader))
		return -E(ELECTION_NOT_NEEDED);
	rc = ctl_elect_one_offline(ctl, t, p, ns, true);
	if (rc == 1 && ns->leader < 0)
		return -E(ELIGIBLE_LEADERS_NOT_AVAILABLE);
	return rc == 1 ? 1 : -E(ELIGIBLE_LEADERS_NOT_AVAILABLE);
}

void ctl_handle_elect_leaders(controller_t *ctl,
			      const Fluxo__ElectLeadersRequest *req,
			      Fluxo__Response *resp, struct arena *a)
{
	Fluxo__ElectLeadersResponse *r = arena_alloc(a, sizeof(*r));
	bool all = req->n_topic_partitions == 0;
	struct tplist l = {0};
	const char **unknown_topic = NULL;
	int32_t *unknown_part = NULL;
	int n_unknown = 0, *results = NULL, ret;
	size_t asked = 0;

	if (!r)
		return;
	fluxo__elect_leaders_response__init(r);
	resp->body_case = FLUXO__RESPONSE__BODY_ELECT_LEADERS;
	resp->elect_leaders = r;
	for (size_t i = 0; i < req->n_topic_partitions; i++)
		asked += req->topic_partitions[i]->n_partitions;
	unknown_topic = calloc(asked + 1, sizeof(*unknown_topic));
	unknown_part = calloc(asked + 1, sizeof(*unknown_part));
	if (!unknown_topic || !unknown_part) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	if (all) {
		strmap_foreach(&ctl->topics, i)
		{
			struct ctl_topic *t = ctl->topics.v[i].val;

			if (t->deleting)
				continue;
			for (int p = 0; p < t->n_parts; p++)
				tpl_add(&l, t, p);
		}
	} else {
		for (size_t i = 0; i < req->n_topic_partitions; i++) {
			const Fluxo__TopicPartitions *tp =
			    req->topic_partitions[i];
			struct ctl_topic *t = ctl_topic_find(ctl, tp->topic);

			for (size_t j = 0; j < tp->n_partitions; j++) {
				if (t && tp->partitions[j] >= 0 &&
				    tp->partitions[j] < t->n_parts) {
					tpl_add(&l, t, tp->partitions[j]);
				} else {
					unknown_topic[n_unknown] = tp->topic;
					unknown_part[n_unknown++] =
					    tp->partitions[j];
				}
			}
		}
	}
	results = calloc((size_t)l.n + 1, sizeof(int));
	if (!results) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	ret = ctl_update_partitions(ctl, l.v, l.n,
				    req->election_type ==
					    FLUXO__ELECTION_TYPE__UNCLEAN
					? decide_unclean
					: ctl_decide_preferred,
				    NULL, results);
	if (ret < 0) {
		r->error = ret == ERR_FENCED ? E(NOT_CONTROLLER)
					     : E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	r->results = arena_alloc(a, ((size_t)l.n + (size_t)n_unknown + 1) *
					sizeof(void *));
	if (!r->results) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	for (int i = 0; i < l.n + n_unknown; i++) {
		Fluxo__ElectLeadersPartitionResult *pr;
		int code;

		if (i < l.n) {
			code = results[i] == 1	 ? E(NONE)
			       : results[i] == 0 ? E(ELECTION_NOT_NEEDED)
						 : -results[i];
			if (all && code == E(ELECTION_NOT_NEEDED))
				continue;
		} else {
			code = E(UNKNOWN_TOPIC_OR_PARTITION);
		}
		pr = arena_alloc(a, sizeof(*pr));
		if (!pr)
			break;
		fluxo__elect_leaders_partition_result__init(pr);
		if (i < l.n) {
			pr->topic = l.v[i].t->name;
			pr->partition = l.v[i].p;
		} else {
			pr->topic = (char *)unknown_topic[i - l.n];
			pr->partition = unknown_part[i - l.n];
		}
		pr->error = code;
		if (code == E(PREFERRED_LEADER_NOT_AVAILABLE))
			pr->error_message = "The preferred leader is not live "
					    "or not in the ISR.";
		else if (code == E(ELIGIBLE_LEADERS_NOT_AVAILABLE))
			pr->error_message = "No live replica can lead.";
		r->results[r->n_results++] = pr;
	}
out:
	tpl_free(&l);
	free(results);
	free(unknown_topic);
	free(unknown_part);
}
