/*
 * verifiable-producer.c - fluxo-verifiable-producer: produces increasing
 * integers and prints one JSON object per send outcome, as Kafka's
 * VerifiableProducer, so failover drills can tell exactly which records
 * were acknowledged.
 *
 * Record i has the value "i" (or "P.i" with --value-prefix P) and a null
 * key (or "i mod N" with --repeating-keys N). Since both follow from i, the
 * record's index is all its msg_opaque carries: the delivery callback
 * rebuilds key and value for the JSON line without keeping anything per
 * record.
 *
 * Lines: {"timestamp":..,"name":"startup_complete"} once the cluster
 * answered; producer_send_success (topic, partition, offset, key, value)
 * or producer_send_error (exception, message, topic, key, value) per
 * record; at the end (after --max-messages, or on SIGINT/SIGTERM, after a
 * flush) shutdown_complete and tool_data (sent, acked, target_throughput,
 * avg_throughput). Unlike Kafka's tool, which sets retries=0, the
 * producer keeps the client's defaults (retries within delivery.timeout.ms,
 * and idempotence once the client enables it by default): failover drills
 * measure what an application with default settings sees. A failure is
 * still reported as producer_send_error; --producer-property retries=0
 * gives Kafka's behaviour.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fluxo.h"
#include "common/clock.h"
#include "jsonout.h"
#include "perfstats.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_TOPIC,
	F_MAX_MESSAGES,
	F_THROUGHPUT,
	F_ACKS,
	F_PRODUCER_CONFIG,
	F_COMMAND_CONFIG,
	F_CREATE_TIME,
	F_VALUE_PREFIX,
	F_REPEATING_KEYS,
	F_PRODUCER_PROPERTY,
};

static const struct tool_flag flags[] = {
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP },
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "REQUIRED: produce messages to this topic.", F_TOPIC },
	{ "max-messages", TOOL_ARG_REQUIRED, "N",
	  "Produce this many messages; -1 (default) produces until the "
	  "process is stopped.",
	  F_MAX_MESSAGES },
	{ "throughput", TOOL_ARG_REQUIRED, "RATE",
	  "If >= 0, throttle to about RATE messages/sec (default -1).",
	  F_THROUGHPUT },
	{ "acks", TOOL_ARG_REQUIRED, "ACKS",
	  "Acks required on each produced message: 0, 1 or -1/all "
	  "(default -1).",
	  F_ACKS },
	{ "producer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Producer settings properties file.", F_PRODUCER_CONFIG },
	{ "command-config", TOOL_ARG_REQUIRED, "FILE",
	  "Same as --producer.config.", F_COMMAND_CONFIG },
	{ "message-create-time", TOOL_ARG_REQUIRED, "MS",
	  "Send messages with creation time starting at this value, in "
	  "milliseconds since the epoch.",
	  F_CREATE_TIME },
	{ "value-prefix", TOOL_ARG_REQUIRED, "P",
	  "Prefix every value with P and a dot (\"P.12\").", F_VALUE_PREFIX },
	{ "repeating-keys", TOOL_ARG_REQUIRED, "N",
	  "Give records the keys 0, 1, ... N-1, then 0 again.",
	  F_REPEATING_KEYS },
	{ "producer-property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "A producer setting, e.g. enable.idempotence=true (repeatable).",
	  F_PRODUCER_PROPERTY },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-verifiable-producer",
	.synopsis = "--bootstrap-server HOST:PORT --topic TOPIC [options]",
	.summary = "Produces increasing integers to a topic and prints JSON "
		   "metadata to stdout for every send, making visible which "
		   "messages were acknowledged and which were not.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *topic;
	int64_t max_messages;
	int64_t throughput;
	const char *acks;
	const char *config_file;
	int64_t create_time;	/* -1: now */
	const char *value_prefix;
	int64_t repeating_keys;	/* 0: null keys */
	struct tool_props props;
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;

	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_TOPIC:
		o->topic = arg;
		return 0;
	case F_MAX_MESSAGES:
		return tool_parse_i64(&spec, "--max-messages", arg, -1,
				      INT64_MAX, &o->max_messages);
	case F_THROUGHPUT:
		return tool_parse_i64(&spec, "--throughput", arg, INT64_MIN,
				      INT64_MAX, &o->throughput);
	case F_ACKS:
		if (strcmp(arg, "0") && strcmp(arg, "1") &&
		    strcmp(arg, "-1") && strcmp(arg, "all"))
			return tool_usage_error(&spec,
						"--acks expects 0, 1 or -1 "
						"(all), got '%s'",
						arg);
		o->acks = arg;
		return 0;
	case F_PRODUCER_CONFIG:
	case F_COMMAND_CONFIG:
		if (o->config_file)
			return tool_usage_error(&spec,
						"Options --producer.config and "
						"--command-config are mutually "
						"exclusive.");
		o->config_file = arg;
		return 0;
	case F_CREATE_TIME:
		return tool_parse_i64(&spec, "--message-create-time", arg, -1,
				      INT64_MAX, &o->create_time);
	case F_VALUE_PREFIX:
		o->value_prefix = arg;
		return 0;
	case F_REPEATING_KEYS:
		return tool_parse_i64(&spec, "--repeating-keys", arg, 1,
				      INT32_MAX, &o->repeating_keys);
	case F_PRODUCER_PROPERTY:
		return tool_props_add_kv(&spec, &o->props,
					 "--producer-property", arg);
	}
	return 0;
}

