/*
 * controller_reassign.c - partition reassignment (reference 2.9, KIP-455).
 *
 * A reassignment moves a partition from its original replicas (ORS) to a
 * target set (TRS). While it runs, the assignment in /brokers/topics/<t>
 * holds the full set RS = TRS followed by the rest of ORS, with
 * adding_replicas AR = TRS - ORS and removing_replicas RR = ORS - TRS. The
 * topic znode is the only record: a controller that takes over finds AR
 * and RR there and carries on (ORS = RS - AR, TRS = RS - RR).
 *
 * Kafka's algorithm, in the order of its writes:
 *  U  the new RS, AR and RR are written to the topic znode first, then
 *     to memory. Replicas of an earlier reassignment that the new one no
 *     longer needs ("dropped") are remembered for deletion.
 *  A  while some of TRS is not in the ISR: the state znode is rewritten
 *     with a new leader epoch (ISR minus dropped replicas), and
 *     LeaderAndIsr goes to every replica of RS, so the leader accepts
 *     fetches from the new replicas and they start copying.
 *  B  once TRS is inside the ISR (the leader's AlterIsr told us): RS = TRS
 *     in memory; one fenced state write moves leadership into TRS if the
 *     leader is outside it (first live in-sync member of TRS), takes RR
 *     out of the ISR and bumps the leader epoch; LeaderAndIsr goes to TRS;
 *     the final assignment (RS = TRS, no AR/RR) is written to the topic
 *     znode last; then RR and dropped replicas get StopReplica(delete)
 *     and every broker gets UpdateMetadata. Kafka does the leader move and
 *     the ISR shrink as two writes; one write is the same transition,
 *     atomic. If the final topic write fails, memory goes back to the
 *     running reassignment and B is retried (it is idempotent).
 * Cancelling is a reassignment to ORS: AR becomes the dropped set, and
 * the partition goes back to its original replicas. Kafka recovers ORS
 * as RS - AR, which loses its order (and so the preferred leader) when a
 * target replica was an original one; fluxo also records ORS in its
 * order ("original_replicas" in the topic znode), so a cancellation
 * restores the assignment exactly, also after a fail-over.
 *
 * Requests: AlterPartitionReassignments (a target per partition, or a
 * cancellation), ListPartitionReassignments, and the legacy
 * /admin/reassign_partitions znode, handled when it is created (its
 * czxid tells a new node from a rewrite, as Kafka acts on creation only)
 * and pruned as its partitions finish; it is deleted when empty. A newer
 * request for a partition replaces the older, whichever path it came by.
 * Topics being reassigned are not deleted until the reassignment ends
 * or is cancelled; topics being deleted cannot be reassigned.
 *
 * Every write goes through the fenced paths of controller_zk.c, so a
 * controller that lost office changes nothing. Replicas whose broker is
 * down when they are removed are not deleted (Kafka behaves alike): they
 * stay on that broker's disk, outside every assignment.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "clock.h"
#include "err.h"
#include "log.h"

#define E(x)	 FLUXO__ERROR_CODE__##x
#define MAXR	 64 /* replicas per partition the decisions handle */
#define RETRY_MS 1000

/* ------------------------------------------------------------- sets */

struct idset {
	int32_t v[MAXR];
	int n;
};

static bool set_has(const struct idset *s, int32_t id)
{
	return ids_contain(s->v, s->n, id);
}

static void set_add(struct idset *s, int32_t id)
{
	if (s->n < MAXR && !set_has(s, id))
		s->v[s->n++] = id;
}

/* a minus b, in a's order. */
static void set_minus(struct idset *out, const int32_t *a, int na,
		      const int32_t *b, int nb)
{
	out->n = 0;
	for (int i = 0; i < na; i++)
		if (!ids_contain(b, nb, a[i]))
			set_add(out, a[i]);
}

static bool same_list(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb &&
	       (na == 0 || memcmp(a, b, (size_t)na * sizeof(*a)) == 0);
}

static bool subset(const int32_t *a, int na, const int32_t *b, int nb)
{
	for (int i = 0; i < na; i++)
		if (!ids_contain(b, nb, a[i]))
			return false;
	return true;
}

bool ctl_part_reassigning(const struct ctl_part *cp)
{
	return cp->adding.n > 0 || cp->removing.n > 0;
}

bool ctl_topic_reassigning(const struct ctl_topic *t)
{
	for (int p = 0; p < t->n_parts; p++)
		if (ctl_part_reassigning(&t->parts[p]))
			return true;
	return false;
}

/* TRS = RS - RR. */
static void target_of(const struct ctl_part *cp, struct idset *out)
{
	set_minus(out, cp->replicas.ids, cp->replicas.n, cp->removing.ids,
		  cp->removing.n);
}

/* ORS = RS - AR, in the recorded original order when there is one. */
static void origin_of(const struct ctl_part *cp, struct idset *out)
{
	set_minus(out, cp->replicas.ids, cp->replicas.n, cp->adding.ids,
		  cp->adding.n);
	if (cp->original.n == out->n &&
	    subset(cp->original.ids, cp->original.n, out->v, out->n) &&
	    subset(out->v, out->n, cp->original.ids, cp->original.n))
		memcpy(out->v, cp->original.ids,
		       (size_t)out->n * sizeof(int32_t));
}

