/*
 * admin_ctl.c - the admin calls the controller answers: leader elections
 * (ElectLeaders) and partition reassignments (AlterPartitionReassignments,
 * ListPartitionReassignments).
 *
 * Only the broker that holds the controller office answers these; the
 * others say NOT_CONTROLLER, in the body (ElectLeaders) or for the whole
 * request. The office moves when its holder dies or loses its ZooKeeper
 * session, so every call looks the controller up in fresh metadata,
 * sends, and on NOT_CONTROLLER, on a missing controller (-1 during an
 * election) or on a failed connection to it, looks again after
 * retry.backoff.ms, until the call's deadline. Any other answer ends the
 * call: the requests are not idempotent in general (a second
 * reassignment of the same partition is refused as in progress), so an
 * answer that arrived is never resent.
 *
 * Results are copied out of the response into plain heap structs sorted
 * by topic and partition, so that callers print stable output.
 *
 * Thread: the admin handle's owner thread (see fluxo.h).
 */
#include "config.h"
#include "fluxo.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_int.h"
#include "client_int.h"
#include "common/clock.h"

/* Reads the body-level error of an answer (NONE when it has none). */
typedef int (*body_err_fn)(const Fluxo__Response *r);

/*
 * Sends head to the controller and waits for an answer with the expected
 * body. Returns 0 with *respp (free with resp_free), or the last error
 * with errstr set: FLUXO_ERR_NOT_CONTROLLER when no controller answered
 * before deadline, FLUXO_ERR__TRANSPORT when no broker can be reached,
 * the answer's request-level error, ...
 */
static int ctl_call(struct fluxo_admin *a, Fluxo__Request *head,
		    Fluxo__Response__BodyCase body, body_err_fn body_err,
		    int64_t deadline, struct resp **respp, char *errstr,
		    size_t errstr_size)
{
	char why[512] = "";
	int rc;

	*respp = NULL;
	for (;;) {
		int32_t ctl;

		rc = admin_md_fresh(a, deadline, errstr, errstr_size);
		if (rc) {
			/* Say why we were still looking, if we were. */
			if (rc == FLUXO_ERR__TIMED_OUT && why[0])
				client_fmt(
				    errstr, errstr_size,
				    "no controller answered in time (%s)", why);
			return rc;
		}
		pthread_mutex_lock(&a->cl.md_lock);
		ctl = a->cl.md.controller_id;
		pthread_mutex_unlock(&a->cl.md_lock);
		if (ctl < 0) {
			rc = FLUXO_ERR_NOT_CONTROLLER;
			client_fmt(why, sizeof(why),
				   "the cluster has no controller at the "
				   "moment");
		} else {
			rc = admin_call(a, head, ctl, deadline, body, respp,
					why, sizeof(why));
			if (rc == 0 && body_err((*respp)->head) ==
					   FLUXO_ERR_NOT_CONTROLLER) {
				resp_free(*respp);
				*respp = NULL;
				rc = FLUXO_ERR_NOT_CONTROLLER;
				client_fmt(why, sizeof(why),
					   "broker %d is no longer the "
					   "controller",
					   (int)ctl);
			}
		}
		if (rc == 0)
			return 0;
		if (rc != FLUXO_ERR_NOT_CONTROLLER &&
		    rc != FLUXO_ERR__TRANSPORT) {
			client_fmt(errstr, errstr_size, "%s", why);
			return rc;
		}
		if (clock_mono_ms() + a->cl.conf.retry_backoff_ms >= deadline) {
			client_fmt(errstr, errstr_size,
				   "no controller answered in time (%s)", why);
			return rc;
		}
		usleep((useconds_t)a->cl.conf.retry_backoff_ms * 1000);
	}
}

/* ------------------------------------------------------------ results */

void fluxo_partition_results_destroy(fluxo_partition_result_t *results,
				     size_t cnt)
{
	if (!results)
		return;
	for (size_t i = 0; i < cnt; i++) {
		free(results[i].topic);
		free(results[i].errstr);
	}
	free(results);
}

static int cmp_tp(const char *t1, int32_t p1, const char *t2, int32_t p2)
{
	int c = strcmp(t1, t2);

	return c ? c : (p1 > p2) - (p1 < p2);
}

static int cmp_result(const void *x, const void *y)
{
	const fluxo_partition_result_t *a = x, *b = y;

	return cmp_tp(a->topic, a->partition, b->topic, b->partition);
}

/* Fills r; the sentence is the broker's, or the code's when it sent none.
 * Returns false when out of memory. */
