/*
 * mock_broker.h - a tiny in-process broker for libfluxo's unit tests.
 *
 * One thread serves the fluxo protocol on a loopback port: ApiVersions,
 * Metadata, Produce (batches are validated, given offsets and kept in
 * memory per partition), Fetch (long-polled up to max_wait_ms), ListOffsets
 * (earliest, latest, by timestamp), CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs and InitProducerId. Tests
 * inject faults through the fields below (under the mock's lock). It is
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
};

/* Starts the mock on 127.0.0.1 (a free port); returns 0 or -1. */
int mock_start(struct mock_broker *m);
void mock_stop(struct mock_broker *m);

/* Adds a topic with cnt partitions (locked inside). */
void mock_add_topic(struct mock_broker *m, const char *name, int cnt);

/* "127.0.0.1:port" into buf. */
void mock_bootstrap(const struct mock_broker *m, char *buf, size_t size);

/* Records in a partition (locked inside); -1 if unknown. */
int64_t mock_log_end(struct mock_broker *m, const char *topic, int part);

#endif
