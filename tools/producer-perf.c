/*
 * producer-perf.c - fluxo-producer-perf: Kafka's kafka-producer-perf-test.sh
 * for fluxo, same flags, same report lines.
 *
 * The tool must never be what limits the measured rate, so the send loop
 * does the least it can: the payload is built once (or, with
 * --payload-file, read once and picked by a xorshift generator), each
 * record's size travels in its msg_opaque (no allocation per record), the
 * delivery callback adds to fixed counters and a fixed histogram
 * (perfstats.h), and the clock is read only every 16 acknowledgements
 * unless throttling needs it. Delivery callbacks run on this thread from
 * fluxo_producer_poll(), which is called every 64 sends and also serves as
 * the throttler's sleep, so reports keep flowing while we wait.
 *
 * Output: a progress line every 5 s and the final line, in the exact
 * format of Kafka's ProducerPerformance; latencies are those of the
 * delivery reports (fluxo_delivery_t.latency_us: from fluxo_produce() to
 * the acknowledgement).
 *
 * Exit status: 0, or 1 if a record could not be sent or failed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/fluxo.h"
#include "common/clock.h"
#include "perfstats.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_TOPIC = 1,
	F_NUM_RECORDS,
	F_RECORD_SIZE,
	F_PAYLOAD_FILE,
	F_PAYLOAD_DELIMITER,
	F_THROUGHPUT,
	F_PRODUCER_PROPS,
	F_PRODUCER_CONFIG,
	F_PRINT_METRICS,
	F_BOOTSTRAP,
};

static const struct tool_flag flags[] = {
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "REQUIRED: produce messages to this topic.", F_TOPIC },
	{ "num-records", TOOL_ARG_REQUIRED, "N",
	  "REQUIRED: number of messages to produce.", F_NUM_RECORDS },
	{ "record-size", TOOL_ARG_REQUIRED, "BYTES",
	  "Message size in bytes. Give exactly one of --record-size and "
	  "--payload-file.",
	  F_RECORD_SIZE },
	{ "payload-file", TOOL_ARG_REQUIRED, "FILE",
	  "File to read the message payloads from; a payload is picked at "
	  "random for each message. Give exactly one of --record-size and "
	  "--payload-file.",
	  F_PAYLOAD_FILE },
	{ "payload-delimiter", TOOL_ARG_REQUIRED, "DELIM",
	  "Delimiter between payloads in --payload-file (default \\n).",
	  F_PAYLOAD_DELIMITER },
	{ "throughput", TOOL_ARG_REQUIRED, "RATE",
	  "REQUIRED: throttle to about RATE messages/sec; -1 disables "
	  "throttling.",
	  F_THROUGHPUT },
	{ "producer-props", TOOL_ARG_MULTI, "KEY=VALUE",
	  "Producer settings such as bootstrap.servers=HOST:PORT acks=all; "
	  "they take precedence over --producer.config.",
	  F_PRODUCER_PROPS },
	{ "producer.config", TOOL_ARG_REQUIRED, "FILE",
	  "Producer settings properties file.", F_PRODUCER_CONFIG },
	{ "print-metrics", TOOL_ARG_NONE, NULL,
	  "Print the tool's metrics at the end of the test.",
	  F_PRINT_METRICS },
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "Shortcut for --producer-props bootstrap.servers=HOST:PORT.",
	  F_BOOTSTRAP },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-producer-perf",
	.synopsis = "--topic TOPIC --num-records N (--record-size B | "
		    "--payload-file F) --throughput RATE "
		    "(--producer-props K=V... | --producer.config F | "
		    "--bootstrap-server HOST:PORT) [options]",
	.summary = "Measures producer throughput and latency.",
	.flags = flags,
};

struct opts {
	const char *topic;
	int64_t num_records;
	int64_t record_size;	/* -1: not given */
	const char *payload_file;
	const char *delimiter;
	double throughput;
	bool has_throughput;
	bool print_metrics;
	const char *config_file;
	const char *bootstrap;
	struct tool_props props;
	bool has_props;
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;

	switch (f->id) {
	case F_TOPIC:
		o->topic = arg;
		return 0;
	case F_NUM_RECORDS:
		return tool_parse_i64(&spec, "--num-records", arg, 1,
				      INT64_MAX, &o->num_records);
	case F_RECORD_SIZE:
		return tool_parse_i64(&spec, "--record-size", arg, 1,
				      INT32_MAX, &o->record_size);
	case F_PAYLOAD_FILE:
		o->payload_file = arg;
		return 0;
	case F_PAYLOAD_DELIMITER:
		o->delimiter = arg;
		return 0;
	case F_THROUGHPUT:
		o->has_throughput = true;
		return tool_parse_double(&spec, "--throughput", arg, -1e300,
					 1e300, &o->throughput);
	case F_PRODUCER_PROPS:
		o->has_props = true;
		return tool_props_add_kv(&spec, &o->props, "--producer-props",
					 arg);
	case F_PRODUCER_CONFIG:
		o->config_file = arg;
		return 0;
	case F_PRINT_METRICS:
		o->print_metrics = true;
		return 0;
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	}
	return 0;
}

