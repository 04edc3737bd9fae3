/*
 * reassign-partitions.c - fluxo-reassign-partitions: move partition
 * replicas between brokers, with the flags, JSON files and messages of
 * Kafka 2.8's kafka-reassign-partitions.sh (--bootstrap-server mode).
 *
 *   --generate  proposes a placement of some topics on a list of brokers
 *               (Kafka's algorithm) and prints it with the current one;
 *   --execute   starts the moves of a reassignment file through the
 *               controller (AlterPartitionReassignments), after printing
 *               the current assignment for a rollback; with --throttle it
 *               first sets the replication throttles (below);
 *   --verify    reports each partition of the file (complete, in
 *               progress, or another replica set) and, once nothing is
 *               in progress, removes the throttles;
 *   --cancel    cancels the file's moves still in progress and removes
 *               the throttles;
 *   --list      lists every reassignment in progress.
 *
 * Throttles are Kafka's (KIP-73): the broker settings
 * leader.replication.throttled.rate and follower.replication.throttled.rate
 * (bytes/s) on every broker a move involves, and the topic settings
 * leader.replication.throttled.replicas (every current replica of a
 * moving partition, "partition:broker,...") and
 * follower.replication.throttled.replicas (the replicas being added). They
 * stay until --verify sees the moves done or --cancel runs
 * (--preserve-throttles keeps them).
 *
 * Failures print one sentence on stderr and exit 1; --verify exits 0
 * whatever the progress (scripts read its lines).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminjson.h"
#include "client/fluxo.h"
#include "reassign_util.h"
#include "toolcommon.h"
#include "toolconf.h"

#define REASSIGN_TIMEOUT_MS 10000

#define LEADER_RATE	  "leader.replication.throttled.rate"
#define FOLLOWER_RATE	  "follower.replication.throttled.rate"
#define LEADER_REPLICAS	  "leader.replication.throttled.replicas"
#define FOLLOWER_REPLICAS "follower.replication.throttled.replicas"

enum {
	F_BOOTSTRAP = 1,
	F_COMMAND_CONFIG,
	F_GENERATE,
	F_EXECUTE,
	F_VERIFY,
	F_CANCEL,
	F_LIST,
	F_TOPICS_FILE,
	F_BROKER_LIST,
	F_DISABLE_RACK,
	F_REASSIGN_FILE,
	F_THROTTLE,
	F_ADDITIONAL,
	F_PRESERVE,
	F_TIMEOUT,
};

static const struct tool_flag flags[] = {
    {"bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
     "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP},
    {"command-config", TOOL_ARG_REQUIRED, "FILE",
     "Properties file with admin client settings.", F_COMMAND_CONFIG},
    {"generate", TOOL_ARG_NONE, NULL,
     "Propose a placement of the topics of --topics-to-move-json-file "
     "on the brokers of --broker-list. Nothing is changed.",
     F_GENERATE},
    {"execute", TOOL_ARG_NONE, NULL,
     "Start the reassignment of --reassignment-json-file.", F_EXECUTE},
    {"verify", TOOL_ARG_NONE, NULL,
     "Report the progress of the reassignment of "
     "--reassignment-json-file; remove the throttles once it is done.",
     F_VERIFY},
    {"cancel", TOOL_ARG_NONE, NULL,
     "Cancel the moves of --reassignment-json-file that are still in "
     "progress, and remove the throttles.",
     F_CANCEL},
    {"list", TOOL_ARG_NONE, NULL,
     "List the partition reassignments in progress.", F_LIST},
    {"topics-to-move-json-file", TOOL_ARG_REQUIRED, "FILE",
     "With --generate: {\"topics\": [{\"topic\": \"foo\"}, ...], "
     "\"version\": 1}.",
     F_TOPICS_FILE},
    {"broker-list", TOOL_ARG_REQUIRED, "\"ID,ID,...\"",
     "With --generate: the brokers to place the topics on.", F_BROKER_LIST},
    {"disable-rack-aware", TOOL_ARG_NONE, NULL,
     "With --generate: ignore the brokers' racks.", F_DISABLE_RACK},
    {"reassignment-json-file", TOOL_ARG_REQUIRED, "FILE",
     "With --execute, --verify, --cancel: {\"version\": 1, "
     "\"partitions\": [{\"topic\": \"foo\", \"partition\": 0, "
     "\"replicas\": [1,2], \"log_dirs\": [\"any\",\"any\"]}, ...]}.",
     F_REASSIGN_FILE},
    {"throttle", TOOL_ARG_REQUIRED, "BYTES/S",
     "With --execute: limit the replication traffic of the moves to "
     "this rate on every broker involved (default: no limit).",
     F_THROTTLE},
    {"additional", TOOL_ARG_NONE, NULL,
     "With --execute: start even though other reassignments are in "
     "progress.",
     F_ADDITIONAL},
    {"preserve-throttles", TOOL_ARG_NONE, NULL,
     "With --verify or --cancel: keep the throttles.", F_PRESERVE},
    {"timeout", TOOL_ARG_REQUIRED, "MS",
     "How long each request may take (default 10000).", F_TIMEOUT},
    TOOL_FLAG_END};

static const struct tool_spec spec = {
    .prog = "fluxo-reassign-partitions",
    .synopsis = "--bootstrap-server HOST:PORT (--generate | --execute | "
		"--verify | --cancel | --list) [options]",
    .summary = "Moves partition replicas between brokers: proposes a "
	       "placement, starts it (optionally throttled), follows it, "
	       "cancels it.",
    .flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *command_config;
	int action;
	int action_cnt;
	const char *topics_file;
	const char *broker_list;
	bool disable_rack;
	const char *reassign_file;
	int64_t throttle;
	bool additional;
	bool preserve;
	int timeout_ms;
	bool seen[F_TIMEOUT + 1];
};

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;

	o->seen[f->id] = true;
	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_COMMAND_CONFIG:
		o->command_config = arg;
		return 0;
	case F_GENERATE:
	case F_EXECUTE:
	case F_VERIFY:
	case F_CANCEL:
	case F_LIST:
		if (o->action != f->id)
			o->action_cnt++;
		o->action = f->id;
		return 0;
	case F_TOPICS_FILE:
		o->topics_file = arg;
		return 0;
	case F_BROKER_LIST:
		o->broker_list = arg;
		return 0;
	case F_DISABLE_RACK:
		o->disable_rack = true;
		return 0;
	case F_REASSIGN_FILE:
		o->reassign_file = arg;
		return 0;
	case F_THROTTLE:
		return tool_parse_i64(&spec, "--throttle", arg, 1, INT64_MAX,
				      &o->throttle);
	case F_ADDITIONAL:
		o->additional = true;
		return 0;
	case F_PRESERVE:
		o->preserve = true;
		return 0;
	case F_TIMEOUT:
		return tool_parse_int(&spec, "--timeout", arg, 1, INT32_MAX,
				      &o->timeout_ms);
	}
	return 0;
}

static const char *flag_name(int id)
{
	for (size_t i = 0; flags[i].name; i++)
		if (flags[i].id == id)
			return flags[i].name;
	return "?";
}

/* flag may only be used with the listed actions (Kafka's checks). */
static int only_with(const struct opts *o, int flag, const int *actions,
		     size_t n)
{
	if (!o->seen[flag])
		return 0;
	for (size_t i = 0; i < n; i++)
		if (o->action == actions[i])
			return 0;
	return tool_usage_error(&spec, "--%s cannot be used with --%s",
				flag_name(flag), flag_name(o->action));
}

