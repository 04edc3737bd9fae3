/*
 * admin.c - fluxo_admin: cluster metadata, topic creation and deletion,
 * partition growth, configs, offset lookups.
 *
 * Every call is synchronous: it sends one request with client_call() and
 * waits for the answer within its timeout (timeout_ms <= 0 means
 * default.api.timeout.ms). Topic requests go to any broker (the broker
 * forwards to the controller's ZooKeeper state); offset lookups go to the
 * partition's leader; a broker's configs to that broker (only it knows
 * its server.properties; see config_target). Calls that change
 * topics then poll Metadata until the change is visible, so a tool that
 * creates a topic and produces right after finds it.
 *
 * Thread: one thread at a time per admin handle (see fluxo.h); the I/O
 * thread does the network work.
 */
#include "config.h"
#include "fluxo.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_int.h"
#include "client_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define VISIBLE_POLL_MS 100
/* Metadata answers denying a topic before a lookup gives up on it. */
#define ADMIN_DENIALS 3

char admin_scratch_err[1];

int64_t admin_deadline(struct fluxo_admin *a, int timeout_ms)
{
	return clock_mono_ms() + (timeout_ms > 0
				      ? timeout_ms
				      : a->cl.conf.default_api_timeout_ms);
}

int admin_left_ms(int64_t deadline)
{
	int64_t left = deadline - clock_mono_ms();

	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

fluxo_admin_t *fluxo_admin_new(fluxo_conf_t *conf, char *errstr,
			       size_t errstr_size)
{
	struct fluxo_admin *a;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!conf) {
		client_fmt(errstr, errstr_size, "fluxo_admin_new: no conf");
		return NULL;
	}
	if (client_conf_finalize(conf, false, errstr, errstr_size) < 0)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		client_fmt(errstr, errstr_size, "out of memory");
		return NULL;
	}
	/* An admin lookup never creates a topic by accident. */
	conf->c.allow_auto_create_topics = false;
	if (client_init(&a->cl, &conf->c, NULL, a, errstr, errstr_size) < 0) {
		free(a);
		return NULL;
	}
	fluxo_conf_destroy(conf);
	return a;
}

void fluxo_admin_destroy(fluxo_admin_t *a)
{
	if (!a)
		return;
	client_destroy(&a->cl);
	free(a);
}

int admin_call(struct fluxo_admin *a, Fluxo__Request *head, int32_t broker,
	       int64_t deadline, Fluxo__Response__BodyCase body,
	       struct resp **respp, char *errstr, size_t errstr_size)
{
	int rc;

	if (admin_left_ms(deadline) <= 0) {
		client_fmt(errstr, errstr_size, "timed out");
		return FLUXO_ERR__TIMED_OUT;
	}
	rc = client_call(&a->cl, head, NULL, 0, broker, admin_left_ms(deadline),
			 respp, errstr, errstr_size);
	if (rc)
		return rc;
	if ((*respp)->head->body_case != body) {
		client_fmt(errstr, errstr_size,
			   "the broker answered with an unexpected body");
		resp_free(*respp);
		*respp = NULL;
		return FLUXO_ERR__BAD_MSG;
	}
	return 0;
}

/* Raw metadata for topics (NULL/0: every topic). */
static int metadata_raw(struct fluxo_admin *a, const char *const *topics,
			size_t cnt, int64_t deadline, struct resp **respp,
			char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__MetadataRequest mr = FLUXO__METADATA_REQUEST__INIT;

	mr.topics = (char **)topics;
	mr.n_topics = cnt;
	mr.all_topics = cnt == 0;
	mr.allow_auto_topic_creation = false;
	head.body_case = FLUXO__REQUEST__BODY_METADATA;
	head.metadata = &mr;
	return admin_call(a, &head, CLIENT_ANY_BROKER, deadline,
			  FLUXO__RESPONSE__BODY_METADATA, respp, errstr,
			  errstr_size);
}

/* ------------------------------------------------------------ metadata */

static int cmp_int32(const void *x, const void *y)
{
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;

	return (a > b) - (a < b);
}

static int cmp_pmd(const void *x, const void *y)
{
	return cmp_int32(&((const fluxo_partition_md_t *)x)->id,
			 &((const fluxo_partition_md_t *)y)->id);
}

static int cmp_bmd(const void *x, const void *y)
{
	return cmp_int32(&((const fluxo_broker_md_t *)x)->id,
			 &((const fluxo_broker_md_t *)y)->id);
}