static bool result_set(fluxo_partition_result_t *r, const char *topic,
		       int32_t partition, int err, const char *msg)
{
	r->topic = strdup(topic ? topic : "");
	r->partition = partition;
	r->err = err;
	r->errstr = NULL;
	if (err)
		r->errstr = strdup(msg && *msg ? msg : fluxo_err2str(err));
	return r->topic && (!err || r->errstr);
}

/* One per-partition outcome of a controller answer, whatever its type. */
struct tp_outcome {
	const char *topic;
	int32_t partition;
	int err;
	const char *msg;
};

/*
 * Copies cnt outcomes (get(items[i], &o) reads one) into a new array
 * sorted by topic and partition: *out with *out_cnt entries, freed with
 * fluxo_partition_results_destroy. Returns 0 or FLUXO_ERR__NOMEM (nothing
 * is then returned).
 */
static int results_collect(void *const *items, size_t cnt,
			   void (*get)(const void *item, struct tp_outcome *o),
			   fluxo_partition_result_t **out, size_t *out_cnt)
{
	fluxo_partition_result_t *v = NULL;
	size_t n = 0;

	if (cnt && !(v = calloc(cnt, sizeof(*v))))
		return FLUXO_ERR__NOMEM;
	for (; n < cnt; n++) {
		struct tp_outcome o;

		get(items[n], &o);
		if (!result_set(&v[n], o.topic, o.partition, o.err, o.msg)) {
			fluxo_partition_results_destroy(v, n + 1);
			return FLUXO_ERR__NOMEM;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_result);
	*out = v;
	*out_cnt = n;
	return 0;
}

static void get_elect(const void *item, struct tp_outcome *o)
{
	const Fluxo__ElectLeadersPartitionResult *r = item;

	o->topic = r->topic;
	o->partition = r->partition;
	o->err = r->error;
	o->msg = r->error_message;
}

static void get_reassign(const void *item, struct tp_outcome *o)
{
	const Fluxo__ReassignmentResult *r = item;

	o->topic = r->topic;
	o->partition = r->partition;
	o->err = r->error;
	o->msg = r->error_message;
}

/* The request-level part of a body's error: its sentence and code. */
static int body_error(int err, const char *what, char *errstr,
		      size_t errstr_size)
{
	if (err)
		client_fmt(errstr, errstr_size, "%s: %s", what,
			   fluxo_err2str(err));
	return err;
}

/* Sets tps (caller frees tps and parts) from a (topic, partition) list,
 * grouping the partitions of each topic as TopicPartitions wants them. */
static int tp_group(const fluxo_topic_partition_t *in, size_t n,
		    Fluxo__TopicPartitions **tps,
		    Fluxo__TopicPartitions ***ptrs, int32_t **parts,
		    size_t *n_tps)
{
	*n_tps = 0;
	*tps = calloc(n + 1, sizeof(**tps));
	*ptrs = calloc(n + 1, sizeof(**ptrs));
	*parts = calloc(n + 1, sizeof(**parts));
	if (!*tps || !*ptrs || !*parts)
		return FLUXO_ERR__NOMEM;
	/* Partitions of one topic take adjacent slots of parts: walk the
	 * input once per new topic. Admin lists are small. */
	for (size_t i = 0, used = 0; i < n; i++) {
		Fluxo__TopicPartitions *tp = NULL;

		for (size_t j = 0; j < *n_tps && !tp; j++)
			if (strcmp((*tps)[j].topic, in[i].topic) == 0)
				tp = &(*tps)[j];
		if (tp)
			continue;
		tp = &(*tps)[(*n_tps)++];
		fluxo__topic_partitions__init(tp);
		tp->topic = (char *)in[i].topic;
		tp->partitions = *parts + used;
		for (size_t j = i; j < n; j++)
			if (strcmp(in[j].topic, in[i].topic) == 0)
				tp->partitions[tp->n_partitions++] =
				    in[j].partition;
		used += tp->n_partitions;
		(*ptrs)[*n_tps - 1] = tp;
	}
	return 0;
}

static bool tp_list_ok(const fluxo_topic_partition_t *l, size_t n)
{
	if (n && !l)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!l[i].topic || !*l[i].topic || l[i].partition < 0)
			return false;
	return true;
}

/* ------------------------------------------------------------ elections */

static int elect_body_err(const Fluxo__Response *r)
{
	return r->body_case == FLUXO__RESPONSE__BODY_ELECT_LEADERS
		   ? (int)r->elect_leaders->error
		   : 0;
}

