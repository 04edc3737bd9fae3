/*
 * broker_conf.h - the broker's settings (server.properties).
 *
 * One table, broker_conf_table, holds every setting with Kafka's name,
 * type, default, bounds and description. It drives parsing of
 * server.properties and --override flags, refusal of unknown keys and bad
 * values, `fluxo-broker --help-config`, DescribeConfigs, and the
 * documented deploy/config/server.properties (a test compares them).
 *
 * A few keys of Kafka's own quickstart server.properties configure
 * subsystems fluxo does not have (consumer-group and transaction
 * coordinators, I/O thread pools); they are accepted with a warning so an
 * operator's existing file loads, and never silently change behaviour.
 */
#ifndef FLUXO_BROKER_CONF_H
#define FLUXO_BROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/topic_conf.h"

/* Flag of rows accepted for compatibility but without effect. */
#define CONF_F_IGNORED (1u << 8)

struct broker_conf {
	/* identity and network */
	int32_t broker_id;
	char *broker_rack;
	char *listeners;
	char *advertised_listeners;
	char *inter_broker_listener_name;
	int32_t num_network_threads;
	int32_t socket_send_buffer_bytes;
	int32_t socket_receive_buffer_bytes;
	int32_t socket_request_max_bytes;
	int32_t queued_max_requests;
	int64_t connections_max_idle_ms;
	char *metrics_listener;
	int logger_level;

	/* ZooKeeper */
	char *zookeeper_connect;
	int32_t zookeeper_session_timeout_ms;
	int32_t zookeeper_connection_timeout_ms;

	/* topics */
	int32_t num_partitions;
	int32_t default_replication_factor;
	int32_t min_insync_replicas;
	bool auto_create_topics_enable;
	bool delete_topic_enable;
	bool unclean_leader_election_enable;

	/* log */
	char *log_dirs;
	char *log_dir;
	int32_t num_recovery_threads_per_data_dir;
	int32_t log_retention_hours;
	int32_t log_retention_minutes;
	int64_t log_retention_ms;
	int64_t log_retention_bytes;
	int64_t log_retention_check_interval_ms;
	int32_t log_segment_bytes;
	int32_t log_roll_hours;
	int64_t log_roll_ms;
	int32_t log_roll_jitter_hours;
	int64_t log_roll_jitter_ms;
	int32_t log_index_size_max_bytes;
	int32_t log_index_interval_bytes;
	int64_t log_flush_interval_messages;
	int64_t log_flush_interval_ms;
	int64_t log_flush_scheduler_interval_ms;
	int64_t log_flush_offset_checkpoint_interval_ms;
	bool log_flush_on_ack;
	int64_t log_segment_delete_delay_ms;
	int log_message_timestamp_type;
	int64_t log_message_timestamp_difference_max_ms;
	int log_cleanup_policy;
	int compression_type;
	int32_t message_max_bytes;

	/* replication */
	int64_t replica_lag_time_max_ms;
	int32_t replica_fetch_max_bytes;
	int32_t replica_fetch_min_bytes;
	int32_t replica_fetch_wait_max_ms;
	int32_t replica_fetch_response_max_bytes;
	int32_t replica_fetch_backoff_ms;
	int32_t replica_socket_timeout_ms;
	int32_t num_replica_fetchers;
	int64_t replica_high_watermark_checkpoint_interval_ms;
	int64_t leader_replication_throttled_rate;
	int64_t follower_replication_throttled_rate;

	/* controller */
	int32_t controller_socket_timeout_ms;
	bool controlled_shutdown_enable;
	int32_t controlled_shutdown_max_retries;
	int64_t controlled_shutdown_retry_backoff_ms;
	bool auto_leader_rebalance_enable;
	int64_t leader_imbalance_check_interval_seconds;
	int32_t leader_imbalance_per_broker_percentage;

	/* accepted for compatibility, no effect */
	int32_t ignored_int;
	char *ignored_str;

	/* bookkeeping: which keys the operator set (bit per table row) */
	uint64_t set_mask[2];
};

extern const struct conf_def broker_conf_table[];

/* Fills c with defaults. */
void broker_conf_init(struct broker_conf *c);
void broker_conf_free(struct broker_conf *c);

/* Sets one key (from the file or an --override), remembering that it was
 * set. Returns 0, ERR_NOT_FOUND or ERR_INVAL with errstr. */
int broker_conf_set(struct broker_conf *c, const char *key, const char *value,
		    char *errstr, size_t errstr_size);

/* Loads server.properties. Returns 0 or an error with errstr naming the
 * file, line and key. */
int broker_conf_load(struct broker_conf *c, const char *path, char *errstr,
		     size_t errstr_size);

/* True when the operator set key explicitly. */
bool broker_conf_is_set(const struct broker_conf *c, const char *key);

/*
 * Cross-field checks after loading (required keys, listener syntax,
 * log.dirs present, RF/min.insync sanity). Returns 0 or ERR_INVAL with a
 * sentence.
 */
int broker_conf_validate(const struct broker_conf *c, char *errstr,
			 size_t errstr_size);

/* The effective values Kafka derives from several keys. */
int64_t broker_conf_retention_ms(const struct broker_conf *c);
int64_t broker_conf_roll_ms(const struct broker_conf *c);
int64_t broker_conf_roll_jitter_ms(const struct broker_conf *c);
/* log.dirs, or log.dir when log.dirs is unset. */
const char *broker_conf_log_dirs(const struct broker_conf *c);
/* num.network.threads, or the number of CPUs when it is 0. */
int broker_conf_network_threads(const struct broker_conf *c);

/* The topic defaults implied by the broker settings. Caller frees with
 * topic_conf_free(). Returns 0 or ERR_NOMEM. */
int broker_conf_topic_defaults(const struct broker_conf *c,
			       struct topic_conf *tc);

/* Logs a warning for every compatibility key that was set. */
void broker_conf_warn_ignored(const struct broker_conf *c);

#endif
