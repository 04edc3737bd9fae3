/*
 * consumer-perf.c - fluxo-consumer-perf: Kafka's
 * kafka-consumer-perf-test.sh for fluxo, same flags, same header and
 * columns.
 *
 * Without consumer groups the tool assigns every partition of the topic
 * itself, from the beginning (Kafka's tool uses auto.offset.reset=earliest
 * for its fresh group) or from the end with --from-latest. It reads until
 * --messages records arrived or --timeout ms passed without one, counting
 * key and value bytes, then prints one line; with --show-detailed-stats it
 * prints one line per --reporting-interval instead. rebalance.time.ms is
 * always 0 (there is no group to join), so fetch.time.ms is the whole run.
 *
 * Times are wall-clock milliseconds, printed in Kafka's default format
 * "yyyy-MM-dd HH:mm:ss:SSS".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fluxo.h"
#include "common/clock.h"
#include "perfstats.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_BROKER_LIST,
	F_TOPIC,
	F_MESSAGES,
	F_FETCH_SIZE,
	F_FROM_LATEST,
	F_TIMEOUT,
	F_REPORTING_INTERVAL,
	F_DETAILED,
	F_HIDE_HEADER,
	F_CONSUMER_CONFIG,
	F_PRINT_METRICS,
	F_GROUP,
	F_THREADS,
	F_FETCH_THREADS,
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
	  "REQUIRED: the topic to consume from.", F_TOPIC },
	{ "messages", TOOL_ARG_REQUIRED, "N",
	  "REQUIRED: the number of messages to consume.", F_MESSAGES },
	{ "fetch-size", TOOL_ARG_REQUIRED, "BYTES",
	  "The amount of data to fetch per partition in a single request "
	  "(max.partition.fetch.bytes, default 1048576).",
	  F_FETCH_SIZE },
	{ "from-latest", TOOL_ARG_NONE, NULL,
	  "Start with the latest record rather than the earliest.",
	  F_FROM_LATEST },
	{ "timeout", TOOL_ARG_OPTIONAL, "MS",
	  "The maximum allowed time in milliseconds between returned records "
	  "(default 10000).",
	  F_TIMEOUT },
	{ "reporting-interval", TOOL_ARG_REQUIRED, "MS",
	  "Interval at which to print progress info (default 5000).",
	  F_REPORTING_INTERVAL },
	{ "show-detailed-stats", TOOL_ARG_NONE, NULL,
	  "Report stats for each reporting interval instead of once.",
	  F_DETAILED },
	{ "hide-header", TOOL_ARG_NONE, NULL,
	  "Skip printing the header line.", F_HIDE_HEADER },
	{ "consumer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Consumer settings properties file.", F_CONSUMER_CONFIG },
	{ "print-metrics", TOOL_ARG_NONE, NULL, "Print out the metrics.",
	  F_PRINT_METRICS },
	{ "group", TOOL_ARG_REQUIRED, "GROUP",
	  "Consumer groups are not supported by this release; giving this "
	  "flag is an error.",
	  F_GROUP },
	{ "threads", TOOL_ARG_REQUIRED, "N",
	  "Accepted for compatibility; the tool reads with one thread.",
	  F_THREADS },
	{ "num-fetch-threads", TOOL_ARG_REQUIRED, "N",
	  "Accepted for compatibility; the tool reads with one thread.",
	  F_FETCH_THREADS },
	{ "socket-buffer-size", TOOL_ARG_REQUIRED, "BYTES",
	  "The size of the TCP receive buffer (receive.buffer.bytes).",
	  F_SOCKET_BUFFER },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-consumer-perf",
	.synopsis = "--bootstrap-server HOST:PORT --topic TOPIC --messages N "
		    "[options]",
	.summary = "Measures consumer throughput.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *broker_list;
	const char *topic;
	int64_t messages;	/* -1: not given */
	bool from_latest;
	int64_t timeout_ms;
	int64_t interval_ms;
	bool detailed;
	bool hide_header;
	bool print_metrics;
	bool group;
	const char *config_file;
	struct tool_props explicit_props;
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;
	int64_t v;

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
	case F_MESSAGES:
		return tool_parse_i64(&spec, "--messages", arg, 1, INT64_MAX,
				      &o->messages);
	case F_FETCH_SIZE:
		if (tool_parse_i64(&spec, "--fetch-size", arg, 1, INT32_MAX,
				   &v) != 0)
			return TOOL_ERROR;
		if (tool_props_set(&o->explicit_props,
				   "max.partition.fetch.bytes", arg,
				   "--fetch-size") != 0)
			return tool_error(&spec, "out of memory");
		return 0;
	case F_SOCKET_BUFFER:
		if (tool_parse_i64(&spec, "--socket-buffer-size", arg, -1,
				   INT32_MAX, &v) != 0)
			return TOOL_ERROR;
		if (tool_props_set(&o->explicit_props, "receive.buffer.bytes",
				   arg, "--socket-buffer-size") != 0)
			return tool_error(&spec, "out of memory");
		return 0;
	case F_FROM_LATEST:
		o->from_latest = true;
		return 0;
	case F_TIMEOUT:
		if (!arg)
			return 0;	/* Kafka: optional value, default */
		return tool_parse_i64(&spec, "--timeout", arg, 0, INT32_MAX,
				      &o->timeout_ms);
	case F_REPORTING_INTERVAL:
		return tool_parse_i64(&spec, "--reporting-interval", arg, 1,
				      INT32_MAX, &o->interval_ms);
	case F_DETAILED:
		o->detailed = true;
		return 0;
	case F_HIDE_HEADER:
		o->hide_header = true;
		return 0;
	case F_CONSUMER_CONFIG:
		o->config_file = arg;
		return 0;
	case F_PRINT_METRICS:
		o->print_metrics = true;
		return 0;
	case F_GROUP:
		o->group = true;
		return 0;
	case F_THREADS:
	case F_FETCH_THREADS:
		return tool_parse_i64(&spec, "--threads", arg, 1, INT32_MAX,
				      &v);
	}
	return 0;
}

