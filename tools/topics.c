/*
 * topics.c - fluxo-topics: create, list, describe, alter and delete topics,
 * with the flags and output of Kafka 2.8's kafka-topics.sh.
 *
 * Every action first asks the cluster for metadata within a few seconds
 * (TOOL_CONNECT_TIMEOUT_MS, or --timeout if shorter), so a wrong
 * --bootstrap-server fails fast with the address in the message; the
 * action itself then gets --timeout (30 s by default).
 *
 * Kafka prints failures of the action itself as "Error while executing
 * topic command : <reason>" and exits 1; so do we (on stderr). Usage
 * errors use the common one-line format. --topic is a regular expression
 * for --list, --describe, --alter and --delete, matched against whole
 * names; --create takes it literally.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fluxo.h"
#include "toolcommon.h"
#include "toolconf.h"
#include "topics_util.h"

#define TOPICS_DEFAULT_TIMEOUT_MS 30000

enum {
	F_BOOTSTRAP = 1,
	F_COMMAND_CONFIG,
	F_CREATE,
	F_LIST,
	F_DESCRIBE,
	F_ALTER,
	F_DELETE,
	F_TOPIC,
	F_PARTITIONS,
	F_REPLICATION_FACTOR,
	F_CONFIG,
	F_REPLICA_ASSIGNMENT,
	F_IF_EXISTS,
	F_IF_NOT_EXISTS,
	F_UNDER_REPLICATED,
	F_UNAVAILABLE,
	F_UNDER_MIN_ISR,
	F_AT_MIN_ISR,
	F_WITH_OVERRIDES,
	F_EXCLUDE_INTERNAL,
	F_TIMEOUT,
};

static const struct tool_flag flags[] = {
	{ "bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
	  "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP },
	{ "command-config", TOOL_ARG_REQUIRED, "FILE",
	  "Properties file with client settings (security, timeouts).",
	  F_COMMAND_CONFIG },
	{ "create", TOOL_ARG_NONE, NULL, "Create a new topic.", F_CREATE },
	{ "list", TOOL_ARG_NONE, NULL, "List all available topics.", F_LIST },
	{ "describe", TOOL_ARG_NONE, NULL,
	  "List details for the given topics.", F_DESCRIBE },
	{ "alter", TOOL_ARG_NONE, NULL,
	  "Alter the number of partitions of the topic.", F_ALTER },
	{ "delete", TOOL_ARG_NONE, NULL, "Delete a topic.", F_DELETE },
	{ "topic", TOOL_ARG_REQUIRED, "TOPIC",
	  "The topic to create, alter, describe or delete. Except with "
	  "--create it is a regular expression matched against whole names; "
	  "escape dots to match them literally, e.g. 'test\\.topic'.",
	  F_TOPIC },
	{ "partitions", TOOL_ARG_REQUIRED, "N",
	  "The number of partitions for the topic being created or altered "
	  "(WARNING: If partitions are increased for a topic that has a key, "
	  "the partition logic or ordering of the messages will be affected). "
	  "If not supplied for create, defaults to the cluster default.",
	  F_PARTITIONS },
	{ "replication-factor", TOOL_ARG_REQUIRED, "N",
	  "The replication factor for each partition in the topic being "
	  "created. If not supplied, defaults to the cluster default.",
	  F_REPLICATION_FACTOR },
	{ "config", TOOL_ARG_REQUIRED, "NAME=VALUE",
	  "A topic configuration override for the topic being created "
	  "(repeatable), e.g. --config retention.ms=86400000.",
	  F_CONFIG },
	{ "replica-assignment", TOOL_ARG_REQUIRED, "B:B,B:B",
	  "Manual partition-to-broker assignment for the topic being "
	  "created: partitions separated by commas, broker ids of a "
	  "partition by colons, the first id being the preferred leader.",
	  F_REPLICA_ASSIGNMENT },
	{ "if-exists", TOOL_ARG_NONE, NULL,
	  "With --alter, --delete or --describe: only act if the topic "
	  "exists.",
	  F_IF_EXISTS },
	{ "if-not-exists", TOOL_ARG_NONE, NULL,
	  "With --create: only create the topic if it does not exist.",
	  F_IF_NOT_EXISTS },
	{ "under-replicated-partitions", TOOL_ARG_NONE, NULL,
	  "With --describe: only show under-replicated partitions.",
	  F_UNDER_REPLICATED },
	{ "unavailable-partitions", TOOL_ARG_NONE, NULL,
	  "With --describe: only show partitions whose leader is not "
	  "available.",
	  F_UNAVAILABLE },
	{ "under-min-isr-partitions", TOOL_ARG_NONE, NULL,
	  "With --describe: only show partitions whose ISR is smaller than "
	  "min.insync.replicas.",
	  F_UNDER_MIN_ISR },
	{ "at-min-isr-partitions", TOOL_ARG_NONE, NULL,
	  "With --describe: only show partitions whose ISR size equals "
	  "min.insync.replicas.",
	  F_AT_MIN_ISR },
	{ "topics-with-overrides", TOOL_ARG_NONE, NULL,
	  "With --describe: only show topics that have overridden settings.",
	  F_WITH_OVERRIDES },
	{ "exclude-internal", TOOL_ARG_NONE, NULL,
	  "With --list or --describe: leave out internal topics.",
	  F_EXCLUDE_INTERNAL },
	{ "timeout", TOOL_ARG_REQUIRED, "MS",
	  "How long to wait for the cluster to complete the action (default "
	  "30000).",
	  F_TIMEOUT },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-topics",
	.synopsis = "--bootstrap-server HOST:PORT (--create | --list | "
		    "--describe | --alter | --delete) [options]",
	.summary = "Create, delete, describe, or change a topic.",
	.flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *command_config;
	int action;		/* F_CREATE .. F_DELETE */
	int action_cnt;
	const char *topic;
	int partitions;		/* -1: not given */
	int replication_factor;	/* -1: not given */
	struct tool_props configs;
	const char *replica_assignment;
	bool if_exists, if_not_exists;
	bool under_replicated, unavailable, under_min_isr, at_min_isr;
	bool with_overrides, exclude_internal;
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
	case F_CREATE:
	case F_LIST:
	case F_DESCRIBE:
	case F_ALTER:
	case F_DELETE:
		if (o->action != f->id)
			o->action_cnt++;
		o->action = f->id;
		return 0;
	case F_TOPIC:
		o->topic = arg;
		return 0;
	case F_PARTITIONS:
		return tool_parse_int(&spec, "--partitions", arg, INT32_MIN,
				      INT32_MAX, &o->partitions);
	case F_REPLICATION_FACTOR:
		return tool_parse_int(&spec, "--replication-factor", arg,
				      INT32_MIN, INT32_MAX,
				      &o->replication_factor);
	case F_CONFIG:
		return tool_props_add_kv(&spec, &o->configs, "--config", arg);
	case F_REPLICA_ASSIGNMENT:
		o->replica_assignment = arg;
		return 0;
	case F_IF_EXISTS:
		o->if_exists = true;
		return 0;
	case F_IF_NOT_EXISTS:
		o->if_not_exists = true;
		return 0;
	case F_UNDER_REPLICATED:
		o->under_replicated = true;
		return 0;
	case F_UNAVAILABLE:
		o->unavailable = true;
		return 0;
	case F_UNDER_MIN_ISR:
		o->under_min_isr = true;
		return 0;
	case F_AT_MIN_ISR:
		o->at_min_isr = true;
		return 0;
	case F_WITH_OVERRIDES:
		o->with_overrides = true;
		return 0;
	case F_EXCLUDE_INTERNAL:
		o->exclude_internal = true;
		return 0;
	case F_TIMEOUT:
		return tool_parse_int(&spec, "--timeout", arg, 1, INT32_MAX,
				      &o->timeout_ms);
	}
	return 0;
}

