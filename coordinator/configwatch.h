/*
 * configwatch.h - tell a broker when a dynamic config changes.
 *
 * Admin tools write /config/<type>/<name> and then a sequential
 * /config/changes/config_change_N notification. The watch calls back once
 * per notification, in sequence order, with the entity it names; the
 * broker then re-reads that entity's config (admin_read_config()). At
 * start it first calls back for every existing topic and broker override,
 * so a broker that starts after a change still applies it.
 *
 * Exactly once per notification per session: each notification is
 * delivered once; after a session expiry the watch is re-set and only
 * notifications newer than the last one delivered follow (all overrides
 * are delivered again if some notifications were purged meanwhile).
 * Notifications older than 15 minutes are deleted, as Kafka does.
 */
#ifndef FLUXO_CONFIGWATCH_H
#define FLUXO_CONFIGWATCH_H

#include <stddef.h>

#include "zk.h"

typedef struct configwatch configwatch_t;

/*
 * entity_type is "topics" or "brokers" (or another /config type),
 * entity_name a topic, a broker id or "<default>". Called on the watch's
 * own thread, one call at a time.
 */
typedef void (*configwatch_fn)(void *arg, const char *entity_type,
			       const char *entity_name);

/*
 * Starts watching and returns after the initial pass over all existing
 * overrides has been delivered. Returns NULL with errstr set when
 * ZooKeeper cannot be read.
 */
configwatch_t *configwatch_start(zk_session_t *zs, configwatch_fn fn, void *arg,
				 char *errstr, size_t errstr_size);

/* Stops the thread; no callback runs after return. NULL is ignored. */
void configwatch_stop(configwatch_t *cw);

/* Age after which notifications are deleted (Kafka's 15 minutes). */
#define CONFIGWATCH_EXPIRY_MS (15 * 60 * 1000)

#endif
