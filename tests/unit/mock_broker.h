/*
 * mock_broker.h - a tiny in-process broker for libfluxo's unit tests.
 *
 * One thread serves the fluxo protocol on a loopback port: ApiVersions,
 * Metadata, Produce (batches are validated, given offsets and kept in
 * memory per partition), Fetch (long-polled up to max_wait_ms), ListOffsets
 * (earliest, latest, by timestamp), CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs, InitProducerId and the
 * controller's ElectLeaders and Alter/ListPartitionReassignments. Tests
 * inject faults through the fields below (under the mock's lock). Several
 * mocks can pose as one cluster: each answers as node_id and lists its
 * peers in Metadata; only the one whose node_id is controller_id answers
 * the controller's APIs (the others say NOT_CONTROLLER). It is
 * not the real broker: it exists so that the client's paths (batching,
 * retries, timeouts, decoding) can be exercised before and besides the
 * integration tests.
 */
#ifndef FLUXO_TESTS_MOCK_BROKER_H
#define FLUXO_TESTS_MOCK_BROKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

#define MOCK_MAX_TOPICS 16
#define MOCK_MAX_PARTS	16
#define MOCK_MAX_PEERS	4
#define MOCK_MAX_MOVES	16

struct mock_part {
	struct buf log; /* batches, offsets assigned */
	int64_t next_offset;
	int64_t start_offset;
	int batch_cnt;
	int64_t pid;	  /* idempotence: last producer id seen */
	int32_t last_seq; /* and its last sequence */
};

struct mock_topic {
	char name[64];
	int part_cnt;
	struct mock_part parts[MOCK_MAX_PARTS];
	char config_key[64];
	char config_value[64];
};

/*
 * A pending reassignment, as the mock's controller keeps it. Every mock
 * partition's replica set is {1}: the full set while moving is {1} plus
 * the target, adding = target - {1}, removing = {1} - target.
 */
struct mock_move {
	char topic[64];
	int32_t partition;
	int32_t target[8];
	int n_target;
};

struct mock_broker {
	int port;
	int listen_fd;
	pthread_t thread;
	bool running;
	int wake[2];
	pthread_mutex_t lock;
	struct mock_topic topics[MOCK_MAX_TOPICS];
	int topic_cnt;
	/* Fault injection (set under lock). */
	int produce_errors;	  /* next N produce partitions fail ... */
	int produce_error_code;	  /* ... with this code */
	int silent;		  /* answer nothing (request timeout tests) */
	bool close_after_produce; /* drop the connection once */
	int gap_after_close;	  /* ... then another writer appends this
				   * many records to each partition */
	int produce_delay_ms;
	/* Statistics. */
	int produce_requests;
	int produce_batches;
	int fetch_requests;
	int metadata_requests;
	int64_t next_pid;
	int out_of_order; /* OUT_OF_ORDER_SEQUENCE_NUMBER answers */
	int duplicates;	  /* batches answered as already appended */
	int last_acks;
	/* Cluster identity (mock_start sets node 1, controller 1). */
	int32_t node_id;
	int32_t controller_id; /* -1: no controller */
	int32_t peer_ids[MOCK_MAX_PEERS];
	int peer_ports[MOCK_MAX_PEERS];
	int peer_cnt;
	/* Controller APIs. ElectLeaders: a known partition with an even id
	 * is elected (NONE), an odd one needs none (ELECTION_NOT_NEEDED);
	 * an unknown one is UNKNOWN_TOPIC_OR_PARTITION; an empty list
	 * elects nothing. Unclean elections answer
	 * ELIGIBLE_LEADERS_NOT_AVAILABLE for every partition. */
	int not_controller;	   /* next N controller requests refused */
	bool reassign_unsupported; /* reassignment APIs: INVALID_REQUEST */
	int elect_requests;
	int last_election_type;
	int last_elect_partitions; /* partitions asked (0: all) */
	int alter_reassign_requests;
	int list_reassign_requests;
	int describe_configs_requests;
	struct mock_move moves[MOCK_MAX_MOVES];
	int move_cnt;
	char node_str[16];
};

/* Starts the mock on 127.0.0.1 (a free port); returns 0 or -1. */
int mock_start(struct mock_broker *m);
void mock_stop(struct mock_broker *m);

/* Adds a topic with cnt partitions (locked inside). */
void mock_add_topic(struct mock_broker *m, const char *name, int cnt);

/* Makes m list a peer broker (id at 127.0.0.1:port) in its Metadata. */
void mock_add_peer(struct mock_broker *m, int32_t id, int port);

/* "127.0.0.1:port" into buf. */
void mock_bootstrap(const struct mock_broker *m, char *buf, size_t size);

/* Records in a partition (locked inside); -1 if unknown. */
int64_t mock_log_end(struct mock_broker *m, const char *topic, int part);

#endif