static int check_args(const struct opts *o)
{
	static const int gen[] = {F_GENERATE};
	static const int exe[] = {F_EXECUTE};
	static const int file[] = {F_EXECUTE, F_VERIFY, F_CANCEL};
	static const int keep[] = {F_VERIFY, F_CANCEL};

	if (o->action_cnt != 1)
		return tool_usage_error(&spec,
					"Command must include exactly one "
					"action: --generate, --execute, "
					"--verify, --cancel or --list");
	if (!o->bootstrap)
		return tool_usage_error(&spec,
					"--bootstrap-server must be specified "
					"(e.g. --bootstrap-server "
					"localhost:9092)");
	if (only_with(o, F_TOPICS_FILE, gen, 1) ||
	    only_with(o, F_BROKER_LIST, gen, 1) ||
	    only_with(o, F_DISABLE_RACK, gen, 1) ||
	    only_with(o, F_REASSIGN_FILE, file, 3) ||
	    only_with(o, F_THROTTLE, exe, 1) ||
	    only_with(o, F_ADDITIONAL, exe, 1) ||
	    only_with(o, F_PRESERVE, keep, 2))
		return TOOL_ERROR;
	if (o->action == F_GENERATE && (!o->topics_file || !o->broker_list))
		return tool_usage_error(&spec,
					"--generate needs "
					"--topics-to-move-json-file FILE and "
					"--broker-list \"ID,ID,...\"");
	if (o->action != F_GENERATE && o->action != F_LIST && !o->reassign_file)
		return tool_usage_error(&spec,
					"--%s needs --reassignment-json-file "
					"FILE",
					flag_name(o->action));
	return 0;
}

