/*
 * errors.c - names and sentences for libfluxo's error codes.
 *
 * One table holds every code of fluxo_err_t: local codes (negative,
 * client-side conditions) and the broker's wire codes (Kafka's numbers).
 * A code not in the table still gets a sentence ("Broker: error 123"), so
 * a newer broker never makes the client print garbage.
 */
#include "config.h"
#include "fluxo.h"

#include "client_int.h"

#include <stdio.h>

#include "common/err.h"

struct err_desc {
	int code;
	const char *name;
	const char *desc;
};

static const struct err_desc err_table[] = {
    {FLUXO_ERR__FAIL, "_FAIL", "Local: Failed"},
    {FLUXO_ERR__TRANSPORT, "_TRANSPORT", "Local: Broker transport failure"},
    {FLUXO_ERR__TIMED_OUT, "_TIMED_OUT", "Local: Timed out"},
    {FLUXO_ERR__INVALID_ARG, "_INVALID_ARG",
     "Local: Invalid argument or configuration"},
    {FLUXO_ERR__QUEUE_FULL, "_QUEUE_FULL",
     "Local: Queue full (buffer.memory exhausted)"},
    {FLUXO_ERR__MSG_SIZE_TOO_LARGE, "_MSG_SIZE_TOO_LARGE",
     "Local: Record larger than max.request.size"},
    {FLUXO_ERR__UNKNOWN_TOPIC, "_UNKNOWN_TOPIC", "Local: Unknown topic"},
    {FLUXO_ERR__UNKNOWN_PARTITION, "_UNKNOWN_PARTITION",
     "Local: Unknown partition"},
    {FLUXO_ERR__DESTROY, "_DESTROY", "Local: Handle destroyed"},
    {FLUXO_ERR__BAD_MSG, "_BAD_MSG", "Local: Bad message format"},
    {FLUXO_ERR__NOMEM, "_NOMEM", "Local: Out of memory"},
    {FLUXO_ERR__STATE, "_STATE", "Local: Erroneous state"},
    {FLUXO_ERR__ALL_BROKERS_DOWN, "_ALL_BROKERS_DOWN",
     "Local: All brokers are down"},
    {FLUXO_ERR_NO_ERROR, "NO_ERROR", "Success"},
    {FLUXO_ERR_UNKNOWN_SERVER_ERROR, "UNKNOWN_SERVER_ERROR",
     "Broker: Unknown server error"},
    {FLUXO_ERR_OFFSET_OUT_OF_RANGE, "OFFSET_OUT_OF_RANGE",
     "Broker: Offset out of range"},
    {FLUXO_ERR_CORRUPT_MESSAGE, "CORRUPT_MESSAGE", "Broker: Corrupt message"},
    {FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "UNKNOWN_TOPIC_OR_PARTITION",
     "Broker: Unknown topic or partition"},
    {4, "INVALID_FETCH_SIZE", "Broker: Invalid fetch size"},
    {FLUXO_ERR_LEADER_NOT_AVAILABLE, "LEADER_NOT_AVAILABLE",
     "Broker: Leader not available"},
    {FLUXO_ERR_NOT_LEADER_OR_FOLLOWER, "NOT_LEADER_OR_FOLLOWER",
     "Broker: Not leader or follower for partition"},
    {FLUXO_ERR_REQUEST_TIMED_OUT, "REQUEST_TIMED_OUT",
     "Broker: Request timed out"},
    {FLUXO_ERR_BROKER_NOT_AVAILABLE, "BROKER_NOT_AVAILABLE",
     "Broker: Broker not available"},
    {9, "REPLICA_NOT_AVAILABLE", "Broker: Replica not available"},
    {FLUXO_ERR_MESSAGE_TOO_LARGE, "MESSAGE_TOO_LARGE",
     "Broker: Message size too large"},
    {11, "STALE_CONTROLLER_EPOCH", "Broker: Stale controller epoch"},
    {FLUXO_ERR_NETWORK_EXCEPTION, "NETWORK_EXCEPTION",
     "Broker: Network exception"},
    {FLUXO_ERR_INVALID_TOPIC_EXCEPTION, "INVALID_TOPIC_EXCEPTION",
     "Broker: Invalid topic"},
    {FLUXO_ERR_RECORD_LIST_TOO_LARGE, "RECORD_LIST_TOO_LARGE",
     "Broker: Record batch too large"},
    {FLUXO_ERR_NOT_ENOUGH_REPLICAS, "NOT_ENOUGH_REPLICAS",
     "Broker: Not enough in-sync replicas"},
    {FLUXO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
     "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
     "Broker: Written to fewer in-sync replicas than required"},
    {FLUXO_ERR_INVALID_REQUIRED_ACKS, "INVALID_REQUIRED_ACKS",
     "Broker: Invalid required acks value"},
    {FLUXO_ERR_INVALID_TIMESTAMP, "INVALID_TIMESTAMP",
     "Broker: Invalid timestamp"},
    {FLUXO_ERR_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION",
     "Broker: Unsupported API version"},
    {FLUXO_ERR_TOPIC_ALREADY_EXISTS, "TOPIC_ALREADY_EXISTS",
     "Broker: Topic already exists"},
    {FLUXO_ERR_INVALID_PARTITIONS, "INVALID_PARTITIONS",
     "Broker: Invalid number of partitions"},
    {FLUXO_ERR_INVALID_REPLICATION_FACTOR, "INVALID_REPLICATION_FACTOR",
     "Broker: Invalid replication factor"},
    {FLUXO_ERR_INVALID_REPLICA_ASSIGNMENT, "INVALID_REPLICA_ASSIGNMENT",
     "Broker: Invalid replica assignment"},
    {FLUXO_ERR_INVALID_CONFIG, "INVALID_CONFIG",
     "Broker: Configuration is invalid"},
    {FLUXO_ERR_NOT_CONTROLLER, "NOT_CONTROLLER",
     "Broker: Not controller for cluster"},
    {FLUXO_ERR_INVALID_REQUEST, "INVALID_REQUEST", "Broker: Invalid request"},
    {FLUXO_ERR_POLICY_VIOLATION, "POLICY_VIOLATION",
     "Broker: Policy violation"},
    {FLUXO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "OUT_OF_ORDER_SEQUENCE_NUMBER",
     "Broker: Out of order sequence number"},
    {FLUXO_ERR_DUPLICATE_SEQUENCE_NUMBER, "DUPLICATE_SEQUENCE_NUMBER",
     "Broker: Duplicate sequence number"},
    {FLUXO_ERR_INVALID_PRODUCER_EPOCH, "INVALID_PRODUCER_EPOCH",
     "Broker: Producer attempted an operation with an old epoch"},
    {FLUXO_ERR_KAFKA_STORAGE_ERROR, "KAFKA_STORAGE_ERROR",
     "Broker: Disk error when trying to access log file on disk"},
    {FLUXO_ERR_UNKNOWN_PRODUCER_ID, "UNKNOWN_PRODUCER_ID",
     "Broker: Unknown producer id"},
    {FLUXO_ERR_REASSIGNMENT_IN_PROGRESS, "REASSIGNMENT_IN_PROGRESS",
     "Broker: Partition reassignment is in progress"},
    {FLUXO_ERR_TOPIC_DELETION_DISABLED, "TOPIC_DELETION_DISABLED",
     "Broker: Topic deletion is disabled"},
    {FLUXO_ERR_FENCED_LEADER_EPOCH, "FENCED_LEADER_EPOCH",
     "Broker: Leader epoch is older than the broker's"},
    {FLUXO_ERR_UNKNOWN_LEADER_EPOCH, "UNKNOWN_LEADER_EPOCH",
     "Broker: Leader epoch is newer than the broker's"},
    {FLUXO_ERR_UNSUPPORTED_COMPRESSION_TYPE, "UNSUPPORTED_COMPRESSION_TYPE",
     "Broker: Unsupported compression type"},
    {77, "STALE_BROKER_EPOCH", "Broker: Stale broker epoch"},
    {FLUXO_ERR_OFFSET_NOT_AVAILABLE, "OFFSET_NOT_AVAILABLE",
     "Broker: Leader high watermark is not caught up"},
    {FLUXO_ERR_PREFERRED_LEADER_NOT_AVAILABLE, "PREFERRED_LEADER_NOT_AVAILABLE",
     "Broker: Preferred leader was not available"},
    {FLUXO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, "ELIGIBLE_LEADERS_NOT_AVAILABLE",
     "Broker: Eligible partition leaders are not available"},
    {FLUXO_ERR_ELECTION_NOT_NEEDED, "ELECTION_NOT_NEEDED",
     "Broker: Leader election not needed"},
    {FLUXO_ERR_NO_REASSIGNMENT_IN_PROGRESS, "NO_REASSIGNMENT_IN_PROGRESS",
     "Broker: No partition reassignment is in progress"},
    {FLUXO_ERR_INVALID_RECORD, "INVALID_RECORD",
     "Broker: Broker failed to validate record"},
    {89, "THROTTLING_QUOTA_EXCEEDED",
     "Broker: Throttling quota has been exceeded"},
    {90, "PRODUCER_FENCED", "Broker: Producer fenced by a newer epoch"},
};

