/*
 * controller.h - the cluster controller (one broker at a time).
 *
 * Every broker runs a controller_t. It takes part in the election through
 * /controller; the winner becomes the active controller for the epoch it
 * wrote to /controller_epoch. The active controller is the only writer of
 * partition leadership and ISR: it elects leaders when brokers come and
 * go, initialises new topics and partitions, moves leadership away from a
 * broker that shuts down, accepts ISR changes from leaders (AlterIsr),
 * runs preferred-replica elections, reassigns partitions (moving
 * replicas between brokers, resumable by its successor) and deletes
 * topics. It pushes the
 * result to brokers with LeaderAndIsr, UpdateMetadata and StopReplica,
 * one request of each kind per broker per event.
 *
 * Every ZooKeeper write of the controller is a multi-op that first checks
 * the version of /controller_epoch, so a controller that lost the office
 * without knowing it cannot write; it resigns when such a write fails.
 * After a session expiry it resigns at once and runs for election again
 * under the new session.
 *
 * Threads: one controller thread runs every decision; ZooKeeper watches
 * and submitted requests only post events to it. Each live broker has a
 * sender thread. The functions below may be called from any thread
 * unless noted.
 */
#ifndef FLUXO_CONTROLLER_H
#define FLUXO_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxo.pb-c.h"
#include "zk.h"

typedef struct controller controller_t;

struct controller_config {
	int32_t broker_id;		     /* broker.id */
	int32_t num_partitions;		     /* num.partitions */
	int32_t default_replication_factor;  /* default.replication.factor */
	bool delete_topic_enable;	     /* delete.topic.enable */
	bool unclean_leader_election_enable; /* broker default */
	bool auto_leader_rebalance_enable;   /* auto.leader.rebalance.enable */
	int32_t leader_imbalance_check_interval_seconds; /* 300 */
	int32_t leader_imbalance_per_broker_percentage;	 /* 10 */
	int32_t controller_socket_timeout_ms; /* controller.socket.timeout.ms */
	int32_t connect_timeout_ms;	      /* per connection attempt */
	const char *inter_broker_listener_name; /* NULL: "PLAINTEXT" */
	uint32_t max_response_bytes;		/* largest broker answer read */
	/* First auto-rebalance run after becoming controller (Kafka: 5 s). */
	int32_t rebalance_initial_delay_ms;
};

/* Fills cfg with Kafka's defaults (broker_id 0). */
void controller_config_defaults(struct controller_config *cfg);

/*
 * Starts the controller thread, which runs for election at once.
 * zs is borrowed and must outlive controller_stop(); register the broker
 * (registration_register()) before, so that re-registration after an
 * expiry runs before this controller's re-election. cfg is copied.
 * Returns NULL with errstr set on failure.
 */
controller_t *controller_start(zk_session_t *zs,
			       const struct controller_config *cfg,
			       char *errstr, size_t errstr_size);

/*
 * Resigns (releasing /controller if this broker holds it, so another
 * broker takes over at once), stops every thread and frees ctl. Pending
 * requests are answered NOT_CONTROLLER. NULL is ignored.
 */
void controller_stop(controller_t *ctl);

/* True while this broker is the active controller. */
bool controller_is_active(controller_t *ctl);

/* The epoch of the active controller on this broker, or -1. */
int32_t controller_epoch(controller_t *ctl);

/* The broker id of the controller as last seen in ZooKeeper, or -1. */
int32_t controller_active_id(controller_t *ctl);

/* Leader elections made by this broker while it was the controller
 * (every leader change, new partitions included), and the unclean ones. */
int64_t controller_leader_elections(controller_t *ctl);
int64_t controller_unclean_elections(controller_t *ctl);

/*
 * Called once per submitted request with the response: resp (and all it
 * points to) is valid only during the call; pack it there. Runs on the
 * controller thread, or on the submitting thread when this broker is not
 * the controller at submission.
 */
typedef void (*controller_done_fn)(void *arg, const Fluxo__Response *resp);

/*
 * Hands a controller request received from the network to the controller:
 * head/head_len is the packed Fluxo__Request (copied). Accepted APIs:
 * CONTROLLED_SHUTDOWN, ALTER_ISR, ELECT_LEADERS,
 * ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS. An
 * AlterPartitionReassignments is answered once each partition's new
 * assignment is recorded (or refused), not when the data has moved;
 * ListPartitionReassignments shows what is still moving. If this broker
 * is not the controller, done gets NOT_CONTROLLER before this returns.
 * Returns 0, or ERR_NOMEM (done is then not called).
 */
int controller_submit(controller_t *ctl, const void *head, size_t head_len,
		      controller_done_fn done, void *arg);

#endif
