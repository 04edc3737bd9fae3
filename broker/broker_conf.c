/*
 * broker_conf.c - the table of broker settings.
 *
 * Names and defaults are Kafka's (2.8) unless the description says
 * otherwise. Where Kafka derives one value from several keys (retention in
 * hours, minutes or ms), the most precise key that was set wins, exactly as
 * in Kafka. Differences from Kafka, chosen on purpose:
 *   - auto.create.topics.enable defaults to false: a typo must not create
 *     an unreplicated topic (reference §9.18);
 *   - zookeeper.session.timeout.ms defaults to 6000: fluxo has no garbage
 *     collector pauses to ride out, so a dead broker is noticed three times
 *     sooner than with Kafka's 18000 while staying inside ZooKeeper's
 *     default session bounds (2 to 20 ticks of 2000 ms);
 *   - num.network.threads 0 means one worker per CPU.
 */
#include "config.h"
#include "broker_conf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/net.h"

#define F(field) offsetof(struct broker_conf, field)
#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define DYN CONF_F_DYNAMIC
#define IGN (CONF_F_IGNORED | CONF_F_INTERNAL)

static const char *const ts_types[] = { "CreateTime", "LogAppendTime", NULL };
static const char *const cleanup_policies[] = { "delete", NULL };
static const char *const compression_types[] = { "producer", NULL };
static const char *const levels[] = { "debug", "info", "warn", "error", NULL };

