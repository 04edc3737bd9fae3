/*
 * controller_psm.c - partition state changes and leader elections.
 *
 * Every change to a partition's leader or ISR goes through
 * ctl_update_partitions(): a decide function proposes the new state from
 * the cached one, the proposals are written as one fenced batch, and only
 * the writes that succeeded are applied to memory and announced
 * (LeaderAndIsr to the replicas, UpdateMetadata to every broker). A write
 * that fails because the znode changed underneath (zkVersion) makes the
 * partition's state be re-read and the decision taken again on the fresh
 * state, as Kafka's PartitionStateMachine does; after a few rounds it is
 * left for the next event.
 *
 * Elections (reference section 2.3):
 *  - new partition: leader = first live replica, ISR = live replicas,
 *    leader epoch 0, state znode created;
 *  - offline: first replica in assignment order that is live and in the
 *    ISR; ISR = ISR minus brokers that are not live; if none, the first
 *    live replica when unclean election is enabled for the topic, else no
 *    leader (-1) keeping the ISR's last members so that one of them can
 *    lead again when it returns;
 *  - preferred: replica 0 if it is live and in the ISR.
 * "Live" for leadership excludes brokers in controlled shutdown. Every
 * change of leader or of ISR made by the controller bumps the leader epoch.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define MAX_ROUNDS 3
#define E(x)	   FLUXO__ERROR_CODE__##x

static bool isr_has(const struct ctl_part *cp, int32_t id)
{
	return ids_contain(cp->isr.ids, cp->isr.n, id);
}

bool ctl_unclean_allowed(controller_t *ctl, struct ctl_topic *t)
{
	struct zk_entity_config cfg;
	char path[ZKPATH_MAX], *data = NULL, why[256];
	bool allowed = ctl->cfg.unclean_leader_election_enable;
	const char *v;
	int len;

	/* One read per topic per event, however many partitions ask. */
	if (t->unclean_seq == ctl->event_seq + 1)
		return t->unclean;
	zkpath_config(path, sizeof(path), ZK_ENTITY_TOPICS, t->name);
	if (zk_get(ctl->zs, path, NULL, &data, &len, NULL) != ZOK || len == 0)
		goto out;
	if (zkdata_config_decode(data, (size_t)len, &cfg, why, sizeof(why)) <
	    0) {
		log_warn(CTL_FAC, "topic=%s: %s", t->name, why);
		goto out;
	}
	v = zkdata_config_get(&cfg, "unclean.leader.election.enable");
	if (v)
		allowed = strcmp(v, "true") == 0;
	zkdata_config_free(&cfg);
out:
	free(data);
	t->unclean = allowed;
	t->unclean_seq = ctl->event_seq + 1;
	return allowed;
}

/* Returns 1 with ns filled, 0 when nothing changes. */
int ctl_elect_one_offline(controller_t *ctl, struct ctl_topic *t, int p,
			  struct ctl_newstate *ns, bool force_unclean)
{
	struct ctl_part *cp = &t->parts[p];
	int32_t leader = -1;