static int client_error(const fluxo_conf_t *conf, const struct opts *o,
			const char *what, int err, const char *errstr)
{
	return tool_report_client_error(&spec, conf, what, err, errstr,
					o->timeout_ms);
}

/* Reads and checks the reassignment file. */
static int load_moves(const struct opts *o, struct move_list *moves)
{
	char errstr[512], *text = NULL;
	int rc;

	if (admin_read_file(o->reassign_file, &text, errstr, sizeof(errstr)) !=
	    0)
		return tool_error(&spec, "%s", errstr);
	rc = reassign_json_parse(text, moves, errstr, sizeof(errstr));
	free(text);
	if (rc != 0)
		return tool_error(&spec, "%s", errstr);
	move_list_sort(moves);
	return 0;
}

/* The file's partitions as a filter for the list call (borrowed names). */
static fluxo_topic_partition_t *as_filter(const struct move_list *moves)
{
	fluxo_topic_partition_t *f = calloc(moves->n + 1, sizeof(*f));

	for (size_t i = 0; f && i < moves->n; i++) {
		f[i].topic = moves->v[i].topic;
		f[i].partition = moves->v[i].partition;
	}
	return f;
}

/* ------------------------------------------------------------ generate */

static int do_generate(const struct opts *o, const fluxo_metadata_t *md)
{
	struct move_list cur = {0}, prop = {0};
	char errstr[512], *text = NULL, *j1 = NULL, *j2 = NULL;
	char **topics = NULL;
	int32_t *brokers = NULL;
	size_t n_topics = 0;
	int n_brokers = 0, rc;

	if (broker_list_parse(o->broker_list, &brokers, &n_brokers, errstr,
			      sizeof(errstr)) != 0) {
		rc = tool_usage_error(&spec, "%s", errstr);
		goto out;
	}
	if (admin_read_file(o->topics_file, &text, errstr, sizeof(errstr)) !=
		0 ||
	    topics_json_parse(text, &topics, &n_topics, errstr,
			      sizeof(errstr)) != 0) {
		rc = tool_error(&spec, "%s", errstr);
		goto out;
	}
	if (reassign_generate(md, topics, n_topics, brokers, n_brokers,
			      !o->disable_rack, -1, -1, &cur, &prop, errstr,
			      sizeof(errstr)) != 0) {
		rc = tool_error(&spec, "%s", errstr);
		goto out;
	}
	j1 = reassign_json_format(&cur);
	j2 = reassign_json_format(&prop);
	if (!j1 || !j2) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	printf("Current partition replica assignment\n%s\n\n"
	       "Proposed partition reassignment configuration\n%s\n",
	       j1, j2);
	rc = 0;
out:
	free(j1);
	free(j2);
	free(text);
	free(brokers);
	names_free(topics, n_topics);
	move_list_free(&cur);
	move_list_free(&prop);
	return rc;
}

