/*
 * conf.c - libfluxo's client properties.
 *
 * The table below is the one place a client property exists: its Kafka
 * name, type, default, bounds and a one-line description. fluxo_conf_set()
 * and properties files go through common/conf.c, which refuses unknown
 * names and bad values with a sentence naming the key.
 *
 * Defaults follow Kafka 2.8's clients except where the performance targets
 * ask otherwise; each such row says why. The targets (one broker on a
 * 2-core host, 100-byte records): producer >= 1.5 M records/s with acks=1
 * and p99 < 5 ms at 100 k records/s; consumer >= 3 M records/s.
 *
 * - linger.ms stays 0: a record is sendable as soon as it is appended, so
 *   an idle producer adds no delay (the latency target). Batches still form
 *   under load because the sender drains while max.in.flight requests are
 *   outstanding, exactly as in Kafka.
 * - batch.size is 64 KiB rather than 16 KiB: under load a bigger batch
 *   means fewer batch headers, CRC set-ups and delivery-report groups per
 *   record on both sides, and it costs nothing at low load (a batch is only
 *   as big as what accumulated). Memory stays bounded by buffer.memory.
 * - the sender puts every ready batch of a partition into a request (not
 *   only the first, as Kafka does), bounded by max.request.size, so one
 *   round trip carries all that accumulated while the previous requests
 *   were in flight.
 * - fetch.max.bytes / max.partition.fetch.bytes keep Kafka's 50 MiB / 1 MiB:
 *   1 MiB per partition and round trip is ~8,000 records of 100 bytes, and
 *   the next fetch is pipelined while the application consumes the last.
 *
 * Thread: a conf is used by one thread at a time (see fluxo.h).
 */
#include "config.h"
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/compress.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"

#define OFF(f) offsetof(struct client_conf, f)

static const char *const acks_choices[] = {"all", "-1", "0", "1", NULL};
static const char *const codec_choices[] = {"none", "gzip", "snappy",
					    "lz4",  "zstd", NULL};
static const char *const reset_choices[] = {"latest", "earliest", "none", NULL};
static const char *const isolation_choices[] = {"read_uncommitted",
						"read_committed", NULL};