	for (int i = 0; i < cp->replicas.n; i++) {
		int32_t r = cp->replicas.ids[i];

		if (ctl_is_eligible(ctl, r) && isr_has(cp, r)) {
			leader = r;
			break;
		}
	}
	ns->n_isr = 0;
	ns->leader_epoch = cp->leader_epoch + 1;
	ns->is_new = false;
	if (leader >= 0) {
		ns->leader = leader;
		for (int i = 0; i < cp->isr.n && ns->n_isr < 64; i++)
			if (ctl_is_eligible(ctl, cp->isr.ids[i]))
				ns->isr[ns->n_isr++] = cp->isr.ids[i];
		return 1;
	}
	for (int i = 0; i < cp->replicas.n; i++)
		if (ctl_is_eligible(ctl, cp->replicas.ids[i])) {
			leader = cp->replicas.ids[i];
			break;
		}
	if (leader >= 0 && (force_unclean || ctl_unclean_allowed(ctl, t))) {
		log_warn(CTL_FAC,
			 "unclean leader election: topic=%s partition=%d "
			 "leader=%" PRId32
			 " is not in the ISR; records may be lost",
			 t->name, p, leader);
		atomic_fetch_add(&ctl->unclean_elections, 1);
		ns->leader = leader;
		ns->isr[ns->n_isr++] = leader;
		return 1;
	}
	/* No eligible leader: the partition is offline. */
	if (cp->leader == -1)
		return 0;
	ns->leader = -1;
	for (int i = 0; i < cp->isr.n && ns->n_isr < 64; i++)
		if (ctl_is_live(ctl, cp->isr.ids[i]))
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	if (ns->n_isr == 0)
		for (int i = 0; i < cp->isr.n && ns->n_isr < 64; i++)
			ns->isr[ns->n_isr++] = cp->isr.ids[i];
	log_warn(
	    CTL_FAC,
	    "topic=%s partition=%d has no live in-sync replica and is offline",
	    t->name, p);
	return 1;
}

int ctl_decide_online(controller_t *ctl, struct ctl_topic *t, int p, int idx,
		      struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];
	bool force_unclean = arg && *(bool *)arg;

	(void)idx;
	if (t->deleting || cp->replicas.n > 64)
		return 0;
	if (!cp->has_state) {
		ns->leader = -1;
		ns->n_isr = 0;
		for (int i = 0; i < cp->replicas.n; i++) {
			int32_t r = cp->replicas.ids[i];

			if (!ctl_is_eligible(ctl, r))
				continue;
			if (ns->leader < 0)
				ns->leader = r;
			ns->isr[ns->n_isr++] = r;
		}
		if (ns->leader < 0)
			return 0; /* retried when a replica starts */
		ns->leader_epoch = 0;
		ns->is_new = true;
		return 1;
	}
	if (cp->leader >= 0 && ctl_is_live(ctl, cp->leader))
		return 0;
	return ctl_elect_one_offline(ctl, t, p, ns, force_unclean);
}

int ctl_decide_preferred(controller_t *ctl, struct ctl_topic *t, int p, int idx,
			 struct ctl_newstate *ns, void *arg)
{
	struct ctl_part *cp = &t->parts[p];
	int32_t pref;

	(void)arg;
	(void)idx;
	if (t->deleting)
		return -E(UNKNOWN_TOPIC_OR_PARTITION);
	if (!cp->has_state || cp->replicas.n == 0 || cp->replicas.n > 64)
		return -E(PREFERRED_LEADER_NOT_AVAILABLE);
	pref = cp->replicas.ids[0];
	if (cp->leader == pref)
		return -E(ELECTION_NOT_NEEDED);
	if (!ctl_is_eligible(ctl, pref) || !isr_has(cp, pref))
		return -E(PREFERRED_LEADER_NOT_AVAILABLE);
	ns->leader = pref;
	ns->leader_epoch = cp->leader_epoch + 1;
	ns->n_isr = 0;
	for (int i = 0; i < cp->isr.n && i < 64; i++)
		ns->isr[ns->n_isr++] = cp->isr.ids[i];
	ns->is_new = false;
	return 1;
}

/* ------------------------------------------------------------- updating */

static char *encode_state(controller_t *ctl, const struct ctl_newstate *ns,
			  int *len)
{
	struct zk_partition_state s = {
	    .leader = ns->leader,
	    .leader_epoch = ns->leader_epoch,
	    .controller_epoch = atomic_load(&ctl->epoch),
	    .isr = (int32_t *)ns->isr,
	    .n_isr = ns->n_isr,
	};
	char *js = zkdata_state_encode(&s);

	*len = js ? (int)strlen(js) : 0;
	return js;
}