const struct conf_def broker_conf_table[] = {
	/* identity and network */
	{ "broker.id", CONF_INT, "0", 0, I32MAX, 0, F(broker_id),
	  "Unique id of this broker in the cluster", NULL },
	{ "broker.rack", CONF_STRING, NULL, 0, 0, 0, F(broker_rack),
	  "Rack of this broker, for rack-aware replica placement", NULL },
	{ "listeners", CONF_LIST, "PLAINTEXT://:9092", 0, 0, 0, F(listeners),
	  "Comma-separated NAME://host:port listeners (empty host: all interfaces)",
	  NULL },
	{ "advertised.listeners", CONF_LIST, NULL, 0, 0, 0,
	  F(advertised_listeners),
	  "Listeners published to clients and other brokers (default: listeners)",
	  NULL },
	{ "inter.broker.listener.name", CONF_STRING, "PLAINTEXT", 0, 0, 0,
	  F(inter_broker_listener_name),
	  "Listener other brokers and the controller use to reach this one",
	  NULL },
	{ "num.network.threads", CONF_INT, "0", 0, 256, 0,
	  F(num_network_threads),
	  "Network worker threads, each with its own event loop (0: one per CPU)",
	  NULL },
	{ "socket.send.buffer.bytes", CONF_INT, "102400", -1, I32MAX, 0,
	  F(socket_send_buffer_bytes),
	  "SO_SNDBUF of client connections (-1: the OS default)", NULL },
	{ "socket.receive.buffer.bytes", CONF_INT, "102400", -1, I32MAX, 0,
	  F(socket_receive_buffer_bytes),
	  "SO_RCVBUF of client connections (-1: the OS default)", NULL },
	{ "socket.request.max.bytes", CONF_INT, "104857600", 1024, I32MAX, 0,
	  F(socket_request_max_bytes),
	  "Largest request frame accepted; bigger frames close the connection",
	  NULL },
	{ "queued.max.requests", CONF_INT, "500", 1, I32MAX, 0,
	  F(queued_max_requests),
	  "Requests a worker holds in processing before it stops reading from its connections",
	  NULL },
	{ "connections.max.idle.ms", CONF_LONG, "600000", 1000, I64MAX, 0,
	  F(connections_max_idle_ms),
	  "Close connections idle for longer than this", NULL },
	{ "metrics.listener", CONF_STRING, NULL, 0, 0, 0, F(metrics_listener),
	  "Serve Prometheus metrics at this http://host:port (unset: off)",
	  NULL },
	{ "logger.level", CONF_ENUM, "info", 0, 0, DYN, F(logger_level),
	  "Least severe log level written", levels },

	/* ZooKeeper */
	{ "zookeeper.connect", CONF_STRING, NULL, 0, 0, CONF_F_REQUIRED,
	  F(zookeeper_connect),
	  "ZooKeeper ensemble host:port[,host:port...][/chroot]", NULL },
	{ "zookeeper.session.timeout.ms", CONF_INT, "6000", 1000, 600000, 0,
	  F(zookeeper_session_timeout_ms),
	  "ZooKeeper session timeout: how fast a dead broker is noticed", NULL },
	{ "zookeeper.connection.timeout.ms", CONF_INT, "18000", 100, I32MAX, 0,
	  F(zookeeper_connection_timeout_ms),
	  "Longest wait for the ZooKeeper connection at start", NULL },

	/* topics */
	{ "num.partitions", CONF_INT, "1", 1, 100000, 0, F(num_partitions),
	  "Partitions of a topic created without a partition count", NULL },
	{ "default.replication.factor", CONF_INT, "1", 1, 32, 0,
	  F(default_replication_factor),
	  "Replication factor of a topic created without one", NULL },
	{ "min.insync.replicas", CONF_INT, "1", 1, 32, DYN,
	  F(min_insync_replicas),
	  "Fewest in-sync replicas with which an acks=all produce is accepted",
	  NULL },
	{ "auto.create.topics.enable", CONF_BOOL, "false", 0, 1, 0,
	  F(auto_create_topics_enable),
	  "Create a topic when a client asks for metadata of an unknown one (off in fluxo)",
	  NULL },
	{ "delete.topic.enable", CONF_BOOL, "true", 0, 1, 0,
	  F(delete_topic_enable), "Allow topics to be deleted", NULL },
	{ "unclean.leader.election.enable", CONF_BOOL, "false", 0, 1, DYN,
	  F(unclean_leader_election_enable),
	  "Allow a replica outside the ISR to become leader (may lose acknowledged data)",
	  NULL },

	/* log */
	{ "log.dirs", CONF_LIST, NULL, 0, 0, 0, F(log_dirs),
	  "Comma-separated directories holding partition logs", NULL },
	{ "log.dir", CONF_STRING, "/tmp/fluxo-logs", 0, 0, 0, F(log_dir),
	  "The log directory used when log.dirs is not set", NULL },
	{ "num.recovery.threads.per.data.dir", CONF_INT, "1", 1, 64, 0,
	  F(num_recovery_threads_per_data_dir),
	  "Threads per log directory that recover logs after an unclean stop",
	  NULL },
	{ "log.retention.hours", CONF_INT, "168", -1, I32MAX, 0,
	  F(log_retention_hours),
	  "Keep records this many hours (overridden by log.retention.minutes/ms)",
	  NULL },
	{ "log.retention.minutes", CONF_INT, NULL, -1, I32MAX, 0,
	  F(log_retention_minutes),
	  "Keep records this many minutes (overridden by log.retention.ms)",
	  NULL },
	{ "log.retention.ms", CONF_LONG, NULL, -1, I64MAX, DYN,
	  F(log_retention_ms), "Keep records this many ms (-1: forever)",
	  NULL },
	{ "log.retention.bytes", CONF_LONG, "-1", -1, I64MAX, DYN,
	  F(log_retention_bytes),
	  "Largest size of a partition before old segments are deleted (-1: no limit)",
	  NULL },
	{ "log.retention.check.interval.ms", CONF_LONG, "300000", 1, I64MAX, 0,
	  F(log_retention_check_interval_ms),
	  "How often retention is checked", NULL },
	{ "log.segment.bytes", CONF_INT, "1073741824", 1024, I32MAX, DYN,
	  F(log_segment_bytes), "Largest size of one segment file", NULL },
	{ "log.roll.hours", CONF_INT, "168", 1, I32MAX, 0, F(log_roll_hours),
	  "Roll a segment after this many hours (overridden by log.roll.ms)",
	  NULL },
	{ "log.roll.ms", CONF_LONG, NULL, 1, I64MAX, DYN, F(log_roll_ms),
	  "Roll a segment after this many ms", NULL },
	{ "log.roll.jitter.hours", CONF_INT, "0", 0, I32MAX, 0,
	  F(log_roll_jitter_hours), "Jitter subtracted from the roll time",
	  NULL },
	{ "log.roll.jitter.ms", CONF_LONG, NULL, 0, I64MAX, DYN,
	  F(log_roll_jitter_ms), "Jitter subtracted from the roll time, in ms",
	  NULL },
	{ "log.index.size.max.bytes", CONF_INT, "10485760", 4096, I32MAX, DYN,
	  F(log_index_size_max_bytes),
	  "Largest offset index of a segment; a full index rolls the segment",
	  NULL },
	{ "log.index.interval.bytes", CONF_INT, "4096", 0, I32MAX, DYN,
	  F(log_index_interval_bytes),
	  "Bytes of batches between two offset index entries", NULL },
	{ "log.flush.interval.messages", CONF_LONG, "9223372036854775807", 1,
	  I64MAX, DYN, F(log_flush_interval_messages),
	  "fsync a partition after this many records", NULL },
	{ "log.flush.interval.ms", CONF_LONG, "9223372036854775807", 0, I64MAX,
	  DYN, F(log_flush_interval_ms),
	  "fsync a partition when its oldest unflushed record is this old",
	  NULL },
	{ "log.flush.scheduler.interval.ms", CONF_LONG, "1000", 1, I64MAX, 0,
	  F(log_flush_scheduler_interval_ms),
	  "How often the flush policies are checked", NULL },
	{ "log.flush.offset.checkpoint.interval.ms", CONF_LONG, "60000", 1,
	  I64MAX, 0, F(log_flush_offset_checkpoint_interval_ms),
	  "How often recovery points are checkpointed", NULL },
	{ "log.flush.on.ack", CONF_BOOL, "false", 0, 1, DYN,
	  F(log_flush_on_ack),
	  "Acknowledge a produce only once it is on disk (group-committed fdatasync)",
	  NULL },
	{ "log.segment.delete.delay.ms", CONF_LONG, "60000", 0, I64MAX, DYN,
	  F(log_segment_delete_delay_ms),
	  "Wait this long before removing a deleted segment's files", NULL },
	{ "log.message.timestamp.type", CONF_ENUM, "CreateTime", 0, 0, DYN,
	  F(log_message_timestamp_type),
	  "Keep the producer's timestamps or stamp the append time", ts_types },
	{ "log.message.timestamp.difference.max.ms", CONF_LONG,
	  "9223372036854775807", 0, I64MAX, DYN,
	  F(log_message_timestamp_difference_max_ms),
	  "Refuse CreateTime batches further than this from the broker's clock",
	  NULL },
	{ "log.cleanup.policy", CONF_ENUM, "delete", 0, 0, DYN,
	  F(log_cleanup_policy), "What to do with expired segments",
	  cleanup_policies },
	{ "compression.type", CONF_ENUM, "producer", 0, 0, DYN,
	  F(compression_type), "Keep batches as the producer compressed them",
	  compression_types },
	{ "message.max.bytes", CONF_INT, "1048588", 0, I32MAX, DYN,
	  F(message_max_bytes), "Largest record batch accepted", NULL },

	/* replication */
	{ "replica.lag.time.max.ms", CONF_LONG, "30000", 1, I64MAX, 0,
	  F(replica_lag_time_max_ms),
	  "A follower that has not caught up for this long leaves the ISR",
	  NULL },
	{ "replica.fetch.max.bytes", CONF_INT, "1048576", 0, I32MAX, 0,
	  F(replica_fetch_max_bytes),
	  "Bytes a follower fetches per partition and request", NULL },
	{ "replica.fetch.min.bytes", CONF_INT, "1", 1, I32MAX, 0,
	  F(replica_fetch_min_bytes),
	  "Bytes a follower's fetch waits for", NULL },
	{ "replica.fetch.wait.max.ms", CONF_INT, "500", 0, I32MAX, 0,
	  F(replica_fetch_wait_max_ms),
	  "Longest a follower's fetch waits at the leader", NULL },
	{ "replica.fetch.response.max.bytes", CONF_INT, "10485760", 0, I32MAX,
	  0, F(replica_fetch_response_max_bytes),
	  "Bytes a follower fetches per request", NULL },
	{ "replica.fetch.backoff.ms", CONF_INT, "1000", 0, I32MAX, 0,
	  F(replica_fetch_backoff_ms),
	  "Pause of a follower after a fetch error", NULL },
	{ "replica.socket.timeout.ms", CONF_INT, "30000", 100, I32MAX, 0,
	  F(replica_socket_timeout_ms),
	  "Network timeout of follower fetches", NULL },
	{ "num.replica.fetchers", CONF_INT, "1", 1, 64, 0,
	  F(num_replica_fetchers), "Fetcher threads per source broker", NULL },
	{ "replica.high.watermark.checkpoint.interval.ms", CONF_LONG, "5000",
	  1, I64MAX, 0, F(replica_high_watermark_checkpoint_interval_ms),
	  "How often high watermarks are checkpointed", NULL },
	{ "leader.replication.throttled.rate", CONF_LONG,
	  "9223372036854775807", 0, I64MAX, DYN,
	  F(leader_replication_throttled_rate),
	  "Bytes/s this broker sends, as leader, to the out-of-sync followers of throttled replicas (leader.replication.throttled.replicas), all together",
	  NULL },
	{ "follower.replication.throttled.rate", CONF_LONG,
	  "9223372036854775807", 0, I64MAX, DYN,
	  F(follower_replication_throttled_rate),
	  "Bytes/s this broker fetches, as follower, for throttled replicas behind their leader (follower.replication.throttled.replicas), all together",
	  NULL },

	/* controller */
	{ "controller.socket.timeout.ms", CONF_INT, "30000", 100, I32MAX, 0,
	  F(controller_socket_timeout_ms),
	  "Network timeout of the controller's requests to brokers", NULL },
	{ "controlled.shutdown.enable", CONF_BOOL, "true", 0, 1, 0,
	  F(controlled_shutdown_enable),
	  "Move leadership away before stopping on SIGTERM", NULL },
	{ "controlled.shutdown.max.retries", CONF_INT, "3", 0, I32MAX, 0,
	  F(controlled_shutdown_max_retries),
	  "Attempts at a controlled shutdown before stopping anyway", NULL },
	{ "controlled.shutdown.retry.backoff.ms", CONF_LONG, "5000", 0, I64MAX,
	  0, F(controlled_shutdown_retry_backoff_ms),
	  "Pause between controlled shutdown attempts", NULL },
	{ "auto.leader.rebalance.enable", CONF_BOOL, "true", 0, 1, 0,
	  F(auto_leader_rebalance_enable),
	  "Move leadership back to preferred replicas automatically", NULL },
	{ "leader.imbalance.check.interval.seconds", CONF_LONG, "300", 1,
	  I64MAX, 0, F(leader_imbalance_check_interval_seconds),
	  "How often leader imbalance is checked", NULL },
	{ "leader.imbalance.per.broker.percentage", CONF_INT, "10", 0, 100, 0,
	  F(leader_imbalance_per_broker_percentage),
	  "Imbalance per broker above which preferred leaders are restored",
	  NULL },

	/* Kafka quickstart keys for subsystems fluxo does not have. */
	{ "num.io.threads", CONF_INT, NULL, 1, I32MAX, IGN, F(ignored_int),
	  "ignored: fluxo handles requests on its network threads", NULL },
	{ "offsets.topic.replication.factor", CONF_INT, NULL, 1, 32767, IGN,
	  F(ignored_int), "ignored: no consumer-group coordinator", NULL },
	{ "offsets.topic.num.partitions", CONF_INT, NULL, 1, I32MAX, IGN,
	  F(ignored_int), "ignored: no consumer-group coordinator", NULL },
	{ "transaction.state.log.replication.factor", CONF_INT, NULL, 1, 32767,
	  IGN, F(ignored_int), "ignored: no transaction coordinator", NULL },
	{ "transaction.state.log.min.isr", CONF_INT, NULL, 1, I32MAX, IGN,
	  F(ignored_int), "ignored: no transaction coordinator", NULL },
	{ "group.initial.rebalance.delay.ms", CONF_INT, NULL, 0, I32MAX, IGN,
	  F(ignored_int), "ignored: no consumer-group coordinator", NULL },
	CONF_END
};