static int cmp_tmd(const void *x, const void *y)
{
	return strcmp(((const fluxo_topic_md_t *)x)->name,
		      ((const fluxo_topic_md_t *)y)->name);
}

static int32_t *ids_dup(const int32_t *src, size_t n, int *cnt, bool *fail)
{
	int32_t *d;

	*cnt = 0;
	if (n == 0)
		return NULL;
	d = malloc(n * sizeof(*d));
	if (!d) {
		*fail = true;
		return NULL;
	}
	memcpy(d, src, n * sizeof(*d));
	*cnt = (int)n;
	return d;
}

static char *str_dup(const char *s, bool *fail)
{
	char *d = strdup(s ? s : "");

	if (!d)
		*fail = true;
	return d;
}

void fluxo_metadata_destroy(fluxo_metadata_t *md)
{
	if (!md)
		return;
	for (int i = 0; i < md->broker_cnt; i++) {
		free(md->brokers[i].host);
		free(md->brokers[i].rack);
	}
	free(md->brokers);
	for (int i = 0; i < md->topic_cnt; i++) {
		fluxo_topic_md_t *t = &md->topics[i];

		for (int j = 0; j < t->partition_cnt; j++) {
			free(t->partitions[j].replicas);
			free(t->partitions[j].isr);
			free(t->partitions[j].offline);
		}
		free(t->partitions);
		free(t->name);
		free(t->errstr);
	}
	free(md->topics);
	free(md->cluster_id);
	free(md);
}

static fluxo_metadata_t *md_convert(const Fluxo__MetadataResponse *r)
{
	fluxo_metadata_t *md = calloc(1, sizeof(*md));
	bool fail = false;

	if (!md)
		return NULL;
	md->cluster_id = str_dup(r->cluster_id, &fail);
	md->controller_id = r->controller_id;
	md->controller_epoch = r->controller_epoch;
	if (r->n_brokers)
		md->brokers = calloc(r->n_brokers, sizeof(*md->brokers));
	if (r->n_topics)
		md->topics = calloc(r->n_topics, sizeof(*md->topics));
	if ((r->n_brokers && !md->brokers) || (r->n_topics && !md->topics))
		goto err_free;
	for (size_t i = 0; i < r->n_brokers; i++) {
		fluxo_broker_md_t *b = &md->brokers[md->broker_cnt++];

		b->id = r->brokers[i]->node_id;
		b->host = str_dup(r->brokers[i]->host, &fail);
		b->port = r->brokers[i]->port;
		if (r->brokers[i]->rack && *r->brokers[i]->rack)
			b->rack = str_dup(r->brokers[i]->rack, &fail);
	}
	for (size_t i = 0; i < r->n_topics; i++) {
		const Fluxo__TopicMetadata *tm = r->topics[i];
		fluxo_topic_md_t *t = &md->topics[md->topic_cnt++];

		t->name = str_dup(tm->name, &fail);
		t->err = tm->error;
		if (tm->error_message && *tm->error_message)
			t->errstr = str_dup(tm->error_message, &fail);
		t->is_internal = tm->is_internal;
		if (tm->n_partitions) {
			t->partitions =
			    calloc(tm->n_partitions, sizeof(*t->partitions));
			if (!t->partitions)
				goto err_free;
		}
		for (size_t j = 0; j < tm->n_partitions; j++) {
			const Fluxo__PartitionMetadata *pm = tm->partitions[j];
			fluxo_partition_md_t *p =
			    &t->partitions[t->partition_cnt++];

			p->id = pm->partition;
			p->err = pm->error;
			p->leader = pm->leader;
			p->leader_epoch = pm->leader_epoch;
			p->replicas = ids_dup(pm->replicas, pm->n_replicas,
					      &p->replica_cnt, &fail);
			p->isr =
			    ids_dup(pm->isr, pm->n_isr, &p->isr_cnt, &fail);
			p->offline = ids_dup(pm->offline_replicas,
					     pm->n_offline_replicas,
					     &p->offline_cnt, &fail);
		}
		if (t->partition_cnt > 1)
			qsort(t->partitions, (size_t)t->partition_cnt,
			      sizeof(*t->partitions), cmp_pmd);
	}
	if (fail)
		goto err_free;
	if (md->broker_cnt > 1)
		qsort(md->brokers, (size_t)md->broker_cnt, sizeof(*md->brokers),
		      cmp_bmd);
	if (md->topic_cnt > 1)
		qsort(md->topics, (size_t)md->topic_cnt, sizeof(*md->topics),
		      cmp_tmd);
	return md;

err_free:
	fluxo_metadata_destroy(md);
	return NULL;
}

