/*
 * reassign_util.c - placement proposals, throttle lists and reports for
 * fluxo-reassign-partitions.
 *
 * --generate uses the broker's own placement code (coordinator/assign.c,
 * linked into the tools' library: it is pure), so a proposal spreads
 * leaders and followers exactly as topic creation would, rack-aware or
 * not; like Kafka it starts at a random broker, so two runs may differ.
 *
 * Throttles follow Kafka's ReassignPartitionsCommand: a moving
 * partition's existing replicas may serve as leaders of the copy, so all
 * of them get the leader throttle; the replicas being added are the
 * followers. Partitions whose target is their current set move no data
 * and are left out.
 */
#include "config.h"

#include "reassign_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/assign.h"

const fluxo_partition_md_t *md_partition(const fluxo_metadata_t *md,
					 const char *topic, int32_t partition)
{
	for (int i = 0; i < md->topic_cnt; i++) {
		const fluxo_topic_md_t *t = &md->topics[i];

		if (strcmp(t->name, topic) != 0)
			continue;
		for (int j = 0; j < t->partition_cnt; j++)
			if (t->partitions[j].id == partition)
				return &t->partitions[j];
		return NULL;
	}
	return NULL;
}

static const fluxo_topic_md_t *md_topic(const fluxo_metadata_t *md,
					const char *topic)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].name, topic) == 0 &&
		    md->topics[i].err == 0)
			return &md->topics[i];
	return NULL;
}

static const fluxo_broker_md_t *md_broker(const fluxo_metadata_t *md,
					  int32_t id)
{
	for (int i = 0; i < md->broker_cnt; i++)
		if (md->brokers[i].id == id)
			return &md->brokers[i];
	return NULL;
}