static void apply(controller_t *ctl, struct ctl_topic *t, int p,
		  const struct ctl_newstate *ns, int32_t zk_version)
{
	struct ctl_part *cp = &t->parts[p];
	bool was_new = !cp->has_state;

	if ((was_new || cp->leader != ns->leader) && ns->leader >= 0)
		atomic_fetch_add(&ctl->leader_elections, 1);
	if (zkdata_replicas_set(&cp->isr, ns->isr, ns->n_isr) < 0)
		log_error(CTL_FAC,
			  "out of memory updating topic=%s partition=%d",
			  t->name, p);
	cp->leader = ns->leader;
	cp->leader_epoch = ns->leader_epoch;
	cp->controller_epoch = atomic_load(&ctl->epoch);
	cp->zk_version = zk_version;
	cp->has_state = true;
	log_debug(CTL_FAC,
		  "topic=%s partition=%d leader=%" PRId32
		  " leader_epoch=%" PRId32 " isr_size=%d zk_version=%" PRId32,
		  t->name, p, ns->leader, ns->leader_epoch, ns->n_isr,
		  zk_version);
	if (was_new || !ns->no_lai)
		ctl_batch_lai(ctl, t, p, ns->is_new);
	ctl_batch_um(ctl, t, p);
}

/* Creates .../partitions for t (fenced). Returns false when fenced. */
static bool create_partitions_node(controller_t *ctl, struct ctl_topic *t)
{
	char path[ZKPATH_MAX];
	bool fenced;
	int rc;

	zkpath_partitions(path, sizeof(path), t->name);
	rc = ctl_zk_one(ctl, ZOO_CREATE_OP, path, NULL, -1, -1, &fenced);
	if (fenced)
		return false;
	if (rc != ZOK && rc != ZNODEEXISTS)
		log_warn(CTL_FAC, "cannot create %s: %s", path, zerror(rc));
	return true;
}