/* ------------------------------------------------------------ payloads */

struct payloads {
	uint8_t *data;		/* the file, or the fixed payload */
	size_t *off;		/* start of payload i */
	size_t *len;
	size_t cnt;
};

static int read_file(const char *path, uint8_t **out, size_t *size)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*out = malloc((size_t)st.st_size);
	if (!*out) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *out + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*size = got;
	return got > 0 ? 0 : -1;
}

static int load_payloads(const struct opts *o, struct payloads *pl)
{
	const char *delim = o->delimiter ? o->delimiter : "\n";
	char real[PATH_MAX];
	size_t size = 0, dlen, pos = 0, cap = 0;

	memset(pl, 0, sizeof(*pl));
	if (!o->payload_file) {
		/* Random upper-case letters, built once, as Kafka 2.8. */
		uint32_t x = 2463534242u;
		size_t i;

		pl->data = malloc((size_t)o->record_size);
		pl->off = calloc(1, sizeof(*pl->off));
		pl->len = calloc(1, sizeof(*pl->len));
		if (!pl->data || !pl->off || !pl->len)
			return tool_error(&spec, "out of memory");
		for (i = 0; i < (size_t)o->record_size; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			pl->data[i] = (uint8_t)('A' + x % 26);
		}
		pl->len[0] = (size_t)o->record_size;
		pl->cnt = 1;
		return 0;
	}
	if (strcmp(delim, "\\n") == 0)
		delim = "\n";
	dlen = strlen(delim);
	printf("Reading payloads from: %s\n",
	       realpath(o->payload_file, real) ? real : o->payload_file);
	if (read_file(o->payload_file, &pl->data, &size) != 0)
		return tool_error(&spec, "--payload-file %s: File does not "
					 "exist or empty file provided.",
				  o->payload_file);
	while (pos < size) {
		const uint8_t *d = dlen ? memmem(pl->data + pos, size - pos,
						 delim, dlen) :
					  NULL;
		size_t end = d ? (size_t)(d - pl->data) : size;

		if (end > pos) {
			if (pl->cnt == cap) {
				size_t nc = cap ? cap * 2 : 64;
				size_t *no = realloc(pl->off,
						     nc * sizeof(*no));
				size_t *nl;

				if (!no)
					return tool_error(&spec,
							  "out of memory");
				pl->off = no;
				nl = realloc(pl->len, nc * sizeof(*nl));
				if (!nl)
					return tool_error(&spec,
							  "out of memory");
				pl->len = nl;
				cap = nc;
			}
			pl->off[pl->cnt] = pos;
			pl->len[pl->cnt] = end - pos;
			pl->cnt++;
		}
		pos = d ? end + dlen : size;
	}
	printf("Number of messages read: %zu\n", pl->cnt);
	if (pl->cnt == 0)
		return tool_error(&spec, "--payload-file %s holds no payload",
				  o->payload_file);
	return 0;
}