static void fmt_ids(char *out, size_t size, const int32_t *v, int n)
{
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n && off + 1 < size; i++) {
		int w = snprintf(out + off, size - off, "%s%" PRId32,
				 i ? "," : "", v[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void schedule_retry(controller_t *ctl)
{
	if (!ctl->next_reassign_ms)
		ctl->next_reassign_ms = clock_mono_ms() + RETRY_MS;
	ctl->reassign_dirty = true;
}

/* ------------------------------------------------------------- plans */

/* What one request asks of one partition, decided before any write. */
struct plan {
	struct ctl_topic *t;
	int p;
	int err;       /* wire error; NONE to go ahead */
	char msg[200]; /* sentence when err != NONE */
	bool changed;  /* the assignment changes (U is written) */
	bool applied;  /* U written and in memory */
	struct idset rs, ar, rr, orig, dropped;
};

static int plan_fail(struct plan *pl, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int plan_fail(struct plan *pl, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pl->msg, sizeof(pl->msg), fmt, ap);
	va_end(ap);
	pl->err = err;
	return err;
}

/*
 * Decides RS, AR, RR and the dropped replicas for reassigning pl's
 * partition to target (n entries), or back to its original replicas when
 * cancel. Returns NONE or a wire error with pl->msg set. Kafka's checks:
 * a non-empty list of distinct, non-negative ids whose new members are
 * live brokers.
 */
static int plan_build(controller_t *ctl, struct plan *pl, const int32_t *target,
		      int n, bool cancel)
{
	struct ctl_part *cp = &pl->t->parts[pl->p];
	struct idset origin, trs, isr_left;
	char list[256];

	pl->err = E(NONE);
	if (!cp->has_state)
		return plan_fail(pl, E(LEADER_NOT_AVAILABLE),
				 "The partition has no leader yet.");
	if (cp->replicas.n > MAXR)
		return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
				 "The partition has more than %d replicas.",
				 MAXR);
	origin_of(cp, &origin);
	if (cancel) {
		if (!ctl_part_reassigning(cp))
			return plan_fail(pl, E(NO_REASSIGNMENT_IN_PROGRESS),
					 "There is no reassignment in "
					 "progress for this partition.");
		target = origin.v;
		n = origin.n;
	} else {
		fmt_ids(list, sizeof(list), target, n);
		if (n == 0)
			return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
					 "Empty replica list specified in "
					 "partition reassignment.");
		if (n > MAXR)
			return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
					 "More than %d replicas in partition "
					 "reassignment.",
					 MAXR);
		for (int i = 0; i < n; i++) {
			if (target[i] < 0)
				return plan_fail(
				    pl, E(INVALID_REPLICA_ASSIGNMENT),
				    "Invalid broker id in replica list: [%s]",
				    list);
			if (ids_contain(target, i, target[i]))
				return plan_fail(
				    pl, E(INVALID_REPLICA_ASSIGNMENT),
				    "Duplicate replica ids in partition "
				    "reassignment replica list: [%s]",
				    list);
		}
	}
	/* RS = TRS ++ ORS, without repeats. */
	trs.n = 0;
	for (int i = 0; i < n; i++)
		set_add(&trs, target[i]);
	pl->rs = trs;
	for (int i = 0; i < origin.n; i++) {
		if (pl->rs.n == MAXR && !set_has(&pl->rs, origin.v[i]))
			return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
					 "The old and new replicas together "
					 "exceed %d.",
					 MAXR);
		set_add(&pl->rs, origin.v[i]);
	}
	set_minus(&pl->ar, pl->rs.v, pl->rs.n, origin.v, origin.n);
	set_minus(&pl->rr, pl->rs.v, pl->rs.n, trs.v, trs.n);
	pl->orig.n = 0;
	if (pl->ar.n > 0 || pl->rr.n > 0)
		pl->orig = origin;
	set_minus(&pl->dropped, cp->replicas.ids, cp->replicas.n, pl->rs.v,
		  pl->rs.n);
	/* New replicas must be able to start copying now. */
	for (int i = 0; i < pl->ar.n; i++)
		if (!ctl_is_live(ctl, pl->ar.v[i])) {
			fmt_ids(list, sizeof(list), pl->ar.v, pl->ar.n);
			return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
					 "Replica assignment has brokers that "
					 "are not alive. New replicas: [%s], "
					 "broker %" PRId32 " is not live.",
					 list, pl->ar.v[i]);
		}
	/* A leader among the dropped replicas must have a successor. */
	set_minus(&isr_left, cp->isr.ids, cp->isr.n, pl->dropped.v,
		  pl->dropped.n);
	if (cp->leader >= 0 && set_has(&pl->dropped, cp->leader)) {
		bool ok = false;

		for (int i = 0; i < pl->rs.n && !ok; i++)
			ok = set_has(&isr_left, pl->rs.v[i]) &&
			     ctl_is_eligible(ctl, pl->rs.v[i]);
		if (!ok)
			return plan_fail(pl, E(INVALID_REPLICA_ASSIGNMENT),
					 "The leader %" PRId32
					 " would be removed and no other "
					 "replica of the new assignment is "
					 "live and in sync.",
					 cp->leader);
	}
	pl->changed =
	    !same_list(pl->rs.v, pl->rs.n, cp->replicas.ids, cp->replicas.n) ||
	    !same_list(pl->ar.v, pl->ar.n, cp->adding.ids, cp->adding.n) ||
	    !same_list(pl->rr.v, pl->rr.n, cp->removing.ids, cp->removing.n) ||
	    !same_list(pl->orig.v, pl->orig.n, cp->original.ids,
		       cp->original.n);
	return E(NONE);
}

