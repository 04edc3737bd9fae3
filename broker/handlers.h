/*
 * handlers.h - the request handlers, one per API (or group of APIs).
 *
 * Each runs on the worker thread of the request's connection, must not
 * block, and either answers at once (request_respond) or defers the
 * answer (purgatory, admin thread, control thread, controller).
 */
#ifndef FLUXO_BROKER_HANDLERS_H
#define FLUXO_BROKER_HANDLERS_H

struct request;

void handle_produce(struct request *r);
void handle_fetch(struct request *r);
void handle_list_offsets(struct request *r);
void handle_metadata(struct request *r);
void handle_offset_for_leader_epoch(struct request *r);
/* CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
 * AlterConfigs, InitProducerId: run on the admin thread. */
void handle_admin(struct request *r);
/* LeaderAndIsr, UpdateMetadata, StopReplica: run on the control thread. */
void handle_control(struct request *r);
/* Requests served by the active controller (ControlledShutdown, AlterIsr,
 * ElectLeaders, reassignments). */
void handle_to_controller(struct request *r);

/* The sentence a client reads for a topic that does not exist: it names
 * auto.create.topics.enable only when that setting is why. Any thread. */
struct broker;
void unknown_topic_message(const struct broker *b, const char *topic,
			   char *msg, size_t msg_size);

/* "Produce", "Fetch", ... for logs and metrics. */
const char *broker_api_name(int api);

#endif
