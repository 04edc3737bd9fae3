/*
 * zkdata.h - fluxo's znode layout and the JSON stored in it.
 *
 * The paths and JSON documents are Kafka's (ZooKeeper-era, 2.x), so that
 * operators can read a fluxo cluster with zkCli.sh exactly as they would a
 * Kafka one. Encoders return a malloc'd, NUL-terminated compact JSON text
 * (NULL only when out of memory); the caller frees it. Decoders are
 * strict: they take untrusted bytes, check every field's presence, type
 * and range, and return ERR_CORRUPT with a sentence in errstr rather than
 * accept a document they do not understand. They never crash on bad
 * input. Decoded structures are released with the matching _free
 * function, which also accepts a zeroed structure.
 *
 * Pure functions; no ZooKeeper calls, no shared state: any thread.
 */
#ifndef FLUXO_ZKDATA_H
#define FLUXO_ZKDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- paths */

#define ZK_PATH_CLUSTER		  "/cluster"
#define ZK_PATH_CLUSTER_ID	  "/cluster/id"
#define ZK_PATH_CONTROLLER	  "/controller"
#define ZK_PATH_CONTROLLER_EPOCH  "/controller_epoch"
#define ZK_PATH_BROKERS		  "/brokers"
#define ZK_PATH_BROKER_IDS	  "/brokers/ids"
#define ZK_PATH_BROKER_TOPICS	  "/brokers/topics"
#define ZK_PATH_BROKER_SEQID	  "/brokers/seqid"
#define ZK_PATH_CONFIG		  "/config"
#define ZK_PATH_CONFIG_CHANGES	  "/config/changes"
#define ZK_PATH_CONFIG_TOPICS	  "/config/topics"
#define ZK_PATH_CONFIG_BROKERS	  "/config/brokers"
#define ZK_PATH_ADMIN		  "/admin"
#define ZK_PATH_DELETE_TOPICS	  "/admin/delete_topics"
#define ZK_PATH_REASSIGN	  "/admin/reassign_partitions"
#define ZK_PATH_PREFERRED	  "/admin/preferred_replica_election"
#define ZK_PATH_PRODUCER_ID_BLOCK "/latest_producer_id_block"
#define ZK_PATH_ISR_CHANGE	  "/isr_change_notification"
#define ZK_PATH_LOG_DIR_EVENT	  "/log_dir_event_notification"

/* Children of /config/changes are config_change_<10 digits>. */
#define ZK_CONFIG_CHANGE_PREFIX "config_change_"

/* Entity types under /config. */
#define ZK_ENTITY_TOPICS  "topics"
#define ZK_ENTITY_BROKERS "brokers"
/* The entity name of the cluster-wide default broker config. */
#define ZK_DEFAULT_ENTITY "<default>"

/* Room for any path fluxo builds (topic names are at most 249 bytes). */
#define ZKPATH_MAX 512

/* NULL-terminated list of the persistent paths created at start-up. */
extern const char *const zkdata_persistent_paths[];

/*
 * Path builders. Each writes a NUL-terminated path into out and returns
 * its length, or ERR_TOO_LARGE when it does not fit (out is then empty).
 */
int zkpath_broker(char *out, size_t size, int32_t broker_id);
int zkpath_topic(char *out, size_t size, const char *topic);
int zkpath_partitions(char *out, size_t size, const char *topic);
int zkpath_partition(char *out, size_t size, const char *topic,
		     int32_t partition);
int zkpath_partition_state(char *out, size_t size, const char *topic,
			   int32_t partition);
int zkpath_config(char *out, size_t size, const char *entity_type,
		  const char *entity_name);
int zkpath_delete_topic(char *out, size_t size, const char *topic);

/* ------------------------------------------------------------- /cluster/id */

/* {"version":"1","id":"<id>"} */
char *zkdata_cluster_id_encode(const char *id);
/* Copies the id (at most id_size - 1 bytes, else ERR_CORRUPT). */
int zkdata_cluster_id_decode(const char *json, size_t len, char *id,
			     size_t id_size, char *errstr, size_t errstr_size);

/* ------------------------------------------------------------- /controller */

/* {"version":1,"brokerid":2,"timestamp":"1612345678901"} */
char *zkdata_controller_encode(int32_t broker_id, int64_t timestamp_ms);
int zkdata_controller_decode(const char *json, size_t len, int32_t *broker_id,
			     char *errstr, size_t errstr_size);

/* /controller_epoch holds a plain decimal integer. */
int zkdata_epoch_decode(const char *data, size_t len, int32_t *epoch,
			char *errstr, size_t errstr_size);

/* ------------------------------------------------------------- brokers */

struct zk_endpoint {
	char *listener; /* "PLAINTEXT", "CLIENT", ... */
	char *host;
	int32_t port;
	char *protocol; /* security protocol: "PLAINTEXT", "SSL" */
};

/* /brokers/ids/<id>, version 4. */
struct zk_broker {
	int32_t id;	   /* from the path, not the JSON */
	int64_t epoch;	   /* the node's czxid, not in the JSON */
	int32_t version;   /* decoded version (encoding writes 4) */
	char *host;	   /* the PLAINTEXT endpoint's, or NULL */
	int32_t port;	   /* or -1 */
	int32_t jmx_port;  /* -1: none */
	int64_t timestamp; /* ms since the epoch */
	struct zk_endpoint *endpoints;
	int n_endpoints;
	char *rack; /* NULL: none */
};

/*
 * Encodes version 4: host/port repeat the PLAINTEXT listener's endpoint
 * (null/-1 when there is none); endpoints are "NAME://host:port" with
 * IPv6 hosts in brackets; rack is left out when NULL.
 */