int fluxo_admin_elect_leaders(fluxo_admin_t *a, int election_type,
			      const fluxo_topic_partition_t *partitions,
			      size_t partition_cnt, int timeout_ms,
			      fluxo_partition_result_t **results,
			      size_t *result_cnt, char *errstr,
			      size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__ElectLeadersRequest er = FLUXO__ELECT_LEADERS_REQUEST__INIT;
	Fluxo__TopicPartitions *tps = NULL, **ptrs = NULL;
	const Fluxo__ElectLeadersResponse *r;
	struct resp *resp = NULL;
	int32_t *parts = NULL;
	size_t n_tps = 0;
	int64_t deadline;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !results || !result_cnt ||
	    !tp_list_ok(partitions, partition_cnt) ||
	    (election_type != FLUXO_ELECTION_PREFERRED &&
	     election_type != FLUXO_ELECTION_UNCLEAN)) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	*results = NULL;
	*result_cnt = 0;
	deadline = admin_deadline(a, timeout_ms);
	rc = tp_group(partitions, partition_cnt, &tps, &ptrs, &parts, &n_tps);
	if (rc)
		goto out_free;
	er.election_type = election_type == FLUXO_ELECTION_UNCLEAN
			       ? FLUXO__ELECTION_TYPE__UNCLEAN
			       : FLUXO__ELECTION_TYPE__PREFERRED;
	er.topic_partitions = ptrs;
	er.n_topic_partitions = n_tps;
	er.timeout_ms = admin_left_ms(deadline);
	head.body_case = FLUXO__REQUEST__BODY_ELECT_LEADERS;
	head.elect_leaders = &er;
	rc = ctl_call(a, &head, FLUXO__RESPONSE__BODY_ELECT_LEADERS,
		      elect_body_err, deadline, &resp, errstr, errstr_size);
	if (rc)
		goto out_free;
	r = resp->head->elect_leaders;
	rc = body_error(r->error, "the controller refused the election", errstr,
			errstr_size);
	if (rc)
		goto out_free;
	rc = results_collect((void *const *)r->results, r->n_results,
			     get_elect, results, result_cnt);
out_free:
	if (rc == FLUXO_ERR__NOMEM)
		client_fmt(errstr, errstr_size, "out of memory");
	resp_free(resp);
	free(tps);
	free(ptrs);
	free(parts);
	return rc;
}

/* ------------------------------------------------------------ reassignments */

static int alter_body_err(const Fluxo__Response *r)
{
	return r->body_case ==
		       FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS
		   ? (int)r->alter_partition_reassignments->error
		   : 0;
}

int fluxo_admin_alter_reassignments(fluxo_admin_t *a,
				    const fluxo_reassignment_t *entries,
				    size_t cnt, int timeout_ms,
				    fluxo_partition_result_t **results,
				    size_t *result_cnt, char *errstr,
				    size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__AlterPartitionReassignmentsRequest ar =
	    FLUXO__ALTER_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	Fluxo__ReassignablePartition *rp = NULL, **rpp = NULL;
	const Fluxo__AlterPartitionReassignmentsResponse *r;
	struct resp *resp = NULL;
	int64_t deadline;
	int rc = 0;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !results || !result_cnt || !entries || cnt == 0) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	for (size_t i = 0; i < cnt; i++) {
		const fluxo_reassignment_t *e = &entries[i];

		if (!e->topic || !*e->topic || e->partition < 0 ||
		    (!e->cancel && (e->replica_cnt <= 0 || !e->replicas))) {
			client_fmt(errstr, errstr_size,
				   "invalid argument: entry %zu needs a topic, "
				   "a partition >= 0 and replicas (or cancel)",
				   i);
			return FLUXO_ERR__INVALID_ARG;
		}
	}
	*results = NULL;
	*result_cnt = 0;
	deadline = admin_deadline(a, timeout_ms);
	rp = calloc(cnt, sizeof(*rp));
	rpp = calloc(cnt, sizeof(*rpp));
	if (!rp || !rpp) {
		rc = FLUXO_ERR__NOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < cnt; i++) {
		fluxo__reassignable_partition__init(&rp[i]);
		rp[i].topic = (char *)entries[i].topic;
		rp[i].partition = entries[i].partition;
		rp[i].cancel = entries[i].cancel;
		if (!entries[i].cancel) {
			rp[i].replicas = (int32_t *)entries[i].replicas;
			rp[i].n_replicas = (size_t)entries[i].replica_cnt;
		}
		rpp[i] = &rp[i];
	}
	ar.partitions = rpp;
	ar.n_partitions = cnt;
	ar.timeout_ms = admin_left_ms(deadline);
	head.body_case = FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS;
	head.alter_partition_reassignments = &ar;
	rc = ctl_call(a, &head,
		      FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS,
		      alter_body_err, deadline, &resp, errstr, errstr_size);
	if (rc)
		goto out_free;
	r = resp->head->alter_partition_reassignments;
	rc = body_error(r->error, "the controller refused the reassignment",
			errstr, errstr_size);
	if (rc)
		goto out_free;
	rc = results_collect((void *const *)r->results, r->n_results,
			     get_reassign, results, result_cnt);
