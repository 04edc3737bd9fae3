/*
 * verifiable-consumer.c - fluxo-verifiable-consumer: reads a topic and
 * prints one JSON object per record, so failover drills can check every
 * acknowledged record against what a consumer sees.
 *
 * Kafka's VerifiableConsumer prints "records_consumed" summaries per poll;
 * the drills want each record, so this tool prints
 *   {"name":"record_data","topic":..,"partition":..,"offset":..,
 *    "key":..,"value":..}
 * per record (keys and values as JSON strings, escaped by jsonout.h; null
 * stays null), between {"timestamp":..,"name":"startup_complete"} and
 * {"timestamp":..,"name":"shutdown_complete"}.
 *
 * Partitions are assigned directly (no groups in this release): --partition
 * or all of them, from the beginning with --from-beginning, else from the
 * end. It stops after --max-messages records, after --timeout-ms without a
 * record, or on SIGINT/SIGTERM.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/fluxo.h"
#include "common/clock.h"
#include "jsonout.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_TOPIC,
	F_FROM_BEGINNING,
	F_MAX_MESSAGES,
	F_PARTITION,
	F_TIMEOUT_MS,
	F_CONSUMER_CONFIG,
	F_CONSUMER_PROPERTY,
	F_GROUP,
	F_GROUP_ID,
};

static const struct tool_flag flags[] = {
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP },
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "REQUIRED: the topic to consume from.", F_TOPIC },
	{ "from-beginning", TOOL_ARG_NONE, NULL,
	  "Start with the earliest record rather than the end of the log.",
	  F_FROM_BEGINNING },
	{ "max-messages", TOOL_ARG_REQUIRED, "N",
	  "Stop after this many records (default -1: no limit).",
	  F_MAX_MESSAGES },
	{ "partition", TOOL_ARG_REQUIRED, "N",
	  "Consume only this partition (default: every partition).",
	  F_PARTITION },
	{ "timeout-ms", TOOL_ARG_REQUIRED, "MS",
	  "Stop when no record arrived for this long.", F_TIMEOUT_MS },
	{ "consumer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Consumer settings properties file.", F_CONSUMER_CONFIG },
	{ "consumer-property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "A consumer setting (repeatable).", F_CONSUMER_PROPERTY },
	{ "group", TOOL_ARG_REQUIRED, "GROUP",
	  "Consumer groups are not supported by this release; giving this "
	  "flag is an error.",
	  F_GROUP },
	{ "group-id", TOOL_ARG_REQUIRED, "GROUP",
	  "Same as --group (Kafka's name for it here).", F_GROUP_ID },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-verifiable-consumer",
	.synopsis = "--bootstrap-server HOST:PORT --topic TOPIC [options]",
	.summary = "Consumes a topic and prints every record as a JSON object "
		   "on its own line.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *topic;
	bool from_beginning;
	int64_t max_messages;
	int partition;
	int64_t timeout_ms;
	bool group;
	const char *config_file;
	struct tool_props props;
	struct tool_props explicit_props;
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
	case F_FROM_BEGINNING:
		o->from_beginning = true;
		return 0;
	case F_MAX_MESSAGES:
		return tool_parse_i64(&spec, "--max-messages", arg, -1,
				      INT64_MAX, &o->max_messages);
	case F_PARTITION:
		return tool_parse_int(&spec, "--partition", arg, 0, INT32_MAX,
				      &o->partition);
	case F_TIMEOUT_MS:
		return tool_parse_i64(&spec, "--timeout-ms", arg, 0, INT32_MAX,
				      &o->timeout_ms);
	case F_CONSUMER_CONFIG:
		o->config_file = arg;
		return 0;
	case F_CONSUMER_PROPERTY:
		return tool_props_add_kv(&spec, &o->props,
					 "--consumer-property", arg);
	case F_GROUP:
	case F_GROUP_ID:
		o->group = true;
		return 0;
	}
	return 0;
}

static void print_event(struct json_line *jl, const char *name)
{
	jl_begin(jl);
	jl_i64(jl, "timestamp", clock_wall_ms());
	jl_cstr(jl, "name", name);
	jl_end(jl, stdout);
	fflush(stdout);
}

static int consume(fluxo_consumer_t *c, const struct opts *o,
		   struct json_line *jl)
{
	int64_t count = 0, last = clock_mono_ms();

	while (!tool_stopping() &&
	       (o->max_messages < 0 || count < o->max_messages)) {
		const fluxo_message_t *m;
		int wait = 200;

		if (o->timeout_ms >= 0) {
			int64_t left = o->timeout_ms - (clock_mono_ms() - last);

			if (left < 0)
				break;
			if (left < wait)
				wait = (int)left;
		}
		m = fluxo_consumer_poll(c, 0);
		if (!m) {
			if (fflush(stdout) != 0)
				return tool_error(&spec, "cannot write to "
							 "standard output");
			m = fluxo_consumer_poll(c, wait);
			if (!m)
				continue;
		}
		last = clock_mono_ms();
		if (m->err) {
			fprintf(stderr, "%s: partition %d: %s\n", spec.prog,
				(int)m->partition,
				m->errstr ? m->errstr : fluxo_err2str(m->err));
			continue;
		}
		jl_begin(jl);
		jl_cstr(jl, "name", "record_data");
		jl_cstr(jl, "topic", m->topic ? m->topic : o->topic);
		jl_i64(jl, "partition", m->partition);
		jl_i64(jl, "offset", m->offset);
		jl_str(jl, "key", m->key, m->key_len);
		jl_str(jl, "value", m->value, m->value_len);
		if (jl_end(jl, stdout) != 0)
			return tool_error(&spec, "cannot write to standard "
						 "output");
		count++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct json_line jl = JSON_LINE_INIT;
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_consumer_t *c = NULL;
	static char outbuf[1 << 16];
	char errstr[512] = "";
	bool started = false;
	int rc, p, parts;

	memset(&o, 0, sizeof(o));
	o.max_messages = -1;
	o.partition = -1;
	o.timeout_ms = -1;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (o.group || tool_props_get(&o.props, "group.id")) {
		rc = tool_no_groups(&spec);
		goto out;
	}
	if (!o.topic || !o.bootstrap) {
		rc = tool_usage_error(&spec, "%s is required",
				      !o.topic ? "--topic TOPIC" :
						 "--bootstrap-server "
						 "HOST:PORT");
		goto out;
	}
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (tool_props_set(&o.explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server")) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, NULL, "--consumer.config",
			       o.config_file, &o.props, &o.explicit_props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	parts = tool_topic_partitions(&spec, conf, o.topic,
				      TOOL_CONNECT_TIMEOUT_MS);
	if (parts < 0) {
		rc = TOOL_ERROR;
		goto out;
	}
	if (o.partition >= parts) {
		rc = tool_error(&spec, "topic '%s' has no partition %d",
				o.topic, o.partition);
		goto out;
	}
	keep = fluxo_conf_dup(conf);
	if (!keep) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	c = fluxo_consumer_new(conf, errstr, sizeof(errstr));
	if (!c) {
		rc = tool_usage_error(&spec, "%s", errstr);
		goto out;
	}
	conf = NULL;
	for (p = 0; p < parts; p++) {
		int err;

		if (o.partition >= 0 && p != o.partition)
			continue;
		err = fluxo_consumer_assign(c, o.topic, p,
					    o.from_beginning ?
						    FLUXO_OFFSET_BEGINNING :
						    FLUXO_OFFSET_END);
		if (err != 0) {
			rc = tool_report_client_error(&spec, keep, o.topic, err,
						      NULL,
						      TOOL_CONNECT_TIMEOUT_MS);
			goto out;
		}
	}
	started = true;
	print_event(&jl, "startup_complete");
	rc = consume(c, &o, &jl);
out:
	if (started)
		print_event(&jl, "shutdown_complete");
	fflush(stdout);
	fluxo_consumer_destroy(c);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	jl_free(&jl);
	tool_props_free(&o.props);
	tool_props_free(&o.explicit_props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