/* ------------------------------------------------------------ throttles */

/* Sets (value != NULL) or deletes the two settings n1, n2 of a resource. */
static int set_pair(fluxo_admin_t *a, const fluxo_conf_t *conf,
		    const struct opts *o, int type, const char *name,
		    const char *n1, const char *v1, const char *n2,
		    const char *v2, bool del)
{
	const char *names[2], *values[2];
	char errstr[512] = "", what[128];
	size_t n = 0;
	int rc;

	if (del || (v1 && *v1)) {
		names[n] = n1;
		values[n++] = v1;
	}
	if (del || (v2 && *v2)) {
		names[n] = n2;
		values[n++] = v2;
	}
	if (n == 0)
		return 0;
	rc = fluxo_admin_alter_configs(a, type, name, del ? NULL : names,
				       del ? NULL : values, del ? 0 : n,
				       del ? names : NULL, del ? n : 0, false,
				       o->timeout_ms, errstr, sizeof(errstr));
	if (rc == 0)
		return 0;
	snprintf(what, sizeof(what), "%s the throttle of %s %s",
		 del ? "removing" : "setting",
		 type == FLUXO_RESOURCE_TOPIC ? "topic" : "broker", name);
	return client_error(conf, o, what, rc, errstr);
}

static int set_throttles(fluxo_admin_t *a, const fluxo_conf_t *conf,
			 const struct opts *o, const fluxo_metadata_t *md,
			 const struct move_list *moves)
{
	const char **topics = NULL;
	int32_t *brokers = NULL;
	size_t n_topics = 0;
	char rate[32], id[16];
	int n_brokers = 0, rc = 0;

	if (reassign_topics(moves, &topics, &n_topics) != 0 ||
	    reassign_brokers(md, moves, &brokers, &n_brokers) != 0) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n_topics; i++) {
		char *leader = NULL, *follower = NULL;

		if (reassign_throttles(md, moves, topics[i], &leader,
				       &follower) != 0) {
			rc = tool_error(&spec, "out of memory");
			break;
		}
		rc = set_pair(a, conf, o, FLUXO_RESOURCE_TOPIC, topics[i],
			      LEADER_REPLICAS, leader, FOLLOWER_REPLICAS,
			      follower, false);
		free(leader);
		free(follower);
	}
	snprintf(rate, sizeof(rate), "%lld", (long long)o->throttle);
	for (int i = 0; rc == 0 && i < n_brokers; i++) {
		snprintf(id, sizeof(id), "%d", (int)brokers[i]);
		rc = set_pair(a, conf, o, FLUXO_RESOURCE_BROKER, id,
			      LEADER_RATE, rate, FOLLOWER_RATE, rate, false);
	}
	if (rc == 0)
		printf("The inter-broker throttle limit was set to %s B/s\n",
		       rate);
out:
	free(topics);
	free(brokers);
	return rc;
}

/* Kafka's clearAllThrottles: every live broker (and every broker of the
 * targets), every topic of the file. */