/* ------------------------------------------------------------- topic znode */

struct assign_upd {
	int p;
	const int32_t *rs, *ar, *rr, *orig;
	int n_rs, n_ar, n_rr, n_orig;
};

/*
 * Rewrites the replicas, adding and removing lists of the given
 * partitions in /brokers/topics/<t>: read, change, conditional fenced
 * write at the version read (retried when someone else wrote in
 * between), so a concurrent change of the other partitions is never
 * lost. Returns 0, ERR_FENCED, ERR_NOT_FOUND (the topic is gone),
 * ERR_CORRUPT (unreadable or shorter than expected), ERR_ZK or ERR_NOMEM.
 */
static int write_topic(controller_t *ctl, struct ctl_topic *t,
		       const struct assign_upd *u, int n)
{
	char path[ZKPATH_MAX], why[256];
	int ret = ERR_ZK;

	if (zkpath_topic(path, sizeof(path), t->name) < 0)
		return ERR_CORRUPT;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct zk_topic_assign a;
		struct Stat st;
		char *data = NULL, *js;
		bool fenced;
		int len, rc;

		rc = zk_get(ctl->zs, path, NULL, &data, &len, &st);
		if (rc == ZNONODE)
			return ERR_NOT_FOUND;
		if (rc != ZOK)
			return ERR_ZK;
		rc = zkdata_topic_decode(data, (size_t)len, &a, why,
					 sizeof(why));
		free(data);
		if (rc < 0) {
			log_error(CTL_FAC, "cannot update %s: %s", path, why);
			return ERR_CORRUPT;
		}
		ret = 0;
		for (int i = 0; i < n && ret == 0; i++) {
			if (u[i].p >= a.n_partitions) {
				ret = ERR_CORRUPT;
				break;
			}
			if (zkdata_replicas_set(&a.replicas[u[i].p], u[i].rs,
						u[i].n_rs) < 0 ||
			    zkdata_replicas_set(&a.adding[u[i].p], u[i].ar,
						u[i].n_ar) < 0 ||
			    zkdata_replicas_set(&a.removing[u[i].p], u[i].rr,
						u[i].n_rr) < 0 ||
			    zkdata_replicas_set(&a.original[u[i].p], u[i].orig,
						u[i].n_orig) < 0)
				ret = ERR_NOMEM;
		}
		js = ret == 0 ? zkdata_topic_encode(&a) : NULL;
		zkdata_topic_free(&a);
		if (ret < 0)
			return ret;
		if (!js)
			return ERR_NOMEM;
		rc = ctl_zk_one(ctl, ZOO_SETDATA_OP, path, js, (int)strlen(js),
				st.version, &fenced);
		free(js);
		if (fenced)
			return ERR_FENCED;
		if (rc == ZOK)
			return 0;
		if (rc == ZNONODE)
			return ERR_NOT_FOUND;
		if (rc != ZBADVERSION) {
			log_warn(CTL_FAC, "cannot write %s: %s", path,
				 zerror(rc));
			return ERR_ZK;
		}
		ret = ERR_ZK; /* changed underneath: read again */
	}
	return ret;
}

/* ------------------------------------------------------------- decisions */

/*
 * Phase A (and the whole of a change without AR/RR): a new leader epoch
 * so that every replica learns the new RS; dropped replicas leave the
 * ISR; a dropped leader hands over to the first live in-sync replica of
 * RS.
 */
static int decide_start(controller_t *ctl, struct ctl_topic *t, int p, int idx,
			struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];

	(void)idx;
	(void)arg;
	if (!cp->has_state || cp->replicas.n > MAXR)
		return 0;
	ns->n_isr = 0;
	for (int i = 0; i < cp->isr.n && ns->n_isr < MAXR; i++)
		if (ids_contain(cp->replicas.ids, cp->replicas.n,
				cp->isr.ids[i]))
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	if (ns->n_isr == 0)
		return 0; /* refused by plan_build; never empty the ISR */
	ns->leader = cp->leader;
	if (cp->leader >= 0 &&
	    !ids_contain(cp->replicas.ids, cp->replicas.n, cp->leader)) {
		ns->leader = -1;
		for (int i = 0; i < cp->replicas.n && ns->leader < 0; i++) {
			int32_t r = cp->replicas.ids[i];

			if (ctl_is_eligible(ctl, r) &&
			    ids_contain(ns->isr, ns->n_isr, r))
				ns->leader = r;
		}
	}
	ns->leader_epoch = cp->leader_epoch + 1;
	ns->is_new = false;
	return 1;
}

/*
 * Phase B; memory already holds RS = TRS. Leader: the current one if it
 * is in TRS and may lead, else the first live in-sync replica of TRS (the
 * reassignment election); ISR: the ISR within TRS.
 */
