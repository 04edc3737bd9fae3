/*
 * console-producer.c - fluxo-console-producer: one record per line of
 * standard input, with the flags of Kafka 2.8's kafka-console-producer.sh.
 *
 * Lines are read with getline (any length, bytes kept as they are, a
 * trailing "\n" or "\r\n" removed) and split by the LineMessageReader rules
 * of console_fmt.h. Records are sent asynchronously; delivery failures are
 * printed to stderr as they are reported, in the words of Kafka's
 * ErrorLoggingCallback. --sync waits for each record before reading the
 * next line.
 *
 * At end of input, or on SIGINT/SIGTERM, everything queued is flushed
 * (bounded by delivery.timeout.ms as the client applies it) and the tool
 * exits 1 if any record failed, 0 otherwise. Before reading any input the
 * tool checks, within a few seconds, that the cluster answers and the topic
 * exists, so a wrong address never leaves it waiting on a terminal.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/fluxo.h"
#include "common/err.h"
#include "console_fmt.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_BROKER_LIST,
	F_TOPIC,
	F_PROPERTY,
	F_PRODUCER_PROPERTY,
	F_PRODUCER_CONFIG,
	F_ACKS,
	F_COMPRESSION,
	F_SYNC,
	F_BATCH_SIZE,
	F_LINGER,
	F_REQUEST_TIMEOUT,
	F_RETRIES,
	F_RETRY_BACKOFF,
	F_MAX_BLOCK,
	F_MAX_MEMORY,
	F_MAX_PARTITION_MEMORY,
	F_METADATA_EXPIRY,
	F_SOCKET_BUFFER,
};

static const struct tool_flag flags[] = {
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "REQUIRED unless --broker-list is given: the broker(s) to connect "
	  "to.",
	  F_BOOTSTRAP },
	{ "broker-list", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "DEPRECATED, use --bootstrap-server instead; ignored if "
	  "--bootstrap-server is given.",
	  F_BROKER_LIST },
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "REQUIRED: the topic to produce messages to.", F_TOPIC },
	{ "property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "Settings of the line reader: parse.key=true|false (default "
	  "false), key.separator=SEP (default tab), ignore.error=true|false "
	  "(with parse.key, send a line without separator as a null-key "
	  "record instead of stopping).",
	  F_PROPERTY },
	{ "producer-property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "A producer setting, e.g. acks=all (repeatable). Takes precedence "
	  "over --producer.config.",
	  F_PRODUCER_PROPERTY },
	{ "producer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Producer settings properties file.", F_PRODUCER_CONFIG },
	{ "request-required-acks", TOOL_ARG_REQUIRED, "ACKS",
	  "The acks of the producer requests: 0, 1 or all/-1 (default 1).",
	  F_ACKS },
	{ "compression-codec", TOOL_ARG_OPTIONAL, "CODEC",
	  "The compression codec: none, gzip, snappy, lz4 or zstd. Without "
	  "a value it is gzip.",
	  F_COMPRESSION },
	{ "sync", TOOL_ARG_NONE, NULL,
	  "Send each record synchronously, one at a time as lines arrive.",
	  F_SYNC },
	{ "batch-size", TOOL_ARG_REQUIRED, "BYTES",
	  "batch.size of the producer (default 16384).", F_BATCH_SIZE },
	{ "timeout", TOOL_ARG_REQUIRED, "MS",
	  "linger.ms: how long a record may wait for a batch to fill "
	  "(default 1000).",
	  F_LINGER },
	{ "request-timeout-ms", TOOL_ARG_REQUIRED, "MS",
	  "request.timeout.ms of the producer (default 1500).",
	  F_REQUEST_TIMEOUT },
	{ "message-send-max-retries", TOOL_ARG_REQUIRED, "N",
	  "retries of the producer (default 3).", F_RETRIES },
	{ "retry-backoff-ms", TOOL_ARG_REQUIRED, "MS",
	  "retry.backoff.ms of the producer (default 100).", F_RETRY_BACKOFF },
	{ "max-block-ms", TOOL_ARG_REQUIRED, "MS",
	  "max.block.ms: how long a send may block (default 60000).",
	  F_MAX_BLOCK },
	{ "max-memory-bytes", TOOL_ARG_REQUIRED, "BYTES",
	  "buffer.memory of the producer (default 33554432).", F_MAX_MEMORY },
	{ "max-partition-memory-bytes", TOOL_ARG_REQUIRED, "BYTES",
	  "batch.size of the producer (same as --batch-size).",
	  F_MAX_PARTITION_MEMORY },
	{ "metadata-expiry-ms", TOOL_ARG_REQUIRED, "MS",
	  "metadata.max.age.ms of the producer (default 300000).",
	  F_METADATA_EXPIRY },
	{ "socket-buffer-size", TOOL_ARG_REQUIRED, "BYTES",
	  "send.buffer.bytes of the producer (default 102400).",
	  F_SOCKET_BUFFER },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-console-producer",
	.synopsis = "--bootstrap-server HOST:PORT --topic TOPIC [options]",
	.summary = "Reads lines from standard input and publishes each as a "
		   "record to a fluxo topic.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *broker_list;
	const char *topic;
	const char *config_file;
	bool sync;
	struct tool_props props;	/* --producer-property */
	struct tool_props reader;	/* --property */
	struct tool_props explicit_props;
};

