/*
 * controller_delete.c - topic deletion (reference 2.8).
 *
 * A topic named under /admin/delete_topics is queued. It is deleted only
 * while every broker holding one of its replicas is live and none of its
 * partitions is being reassigned (otherwise it is "ineligible" and waits,
 * logged once, until a broker start or the reassignment's end resumes
 * it).
 * Deletion first tells every broker (UpdateMetadata with leader -2) so
 * clients stop using the topic, then sends StopReplica(delete=true) to
 * every replica. Each replica's answer is recorded; failures are retried
 * a second later. When every replica has answered, the controller removes
 * /config/topics/<t>, then /brokers/topics/<t> with its partition state
 * znodes, then the marker, all fenced, and tells brokers the topic is
 * gone. (Kafka removes the topic before its config; removing the config
 * first means a topic re-created under the same name the moment the old
 * one is gone can never lose its fresh config to the old deletion.)
 *
 * Everything is idempotent and restartable: the markers are the only
 * record, so a new controller simply starts again (StopReplica of a
 * replica already deleted succeeds), and a marker for a topic that no
 * longer exists is just removed.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"

#define RETRY_MS 1000

static void delete_marker(controller_t *ctl, const char *topic)
{
	char path[ZKPATH_MAX];
	bool fenced;
	int rc;

	if (zkpath_delete_topic(path, sizeof(path), topic) < 0)
		return;
	rc = ctl_zk_one(ctl, ZOO_DELETE_OP, path, NULL, -1, -1, &fenced);
	if (fenced)
		ctl_resign(ctl, "a newer controller exists");
	else if (rc != ZOK && rc != ZNONODE)
		log_warn(CTL_FAC, "cannot delete %s: %s", path, zerror(rc));
}

int ctl_on_delete_topics(controller_t *ctl)
{
	struct String_vector kids;
	int rc;

	rc = zk_children(ctl->zs, ZK_PATH_DELETE_TOPICS, ctl->w_delete, &kids);
	if (rc == ZNONODE) {
		zk_exists(ctl->zs, ZK_PATH_DELETE_TOPICS, ctl->w_delete, NULL);
		return 0;
	}
	if (rc != ZOK)
		return ERR_ZK;
	for (int i = 0; i < kids.count && atomic_load(&ctl->active); i++) {
		struct ctl_topic *t = ctl_topic_find(ctl, kids.data[i]);

		if (!t) {
			log_info(CTL_FAC,
				 "removing the deletion marker of %s, which "
				 "does not exist",
				 kids.data[i]);
			delete_marker(ctl, kids.data[i]);
		} else if (!ctl->cfg.delete_topic_enable) {
			log_warn(CTL_FAC,
				 "ignoring the deletion of %s: "
				 "delete.topic.enable is false",
				 kids.data[i]);
			delete_marker(ctl, kids.data[i]);
		} else if (!t->deleting) {
			log_info(CTL_FAC, "topic %s queued for deletion",
				 t->name);
			t->deleting = true;
		}
	}
	deallocate_String_vector(&kids);
	if (atomic_load(&ctl->active))
		ctl_resume_deletion(ctl);
	return 0;
}

static bool all_replicas_live(controller_t *ctl, struct ctl_topic *t,
			      int32_t *dead)
{
	for (int p = 0; p < t->n_parts; p++)
		for (int r = 0; r < t->parts[p].replicas.n; r++)
			if (!ctl_is_live(ctl, t->parts[p].replicas.ids[r])) {
				*dead = t->parts[p].replicas.ids[r];
				return false;
			}
	return true;
}

static bool all_done(struct ctl_topic *t)
{
	for (int p = 0; p < t->n_parts; p++) {
		const struct ctl_part *cp = &t->parts[p];

		for (int r = 0; r < cp->replicas.n; r++)
			if (!cp->del || cp->del[r] != DEL_DONE)
				return false;
	}
	return true;
}

/* Lists every node under path, children first, into zb (one group). */
static int add_subtree(controller_t *ctl, struct ctl_zbatch *zb,
		       const char *path, int depth)
{
	struct String_vector kids;
	int rc;

	if (depth > 8)
		return ZSYSTEMERROR;
	rc = zk_children(ctl->zs, path, NULL, &kids);
	if (rc == ZNONODE)
		return ZOK;
	if (rc != ZOK)
		return rc;
	for (int i = 0; i < kids.count && rc == ZOK; i++) {
		char child[ZKPATH_MAX];

		if (snprintf(child, sizeof(child), "%s/%s", path,
			     kids.data[i]) >= (int)sizeof(child))
			continue;
		rc = add_subtree(ctl, zb, child, depth + 1);
	}
	deallocate_String_vector(&kids);
	if (rc == ZOK)
		ctl_zb_add(zb, ZOO_DELETE_OP, path, NULL, -1, -1);
	return rc;
}