static int decide_complete(controller_t *ctl, struct ctl_topic *t, int p,
			   int idx, struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];
	int32_t leader = -1;

	(void)idx;
	(void)arg;
	if (!cp->has_state || cp->replicas.n > MAXR ||
	    !subset(cp->replicas.ids, cp->replicas.n, cp->isr.ids, cp->isr.n))
		return 0;
	if (cp->leader >= 0 &&
	    ids_contain(cp->replicas.ids, cp->replicas.n, cp->leader) &&
	    ctl_is_eligible(ctl, cp->leader))
		leader = cp->leader;
	for (int i = 0; i < cp->replicas.n && leader < 0; i++)
		if (ctl_is_eligible(ctl, cp->replicas.ids[i]))
			leader = cp->replicas.ids[i];
	if (leader < 0)
		return 0; /* no target replica can lead yet */
	ns->n_isr = 0;
	for (int i = 0; i < cp->isr.n && ns->n_isr < MAXR; i++)
		if (ids_contain(cp->replicas.ids, cp->replicas.n,
				cp->isr.ids[i]))
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	ns->leader = leader;
	ns->leader_epoch = cp->leader_epoch + 1;
	ns->is_new = false;
	return 1;
}

/* StopReplica(delete) to the live brokers of ids (ids may be cp->dropped). */
static void stop_replicas(controller_t *ctl, struct ctl_topic *t, int p,
			  const int32_t *ids, int n)
{
	for (int i = 0; i < n; i++) {
		if (!ctl_is_live(ctl, ids[i])) {
			log_warn(CTL_FAC,
				 "topic=%s partition=%d: broker %" PRId32
				 " is down; its removed replica stays on its "
				 "disk",
				 t->name, p, ids[i]);
			continue;
		}
		ctl_batch_stop(ctl, ids[i], t, p, true);
	}
}

/* ------------------------------------------------------------- the znode */

/*
 * Removes the entries of /admin/reassign_partitions whose partition is no
 * longer being reassigned to the listed replicas (done, failed,
 * cancelled or replaced by a newer request); deletes the node when
 * nothing is left. Only when this controller handled the node.
 */
static void prune_znode(controller_t *ctl)
{
	struct zk_reassign_list l = {NULL, 0};
	char *data = NULL, why[256];
	struct Stat st;
	int len, rc, kept = 0;
	bool fenced = false;

	if (!ctl->reassign_czxid || !atomic_load(&ctl->active))
		return;
	rc = zk_get(ctl->zs, ZK_PATH_REASSIGN, NULL, &data, &len, &st);
	if (rc == ZNONODE) {
		ctl->reassign_czxid = 0;
		return;
	}
	if (rc != ZOK || st.czxid != ctl->reassign_czxid) {
		free(data);
		return;
	}
	if (zkdata_reassign_decode(data, (size_t)len, &l, why, sizeof(why)) <
	    0) {
		free(data);
		return; /* handled when it was created */
	}
	free(data);
	for (int i = 0; i < l.n; i++) {
		struct ctl_topic *t = ctl_topic_find(ctl, l.v[i].topic);
		const struct ctl_part *cp;
		struct idset trs;
		bool keep = false;

		if (t && l.v[i].partition >= 0 &&
		    l.v[i].partition < t->n_parts) {
			cp = &t->parts[l.v[i].partition];
			target_of(cp, &trs);
			keep = ctl_part_reassigning(cp) &&
			       same_list(trs.v, trs.n, l.v[i].replicas.ids,
					 l.v[i].replicas.n);
		}
		if (keep) {
			l.v[kept++] = l.v[i];
		} else {
			free(l.v[i].topic);
			free(l.v[i].replicas.ids);
		}
	}
	if (kept == l.n) {
		zkdata_reassign_free(&l);
		return;
	}
	l.n = kept;
	if (kept == 0) {
		rc = ctl_zk_one(ctl, ZOO_DELETE_OP, ZK_PATH_REASSIGN, NULL, -1,
				st.version, &fenced);
		if (rc == ZOK || rc == ZNONODE) {
			log_info(CTL_FAC, "%s is done; removed it",
				 ZK_PATH_REASSIGN);
			ctl->reassign_czxid = 0;
		}
	} else {
		char *js = zkdata_reassign_encode(&l);

		if (js)
			rc = ctl_zk_one(ctl, ZOO_SETDATA_OP, ZK_PATH_REASSIGN,
					js, (int)strlen(js), st.version,
					&fenced);
		free(js);
	}
	zkdata_reassign_free(&l);
	if (fenced)
		ctl_resign(ctl, "a newer controller exists");
	/* A lost race (BADVERSION) is pruned at the next progress. */
}

/* ------------------------------------------------------------- applying */

struct tplist {
	struct ctl_tpref *v;
	int n, cap;
};

static int tpl_add(struct tplist *l, struct ctl_topic *t, int p)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 32;
		struct ctl_tpref *v = realloc(l->v, (size_t)cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct ctl_tpref){t, p, false, false};
	return 0;
}

static void dropped_add(struct ctl_part *cp, const struct idset *d)
{
	struct idset all;

	all.n = 0;
	for (int i = 0; i < cp->dropped.n; i++)
		set_add(&all, cp->dropped.ids[i]);
	for (int i = 0; i < d->n; i++)
		set_add(&all, d->v[i]);
	if (zkdata_replicas_set(&cp->dropped, all.v, all.n) < 0)
		log_error(CTL_FAC, "out of memory recording removed replicas");
}