static const char *action_name(int id)
{
	size_t i;

	for (i = 0; flags[i].name; i++)
		if (flags[i].id == id)
			return flags[i].name;
	return "?";
}

/* Kafka's checkInvalidArgs: flag may only be used with the listed actions. */
static int only_with(const struct opts *o, int flag, const int *actions,
		     size_t n)
{
	size_t i;

	if (!o->seen[flag])
		return 0;
	for (i = 0; i < n; i++)
		if (o->action == actions[i])
			return 0;
	return tool_usage_error(&spec, "--%s cannot be used with --%s",
				action_name(flag), action_name(o->action));
}

static int check_args(struct opts *o)
{
	static const int create[] = { F_CREATE };
	static const int create_alter[] = { F_CREATE, F_ALTER };
	static const int describe[] = { F_DESCRIBE };
	static const int alter_delete_describe[] = { F_ALTER, F_DELETE,
						     F_DESCRIBE };
	static const int list_describe[] = { F_LIST, F_DESCRIBE };
	const int reports[] = { F_UNDER_REPLICATED, F_UNAVAILABLE,
				F_UNDER_MIN_ISR, F_AT_MIN_ISR };
	int nreports = 0;
	size_t i;

	if (o->action_cnt != 1)
		return tool_usage_error(&spec,
					"Command must include exactly one "
					"action: --list, --describe, --create, "
					"--alter or --delete");
	if (!o->bootstrap)
		return tool_usage_error(&spec,
					"--bootstrap-server must be specified "
					"(e.g. --bootstrap-server "
					"localhost:9092)");
	if (o->action != F_LIST && o->action != F_DESCRIBE && !o->topic)
		return tool_usage_error(&spec,
					"--topic is required with --%s (e.g. "
					"--topic my-topic)",
					action_name(o->action));
	if (o->action == F_ALTER && !o->seen[F_PARTITIONS])
		return tool_usage_error(&spec,
					"--alter needs --partitions N (the new "
					"total number of partitions)");
	if (o->action == F_ALTER && o->seen[F_CONFIG])
		return tool_usage_error(&spec,
					"--config can only be used with "
					"--create; topic settings of existing "
					"topics are not changed by this tool");
	if (only_with(o, F_CONFIG, create, 1) ||
	    only_with(o, F_PARTITIONS, create_alter, 2) ||
	    only_with(o, F_REPLICATION_FACTOR, create, 1) ||
	    only_with(o, F_REPLICA_ASSIGNMENT, create, 1) ||
	    only_with(o, F_IF_EXISTS, alter_delete_describe, 3) ||
	    only_with(o, F_IF_NOT_EXISTS, create, 1) ||
	    only_with(o, F_EXCLUDE_INTERNAL, list_describe, 2) ||
	    only_with(o, F_WITH_OVERRIDES, describe, 1))
		return TOOL_ERROR;
	for (i = 0; i < 4; i++) {
		if (only_with(o, reports[i], describe, 1))
			return TOOL_ERROR;
		nreports += o->seen[reports[i]];
	}
	if (nreports > 1 || (nreports && o->with_overrides))
		return tool_usage_error(&spec,
					"use only one of "
					"--under-replicated-partitions, "
					"--unavailable-partitions, "
					"--under-min-isr-partitions, "
					"--at-min-isr-partitions and "
					"--topics-with-overrides");
	if (o->seen[F_REPLICA_ASSIGNMENT] &&
	    (o->seen[F_PARTITIONS] || o->seen[F_REPLICATION_FACTOR]))
		return tool_usage_error(&spec,
					"--replica-assignment cannot be used "
					"with --%s (the assignment fixes both)",
					o->seen[F_PARTITIONS] ?
						"partitions" :
						"replication-factor");
	return 0;
}

