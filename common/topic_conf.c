/*
 * topic_conf.c - the table of topic-level settings.
 *
 * Defaults are Kafka's, except where fluxo adds a setting (flush.on.ack).
 * Settings Kafka has but fluxo does not implement (compaction, message
 * down-conversion) are absent, so setting them is refused with "unknown
 * setting" rather than silently ignored.
 */
#include "config.h"
#include "topic_conf.h"

#include <stddef.h>
#include <string.h>

#define F(field) offsetof(struct topic_conf, field)
#define I64MAX INT64_MAX
#define I32MAX INT32_MAX

static const char *const ts_types[] = { "CreateTime", "LogAppendTime", NULL };
static const char *const cleanup_policies[] = { "delete", NULL };
static const char *const compression_types[] = { "producer", NULL };

const struct conf_def topic_conf_table[] = {
	{ "retention.ms", CONF_LONG, "604800000", -1, I64MAX, 0,
	  F(retention_ms),
	  "Delete a segment once its newest record is older than this (-1: never)",
	  NULL },
	{ "retention.bytes", CONF_LONG, "-1", -1, I64MAX, 0,
	  F(retention_bytes),
	  "Delete the oldest segments while a partition is larger than this (-1: no limit)",
	  NULL },
	{ "segment.bytes", CONF_INT, "1073741824", 1024, I32MAX, 0,
	  F(segment_bytes), "Roll to a new segment file at this size", NULL },
	{ "segment.ms", CONF_LONG, "604800000", 1, I64MAX, 0, F(segment_ms),
	  "Roll to a new segment after this long even if it is not full",
	  NULL },
	{ "segment.jitter.ms", CONF_LONG, "0", 0, I64MAX, 0,
	  F(segment_jitter_ms),
	  "Random jitter subtracted from segment.ms to spread rolls", NULL },
	{ "segment.index.bytes", CONF_INT, "10485760", 4096, I32MAX, 0,
	  F(segment_index_bytes),
	  "Size of the offset index of a segment (a full index rolls the segment)",
	  NULL },
	{ "index.interval.bytes", CONF_INT, "4096", 0, I32MAX, 0,
	  F(index_interval_bytes),
	  "Add an offset index entry after this many bytes of batches", NULL },
	{ "flush.messages", CONF_LONG, "9223372036854775807", 1, I64MAX, 0,
	  F(flush_messages),
	  "fsync a partition after this many records have been appended",
	  NULL },
	{ "flush.ms", CONF_LONG, "9223372036854775807", 0, I64MAX, 0,
	  F(flush_ms), "fsync a partition when its oldest unflushed record is this old",
	  NULL },
	{ "flush.on.ack", CONF_BOOL, "false", 0, 1, 0, F(flush_on_ack),
	  "Acknowledge a produce only after it is on disk (group-committed fdatasync)",
	  NULL },
	{ "max.message.bytes", CONF_INT, "1048588", 0, I32MAX, 0,
	  F(max_message_bytes), "Largest record batch the topic accepts",
	  NULL },
	{ "message.timestamp.type", CONF_ENUM, "CreateTime", 0, 0, 0,
	  F(message_timestamp_type),
	  "Keep the producer's timestamp or stamp the broker's append time",
	  ts_types },
	{ "message.timestamp.difference.max.ms", CONF_LONG,
	  "9223372036854775807", 0, I64MAX, 0,
	  F(message_timestamp_difference_max_ms),
	  "Refuse CreateTime batches whose timestamp is further than this from the broker's clock",
	  NULL },
	{ "min.insync.replicas", CONF_INT, "1", 1, I32MAX, 0,
	  F(min_insync_replicas),
	  "Fewest in-sync replicas with which an acks=all produce is accepted",
	  NULL },
	{ "unclean.leader.election.enable", CONF_BOOL, "false", 0, 1, 0,
	  F(unclean_leader_election_enable),
	  "Allow a replica outside the ISR to become leader (may lose data)",
	  NULL },
	{ "file.delete.delay.ms", CONF_LONG, "60000", 0, I64MAX, 0,
	  F(file_delete_delay_ms),
	  "Wait this long before removing a deleted segment's files", NULL },
	{ "cleanup.policy", CONF_ENUM, "delete", 0, 0, 0, F(cleanup_policy),
	  "What to do with old segments", cleanup_policies },
	{ "compression.type", CONF_ENUM, "producer", 0, 0, 0,
	  F(compression_type), "Keep batches compressed as the producer sent them",
	  compression_types },
	{ "leader.replication.throttled.replicas", CONF_LIST, "", 0, 0, 0,
	  F(leader_replication_throttled_replicas),
	  "partition:broker pairs (or *) whose leader-side replication is throttled",
	  NULL },
	{ "follower.replication.throttled.replicas", CONF_LIST, "", 0, 0, 0,
	  F(follower_replication_throttled_replicas),
	  "partition:broker pairs (or *) whose follower-side replication is throttled",
	  NULL },
	CONF_END
};

static const struct {
	const char *topic_key;
	const char *broker_key;
} broker_keys[] = {
	{ "retention.ms", "log.retention.ms" },
	{ "retention.bytes", "log.retention.bytes" },
	{ "segment.bytes", "log.segment.bytes" },
	{ "segment.ms", "log.roll.ms" },
	{ "segment.jitter.ms", "log.roll.jitter.ms" },
	{ "segment.index.bytes", "log.index.size.max.bytes" },
	{ "index.interval.bytes", "log.index.interval.bytes" },
	{ "flush.messages", "log.flush.interval.messages" },
	{ "flush.ms", "log.flush.interval.ms" },
	{ "flush.on.ack", "log.flush.on.ack" },
	{ "max.message.bytes", "message.max.bytes" },
	{ "message.timestamp.type", "log.message.timestamp.type" },
	{ "message.timestamp.difference.max.ms",
	  "log.message.timestamp.difference.max.ms" },
	{ "min.insync.replicas", "min.insync.replicas" },
	{ "unclean.leader.election.enable", "unclean.leader.election.enable" },
	{ "file.delete.delay.ms", "log.segment.delete.delay.ms" },
	{ "cleanup.policy", "log.cleanup.policy" },
	{ "compression.type", "compression.type" },
};

const char *topic_conf_broker_key(const char *name)
{
	for (size_t i = 0; i < sizeof(broker_keys) / sizeof(broker_keys[0]);
	     i++)
		if (strcmp(broker_keys[i].topic_key, name) == 0)
			return broker_keys[i].broker_key;
	return NULL;
}

void topic_conf_defaults(struct topic_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	conf_defaults(topic_conf_table, tc);
}

int topic_conf_copy(struct topic_conf *dst, const struct topic_conf *src)
{
	return conf_copy(topic_conf_table, dst, src);
}

void topic_conf_free(struct topic_conf *tc)
{
	if (tc)
		conf_free(topic_conf_table, tc);
}
