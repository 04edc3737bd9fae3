/*
 * fluxo.h - libfluxo, the C client of fluxo: producer, consumer and admin.
 *
 * This is the only public header. Handles are opaque; configuration uses
 * Kafka's client property names ("bootstrap.servers", "acks", "linger.ms",
 * "batch.size", "compression.type", "enable.idempotence",
 * "fetch.max.wait.ms", ...; fluxo_conf_set() lists the accepted names in
 * its error for an unknown one).
 *
 * Errors: every call that can fail returns an int error code. Codes >= 0
 * are the broker's wire error codes, with Kafka's numbers and meanings
 * (FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION == 3, ...); codes < 0 are local to
 * the client (FLUXO_ERR__TIMED_OUT, FLUXO_ERR__TRANSPORT, ...).
 * fluxo_err2str() gives a sentence for either kind. Set-up calls also fill
 * a caller-provided errstr buffer with a sentence an operator can act on.
 *
 * Threads: a producer runs one background I/O thread; its API may be
 * called from any thread, and delivery callbacks run on the thread that
 * calls fluxo_producer_poll() or fluxo_producer_flush(). A consumer and an
 * admin client are each meant for one thread at a time.
 *
 * Ownership: strings and buffers passed in are copied before the call
 * returns unless a comment says otherwise; objects returned through a
 * pointer are freed with the matching _destroy function.
 */
#ifndef FLUXO_H
#define FLUXO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLUXO_VERSION_STR "0.1.0"

/* ------------------------------------------------------------------ errors */

typedef enum fluxo_err {
	/* Local errors (never on the wire). */
	FLUXO_ERR__FAIL = -100,		/* generic failure; see errstr */
	FLUXO_ERR__TRANSPORT = -101,	/* broker connection failed or lost */
	FLUXO_ERR__TIMED_OUT = -102,	/* the operation's time ran out */
	FLUXO_ERR__INVALID_ARG = -103,	/* bad argument or configuration */
	FLUXO_ERR__QUEUE_FULL = -104,	/* buffer.memory exhausted */
	FLUXO_ERR__MSG_SIZE_TOO_LARGE = -105, /* record larger than max.request.size */
	FLUXO_ERR__UNKNOWN_TOPIC = -106,	/* topic not in cluster metadata */
	FLUXO_ERR__UNKNOWN_PARTITION = -107,	/* partition out of range */
	FLUXO_ERR__DESTROY = -108,	/* the handle was destroyed first */
	FLUXO_ERR__BAD_MSG = -109,	/* received data failed to decode */
	FLUXO_ERR__NOMEM = -110,	/* out of memory */
	FLUXO_ERR__STATE = -111,	/* call not valid in this state */
	FLUXO_ERR__ALL_BROKERS_DOWN = -112, /* no bootstrap server answers */

	FLUXO_ERR_NO_ERROR = 0,
	FLUXO_ERR_UNKNOWN_SERVER_ERROR = -1,
	FLUXO_ERR_OFFSET_OUT_OF_RANGE = 1,
	FLUXO_ERR_CORRUPT_MESSAGE = 2,
	FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	FLUXO_ERR_LEADER_NOT_AVAILABLE = 5,
	FLUXO_ERR_NOT_LEADER_OR_FOLLOWER = 6,
	FLUXO_ERR_REQUEST_TIMED_OUT = 7,
	FLUXO_ERR_BROKER_NOT_AVAILABLE = 8,
	FLUXO_ERR_MESSAGE_TOO_LARGE = 10,
	FLUXO_ERR_NETWORK_EXCEPTION = 13,
	FLUXO_ERR_INVALID_TOPIC_EXCEPTION = 17,
	FLUXO_ERR_RECORD_LIST_TOO_LARGE = 18,
	FLUXO_ERR_NOT_ENOUGH_REPLICAS = 19,
	FLUXO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	FLUXO_ERR_INVALID_REQUIRED_ACKS = 21,
	FLUXO_ERR_INVALID_TIMESTAMP = 32,
	FLUXO_ERR_UNSUPPORTED_VERSION = 35,
	FLUXO_ERR_TOPIC_ALREADY_EXISTS = 36,
	FLUXO_ERR_INVALID_PARTITIONS = 37,
	FLUXO_ERR_INVALID_REPLICATION_FACTOR = 38,
	FLUXO_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
	FLUXO_ERR_INVALID_CONFIG = 40,
	FLUXO_ERR_NOT_CONTROLLER = 41,
	FLUXO_ERR_INVALID_REQUEST = 42,
	FLUXO_ERR_POLICY_VIOLATION = 44,
	FLUXO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	FLUXO_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
	FLUXO_ERR_INVALID_PRODUCER_EPOCH = 47,
	FLUXO_ERR_KAFKA_STORAGE_ERROR = 56,
	FLUXO_ERR_UNKNOWN_PRODUCER_ID = 59,
	FLUXO_ERR_REASSIGNMENT_IN_PROGRESS = 60,
	FLUXO_ERR_TOPIC_DELETION_DISABLED = 73,
	FLUXO_ERR_FENCED_LEADER_EPOCH = 74,
	FLUXO_ERR_UNKNOWN_LEADER_EPOCH = 75,
	FLUXO_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
	FLUXO_ERR_OFFSET_NOT_AVAILABLE = 78,
	FLUXO_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
	FLUXO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
	FLUXO_ERR_ELECTION_NOT_NEEDED = 84,
	FLUXO_ERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
	FLUXO_ERR_INVALID_RECORD = 87,
} fluxo_err_t;

