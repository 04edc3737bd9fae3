/*
 * leader-election.c - fluxo-leader-election: elect the preferred (or,
 * for leaderless partitions, any live) replica as leader, with the flags
 * and output of Kafka 2.8's kafka-leader-election.sh.
 *
 * The request goes to the controller (fluxo_admin_elect_leaders finds it
 * and follows it when it moves). The answer lists each partition's
 * outcome; like Kafka we print the elected ones on one line, the ones
 * whose right leader was already in place on another, and each failure
 * on its own line, then exit 1 if anything failed. With
 * --all-topic-partitions the controller leaves out the partitions that
 * need no election; when that is all of them we say so in one line
 * instead of printing nothing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adminjson.h"
#include "client/fluxo.h"
#include "toolcommon.h"
#include "toolconf.h"

#define ELECTION_TIMEOUT_MS 30000

enum {
	F_BOOTSTRAP = 1,
	F_ADMIN_CONFIG,
	F_ELECTION_TYPE,
	F_ALL,
	F_TOPIC,
	F_PARTITION,
	F_JSON,
	F_TIMEOUT,
};

static const struct tool_flag flags[] = {
    {"bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
     "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP},
    {"admin.config", TOOL_ARG_REQUIRED, "FILE",
     "Properties file with admin client settings.", F_ADMIN_CONFIG},
    {"election-type", TOOL_ARG_REQUIRED, "preferred|unclean",
     "REQUIRED: \"preferred\" makes each partition's first replica its "
     "leader again; \"unclean\" elects any live replica for a partition "
     "that has no leader (data it did not have is lost).",
     F_ELECTION_TYPE},
    {"all-topic-partitions", TOOL_ARG_NONE, NULL,
     "Elect for every partition of the cluster. Not allowed with "
     "--topic or --path-to-json-file.",
     F_ALL},
    {"topic", TOOL_ARG_REQUIRED, "TOPIC",
     "The topic of the partition to elect for (needs --partition).", F_TOPIC},
    {"partition", TOOL_ARG_REQUIRED, "N",
     "The partition to elect for (needs --topic).", F_PARTITION},
    {"path-to-json-file", TOOL_ARG_REQUIRED, "FILE",
     "JSON file listing the partitions: {\"partitions\": "
     "[{\"topic\": \"foo\", \"partition\": 1}, ...]}. Not allowed with "
     "--all-topic-partitions or --topic.",
     F_JSON},
    {"timeout", TOOL_ARG_REQUIRED, "MS",
     "How long to wait for the controller (default 30000).", F_TIMEOUT},
    TOOL_FLAG_END};

static const struct tool_spec spec = {
    .prog = "fluxo-leader-election",
    .synopsis = "--bootstrap-server HOST:PORT --election-type "
		"preferred|unclean (--all-topic-partitions | --topic T "
		"--partition P | --path-to-json-file F)",
    .summary = "Elects a new leader for a set of partitions: the preferred "
	       "replica, or (unclean) any live replica of a partition "
	       "without a leader.",
    .flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *admin_config;
	const char *type_name;
	int type;
	bool all;
	const char *topic;
	int partition;
	bool has_partition;
	const char *json;
	int timeout_ms;
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;

	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_ADMIN_CONFIG:
		o->admin_config = arg;
		return 0;
	case F_ELECTION_TYPE:
		if (strcasecmp(arg, "preferred") == 0) {
			o->type = FLUXO_ELECTION_PREFERRED;
			o->type_name = "PREFERRED";
		} else if (strcasecmp(arg, "unclean") == 0) {
			o->type = FLUXO_ELECTION_UNCLEAN;
			o->type_name = "UNCLEAN";
		} else {
			return tool_usage_error(&spec,
						"--election-type expects "
						"preferred or unclean, got "
						"'%s'",
						arg);
		}
		return 0;
	case F_ALL:
		o->all = true;
		return 0;
	case F_TOPIC:
		o->topic = arg;
		return 0;
	case F_PARTITION:
		o->has_partition = true;
		return tool_parse_int(&spec, "--partition", arg, 0, INT32_MAX,
				      &o->partition);
	case F_JSON:
		o->json = arg;
		return 0;
	case F_TIMEOUT:
		return tool_parse_int(&spec, "--timeout", arg, 1, INT32_MAX,
				      &o->timeout_ms);
	}
	return 0;
}

static int check_args(const struct opts *o)
{
	int scopes = o->all + (o->topic != NULL) + (o->json != NULL);

	if (!o->bootstrap)
		return tool_usage_error(&spec,
					"--bootstrap-server must be specified "
					"(e.g. --bootstrap-server "
					"localhost:9092)");
	if (!o->type_name)
		return tool_usage_error(&spec,
					"--election-type must be specified "
					"(preferred or unclean)");
	if (scopes != 1)
		return tool_usage_error(
		    &spec, "exactly one of --all-topic-partitions, "
			   "--topic or --path-to-json-file must be "
			   "specified");
	if (o->topic && !o->has_partition)
		return tool_usage_error(&spec,
					"--partition must be specified with "
					"--topic");
	if (o->has_partition && !o->topic)
		return tool_usage_error(&spec,
					"--partition can only be used with "
					"--topic");
	return 0;
}

/* The partitions the flags name (none for --all-topic-partitions). */
static int wanted_partitions(const struct opts *o, struct tp_list *l)
{
	char errstr[512];
	char *text = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	if (o->topic)
		return tp_list_add(l, o->topic, o->partition) == 0
			   ? 0
			   : tool_error(&spec, "out of memory");
	if (!o->json)
		return 0;
	if (admin_read_file(o->json, &text, errstr, sizeof(errstr)) != 0)
		return tool_error(&spec, "%s", errstr);
	rc = election_json_parse(text, l, errstr, sizeof(errstr));
	free(text);
	if (rc != 0)
		return tool_error(&spec, "%s", errstr);
	if (l->n == 0)
		return tool_error(&spec, "%s lists no partition", o->json);
	return 0;
}