static void free_payloads(struct payloads *pl)
{
	free(pl->data);
	free(pl->off);
	free(pl->len);
}

/* ------------------------------------------------------------- the run */

struct run {
	struct perf_stats stats;
	int64_t acked;
	int64_t failed;
	int64_t since_clock;	/* acks since the clock was last read */
};

static void maybe_report(struct run *r, int64_t now_ms)
{
	char line[256];

	if (perf_stats_window_due(&r->stats, now_ms)) {
		int n = perf_stats_window(&r->stats, now_ms, line,
					  sizeof(line));

		fwrite(line, 1, (size_t)n, stdout);
		fflush(stdout);
	}
}

static void on_delivery(const fluxo_delivery_t *dr, void *opaque)
{
	struct run *r = opaque;

	if (dr->err == 0) {
		perf_stats_record(&r->stats, dr->latency_us,
				  (int64_t)(uintptr_t)dr->msg_opaque);
		if (++r->since_clock >= 16) {
			r->since_clock = 0;
			maybe_report(r, clock_mono_ms());
		}
		return;
	}
	r->failed++;
	if (r->failed <= 10 || r->failed % 100000 == 0)
		fprintf(stderr, "%s: delivery failed (%lld so far): %s\n",
			spec.prog, (long long)r->failed,
			dr->errstr ? dr->errstr : fluxo_err2str(dr->err));
}

/* Serves delivery reports until deadline_ns (monotonic) or a stop. */
static void poll_until(fluxo_producer_t *p, struct run *r, int64_t deadline)
{
	for (;;) {
		int64_t now = clock_mono_ns(), left_ms;

		maybe_report(r, now / 1000000);
		if (now >= deadline || tool_stopping())
			return;
		left_ms = (deadline - now + 999999) / 1000000;
		fluxo_producer_poll(p, left_ms > 100 ? 100 : (int)left_ms);
	}
}

static int send_all(fluxo_producer_t *p, struct run *r, const struct opts *o,
		    const struct payloads *pl)
{
	struct throttler th;
	uint64_t x = 88172645463325252ull;
	bool throttle = o->throughput >= 0;
	int64_t i;

	throttler_init(&th, o->throughput, clock_mono_ms());
	for (i = 0; i < o->num_records && !tool_stopping(); i++) {
		size_t k = 0;
		int rc;

		if (pl->cnt > 1) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			k = (size_t)(x % pl->cnt);
		}
		for (;;) {
			rc = fluxo_produce(p, o->topic, FLUXO_PARTITION_UA,
					   NULL, 0, pl->data + pl->off[k],
					   pl->len[k], NULL, 0, 0,
					   (void *)(uintptr_t)pl->len[k]);
			if (rc != FLUXO_ERR__QUEUE_FULL || tool_stopping())
				break;
			fluxo_producer_poll(p, 10);
		}
		if (rc != 0 && rc != FLUXO_ERR__QUEUE_FULL)
			return tool_error(&spec, "sending record %lld failed: "
						 "%s",
					  (long long)i, fluxo_err2str(rc));
		if ((i & 63) == 0)
			fluxo_producer_poll(p, 0);
		if (throttle) {
			int64_t now = clock_mono_ms(), ns;

			if (!throttler_should_throttle(&th, i, now))
				continue;
			ns = throttler_throttle(&th);
			if (ns == THROTTLE_FOREVER)
				poll_until(p, r, INT64_MAX);
			else if (ns > 0)
				poll_until(p, r, clock_mono_ns() + ns);
		}
	}
	return 0;
}