static const struct conf_def client_conf_table[] = {
    /* ------------------------------------------------------- common */
    {"bootstrap.servers", CONF_LIST, NULL, 0, 0, 0, OFF(bootstrap_servers),
     "host:port pairs used to reach the cluster the first time", NULL},
    {"client.id", CONF_STRING, "fluxo", 0, 0, 0, OFF(client_id),
     "Name sent with every request, for the brokers' logs", NULL},
    {"request.timeout.ms", CONF_INT, "30000", 1, INT32_MAX, 0,
     OFF(request_timeout_ms),
     "How long to wait for a response before failing the request", NULL},
    {"socket.connection.setup.timeout.ms", CONF_INT, "10000", 1, INT32_MAX, 0,
     OFF(connection_setup_timeout_ms),
     "How long a TCP connection may take to establish", NULL},
    {"metadata.max.age.ms", CONF_INT, "300000", 0, INT32_MAX, 0,
     OFF(metadata_max_age_ms),
     "Refresh metadata at least this often even without errors", NULL},
    {"retry.backoff.ms", CONF_INT, "100", 0, INT32_MAX, 0,
     OFF(retry_backoff_ms),
     "Wait before retrying a failed request or metadata lookup", NULL},
    {"reconnect.backoff.ms", CONF_INT, "50", 0, INT32_MAX, 0,
     OFF(reconnect_backoff_ms),
     "Wait before reconnecting to a broker (doubles per failure)", NULL},
    {"reconnect.backoff.max.ms", CONF_INT, "1000", 0, INT32_MAX, 0,
     OFF(reconnect_backoff_max_ms), "Upper bound of the reconnect backoff",
     NULL},
    {"send.buffer.bytes", CONF_INT, "-1", -1, INT32_MAX, 0,
     OFF(socket_send_buffer_bytes),
     "SO_SNDBUF of broker connections (-1: the OS default)", NULL},
    {"receive.buffer.bytes", CONF_INT, "-1", -1, INT32_MAX, 0,
     OFF(socket_receive_buffer_bytes),
     "SO_RCVBUF of broker connections (-1: the OS default)", NULL},
    /* ------------------------------------------------------- producer */
    {"acks", CONF_ENUM, "1", 0, 0, 0, OFF(acks),
     "Acknowledgements the leader waits for: 0, 1 or all (-1)", acks_choices},
    {"linger.ms", CONF_INT, "0", 0, INT32_MAX, 0, OFF(linger_ms),
     "Wait this long for more records before sending a batch "
     "(0 keeps latency minimal)",
     NULL},
    {"batch.size", CONF_INT, "65536", 1, 64 * 1024 * 1024, 0, OFF(batch_size),
     "Close a partition's batch when it reaches this many bytes", NULL},
    {"buffer.memory", CONF_LONG, "33554432", 1024, INT64_MAX, 0,
     OFF(buffer_memory),
     "Bytes of records the producer may hold before fluxo_produce() "
     "blocks",
     NULL},
    {"max.request.size", CONF_INT, "1048576", 1024, INT32_MAX, 0,
     OFF(max_request_size),
     "Largest produce request, and so the largest record", NULL},
    {"compression.type", CONF_ENUM, "none", 0, 0, 0, OFF(compression_type),
     "Codec applied to each batch", codec_choices},
    {"compression.level", CONF_INT, "-1", -1, 22, 0, OFF(compression_level),
     "Codec level (-1: the codec's default)", NULL},
    {"retries", CONF_INT, "2147483647", 0, INT32_MAX, 0, OFF(retries),
     "How many times a batch is resent after a retriable error", NULL},
    {"delivery.timeout.ms", CONF_INT, "120000", 1, INT32_MAX, 0,
     OFF(delivery_timeout_ms),
     "Upper bound from fluxo_produce() to success or failure", NULL},
    {"max.in.flight.requests.per.connection", CONF_INT, "5", 1, 1000, 0,
     OFF(max_in_flight), "Produce requests a connection may have unanswered",
     NULL},
    {"max.block.ms", CONF_LONG, "60000", 0, INT32_MAX, 0, OFF(max_block_ms),
     "How long fluxo_produce() may block for metadata or buffer space", NULL},
    /* On by default as in Kafka 3.x: a retry never duplicates a record.
     * An explicit acks other than all, retries=0 or max.in.flight > 5
     * turns it off unless it was asked for explicitly (then they are
     * refused). */
    {"enable.idempotence", CONF_BOOL, "true", 0, 1, 0, OFF(enable_idempotence),
     "Producer id and sequence numbers: no duplicates, order kept "
     "across retries (needs acks=all, retries > 0, max.in.flight <= 5)",
     NULL},
    {"partitioner.ignore.keys", CONF_BOOL, "false", 0, 1, 0,
     OFF(partitioner_ignore_keys),
     "Use the sticky partitioner even for keyed records", NULL},
    /* ------------------------------------------------------- consumer */
    {"fetch.min.bytes", CONF_INT, "1", 0, INT32_MAX, 0, OFF(fetch_min_bytes),
     "The broker answers a fetch once it has this many bytes", NULL},
    {"fetch.max.wait.ms", CONF_INT, "500", 0, INT32_MAX, 0,
     OFF(fetch_max_wait_ms),
     "Longest a broker holds a fetch waiting for fetch.min.bytes", NULL},
    {"fetch.max.bytes", CONF_INT, "52428800", 1024, INT32_MAX, 0,
     OFF(fetch_max_bytes), "Most bytes one fetch response may carry", NULL},
    {"max.partition.fetch.bytes", CONF_INT, "1048576", 1, INT32_MAX, 0,
     OFF(max_partition_fetch_bytes),
     "Most bytes per partition in one fetch response", NULL},
    {"auto.offset.reset", CONF_ENUM, "latest", 0, 0, 0, OFF(auto_offset_reset),
     "Where to go when the position is out of range", reset_choices},
    {"isolation.level", CONF_ENUM, "read_uncommitted", 0, 0, 0,
     OFF(isolation_level), "Which records a fetch may return",
     isolation_choices},
    {"check.crcs", CONF_BOOL, "true", 0, 1, 0, OFF(check_crcs),
     "Verify the CRC of every fetched batch", NULL},
    {"allow.auto.create.topics", CONF_BOOL, "true", 0, 1, 0,
     OFF(allow_auto_create_topics),
     "Let metadata lookups create a missing topic (when the brokers "
     "allow it with auto.create.topics.enable)",
     NULL},
    {"client.rack", CONF_STRING, NULL, 0, 0, 0, OFF(client_rack),
     "Rack of this client (informational)", NULL},
    /* ------------------------------------------------------- admin */
    {"default.api.timeout.ms", CONF_INT, "60000", 1, INT32_MAX, 0,
     OFF(default_api_timeout_ms), "Timeout of admin calls given a timeout <= 0",
     NULL},
    CONF_END};