/* Dedicated flags and the producer setting each one sets. */
static const struct {
	int id;
	const char *flag;
	const char *key;
	int64_t min;
} numeric[] = {
	{ F_BATCH_SIZE, "--batch-size", "batch.size", 1 },
	{ F_LINGER, "--timeout", "linger.ms", 0 },
	{ F_REQUEST_TIMEOUT, "--request-timeout-ms", "request.timeout.ms", 1 },
	{ F_RETRIES, "--message-send-max-retries", "retries", 0 },
	{ F_RETRY_BACKOFF, "--retry-backoff-ms", "retry.backoff.ms", 0 },
	{ F_MAX_BLOCK, "--max-block-ms", "max.block.ms", 0 },
	{ F_MAX_MEMORY, "--max-memory-bytes", "buffer.memory", 1 },
	{ F_MAX_PARTITION_MEMORY, "--max-partition-memory-bytes",
	  "batch.size", 1 },
	{ F_METADATA_EXPIRY, "--metadata-expiry-ms", "metadata.max.age.ms",
	  0 },
	{ F_SOCKET_BUFFER, "--socket-buffer-size", "send.buffer.bytes", -1 },
};

static int set_explicit(struct opts *o, const char *key, const char *value,
			const char *flag)
{
	if (tool_props_set(&o->explicit_props, key, value, flag) != 0)
		return tool_error(&spec, "out of memory");
	return 0;
}

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;
	int64_t v;
	size_t i;

	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_BROKER_LIST:
		o->broker_list = arg;
		return tool_check_bootstrap(&spec, "--broker-list", arg);
	case F_TOPIC:
		o->topic = arg;
		return 0;
	case F_PROPERTY:
		return tool_props_add_kv(&spec, &o->reader, "--property", arg);
	case F_PRODUCER_PROPERTY:
		return tool_props_add_kv(&spec, &o->props,
					 "--producer-property", arg);
	case F_PRODUCER_CONFIG:
		o->config_file = arg;
		return 0;
	case F_ACKS:
		if (strcmp(arg, "all") && strcmp(arg, "-1") &&
		    strcmp(arg, "0") && strcmp(arg, "1"))
			return tool_usage_error(&spec,
						"--request-required-acks "
						"expects 0, 1, all or -1, got "
						"'%s'",
						arg);
		return set_explicit(o, "acks", arg, "--request-required-acks");
	case F_COMPRESSION:
		if (!arg || !*arg)
			arg = "gzip";
		if (strcmp(arg, "none") && strcmp(arg, "gzip") &&
		    strcmp(arg, "snappy") && strcmp(arg, "lz4") &&
		    strcmp(arg, "zstd"))
			return tool_usage_error(&spec,
						"--compression-codec expects "
						"none, gzip, snappy, lz4 or "
						"zstd, got '%s'",
						arg);
		return set_explicit(o, "compression.type", arg,
				    "--compression-codec");
	case F_SYNC:
		o->sync = true;
		return 0;
	}
	for (i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
		if (numeric[i].id != f->id)
			continue;
		if (tool_parse_i64(&spec, numeric[i].flag, arg,
				   numeric[i].min, INT32_MAX, &v) != 0)
			return TOOL_ERROR;
		return set_explicit(o, numeric[i].key, arg, numeric[i].flag);
	}
	return 0;
}