void broker_conf_init(struct broker_conf *c)
{
	memset(c, 0, sizeof(*c));
	if (conf_defaults(broker_conf_table, c) < 0)
		fatal("config", "a built-in default does not parse (bug)");
	c->log_retention_minutes = -2;	/* unset markers */
	c->log_retention_ms = -2;
	c->log_roll_ms = -2;
	c->log_roll_jitter_ms = -2;
}

void broker_conf_free(struct broker_conf *c)
{
	conf_free(broker_conf_table, c);
}

static int row_index(const char *key)
{
	for (int i = 0; broker_conf_table[i].name; i++)
		if (strcmp(broker_conf_table[i].name, key) == 0)
			return i;
	return -1;
}

int broker_conf_set(struct broker_conf *c, const char *key, const char *value,
		    char *errstr, size_t errstr_size)
{
	int rc, i;

	rc = conf_set(broker_conf_table, c, key, value, errstr, errstr_size);
	if (rc == ERR_NOT_FOUND)
		snprintf(errstr, errstr_size,
			 "unknown setting \"%s\" (fluxo-broker --help-config "
			 "lists every setting)",
			 key);
	if (rc < 0)
		return rc;
	i = row_index(key);
	if (i >= 0 && i < 128)
		c->set_mask[i / 64] |= 1ull << (i % 64);
	return 0;
}