/* A sentence for err, e.g. "Broker: Unknown topic or partition". */
const char *fluxo_err2str(int err);
/* The code's name, e.g. "UNKNOWN_TOPIC_OR_PARTITION" or "_TIMED_OUT". */
const char *fluxo_err2name(int err);
/* True for errors a producer retries (leadership moves, timeouts,
 * NOT_ENOUGH_REPLICAS, disconnects). */
bool fluxo_err_is_retriable(int err);

const char *fluxo_version_str(void);

/* Special offsets, as in Kafka's ListOffsets. */
#define FLUXO_OFFSET_END (-1)		/* the next record to be written */
#define FLUXO_OFFSET_BEGINNING (-2)	/* the oldest retained record */
#define FLUXO_PARTITION_UA (-1)		/* let the partitioner choose */

/* ------------------------------------------------------------------ configuration */

typedef struct fluxo_conf fluxo_conf_t;

fluxo_conf_t *fluxo_conf_new(void);
fluxo_conf_t *fluxo_conf_dup(const fluxo_conf_t *conf);
void fluxo_conf_destroy(fluxo_conf_t *conf);

/*
 * Sets a client property. Returns 0, or FLUXO_ERR__INVALID_ARG with a
 * sentence in errstr for an unknown name or a bad value.
 */
int fluxo_conf_set(fluxo_conf_t *conf, const char *name, const char *value,
		   char *errstr, size_t errstr_size);

/* Writes the current value of name into out; returns 0 or
 * FLUXO_ERR__INVALID_ARG if name is unknown. */
int fluxo_conf_get(const fluxo_conf_t *conf, const char *name, char *out,
		   size_t out_size);

/*
 * Loads a properties file ("key=value" lines, as --producer.config /
 * --consumer.config / --command-config take). Returns 0 or
 * FLUXO_ERR__INVALID_ARG with errstr naming the file, line and key.
 */
int fluxo_conf_load_file(fluxo_conf_t *conf, const char *path, char *errstr,
			 size_t errstr_size);

/* ------------------------------------------------------------------ records */

typedef struct fluxo_header {
	const char *name;
	size_t name_len;
	const void *value;	/* NULL: null value */
	size_t value_len;
} fluxo_header_t;