struct counts {
	int64_t msgs;
	int64_t bytes;
};

static void consume(fluxo_consumer_t *c, const struct opts *o,
		    struct counts *n)
{
	int64_t now = clock_wall_ms(), last_consumed = now, last_report = now;
	int64_t last_msgs = 0, last_bytes = 0;
	char line[512];

	while (n->msgs < o->messages && now - last_consumed <= o->timeout_ms &&
	       !tool_stopping()) {
		const fluxo_message_t *m = fluxo_consumer_poll(c, 100);
		int batch = 0;

		while (m) {
			if (m->err == 0) {
				n->msgs++;
				n->bytes += (int64_t)(m->key ? m->key_len : 0) +
					    (int64_t)(m->value ? m->value_len :
								 0);
			} else {
				fprintf(stderr, "%s: partition %d: %s\n",
					spec.prog, (int)m->partition,
					m->errstr ? m->errstr :
						    fluxo_err2str(m->err));
			}
			if (n->msgs >= o->messages || ++batch == 1024)
				break;
			m = fluxo_consumer_poll(c, 0);
		}
		now = clock_wall_ms();
		if (batch)
			last_consumed = now;
		if (o->detailed && now - last_report >= o->interval_ms) {
			int len = perf_consumer_interval(
				line, sizeof(line), 0, n->bytes, last_bytes,
				n->msgs, last_msgs, last_report, now, 0);

			fwrite(line, 1, (size_t)len, stdout);
			fflush(stdout);
			last_report = now;
			last_msgs = n->msgs;
			last_bytes = n->bytes;
		}
	}
	if (n->msgs < o->messages)
		printf("WARNING: Exiting before consuming the expected number "
		       "of messages: timeout (%lld ms) exceeded. You can use "
		       "the --timeout option to increase the timeout.\n",
		       (long long)o->timeout_ms);
}

static void print_metrics(const struct counts *n, const fluxo_conf_t *conf,
			  int64_t elapsed_ms)
{
	char client_id[256] = "perf-consumer-client";
	double secs = elapsed_ms > 0 ? (double)elapsed_ms / 1000.0 : 0.001;
	const struct perf_metric m[] = {
		{ "bytes-consumed-rate", (double)n->bytes / secs },
		{ "bytes-consumed-total", (double)n->bytes },
		{ "records-consumed-rate", (double)n->msgs / secs },
		{ "records-consumed-total", (double)n->msgs },
	};

	fluxo_conf_get(conf, "client.id", client_id, sizeof(client_id));
	perf_print_metrics(stdout, "consumer-fetch-manager-metrics", client_id,
			   m, sizeof(m) / sizeof(m[0]));
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props defaults = TOOL_PROPS_INIT;
	struct counts n = { 0, 0 };
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_consumer_t *c = NULL;
	char errstr[512] = "", line[512];
	int64_t start_ms, end_ms;
	int rc, p, parts, len;

	memset(&o, 0, sizeof(o));
	o.messages = -1;
	o.timeout_ms = 10000;
	o.interval_ms = 5000;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (o.group) {
		rc = tool_no_groups(&spec);
		goto out;
	}
	if (!o.bootstrap)
		o.bootstrap = o.broker_list;
	if (!o.topic || o.messages < 0 || !o.bootstrap) {
		const char *what = !o.topic	    ? "--topic TOPIC" :
				   o.messages < 0 ? "--messages N" :
						    "--bootstrap-server "
						    "HOST:PORT";

		rc = tool_usage_error(&spec, "%s is required", what);
		goto out;
	}
	if (tool_props_set(&defaults, "client.id", "perf-consumer-client",
			   NULL) ||
	    tool_props_set(&defaults, "max.partition.fetch.bytes", "1048576",
			   NULL) ||
	    tool_props_set(&o.explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server")) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, &defaults, "--consumer.config",
			       o.config_file, NULL, &o.explicit_props);
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
	if (!o.hide_header)
		printf("%s\n", perf_consumer_header(o.detailed));
	fflush(stdout);
	start_ms = clock_wall_ms();
	for (p = 0; p < parts; p++) {
		int err = fluxo_consumer_assign(c, o.topic, p,
						o.from_latest ?
							FLUXO_OFFSET_END :
							FLUXO_OFFSET_BEGINNING);

		if (err != 0) {
			rc = tool_report_client_error(&spec, keep, o.topic, err,
						      NULL,
						      TOOL_CONNECT_TIMEOUT_MS);
			goto out;
		}
	}
	consume(c, &o, &n);
	end_ms = clock_wall_ms();
	if (!o.detailed) {
		len = perf_consumer_total(line, sizeof(line), start_ms, end_ms,
					  n.bytes, n.msgs, 0);
		fwrite(line, 1, (size_t)len, stdout);
	}
	if (o.print_metrics)
		print_metrics(&n, keep, end_ms - start_ms);
out:
	fflush(stdout);
	fluxo_consumer_destroy(c);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	tool_props_free(&defaults);
	tool_props_free(&o.explicit_props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