static bool has_id(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

int broker_list_parse(const char *s, int32_t **ids, int *n, char *errstr,
		      size_t errstr_size)
{
	size_t cap = 1;
	int32_t *v;
	int cnt = 0;

	*ids = NULL;
	*n = 0;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	v = malloc(cap * sizeof(*v));
	if (!v) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	for (const char *p = s;;) {
		char *end;
		long id;

		errno = 0;
		id = strtol(p, &end, 10);
		while (*end == ' ')
			end++;
		if (end == p || (*end != ',' && *end != '\0') || errno ||
		    id < 0 || id > INT32_MAX) {
			snprintf(errstr, errstr_size,
				 "--broker-list expects broker ids separated "
				 "by commas, e.g. --broker-list \"4,5,6\"; "
				 "got '%s'",
				 s);
			free(v);
			return ERR_INVAL;
		}
		if (has_id(v, cnt, (int32_t)id)) {
			snprintf(errstr, errstr_size,
				 "Broker list contains duplicate entries: %ld",
				 id);
			free(v);
			return ERR_INVAL;
		}
		v[cnt++] = (int32_t)id;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*ids = v;
	*n = cnt;
	return 0;
}

/* Adds every partition of t to out as it is placed now. */
static int add_current(const fluxo_topic_md_t *t, struct move_list *out)
{
	for (int j = 0; j < t->partition_cnt; j++) {
		const fluxo_partition_md_t *p = &t->partitions[j];

		if (move_list_add(out, t->name, p->id, p->replicas,
				  p->replica_cnt) < 0)
			return ERR_NOMEM;
	}
	return 0;
}

int reassign_generate(const fluxo_metadata_t *md, char *const *topics,
		      size_t n_topics, const int32_t *broker_list,
		      int n_brokers, bool rack_aware, int start_index,
		      int shift, struct move_list *current,
		      struct move_list *proposed, char *errstr,
		      size_t errstr_size)
{
	struct assign_broker *ab = NULL;
	int32_t *out = NULL;
	int racked = 0, rc = ERR_INVAL;

	memset(current, 0, sizeof(*current));
	memset(proposed, 0, sizeof(*proposed));
	ab = calloc((size_t)n_brokers + 1, sizeof(*ab));
	if (!ab)
		goto nomem;
	for (int i = 0; i < n_brokers; i++) {
		const fluxo_broker_md_t *b = md_broker(md, broker_list[i]);

		if (!b) {
			snprintf(errstr, errstr_size,
				 "Broker %d of --broker-list is not in the "
				 "cluster",
				 (int)broker_list[i]);
			goto out;
		}
		ab[i].id = b->id;
		ab[i].rack = b->rack;
		racked += b->rack && *b->rack;
	}
	if (rack_aware && racked != 0 && racked != n_brokers) {
		snprintf(errstr, errstr_size,
			 "Not all brokers have rack information. Add "
			 "--disable-rack-aware in command line to make replica "
			 "assignment without rack information.");
		goto out;
	}
	for (size_t i = 0; i < n_topics; i++) {
		const fluxo_topic_md_t *t = md_topic(md, topics[i]);
		int parts, rf, err;

		if (!t || t->partition_cnt < 1) {
			snprintf(errstr, errstr_size,
				 "Topic '%s' does not exist", topics[i]);
			goto out;
		}
		parts = t->partition_cnt;
		rf = t->partitions[0].replica_cnt;
		if (add_current(t, current) < 0)
			goto nomem;
		free(out);
		out = calloc((size_t)parts * (size_t)(rf > 0 ? rf : 1),
			     sizeof(*out));
		if (!out)
			goto nomem;
		err = assign_replicas(ab, n_brokers, parts, rf, start_index,
				      shift, 0, rack_aware && racked > 0, out,
				      errstr, errstr_size);
		if (err)
			goto out;
		for (int p = 0; p < parts; p++)
			if (move_list_add(proposed, t->name,
					  t->partitions[p].id,
					  out + (size_t)p * (size_t)rf, rf) < 0)
				goto nomem;
	}
	move_list_sort(current);
	move_list_sort(proposed);
	rc = 0;
	goto out;
nomem:
	snprintf(errstr, errstr_size, "out of memory");
	rc = ERR_NOMEM;
out:
	if (rc) {
		move_list_free(current);
		move_list_free(proposed);
	}
	free(out);
	free(ab);
	return rc;
}

int reassign_current(const fluxo_metadata_t *md,
		     const struct move_list *targets, struct move_list *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < targets->n; i++) {
		const struct move *m = &targets->v[i];
		const fluxo_partition_md_t *p =
		    md_partition(md, m->topic, m->partition);

		if (p && move_list_add(out, m->topic, m->partition, p->replicas,
				       p->replica_cnt) < 0) {
			move_list_free(out);
			return ERR_NOMEM;
		}
	}
	move_list_sort(out);
	return 0;
}

/* Whether a move changes the replica set (order aside: a new order only
 * changes the preferred leader and moves no data). */
static bool moves_data(const fluxo_partition_md_t *p, const struct move *m)
{
	if (p->replica_cnt != m->n_replicas)
		return true;
	for (int i = 0; i < m->n_replicas; i++)
		if (!has_id(p->replicas, p->replica_cnt, m->replicas[i]))
			return true;
	return false;
}

static int cmp_move_ptr(const void *x, const void *y)
{
	const struct move *a = *(const struct move *const *)x;
	const struct move *b = *(const struct move *const *)y;

	return (a->partition > b->partition) - (a->partition < b->partition);
}

/* Appends "p:b" to *s (grown as needed). */
static int append_pair(char **s, size_t *len, size_t *cap, int32_t p, int32_t b)
{
	char item[32];
	int n = snprintf(item, sizeof(item), "%s%d:%d", *len ? "," : "", (int)p,
			 (int)b);

	if (*len + (size_t)n + 1 > *cap) {
		size_t c = (*cap + (size_t)n + 1) * 2;
		char *g = realloc(*s, c);

		if (!g)
			return ERR_NOMEM;
		*s = g;
		*cap = c;
	}
	memcpy(*s + *len, item, (size_t)n + 1);
	*len += (size_t)n;
	return 0;
}

int reassign_throttles(const fluxo_metadata_t *md,
		       const struct move_list *targets, const char *topic,
		       char **leader, char **follower)
{
	const struct move **sel = calloc(targets->n + 1, sizeof(*sel));
	size_t n = 0, llen = 0, lcap = 1, flen = 0, fcap = 1;
	int rc = 0;

	*leader = calloc(1, 1);
	*follower = calloc(1, 1);
	if (!sel || !*leader || !*follower) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < targets->n; i++)
		if (strcmp(targets->v[i].topic, topic) == 0)
			sel[n++] = &targets->v[i];
	qsort(sel, n, sizeof(*sel), cmp_move_ptr);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const fluxo_partition_md_t *p =
		    md_partition(md, topic, sel[i]->partition);

		if (!p || !moves_data(p, sel[i]))
			continue;
		for (int j = 0; j < p->replica_cnt && rc == 0; j++)
			rc = append_pair(leader, &llen, &lcap, p->id,
					 p->replicas[j]);
		for (int j = 0; j < sel[i]->n_replicas && rc == 0; j++)
			if (!has_id(p->replicas, p->replica_cnt,
				    sel[i]->replicas[j]))
				rc = append_pair(follower, &flen, &fcap, p->id,
						 sel[i]->replicas[j]);
	}
out:
	free(sel);
	if (rc) {
		free(*leader);
		free(*follower);
		*leader = *follower = NULL;
	}
	return rc;
}

static int cmp_id(const void *x, const void *y)
{
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;

	return (a > b) - (a < b);
}