bool broker_conf_is_set(const struct broker_conf *c, const char *key)
{
	int i = row_index(key);

	return i >= 0 && i < 128 && (c->set_mask[i / 64] >> (i % 64)) & 1;
}

struct load_ctx {
	struct broker_conf *c;
	const char *path;
};

static int load_cb(void *arg, const char *key, const char *value, int line,
		   char *errstr, size_t errstr_size)
{
	struct load_ctx *ctx = arg;
	char why[512];
	int rc;

	rc = broker_conf_set(ctx->c, key, value, why, sizeof(why));
	if (rc < 0)
		snprintf(errstr, errstr_size, "%s:%d: %s", ctx->path, line,
			 why);
	return rc;
}

int broker_conf_load(struct broker_conf *c, const char *path, char *errstr,
		     size_t errstr_size)
{
	struct load_ctx ctx = { c, path };

	return conf_read_properties(path, load_cb, &ctx, errstr, errstr_size);
}

int64_t broker_conf_retention_ms(const struct broker_conf *c)
{
	if (broker_conf_is_set(c, "log.retention.ms"))
		return c->log_retention_ms;
	if (broker_conf_is_set(c, "log.retention.minutes"))
		return c->log_retention_minutes < 0
			       ? -1
			       : (int64_t)c->log_retention_minutes * 60000;
	return c->log_retention_hours < 0
		       ? -1
		       : (int64_t)c->log_retention_hours * 3600000;
}