/* The layout fluxo writes: state, partition, partitions, topic. */
static void add_known_tree(struct ctl_zbatch *zb, struct ctl_topic *t)
{
	char path[ZKPATH_MAX];

	for (int p = 0; p < t->n_parts; p++) {
		if (t->parts[p].has_state) {
			zkpath_partition_state(path, sizeof(path), t->name, p);
			ctl_zb_add(zb, ZOO_DELETE_OP, path, NULL, -1, -1);
		}
		zkpath_partition(path, sizeof(path), t->name, p);
		ctl_zb_add(zb, ZOO_DELETE_OP, path, NULL, -1, -1);
	}
	zkpath_partitions(path, sizeof(path), t->name);
	ctl_zb_add(zb, ZOO_DELETE_OP, path, NULL, -1, -1);
	zkpath_topic(path, sizeof(path), t->name);
	ctl_zb_add(zb, ZOO_DELETE_OP, path, NULL, -1, -1);
}

/*
 * Removes the topic's znodes: its config overrides first (nobody reads
 * them any more), then the topic's tree, then the marker last, so a
 * retry after a failure finds the marker and starts over. Returns 0,
 * ERR_AGAIN (retry later) or ERR_FENCED.
 */
static int remove_znodes(controller_t *ctl, struct ctl_topic *t)
{
	char path[ZKPATH_MAX];
	struct ctl_zbatch zb;
	int ret;

	ctl_zb_init(&zb);
	ctl_zb_group(&zb);
	zkpath_config(path, sizeof(path), ZK_ENTITY_TOPICS, t->name);
	ctl_zb_add(&zb, ZOO_DELETE_OP, path, NULL, -1, -1);
	ret = ctl_zk_run(ctl, &zb);
	if (ret == 0 && zb.group_rc[0] != ZOK && zb.group_rc[0] != ZNONODE)
		ret = ERR_AGAIN;
	ctl_zb_free(&zb);
	if (ret < 0)
		return ret == ERR_FENCED ? ERR_FENCED : ERR_AGAIN;

	/* The tree as fluxo laid it out, in one multi. */
	ctl_zb_init(&zb);
	ctl_zb_group(&zb);
	add_known_tree(&zb, t);
	ret = ctl_zk_run(ctl, &zb);
	if (ret == 0 && zb.group_rc[0] != ZOK) {
		/* Someone else's layout: list what is really there. */
		int rc;

		ctl_zb_free(&zb);
		ctl_zb_init(&zb);
		ctl_zb_group(&zb);
		zkpath_topic(path, sizeof(path), t->name);
		rc = add_subtree(ctl, &zb, path, 0);
		ret = rc != ZOK ? ERR_ZK : zb.n ? ctl_zk_run(ctl, &zb) : 0;
		if (ret == 0 && zb.n && zb.group_rc[0] != ZOK &&
		    zb.group_rc[0] != ZNONODE)
			ret = ERR_AGAIN;
	}
	ctl_zb_free(&zb);
	if (ret < 0)
		return ret == ERR_FENCED ? ERR_FENCED : ERR_AGAIN;

	ctl_zb_init(&zb);
	ctl_zb_group(&zb);
	zkpath_delete_topic(path, sizeof(path), t->name);
	ctl_zb_add(&zb, ZOO_DELETE_OP, path, NULL, -1, -1);
	ret = ctl_zk_run(ctl, &zb);
	if (ret == 0 && zb.group_rc[0] != ZOK && zb.group_rc[0] != ZNONODE)
		ret = ERR_AGAIN;
	ctl_zb_free(&zb);
	if (ret < 0)
		return ret == ERR_FENCED ? ERR_FENCED : ERR_AGAIN;
	return 0;
}

static void complete(controller_t *ctl, struct ctl_topic *t)
{
	int ret = remove_znodes(ctl, t);

	if (ret == ERR_FENCED) {
		ctl_resign(ctl, "a newer controller exists");
		return;
	}
	if (ret < 0) {
		log_warn(CTL_FAC,
			 "could not remove the znodes of %s yet; "
			 "retrying",
			 t->name);
		ctl->next_delete_retry_ms = clock_mono_ms() + RETRY_MS;
		return;
	}
	log_info(CTL_FAC, "deleted topic %s", t->name);
	ctl_batch_um_deleted(ctl, t->name);
	ctl_topic_remove(ctl, t);
}