/* ------------------------------------------------------------------ producer */

typedef struct fluxo_producer fluxo_producer_t;

/* The outcome of one record, passed to the delivery callback. */
typedef struct fluxo_delivery {
	const char *topic;
	int32_t partition;
	int64_t offset;		/* -1 on error (and for acks=0) */
	int64_t timestamp;	/* the record's timestamp (ms) */
	int err;		/* 0 on success */
	const char *errstr;	/* NULL on success */
	void *msg_opaque;	/* as given to fluxo_produce() */
	int64_t latency_us;	/* from fluxo_produce() to acknowledgement */
} fluxo_delivery_t;

typedef void(fluxo_delivery_cb_t)(const fluxo_delivery_t *dr, void *opaque);

/* Sets the delivery callback (and its opaque) of producers made from conf. */
void fluxo_conf_set_delivery_cb(fluxo_conf_t *conf, fluxo_delivery_cb_t *cb,
				void *opaque);

/*
 * Creates a producer. Takes ownership of conf on success (on failure the
 * caller still owns it). Connects lazily; a bad bootstrap.servers string
 * fails here with errstr set.
 */
fluxo_producer_t *fluxo_producer_new(fluxo_conf_t *conf, char *errstr,
				     size_t errstr_size);

/*
 * Queues one record. key/value are copied; NULL means null (key_len /
 * value_len are then ignored). partition FLUXO_PARTITION_UA lets the
 * partitioner choose (murmur2 of the key; sticky for null keys).
 * timestamp_ms 0 means now. Blocks up to max.block.ms while the topic's
 * metadata is unknown or buffer.memory is full.
 * Returns 0; FLUXO_ERR__QUEUE_FULL, FLUXO_ERR__UNKNOWN_TOPIC (the topic
 * does not exist when max.block.ms passes), FLUXO_ERR__UNKNOWN_PARTITION,
 * FLUXO_ERR__MSG_SIZE_TOO_LARGE, FLUXO_ERR__INVALID_ARG,
 * FLUXO_ERR__TRANSPORT (no broker could be reached: every one refused or
 * timed out a connection while this call waited for metadata),
 * FLUXO_ERR__TIMED_OUT (metadata did not arrive within max.block.ms).
 * Only a record that returned 0 gets a delivery report, with one
 * exception: on FLUXO_ERR__UNKNOWN_TOPIC the record is also reported
 * (err FLUXO_ERR__UNKNOWN_TOPIC, errstr carrying the broker's explanation,
 * e.g. that auto.create.topics.enable is false), so that code driven by
 * delivery callbacks sees why; its msg_opaque is passed there too.
 */
int fluxo_produce(fluxo_producer_t *p, const char *topic, int32_t partition,
		  const void *key, size_t key_len, const void *value,
		  size_t value_len, const fluxo_header_t *headers,
		  size_t header_cnt, int64_t timestamp_ms, void *msg_opaque);

/*
 * Serves queued delivery callbacks, waiting up to timeout_ms for the first
 * (0: don't wait, -1: forever). Returns the number served.
 */
int fluxo_producer_poll(fluxo_producer_t *p, int timeout_ms);

/*
 * Sends everything queued now (ignoring linger.ms) and waits up to
 * timeout_ms until every record has its delivery callback served.
 * Returns 0 or FLUXO_ERR__TIMED_OUT.
 */
int fluxo_producer_flush(fluxo_producer_t *p, int timeout_ms);

/* Records queued or in flight, delivery reports not yet served included. */
size_t fluxo_producer_outq_len(fluxo_producer_t *p);

/*
 * Number of partitions of topic, fetching metadata if needed within
 * timeout_ms. Returns the count (> 0) or a negative error.
 */
int fluxo_producer_partition_count(fluxo_producer_t *p, const char *topic,
				   int timeout_ms);