int64_t broker_conf_roll_ms(const struct broker_conf *c)
{
	if (broker_conf_is_set(c, "log.roll.ms"))
		return c->log_roll_ms;
	return (int64_t)c->log_roll_hours * 3600000;
}

int64_t broker_conf_roll_jitter_ms(const struct broker_conf *c)
{
	if (broker_conf_is_set(c, "log.roll.jitter.ms"))
		return c->log_roll_jitter_ms;
	return (int64_t)c->log_roll_jitter_hours * 3600000;
}

const char *broker_conf_log_dirs(const struct broker_conf *c)
{
	if (c->log_dirs && *c->log_dirs)
		return c->log_dirs;
	return c->log_dir;
}

int broker_conf_network_threads(const struct broker_conf *c)
{
	long n;

	if (c->num_network_threads > 0)
		return c->num_network_threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int check_listeners(const char *key, const char *list, char *errstr,
			   size_t errstr_size)
{
	char *copy, *save = NULL, *tok;
	char name[64], host[256];
	int port, rc = 0, n = 0;

	copy = strdup(list);
	if (!copy)
		return ERR_NOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (net_parse_listener(tok, name, sizeof(name), host,
				       sizeof(host), &port) < 0) {
			snprintf(errstr, errstr_size,
				 "%s: \"%s\" is not NAME://host:port (for "
				 "example PLAINTEXT://127.0.0.1:9092)",
				 key, tok);
			rc = ERR_INVAL;
			break;
		}
		if (strcmp(name, "PLAINTEXT") != 0) {
			snprintf(errstr, errstr_size,
				 "%s: listener \"%s\" uses %s; this release "
				 "supports only PLAINTEXT listeners",
				 key, tok, name);
			rc = ERR_INVAL;
			break;
		}
		n++;
	}
	if (rc == 0 && n == 0) {
		snprintf(errstr, errstr_size, "%s must name at least one listener",
			 key);
		rc = ERR_INVAL;
	}
	free(copy);
	return rc;
}