int fluxo_admin_metadata(fluxo_admin_t *a, const char *const *topics,
			 size_t topic_cnt, int timeout_ms,
			 fluxo_metadata_t **mdp, char *errstr,
			 size_t errstr_size)
{
	struct resp *resp = NULL;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !mdp || (topic_cnt && !topics)) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	*mdp = NULL;
	rc = metadata_raw(a, topics, topic_cnt, admin_deadline(a, timeout_ms),
			  &resp, errstr, errstr_size);
	if (rc)
		return rc;
	*mdp = md_convert(resp->head->metadata);
	resp_free(resp);
	if (!*mdp) {
		client_fmt(errstr, errstr_size, "out of memory");
		return FLUXO_ERR__NOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ topics */

enum visible_want { SHOWN, GONE, PARTITIONS };

/*
 * Polls Metadata until topic is visible with every partition led (SHOWN,
 * PARTITIONS with count partitions), or unknown (GONE).
 */
static int wait_visible(struct fluxo_admin *a, const char *topic,
			enum visible_want want, int32_t count, int64_t deadline,
			char *errstr, size_t errstr_size)
{
	const char *topics[1] = {topic};
	char why[512];

	for (;;) {
		struct resp *resp = NULL;
		bool done = false;
		int rc;

		rc = metadata_raw(a, topics, 1, deadline, &resp, why,
				  sizeof(why));
		if (rc == 0 && resp->head->metadata->n_topics == 1) {
			const Fluxo__TopicMetadata *tm =
			    resp->head->metadata->topics[0];

			if (want == GONE) {
				done =
				    tm->error ==
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
			} else if (!tm->error && tm->n_partitions > 0 &&
				   (want == SHOWN ||
				    (int32_t)tm->n_partitions == count)) {
				done = count <= 0 ||
				       (int32_t)tm->n_partitions >= count;
				for (size_t i = 0; done && i < tm->n_partitions;
				     i++)
					done = tm->partitions[i]->leader >= 0;
			}
		}
		resp_free(resp);
		if (done)
			return 0;
		if (rc == FLUXO_ERR__TRANSPORT) {
			client_fmt(errstr, errstr_size, "%s", why);
			return rc;
		}
		if (clock_mono_ms() + VISIBLE_POLL_MS >= deadline) {
			client_fmt(
			    errstr, errstr_size,
			    "the change to topic \"%s\" was accepted but "
			    "is not yet visible in the metadata",
			    topic);
			return FLUXO_ERR__TIMED_OUT;
		}
		usleep(VISIBLE_POLL_MS * 1000);
	}
}

int fluxo_admin_create_topic(fluxo_admin_t *a, const fluxo_new_topic_t *t,
			     bool validate_only, int timeout_ms, char *errstr,
			     size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__CreateTopicsRequest cr = FLUXO__CREATE_TOPICS_REQUEST__INIT;
	Fluxo__CreatableTopic ct = FLUXO__CREATABLE_TOPIC__INIT, *ctp = &ct;
	Fluxo__ConfigEntry *ce = NULL, **cep = NULL;
	Fluxo__ReplicaAssignment *ra = NULL, **rap = NULL;
	const Fluxo__CreatableTopicResult *res;
	struct resp *resp = NULL;
	int64_t deadline;
	int32_t parts;
	int rc = FLUXO_ERR__NOMEM;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !t || !t->name || !*t->name ||
	    (t->config_cnt && (!t->config_names || !t->config_values)) ||
	    (t->assignment && (!t->assignment_cnt || t->num_partitions <= 0))) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	deadline = admin_deadline(a, timeout_ms);
	ct.name = (char *)t->name;
	/* With an explicit assignment the counts follow from it, and the
	 * broker (as Kafka's) refuses a request that also sets them. */
	ct.num_partitions = t->assignment ? -1 : t->num_partitions;
	ct.replication_factor = t->assignment ? -1 : t->replication_factor;
	if (t->config_cnt) {
		ce = calloc(t->config_cnt, sizeof(*ce));
		cep = calloc(t->config_cnt, sizeof(*cep));
		if (!ce || !cep)
			goto out_free;
		for (size_t i = 0; i < t->config_cnt; i++) {
			fluxo__config_entry__init(&ce[i]);
			ce[i].name = (char *)t->config_names[i];
			ce[i].value = (char *)t->config_values[i];
			cep[i] = &ce[i];
		}
		ct.configs = cep;
		ct.n_configs = t->config_cnt;
	}
	if (t->assignment) {
		size_t n = (size_t)t->num_partitions;

		ra = calloc(n, sizeof(*ra));
		rap = calloc(n, sizeof(*rap));
		if (!ra || !rap)
			goto out_free;
		for (size_t i = 0; i < n; i++) {
			fluxo__replica_assignment__init(&ra[i]);
			ra[i].partition = (int32_t)i;
			ra[i].broker_ids = (int32_t *)t->assignment[i];
			ra[i].n_broker_ids = (size_t)t->assignment_cnt[i];
			rap[i] = &ra[i];
		}
		ct.assignments = rap;
		ct.n_assignments = n;
	}
	cr.topics = &ctp;
	cr.n_topics = 1;
	cr.timeout_ms = admin_left_ms(deadline);
	cr.validate_only = validate_only;
	head.body_case = FLUXO__REQUEST__BODY_CREATE_TOPICS;
	head.create_topics = &cr;
	rc = admin_call(a, &head, CLIENT_ANY_BROKER, deadline,
			FLUXO__RESPONSE__BODY_CREATE_TOPICS, &resp, errstr,
			errstr_size);
	if (rc)
		goto out_free;
	if (resp->head->create_topics->n_topics < 1) {
		client_fmt(errstr, errstr_size,
			   "the broker's answer lists no topic");
		rc = FLUXO_ERR__BAD_MSG;
		goto out_free;
	}
	res = resp->head->create_topics->topics[0];
	if (res->error) {
		rc = res->error;
		if (res->error_message[0])
			client_fmt(errstr, errstr_size, "%s",
				   res->error_message);
		else if (rc == FLUXO_ERR_TOPIC_ALREADY_EXISTS)
			client_fmt(errstr, errstr_size,
				   "Topic '%s' already exists.", t->name);
		else
			client_fmt(errstr, errstr_size, "%s",
				   fluxo_err2str(rc));
		goto out_free;
	}
	parts =
	    res->num_partitions > 0 ? res->num_partitions : t->num_partitions;
	if (!validate_only)
		rc = wait_visible(a, t->name, SHOWN, parts, deadline, errstr,
				  errstr_size);
out_free:
	if (rc == FLUXO_ERR__NOMEM && !errstr[0])
		client_fmt(errstr, errstr_size, "out of memory");
	resp_free(resp);
	free(ce);
	free(cep);
	free(ra);
	free(rap);
	return rc;
}