static void print_metrics(const struct run *r, const fluxo_conf_t *conf,
			  int64_t now_ms)
{
	char client_id[256] = "perf-producer-client";
	double secs = (double)(now_ms - r->stats.start_ms) / 1000.0;
	double cnt = (double)r->stats.count;
	const struct perf_metric m[] = {
		{ "byte-total", (double)r->stats.bytes },
		{ "record-error-total", (double)r->failed },
		{ "record-send-rate", secs > 0 ? cnt / secs : 0 },
		{ "record-send-total", cnt },
		{ "record-size-avg",
		  cnt > 0 ? (double)r->stats.bytes / cnt : 0 },
		{ "request-latency-avg",
		  cnt > 0 ? (double)r->stats.total_latency_us / 1000.0 / cnt :
			    0 },
		{ "request-latency-max",
		  (double)r->stats.max_latency_us / 1000.0 },
	};

	if (conf)
		fluxo_conf_get(conf, "client.id", client_id, sizeof(client_id));
	perf_print_metrics(stdout, "producer-metrics", client_id, m,
			   sizeof(m) / sizeof(m[0]));
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props defaults = TOOL_PROPS_INIT;
	struct tool_props explicit_props = TOOL_PROPS_INIT;
	struct payloads pl = { 0 };
	static struct run r;	/* the histogram is large: not on the stack */
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_producer_t *p = NULL;
	char servers[1024] = "", line[512];
	int rc, n;

	memset(&o, 0, sizeof(o));
	o.record_size = -1;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (!o.topic || !o.num_records || !o.has_throughput) {
		rc = tool_usage_error(&spec,
				      "%s is required",
				      !o.topic ? "--topic TOPIC" :
				      !o.num_records ? "--num-records N" :
						       "--throughput RATE (-1 "
						       "for unlimited)");
		goto out;
	}
	if ((o.record_size > 0) == (o.payload_file != NULL)) {
		rc = tool_usage_error(&spec,
				      "give exactly one of --record-size and "
				      "--payload-file");
		goto out;
	}
	if (!o.has_props && !o.config_file && !o.bootstrap) {
		rc = tool_usage_error(&spec,
				      "Either --producer-props or "
				      "--producer.config must be specified "
				      "(or --bootstrap-server HOST:PORT).");
		goto out;
	}
	rc = load_payloads(&o, &pl);
	if (rc != 0)
		goto out;
	if (tool_props_set(&defaults, "client.id", "perf-producer-client",
			   NULL) ||
	    (o.bootstrap &&
	     tool_props_set(&explicit_props, "bootstrap.servers", o.bootstrap,
			    "--bootstrap-server"))) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	/* --bootstrap-server is a shortcut: --producer-props wins over it. */
	conf = tool_conf_build(&spec, &defaults, "--producer.config",
			       o.config_file, &explicit_props, &o.props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	if (fluxo_conf_get(conf, "bootstrap.servers", servers,
			   sizeof(servers)) != 0 ||
	    !servers[0]) {
		rc = tool_usage_error(&spec,
				      "bootstrap.servers is not set (add "
				      "--bootstrap-server HOST:PORT)");
		goto out;
	}
	perf_stats_init(&r.stats, clock_mono_ms());
	p = tool_producer_open(&spec, &conf, on_delivery, &r, o.topic, &keep,
			       &rc);
	if (!p)
		goto out;
	/* Measure from the first send, as Kafka (metadata is warm now). */
	perf_stats_init(&r.stats, clock_mono_ms());
	rc = send_all(p, &r, &o, &pl);
	while (fluxo_producer_outq_len(p) > 0) {
		if (fluxo_producer_flush(p, 1000) == 0)
			break;
		maybe_report(&r, clock_mono_ms());
	}
	fluxo_producer_poll(p, 0);
	n = perf_stats_total(&r.stats, clock_mono_ms(), line, sizeof(line));
	fwrite(line, 1, (size_t)n, stdout);
	if (o.print_metrics)
		print_metrics(&r, keep, clock_mono_ms());
	if (r.failed) {
		fprintf(stderr, "%s: %lld records failed\n", spec.prog,
			(long long)r.failed);
		rc = TOOL_ERROR;
	}
out:
	fflush(stdout);
	fluxo_producer_destroy(p);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	free_payloads(&pl);
	tool_props_free(&defaults);
	tool_props_free(&explicit_props);
	tool_props_free(&o.props);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
