/*
 * conf_int.h - libfluxo's configuration: the typed struct behind
 * fluxo_conf_t and the table that names its fields.
 *
 * One table (client_conf_table in conf.c) describes every client property
 * with Kafka's name, type, default and bounds; common/conf.c does the
 * parsing. Producer, consumer and admin settings live in the same struct so
 * that one properties file can serve every tool; each handle reads the
 * fields it needs when it is created and never looks at the conf again.
 *
 * Thread: a conf belongs to one thread until it is handed to a _new()
 * function, which takes ownership.
 */
#ifndef FLUXO_CLIENT_CONF_INT_H
#define FLUXO_CLIENT_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxo.h"

/* Indexes into the choices of the "acks" row. */
enum conf_acks {
	CONF_ACKS_ALL = 0,
	CONF_ACKS_MINUS1 = 1,
	CONF_ACKS_0 = 2,
	CONF_ACKS_1 = 3
};
/* auto.offset.reset choices. */
enum conf_reset {
	CONF_RESET_LATEST = 0,
	CONF_RESET_EARLIEST = 1,
	CONF_RESET_NONE = 2
};

struct client_conf {
	/* common */
	char *bootstrap_servers;
	char *client_id;
	int32_t request_timeout_ms;
	int32_t connection_setup_timeout_ms;
	int32_t metadata_max_age_ms;
	int32_t retry_backoff_ms;
	int32_t reconnect_backoff_ms;
	int32_t reconnect_backoff_max_ms;
	int32_t socket_send_buffer_bytes;
	int32_t socket_receive_buffer_bytes;
	/* producer */
	int acks; /* enum conf_acks */
	int32_t linger_ms;
	int32_t batch_size;
	int64_t buffer_memory;
	int32_t max_request_size;
	int compression_type;	   /* compress_codec */
	int32_t compression_level; /* -1: codec default */
	int32_t retries;
	int32_t delivery_timeout_ms;
	int32_t max_in_flight;
	int64_t max_block_ms;
	bool enable_idempotence;
	bool partitioner_ignore_keys;
	/* consumer */
	int32_t fetch_min_bytes;
	int32_t fetch_max_wait_ms;
	int32_t fetch_max_bytes;
	int32_t max_partition_fetch_bytes;
	int auto_offset_reset; /* enum conf_reset */
	int isolation_level;   /* 0 read_uncommitted, 1 read_committed */
	bool check_crcs;
	bool allow_auto_create_topics;
	char *client_rack;
	/* admin */
	int32_t default_api_timeout_ms;
};

struct fluxo_conf {
	struct client_conf c;
	/* Properties the application set explicitly (for the idempotence
	 * rules, which change defaults). */
	bool acks_set;
	bool retries_set;
	bool max_in_flight_set;
	bool delivery_timeout_set;
	bool idempotence_set;
	fluxo_delivery_cb_t *dr_cb;
	void *dr_opaque;
};

/* Deep copy (dst's old strings are not freed) and release of the strings
 * of a struct client_conf. copy returns 0 or ERR_NOMEM. */
int client_conf_copy(struct client_conf *dst, const struct client_conf *src);
void client_conf_free(struct client_conf *c);

/* The acks value to put on the wire: 0, 1 or -1. */
int client_conf_acks(const struct client_conf *c);

/*
 * Checks the rules that span several properties (idempotence needs
 * acks=all, retries > 0 and max.in.flight <= 5: when enable.idempotence
 * was not set explicitly, a conflicting setting turns it off instead, as
 * in Kafka 3.x; delivery.timeout.ms >= linger.ms + request.timeout.ms;
 * bootstrap.servers parses) and applies derived defaults (acks=all when
 * idempotence stays on and acks was not set).
 * for_producer selects the producer-only rules. Returns 0 or
 * FLUXO_ERR__INVALID_ARG with a sentence in errstr.
 */
int client_conf_finalize(struct fluxo_conf *conf, bool for_producer,
			 char *errstr, size_t errstr_size);

#endif