/* The first TopicResult's error, with its sentence. */
static int topic_result(const Fluxo__TopicResult *const *r, size_t n,
			const char *name, char *errstr, size_t errstr_size)
{
	if (n < 1) {
		client_fmt(errstr, errstr_size,
			   "the broker's answer lists no topic");
		return FLUXO_ERR__BAD_MSG;
	}
	if (!r[0]->error)
		return 0;
	if (r[0]->error_message[0])
		client_fmt(errstr, errstr_size, "%s", r[0]->error_message);
	else if (r[0]->error == FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION)
		client_fmt(errstr, errstr_size,
			   "Topic '%s' does not exist as expected", name);
	else
		client_fmt(errstr, errstr_size, "%s",
			   fluxo_err2str(r[0]->error));
	return r[0]->error;
}

int fluxo_admin_delete_topic(fluxo_admin_t *a, const char *name, int timeout_ms,
			     char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__DeleteTopicsRequest dr = FLUXO__DELETE_TOPICS_REQUEST__INIT;
	struct resp *resp = NULL;
	char *names[1];
	int64_t deadline;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !name || !*name) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	deadline = admin_deadline(a, timeout_ms);
	names[0] = (char *)name;
	dr.names = names;
	dr.n_names = 1;
	dr.timeout_ms = admin_left_ms(deadline);
	head.body_case = FLUXO__REQUEST__BODY_DELETE_TOPICS;
	head.delete_topics = &dr;
	rc = admin_call(a, &head, CLIENT_ANY_BROKER, deadline,
			FLUXO__RESPONSE__BODY_DELETE_TOPICS, &resp, errstr,
			errstr_size);
	if (rc)
		return rc;
	rc = topic_result((const Fluxo__TopicResult *const *)
			      resp->head->delete_topics->results,
			  resp->head->delete_topics->n_results, name, errstr,
			  errstr_size);
	resp_free(resp);
	if (rc)
		return rc;
	return wait_visible(a, name, GONE, 0, deadline, errstr, errstr_size);
}

