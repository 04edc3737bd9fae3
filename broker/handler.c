/*
 * handler.c - request dispatch and the small requests.
 *
 * Every decoded request arrives here on its connection's worker thread.
 * The API key and version are checked against the table of supported
 * versions (ApiVersions publishes the same table), the body is checked to
 * match the key, and the request goes to its handler. A request for an
 * unknown API or an unsupported version gets a response carrying
 * UNSUPPORTED_VERSION rather than a closed connection, so a client can
 * tell what went wrong; a body that does not match its key is
 * INVALID_REQUEST.
 */
#include "config.h"
#include "broker.h"

#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"
#include "handlers.h"
#include "server.h"

struct api_entry {
	Fluxo__ApiKey api;
	Fluxo__Request__BodyCase body;
	int min_version, max_version;
	void (*fn)(struct request *r);
	const char *name;
};

static void handle_api_versions(struct request *r);

static const struct api_entry apis[] = {
	{ FLUXO__API_KEY__PRODUCE, FLUXO__REQUEST__BODY_PRODUCE, 0, 0,
	  handle_produce, "Produce" },
	{ FLUXO__API_KEY__FETCH, FLUXO__REQUEST__BODY_FETCH, 0, 0,
	  handle_fetch, "Fetch" },
	{ FLUXO__API_KEY__LIST_OFFSETS, FLUXO__REQUEST__BODY_LIST_OFFSETS, 0, 0,
	  handle_list_offsets, "ListOffsets" },
	{ FLUXO__API_KEY__METADATA, FLUXO__REQUEST__BODY_METADATA, 0, 0,
	  handle_metadata, "Metadata" },
	{ FLUXO__API_KEY__LEADER_AND_ISR, FLUXO__REQUEST__BODY_LEADER_AND_ISR,
	  0, 0, handle_control, "LeaderAndIsr" },
	{ FLUXO__API_KEY__STOP_REPLICA, FLUXO__REQUEST__BODY_STOP_REPLICA, 0, 0,
	  handle_control, "StopReplica" },
	{ FLUXO__API_KEY__UPDATE_METADATA,
	  FLUXO__REQUEST__BODY_UPDATE_METADATA, 0, 0, handle_control,
	  "UpdateMetadata" },
	{ FLUXO__API_KEY__CONTROLLED_SHUTDOWN,
	  FLUXO__REQUEST__BODY_CONTROLLED_SHUTDOWN, 0, 0, handle_to_controller,
	  "ControlledShutdown" },
	{ FLUXO__API_KEY__API_VERSIONS, FLUXO__REQUEST__BODY_API_VERSIONS, 0, 0,
	  handle_api_versions, "ApiVersions" },
	{ FLUXO__API_KEY__CREATE_TOPICS, FLUXO__REQUEST__BODY_CREATE_TOPICS, 0,
	  0, handle_admin, "CreateTopics" },
	{ FLUXO__API_KEY__DELETE_TOPICS, FLUXO__REQUEST__BODY_DELETE_TOPICS, 0,
	  0, handle_admin, "DeleteTopics" },
	{ FLUXO__API_KEY__INIT_PRODUCER_ID,
	  FLUXO__REQUEST__BODY_INIT_PRODUCER_ID, 0, 0, handle_admin,
	  "InitProducerId" },
	{ FLUXO__API_KEY__OFFSET_FOR_LEADER_EPOCH,
	  FLUXO__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH, 0, 0,
	  handle_offset_for_leader_epoch, "OffsetForLeaderEpoch" },
	{ FLUXO__API_KEY__DESCRIBE_CONFIGS,
	  FLUXO__REQUEST__BODY_DESCRIBE_CONFIGS, 0, 0, handle_admin,
	  "DescribeConfigs" },
	{ FLUXO__API_KEY__ALTER_CONFIGS, FLUXO__REQUEST__BODY_ALTER_CONFIGS, 0,
	  0, handle_admin, "AlterConfigs" },
	{ FLUXO__API_KEY__CREATE_PARTITIONS,
	  FLUXO__REQUEST__BODY_CREATE_PARTITIONS, 0, 0, handle_admin,
	  "CreatePartitions" },
	{ FLUXO__API_KEY__ELECT_LEADERS, FLUXO__REQUEST__BODY_ELECT_LEADERS, 0,
	  0, handle_to_controller, "ElectLeaders" },
	{ FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS,
	  FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS, 0, 0,
	  handle_to_controller, "AlterPartitionReassignments" },
	{ FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS,
	  FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS, 0, 0,
	  handle_to_controller, "ListPartitionReassignments" },
	{ FLUXO__API_KEY__ALTER_ISR, FLUXO__REQUEST__BODY_ALTER_ISR, 0, 0,
	  handle_to_controller, "AlterIsr" },
};

#define N_APIS (sizeof(apis) / sizeof(apis[0]))

const char *broker_api_name(int api)
{
	for (size_t i = 0; i < N_APIS; i++)
		if ((int)apis[i].api == api)
			return apis[i].name;
	return "Unknown";
}

static void handle_api_versions(struct request *r)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__ApiVersionsResponse body = FLUXO__API_VERSIONS_RESPONSE__INIT;
	Fluxo__ApiVersionRange ranges[N_APIS];
	Fluxo__ApiVersionRange *ptrs[N_APIS];

	for (size_t i = 0; i < N_APIS; i++) {
		fluxo__api_version_range__init(&ranges[i]);
		ranges[i].api = apis[i].api;
		ranges[i].min_version = apis[i].min_version;
		ranges[i].max_version = apis[i].max_version;
		ptrs[i] = &ranges[i];
	}
	body.apis = ptrs;
	body.n_apis = N_APIS;
	body.broker_software_version = PACKAGE_VERSION;
	resp.body_case = FLUXO__RESPONSE__BODY_API_VERSIONS;
	resp.api_versions = &body;
	request_respond(r, &resp, NULL, 0);
}

void broker_handle_request(struct request *r)
{
	const Fluxo__Request *req = r->req;
	const struct api_entry *e = NULL;
	char msg[160];

	for (size_t i = 0; i < N_APIS; i++) {
		if (apis[i].api == req->api) {
			e = &apis[i];
			break;
		}
	}
	if (!e) {
		snprintf(msg, sizeof(msg), "API key %d is not supported",
			 (int)req->api);
		log_debug("request", "%s (peer=%s)", msg, request_peer(r));
		request_respond_error(r, FLUXO__ERROR_CODE__UNSUPPORTED_VERSION,
				      msg);
		return;
	}
	if (req->version < e->min_version || req->version > e->max_version) {
		snprintf(msg, sizeof(msg),
			 "%s version %d is not supported (supported: %d to %d)",
			 e->name, req->version, e->min_version,
			 e->max_version);
		log_debug("request", "%s (peer=%s)", msg, request_peer(r));
		request_respond_error(r, FLUXO__ERROR_CODE__UNSUPPORTED_VERSION,
				      msg);
		return;
	}
	if (req->body_case != e->body) {
		snprintf(msg, sizeof(msg), "%s request without a %s body",
			 e->name, e->name);
		request_respond_error(r, FLUXO__ERROR_CODE__INVALID_REQUEST,
				      msg);
		return;
	}
	e->fn(r);
}