static const struct err_desc *err_lookup(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *fluxo_err2str(int err)
{
	const struct err_desc *d = err_lookup(err);

	if (d)
		return d->desc;
	return err < 0 && err <= FLUXO_ERR__FAIL ? "Local: Unknown error"
						 : "Broker: Unknown error code";
}

const char *fluxo_err2name(int err)
{
	const struct err_desc *d = err_lookup(err);

	return d ? d->name : "UNKNOWN";
}

bool fluxo_err_is_retriable(int err)
{
	switch (err) {
	case FLUXO_ERR__TRANSPORT:
	case FLUXO_ERR__TIMED_OUT:
	case FLUXO_ERR__ALL_BROKERS_DOWN:
	case FLUXO_ERR_CORRUPT_MESSAGE:
	case FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION:
	case FLUXO_ERR_LEADER_NOT_AVAILABLE:
	case FLUXO_ERR_NOT_LEADER_OR_FOLLOWER:
	case FLUXO_ERR_REQUEST_TIMED_OUT:
	case FLUXO_ERR_BROKER_NOT_AVAILABLE:
	case 9: /* REPLICA_NOT_AVAILABLE */
	case FLUXO_ERR_NETWORK_EXCEPTION:
	case FLUXO_ERR_NOT_ENOUGH_REPLICAS:
	case FLUXO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case FLUXO_ERR_NOT_CONTROLLER:
	case FLUXO_ERR_KAFKA_STORAGE_ERROR:
	case FLUXO_ERR_FENCED_LEADER_EPOCH:
	case FLUXO_ERR_UNKNOWN_LEADER_EPOCH:
	case FLUXO_ERR_OFFSET_NOT_AVAILABLE:
	case FLUXO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
	case 89: /* THROTTLING_QUOTA_EXCEEDED */
		return true;
	default:
		return false;
	}
}

const char *fluxo_version_str(void)
{
	return FLUXO_VERSION_STR;
}

int client_err_from_local(int err)
{
	switch (err) {
	case ERR_OK:
		return 0;
	case ERR_NOMEM:
		return FLUXO_ERR__NOMEM;
	case ERR_INVAL:
		return FLUXO_ERR__INVALID_ARG;
	case ERR_TIMEOUT:
		return FLUXO_ERR__TIMED_OUT;
	case ERR_CLOSED:
	case ERR_CONNECT:
	case ERR_IO:
		return FLUXO_ERR__TRANSPORT;
	case ERR_CORRUPT:
	case ERR_TRUNCATED:
	case ERR_PROTO:
	case ERR_UNSUPPORTED:
		return FLUXO_ERR__BAD_MSG;
	case ERR_TOO_LARGE:
		return FLUXO_ERR__MSG_SIZE_TOO_LARGE;
	case ERR_STATE:
		return FLUXO_ERR__STATE;
	default:
		return FLUXO_ERR__FAIL;
	}
}