int fluxo_admin_create_partitions(fluxo_admin_t *a, const char *name,
				  int32_t new_total, int timeout_ms,
				  char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__CreatePartitionsRequest cr =
	    FLUXO__CREATE_PARTITIONS_REQUEST__INIT;
	Fluxo__CreatePartitionsTopic ct = FLUXO__CREATE_PARTITIONS_TOPIC__INIT;
	Fluxo__CreatePartitionsTopic *ctp = &ct;
	struct resp *resp = NULL;
	int64_t deadline;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !name || !*name || new_total <= 0) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	deadline = admin_deadline(a, timeout_ms);
	ct.name = (char *)name;
	ct.count = new_total;
	cr.topics = &ctp;
	cr.n_topics = 1;
	cr.timeout_ms = admin_left_ms(deadline);
	head.body_case = FLUXO__REQUEST__BODY_CREATE_PARTITIONS;
	head.create_partitions = &cr;
	rc = admin_call(a, &head, CLIENT_ANY_BROKER, deadline,
			FLUXO__RESPONSE__BODY_CREATE_PARTITIONS, &resp, errstr,
			errstr_size);
	if (rc)
		return rc;
	rc = topic_result((const Fluxo__TopicResult *const *)
			      resp->head->create_partitions->results,
			  resp->head->create_partitions->n_results, name,
			  errstr, errstr_size);
	resp_free(resp);
	if (rc)
		return rc;
	return wait_visible(a, name, PARTITIONS, new_total, deadline, errstr,
			    errstr_size);
}

/* ------------------------------------------------------------ configs */

int admin_md_fresh(struct fluxo_admin *a, int64_t deadline, char *errstr,
		   size_t errstr_size)
{
	struct client *cl = &a->cl;
	uint64_t seen, rounds;
	int rc = 0;

	pthread_mutex_lock(&cl->md_lock);
	seen = cl->md_responses;
	rounds = cl->down_rounds;
	client_md_refresh_locked(cl, NULL);
	while (cl->md_responses == seen) {
		if (cl->down_rounds != rounds) {
			client_fmt(errstr, errstr_size, "%s", cl->down_errstr);
			rc = FLUXO_ERR__TRANSPORT;
			break;
		}
		if (clock_mono_ms() >= deadline) {
			client_fmt(errstr, errstr_size,
				   "timed out waiting for cluster metadata");
			rc = FLUXO_ERR__TIMED_OUT;
			break;
		}
		client_cond_wait_until(&cl->md_cond, &cl->md_lock, deadline);
	}
	pthread_mutex_unlock(&cl->md_lock);
	return rc;
}

/* ------------------------------------------------------------ configs */

/* True for "" and "<default>": the cluster-wide broker default. */
static bool broker_default_name(const char *name)
{
	return !*name || strcmp(name, "<default>") == 0;
}

static bool broker_known(struct fluxo_admin *a, int32_t id)
{
	bool known;

	pthread_mutex_lock(&a->cl.md_lock);
	known = a->cl.md_known && md_broker_find(&a->cl.md, id) != NULL;
	pthread_mutex_unlock(&a->cl.md_lock);
	return known;
}

/*
 * Picks the broker a config request goes to (*target). Topics and the
 * cluster default go to any broker. A broker's own settings go to that
 * broker, since only it knows its server.properties: when the cached
 * metadata does not list the id, fresh metadata is fetched once; an id
 * still unknown then fails with BROKER_NOT_AVAILABLE when strict (a
 * describe), or goes to any broker (a change, which any broker can write
 * to ZooKeeper). Returns 0 or an error with errstr set.
 */
