/*
 * clusterinfo.c - the cluster summary of fluxo-cluster-info.
 *
 * Everything comes from one Metadata answer, which every broker builds
 * from the controller's UpdateMetadata: the live brokers, the controller
 * and its epoch, every topic's partitions with leader, replicas and ISR.
 * A partition counts as offline when its leader is missing or not among
 * the live brokers (what clients would see), and as under-replicated when
 * it is led but its ISR is shorter than its replica list, so the two
 * counts never overlap.
 */
#include "config.h"

#include "clusterinfo.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static bool broker_live(const fluxo_metadata_t *md, int32_t id)
{
	for (int i = 0; i < md->broker_cnt; i++)
		if (md->brokers[i].id == id)
			return true;
	return false;
}

int cluster_summarize(const fluxo_metadata_t *md, struct cluster_summary *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < md->topic_cnt; i++) {
		const fluxo_topic_md_t *t = &md->topics[i];

		if (t->err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			continue;
		s->topic_cnt++;
		for (int j = 0; j < t->partition_cnt; j++) {
			const fluxo_partition_md_t *p = &t->partitions[j];
			struct tp_list *l = NULL;

			s->partition_cnt++;
			if (p->leader < 0 || !broker_live(md, p->leader))
				l = &s->offline;
			else if (p->isr_cnt < p->replica_cnt)
				l = &s->under_replicated;
			if (l && tp_list_add(l, t->name, p->id) < 0) {
				cluster_summary_free(s);
				return ERR_NOMEM;
			}
		}
	}
	tp_list_sort(&s->offline);
	tp_list_sort(&s->under_replicated);
	return 0;
}

void cluster_summary_free(struct cluster_summary *s)
{
	tp_list_free(&s->under_replicated);
	tp_list_free(&s->offline);
	memset(s, 0, sizeof(*s));
}

static const fluxo_partition_md_t *find_part(const fluxo_metadata_t *md,
					     const struct tp *tp)
{
	for (int i = 0; i < md->topic_cnt; i++) {
		const fluxo_topic_md_t *t = &md->topics[i];

		if (strcmp(t->name, tp->topic) != 0)
			continue;
		for (int j = 0; j < t->partition_cnt; j++)
			if (t->partitions[j].id == tp->partition)
				return &t->partitions[j];
	}
	return NULL;
}

static void print_parts(FILE *out, const fluxo_metadata_t *md,
			const struct tp_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const fluxo_partition_md_t *p = find_part(md, &l->v[i]);
		char reps[256], isr[256];

		if (!p)
			continue;
		fprintf(out, "  %s-%d\tLeader: ", l->v[i].topic,
			(int)l->v[i].partition);
		if (p->leader < 0)
			fprintf(out, "none");
		else
			fprintf(out, "%d", (int)p->leader);
		fprintf(
		    out, "\tReplicas: %s\tIsr: %s\n",
		    ids_join(p->replicas, p->replica_cnt, reps, sizeof(reps)),
		    ids_join(p->isr, p->isr_cnt, isr, sizeof(isr)));
	}
}

void cluster_print_text(FILE *out, const fluxo_metadata_t *md,
			const struct cluster_summary *s)
{
	fprintf(out, "Cluster ID: %s\n",
		md->cluster_id && *md->cluster_id ? md->cluster_id : "none");
	if (md->controller_id >= 0)
		fprintf(out, "Controller: %d (epoch %d)\n",
			(int)md->controller_id, (int)md->controller_epoch);
	else
		fprintf(out, "Controller: none\n");
	fprintf(out, "Brokers: %d\n", md->broker_cnt);
	for (int i = 0; i < md->broker_cnt; i++) {
		const fluxo_broker_md_t *b = &md->brokers[i];
		bool v6 = b->host && strchr(b->host, ':');

		fprintf(out, "  %d\t%s%s%s:%d\track: %s\n", (int)b->id,
			v6 ? "[" : "", b->host ? b->host : "", v6 ? "]" : "",
			b->port, b->rack && *b->rack ? b->rack : "none");
	}
	fprintf(out, "Topics: %d\n", s->topic_cnt);
	fprintf(out, "Partitions: %d\n", s->partition_cnt);
	fprintf(out, "Under-replicated partitions: %zu\n",
		s->under_replicated.n);
	print_parts(out, md, &s->under_replicated);
	fprintf(out, "Offline partitions: %zu\n", s->offline.n);
	print_parts(out, md, &s->offline);
}

static json_t *ids_json(const int32_t *ids, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(ids[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *parts_json(const fluxo_metadata_t *md, const struct tp_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++) {
		const fluxo_partition_md_t *p = find_part(md, &l->v[i]);
		json_t *o;

		if (!p)
			continue;
		o = json_pack("{s:s, s:i, s:i, s:o, s:o}", "topic",
			      l->v[i].topic, "partition",
			      (int)l->v[i].partition, "leader", (int)p->leader,
			      "replicas", ids_json(p->replicas, p->replica_cnt),
			      "isr", ids_json(p->isr, p->isr_cnt));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int cluster_print_json(FILE *out, const fluxo_metadata_t *md,
		       const struct cluster_summary *s)
{
	json_t *root, *brokers = json_array(), *ctl;
	int rc = ERR_NOMEM;
	char *text;

	for (int i = 0; brokers && i < md->broker_cnt; i++) {
		const fluxo_broker_md_t *b = &md->brokers[i];
		json_t *o = json_pack(
		    "{s:i, s:s, s:i, s:o}", "id", (int)b->id, "host",
		    b->host ? b->host : "", "port", b->port, "rack",
		    b->rack && *b->rack ? json_string(b->rack) : json_null());

		if (!o || json_array_append_new(brokers, o) < 0) {
			json_decref(brokers);
			brokers = NULL;
		}
	}
	if (!brokers)
		return ERR_NOMEM;
	ctl = md->controller_id >= 0
		  ? json_pack("{s:i, s:i}", "id", (int)md->controller_id,
			      "epoch", (int)md->controller_epoch)
		  : json_null();
	root = json_pack(
	    "{s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:o, s:o}", "cluster_id",
	    md->cluster_id ? md->cluster_id : "", "controller", ctl, "brokers",
	    brokers, "topic_count", s->topic_cnt, "partition_count",
	    s->partition_cnt, "under_replicated_count",
	    (int)s->under_replicated.n, "offline_count", (int)s->offline.n,
	    "under_replicated_partitions", parts_json(md, &s->under_replicated),
	    "offline_partitions", parts_json(md, &s->offline));
	if (!root)
		return ERR_NOMEM;
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return ERR_NOMEM;
	rc = fprintf(out, "%s\n", text) < 0 ? ERR_IO : 0;
	free(text);
	return rc;
}