int broker_conf_validate(const struct broker_conf *c, char *errstr,
			 size_t errstr_size)
{
	int rc;

	if (!c->zookeeper_connect || !*c->zookeeper_connect) {
		snprintf(errstr, errstr_size,
			 "zookeeper.connect is not set; give the ZooKeeper "
			 "ensemble, e.g. zookeeper.connect=127.0.0.1:2181/fluxo");
		return ERR_INVAL;
	}
	if (!c->listeners || !*c->listeners) {
		snprintf(errstr, errstr_size, "listeners is empty");
		return ERR_INVAL;
	}
	rc = check_listeners("listeners", c->listeners, errstr, errstr_size);
	if (rc == 0 && c->advertised_listeners && *c->advertised_listeners)
		rc = check_listeners("advertised.listeners",
				     c->advertised_listeners, errstr,
				     errstr_size);
	if (rc < 0)
		return rc;
	if (!broker_conf_log_dirs(c) || !*broker_conf_log_dirs(c)) {
		snprintf(errstr, errstr_size, "log.dirs is empty");
		return ERR_INVAL;
	}
	if (c->min_insync_replicas > c->default_replication_factor &&
	    broker_conf_is_set(c, "min.insync.replicas") &&
	    broker_conf_is_set(c, "default.replication.factor")) {
		log_warn("config",
			 "min.insync.replicas=%d is larger than "
			 "default.replication.factor=%d: acks=all produces to "
			 "topics created with the default will always fail",
			 c->min_insync_replicas,
			 c->default_replication_factor);
	}
	return 0;
}

int broker_conf_topic_defaults(const struct broker_conf *c,
			       struct topic_conf *tc)
{
	topic_conf_defaults(tc);
	tc->retention_ms = broker_conf_retention_ms(c);
	tc->retention_bytes = c->log_retention_bytes;
	tc->segment_bytes = c->log_segment_bytes;
	tc->segment_ms = broker_conf_roll_ms(c);
	tc->segment_jitter_ms = broker_conf_roll_jitter_ms(c);
	tc->segment_index_bytes = c->log_index_size_max_bytes;
	tc->index_interval_bytes = c->log_index_interval_bytes;
	tc->flush_messages = c->log_flush_interval_messages;
	tc->flush_ms = c->log_flush_interval_ms;
	tc->flush_on_ack = c->log_flush_on_ack;
	tc->max_message_bytes = c->message_max_bytes;
	tc->message_timestamp_type = c->log_message_timestamp_type;
	tc->message_timestamp_difference_max_ms =
		c->log_message_timestamp_difference_max_ms;
	tc->min_insync_replicas = c->min_insync_replicas;
	tc->unclean_leader_election_enable = c->unclean_leader_election_enable;
	tc->file_delete_delay_ms = c->log_segment_delete_delay_ms;
	tc->cleanup_policy = c->log_cleanup_policy;
	tc->compression_type = c->compression_type;
	return 0;
}

void broker_conf_warn_ignored(const struct broker_conf *c)
{
	for (const struct conf_def *d = broker_conf_table; d->name; d++)
		if ((d->flags & CONF_F_IGNORED) &&
		    broker_conf_is_set(c, d->name))
			log_warn("config", "%s is set but has no effect (%s)",
				 d->name, d->doc);
}