static int config_target(struct fluxo_admin *a, int type, const char *name,
			 bool strict, int64_t deadline, int32_t *target,
			 char *errstr, size_t errstr_size)
{
	char *end;
	long id;
	int rc;

	*target = CLIENT_ANY_BROKER;
	if (type != FLUXO_RESOURCE_BROKER || broker_default_name(name))
		return 0;
	id = strtol(name, &end, 10);
	if (*end != '\0' || id < 0 || id > INT32_MAX) {
		client_fmt(errstr, errstr_size,
			   "a broker is named by its id (e.g. \"1\"), or \"\" "
			   "for the cluster-wide default; got \"%s\"",
			   name);
		return FLUXO_ERR__INVALID_ARG;
	}
	if (!broker_known(a, (int32_t)id)) {
		rc = admin_md_fresh(a, deadline, errstr, errstr_size);
		if (rc)
			return rc;
	}
	if (broker_known(a, (int32_t)id)) {
		*target = (int32_t)id;
		return 0;
	}
	if (!strict)
		return 0;
	client_fmt(errstr, errstr_size,
		   "broker %ld is not among the cluster's live brokers", id);
	return FLUXO_ERR_BROKER_NOT_AVAILABLE;
}

void fluxo_config_entries_destroy(fluxo_config_entry_t *entries, size_t cnt)
{
	if (!entries)
		return;
	for (size_t i = 0; i < cnt; i++) {
		free(entries[i].name);
		free(entries[i].value);
		free(entries[i].doc);
		for (size_t j = 0; j < entries[i].synonym_cnt; j++) {
			free(entries[i].synonyms[j].name);
			free(entries[i].synonyms[j].value);
		}
		free(entries[i].synonyms);
	}
	free(entries);
}

static int check_resource(int type, const char *name, char *errstr,
			  size_t errstr_size)
{
	if ((type != FLUXO_RESOURCE_TOPIC && type != FLUXO_RESOURCE_BROKER) ||
	    !name) {
		client_fmt(errstr, errstr_size,
			   "resource_type must be FLUXO_RESOURCE_TOPIC or "
			   "FLUXO_RESOURCE_BROKER, with a name");
		return FLUXO_ERR__INVALID_ARG;
	}
	return 0;
}

int fluxo_admin_describe_configs(fluxo_admin_t *a, int resource_type,
				 const char *name, bool include_doc,
				 int timeout_ms, fluxo_config_entry_t **entries,
				 size_t *cnt, char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__DescribeConfigsRequest dr =
	    FLUXO__DESCRIBE_CONFIGS_REQUEST__INIT;
	Fluxo__DescribeConfigsResource
	    res = FLUXO__DESCRIBE_CONFIGS_RESOURCE__INIT,
	    *resp_res = &res;
	const Fluxo__DescribeConfigsResult *r;
	fluxo_config_entry_t *out = NULL;
	struct resp *resp = NULL;
	int64_t deadline;
	int32_t target;
	bool fail = false;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !entries || !cnt) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	*entries = NULL;
	*cnt = 0;
	rc = check_resource(resource_type, name, errstr, errstr_size);
	if (rc)
		return rc;
	deadline = admin_deadline(a, timeout_ms);
	res.type = (Fluxo__ResourceType)resource_type;
	res.name = (char *)name;
	dr.resources = &resp_res;
	dr.n_resources = 1;
	dr.include_documentation = include_doc;
	dr.include_synonyms = true;
	head.body_case = FLUXO__REQUEST__BODY_DESCRIBE_CONFIGS;
	head.describe_configs = &dr;
	rc = config_target(a, resource_type, name, true, deadline, &target,
			   errstr, errstr_size);
	if (rc)
		return rc;
	rc = admin_call(a, &head, target, deadline,
			FLUXO__RESPONSE__BODY_DESCRIBE_CONFIGS, &resp, errstr,
			errstr_size);
	if (rc)
		return rc;
	if (resp->head->describe_configs->n_results < 1) {
		client_fmt(errstr, errstr_size,
			   "the broker's answer lists no resource");
		rc = FLUXO_ERR__BAD_MSG;
		goto out_free;
	}
	r = resp->head->describe_configs->results[0];
	if (r->error) {
		rc = r->error;
		client_fmt(errstr, errstr_size, "%s",
			   r->error_message[0] ? r->error_message
					       : fluxo_err2str(rc));
		goto out_free;
	}
	if (r->n_configs) {
		out = calloc(r->n_configs, sizeof(*out));
		if (!out) {
			rc = FLUXO_ERR__NOMEM;
			goto out_free;
		}
	}
	for (size_t i = 0; i < r->n_configs; i++) {
		const Fluxo__DescribedConfig *dc = r->configs[i];

		out[i].name = str_dup(dc->name, &fail);
		if (!dc->is_sensitive)
			out[i].value = str_dup(dc->value, &fail);
		out[i].source = (fluxo_config_source_t)dc->source;
		out[i].read_only = dc->read_only;
		out[i].is_sensitive = dc->is_sensitive;
		if (include_doc && dc->documentation[0])
			out[i].doc = str_dup(dc->documentation, &fail);
		if (dc->n_synonyms)
			out[i].synonyms =
			    calloc(dc->n_synonyms, sizeof(*out[i].synonyms));
		if (dc->n_synonyms && !out[i].synonyms)
			fail = true;
		for (size_t j = 0; out[i].synonyms && j < dc->n_synonyms; j++) {
			const Fluxo__ConfigSynonym *cs = dc->synonyms[j];
			fluxo_config_synonym_t *sy =
			    &out[i].synonyms[out[i].synonym_cnt++];

			sy->name = str_dup(cs->name, &fail);
			if (!dc->is_sensitive)
				sy->value = str_dup(cs->value, &fail);
			sy->source = (fluxo_config_source_t)cs->source;
		}
	}
	if (fail) {
		fluxo_config_entries_destroy(out, r->n_configs);
		out = NULL;
		rc = FLUXO_ERR__NOMEM;
		goto out_free;
	}
	*entries = out;
	*cnt = r->n_configs;