struct run {
	const struct opts *o;
	struct json_line jl;
	int64_t sent;
	int64_t acked;
};

static int make_value(const struct opts *o, int64_t i, char *out,
		      size_t size)
{
	if (o->value_prefix)
		return snprintf(out, size, "%s.%" PRId64, o->value_prefix, i);
	return snprintf(out, size, "%" PRId64, i);
}

/* Key of record i, or -1 for a null key. */
static int make_key(const struct opts *o, int64_t i, char *out, size_t size)
{
	if (o->repeating_keys <= 0)
		return -1;
	return snprintf(out, size, "%" PRId64, i % o->repeating_keys);
}

static void on_delivery(const fluxo_delivery_t *dr, void *opaque)
{
	struct run *r = opaque;
	int64_t i = (int64_t)(intptr_t)dr->msg_opaque;
	char key[32], value[512];
	int klen = make_key(r->o, i, key, sizeof(key));
	int vlen = make_value(r->o, i, value, sizeof(value));

	if (vlen >= (int)sizeof(value))
		vlen = (int)sizeof(value) - 1;
	jl_begin(&r->jl);
	jl_i64(&r->jl, "timestamp", clock_wall_ms());
	if (dr->err == 0) {
		r->acked++;
		jl_cstr(&r->jl, "name", "producer_send_success");
		jl_cstr(&r->jl, "topic", dr->topic ? dr->topic : r->o->topic);
		jl_i64(&r->jl, "partition", dr->partition);
		jl_i64(&r->jl, "offset", dr->offset);
	} else {
		jl_cstr(&r->jl, "name", "producer_send_error");
		jl_cstr(&r->jl, "exception", fluxo_err2name(dr->err));
		jl_cstr(&r->jl, "message",
			dr->errstr ? dr->errstr : fluxo_err2str(dr->err));
		jl_cstr(&r->jl, "topic", dr->topic ? dr->topic : r->o->topic);
	}
	jl_str(&r->jl, "key", klen >= 0 ? key : NULL,
	       klen >= 0 ? (size_t)klen : 0);
	jl_str(&r->jl, "value", value, (size_t)vlen);
	jl_end(&r->jl, stdout);
}

static void print_event(struct run *r, const char *name)
{
	jl_begin(&r->jl);
	jl_i64(&r->jl, "timestamp", clock_wall_ms());
	jl_cstr(&r->jl, "name", name);
	jl_end(&r->jl, stdout);
	fflush(stdout);
}

/* Serves delivery reports (and flushes their lines) until deadline_ns. */
static void poll_until(fluxo_producer_t *p, int64_t deadline_ns)
{
	for (;;) {
		int64_t now = clock_mono_ns(), left_ms;

		if (now >= deadline_ns || tool_stopping())
			return;
		left_ms = (deadline_ns - now + 999999) / 1000000;
		if (fluxo_producer_poll(p, left_ms > 100 ? 100 :
							   (int)left_ms) > 0)
			fflush(stdout);
	}
}

