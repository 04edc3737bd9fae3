/*
 * reassign_client.c - a raw protobuf client for test_reassign.sh, until
 * libfluxo and fluxo-reassign-partitions carry the reassignment API.
 *
 *   reassign_client BOOTSTRAP alter TOPIC PARTITION ID[,ID...]
 *   reassign_client BOOTSTRAP cancel TOPIC PARTITION
 *   reassign_client BOOTSTRAP list
 *   reassign_client BOOTSTRAP describe TOPIC PARTITION
 *   reassign_client BOOTSTRAP broker-config NAME [VALUE]
 *   reassign_client BOOTSTRAP create TOPIC ID[,ID...] [NAME=VALUE...]
 *
 * BOOTSTRAP is host:port[,host:port...]; the first broker that answers
 * Metadata names the controller, which gets the reassignment requests.
 * alter/cancel print the partition's error name and exit 0 only on NONE;
 * list prints "topic-p replicas=a,b adding=c removing=d" per ongoing
 * reassignment; describe prints "leader=L replicas=a,b isr=c,d" as the
 * answering broker's metadata has it; broker-config sets (or, without a
 * VALUE, removes) a dynamic setting of every broker (<default>); create
 * makes a topic of one partition on the given replicas, with topic
 * settings (values may hold commas). Exit 2 means the cluster could not
 * be asked (retry).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/net.h"
#include "common/rpc.h"
#include "fluxo.pb-c.h"

#define E(x) FLUXO__ERROR_CODE__##x

static const char *bootstrap;

static const char *err_name(int e)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &fluxo__error_code__descriptor, e);

	return v ? v->name : "?";
}

/* One request on a fresh connection; NULL when it could not be done. */
static Fluxo__Response *call_at(const char *host, int port, Fluxo__Request *req,
				struct buf *rb)
{
	struct frame_info fi;
	char errstr[256];
	int fd, rc;

	fd = net_connect(host, port, 3000, errstr, sizeof(errstr));
	if (fd < 0)
		return NULL;
	req->correlation_id = 1;
	req->client_id = "reassign-client";
	rc = rpc_call(fd, &req->base, NULL, 0, 64u << 20, 10000, rb, &fi);
	close(fd);
	if (rc < 0)
		return NULL;
	return fluxo__response__unpack(NULL, fi.head_len, rb->data);
}

/* Metadata of topic (NULL: no topic) from the first broker answering. */
static Fluxo__Response *metadata(const char *topic, struct buf *rb)
{
	char *list = strdup(bootstrap), *save = NULL;
	Fluxo__Response *r = NULL;

	for (char *hp = strtok_r(list, ",", &save); hp && !r;
	     hp = strtok_r(NULL, ",", &save)) {
		Fluxo__Request req = FLUXO__REQUEST__INIT;
		Fluxo__MetadataRequest mr = FLUXO__METADATA_REQUEST__INIT;
		char *topics[1] = {(char *)topic};
		char *colon = strrchr(hp, ':');

		if (!colon)
			continue;
		*colon = '\0';
		req.api = FLUXO__API_KEY__METADATA;
		req.body_case = FLUXO__REQUEST__BODY_METADATA;
		req.metadata = &mr;
		if (topic) {
			mr.topics = topics;
			mr.n_topics = 1;
		}
		r = call_at(hp, atoi(colon + 1), &req, rb);
		if (r && r->body_case != FLUXO__RESPONSE__BODY_METADATA) {
			fluxo__response__free_unpacked(r, NULL);
			r = NULL;
		}
	}
	free(list);
	return r;
}

/* Sends req to the controller. NULL when none could be reached. */
static Fluxo__Response *to_controller(Fluxo__Request *req, struct buf *rb)
{
	Fluxo__Response *md = metadata(NULL, rb), *r = NULL;
	const Fluxo__MetadataResponse *m;

	if (!md)
		return NULL;
	m = md->metadata;
	for (size_t i = 0; i < m->n_brokers; i++)
		if (m->brokers[i]->node_id == m->controller_id) {
			char host[256];

			snprintf(host, sizeof(host), "%s", m->brokers[i]->host);
			r = call_at(host, m->brokers[i]->port, req, rb);
			break;
		}
	fluxo__response__free_unpacked(md, NULL);
	return r;
}