char *zkdata_broker_encode(const struct zk_broker *b);
/* Accepts versions 1 to 5. b->id and b->epoch are left untouched. */
int zkdata_broker_decode(const char *json, size_t len, struct zk_broker *b,
			 char *errstr, size_t errstr_size);
void zkdata_broker_free(struct zk_broker *b);
/* The endpoint of the named listener (case-sensitive), or NULL. */
const struct zk_endpoint *zkdata_broker_endpoint(const struct zk_broker *b,
						 const char *listener);

/* ------------------------------------------------------------- topics */

struct zk_replicas {
	int32_t *ids;
	int n;
};

/*
 * /brokers/topics/<t>: version 2 (3 when a topic id is present).
 * "original_replicas" is fluxo's addition to Kafka's layout (Kafka
 * ignores it): while a partition is reassigned, its replicas in their
 * order before the reassignment, so that a cancellation restores the
 * order (the preferred leader) and not only the set. It is written only
 * when some partition has one.
 */
struct zk_topic_assign {
	int n_partitions;
	struct zk_replicas *replicas; /* [n_partitions] */
	struct zk_replicas *adding;   /* [n_partitions], n = 0 when none */
	struct zk_replicas *removing; /* [n_partitions] */
	struct zk_replicas *original; /* [n_partitions], n = 0 when none */
	char *topic_id;		      /* NULL unless version 3 */
};

/*
 * Allocates a zeroed assignment of n partitions (replica lists empty).
 * Returns 0 or ERR_NOMEM.
 */
int zkdata_topic_alloc(struct zk_topic_assign *a, int n_partitions);
/* Copies ids into a replica list (freeing what it held). 0 or ERR_NOMEM. */
int zkdata_replicas_set(struct zk_replicas *r, const int32_t *ids, int n);
char *zkdata_topic_encode(const struct zk_topic_assign *a);
/*
 * Accepts versions 1 to 3. Partitions must be numbered 0..n-1 without
 * gaps, each with a list of distinct broker ids; adding/removing may only
 * name existing partitions.
 */
int zkdata_topic_decode(const char *json, size_t len, struct zk_topic_assign *a,
			char *errstr, size_t errstr_size);
void zkdata_topic_free(struct zk_topic_assign *a);

/* /brokers/topics/<t>/partitions/<p>/state */
struct zk_partition_state {
	int32_t leader; /* -1: none */
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t *isr;
	int n_isr;
};

char *zkdata_state_encode(const struct zk_partition_state *s);
int zkdata_state_decode(const char *json, size_t len,
			struct zk_partition_state *s, char *errstr,
			size_t errstr_size);
void zkdata_state_free(struct zk_partition_state *s);

/* ------------------------------------------------------------- configs */

struct zk_config_entry {
	char *name;
	char *value;
};

/* /config/<type>/<name>: {"version":1,"config":{"k":"v"}} */
struct zk_entity_config {
	struct zk_config_entry *entries;
	int n;
};

char *zkdata_config_encode(const struct zk_entity_config *c);
/* Values must be strings, as Kafka writes them. */
int zkdata_config_decode(const char *json, size_t len,
			 struct zk_entity_config *c, char *errstr,
			 size_t errstr_size);
void zkdata_config_free(struct zk_entity_config *c);
/* The value of name, or NULL. */
const char *zkdata_config_get(const struct zk_entity_config *c,
			      const char *name);
/* Sets or replaces name. Returns 0 or ERR_NOMEM. */
int zkdata_config_set(struct zk_entity_config *c, const char *name,
		      const char *value);
/* Removes name; returns true when it was present. */
bool zkdata_config_remove(struct zk_entity_config *c, const char *name);

/*
 * /config/changes/config_change_N: {"version":2,"entity_path":"topics/foo"}.
 * Decoding also accepts version 1 ({"entity_type":..,"entity_name":..}).
 */
char *zkdata_config_change_encode(const char *entity_type,
				  const char *entity_name);
int zkdata_config_change_decode(const char *json, size_t len, char *type,
				size_t type_size, char *name, size_t name_size,
				char *errstr, size_t errstr_size);

/* ------------------------------------------------------------- admin */

struct zk_tp {
	char *topic;
	int32_t partition;
};

struct zk_tp_list {
	struct zk_tp *v;
	int n;
};

/* /admin/preferred_replica_election: {"version":1,"partitions":[...]} */
char *zkdata_preferred_encode(const struct zk_tp_list *l);
int zkdata_preferred_decode(const char *json, size_t len, struct zk_tp_list *l,
			    char *errstr, size_t errstr_size);
void zkdata_tp_list_free(struct zk_tp_list *l);

struct zk_reassignment {
	char *topic;
	int32_t partition;
	struct zk_replicas replicas;
};

struct zk_reassign_list {
	struct zk_reassignment *v;
	int n;
};

/* /admin/reassign_partitions (log_dirs are accepted and ignored). */
char *zkdata_reassign_encode(const struct zk_reassign_list *l);
int zkdata_reassign_decode(const char *json, size_t len,
			   struct zk_reassign_list *l, char *errstr,
			   size_t errstr_size);
void zkdata_reassign_free(struct zk_reassign_list *l);

/* /latest_producer_id_block */
struct zk_pid_block {
	int32_t broker;
	int64_t start;
	int64_t end;
};

char *zkdata_pid_block_encode(const struct zk_pid_block *b);
int zkdata_pid_block_decode(const char *json, size_t len,
			    struct zk_pid_block *b, char *errstr,
			    size_t errstr_size);

#endif
