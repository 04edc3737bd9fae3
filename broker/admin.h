/*
 * admin.h - topic and configuration administration on the admin thread,
 * and the watch that applies configuration changes.
 *
 * CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
 * DescribeConfigs and InitProducerId write or read ZooKeeper, which
 * blocks; they run one at a time on the broker's admin thread and answer
 * through a deferred response. Creation and deletion then wait (bounded
 * by the request's timeout) until the metadata cache shows the result, so
 * a client that gets "created" can use the topic at once.
 */
#ifndef FLUXO_BROKER_ADMIN_H
#define FLUXO_BROKER_ADMIN_H

#include <stddef.h>

#include "common/topic_conf.h"

struct broker;

/* Starts the creation of topic name with the broker defaults, unless one
 * is already on its way (auto.create.topics.enable). Any thread. */
void admin_auto_create_topic(struct broker *b, const char *name);

/* Starts watching /config/changes; applies topic overrides to hosted
 * partitions. Returns 0 or an error with errstr. */
int admin_start_config_watch(struct broker *b, char *errstr,
			     size_t errstr_size);

void admin_stop_config_watch(struct broker *b);

/* Re-reads and applies the dynamic settings of /config/brokers/<name>
 * (this broker's id or <default>). Admin thread. */
void admin_apply_broker_config(struct broker *b, const char *name);

/* The effective configuration of topic (defaults + overrides from
 * ZooKeeper). Blocking; not for network workers. Returns 0 or an error. */
int admin_topic_conf(struct broker *b, const char *topic,
		     struct topic_conf *tc);

#endif