static void print_ids(const char *label, const int32_t *v, size_t n)
{
	printf(" %s=", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", v[i]);
}

static int do_alter(const char *topic, int p, const char *ids)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__AlterPartitionReassignmentsRequest ar =
	    FLUXO__ALTER_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	Fluxo__ReassignablePartition rp = FLUXO__REASSIGNABLE_PARTITION__INIT,
				     *rps[1] = {&rp};
	struct buf rb = BUF_INIT;
	int32_t reps[64];
	Fluxo__Response *r;
	int rc = 2;

	rp.topic = (char *)topic;
	rp.partition = p;
	if (ids) {
		char *copy = strdup(ids), *save = NULL;

		for (char *s = strtok_r(copy, ",", &save);
		     s && rp.n_replicas < 64; s = strtok_r(NULL, ",", &save))
			reps[rp.n_replicas++] = atoi(s);
		free(copy);
		rp.replicas = reps;
	} else {
		rp.cancel = true;
	}
	req.api = FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS;
	req.body_case = FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS;
	req.alter_partition_reassignments = &ar;
	ar.partitions = rps;
	ar.n_partitions = 1;
	ar.timeout_ms = 30000;
	r = to_controller(&req, &rb);
	if (!r || r->body_case !=
		      FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS) {
		fprintf(stderr, "no answer from the controller\n");
		goto out;
	}
	if (r->alter_partition_reassignments->error != E(NONE)) {
		printf("%s\n",
		       err_name(r->alter_partition_reassignments->error));
		goto out;
	}
	for (size_t i = 0; i < r->alter_partition_reassignments->n_results;
	     i++) {
		const Fluxo__ReassignmentResult *x =
		    r->alter_partition_reassignments->results[i];

		printf("%s%s%s\n", err_name(x->error),
		       x->error_message && *x->error_message ? ": " : "",
		       x->error_message ? x->error_message : "");
		rc = x->error == E(NONE) ? 0 : 1;
	}
out:
	if (r)
		fluxo__response__free_unpacked(r, NULL);
	buf_free(&rb);
	return rc;
}

static int do_list(void)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ListPartitionReassignmentsRequest lr =
	    FLUXO__LIST_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	struct buf rb = BUF_INIT;
	Fluxo__Response *r;
	int rc = 2;

	req.api = FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS;
	req.body_case = FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS;
	req.list_partition_reassignments = &lr;
	r = to_controller(&req, &rb);
	if (r &&
	    r->body_case ==
		FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS &&
	    r->list_partition_reassignments->error == E(NONE)) {
		const Fluxo__ListPartitionReassignmentsResponse *l =
		    r->list_partition_reassignments;

		for (size_t i = 0; i < l->n_reassignments; i++) {
			const Fluxo__OngoingReassignment *o =
			    l->reassignments[i];

			printf("%s-%d", o->topic, o->partition);
			print_ids("replicas", o->replicas, o->n_replicas);
			print_ids("adding", o->adding_replicas,
				  o->n_adding_replicas);
			print_ids("removing", o->removing_replicas,
				  o->n_removing_replicas);
			printf("\n");
		}
		rc = 0;
	}
	if (r)
		fluxo__response__free_unpacked(r, NULL);
	buf_free(&rb);
	return rc;
}

static int do_describe(const char *topic, int p)
{
	struct buf rb = BUF_INIT;
	Fluxo__Response *r = metadata(topic, &rb);
	int rc = 2;

	if (!r)
		goto out;
	for (size_t t = 0; t < r->metadata->n_topics; t++) {
		const Fluxo__TopicMetadata *tm = r->metadata->topics[t];

		for (size_t i = 0; i < tm->n_partitions; i++) {
			const Fluxo__PartitionMetadata *pm = tm->partitions[i];

			if (strcmp(tm->name, topic) != 0 || pm->partition != p)
				continue;
			printf("leader=%d", pm->leader);
			print_ids("replicas", pm->replicas, pm->n_replicas);
			print_ids("isr", pm->isr, pm->n_isr);
			printf("\n");
			rc = 0;
		}
	}
	fluxo__response__free_unpacked(r, NULL);
out:
	buf_free(&rb);
	return rc;
}

