/*
 * taskq.h - a thread that runs queued tasks one at a time, in order.
 *
 * The broker keeps work that may block off its network workers: the admin
 * thread (ZooKeeper writes for topic administration, waiting for the
 * metadata to show the result) and the control thread (LeaderAndIsr,
 * UpdateMetadata and StopReplica from the controller, applied in the order
 * they arrive).
 */
#ifndef FLUXO_BROKER_TASKQ_H
#define FLUXO_BROKER_TASKQ_H

#include <stdbool.h>

struct taskq;

/* Starts the thread; name shows in top/ps (15 chars). NULL on failure. */
struct taskq *taskq_start(const char *name);

/* Queues fn(arg). Any thread. Returns 0 or ERR_NOMEM / ERR_CLOSED after
 * taskq_stop began (fn is then not called). */
int taskq_post(struct taskq *q, void (*fn)(void *arg), void *arg);

/* Runs every task already queued, then stops and joins the thread. */
void taskq_stop(struct taskq *q);


#endif