/*
 * Destroys the producer. Records not yet acknowledged fail with
 * FLUXO_ERR__DESTROY (their callbacks are served here); call
 * fluxo_producer_flush() first to deliver them.
 */
void fluxo_producer_destroy(fluxo_producer_t *p);

/* ------------------------------------------------------------------ consumer */

typedef struct fluxo_consumer fluxo_consumer_t;

/* A consumed record, or an error event for a partition (err != 0). */
typedef struct fluxo_message {
	int err;		/* 0 for a record */
	const char *errstr;	/* error events only */
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp;
	int timestamp_type;	/* 0 CreateTime, 1 LogAppendTime */
	int32_t leader_epoch;
	const void *key;	/* NULL: null key */
	size_t key_len;
	const void *value;	/* NULL: null value (tombstone) */
	size_t value_len;
	size_t header_cnt;
	int64_t high_watermark;	/* of the partition, as of this fetch */
	const void *priv;	/* internal */
} fluxo_message_t;

/* The idx-th header of m; returns 0 or FLUXO_ERR__INVALID_ARG. Pointers
 * are valid as long as m is. */
int fluxo_message_header(const fluxo_message_t *m, size_t idx,
			 fluxo_header_t *out);

/* Takes ownership of conf on success. */
fluxo_consumer_t *fluxo_consumer_new(fluxo_conf_t *conf, char *errstr,
				     size_t errstr_size);

/*
 * Adds topic/partition to the assignment, starting at offset (>= 0,
 * FLUXO_OFFSET_BEGINNING or FLUXO_OFFSET_END). partition -1 assigns every
 * partition of the topic (looked up within request.timeout.ms; a topic the
 * brokers deny in three metadata answers is reported at once). Assigning
 * a partition again moves it like fluxo_consumer_seek().
 * Returns 0, FLUXO_ERR__UNKNOWN_TOPIC, FLUXO_ERR__UNKNOWN_PARTITION,
 * FLUXO_ERR__TRANSPORT (no broker reachable) or FLUXO_ERR__TIMED_OUT.
 */
int fluxo_consumer_assign(fluxo_consumer_t *c, const char *topic,
			  int32_t partition, int64_t offset);

/* Drops every assignment; data already fetched for it is discarded. */
int fluxo_consumer_unassign(fluxo_consumer_t *c);

/* Moves an assigned partition's position (offset as for assign). Data
 * fetched before the seek is never returned. Returns 0 or
 * FLUXO_ERR__UNKNOWN_PARTITION when the partition is not assigned. */
int fluxo_consumer_seek(fluxo_consumer_t *c, const char *topic,
			int32_t partition, int64_t offset);

/* Moves the position to the first record with a timestamp >= ts_ms (or to
 * the end if none). The offset is looked up in the background (ListOffsets
 * to the leader); poll and position see the result. */
int fluxo_consumer_seek_timestamp(fluxo_consumer_t *c, const char *topic,
				  int32_t partition, int64_t ts_ms);

/*
 * Returns the next record or error event, waiting up to timeout_ms
 * (-1: forever), or NULL when none arrived in time. The message is
 * borrowed: valid until the next call on c. Records come in offset order
 * per partition. Error events have err != 0: a partition's error
 * (FLUXO_ERR_OFFSET_OUT_OF_RANGE with auto.offset.reset=none, after which
 * the partition waits for a seek; FLUXO_ERR__BAD_MSG for corrupt data,
 * which is skipped), or FLUXO_ERR__TRANSPORT with topic "" and partition
 * -1 each time every broker has failed a connection attempt.
 */
const fluxo_message_t *fluxo_consumer_poll(fluxo_consumer_t *c,
					   int timeout_ms);

/* The next offset to be returned for an assigned partition. Waits up to
 * request.timeout.ms while a logical position (beginning, end, timestamp)
 * is being resolved. Returns 0, FLUXO_ERR__UNKNOWN_PARTITION (not
 * assigned) or FLUXO_ERR__TIMED_OUT. */