out_free:
	if (rc == FLUXO_ERR__NOMEM)
		client_fmt(errstr, errstr_size, "out of memory");
	resp_free(resp);
	return rc;
}

int fluxo_admin_alter_configs(fluxo_admin_t *a, int resource_type,
			      const char *name, const char *const *set_names,
			      const char *const *set_values, size_t set_cnt,
			      const char *const *delete_names,
			      size_t delete_cnt, bool validate_only,
			      int timeout_ms, char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__AlterConfigsRequest ar = FLUXO__ALTER_CONFIGS_REQUEST__INIT;
	Fluxo__AlterConfigsResource res = FLUXO__ALTER_CONFIGS_RESOURCE__INIT;
	Fluxo__AlterConfigsResource *resp_res = &res;
	Fluxo__AlterableConfig *ac = NULL, **acp = NULL;
	const Fluxo__AlterConfigsResult *r;
	struct resp *resp = NULL;
	size_t n = set_cnt + delete_cnt;
	int64_t deadline;
	int32_t target;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || (set_cnt && (!set_names || !set_values)) ||
	    (delete_cnt && !delete_names)) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	rc = check_resource(resource_type, name, errstr, errstr_size);
	if (rc)
		return rc;
	deadline = admin_deadline(a, timeout_ms);
	if (n) {
		ac = calloc(n, sizeof(*ac));
		acp = calloc(n, sizeof(*acp));
		if (!ac || !acp) {
			rc = FLUXO_ERR__NOMEM;
			client_fmt(errstr, errstr_size, "out of memory");
			goto out_free;
		}
	}
	for (size_t i = 0; i < n; i++) {
		fluxo__alterable_config__init(&ac[i]);
		if (i < set_cnt) {
			ac[i].name = (char *)set_names[i];
			ac[i].value = (char *)set_values[i];
			ac[i].op = FLUXO__ALTER_CONFIG_OP__OP_SET;
		} else {
			ac[i].name = (char *)delete_names[i - set_cnt];
			ac[i].op = FLUXO__ALTER_CONFIG_OP__OP_DELETE;
		}
		acp[i] = &ac[i];
	}
	res.type = (Fluxo__ResourceType)resource_type;
	res.name = (char *)name;
	res.configs = acp;
	res.n_configs = n;
	ar.resources = &resp_res;
	ar.n_resources = 1;
	ar.validate_only = validate_only;
	head.body_case = FLUXO__REQUEST__BODY_ALTER_CONFIGS;
	head.alter_configs = &ar;
	rc = config_target(a, resource_type, name, false, deadline, &target,
			   errstr, errstr_size);
	if (rc)
		goto out_free;
	rc = admin_call(a, &head, target, deadline,
			FLUXO__RESPONSE__BODY_ALTER_CONFIGS, &resp, errstr,
			errstr_size);
	if (rc)
		goto out_free;
	if (resp->head->alter_configs->n_results < 1) {
		client_fmt(errstr, errstr_size,
			   "the broker's answer lists no resource");
		rc = FLUXO_ERR__BAD_MSG;
		goto out_free;
	}
	r = resp->head->alter_configs->results[0];
	if (r->error) {
		rc = r->error;
		client_fmt(errstr, errstr_size, "%s",
			   r->error_message[0] ? r->error_message
					       : fluxo_err2str(rc));
	}