void ctl_resume_deletion(controller_t *ctl)
{
	struct ctl_topic **todo;
	int n = 0;

	if (!ctl->topics.n)
		return;
	todo = calloc(ctl->topics.n + 1, sizeof(*todo));
	if (!todo)
		return;
	strmap_foreach(&ctl->topics, i)
	{
		struct ctl_topic *t = ctl->topics.v[i].val;

		if (t->deleting)
			todo[n++] = t;
	}
	for (int k = 0; k < n && atomic_load(&ctl->active); k++) {
		struct ctl_topic *t = todo[k];
		int32_t dead = -1;

		if (!t->delete_started && ctl_topic_reassigning(t)) {
			if (!t->ineligible_logged)
				log_warn(CTL_FAC,
					 "deletion of %s waits for the "
					 "reassignment of its partitions",
					 t->name);
			t->ineligible_logged = true;
			continue;
		}
		if (!all_replicas_live(ctl, t, &dead)) {
			if (!t->ineligible_logged)
				log_warn(
				    CTL_FAC,
				    "deletion of %s waits for broker %" PRId32
				    ", which holds a replica and is not live",
				    t->name, dead);
			t->ineligible_logged = true;
			continue;
		}
		t->ineligible_logged = false;
		if (!t->delete_started) {
			t->delete_started = true;
			for (int p = 0; p < t->n_parts; p++)
				ctl_batch_um(ctl, t, p);
		}
		for (int p = 0; p < t->n_parts; p++) {
			struct ctl_part *cp = &t->parts[p];

			if (!cp->del && cp->replicas.n > 0) {
				cp->del = calloc((size_t)cp->replicas.n, 1);
				if (!cp->del)
					continue;
			}
			for (int r = 0; r < cp->replicas.n; r++) {
				if (cp->del[r] != DEL_NONE &&
				    cp->del[r] != DEL_FAILED)
					continue;
				ctl_batch_stop(ctl, cp->replicas.ids[r], t, p,
					       true);
				cp->del[r] = DEL_SENT;
			}
		}
		if (all_done(t))
			complete(ctl, t);
	}
	free(todo);
}

static void record(controller_t *ctl, int32_t broker, const char *topic,
		   int32_t p, bool ok)
{
	struct ctl_topic *t = ctl_topic_find(ctl, topic);
	struct ctl_part *cp;

	if (!t || !t->deleting || p < 0 || p >= t->n_parts)
		return;
	cp = &t->parts[p];
	for (int r = 0; cp->del && r < cp->replicas.n; r++)
		if (cp->replicas.ids[r] == broker && cp->del[r] == DEL_SENT)
			cp->del[r] = ok ? DEL_DONE : DEL_FAILED;
	if (!ok) {
		log_warn(CTL_FAC,
			 "broker %" PRId32
			 " could not delete topic=%s partition=%" PRId32
			 "; retrying",
			 broker, topic, p);
		if (!ctl->next_delete_retry_ms)
			ctl->next_delete_retry_ms = clock_mono_ms() + RETRY_MS;
	}
}

void ctl_on_stop_replica_response(controller_t *ctl, int32_t broker,
				  const Fluxo__StopReplicaResponse *r,
				  const struct ctl_tp_name *sent, int n_sent)
{
	if (n_sent == 0)
		return;
	if (!r || r->error != FLUXO__ERROR_CODE__NONE) {
		for (int i = 0; i < n_sent; i++)
			record(ctl, broker, sent[i].topic, sent[i].partition,
			       false);
	} else {
		for (size_t i = 0; i < r->n_partitions; i++) {
			const Fluxo__PartitionError *pe = r->partitions[i];

			if (pe->topic)
				record(ctl, broker, pe->topic, pe->partition,
				       pe->error == FLUXO__ERROR_CODE__NONE);
		}
		/* Partitions the broker did not list succeeded. */
		for (int i = 0; i < n_sent; i++)
			record(ctl, broker, sent[i].topic, sent[i].partition,
			       true);
	}
	for (int i = 0; i < n_sent && atomic_load(&ctl->active); i++) {
		struct ctl_topic *t = ctl_topic_find(ctl, sent[i].topic);

		if (t && t->deleting && all_done(t))
			complete(ctl, t);
	}
}