/*
 * Phase U for every plan that changes an assignment: one write per topic,
 * then memory. Plans whose write failed get an error. Returns ERR_FENCED
 * when this controller must resign, else 0.
 */
static int apply_plans(controller_t *ctl, struct plan *pl, int n)
{
	struct assign_upd *u = calloc((size_t)n + 1, sizeof(*u));
	int *idx = calloc((size_t)n + 1, sizeof(int));
	bool *done = calloc((size_t)n + 1, sizeof(bool));
	int ret = 0;

	if (!u || !idx || !done) {
		for (int i = 0; i < n; i++)
			if (pl[i].err == E(NONE) && pl[i].changed)
				plan_fail(&pl[i], E(UNKNOWN_SERVER_ERROR),
					  "Out of memory.");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct ctl_topic *t = pl[i].t;
		int k = 0, rc;

		if (done[i] || pl[i].err != E(NONE) || !pl[i].changed)
			continue;
		/* Every changing plan of this topic, in one write. */
		for (int j = i; j < n; j++) {
			if (done[j] || pl[j].t != t || pl[j].err != E(NONE) ||
			    !pl[j].changed)
				continue;
			done[j] = true;
			idx[k] = j;
			u[k] = (struct assign_upd){
			    .p = pl[j].p,
			    .rs = pl[j].rs.v,
			    .ar = pl[j].ar.v,
			    .rr = pl[j].rr.v,
			    .orig = pl[j].orig.v,
			    .n_rs = pl[j].rs.n,
			    .n_ar = pl[j].ar.n,
			    .n_rr = pl[j].rr.n,
			    .n_orig = pl[j].orig.n,
			};
			k++;
		}
		rc = write_topic(ctl, t, u, k);
		if (rc == ERR_FENCED) {
			ret = ERR_FENCED;
			for (int j = 0; j < n; j++)
				if (pl[j].err == E(NONE) && !pl[j].applied)
					plan_fail(&pl[j], E(NOT_CONTROLLER),
						  "The controller moved.");
			goto out;
		}
		for (int m = 0; m < k; m++) {
			struct plan *x = &pl[idx[m]];
			struct ctl_part *cp = &t->parts[x->p];
			char from[256], to[256];

			if (rc < 0) {
				plan_fail(x, E(UNKNOWN_SERVER_ERROR),
					  "Could not write the assignment to "
					  "ZooKeeper: %s.",
					  err_str(rc));
				continue;
			}
			fmt_ids(from, sizeof(from), cp->replicas.ids,
				cp->replicas.n);
			if (zkdata_replicas_set(&cp->replicas, x->rs.v,
						x->rs.n) < 0 ||
			    zkdata_replicas_set(&cp->adding, x->ar.v, x->ar.n) <
				0 ||
			    zkdata_replicas_set(&cp->removing, x->rr.v,
						x->rr.n) < 0 ||
			    zkdata_replicas_set(&cp->original, x->orig.v,
						x->orig.n) < 0)
				log_error(CTL_FAC, "out of memory applying a "
						   "reassignment");
			dropped_add(cp, &x->dropped);
			cp->reassign_kick = true;
			x->applied = true;
			fmt_ids(to, sizeof(to), x->rs.v, x->rs.n);
			log_info(CTL_FAC,
				 "topic=%s partition=%d: replicas [%s] -> "
				 "[%s] (adding %d, removing %d)",
				 t->name, x->p, from, to, x->ar.n, x->rr.n);
		}
	}
out:
	if (ret == 0)
		ctl->reassign_dirty = true;
	free(u);
	free(idx);
	free(done);
	return ret;
}

struct saved {
	struct zk_replicas rs, ar, rr, orig;
};

static void saved_free(struct saved *s)
{
	free(s->rs.ids);
	free(s->ar.ids);
	free(s->rr.ids);
	free(s->orig.ids);
}

/* Restores a partition's running reassignment (takes s's lists). */
static void restore(struct ctl_part *cp, struct saved *s)
{
	free(cp->replicas.ids);
	free(cp->adding.ids);
	free(cp->removing.ids);
	free(cp->original.ids);
	cp->replicas = s->rs;
	cp->adding = s->ar;
	cp->removing = s->rr;
	cp->original = s->orig;
	memset(s, 0, sizeof(*s));
}

/*
 * Phase B for the partitions of l (all reassigning with TRS in the ISR).
 * Returns ERR_FENCED or 0; true in *any when one completed.
 */