static void produce(fluxo_producer_t *p, struct run *r)
{
	const struct opts *o = r->o;
	int64_t max = o->max_messages < 0 ? INT64_MAX : o->max_messages;
	int64_t create_time = o->create_time, start = clock_wall_ms(), i;
	struct throttler th;

	throttler_init(&th, (double)o->throughput, clock_mono_ms());
	for (i = 0; i < max && !tool_stopping(); i++) {
		char key[32], value[512];
		int klen = make_key(o, i, key, sizeof(key));
		int vlen = make_value(o, i, value, sizeof(value));
		int64_t ts = 0;
		int rc;

		if (vlen >= (int)sizeof(value))
			vlen = (int)sizeof(value) - 1;
		if (create_time >= 0) {
			/* Kafka moves the create time on by the run time. */
			ts = create_time;
			create_time += clock_wall_ms() - start;
		}
		r->sent++;
		for (;;) {
			rc = fluxo_produce(p, o->topic, FLUXO_PARTITION_UA,
					   klen >= 0 ? key : NULL,
					   klen >= 0 ? (size_t)klen : 0, value,
					   (size_t)vlen, NULL, 0, ts,
					   (void *)(intptr_t)i);
			if (rc != FLUXO_ERR__QUEUE_FULL || tool_stopping())
				break;
			fluxo_producer_poll(p, 10);
		}
		if (rc != 0) {
			fluxo_delivery_t dr = {
				.topic = o->topic,
				.partition = -1,
				.offset = -1,
				.err = rc,
				.msg_opaque = (void *)(intptr_t)i,
			};

			on_delivery(&dr, r);
		}
		if (fluxo_producer_poll(p, 0) > 0 || rc != 0)
			fflush(stdout);
		if (throttler_should_throttle(&th, i, clock_mono_ms())) {
			int64_t ns = throttler_throttle(&th);

			if (ns == THROTTLE_FOREVER)
				poll_until(p, INT64_MAX);
			else if (ns > 0)
				poll_until(p, clock_mono_ns() + ns);
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props defaults = TOOL_PROPS_INIT;
	struct tool_props explicit_props = TOOL_PROPS_INIT;
	struct run r;
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_producer_t *p = NULL;
	int64_t start_ms, stop_ms;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.max_messages = -1;
	o.throughput = -1;
	o.create_time = -1;
	r.o = &o;
	r.jl = (struct json_line)JSON_LINE_INIT;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (!o.topic || !o.bootstrap) {
		rc = tool_usage_error(&spec, "%s is required",
				      !o.topic ? "--topic TOPIC" :
						 "--bootstrap-server "
						 "HOST:PORT");
		goto out;
	}
	if (tool_props_set(&defaults, "acks", o.acks ? o.acks : "-1", NULL) ||
	    tool_props_set(&explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server")) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, &defaults, "--producer.config",
			       o.config_file, &o.props, &explicit_props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	p = tool_producer_open(&spec, &conf, on_delivery, &r, o.topic, &keep,
			       &rc);
	if (!p)
		goto out;
	start_ms = clock_wall_ms();
	print_event(&r, "startup_complete");
	produce(p, &r);
	/* Flush what is in flight, also after SIGINT/SIGTERM. */
	while (fluxo_producer_outq_len(p) > 0) {
		if (fluxo_producer_flush(p, 1000) == 0)
			break;
		fflush(stdout);
	}
	fluxo_producer_poll(p, 0);
	print_event(&r, "shutdown_complete");
	stop_ms = clock_wall_ms();
	jl_begin(&r.jl);
	jl_i64(&r.jl, "timestamp", stop_ms);
	jl_cstr(&r.jl, "name", "tool_data");
	jl_i64(&r.jl, "sent", r.sent);
	jl_i64(&r.jl, "acked", r.acked);
	jl_i64(&r.jl, "target_throughput", o.throughput);
	jl_double(&r.jl, "avg_throughput",
		  stop_ms > start_ms ? 1000.0 * (double)r.acked /
					       (double)(stop_ms - start_ms) :
				       0.0);
	jl_end(&r.jl, stdout);
out:
	fflush(stdout);
	fluxo_producer_destroy(p);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	jl_free(&r.jl);
	tool_props_free(&defaults);
	tool_props_free(&explicit_props);
	tool_props_free(&o.props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
