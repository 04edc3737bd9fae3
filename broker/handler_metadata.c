/*
 * handler_metadata.c - the Metadata API.
 *
 * Answers from the metadata cache (the controller's last UpdateMetadata),
 * so any broker can describe the whole cluster without touching
 * ZooKeeper. A topic that does not exist is reported with
 * UNKNOWN_TOPIC_OR_PARTITION and a sentence naming
 * auto.create.topics.enable; when that setting is on and the client allows
 * it, the topic is created with the broker's defaults on the admin thread
 * and reported as LEADER_NOT_AVAILABLE until its leaders are elected, as
 * Kafka does.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "broker_int.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "server.h"

static Fluxo__BrokerEndpoint **build_brokers(struct request *r,
					     const struct md_snapshot *s)
{
	Fluxo__BrokerEndpoint **v =
		request_alloc(r, (size_t)(s->n_brokers + 1) * sizeof(*v));

	for (int i = 0; i < s->n_brokers; i++) {
		Fluxo__BrokerEndpoint *ep = request_alloc(r, sizeof(*ep));

		fluxo__broker_endpoint__init(ep);
		ep->node_id = s->brokers[i].id;
		ep->host = s->brokers[i].host;
		ep->port = s->brokers[i].port;
		ep->rack = s->brokers[i].rack ? s->brokers[i].rack : "";
		v[i] = ep;
	}
	return v;
}

static bool valid_topic_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 249 || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static Fluxo__TopicMetadata *metadata_describe_topic(struct request *r,
						     const struct md_snapshot *s,
					      const struct md_topic *t)
{
	Fluxo__TopicMetadata *tm = request_alloc(r, sizeof(*tm));

	fluxo__topic_metadata__init(tm);
	tm->name = t->name;
	tm->n_partitions = (size_t)t->n_parts;
	tm->partitions = request_alloc(r, (size_t)(t->n_parts + 1) *
						  sizeof(*tm->partitions));
	for (int i = 0; i < t->n_parts; i++) {
		const struct md_partition *p = &t->parts[i];
		Fluxo__PartitionMetadata *pm = request_alloc(r, sizeof(*pm));

		fluxo__partition_metadata__init(pm);
		pm->partition = i;
		pm->leader = p->leader;
		pm->leader_epoch = p->leader_epoch;
		pm->replicas = p->replicas;
		pm->n_replicas = (size_t)p->n_replicas;
		pm->isr = p->isr;
		pm->n_isr = (size_t)p->n_isr;
		pm->offline_replicas = p->offline;
		pm->n_offline_replicas = (size_t)p->n_offline;
		if (p->leader < 0 || !md_find_broker(s, p->leader))
			pm->error = FLUXO__ERROR_CODE__LEADER_NOT_AVAILABLE;
		tm->partitions[i] = pm;
	}
	return tm;
}

static Fluxo__TopicMetadata *missing_topic(struct request *r,
					   const char *name,
					   bool may_create)
{
	struct broker *b = worker_broker(r->w);
	Fluxo__TopicMetadata *tm = request_alloc(r, sizeof(*tm));
	char msg[512];

	fluxo__topic_metadata__init(tm);
	tm->name = request_strdup(r, name);
	if (!valid_topic_name(name)) {
		tm->error = FLUXO__ERROR_CODE__INVALID_TOPIC_EXCEPTION;
		snprintf(msg, sizeof(msg),
			 "Topic name \"%s\" is illegal: it must be 1 to 249 of "
			 "[a-zA-Z0-9._-] and not \".\" or \"..\"",
			 name);
	} else if (b->conf.auto_create_topics_enable && may_create) {
		admin_auto_create_topic(b, name);
		tm->error = FLUXO__ERROR_CODE__LEADER_NOT_AVAILABLE;
		snprintf(msg, sizeof(msg),
			 "Topic '%s' is being created (auto.create.topics.enable=true)",
			 name);
	} else {
		tm->error = FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
		unknown_topic_message(b, name, msg, sizeof(msg));
	}
	tm->error_message = request_strdup(r, msg);
	return tm;
}

void unknown_topic_message(const struct broker *b, const char *topic,
			   char *msg, size_t msg_size)
{
	if (b->conf.auto_create_topics_enable)
		snprintf(msg, msg_size,
			 "Topic '%s' does not exist; this request does not "
			 "create topics (auto.create.topics.enable=true creates "
			 "them only on a metadata request that allows it); "
			 "create it with fluxo-topics --create --topic %s",
			 topic, topic);
	else
		snprintf(msg, msg_size,
			 "Topic '%s' does not exist and "
			 "auto.create.topics.enable is false on this cluster; "
			 "create it first (fluxo-topics --create --topic %s)",
			 topic, topic);
}

void handle_metadata(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	const Fluxo__MetadataRequest *mr = r->req->metadata;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__MetadataResponse body = FLUXO__METADATA_RESPONSE__INIT;
	struct md_snapshot *s = md_cache_acquire(b->md);
	size_t n = 0;

	body.brokers = build_brokers(r, s);
	body.n_brokers = (size_t)s->n_brokers;
	body.cluster_id = b->cluster_id;
	body.controller_id = s->controller_id;
	body.controller_epoch = s->controller_epoch;
	if (mr->all_topics) {
		body.topics = request_alloc(r, (size_t)(s->n_topics + 1) *
						       sizeof(*body.topics));
		for (int i = 0; i < s->n_topics; i++) {
			if (s->topics[i]->deleting)
				continue;
			body.topics[n++] =
				metadata_describe_topic(r, s, s->topics[i]);
		}
	} else {
		body.topics = request_alloc(r, (mr->n_topics + 1) *
						       sizeof(*body.topics));
		for (size_t i = 0; i < mr->n_topics; i++) {
			const struct md_topic *t =
				md_find_topic(s, mr->topics[i]);

			if (t && !t->deleting)
				body.topics[n++] =
					metadata_describe_topic(r, s, t);
			else
				body.topics[n++] = missing_topic(
					r, mr->topics[i],
					mr->allow_auto_topic_creation);
		}
	}
	body.n_topics = n;
	resp.body_case = FLUXO__RESPONSE__BODY_METADATA;
	resp.metadata = &body;
	request_respond(r, &resp, NULL, 0);
	md_snapshot_release(s);
}
