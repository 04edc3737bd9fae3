/*
 * broker.h - the broker process: its parts and how they meet.
 *
 * struct broker is the one object of a running fluxo-broker. It owns the
 * configuration, the log manager (storage), the ZooKeeper session, the
 * registration, the controller (active on one broker of the cluster), the
 * metadata cache, the replica manager and the network server. Handlers
 * reach everything through it. Start-up and shutdown order live in
 * broker.c; the request handlers in handler_*.c.
 */
#ifndef FLUXO_BROKER_BROKER_H
#define FLUXO_BROKER_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker_conf.h"
#include "fluxo.pb-c.h"

struct broker;
struct worker;
struct server;
struct request;

/* The broker's configuration (read-only after start). */
const struct broker_conf *broker_conf(const struct broker *b);
int32_t broker_id(const struct broker *b);

/* Hooks the network layer calls on each worker thread. */
void broker_worker_started(struct broker *b, struct worker *w);
void broker_worker_stopping(struct broker *b, struct worker *w);

/* Request metrics: one observation per answered request. Any thread. */
void broker_observe_request(struct broker *b, int api, int64_t latency_us);

/* Dispatches one decoded request (the server's handler). */
void broker_handle_request(struct request *r);

#endif