static int complete(controller_t *ctl, struct tplist *l, bool *any)
{
	struct saved *sv = calloc((size_t)l->n + 1, sizeof(*sv));
	int *res = calloc((size_t)l->n + 1, sizeof(int));
	struct assign_upd *u = calloc((size_t)l->n + 1, sizeof(*u));
	int *idx = calloc((size_t)l->n + 1, sizeof(int));
	bool *done = calloc((size_t)l->n + 1, sizeof(bool));
	int ret = 0;

	if (!sv || !res || !u || !idx || !done) {
		ret = ERR_NOMEM;
		goto out;
	}
	/* B2: RS = TRS in memory, so the LeaderAndIsr goes to TRS only. */
	for (int i = 0; i < l->n; i++) {
		struct ctl_part *cp = &l->v[i].t->parts[l->v[i].p];
		struct idset trs;

		target_of(cp, &trs);
		sv[i].rs = cp->replicas;
		sv[i].ar = cp->adding;
		sv[i].rr = cp->removing;
		sv[i].orig = cp->original;
		memset(&cp->replicas, 0, sizeof(cp->replicas));
		memset(&cp->adding, 0, sizeof(cp->adding));
		memset(&cp->removing, 0, sizeof(cp->removing));
		memset(&cp->original, 0, sizeof(cp->original));
		if (zkdata_replicas_set(&cp->replicas, trs.v, trs.n) < 0) {
			restore(cp, &sv[i]);
			done[i] = true;
		}
	}
	ret =
	    ctl_update_partitions(ctl, l->v, l->n, decide_complete, NULL, res);
	for (int i = 0; i < l->n; i++) {
		if (done[i])
			continue;
		if (ret < 0 || res[i] != 1) {
			restore(&l->v[i].t->parts[l->v[i].p], &sv[i]);
			done[i] = true;
		}
	}
	if (ret == ERR_FENCED)
		goto out;
	if (ret < 0)
		schedule_retry(ctl);
	ret = 0;
	/* B6: the final assignment, one write per topic. */
	for (int i = 0; i < l->n; i++) {
		struct ctl_topic *t = l->v[i].t;
		int k = 0, rc;

		if (done[i])
			continue;
		for (int j = i; j < l->n; j++) {
			const struct ctl_part *cp;

			if (done[j] || l->v[j].t != t)
				continue;
			cp = &t->parts[l->v[j].p];
			done[j] = true;
			idx[k] = j;
			u[k] = (struct assign_upd){
			    .p = l->v[j].p,
			    .rs = cp->replicas.ids,
			    .n_rs = cp->replicas.n,
			};
			k++;
		}
		rc = write_topic(ctl, t, u, k);
		if (rc == ERR_FENCED) {
			ret = ERR_FENCED;
			goto out;
		}
		for (int m = 0; m < k; m++) {
			int j = idx[m], p = l->v[j].p;
			struct ctl_part *cp = &t->parts[p];
			char to[256];

			if (rc < 0) {
				log_warn(CTL_FAC,
					 "topic=%s partition=%d: cannot write "
					 "the final assignment (%s); retrying",
					 t->name, p, err_str(rc));
				restore(cp, &sv[j]);
				schedule_retry(ctl);
				continue;
			}
			/* B4/B5: removed replicas stop and are deleted. */
			stop_replicas(ctl, t, p, sv[j].rr.ids, sv[j].rr.n);
			stop_replicas(ctl, t, p, cp->dropped.ids,
				      cp->dropped.n);
			free(cp->dropped.ids);
			memset(&cp->dropped, 0, sizeof(cp->dropped));
			cp->reassign_kick = false;
			fmt_ids(to, sizeof(to), cp->replicas.ids,
				cp->replicas.n);
			log_info(CTL_FAC,
				 "topic=%s partition=%d: reassignment done, "
				 "replicas [%s], leader %" PRId32
				 ", leader epoch %" PRId32,
				 t->name, p, to, cp->leader, cp->leader_epoch);
			*any = true;
		}
	}
out:
	for (int i = 0; sv && i < l->n; i++)
		saved_free(&sv[i]);
	free(sv);
	free(res);
	free(u);
	free(idx);
	free(done);
	return ret;
}

/*
 * Phase A for the partitions of l. Returns ERR_FENCED or 0; true in *any
 * when a change without replicas to add or remove (a cancellation, a new
 * order) is thereby finished.
 */
static int start(controller_t *ctl, struct tplist *l, bool *any)
{
	int *res = calloc((size_t)l->n + 1, sizeof(int));
	int ret;

	if (!res)
		return ERR_NOMEM;
	ret = ctl_update_partitions(ctl, l->v, l->n, decide_start, NULL, res);
	for (int i = 0; i < l->n && ret != ERR_FENCED; i++) {
		struct ctl_topic *t = l->v[i].t;
		struct ctl_part *cp = &t->parts[l->v[i].p];

		/* Not written: the kick stays for the next progress. */
		if (res[i] != 1)
			continue;
		cp->reassign_kick = false;
		stop_replicas(ctl, t, l->v[i].p, cp->dropped.ids,
			      cp->dropped.n);
		free(cp->dropped.ids);
		memset(&cp->dropped, 0, sizeof(cp->dropped));
		if (!ctl_part_reassigning(cp))
			*any = true;
	}
	if (ret < 0 && ret != ERR_FENCED)
		schedule_retry(ctl);
	free(res);
	return ret == ERR_FENCED ? ret : 0;
}

