/*
 * console-consumer.c - fluxo-console-consumer: prints the records of a
 * topic, with the flags and output of Kafka 2.8's
 * kafka-console-consumer.sh.
 *
 * There are no consumer groups in this release, so the tool always
 * assigns partitions itself: --partition N alone, or every partition of
 * the topic. It starts at the end (live records only), at the beginning
 * with --from-beginning, or at --offset (which needs --partition, as in
 * Kafka). Each record is formatted by console_fmt.h's DefaultMessageFormatter
 * into a buffer and written with one fwrite; stdout is flushed whenever the
 * consumer has nothing more to hand out, so a live tail shows records as
 * they arrive while a bulk read is written in large blocks.
 *
 * It stops after --max-messages records, after --timeout-ms without a
 * record, on SIGINT/SIGTERM, or when stdout goes away, and always ends with
 * "Processed a total of N messages" on stderr, as Kafka.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/fluxo.h"
#include "common/clock.h"
#include "common/err.h"
#include "console_fmt.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_TOPIC,
	F_PARTITION,
	F_OFFSET,
	F_FROM_BEGINNING,
	F_MAX_MESSAGES,
	F_TIMEOUT_MS,
	F_PROPERTY,
	F_CONSUMER_PROPERTY,
	F_CONSUMER_CONFIG,
	F_GROUP,
	F_ISOLATION,
	F_SKIP_ON_ERROR,
};

static const struct tool_flag flags[] = {
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP },
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "REQUIRED: the topic to consume from.", F_TOPIC },
	{ "partition", TOOL_ARG_REQUIRED, "N",
	  "The partition to consume from. Consumption starts from the end of "
	  "the partition unless --offset or --from-beginning is given. "
	  "Without it every partition of the topic is consumed.",
	  F_PARTITION },
	{ "offset", TOOL_ARG_REQUIRED, "OFFSET",
	  "The offset to start from (needs --partition): a non-negative "
	  "number, 'earliest' (the beginning) or 'latest' (the end).",
	  F_OFFSET },
	{ "from-beginning", TOOL_ARG_NONE, NULL,
	  "Start with the earliest record present in the log rather than "
	  "the latest.",
	  F_FROM_BEGINNING },
	{ "max-messages", TOOL_ARG_REQUIRED, "N",
	  "Exit after consuming this many messages. If not set, consumption "
	  "is continual.",
	  F_MAX_MESSAGES },
	{ "timeout-ms", TOOL_ARG_REQUIRED, "MS",
	  "Exit if no message is available for consumption for this long.",
	  F_TIMEOUT_MS },
	{ "property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "Output format: print.timestamp, print.key, print.offset, "
	  "print.partition, print.headers, print.value (true|false); "
	  "key.separator (default tab), line.separator (default newline), "
	  "headers.separator (default ','), null.literal (default 'null').",
	  F_PROPERTY },
	{ "consumer-property", TOOL_ARG_REQUIRED, "KEY=VALUE",
	  "A consumer setting, e.g. fetch.max.wait.ms=100 (repeatable). "
	  "Takes precedence over --consumer.config.",
	  F_CONSUMER_PROPERTY },
	{ "consumer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Consumer settings properties file.", F_CONSUMER_CONFIG },
	{ "group", TOOL_ARG_REQUIRED, "GROUP",
	  "Consumer groups are not supported by this release; giving this "
	  "flag is an error.",
	  F_GROUP },
	{ "isolation-level", TOOL_ARG_REQUIRED, "LEVEL",
	  "read_uncommitted (default) or read_committed.", F_ISOLATION },
	{ "skip-message-on-error", TOOL_ARG_NONE, NULL,
	  "Skip a record that cannot be read instead of stopping.",
	  F_SKIP_ON_ERROR },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-console-consumer",
	.synopsis = "--bootstrap-server HOST:PORT --topic TOPIC [options]",
	.summary = "Reads records from a fluxo topic and writes them to "
		   "standard output.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *topic;
	int partition;		/* -1: every partition */
	bool has_offset;
	int64_t offset;		/* >= 0 or FLUXO_OFFSET_* */
	bool from_beginning;
	int64_t max_messages;	/* -1: no limit */
	int64_t timeout_ms;	/* -1: none */
	bool skip_on_error;
	const char *config_file;
	struct tool_props props;	/* --consumer-property */
	struct tool_props format;	/* --property */
	struct tool_props explicit_props;
	bool group;
};

