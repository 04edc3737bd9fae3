/*
 * admin.h - topic and config administration written to ZooKeeper.
 *
 * The broker calls these on its admin thread while handling CreateTopics,
 * DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs and
 * InitProducerId. Each is synchronous (a few ZooKeeper round trips) and
 * returns a wire error code (FLUXO__ERROR_CODE__*) with a sentence in
 * errstr for the client, using Kafka's wording where Kafka has one. The
 * controller notices the writes through its watches and does the rest
 * (elects leaders, deletes replicas).
 *
 * ZooKeeper trouble is REQUEST_TIMED_OUT when the connection or session
 * failed (the client may retry) and UNKNOWN_SERVER_ERROR otherwise.
 *
 * Threads: any thread except the session thread and ZooKeeper's own.
 */
#ifndef FLUXO_ADMIN_H
#define FLUXO_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxo.pb-c.h"
#include "zk.h"
#include "zkdata.h"

/* Kafka's limit on topic name length. */
#define ADMIN_TOPIC_NAME_MAX 249

struct admin_defaults {
	int32_t num_partitions;		    /* num.partitions */
	int32_t default_replication_factor; /* default.replication.factor */
	bool delete_topic_enable;	    /* delete.topic.enable */
	bool rack_aware;		    /* false: ignore broker.rack */
};

/* Fills d with Kafka's defaults (1, 1, true, true). */
void admin_defaults_init(struct admin_defaults *d);

/*
 * Checks a topic name: [a-zA-Z0-9._-], 1..249 characters, not "." or
 * "..". Returns NONE or INVALID_TOPIC_EXCEPTION with Kafka's sentence.
 */
int admin_topic_name_check(const char *name, char *errstr, size_t errstr_size);

/*
 * Creates one topic of a CreateTopics request. num_partitions and
 * replication_factor of -1 (or 0, proto3's unset) take the defaults;
 * explicit assignments are validated; configs are checked against
 * common/topic_conf.h's table. Writes /config/topics/<t> then
 * /brokers/topics/<t> unless validate_only. On NONE, *partitions and *rf
 * (may be NULL) tell what was (or would be) created.
 * Returns NONE, INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
 * INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, INVALID_REQUEST, ...
 */
int admin_create_topic(zk_session_t *zs, const struct admin_defaults *d,
		       const Fluxo__CreatableTopic *t, bool validate_only,
		       int32_t *partitions, int32_t *rf, char *errstr,
		       size_t errstr_size);

/*
 * Marks a topic for deletion (/admin/delete_topics/<t>); marking twice is
 * not an error. Returns NONE, UNKNOWN_TOPIC_OR_PARTITION,
 * TOPIC_DELETION_DISABLED, ...
 */
int admin_delete_topic(zk_session_t *zs, const struct admin_defaults *d,
		       const char *topic, char *errstr, size_t errstr_size);

/*
 * Raises a topic's partition count to t->count, placing the new
 * partitions by continuing the topic's round-robin (or as t->assignments
 * says, one entry per new partition in order). Returns NONE,
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS ("Topic already has 3
 * partitions."), INVALID_REPLICA_ASSIGNMENT, REASSIGNMENT_IN_PROGRESS,
 * INVALID_TOPIC_EXCEPTION (marked for deletion), ...
 */
int admin_create_partitions(zk_session_t *zs,
			    const Fluxo__CreatePartitionsTopic *t,
			    bool validate_only, char *errstr,
			    size_t errstr_size);

/*
 * Reads /config/<entity_type>/<name> into out (empty when the node does
 * not exist); free with zkdata_config_free(). Returns NONE or an error.
 */
int admin_read_config(zk_session_t *zs, const char *entity_type,
		      const char *name, struct zk_entity_config *out,
		      char *errstr, size_t errstr_size);

/*
 * Validates one dynamic broker setting: returns NONE or INVALID_CONFIG
 * with errstr set. Supplied by the broker, which owns its config table.
 */
typedef int (*admin_config_check_fn)(void *arg, const char *name,
				     const char *value, char *errstr,
				     size_t errstr_size);

/*
 * Applies an incremental AlterConfigs resource: a topic's overrides
 * (checked against topic_conf_table) or a broker's dynamic settings
 * (name "" or "<default>" for the cluster default; checked with
 * check_fn, which may be NULL to refuse all). Writes the config znode,
 * then a /config/changes notification, unless validate_only.
 * Returns NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG,
 * INVALID_REQUEST, ...
 */
int admin_alter_config(zk_session_t *zs, const Fluxo__AlterConfigsResource *r,
		       bool validate_only, admin_config_check_fn check_fn,
		       void *check_arg, char *errstr, size_t errstr_size);

/*
 * Lists every topic (including those marked for deletion), sorted.
 * *names is a malloc'd array of malloc'd strings; free with
 * admin_names_free(). Returns NONE or an error.
 */
int admin_list_topics(zk_session_t *zs, char ***names, int *n, char *errstr,
		      size_t errstr_size);
void admin_names_free(char **names, int n);

/*
 * Reads every registered broker (id, epoch = czxid, endpoints, rack),
 * sorted by id; free with admin_brokers_free(). Registrations that do not
 * decode are skipped with a warning. Returns NONE or an error.
 */
int admin_read_brokers(zk_session_t *zs, struct zk_broker **brokers, int *n,
		       char *errstr, size_t errstr_size);
void admin_brokers_free(struct zk_broker *brokers, int n);

/* Producer ids are handed out in blocks of this many. */
#define ADMIN_PRODUCER_ID_BLOCK 1000

/*
 * Takes the next block of producer ids from /latest_producer_id_block
 * with a conditional setData (retrying on a concurrent allocation).
 * *start and *end are inclusive. Returns NONE or an error.
 */
int admin_alloc_producer_ids(zk_session_t *zs, int32_t broker_id,
			     int64_t *start, int64_t *end, char *errstr,
			     size_t errstr_size);

#endif