static int cmd_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Kafka's "Error while executing topic command : <reason>". */
static int cmd_error(const char *fmt, ...)
{
	FILE *err = tool_err ? tool_err : stderr;
	va_list ap;

	fputs("Error while executing topic command : ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return TOOL_ERROR;
}

static int client_error(const fluxo_conf_t *conf, int err,
			const char *errstr, int timeout_ms)
{
	const char *why = errstr && *errstr ? errstr : fluxo_err2str(err);
	char servers[1024] = "";

	if (tool_err_is_unreachable(err)) {
		fluxo_conf_get(conf, "bootstrap.servers", servers,
			       sizeof(servers));
		if (err == FLUXO_ERR__TIMED_OUT ||
		    err == FLUXO_ERR_REQUEST_TIMED_OUT)
			return cmd_error("cannot reach any broker at %s within "
					 "%d ms (%s)",
					 servers, timeout_ms, why);
		return cmd_error("cannot reach any broker at %s (%s)", servers,
				 why);
	}
	return cmd_error("%s", why);
}

/* Topics of md that --topic and --exclude-internal select, in name order. */
static int select_topics(const struct opts *o, const fluxo_metadata_t *md,
			 const fluxo_topic_md_t ***out, int *cnt)
{
	struct topic_filter filter;
	char errstr[256];
	int i, n = 0;

	*out = NULL;
	*cnt = 0;
	if (topic_filter_init(&filter, o->topic, errstr, sizeof(errstr)) != 0)
		return tool_usage_error(&spec, "%s", errstr);
	*out = calloc((size_t)md->topic_cnt + 1, sizeof(**out));
	if (!*out) {
		topic_filter_free(&filter);
		return tool_error(&spec, "out of memory");
	}
	for (i = 0; i < md->topic_cnt; i++) {
		const fluxo_topic_md_t *t = &md->topics[i];

		if (t->err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			continue;
		if (o->exclude_internal && t->is_internal)
			continue;
		if (topic_filter_match(&filter, t->name))
			(*out)[n++] = t;
	}
	topic_filter_free(&filter);
	*cnt = n;
	/* Kafka's ensureTopicExists. */
	if (n == 0 && o->topic && !o->if_exists && o->action != F_LIST)
		return cmd_error("Topic '%s' does not exist as expected",
				 o->topic);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const fluxo_config_entry_t *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Non-default settings "k=v,k=v" (Kafka: !isDefault) and min.insync. */
static int topic_configs(fluxo_admin_t *a, const char *topic, int timeout_ms,
			 char **configs, int *min_isr)
{
	fluxo_config_entry_t *e = NULL;
	char errstr[512] = "";
	size_t cnt = 0, i, len = 0;
	int rc;
	char *s;

	*configs = NULL;
	*min_isr = -1;
	rc = fluxo_admin_describe_configs(a, FLUXO_RESOURCE_TOPIC, topic,
					  false, timeout_ms, &e, &cnt, errstr,
					  sizeof(errstr));
	if (rc != 0) {
		fprintf(tool_err ? tool_err : stderr,
			"WARNING: could not read the settings of topic '%s': "
			"%s\n",
			topic, errstr[0] ? errstr : fluxo_err2str(rc));
		*configs = strdup("");
		return *configs ? 0 : TOOL_ERROR;
	}
	qsort(e, cnt, sizeof(*e), cmp_entry);
	for (i = 0; i < cnt; i++)
		len += strlen(e[i].name) + (e[i].value ? strlen(e[i].value) :
							 4) + 2;
	s = malloc(len + 1);
	if (!s) {
		fluxo_config_entries_destroy(e, cnt);
		return TOOL_ERROR;
	}
	s[0] = '\0';
	len = 0;
	for (i = 0; i < cnt; i++) {
		if (strcmp(e[i].name, "min.insync.replicas") == 0 &&
		    e[i].value)
			*min_isr = atoi(e[i].value);
		if (e[i].source == FLUXO_CONFIG_SOURCE_DEFAULT ||
		    e[i].source == FLUXO_CONFIG_SOURCE_UNKNOWN)
			continue;
		len += (size_t)sprintf(s + len, "%s%s=%s", len ? "," : "",
				       e[i].name,
				       e[i].value ? e[i].value : "null");
	}
	fluxo_config_entries_destroy(e, cnt);
	*configs = s;
	return 0;
}

static int do_list(const struct opts *o, const fluxo_metadata_t *md)
{
	const fluxo_topic_md_t **sel;
	int i, cnt, rc;

	rc = select_topics(o, md, &sel, &cnt);
	for (i = 0; rc == 0 && i < cnt; i++)
		printf("%s\n", sel[i]->name);
	free(sel);
	return rc;
}

static bool partition_selected(const struct opts *o,
			       const fluxo_partition_md_t *p,
			       const fluxo_metadata_t *md, int min_isr)
{
	if (!o->under_replicated && !o->unavailable && !o->under_min_isr &&
	    !o->at_min_isr)
		return true;
	return (o->under_replicated && partition_under_replicated(p)) ||
	       (o->unavailable && partition_unavailable(p, md)) ||
	       (o->under_min_isr && partition_under_min_isr(p, min_isr)) ||
	       (o->at_min_isr && partition_at_min_isr(p, min_isr));
}

static int do_describe(const struct opts *o, fluxo_admin_t *a,
		       const fluxo_metadata_t *md)
{
	bool reports = o->under_replicated || o->unavailable ||
		       o->under_min_isr || o->at_min_isr;
	const fluxo_topic_md_t **sel;
	int i, j, cnt, rc;

	rc = select_topics(o, md, &sel, &cnt);
	for (i = 0; rc == 0 && i < cnt; i++) {
		const fluxo_topic_md_t *t = sel[i];
		int rf = t->partition_cnt > 0 ? t->partitions[0].replica_cnt :
						0;
		char *configs = NULL;
		int min_isr;

		if (topic_configs(a, t->name, o->timeout_ms, &configs,
				  &min_isr) != 0) {
			rc = tool_error(&spec, "out of memory");
			break;
		}
		if (!reports && (!o->with_overrides || configs[0]))
			topic_print_summary(stdout, t->name, t->partition_cnt,
					    rf, configs);
		for (j = 0; !o->with_overrides && j < t->partition_cnt; j++)
			if (partition_selected(o, &t->partitions[j], md,
					       min_isr))
				topic_print_partition(stdout, t->name,
						      &t->partitions[j]);
		free(configs);
	}
	free(sel);
	return rc;
}

static int do_create(const struct opts *o, fluxo_admin_t *a,
		     const fluxo_conf_t *conf)
{
	struct replica_assignment ra = { 0 };
	const char **names = NULL, **values = NULL;
	fluxo_new_topic_t t;
	char errstr[512] = "";
	size_t i;
	int rc;

	if (o->seen[F_REPLICATION_FACTOR] &&
	    (o->replication_factor < 1 || o->replication_factor > 32767))
		return cmd_error("The replication factor must be between 1 "
				 "and 32767 inclusive");
	if (o->seen[F_PARTITIONS] && o->partitions < 1)
		return cmd_error("The partitions must be greater than 0");
	memset(&t, 0, sizeof(t));
	t.name = o->topic;
	t.num_partitions = o->seen[F_PARTITIONS] ? o->partitions : -1;
	t.replication_factor = o->seen[F_REPLICATION_FACTOR] ?
				       o->replication_factor :
				       -1;
	if (o->replica_assignment) {
		if (replica_assignment_parse(o->replica_assignment, &ra, errstr,
					     sizeof(errstr)) != 0)
			return cmd_error("%s", errstr);
		t.num_partitions = ra.partition_cnt;
		t.replication_factor = ra.replica_cnt;
		t.assignment = ra.rows;
		t.assignment_cnt = ra.row_cnt;
	}
	if (o->configs.cnt) {
		names = calloc(o->configs.cnt, sizeof(*names));
		values = calloc(o->configs.cnt, sizeof(*values));
		if (!names || !values) {
			rc = tool_error(&spec, "out of memory");
			goto out;
		}
		for (i = 0; i < o->configs.cnt; i++) {
			names[i] = o->configs.v[i].key;
			values[i] = o->configs.v[i].value;
		}
		t.config_names = names;
		t.config_values = values;
		t.config_cnt = o->configs.cnt;
	}
	rc = fluxo_admin_create_topic(a, &t, false, o->timeout_ms, errstr,
				      sizeof(errstr));
	if (rc == 0) {
		printf("Created topic %s.\n", o->topic);
	} else if (rc == FLUXO_ERR_TOPIC_ALREADY_EXISTS) {
		rc = o->if_not_exists ?
			     0 :
			     cmd_error("Topic '%s' already exists.", o->topic);
	} else {
		rc = client_error(conf, rc, errstr, o->timeout_ms);
	}
out:
	free(names);
	free(values);
	replica_assignment_free(&ra);
	return rc == 0 ? 0 : TOOL_ERROR;
}

static int do_alter(const struct opts *o, fluxo_admin_t *a,
		    const fluxo_metadata_t *md, const fluxo_conf_t *conf)
{
	const fluxo_topic_md_t **sel;
	int i, cnt, rc, failed = 0;

	rc = select_topics(o, md, &sel, &cnt);
	if (rc != 0 || cnt == 0) {
		free(sel);
		return rc;
	}
	printf("WARNING: If partitions are increased for a topic that has a "
	       "key, the partition logic or ordering of the messages will be "
	       "affected\n");
	fflush(stdout);
	for (i = 0; i < cnt; i++) {
		char errstr[512] = "";

		rc = fluxo_admin_create_partitions(a, sel[i]->name,
						   o->partitions,
						   o->timeout_ms, errstr,
						   sizeof(errstr));
		if (rc != 0) {
			client_error(conf, rc, errstr, o->timeout_ms);
			failed = 1;
		}
	}
	if (!failed)
		printf("Adding partitions succeeded!\n");
	free(sel);
	return failed ? TOOL_ERROR : 0;
}

static int do_delete(const struct opts *o, fluxo_admin_t *a,
		     const fluxo_metadata_t *md, const fluxo_conf_t *conf)
{
	const fluxo_topic_md_t **sel;
	int i, cnt, rc, failed = 0;

	rc = select_topics(o, md, &sel, &cnt);
	for (i = 0; rc == 0 && i < cnt; i++) {
		char errstr[512] = "";
		int err = fluxo_admin_delete_topic(a, sel[i]->name,
						   o->timeout_ms, errstr,
						   sizeof(errstr));

		if (err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
			continue;
		if (err != 0) {
			client_error(conf, err, errstr, o->timeout_ms);
			failed = 1;
		}
	}
	free(sel);
	return rc != 0 || failed ? TOOL_ERROR : 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tool_props explicit_props = TOOL_PROPS_INIT;
	fluxo_conf_t *conf = NULL, *keep = NULL;
	fluxo_admin_t *admin = NULL;
	fluxo_metadata_t *md = NULL;
	const char *probe_topic[1];
	char errstr[512] = "";
	int rc, probe_ms;

	memset(&o, 0, sizeof(o));
	o.partitions = -1;
	o.replication_factor = -1;
	o.timeout_ms = TOPICS_DEFAULT_TIMEOUT_MS;
	tool_signals_init();
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc != TOOL_CONTINUE)
		goto out;
	rc = check_args(&o);
	if (rc != 0)
		goto out;
	if (tool_props_set(&explicit_props, "bootstrap.servers", o.bootstrap,
			   "--bootstrap-server") != 0) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	conf = tool_conf_build(&spec, NULL, "--command-config",
			       o.command_config, NULL, &explicit_props);
	if (!conf) {
		rc = TOOL_ERROR;
		goto out;
	}
	/* The admin client takes conf; keep a copy for error messages. */
	keep = fluxo_conf_dup(conf);
	if (!keep) {
		rc = tool_error(&spec, "out of memory");
		goto out;
	}
	admin = fluxo_admin_new(conf, errstr, sizeof(errstr));
	if (!admin) {
		rc = tool_usage_error(&spec, "%s", errstr);
		goto out;
	}
	conf = keep;
	keep = NULL;
	/* The first contact is short so a wrong address fails fast. */
	probe_ms = o.timeout_ms < TOOL_CONNECT_TIMEOUT_MS ?
			   o.timeout_ms :
			   TOOL_CONNECT_TIMEOUT_MS;
	probe_topic[0] = o.topic;
	rc = fluxo_admin_metadata(admin, probe_topic,
				  o.action == F_CREATE ? 1 : 0, probe_ms, &md,
				  errstr, sizeof(errstr));
	if (rc != 0) {
		rc = client_error(conf, rc, errstr, probe_ms);
		goto out;
	}
	switch (o.action) {
	case F_LIST:
		rc = do_list(&o, md);
		break;
	case F_DESCRIBE:
		rc = do_describe(&o, admin, md);
		break;
	case F_CREATE:
		rc = do_create(&o, admin, conf);
		break;
	case F_ALTER:
		rc = do_alter(&o, admin, md, conf);
		break;
	case F_DELETE:
		rc = do_delete(&o, admin, md, conf);
		break;
	}
out:
	fflush(stdout);
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	fluxo_conf_destroy(conf);
	fluxo_conf_destroy(keep);
	tool_props_free(&explicit_props);
	tool_props_free(&o.configs);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