int fluxo_consumer_position(fluxo_consumer_t *c, const char *topic,
			    int32_t partition, int64_t *offset);

void fluxo_consumer_destroy(fluxo_consumer_t *c);

/* ------------------------------------------------------------------ admin */

typedef struct fluxo_admin fluxo_admin_t;

/*
 * Every admin call is synchronous and bounded by its timeout_ms (<= 0:
 * default.api.timeout.ms). When no broker can be reached a call fails with
 * FLUXO_ERR__TRANSPORT as soon as every known broker has refused or timed
 * out a connection (socket.connection.setup.timeout.ms), with errstr
 * naming each address; it does not wait out its whole timeout.
 */

/* Takes ownership of conf on success. */
fluxo_admin_t *fluxo_admin_new(fluxo_conf_t *conf, char *errstr,
			       size_t errstr_size);
void fluxo_admin_destroy(fluxo_admin_t *a);

typedef struct fluxo_partition_md {
	int32_t id;
	int err;
	int32_t leader;		/* -1: none */
	int32_t leader_epoch;
	int32_t *replicas;
	int replica_cnt;
	int32_t *isr;
	int isr_cnt;
	int32_t *offline;
	int offline_cnt;
} fluxo_partition_md_t;

typedef struct fluxo_topic_md {
	char *name;
	int err;
	char *errstr;
	bool is_internal;
	fluxo_partition_md_t *partitions;	/* sorted by id */
	int partition_cnt;
} fluxo_topic_md_t;

typedef struct fluxo_broker_md {
	int32_t id;
	char *host;
	int port;
	char *rack;		/* NULL: none */
} fluxo_broker_md_t;

typedef struct fluxo_metadata {
	char *cluster_id;
	int32_t controller_id;
	int32_t controller_epoch;
	fluxo_broker_md_t *brokers;	/* sorted by id */
	int broker_cnt;
	fluxo_topic_md_t *topics;	/* sorted by name */
	int topic_cnt;
} fluxo_metadata_t;

/*
 * Cluster metadata for the named topics (topic_cnt 0: every topic).
 * A topic that does not exist is reported in its entry's err.
 * Returns 0 with *mdp set (free with fluxo_metadata_destroy) or an error.
 */
int fluxo_admin_metadata(fluxo_admin_t *a, const char *const *topics,
			 size_t topic_cnt, int timeout_ms,
			 fluxo_metadata_t **mdp, char *errstr,
			 size_t errstr_size);
void fluxo_metadata_destroy(fluxo_metadata_t *md);

typedef struct fluxo_new_topic {
	const char *name;
	int32_t num_partitions;		/* -1: broker default */
	int32_t replication_factor;	/* -1: broker default */
	const char *const *config_names;
	const char *const *config_values;
	size_t config_cnt;
	/* Explicit placement: partition i's replicas are
	 * assignment[i][0..assignment_cnt[i]); NULL for automatic. */
	const int32_t *const *assignment;
	const int *assignment_cnt;
} fluxo_new_topic_t;

/* Each returns 0 or the wire/local error, with the broker's sentence in
 * errstr. They wait until the change is visible in metadata or
 * timeout_ms passes. */
int fluxo_admin_create_topic(fluxo_admin_t *a, const fluxo_new_topic_t *t,
			     bool validate_only, int timeout_ms, char *errstr,
			     size_t errstr_size);
int fluxo_admin_delete_topic(fluxo_admin_t *a, const char *name,
			     int timeout_ms, char *errstr, size_t errstr_size);
int fluxo_admin_create_partitions(fluxo_admin_t *a, const char *name,
				  int32_t new_total, int timeout_ms,
				  char *errstr, size_t errstr_size);

#define FLUXO_RESOURCE_TOPIC 2
#define FLUXO_RESOURCE_BROKER 4