/* Prints "<head> t-0, t-1" for the results with the given error class. */
static void print_group(const char *head, const fluxo_partition_result_t *r,
			size_t n, bool noop)
{
	struct tp *sel = calloc(n + 1, sizeof(*sel));
	size_t k = 0;
	char *s;

	if (!sel)
		return;
	for (size_t i = 0; i < n; i++) {
		bool is_noop = r[i].err == FLUXO_ERR_ELECTION_NOT_NEEDED;

		if ((noop && is_noop) || (!noop && r[i].err == 0)) {
			sel[k].topic = r[i].topic;
			sel[k++].partition = r[i].partition;
		}
	}
	s = k ? tp_join(sel, k, ", ") : NULL;
	if (s)
		printf("%s %s\n", head, s);
	free(s);
	free(sel);
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = ELECTION_TIMEOUT_MS};
	struct tp_list want = {0};
	fluxo_topic_partition_t *tps = NULL;
	fluxo_partition_result_t *res = NULL;
	fluxo_conf_t *conf = NULL;
	fluxo_metadata_t *md = NULL;
	fluxo_admin_t *admin = NULL;
	size_t n = 0, failed = 0;
	char errstr[512] = "", head[96];
	int rc;

	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	rc = check_args(&o);
	if (rc != 0)
		goto out;
	rc = wanted_partitions(&o, &want);
	if (rc != 0)
		goto out;
	tps = calloc(want.n + 1, sizeof(*tps));
	if (!tps) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < want.n; i++) {
		tps[i].topic = want.v[i].topic;
		tps[i].partition = want.v[i].partition;
	}
	admin = tool_admin_open(&spec, o.bootstrap, "--admin.config",
				o.admin_config, o.timeout_ms, &conf, &md);
	if (!admin) {
		rc = TOOL_ERROR;
		goto out;
	}
	rc = fluxo_admin_elect_leaders(admin, o.type, tps, want.n, o.timeout_ms,
				       &res, &n, errstr, sizeof(errstr));
	if (rc != 0) {
		rc = tool_report_client_error(&spec, conf, "leader election",
					      rc, errstr, o.timeout_ms);
		goto out;
	}
	snprintf(head, sizeof(head),
		 "Successfully completed leader election (%s) for partitions",
		 o.type_name);
	print_group(head, res, n, false);
	print_group("Valid replica already elected for partitions", res, n,
		    true);
	if (n == 0 && o.all)
		printf("Valid replica already elected for all partitions\n");
	for (size_t i = 0; i < n; i++) {
		if (res[i].err == 0 ||
		    res[i].err == FLUXO_ERR_ELECTION_NOT_NEEDED)
			continue;
		printf("Error completing leader election (%s) for partition: "
		       "%s-%d: %s: %s\n",
		       o.type_name, res[i].topic, (int)res[i].partition,
		       fluxo_err2name(res[i].err),
		       res[i].errstr ? res[i].errstr
				     : fluxo_err2str(res[i].err));
		failed++;
	}
	if (failed) {
		fflush(stdout);
		rc = tool_error(&spec, "%zu replica(s) could not be elected",
				failed);
	}
out:
	fflush(stdout);
	fluxo_partition_results_destroy(res, n);
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	fluxo_conf_destroy(conf);
	free(tps);
	tp_list_free(&want);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