static int parse_offset(struct opts *o, const char *arg)
{
	char *end;
	long long v;

	o->has_offset = true;
	if (strcasecmp(arg, "earliest") == 0) {
		o->offset = FLUXO_OFFSET_BEGINNING;
		return 0;
	}
	if (strcasecmp(arg, "latest") == 0) {
		o->offset = FLUXO_OFFSET_END;
		return 0;
	}
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (end == arg || *end || errno || v < 0)
		return tool_usage_error(&spec,
					"The provided offset value '%s' is "
					"incorrect. Valid values are "
					"'earliest', 'latest', or a "
					"non-negative long.",
					arg);
	o->offset = v;
	return 0;
}

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
	case F_PARTITION:
		return tool_parse_int(&spec, "--partition", arg, 0, INT32_MAX,
				      &o->partition);
	case F_OFFSET:
		return parse_offset(o, arg);
	case F_FROM_BEGINNING:
		o->from_beginning = true;
		return 0;
	case F_MAX_MESSAGES:
		return tool_parse_i64(&spec, "--max-messages", arg, 1,
				      INT64_MAX, &o->max_messages);
	case F_TIMEOUT_MS:
		return tool_parse_i64(&spec, "--timeout-ms", arg, 0, INT32_MAX,
				      &o->timeout_ms);
	case F_PROPERTY:
		return tool_props_add_kv(&spec, &o->format, "--property", arg);
	case F_CONSUMER_PROPERTY:
		return tool_props_add_kv(&spec, &o->props,
					 "--consumer-property", arg);
	case F_CONSUMER_CONFIG:
		o->config_file = arg;
		return 0;
	case F_GROUP:
		o->group = true;
		return 0;
	case F_ISOLATION:
		if (strcmp(arg, "read_uncommitted") &&
		    strcmp(arg, "read_committed"))
			return tool_usage_error(&spec,
						"--isolation-level expects "
						"read_uncommitted or "
						"read_committed, got '%s'",
						arg);
		if (tool_props_set(&o->explicit_props, "isolation.level", arg,
				   "--isolation-level") != 0)
			return tool_error(&spec, "out of memory");
		return 0;
	case F_SKIP_ON_ERROR:
		o->skip_on_error = true;
		return 0;
	}
	return 0;
}

static int check_args(struct opts *o)
{
	if (o->group)
		return tool_no_groups(&spec);
	if (tool_props_get(&o->props, "group.id"))
		return tool_no_groups(&spec);
	if (!o->topic)
		return tool_usage_error(&spec, "--topic is required (e.g. "
					       "--topic my-topic)");
	if (!o->bootstrap)
		return tool_usage_error(&spec, "--bootstrap-server is required "
					       "(e.g. --bootstrap-server "
					       "localhost:9092)");
	if (o->partition >= 0) {
		if (o->from_beginning && o->has_offset)
			return tool_usage_error(&spec,
						"Options from-beginning and "
						"offset cannot be specified "
						"together.");
	} else if (o->has_offset) {
		return tool_usage_error(&spec,
					"The partition is required when offset "
					"is specified (add --partition N).");
	}
	return 0;
}

static int apply_format(struct msg_format *fmt, const struct opts *o)
{
	char errstr[256];
	size_t i;

	for (i = 0; i < o->format.cnt; i++) {
		int rc = msg_format_set(fmt, o->format.v[i].key,
					o->format.v[i].value, errstr,
					sizeof(errstr));

		if (rc == ERR_NOT_FOUND)
			fprintf(stderr,
				"%s: WARNING: --property %s is not used by "
				"the formatter; ignored\n",
				spec.prog, o->format.v[i].key);
		else if (rc == ERR_NOMEM)
			return tool_error(&spec, "out of memory");
		else if (rc != 0)
			return tool_usage_error(&spec, "%s", errstr);
	}
	return 0;
}