int client_conf_copy(struct client_conf *dst, const struct client_conf *src)
{
	*dst = *src;
	/* conf_copy fills the strings one by one; on failure the ones not
	 * reached must not alias src's. */
	dst->bootstrap_servers = NULL;
	dst->client_id = NULL;
	dst->client_rack = NULL;
	return conf_copy(client_conf_table, dst, src);
}

void client_conf_free(struct client_conf *c)
{
	conf_free(client_conf_table, c);
}

int client_conf_acks(const struct client_conf *c)
{
	switch (c->acks) {
	case CONF_ACKS_0:
		return 0;
	case CONF_ACKS_1:
		return 1;
	default:
		return -1;
	}
}

fluxo_conf_t *fluxo_conf_new(void)
{
	fluxo_conf_t *conf = calloc(1, sizeof(*conf));

	if (!conf)
		return NULL;
	if (conf_defaults(client_conf_table, &conf->c) < 0) {
		conf_free(client_conf_table, &conf->c);
		free(conf);
		return NULL;
	}
	return conf;
}

fluxo_conf_t *fluxo_conf_dup(const fluxo_conf_t *conf)
{
	fluxo_conf_t *dup;

	if (!conf)
		return NULL;
	dup = calloc(1, sizeof(*dup));
	if (!dup)
		return NULL;
	*dup = *conf;
	if (conf_copy(client_conf_table, &dup->c, &conf->c) < 0) {
		conf_free(client_conf_table, &dup->c);
		free(dup);
		return NULL;
	}
	return dup;
}

void fluxo_conf_destroy(fluxo_conf_t *conf)
{
	if (!conf)
		return;
	conf_free(client_conf_table, &conf->c);
	free(conf);
}