static int clear_throttles(fluxo_admin_t *a, const fluxo_conf_t *conf,
			   const struct opts *o, const fluxo_metadata_t *md,
			   const struct move_list *moves)
{
	const char **topics = NULL;
	int32_t *ids = NULL;
	size_t n_topics = 0, cap = (size_t)md->broker_cnt;
	int n_ids = 0, rc = 0;
	char id[16];

	for (size_t i = 0; i < moves->n; i++)
		cap += (size_t)moves->v[i].n_replicas;
	ids = malloc((cap + 1) * sizeof(*ids));
	if (!ids || reassign_topics(moves, &topics, &n_topics) != 0) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	for (int i = 0; i < md->broker_cnt; i++)
		ids[n_ids++] = md->brokers[i].id;
	for (size_t i = 0; i < moves->n; i++)
		for (int j = 0; j < moves->v[i].n_replicas; j++) {
			bool seen = false;

			for (int k = 0; k < n_ids && !seen; k++)
				seen = ids[k] == moves->v[i].replicas[j];
			if (!seen)
				ids[n_ids++] = moves->v[i].replicas[j];
		}
	printf("Clearing broker-level throttles on broker%s ",
	       n_ids == 1 ? "" : "s");
	for (int i = 0; i < n_ids; i++)
		printf("%s%d", i ? "," : "", (int)ids[i]);
	printf("\n");
	for (int i = 0; rc == 0 && i < n_ids; i++) {
		snprintf(id, sizeof(id), "%d", (int)ids[i]);
		rc = set_pair(a, conf, o, FLUXO_RESOURCE_BROKER, id,
			      LEADER_RATE, NULL, FOLLOWER_RATE, NULL, true);
	}
	if (rc)
		goto out;
	printf("Clearing topic-level throttles on topic%s ",
	       n_topics == 1 ? "" : "s");
	for (size_t i = 0; i < n_topics; i++)
		printf("%s%s", i ? "," : "", topics[i]);
	printf("\n");
	for (size_t i = 0; rc == 0 && i < n_topics; i++)
		rc = set_pair(a, conf, o, FLUXO_RESOURCE_TOPIC, topics[i],
			      LEADER_REPLICAS, NULL, FOLLOWER_REPLICAS, NULL,
			      true);
out:
	free(ids);
	free(topics);
	return rc;
}

/* ------------------------------------------------------------ execute */

/* Partitions and brokers of the file must exist (Kafka's checks). */
static int check_moves(const struct move_list *moves,
		       const fluxo_metadata_t *md)
{
	for (size_t i = 0; i < moves->n; i++)
		if (!md_partition(md, moves->v[i].topic, moves->v[i].partition))
			return tool_error(&spec,
					  "The proposed assignment contains "
					  "non-existent partitions: %s-%d",
					  moves->v[i].topic,
					  (int)moves->v[i].partition);
	for (size_t i = 0; i < moves->n; i++)
		for (int j = 0; j < moves->v[i].n_replicas; j++) {
			bool live = false;

			for (int k = 0; k < md->broker_cnt && !live; k++)
				live = md->brokers[k].id ==
				       moves->v[i].replicas[j];
			if (!live)
				return tool_error(
				    &spec,
				    "The proposed assignment contains "
				    "non-existent brokerIDs: %d (not "
				    "among the live brokers)",
				    (int)moves->v[i].replicas[j]);
		}
	return 0;
}

/* Prints "<head>t-0,t-1" naming every partition of r. */
static void print_results(const char *head, const fluxo_partition_result_t *r,
			  size_t n)
{
	printf("%s", head);
	for (size_t i = 0, k = 0; i < n; i++)
		printf("%s%s-%d", k++ ? "," : "", r[i].topic,
		       (int)r[i].partition);
	printf("\n");
}

static int report_failures(const char *head, const fluxo_partition_result_t *r,
			   size_t n)
{
	FILE *err = tool_err ? tool_err : stderr;
	size_t bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += r[i].err != 0;
	if (!bad)
		return 0;
	fprintf(err, "%s\n", head);
	for (size_t i = 0; i < n; i++)
		if (r[i].err)
			fprintf(err, "%s-%d: %s\n", r[i].topic,
				(int)r[i].partition,
				r[i].errstr ? r[i].errstr
					    : fluxo_err2str(r[i].err));
	return TOOL_ERROR;
}