/* Where a setting's value comes from (DescribeConfigs). */
typedef enum fluxo_config_source {
	FLUXO_CONFIG_SOURCE_UNKNOWN = 0,
	FLUXO_CONFIG_SOURCE_TOPIC = 1,
	FLUXO_CONFIG_SOURCE_DYNAMIC_BROKER = 2,
	FLUXO_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
	FLUXO_CONFIG_SOURCE_STATIC_BROKER = 4,
	FLUXO_CONFIG_SOURCE_DEFAULT = 5,
} fluxo_config_source_t;

/* One layer that sets a value for a setting, under that layer's name for
 * it (a topic's retention.ms is log.retention.ms at the broker layers). */
typedef struct fluxo_config_synonym {
	char *name;
	char *value; /* NULL for sensitive settings */
	fluxo_config_source_t source;
} fluxo_config_synonym_t;

typedef struct fluxo_config_entry {
	char *name;
	char *value;		/* NULL for sensitive settings */
	fluxo_config_source_t source;
	bool read_only;
	bool is_sensitive;
	char *doc;		/* NULL unless asked for */
	/* Every layer that sets the value, the one in effect first
	 * (topic override, dynamic broker, dynamic default, static,
	 * built-in default); NULL/0 from a broker that does not tell. */
	fluxo_config_synonym_t *synonyms;
	size_t synonym_cnt;
} fluxo_config_entry_t;

/*
 * Describes the settings of a topic or broker (resource_type
 * FLUXO_RESOURCE_*; a broker's name is its id in decimal, "" for the
 * cluster-wide dynamic default, which lists only the settings it sets).
 * A broker's settings are asked of that broker itself (only it knows its
 * server.properties): an id the cluster metadata does not list fails
 * with FLUXO_ERR_BROKER_NOT_AVAILABLE. Returns 0 with *entries (free
 * with fluxo_config_entries_destroy) and *cnt.
 */
int fluxo_admin_describe_configs(fluxo_admin_t *a, int resource_type,
				 const char *name, bool include_doc,
				 int timeout_ms, fluxo_config_entry_t **entries,
				 size_t *cnt, char *errstr,
				 size_t errstr_size);
void fluxo_config_entries_destroy(fluxo_config_entry_t *entries, size_t cnt);

/* Sets and deletes settings of one resource, incrementally (a broker's
 * name as for fluxo_admin_describe_configs; "" sets the cluster-wide
 * default of dynamic broker settings). */
int fluxo_admin_alter_configs(fluxo_admin_t *a, int resource_type,
			      const char *name, const char *const *set_names,
			      const char *const *set_values, size_t set_cnt,
			      const char *const *delete_names,
			      size_t delete_cnt, bool validate_only,
			      int timeout_ms, char *errstr,
			      size_t errstr_size);

/* ---------------------------------------------- leaders and reassignments */

/*
 * These calls go to the controller: the client looks it up in fresh
 * metadata and, when the broker it reached answers NOT_CONTROLLER (the
 * office moved) or cannot be reached, looks again and retries every
 * retry.backoff.ms until timeout_ms.
 */

typedef struct fluxo_topic_partition {
	const char *topic;
	int32_t partition;
} fluxo_topic_partition_t;

/* The outcome for one partition. */
typedef struct fluxo_partition_result {
	char *topic;
	int32_t partition;
	int err;      /* 0: done */
	char *errstr; /* the broker's sentence, NULL when err is 0 */
} fluxo_partition_result_t;

/* Frees results of the calls below; NULL is fine. */
void fluxo_partition_results_destroy(fluxo_partition_result_t *results,
				     size_t cnt);

#define FLUXO_ELECTION_PREFERRED 0 /* make replica[0] the leader */
#define FLUXO_ELECTION_UNCLEAN                                                 \
	1 /* elect any live replica of a                                       \
	   * leaderless partition */