static void print_names(char *errstr, size_t errstr_size)
{
	size_t n = strlen(errstr);

	for (const struct conf_def *d = client_conf_table;
	     d->name && n < errstr_size; d++) {
		int w = snprintf(errstr + n, errstr_size - n, "%s%s",
				 d == client_conf_table ? "" : ", ", d->name);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int fluxo_conf_set(fluxo_conf_t *conf, const char *name, const char *value,
		   char *errstr, size_t errstr_size)
{
	char scratch[1];
	const struct conf_def *def;
	int rc;

	if (!errstr || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (!conf || !name || !value) {
		snprintf(errstr, errstr_size,
			 "fluxo_conf_set: conf, name and value are required");
		return FLUXO_ERR__INVALID_ARG;
	}
	def = conf_find(client_conf_table, name);
	if (!def) {
		snprintf(
		    errstr, errstr_size,
		    "unknown client property \"%s\"; known properties: ", name);
		print_names(errstr, errstr_size);
		return FLUXO_ERR__INVALID_ARG;
	}
	rc = conf_set_def(def, &conf->c, value, errstr, errstr_size);
	if (rc < 0)
		return FLUXO_ERR__INVALID_ARG;
	if (strcmp(name, "acks") == 0)
		conf->acks_set = true;
	else if (strcmp(name, "retries") == 0)
		conf->retries_set = true;
	else if (strcmp(name, "max.in.flight.requests.per.connection") == 0)
		conf->max_in_flight_set = true;
	else if (strcmp(name, "delivery.timeout.ms") == 0)
		conf->delivery_timeout_set = true;
	else if (strcmp(name, "enable.idempotence") == 0)
		conf->idempotence_set = true;
	return 0;
}

int fluxo_conf_get(const fluxo_conf_t *conf, const char *name, char *out,
		   size_t out_size)
{
	const struct conf_def *def;

	if (!conf || !name || !out || out_size == 0)
		return FLUXO_ERR__INVALID_ARG;
	def = conf_find(client_conf_table, name);
	if (!def)
		return FLUXO_ERR__INVALID_ARG;
	conf_get(def, &conf->c, out, out_size);
	return 0;
}

struct load_ctx {
	fluxo_conf_t *conf;
	const char *path;
};

static int load_cb(void *arg, const char *key, const char *value, int line,
		   char *errstr, size_t errstr_size)
{
	struct load_ctx *ctx = arg;
	char why[1024];

	if (fluxo_conf_set(ctx->conf, key, value, why, sizeof(why)) < 0) {
		snprintf(errstr, errstr_size, "%s:%d: %s", ctx->path, line,
			 why);
		return FLUXO_ERR__INVALID_ARG;
	}
	return 0;
}

int fluxo_conf_load_file(fluxo_conf_t *conf, const char *path, char *errstr,
			 size_t errstr_size)
{
	struct load_ctx ctx = {conf, path};
	char scratch[1];
	int rc;

	if (!errstr || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (!conf || !path) {
		snprintf(errstr, errstr_size,
			 "fluxo_conf_load_file: conf and path are required");
		return FLUXO_ERR__INVALID_ARG;
	}
	rc = conf_read_properties(path, load_cb, &ctx, errstr, errstr_size);
	return rc < 0 ? FLUXO_ERR__INVALID_ARG : 0;
}

void fluxo_conf_set_delivery_cb(fluxo_conf_t *conf, fluxo_delivery_cb_t *cb,
				void *opaque)
{
	if (!conf)
		return;
	conf->dr_cb = cb;
	conf->dr_opaque = opaque;
}

/* Every comma-separated entry of bootstrap.servers must be host:port. */
static int check_bootstrap(const char *list, char *errstr, size_t errstr_size)
{
	char host[256], item[512];
	const char *p = list, *end;
	int port, n = 0;

	if (!list) {
		snprintf(errstr, errstr_size,
			 "bootstrap.servers is not set; give host:port of at "
			 "least one broker");
		return FLUXO_ERR__INVALID_ARG;
	}
	while (*p) {
		size_t len;

		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0) {
			if (len >= sizeof(item) ||
			    (memcpy(item, p, len), item[len] = '\0',
			     net_parse_hostport(item, host, sizeof(host),
						&port) < 0) ||
			    port == 0 || host[0] == '\0') {
				snprintf(errstr, errstr_size,
					 "bootstrap.servers: \"%.*s\" is not "
					 "host:port",
					 (int)(len > 200 ? 200 : len), p);
				return FLUXO_ERR__INVALID_ARG;
			}
			n++;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (n == 0) {
		snprintf(errstr, errstr_size,
			 "bootstrap.servers is empty; give host:port of at "
			 "least one broker");
		return FLUXO_ERR__INVALID_ARG;
	}
	return 0;
}

int client_conf_finalize(struct fluxo_conf *conf, bool for_producer,
			 char *errstr, size_t errstr_size)
{
	struct client_conf *c = &conf->c;
	int64_t min_delivery;
	int rc;

	rc = check_bootstrap(c->bootstrap_servers, errstr, errstr_size);
	if (rc < 0)
		return rc;
	if (!for_producer)
		return 0;
	if (c->enable_idempotence) {
		char why[128] = "";

		/* Kafka 3.x: a conflicting setting disables the default
		 * idempotence, and is an error only when idempotence was
		 * asked for. acks=all is derived only while it stays on. */
		if (conf->acks_set && client_conf_acks(c) != -1)
			snprintf(why, sizeof(why),
				 "needs acks=all; remove acks or set it to "
				 "all");
		else if (c->retries == 0)
			snprintf(why, sizeof(why), "needs retries > 0");
		else if (c->max_in_flight > 5)
			snprintf(why, sizeof(why),
				 "needs max.in.flight.requests.per.connection "
				 "<= 5 (it is %d)",
				 c->max_in_flight);
		if (why[0] && conf->idempotence_set) {
			snprintf(errstr, errstr_size,
				 "enable.idempotence=true %s", why);
			return FLUXO_ERR__INVALID_ARG;
		}
		if (why[0]) {
			log_debug("producer",
				  "idempotence is off: it %s and "
				  "enable.idempotence was not set",
				  why);
			c->enable_idempotence = false;
		} else if (!conf->acks_set) {
			c->acks = CONF_ACKS_ALL;
		}
	}
	/* As Kafka: an explicit delivery.timeout.ms shorter than one
	 * linger plus one request is refused; the default is raised. */
	min_delivery = (int64_t)c->linger_ms + c->request_timeout_ms;
	if (c->delivery_timeout_ms < min_delivery) {
		if (conf->delivery_timeout_set) {
			snprintf(errstr, errstr_size,
				 "delivery.timeout.ms (%d) must be at least "
				 "linger.ms + request.timeout.ms (%lld)",
				 c->delivery_timeout_ms,
				 (long long)min_delivery);
			return FLUXO_ERR__INVALID_ARG;
		}
		c->delivery_timeout_ms = min_delivery > INT32_MAX
					     ? INT32_MAX
					     : (int32_t)min_delivery;
	}
	if (c->batch_size > c->max_request_size)
		c->batch_size = c->max_request_size;
	return 0;
}