static int do_execute(const struct opts *o, fluxo_admin_t *a,
		      const fluxo_conf_t *conf, const fluxo_metadata_t *md)
{
	struct move_list moves = {0}, cur = {0};
	fluxo_ongoing_reassignment_t *ongoing = NULL;
	fluxo_partition_result_t *res = NULL;
	fluxo_reassignment_t *req = NULL;
	size_t n_ongoing = 0, n_res = 0;
	char errstr[512] = "", *json = NULL;
	int rc;

	rc = load_moves(o, &moves);
	if (rc)
		goto out;
	rc = check_moves(&moves, md);
	if (rc)
		goto out;
	rc = fluxo_admin_list_reassignments(a, NULL, 0, o->timeout_ms, &ongoing,
					    &n_ongoing, errstr, sizeof(errstr));
	if (rc) {
		rc = client_error(conf, o, "listing reassignments", rc, errstr);
		goto out;
	}
	if (n_ongoing && !o->additional) {
		rc = tool_error(&spec,
				"Cannot execute because there is an existing "
				"partition assignment.  Use --additional to "
				"override this and create a new partition "
				"assignment in addition to the existing one. "
				"The --additional flag can also be used to "
				"change the throttle by resubmitting the "
				"current reassignment.");
		goto out;
	}
	if (reassign_current(md, &moves, &cur) != 0 ||
	    !(json = reassign_json_format(&cur))) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	printf("Current partition replica assignment\n\n%s\n\n"
	       "Save this to use as the --reassignment-json-file option "
	       "during rollback\n",
	       json);
	if (o->seen[F_THROTTLE]) {
		printf("Warning: You must run --verify periodically, until the "
		       "reassignment completes, to ensure the throttle is "
		       "removed.\n");
		fflush(stdout);
		rc = set_throttles(a, conf, o, md, &moves);
		if (rc)
			goto out;
	}
	req = calloc(moves.n, sizeof(*req));
	if (!req) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < moves.n; i++) {
		req[i].topic = moves.v[i].topic;
		req[i].partition = moves.v[i].partition;
		req[i].replicas = moves.v[i].replicas;
		req[i].replica_cnt = moves.v[i].n_replicas;
	}
	rc = fluxo_admin_alter_reassignments(a, req, moves.n, o->timeout_ms,
					     &res, &n_res, errstr,
					     sizeof(errstr));
	if (rc) {
		rc = client_error(conf, o, "starting the reassignment", rc,
				  errstr);
		goto out;
	}
	fflush(stdout);
	rc = report_failures("Error reassigning partition(s):", res, n_res);
	if (rc == 0)
		print_results(n_res == 1 ? "Successfully started partition "
					   "reassignment for "
					 : "Successfully started partition "
					   "reassignments for ",
			      res, n_res);
out:
	free(json);
	free(req);
	fluxo_partition_results_destroy(res, n_res);
	fluxo_ongoing_reassignments_destroy(ongoing, n_ongoing);
	move_list_free(&moves);
	move_list_free(&cur);
	return rc;
}

/* ------------------------------------------------------------ verify */

static int do_verify(const struct opts *o, fluxo_admin_t *a,
		     const fluxo_conf_t *conf, const fluxo_metadata_t *md)
{
	struct move_list moves = {0};
	fluxo_ongoing_reassignment_t *ongoing = NULL;
	fluxo_topic_partition_t *filter = NULL;
	struct verify_result vr;
	size_t n_ongoing = 0;
	char errstr[512] = "";
	int rc;

	rc = load_moves(o, &moves);
	if (rc)
		goto out;
	filter = as_filter(&moves);
	if (!filter) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	rc = fluxo_admin_list_reassignments(a, filter, moves.n, o->timeout_ms,
					    &ongoing, &n_ongoing, errstr,
					    sizeof(errstr));
	if (rc) {
		rc = client_error(conf, o, "listing reassignments", rc, errstr);
		goto out;
	}
	reassign_print_verify(stdout, &moves, ongoing, n_ongoing, md, &vr);
	if (vr.in_progress == 0 && !o->preserve)
		rc = clear_throttles(a, conf, o, md, &moves);
out:
	free(filter);
	fluxo_ongoing_reassignments_destroy(ongoing, n_ongoing);
	move_list_free(&moves);
	return rc;
}

/* ------------------------------------------------------------ cancel */