struct run {
	const char *topic;
	uint64_t failed;
	uint64_t delivered;
	uint64_t sync_done;	/* deliveries seen, for --sync */
};

static void describe_bytes(char *out, size_t size, const void *p, size_t n)
{
	if (!p)
		snprintf(out, size, "null");
	else
		snprintf(out, size, "%zu bytes", n);
}

/* Kafka's ErrorLoggingCallback, one line per failed record. */
static void on_delivery(const fluxo_delivery_t *dr, void *opaque)
{
	struct run *r = opaque;
	const uintptr_t sizes = (uintptr_t)dr->msg_opaque;
	char key[32], value[32];

	r->sync_done++;
	if (dr->err == 0) {
		r->delivered++;
		return;
	}
	r->failed++;
	/* msg_opaque packs key presence/length and value length. */
	describe_bytes(key, sizeof(key), (sizes & 1) ? "" : NULL,
		       (size_t)((sizes >> 1) & 0x7fffffff));
	snprintf(value, sizeof(value), "%zu bytes",
		 (size_t)(sizes >> 32 & 0xffffffff));
	fprintf(stderr,
		"ERROR Error when sending message to topic %s with key: %s, "
		"value: %s with error: %s\n",
		dr->topic ? dr->topic : r->topic, key, value,
		dr->errstr ? dr->errstr : fluxo_err2str(dr->err));
}

static uintptr_t pack_sizes(const void *key, size_t key_len, size_t val_len)
{
	uintptr_t v = key ? 1 : 0;

	if (sizeof(uintptr_t) < 8)
		return v;
	v |= (uintptr_t)(key_len & 0x7fffffff) << 1;
	v |= (uintptr_t)((uint64_t)(val_len & 0xffffffff) << 32);
	return v;
}

/* Sends one record; waits for it with --sync. Returns 0 or TOOL_ERROR. */
static int send_line(fluxo_producer_t *p, struct run *r, const struct opts *o,
		     const struct line_reader *lr, const char *line,
		     size_t len, uint64_t lineno)
{
	const char *key, *value;
	size_t key_len, value_len;
	uint64_t before = r->sync_done;
	int rc;

	if (line_reader_split(lr, line, len, &key, &key_len, &value,
			      &value_len) != 0)
		return tool_error(&spec, "No key found on line %llu: %.*s",
				  (unsigned long long)lineno, (int)len, line);
	for (;;) {
		rc = fluxo_produce(p, o->topic, FLUXO_PARTITION_UA, key,
				   key_len, value, value_len, NULL, 0, 0,
				   (void *)pack_sizes(key, key_len,
						      value_len));
		if (rc != FLUXO_ERR__QUEUE_FULL || tool_stopping())
			break;
		fluxo_producer_poll(p, 100);
	}
	if (rc != 0) {
		r->failed++;
		fprintf(stderr,
			"ERROR Error when sending message to topic %s: %s\n",
			o->topic, fluxo_err2str(rc));
		return 0;
	}
	if (o->sync) {
		while (r->sync_done == before && !tool_stopping())
			if (fluxo_producer_flush(p, 1000) == 0)
				fluxo_producer_poll(p, 0);
	} else {
		fluxo_producer_poll(p, 0);
	}
	return 0;
}

