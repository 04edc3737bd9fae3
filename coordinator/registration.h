/*
 * registration.h - a broker's start-up paths, cluster id and its
 * /brokers/ids/<id> registration.
 *
 * The registration is a "checked ephemeral": one multi-op that creates the
 * node (ephemeral, no data) and sets its data at version 0, so that the
 * reply carries the node's czxid, which is the broker epoch. A node that
 * already exists is ours when its ephemeral owner is this session (a retry
 * after a lost connection), is deleted and re-created when it belongs to
 * one of this process's earlier sessions, and is refused otherwise.
 *
 * After a session expiry the registration re-creates the node by itself
 * (from the session's listener, before listeners added later run) and
 * reports the new broker epoch through the callback. It never gives up
 * while the registration exists: when the node cannot be re-created
 * within twice the session timeout, a thread of the registration keeps
 * trying, with a backoff of at most 5 s.
 */
#ifndef FLUXO_REGISTRATION_H
#define FLUXO_REGISTRATION_H

#include <stddef.h>
#include <stdint.h>

#include "zk.h"
#include "zkdata.h"

typedef struct registration registration_t;

/*
 * Called after each successful re-registration with the new broker epoch,
 * or with -1 when re-registering failed for twice the session timeout
 * (the broker is then invisible to the controller; retries go on and the
 * next success calls back again). Runs on the session thread or on the
 * registration's retry thread, never twice at once. Must not call
 * registration_destroy().
 */
typedef void (*registration_epoch_fn)(void *arg, int64_t broker_epoch);

/*
 * Creates the persistent paths (/brokers/ids, /brokers/topics,
 * /config/changes, /admin/delete_topics, ...) and reads /cluster/id,
 * creating it with a new random id (22-character base64url UUID) when
 * missing. cluster_id receives the id (cluster_id_size >= 23).
 * Returns 0, or ERR_ZK / ERR_CORRUPT with errstr set. Any thread.
 */
int registration_bootstrap(zk_session_t *zs, char *cluster_id,
			   size_t cluster_id_size, char *errstr,
			   size_t errstr_size);

/* Writes a fresh random cluster id (22 chars + NUL) into out[23]. */
void registration_new_cluster_id(char out[23]);

/*
 * Prepares the registration of broker info->id (info is copied: its
 * endpoints, rack, jmx_port; the timestamp is set at each write). cb may
 * be NULL. Nothing is written until registration_register().
 * Returns NULL when out of memory.
 */
registration_t *registration_new(zk_session_t *zs, const struct zk_broker *info,
				 registration_epoch_fn cb, void *arg);

/*
 * Creates /brokers/ids/<id> and starts re-registering after expiries
 * (starting the retry thread the first time).
 * A node owned by another live session is waited on for up to one session
 * timeout (a crashed predecessor's session expires in that time; Kafka
 * fails at once). Returns 0 with *epoch set; ERR_EXISTS with errstr
 * "broker.id 1 is already registered by another broker (session 0x...)"
 * when the other session outlives the wait; ERR_NOMEM when the retry
 * thread cannot start; ERR_ZK otherwise. Blocks; any thread but the
 * session's.
 */
int registration_register(registration_t *reg, int64_t *epoch, char *errstr,
			  size_t errstr_size);

/*
 * Declares session_id an earlier session of this broker (for instance the
 * previous process's, saved on disk), whose node registration_register()
 * may then replace instead of refusing. Any thread.
 */
void registration_add_old_session(registration_t *reg, int64_t session_id);

/* The current broker epoch, or -1 while unregistered. Any thread. */
int64_t registration_epoch(registration_t *reg);

/*
 * Stops re-registering (interrupting a retry in progress; an attempt
 * already inside ZooKeeper is waited for) and frees reg. The node itself
 * goes when the session closes; registration_deregister() removes it at
 * once. Not from the session thread's listeners or the callback.
 */
void registration_destroy(registration_t *reg);

/* Deletes the node if this session owns it. Returns 0 or ERR_ZK. */
int registration_deregister(registration_t *reg);

#endif