static int do_broker_config(const char *name, const char *value)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__AlterConfigsRequest ac = FLUXO__ALTER_CONFIGS_REQUEST__INIT;
	Fluxo__AlterConfigsResource res = FLUXO__ALTER_CONFIGS_RESOURCE__INIT,
				    *resp_[1] = {&res};
	Fluxo__AlterableConfig cfg = FLUXO__ALTERABLE_CONFIG__INIT,
			       *cfgs[1] = {&cfg};
	struct buf rb = BUF_INIT;
	Fluxo__Response *r;
	int rc = 2;

	res.type = FLUXO__RESOURCE_TYPE__RESOURCE_BROKER;
	res.name = "";
	res.configs = cfgs;
	res.n_configs = 1;
	cfg.name = (char *)name;
	cfg.value = (char *)(value ? value : "");
	cfg.op = value ? FLUXO__ALTER_CONFIG_OP__OP_SET
		       : FLUXO__ALTER_CONFIG_OP__OP_DELETE;
	ac.resources = resp_;
	ac.n_resources = 1;
	req.api = FLUXO__API_KEY__ALTER_CONFIGS;
	req.body_case = FLUXO__REQUEST__BODY_ALTER_CONFIGS;
	req.alter_configs = &ac;
	r = to_controller(&req, &rb);
	if (r && r->body_case == FLUXO__RESPONSE__BODY_ALTER_CONFIGS &&
	    r->alter_configs->n_results == 1) {
		const Fluxo__AlterConfigsResult *x =
		    r->alter_configs->results[0];

		printf("%s %s\n", err_name(x->error),
		       x->error_message ? x->error_message : "");
		rc = x->error == E(NONE) ? 0 : 1;
	}
	if (r)
		fluxo__response__free_unpacked(r, NULL);
	buf_free(&rb);
	return rc;
}

static int do_create(const char *topic, const char *ids, char **kv, int n_kv)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__CreateTopicsRequest cr = FLUXO__CREATE_TOPICS_REQUEST__INIT;
	Fluxo__CreatableTopic ct = FLUXO__CREATABLE_TOPIC__INIT,
			      *cts[1] = {&ct};
	Fluxo__ReplicaAssignment ra = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 *ras[1] = {&ra};
	Fluxo__ConfigEntry ce[16], *ces[16];
	struct buf rb = BUF_INIT;
	char *copy = strdup(ids), *save = NULL;
	int32_t reps[64];
	Fluxo__Response *r;
	int rc = 2;

	for (char *s = strtok_r(copy, ",", &save); s && ra.n_broker_ids < 64;
	     s = strtok_r(NULL, ",", &save))
		reps[ra.n_broker_ids++] = atoi(s);
	ra.partition = 0;
	ra.broker_ids = reps;
	for (int i = 0; i < n_kv && i < 16; i++) {
		char *eq = strchr(kv[i], '=');

		fluxo__config_entry__init(&ce[i]);
		if (!eq)
			continue;
		*eq = '\0';
		ce[i].name = kv[i];
		ce[i].value = eq + 1;
		ces[ct.n_configs++] = &ce[i];
	}
	ct.name = (char *)topic;
	ct.num_partitions = -1;
	ct.replication_factor = -1;
	ct.assignments = ras;
	ct.n_assignments = 1;
	ct.configs = ces;
	cr.topics = cts;
	cr.n_topics = 1;
	cr.timeout_ms = 10000;
	req.api = FLUXO__API_KEY__CREATE_TOPICS;
	req.body_case = FLUXO__REQUEST__BODY_CREATE_TOPICS;
	req.create_topics = &cr;
	r = to_controller(&req, &rb);
	if (r && r->body_case == FLUXO__RESPONSE__BODY_CREATE_TOPICS &&
	    r->create_topics->n_topics == 1) {
		const Fluxo__CreatableTopicResult *x =
		    r->create_topics->topics[0];

		printf("%s %s\n", err_name(x->error),
		       x->error_message ? x->error_message : "");
		rc = x->error == E(NONE) ? 0 : 1;
	}
	if (r)
		fluxo__response__free_unpacked(r, NULL);
	buf_free(&rb);
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 3)
		goto usage;
	bootstrap = argv[1];
	cmd = argv[2];
	if (strcmp(cmd, "alter") == 0 && argc == 6)
		return do_alter(argv[3], atoi(argv[4]), argv[5]);
	if (strcmp(cmd, "cancel") == 0 && argc == 5)
		return do_alter(argv[3], atoi(argv[4]), NULL);
	if (strcmp(cmd, "list") == 0 && argc == 3)
		return do_list();
	if (strcmp(cmd, "describe") == 0 && argc == 5)
		return do_describe(argv[3], atoi(argv[4]));
	if (strcmp(cmd, "broker-config") == 0 && (argc == 4 || argc == 5))
		return do_broker_config(argv[3], argc == 5 ? argv[4] : NULL);
	if (strcmp(cmd, "create") == 0 && argc >= 5)
		return do_create(argv[3], argv[4], argv + 5, argc - 5);
usage:
	fprintf(stderr, "usage: reassign_client HOST:PORT[,...] "
			"alter TOPIC P IDS | cancel TOPIC P | list | "
			"describe TOPIC P | broker-config NAME [VALUE] | "
			"create TOPIC IDS [K=V...]\n");
	return 64;
}