static int produce_stdin(fluxo_producer_t *p, struct run *r,
			 const struct opts *o, const struct line_reader *lr)
{
	bool prompt = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	uint64_t lineno = 0;
	int rc = 0;

	for (;;) {
		ssize_t n;

		if (prompt) {
			fputs(">", stdout);
			fflush(stdout);
		}
		errno = 0;
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (errno == EINTR && !tool_stopping()) {
				clearerr(stdin);
				continue;
			}
			break;
		}
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		rc = send_line(p, r, o, lr, line, (size_t)n, lineno);
		if (rc != 0 || tool_stopping())
			break;
	}
	free(line);
	return rc;
}

static int apply_reader_props(struct line_reader *lr, const struct opts *o)
{
	char errstr[256];
	size_t i;

	for (i = 0; i < o->reader.cnt; i++) {
		int rc = line_reader_set(lr, o->reader.v[i].key,
					 o->reader.v[i].value, errstr,
					 sizeof(errstr));

		if (rc == ERR_NOT_FOUND)
			fprintf(stderr,
				"%s: WARNING: --property %s is not used by "
				"the line reader; ignored\n",
				spec.prog, o->reader.v[i].key);
		else if (rc != 0)
			return tool_usage_error(&spec, "%s", errstr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props defaults = TOOL_PROPS_INIT;
	struct line_reader lr;
	struct run r = { 0 };
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_producer_t *p = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	if (line_reader_init(&lr) != 0)
		return 1;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (!o.topic) {
		rc = tool_usage_error(&spec, "--topic is required (e.g. "
					     "--topic my-topic)");
		goto out;
	}
	if (!o.bootstrap)
		o.bootstrap = o.broker_list;
	if (!o.bootstrap) {
		rc = tool_usage_error(&spec, "--bootstrap-server is required "
					     "(e.g. --bootstrap-server "
					     "localhost:9092)");
		goto out;
	}
	rc = apply_reader_props(&lr, &o);
	if (rc != 0)
		goto out;
	/* Kafka's console producer defaults, overridden by anything given. */
	if (tool_props_set(&defaults, "client.id", "console-producer", NULL) ||
	    tool_props_set(&defaults, "acks", "1", NULL) ||
	    tool_props_set(&defaults, "linger.ms", "1000", NULL) ||
	    tool_props_set(&defaults, "request.timeout.ms", "1500", NULL) ||
	    tool_props_set(&defaults, "retries", "3", NULL) ||
	    tool_props_set(&defaults, "retry.backoff.ms", "100", NULL) ||
	    tool_props_set(&defaults, "max.block.ms", "60000", NULL) ||
	    tool_props_set(&defaults, "batch.size", "16384", NULL) ||
	    tool_props_set(&o.explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server")) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, &defaults, "--producer.config",
			       o.config_file, &o.props, &o.explicit_props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	r.topic = o.topic;
	p = tool_producer_open(&spec, &conf, on_delivery, &r, o.topic, &keep,
			       &rc);
	if (!p)
		goto out;
	rc = produce_stdin(p, &r, &o, &lr);
	/* Deliver what is queued, also after SIGINT; every record ends
	 * within delivery.timeout.ms, and a second signal kills us. */
	while (fluxo_producer_outq_len(p) > 0)
		if (fluxo_producer_flush(p, 1000) == 0)
			break;
	fluxo_producer_poll(p, 0);
	if (r.failed && rc == 0)
		rc = TOOL_ERROR;
out:
	fflush(stdout);
	fluxo_producer_destroy(p);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	line_reader_free(&lr);
	tool_props_free(&defaults);
	tool_props_free(&o.props);
	tool_props_free(&o.reader);
	tool_props_free(&o.explicit_props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