int reassign_brokers(const fluxo_metadata_t *md,
		     const struct move_list *targets, int32_t **ids, int *n)
{
	size_t cap = 0;
	int32_t *v;
	int cnt = 0;

	for (size_t i = 0; i < targets->n; i++) {
		const fluxo_partition_md_t *p = md_partition(
		    md, targets->v[i].topic, targets->v[i].partition);

		cap += (size_t)targets->v[i].n_replicas +
		       (p ? (size_t)p->replica_cnt : 0);
	}
	v = malloc((cap + 1) * sizeof(*v));
	if (!v)
		return ERR_NOMEM;
	for (size_t i = 0; i < targets->n; i++) {
		const struct move *m = &targets->v[i];
		const fluxo_partition_md_t *p =
		    md_partition(md, m->topic, m->partition);

		if (!p || !moves_data(p, m))
			continue;
		for (int j = 0; j < p->replica_cnt; j++)
			if (!has_id(v, cnt, p->replicas[j]))
				v[cnt++] = p->replicas[j];
		for (int j = 0; j < m->n_replicas; j++)
			if (!has_id(v, cnt, m->replicas[j]))
				v[cnt++] = m->replicas[j];
	}
	qsort(v, (size_t)cnt, sizeof(*v), cmp_id);
	*ids = v;
	*n = cnt;
	return 0;
}

static int cmp_str_ptr(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int reassign_topics(const struct move_list *targets, const char ***topics,
		    size_t *n)
{
	const char **v = calloc(targets->n + 1, sizeof(*v));
	size_t cnt = 0;

	if (!v)
		return ERR_NOMEM;
	for (size_t i = 0; i < targets->n; i++) {
		bool seen = false;

		for (size_t j = 0; j < cnt && !seen; j++)
			seen = strcmp(v[j], targets->v[i].topic) == 0;
		if (!seen)
			v[cnt++] = targets->v[i].topic;
	}
	qsort(v, cnt, sizeof(*v), cmp_str_ptr);
	*topics = v;
	*n = cnt;
	return 0;
}

static const fluxo_ongoing_reassignment_t *
find_ongoing(const fluxo_ongoing_reassignment_t *l, size_t n, const char *topic,
	     int32_t partition)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].partition == partition &&
		    strcmp(l[i].topic, topic) == 0)
			return &l[i];
	return NULL;
}

static bool same_ids(const int32_t *a, int na, const int32_t *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

void reassign_print_verify(FILE *out, const struct move_list *targets,
			   const fluxo_ongoing_reassignment_t *ongoing,
			   size_t n_ongoing, const fluxo_metadata_t *md,
			   struct verify_result *res)
{
	memset(res, 0, sizeof(*res));
	fprintf(out, "Status of partition reassignment:\n");
	for (size_t i = 0; i < targets->n; i++) {
		const struct move *m = &targets->v[i];
		const fluxo_partition_md_t *p =
		    md_partition(md, m->topic, m->partition);
		char cur[256], want[256];

		if (find_ongoing(ongoing, n_ongoing, m->topic, m->partition)) {
			fprintf(out,
				"Reassignment of partition %s-%d is still in "
				"progress.\n",
				m->topic, (int)m->partition);
			res->in_progress++;
		} else if (!p) {
			fprintf(out, "Partition %s-%d does not exist.\n",
				m->topic, (int)m->partition);
			res->missing++;
		} else if (same_ids(p->replicas, p->replica_cnt, m->replicas,
				    m->n_replicas)) {
			fprintf(out,
				"Reassignment of partition %s-%d is "
				"complete.\n",
				m->topic, (int)m->partition);
			res->complete++;
		} else {
			fprintf(out,
				"There is no active reassignment of partition "
				"%s-%d, but replica set is %s rather than "
				"%s.\n",
				m->topic, (int)m->partition,
				ids_join(p->replicas, p->replica_cnt, cur,
					 sizeof(cur)),
				ids_join(m->replicas, m->n_replicas, want,
					 sizeof(want)));
			res->differ++;
		}
	}
}

void reassign_print_list(FILE *out, const fluxo_ongoing_reassignment_t *l,
			 size_t n)
{
	char buf[256];

	if (n == 0) {
		fprintf(out, "No partition reassignments found.\n");
		return;
	}
	fprintf(out, "Current partition reassignments:\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s-%d: replicas: %s.", l[i].topic,
			(int)l[i].partition,
			ids_join(l[i].replicas, l[i].replica_cnt, buf,
				 sizeof(buf)));
		if (l[i].adding_cnt)
			fprintf(out, " adding: %s.",
				ids_join(l[i].adding, l[i].adding_cnt, buf,
					 sizeof(buf)));
		if (l[i].removing_cnt)
			fprintf(out, " removing: %s.",
				ids_join(l[i].removing, l[i].removing_cnt, buf,
					 sizeof(buf)));
		fputc('\n', out);
	}
}