static int do_cancel(const struct opts *o, fluxo_admin_t *a,
		     const fluxo_conf_t *conf, const fluxo_metadata_t *md)
{
	struct move_list moves = {0};
	fluxo_ongoing_reassignment_t *ongoing = NULL;
	fluxo_topic_partition_t *filter = NULL;
	fluxo_partition_result_t *res = NULL;
	fluxo_reassignment_t *req = NULL;
	size_t n_ongoing = 0, n_res = 0, n_req = 0;
	char errstr[512] = "";
	int rc;

	rc = load_moves(o, &moves);
	if (rc)
		goto out;
	filter = as_filter(&moves);
	if (!filter) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	rc = fluxo_admin_list_reassignments(a, filter, moves.n, o->timeout_ms,
					    &ongoing, &n_ongoing, errstr,
					    sizeof(errstr));
	if (rc) {
		rc = client_error(conf, o, "listing reassignments", rc, errstr);
		goto out;
	}
	req = calloc(n_ongoing + 1, sizeof(*req));
	if (!req) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_ongoing; i++) {
		if (!ongoing[i].adding_cnt && !ongoing[i].removing_cnt)
			continue;
		req[n_req].topic = ongoing[i].topic;
		req[n_req].partition = ongoing[i].partition;
		req[n_req++].cancel = true;
	}
	if (n_req == 0) {
		printf("None of the specified partition reassignments are "
		       "active.\n");
	} else {
		rc = fluxo_admin_alter_reassignments(
		    a, req, n_req, o->timeout_ms, &res, &n_res, errstr,
		    sizeof(errstr));
		if (rc) {
			rc = client_error(conf, o, "cancelling", rc, errstr);
			goto out;
		}
		rc = report_failures(n_res == 1 ? "Error cancelling partition "
						  "reassignment for:"
						: "Error cancelling partition "
						  "reassignments for:",
				     res, n_res);
		if (rc)
			goto out;
		print_results(n_res == 1 ? "Successfully cancelled partition "
					   "reassignment for: "
					 : "Successfully cancelled partition "
					   "reassignments for: ",
			      res, n_res);
	}
	if (!o->preserve)
		rc = clear_throttles(a, conf, o, md, &moves);
out:
	free(req);
	free(filter);
	fluxo_partition_results_destroy(res, n_res);
	fluxo_ongoing_reassignments_destroy(ongoing, n_ongoing);
	move_list_free(&moves);
	return rc;
}

static int do_list(const struct opts *o, fluxo_admin_t *a,
		   const fluxo_conf_t *conf)
{
	fluxo_ongoing_reassignment_t *l = NULL;
	char errstr[512] = "";
	size_t n = 0;
	int rc;

	rc = fluxo_admin_list_reassignments(a, NULL, 0, o->timeout_ms, &l, &n,
					    errstr, sizeof(errstr));
	if (rc)
		return client_error(conf, o, "listing reassignments", rc,
				    errstr);
	reassign_print_list(stdout, l, n);
	fluxo_ongoing_reassignments_destroy(l, n);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = REASSIGN_TIMEOUT_MS, .throttle = -1};
	fluxo_conf_t *conf = NULL;
	fluxo_metadata_t *md = NULL;
	fluxo_admin_t *admin = NULL;
	int rc;

	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	rc = check_args(&o);
	if (rc != 0)
		goto out;
	admin = tool_admin_open(&spec, o.bootstrap, "--command-config",
				o.command_config, o.timeout_ms, &conf, &md);
	if (!admin) {
		rc = TOOL_ERROR;
		goto out;
	}
	switch (o.action) {
	case F_GENERATE:
		rc = do_generate(&o, md);
		break;
	case F_EXECUTE:
		rc = do_execute(&o, admin, conf, md);
		break;
	case F_VERIFY:
		rc = do_verify(&o, admin, conf, md);
		break;
	case F_CANCEL:
		rc = do_cancel(&o, admin, conf, md);
		break;
	case F_LIST:
		rc = do_list(&o, admin, conf);
		break;
	}
out:
	fflush(stdout);
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	fluxo_conf_destroy(conf);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
