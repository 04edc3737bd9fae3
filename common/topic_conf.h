/*
 * topic_conf.h - per-topic settings (Kafka's topic-level config names).
 *
 * A topic's effective configuration is the broker's defaults (from
 * server.properties, through the broker key named in each row) with the
 * topic's overrides from /config/topics/<t> applied on top. The storage
 * engine, the produce path and the controller read these fields; the table
 * drives validation of CreateTopics/AlterConfigs and DescribeConfigs.
 */
#ifndef FLUXO_TOPIC_CONF_H
#define FLUXO_TOPIC_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

enum { TS_TYPE_CREATE_TIME = 0, TS_TYPE_LOG_APPEND_TIME = 1 };
enum { CLEANUP_DELETE = 0 };
enum { TOPIC_COMPRESSION_PRODUCER = 0 };

struct topic_conf {
	int64_t retention_ms;		/* -1: keep forever */
	int64_t retention_bytes;	/* per partition; -1: no limit */
	int32_t segment_bytes;
	int64_t segment_ms;
	int64_t segment_jitter_ms;
	int32_t segment_index_bytes;
	int32_t index_interval_bytes;
	int64_t flush_messages;		/* fsync after this many records */
	int64_t flush_ms;		/* fsync after this long */
	bool flush_on_ack;		/* fsync before acknowledging */
	int32_t max_message_bytes;	/* largest batch accepted */
	int message_timestamp_type;	/* TS_TYPE_* */
	int64_t message_timestamp_difference_max_ms;
	int32_t min_insync_replicas;
	bool unclean_leader_election_enable;
	int64_t file_delete_delay_ms;
	int cleanup_policy;		/* CLEANUP_* */
	int compression_type;		/* TOPIC_COMPRESSION_* */
	char *leader_replication_throttled_replicas;
	char *follower_replication_throttled_replicas;
};

extern const struct conf_def topic_conf_table[];

/*
 * The server.properties key whose value is the default of topic setting
 * name (e.g. "retention.bytes" -> "log.retention.bytes"), or NULL.
 */
const char *topic_conf_broker_key(const char *name);

/* Fills tc with the built-in defaults. */
void topic_conf_defaults(struct topic_conf *tc);

/* Deep copy; dst's previous strings are not freed. Returns 0 or ERR_NOMEM. */
int topic_conf_copy(struct topic_conf *dst, const struct topic_conf *src);

void topic_conf_free(struct topic_conf *tc);

#endif