out_free:
	if (rc == FLUXO_ERR__NOMEM)
		client_fmt(errstr, errstr_size, "out of memory");
	resp_free(resp);
	free(rp);
	free(rpp);
	return rc;
}

void fluxo_ongoing_reassignments_destroy(fluxo_ongoing_reassignment_t *list,
					 size_t cnt)
{
	if (!list)
		return;
	for (size_t i = 0; i < cnt; i++) {
		free(list[i].topic);
		free(list[i].replicas);
		free(list[i].adding);
		free(list[i].removing);
	}
	free(list);
}

static int cmp_ongoing(const void *x, const void *y)
{
	const fluxo_ongoing_reassignment_t *a = x, *b = y;

	return cmp_tp(a->topic, a->partition, b->topic, b->partition);
}

/* Copies n ids (NULL when n is 0). Returns false when out of memory. */
static bool ids_copy(const int32_t *src, size_t n, int32_t **dst, int *cnt)
{
	*dst = NULL;
	*cnt = 0;
	if (n == 0)
		return true;
	*dst = malloc(n * sizeof(**dst));
	if (!*dst)
		return false;
	memcpy(*dst, src, n * sizeof(**dst));
	*cnt = (int)n;
	return true;
}

static int list_body_err(const Fluxo__Response *r)
{
	return r->body_case ==
		       FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS
		   ? (int)r->list_partition_reassignments->error
		   : 0;
}

int fluxo_admin_list_reassignments(fluxo_admin_t *a,
				   const fluxo_topic_partition_t *filter,
				   size_t filter_cnt, int timeout_ms,
				   fluxo_ongoing_reassignment_t **list,
				   size_t *cnt, char *errstr,
				   size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__ListPartitionReassignmentsRequest lr =
	    FLUXO__LIST_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	Fluxo__TopicPartitions *tps = NULL, **ptrs = NULL;
	const Fluxo__ListPartitionReassignmentsResponse *r;
	fluxo_ongoing_reassignment_t *out = NULL;
	struct resp *resp = NULL;
	int32_t *parts = NULL;
	size_t n_tps = 0, n = 0;
	int64_t deadline;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !list || !cnt || !tp_list_ok(filter, filter_cnt)) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	*list = NULL;
	*cnt = 0;
	deadline = admin_deadline(a, timeout_ms);
	rc = tp_group(filter, filter_cnt, &tps, &ptrs, &parts, &n_tps);
	if (rc)
		goto out_free;
	lr.topic_partitions = ptrs;
	lr.n_topic_partitions = n_tps;
	head.body_case = FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS;
	head.list_partition_reassignments = &lr;
	rc = ctl_call(a, &head,
		      FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS,
		      list_body_err, deadline, &resp, errstr, errstr_size);
	if (rc)
		goto out_free;
	r = resp->head->list_partition_reassignments;
	rc = body_error(r->error, "the controller refused the listing", errstr,
			errstr_size);
	if (rc)
		goto out_free;
	if (r->n_reassignments) {
		out = calloc(r->n_reassignments, sizeof(*out));
		if (!out) {
			rc = FLUXO_ERR__NOMEM;
			goto out_free;
		}
	}
	for (; n < r->n_reassignments; n++) {
		const Fluxo__OngoingReassignment *o = r->reassignments[n];
		fluxo_ongoing_reassignment_t *d = &out[n];

		d->topic = strdup(o->topic ? o->topic : "");
		d->partition = o->partition;
		if (!d->topic ||
		    !ids_copy(o->replicas, o->n_replicas, &d->replicas,
			      &d->replica_cnt) ||
		    !ids_copy(o->adding_replicas, o->n_adding_replicas,
			      &d->adding, &d->adding_cnt) ||
		    !ids_copy(o->removing_replicas, o->n_removing_replicas,
			      &d->removing, &d->removing_cnt)) {
			n++;
			rc = FLUXO_ERR__NOMEM;
			goto out_free;
		}
	}
	if (n > 1)
		qsort(out, n, sizeof(*out), cmp_ongoing);
	*list = out;
	*cnt = n;
	out = NULL;
out_free:
	if (rc == FLUXO_ERR__NOMEM)
		client_fmt(errstr, errstr_size, "out of memory");
	fluxo_ongoing_reassignments_destroy(out, n);
	resp_free(resp);
	free(tps);
	free(ptrs);
	free(parts);
	return rc;
}