/*
 * Elects leaders (Kafka's ElectLeaders): election_type
 * FLUXO_ELECTION_PREFERRED or FLUXO_ELECTION_UNCLEAN, for the listed
 * partitions (partitions NULL / cnt 0: every partition of the cluster;
 * the controller then leaves out those that need no election).
 * Returns 0 with *results (sorted by topic and partition; free with
 * fluxo_partition_results_destroy) and *result_cnt: each partition's err
 * is 0 (the election happened), FLUXO_ERR_ELECTION_NOT_NEEDED (the right
 * leader is already in place), FLUXO_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
 * FLUXO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
 * FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION, ... Otherwise returns the error
 * that failed the whole request (FLUXO_ERR__TIMED_OUT, _TRANSPORT,
 * FLUXO_ERR_NOT_CONTROLLER when no controller answered in time, ...)
 * with errstr set.
 */
int fluxo_admin_elect_leaders(fluxo_admin_t *a, int election_type,
			      const fluxo_topic_partition_t *partitions,
			      size_t partition_cnt, int timeout_ms,
			      fluxo_partition_result_t **results,
			      size_t *result_cnt, char *errstr,
			      size_t errstr_size);

/* One change of a partition's replica set. */
typedef struct fluxo_reassignment {
	const char *topic;
	int32_t partition;
	const int32_t *replicas; /* the target set, preferred first */
	int replica_cnt;
	bool cancel; /* true: cancel the pending move
		      * (replicas ignored) */
} fluxo_reassignment_t;

/*
 * Starts (or cancels) partition reassignments (Kafka's
 * AlterPartitionReassignments). The controller moves data in the
 * background; fluxo_admin_list_reassignments() shows what is pending.
 * Returns 0 with per-partition *results (as for elect_leaders; errors
 * such as FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION,
 * FLUXO_ERR_INVALID_REPLICA_ASSIGNMENT,
 * FLUXO_ERR_NO_REASSIGNMENT_IN_PROGRESS for a cancel), or the error of
 * the whole request with errstr set.
 */
int fluxo_admin_alter_reassignments(fluxo_admin_t *a,
				    const fluxo_reassignment_t *entries,
				    size_t cnt, int timeout_ms,
				    fluxo_partition_result_t **results,
				    size_t *result_cnt, char *errstr,
				    size_t errstr_size);

/* A reassignment in progress. */
typedef struct fluxo_ongoing_reassignment {
	char *topic;
	int32_t partition;
	int32_t *replicas; /* the full current set (old and new) */
	int replica_cnt;
	int32_t *adding; /* being added */
	int adding_cnt;
	int32_t *removing; /* to be removed when the move completes */
	int removing_cnt;
} fluxo_ongoing_reassignment_t;

/*
 * Lists the reassignments in progress (Kafka's
 * ListPartitionReassignments), for the partitions in filter
 * (NULL / filter_cnt 0: all). Returns 0 with *list (sorted by topic and
 * partition; free with fluxo_ongoing_reassignments_destroy) and *cnt, or
 * an error with errstr set.
 */
int fluxo_admin_list_reassignments(fluxo_admin_t *a,
				   const fluxo_topic_partition_t *filter,
				   size_t filter_cnt, int timeout_ms,
				   fluxo_ongoing_reassignment_t **list,
				   size_t *cnt, char *errstr,
				   size_t errstr_size);
void fluxo_ongoing_reassignments_destroy(fluxo_ongoing_reassignment_t *list,
					 size_t cnt);

/*
 * Looks up an offset of a partition: spec FLUXO_OFFSET_END (log end),
 * FLUXO_OFFSET_BEGINNING (log start) or a timestamp in ms (the first
 * offset at or after it; -1 when none). Returns 0 or an error.
 */
int fluxo_admin_list_offset(fluxo_admin_t *a, const char *topic,
			    int32_t partition, int64_t spec, int timeout_ms,
			    int64_t *offset, char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif

#endif