void ctl_reassign_progress(controller_t *ctl)
{
	struct tplist a = {0}, b = {0};
	bool any = false, pending = false;
	int ret = 0;

	if (!ctl->reassign_dirty || !atomic_load(&ctl->active))
		return;
	ctl->reassign_dirty = false;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++) {
			struct ctl_part *cp = &t->parts[p];
			struct idset trs;
			bool moving = ctl_part_reassigning(cp);

			if (!moving && !cp->reassign_kick)
				continue;
			pending = true;
			if (!cp->has_state)
				continue;
			target_of(cp, &trs);
			if (moving &&
			    subset(trs.v, trs.n, cp->isr.ids, cp->isr.n))
				ret = tpl_add(&b, t, p);
			else if (cp->reassign_kick)
				ret = tpl_add(&a, t, p);
			if (ret < 0)
				goto out;
		}
	}
	/* Something is still running: look again at the next event. */
	ctl->reassign_dirty = pending;
	if (a.n > 0 && start(ctl, &a, &any) == ERR_FENCED)
		goto out;
	if (b.n > 0 && complete(ctl, &b, &any) == ERR_FENCED)
		goto out;
	if (any) {
		prune_znode(ctl);
		/* Deletions that waited for the reassignment. */
		if (atomic_load(&ctl->active))
			ctl_resume_deletion(ctl);
	}
out:
	if (ret < 0)
		schedule_retry(ctl);
	free(a.v);
	free(b.v);
}

/* ------------------------------------------------------------- triggers */

/* A topic being deleted may only have its reassignment cancelled. */
static struct ctl_topic *find_part(controller_t *ctl, const char *topic,
				   int32_t p, bool cancel)
{
	struct ctl_topic *t = ctl_topic_find(ctl, topic);

	if (!t || p < 0 || p >= t->n_parts || (t->deleting && !cancel))
		return NULL;
	return t;
}

int ctl_on_reassign_znode(controller_t *ctl)
{
	struct zk_reassign_list l = {NULL, 0};
	struct plan *pl = NULL;
	char *data = NULL, why[256];
	struct Stat st;
	int len, rc, n = 0, ret = 0, failed = 0;

	rc = zk_exists(ctl->zs, ZK_PATH_REASSIGN, ctl->w_reassign, &st);
	if (rc == ZNONODE) {
		ctl->reassign_czxid = 0;
		return 0; /* the exists watch is armed */
	}
	if (rc != ZOK)
		return ERR_ZK;
	if (st.czxid == ctl->reassign_czxid)
		return 0; /* a rewrite of a node already handled */
	rc = zk_get(ctl->zs, ZK_PATH_REASSIGN, NULL, &data, &len, &st);
	if (rc == ZNONODE)
		return 0;
	if (rc != ZOK)
		return ERR_ZK;
	ctl->reassign_czxid = st.czxid;
	if (zkdata_reassign_decode(data, (size_t)len, &l, why, sizeof(why)) <
	    0) {
		bool fenced;

		log_error(CTL_FAC, "removing %s, which cannot be used: %s",
			  ZK_PATH_REASSIGN, why);
		free(data);
		ctl_zk_one(ctl, ZOO_DELETE_OP, ZK_PATH_REASSIGN, NULL, -1,
			   st.version, &fenced);
		ctl->reassign_czxid = 0;
		return fenced ? ERR_FENCED : 0;
	}
	free(data);
	pl = calloc((size_t)l.n + 1, sizeof(*pl));
	if (!pl) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < l.n; i++) {
		struct plan *x = &pl[n];
		bool dup = false;

		memset(x, 0, sizeof(*x));
		x->t = find_part(ctl, l.v[i].topic, l.v[i].partition, false);
		x->p = l.v[i].partition;
		for (int j = 0; j < n && !dup; j++)
			dup = pl[j].t && pl[j].t == x->t && pl[j].p == x->p;
		if (!x->t)
			plan_fail(x, E(UNKNOWN_TOPIC_OR_PARTITION),
				  "The partition does not exist.");
		else if (dup)
			plan_fail(x, E(INVALID_REQUEST),
				  "The partition is listed twice.");
		else
			plan_build(ctl, x, l.v[i].replicas.ids,
				   l.v[i].replicas.n, false);
		if (x->err != E(NONE)) {
			log_warn(CTL_FAC,
				 "%s: topic=%s partition=%" PRId32
				 " not reassigned: %s",
				 ZK_PATH_REASSIGN, l.v[i].topic,
				 l.v[i].partition, x->msg);
			failed++;
			continue;
		}
		n++;
	}
	log_info(CTL_FAC, "%s: %d partitions to reassign, %d refused",
		 ZK_PATH_REASSIGN, n, failed);
	ret = apply_plans(ctl, pl, n);
	/* Refused entries, and entries already in place, leave the node. */
	if (ret == 0) {
		ctl_reassign_progress(ctl);
		prune_znode(ctl);
	}
out:
	zkdata_reassign_free(&l);
	free(pl);
	return ret;
}

void ctl_reassign_failover(controller_t *ctl)
{
	int n = 0;

	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++) {
			struct ctl_part *cp = &t->parts[p];

			/* Phase A again: the leader may not know RS yet. */
			if (ctl_part_reassigning(cp)) {
				cp->reassign_kick = true;
				n++;
			}
		}
	}
	if (n > 0)
		log_info(CTL_FAC, "resuming %d partition reassignments", n);
	ctl->reassign_czxid = 0;
	ctl->reassign_dirty = true;
	if (ctl_on_reassign_znode(ctl) == ERR_FENCED) {
		ctl_resign(ctl, "a newer controller exists");
		return;
	}
	ctl_reassign_progress(ctl);
	prune_znode(ctl);
}

/* ------------------------------------------------------------- requests */

static char *arena_str(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = arena_alloc(a, n);

	if (c)
		memcpy(c, s, n);
	return c;
}