int ctl_update_partitions(controller_t *ctl, struct ctl_tpref *tps, int n,
			  ctl_decide_fn decide, void *arg, int *results)
{
	struct ctl_newstate *ns = calloc((size_t)n + 1, sizeof(*ns));
	int *todo = calloc((size_t)n + 1, sizeof(int));
	int *group_of = calloc((size_t)n + 1, sizeof(int));
	bool *need_pnode = calloc((size_t)n + 1, sizeof(bool));
	struct ctl_tpref *reread = calloc((size_t)n + 1, sizeof(*reread));
	int n_todo = n, ret = 0;

	if (!ns || !todo || !group_of || !need_pnode || !reread) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		todo[i] = i;
		need_pnode[i] = true;
		if (results)
			results[i] = 0;
	}
	for (int round = 0; round < MAX_ROUNDS && n_todo > 0; round++) {
		struct ctl_zbatch zb;
		int n_reread = 0, next_todo = 0;
		struct ctl_topic *missing_parent = NULL;

		ctl_zb_init(&zb);
		for (int k = 0; k < n_todo; k++) {
			int i = todo[k], rc, len;
			struct ctl_topic *t = tps[i].t;
			int p = tps[i].p;
			char path[ZKPATH_MAX], *js;

			group_of[i] = -1;
			if (t->removed || p >= t->n_parts)
				continue;
			memset(&ns[i], 0, sizeof(ns[i]));
			rc = decide(ctl, t, p, i, &ns[i], arg);
			if (results)
				results[i] = rc;
			if (rc <= 0)
				continue;
			js = encode_state(ctl, &ns[i], &len);
			if (!js) {
				ret = ERR_NOMEM;
				ctl_zb_free(&zb);
				goto out;
			}
			group_of[i] = ctl_zb_group(&zb);
			if (ns[i].is_new) {
				if (need_pnode[i]) {
					zkpath_partition(path, sizeof(path),
							 t->name, p);
					ctl_zb_add(&zb, ZOO_CREATE_OP, path,
						   NULL, -1, -1);
				}
				zkpath_partition_state(path, sizeof(path),
						       t->name, p);
				ctl_zb_add(&zb, ZOO_CREATE_OP, path, js, len,
					   -1);
			} else {
				zkpath_partition_state(path, sizeof(path),
						       t->name, p);
				ctl_zb_add(&zb, ZOO_SETDATA_OP, path, js, len,
					   t->parts[p].zk_version);
			}
		}
		if (zb.n == 0) {
			/* Nothing (left) to change. */
			ctl_zb_free(&zb);
			n_todo = 0;
			break;
		}
		ret = ctl_zk_run(ctl, &zb);
		if (ret < 0) {
			ctl_zb_free(&zb);
			if (ret == ERR_FENCED)
				ctl_resign(ctl,
					   "a newer controller exists "
					   "(fenced partition state write)");
			goto out;
		}
		for (int k = 0; k < n_todo; k++) {
			int i = todo[k], g = group_of[i], rc;
			struct ctl_topic *t = tps[i].t;
			int p = tps[i].p;

			if (g < 0)
				continue;
			rc = zb.group_rc[g];
			if (rc == ZOK) {
				int32_t ver = 0;

				/* The state op is the group's last. */
				for (int o = 0; o < zb.n; o++)
					if (zb.ops[o].group == g &&
					    zb.ops[o].type == ZOO_SETDATA_OP)
						ver = zb.ops[o].stat.version;
				apply(ctl, t, p, &ns[i], ver);
				if (results)
					results[i] = 1;
				continue;
			}
			if (results)
				results[i] = 0;
			if (rc == ZNONODE && ns[i].is_new && need_pnode[i]) {
				/* .../partitions is missing: create it. */
				if (missing_parent != t &&
				    !create_partitions_node(ctl, t)) {
					ctl_zb_free(&zb);
					ctl_resign(ctl,
						   "a newer controller exists");
					ret = ERR_FENCED;
					goto out;
				}
				missing_parent = t;
				todo[next_todo++] = i;
				continue;
			}
			if (rc == ZNODEEXISTS && ns[i].is_new)
				need_pnode[i] = false;
			if (rc == ZBADVERSION || rc == ZNODEEXISTS ||
			    rc == ZNONODE) {
				/* Changed underneath: re-read, decide again. */
				reread[n_reread++] = tps[i];
				todo[next_todo++] = i;
				continue;
			}
			log_error(CTL_FAC,
				  "cannot write the state of topic=%s "
				  "partition=%d: %s",
				  t->name, p, zerror(rc));
		}
		ctl_zb_free(&zb);
		if (n_reread > 0) {
			ret = ctl_read_states(ctl, reread, n_reread);
			if (ret < 0)
				goto out;
		}
		n_todo = next_todo;
	}
	if (n_todo > 0)
		log_warn(CTL_FAC,
			 "%d partition state changes did not settle; leaving "
			 "them to the next event",
			 n_todo);
out:
	free(ns);
	free(todo);
	free(group_of);
	free(need_pnode);
	free(reread);
	return ret;
}

int ctl_elect_offline(controller_t *ctl)
{
	struct ctl_tpref *tps = NULL;
	int n = 0, cap = 0, ret;

	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (t->deleting)
			continue;
		for (int p = 0; p < t->n_parts; p++) {
			struct ctl_part *cp = &t->parts[p];

			if (cp->has_state && cp->leader >= 0 &&
			    ctl_is_live(ctl, cp->leader))
				continue;
			if (cp->has_state && cp->leader < 0) {
				/* Offline: worth a try only if one can lead. */
				bool any = false;

				for (int r = 0; r < cp->replicas.n; r++)
					any |= ctl_is_eligible(
					    ctl, cp->replicas.ids[r]);
				if (!any)
					continue;
			}
			if (n == cap) {
				struct ctl_tpref *v;

				cap = cap ? cap * 2 : 64;
				v = realloc(tps, (size_t)cap * sizeof(*v));
				if (!v) {
					free(tps);
					return ERR_NOMEM;
				}
				tps = v;
			}
			tps[n].t = t;
			tps[n].p = p;
			tps[n].is_new = false;
			tps[n].del = false;
			n++;
		}
	}
	ret = n > 0 ? ctl_update_partitions(ctl, tps, n, ctl_decide_online,
					    NULL, NULL)
		    : 0;
	free(tps);
	return ret;
}