out_free:
	resp_free(resp);
	free(ac);
	free(acp);
	return rc;
}

/* ------------------------------------------------------------ offsets */

int fluxo_admin_list_offset(fluxo_admin_t *a, const char *topic,
			    int32_t partition, int64_t spec, int timeout_ms,
			    int64_t *offset, char *errstr, size_t errstr_size)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__ListOffsetsRequest lr = FLUXO__LIST_OFFSETS_REQUEST__INIT;
	Fluxo__ListOffsetsTopic lt = FLUXO__LIST_OFFSETS_TOPIC__INIT,
				*ltp = &lt;
	Fluxo__ListOffsetsPartition lp = FLUXO__LIST_OFFSETS_PARTITION__INIT;
	Fluxo__ListOffsetsPartition *lpp = &lp;
	int64_t deadline;
	int rc;

	ADMIN_ERRBUF(errstr, errstr_size);
	if (!a || !topic || !*topic || partition < 0 || !offset ||
	    spec < FLUXO_OFFSET_BEGINNING) {
		client_fmt(errstr, errstr_size, "invalid argument");
		return FLUXO_ERR__INVALID_ARG;
	}
	*offset = -1;
	deadline = admin_deadline(a, timeout_ms);
	lp.partition = partition;
	lp.current_leader_epoch = -1;
	lp.timestamp = spec;
	lt.name = (char *)topic;
	lt.partitions = &lpp;
	lt.n_partitions = 1;
	lr.replica_id = -1;
	lr.topics = &ltp;
	lr.n_topics = 1;
	head.body_case = FLUXO__REQUEST__BODY_LIST_OFFSETS;
	head.list_offsets = &lr;
	for (;;) {
		const Fluxo__ListOffsetsPartitionResponse *pr = NULL;
		const Fluxo__ListOffsetsResponse *r;
		struct resp *resp = NULL;
		int32_t leader;
		int cnt;

		/* The leader, from the cache (refreshed when unknown). */
		cnt = client_topic_wait(&a->cl, topic, deadline, ADMIN_DENIALS,
					errstr, errstr_size);
		if (cnt < 0)
			return cnt;
		if (partition >= cnt) {
			client_fmt(
			    errstr, errstr_size,
			    "topic \"%s\" has %d partitions; there is no "
			    "partition %d",
			    topic, cnt, partition);
			return FLUXO_ERR__UNKNOWN_PARTITION;
		}
		pthread_mutex_lock(&a->cl.md_lock);
		leader = md_leader(&a->cl.md, topic, partition, NULL);
		pthread_mutex_unlock(&a->cl.md_lock);
		if (leader < 0) {
			rc = FLUXO_ERR_LEADER_NOT_AVAILABLE;
			client_fmt(errstr, errstr_size, "%s [%d] has no leader",
				   topic, partition);
			goto retry;
		}
		rc = admin_call(a, &head, leader, deadline,
				FLUXO__RESPONSE__BODY_LIST_OFFSETS, &resp,
				errstr, errstr_size);
		if (rc)
			goto retry;
		r = resp->head->list_offsets;
		if (r->n_topics > 0 && r->topics[0]->n_partitions > 0)
			pr = r->topics[0]->partitions[0];
		if (!pr) {
			rc = FLUXO_ERR__BAD_MSG;
			client_fmt(errstr, errstr_size,
				   "the broker's answer lists no partition");
		} else if (pr->error) {
			rc = pr->error;
			client_fmt(errstr, errstr_size, "%s [%d]: %s", topic,
				   partition, fluxo_err2str(rc));
		} else {
			*offset = pr->offset;
		}
		resp_free(resp);
		if (rc == 0)
			return 0;
	retry:
		if (!fluxo_err_is_retriable(rc) || rc == FLUXO_ERR__TRANSPORT ||
		    clock_mono_ms() + a->cl.conf.retry_backoff_ms >= deadline)
			return rc;
		client_md_refresh(&a->cl, topic);
		usleep((useconds_t)a->cl.conf.retry_backoff_ms * 1000);
	}
}