static int32_t *arena_ids(struct arena *a, const int32_t *ids, int n)
{
	int32_t *v = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(*v));

	if (v && n > 0)
		memcpy(v, ids, (size_t)n * sizeof(*v));
	return v;
}

void ctl_handle_alter_reassignments(
    controller_t *ctl, const Fluxo__AlterPartitionReassignmentsRequest *req,
    Fluxo__Response *resp, struct arena *a)
{
	Fluxo__AlterPartitionReassignmentsResponse *r =
	    arena_alloc(a, sizeof(*r));
	size_t n = req->n_partitions;
	struct plan *pl = NULL;
	int ret;

	if (!r)
		return;
	fluxo__alter_partition_reassignments_response__init(r);
	resp->body_case = FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS;
	resp->alter_partition_reassignments = r;
	pl = calloc(n + 1, sizeof(*pl));
	r->results = arena_alloc(a, (n + 1) * sizeof(void *));
	if (!pl || !r->results) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const Fluxo__ReassignablePartition *rp = req->partitions[i];
		struct plan *x = &pl[i];
		bool cancel = rp->cancel || rp->n_replicas == 0;

		x->t = find_part(ctl, rp->topic ? rp->topic : "", rp->partition,
				 cancel);
		x->p = rp->partition;
		if (!x->t) {
			plan_fail(x, E(UNKNOWN_TOPIC_OR_PARTITION),
				  "The partition does not exist.");
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (pl[j].t == x->t && pl[j].p == x->p) {
				plan_fail(x, E(INVALID_REQUEST),
					  "The partition is listed twice.");
				break;
			}
		if (x->err == E(NONE))
			plan_build(ctl, x, rp->replicas, (int)rp->n_replicas,
				   cancel);
	}
	ret = apply_plans(ctl, pl, (int)n);
	if (ret == ERR_FENCED) {
		ctl_resign(ctl, "a newer controller exists");
		r->error = E(NOT_CONTROLLER);
		goto out;
	}
	ctl_reassign_progress(ctl);
	/* The latest request wins over the znode's entries. */
	prune_znode(ctl);
	for (size_t i = 0; i < n; i++) {
		Fluxo__ReassignmentResult *rr = arena_alloc(a, sizeof(*rr));

		if (!rr) {
			r->error = E(UNKNOWN_SERVER_ERROR);
			break;
		}
		fluxo__reassignment_result__init(rr);
		rr->topic = req->partitions[i]->topic;
		rr->partition = req->partitions[i]->partition;
		rr->error = pl[i].err;
		if (pl[i].err != E(NONE))
			rr->error_message = arena_str(a, pl[i].msg);
		r->results[r->n_results++] = rr;
	}
out:
	free(pl);
}

static bool wanted(const Fluxo__ListPartitionReassignmentsRequest *req,
		   const char *topic, int32_t p)
{
	if (req->n_topic_partitions == 0)
		return true;
	for (size_t i = 0; i < req->n_topic_partitions; i++) {
		const Fluxo__TopicPartitions *tp = req->topic_partitions[i];

		if (!tp->topic || strcmp(tp->topic, topic) != 0)
			continue;
		for (size_t j = 0; j < tp->n_partitions; j++)
			if (tp->partitions[j] == p)
				return true;
	}
	return false;
}

void ctl_handle_list_reassignments(
    controller_t *ctl, const Fluxo__ListPartitionReassignmentsRequest *req,
    Fluxo__Response *resp, struct arena *a)
{
	Fluxo__ListPartitionReassignmentsResponse *r =
	    arena_alloc(a, sizeof(*r));
	size_t n = 0, k = 0;

	if (!r)
		return;
	fluxo__list_partition_reassignments_response__init(r);
	resp->body_case = FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS;
	resp->list_partition_reassignments = r;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts; p++)
			n += ctl_part_reassigning(&t->parts[p]);
	}
	r->reassignments = arena_alloc(a, (n + 1) * sizeof(void *));
	if (!r->reassignments) {
		r->error = E(UNKNOWN_SERVER_ERROR);
		return;
	}
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		for (int p = 0; p < t->n_parts && k < n; p++) {
			const struct ctl_part *cp = &t->parts[p];
			Fluxo__OngoingReassignment *o;

			if (!ctl_part_reassigning(cp) ||
			    !wanted(req, t->name, p))
				continue;
			o = arena_alloc(a, sizeof(*o));
			if (!o) {
				r->error = E(UNKNOWN_SERVER_ERROR);
				return;
			}
			fluxo__ongoing_reassignment__init(o);
			o->topic = t->name;
			o->partition = p;
			o->replicas =
			    arena_ids(a, cp->replicas.ids, cp->replicas.n);
			o->n_replicas = (size_t)cp->replicas.n;
			o->adding_replicas =
			    arena_ids(a, cp->adding.ids, cp->adding.n);
			o->n_adding_replicas = (size_t)cp->adding.n;
			o->removing_replicas =
			    arena_ids(a, cp->removing.ids, cp->removing.n);
			o->n_removing_replicas = (size_t)cp->removing.n;
			if (!o->replicas || !o->adding_replicas ||
			    !o->removing_replicas) {
				r->error = E(UNKNOWN_SERVER_ERROR);
				return;
			}
			r->reassignments[k++] = o;
		}
	}
	r->n_reassignments = k;
}
