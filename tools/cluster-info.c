/*
 * cluster-info.c - fluxo-cluster-info: one look at the whole cluster.
 *
 * Kafka has no single tool for this (operators combine
 * kafka-broker-api-versions, kafka-topics --describe with its report
 * filters, and ZooKeeper reads); a failover drill needs it in one call it
 * can parse. It asks one broker for metadata and prints the live brokers
 * (id, address, rack), the controller and its epoch, topic and partition
 * counts, and the under-replicated and offline partitions (see
 * clusterinfo.h for the definitions); --json prints the same as one JSON
 * object on one line.
 *
 * The exit status is 0 whenever a broker answered, whatever the cluster's
 * health: scripts read the counts.
 */
#include "config.h"

#include <stdio.h>

#include "client/fluxo.h"
#include "clusterinfo.h"
#include "toolcommon.h"
#include "toolconf.h"

enum {
	F_BOOTSTRAP = 1,
	F_COMMAND_CONFIG,
	F_JSON,
	F_TIMEOUT,
};

static const struct tool_flag flags[] = {
    {"bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
     "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP},
    {"command-config", TOOL_ARG_REQUIRED, "FILE",
     "Properties file with admin client settings.", F_COMMAND_CONFIG},
    {"json", TOOL_ARG_NONE, NULL,
     "Print one JSON object instead of the report (for scripts).", F_JSON},
    {"timeout", TOOL_ARG_REQUIRED, "MS",
     "How long to wait for a broker's answer (default 5000).", F_TIMEOUT},
    TOOL_FLAG_END};

static const struct tool_spec spec = {
    .prog = "fluxo-cluster-info",
    .synopsis = "--bootstrap-server HOST:PORT [--json]",
    .summary = "Shows the cluster's brokers, controller, topic and "
	       "partition counts, and its under-replicated and offline "
	       "partitions.",
    .flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *command_config;
	bool json;
	int timeout_ms;
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;

	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_COMMAND_CONFIG:
		o->command_config = arg;
		return 0;
	case F_JSON:
		o->json = true;
		return 0;
	case F_TIMEOUT:
		return tool_parse_int(&spec, "--timeout", arg, 1, INT32_MAX,
				      &o->timeout_ms);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = TOOL_CONNECT_TIMEOUT_MS};
	struct cluster_summary s = {0};
	fluxo_conf_t *conf = NULL;
	fluxo_metadata_t *md = NULL;
	fluxo_admin_t *admin = NULL;
	int rc;

	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	if (!o.bootstrap) {
		rc = tool_usage_error(&spec,
				      "--bootstrap-server must be specified "
				      "(e.g. --bootstrap-server "
				      "localhost:9092)");
		goto out;
	}
	admin = tool_admin_open(&spec, o.bootstrap, "--command-config",
				o.command_config, o.timeout_ms, &conf, &md);
	if (!admin) {
		rc = TOOL_ERROR;
		goto out;
	}
	if (cluster_summarize(md, &s) != 0) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	if (o.json) {
		if (cluster_print_json(stdout, md, &s) != 0)
			rc = tool_error(&spec, "cannot write the JSON report");
	} else {
		cluster_print_text(stdout, md, &s);
	}
out:
	fflush(stdout);
	cluster_summary_free(&s);
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	fluxo_conf_destroy(conf);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