static int consume(fluxo_consumer_t *c, const struct opts *o,
		   const struct msg_format *fmt, int64_t *count)
{
	struct buf line = BUF_INIT;
	int64_t last = clock_mono_ms();
	int rc = 0;

	while (!tool_stopping() &&
	       (o->max_messages < 0 || *count < o->max_messages)) {
		const fluxo_message_t *m;
		int wait = 200;

		if (o->timeout_ms >= 0) {
			int64_t left = o->timeout_ms - (clock_mono_ms() - last);

			if (left < 0)
				break;	/* Kafka: TimeoutException, exit 0 */
			if (left < wait)
				wait = (int)left;
		}
		m = fluxo_consumer_poll(c, 0);
		if (!m) {
			if (fflush(stdout) != 0)
				goto stdout_gone;
			m = fluxo_consumer_poll(c, wait);
			if (!m)
				continue;
		}
		last = clock_mono_ms();
		if (m->err) {
			fprintf(stderr, "ERROR Error processing message%s: "
					"partition %d: %s\n",
				o->skip_on_error ? ", skipping it" :
						   ", terminating consumer "
						   "process",
				(int)m->partition,
				m->errstr ? m->errstr : fluxo_err2str(m->err));
			if (o->skip_on_error)
				continue;
			rc = TOOL_ERROR;
			break;
		}
		buf_reset(&line);
		if (msg_format_write(fmt, m, fluxo_message_header, &line) !=
		    0) {
			rc = tool_error(&spec, "out of memory");
			break;
		}
		(*count)++;
		if (line.len && fwrite(line.data, 1, line.len, stdout) !=
					line.len)
			goto stdout_gone;
	}
	if (fflush(stdout) != 0)
		goto stdout_gone;
	buf_free(&line);
	return rc;
stdout_gone:
	fprintf(stderr, "Unable to write to standard out, closing consumer.\n");
	buf_free(&line);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props defaults = TOOL_PROPS_INIT;
	struct msg_format fmt;
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_consumer_t *c = NULL;
	static char outbuf[1 << 16];
	char errstr[512] = "";
	int64_t count = 0, start;
	int rc, p, parts = 0;
	bool started = false;

	memset(&o, 0, sizeof(o));
	o.partition = -1;
	o.max_messages = -1;
	o.timeout_ms = -1;
	if (msg_format_init(&fmt) != 0)
		return 1;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	rc = check_args(&o);
	if (rc == 0)
		rc = apply_format(&fmt, &o);
	if (rc != 0)
		goto out;
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (tool_props_set(&defaults, "client.id", "console-consumer", NULL) ||
	    tool_props_set(&o.explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server")) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, &defaults, "--consumer.config",
			       o.config_file, &o.props, &o.explicit_props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	/* Bounded check first: the address answers and the topic exists. */
	parts = tool_topic_partitions(&spec, conf, o.topic,
				      TOOL_CONNECT_TIMEOUT_MS);
	if (parts < 0) {
		rc = TOOL_ERROR;
		goto out;
	}
	if (o.partition >= parts) {
		rc = tool_error(&spec,
				"topic '%s' has %d partition%s; there is no "
				"partition %d",
				o.topic, parts, parts == 1 ? "" : "s",
				o.partition);
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
	started = true;
	start = o.has_offset	   ? o.offset :
		o.from_beginning ? FLUXO_OFFSET_BEGINNING :
				   FLUXO_OFFSET_END;
	for (p = 0; p < parts; p++) {
		int err;

		if (o.partition >= 0 && p != o.partition)
			continue;
		err = fluxo_consumer_assign(c, o.topic, p, start);
		if (err != 0) {
			rc = tool_report_client_error(&spec, keep, o.topic, err,
						      NULL,
						      TOOL_CONNECT_TIMEOUT_MS);
			goto out;
		}
	}
	rc = consume(c, &o, &fmt, &count);
out:
	fflush(stdout);
	if (started)
		fprintf(stderr, "Processed a total of %lld messages\n",
			(long long)count);
	fluxo_consumer_destroy(c);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	msg_format_free(&fmt);
	tool_props_free(&defaults);
	tool_props_free(&o.props);
	tool_props_free(&o.format);
	tool_props_free(&o.explicit_props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
