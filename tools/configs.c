/*
 * configs.c - fluxo-configs: describe and change the settings of topics
 * and brokers at run time, with the flags and output of Kafka 2.8's
 * kafka-configs.sh (--bootstrap-server mode; entity types topics and
 * brokers).
 *
 * A topic's overrides live in /config/topics/<t>; a broker's dynamic
 * settings in /config/brokers/<id>, the cluster-wide default in
 * /config/brokers/<default>. Brokers apply a change within moments
 * (their config-change watch), without a restart.
 *
 * --describe prints, per entity, Kafka's heading and one line per
 * setting with its synonyms (every layer that sets it, the effective one
 * first); without --all only what was set dynamically for that entity.
 * A broker's settings are asked of that broker. --alter applies
 * --add-config and --delete-config in one incremental change; like Kafka
 * it first refuses to delete a setting that is not set ("Invalid
 * config(s): x"). Without --entity-name, --describe covers every topic,
 * or every live broker and then the cluster default.
 *
 * Errors of the action print Kafka's "Error while executing config
 * command with args '...'" and the reason on stderr, and exit 1.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fluxo.h"
#include "configs_util.h"
#include "toolcommon.h"
#include "toolconf.h"

#define CONFIGS_TIMEOUT_MS 30000

enum {
	F_BOOTSTRAP = 1,
	F_COMMAND_CONFIG,
	F_ENTITY_TYPE,
	F_ENTITY_NAME,
	F_ENTITY_DEFAULT,
	F_TOPIC,
	F_BROKER,
	F_BROKER_DEFAULTS,
	F_DESCRIBE,
	F_ALL,
	F_ALTER,
	F_ADD_CONFIG,
	F_DELETE_CONFIG,
	F_TIMEOUT,
};

static const struct tool_flag flags[] = {
    {"bootstrap-server", TOOL_ARG_REQUIRED, "HOST:PORT[,...]",
     "REQUIRED: the broker(s) to connect to.", F_BOOTSTRAP},
    {"command-config", TOOL_ARG_REQUIRED, "FILE",
     "Properties file with admin client settings.", F_COMMAND_CONFIG},
    {"entity-type", TOOL_ARG_REQUIRED, "topics|brokers", "Type of entity.",
     F_ENTITY_TYPE},
    {"entity-name", TOOL_ARG_REQUIRED, "NAME",
     "Name of entity: a topic name, or a broker id.", F_ENTITY_NAME},
    {"entity-default", TOOL_ARG_NONE, NULL,
     "The cluster-wide default of dynamic broker settings (with "
     "--entity-type brokers).",
     F_ENTITY_DEFAULT},
    {"topic", TOOL_ARG_REQUIRED, "TOPIC",
     "Same as --entity-type topics --entity-name TOPIC.", F_TOPIC},
    {"broker", TOOL_ARG_REQUIRED, "ID",
     "Same as --entity-type brokers --entity-name ID.", F_BROKER},
    {"broker-defaults", TOOL_ARG_NONE, NULL,
     "Same as --entity-type brokers --entity-default.", F_BROKER_DEFAULTS},
    {"describe", TOOL_ARG_NONE, NULL, "List configs for the entity.",
     F_DESCRIBE},
    {"all", TOOL_ARG_NONE, NULL,
     "With --describe: every setting with its effective value, not only "
     "those set dynamically.",
     F_ALL},
    {"alter", TOOL_ARG_NONE, NULL, "Alter the configuration of the entity.",
     F_ALTER},
    {"add-config", TOOL_ARG_REQUIRED, "K=V[,K=V]",
     "Settings to set, e.g. 'retention.ms=86400000,segment.bytes=1048576'; "
     "a value holding commas goes in brackets: "
     "'leader.replication.throttled.replicas=[0:1,1:2]'.",
     F_ADD_CONFIG},
    {"delete-config", TOOL_ARG_REQUIRED, "K[,K]",
     "Settings to remove, e.g. 'retention.ms,segment.bytes'.", F_DELETE_CONFIG},
    {"timeout", TOOL_ARG_REQUIRED, "MS",
     "How long each request may take (default 30000).", F_TIMEOUT},
    TOOL_FLAG_END};

static const struct tool_spec spec = {
    .prog = "fluxo-configs",
    .synopsis = "--bootstrap-server HOST:PORT --entity-type topics|brokers "
		"(--entity-name NAME | --entity-default) (--describe [--all] "
		"| --alter --add-config K=V,... --delete-config K,...)",
    .summary = "Describes or changes the settings of a topic or a broker "
	       "while the cluster runs.",
    .flags = flags,
};

struct opts {
	const char *bootstrap;
	const char *command_config;
	const char *entity_type;
	const char *entity_name;
	bool entity_default;
	int type_flags; /* --entity-type, --topic, --broker, ... */
	int action;	/* F_DESCRIBE or F_ALTER */
	int action_cnt;
	bool all;
	struct config_list add;
	struct config_list del;
	bool has_add, has_del;
	int timeout_ms;
	int argc;
	char **argv;
};

static int set_entity(struct opts *o, const char *type, const char *name,
		      bool deflt)
{
	if (o->entity_type && strcmp(o->entity_type, type) != 0)
		return tool_usage_error(&spec,
					"only one entity type may be given "
					"(got %s and %s)",
					o->entity_type, type);
	o->entity_type = type;
	if (name) {
		if (o->entity_name && strcmp(o->entity_name, name) != 0)
			return tool_usage_error(&spec,
						"only one entity name may be "
						"given (got '%s' and '%s')",
						o->entity_name, name);
		o->entity_name = name;
	}
	if (deflt)
		o->entity_default = true;
	return 0;
}

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;
	char errstr[512];

	switch (f->id) {
	case F_BOOTSTRAP:
		o->bootstrap = arg;
		return tool_check_bootstrap(&spec, "--bootstrap-server", arg);
	case F_COMMAND_CONFIG:
		o->command_config = arg;
		return 0;
	case F_ENTITY_TYPE:
		if (strcmp(arg, "topics") != 0 && strcmp(arg, "brokers") != 0)
			return tool_usage_error(&spec,
						"--entity-type expects topics "
						"or brokers, got '%s'",
						arg);
		return set_entity(
		    o, strcmp(arg, "topics") == 0 ? "topics" : "brokers", NULL,
		    false);
	case F_ENTITY_NAME:
		if (o->entity_name && strcmp(o->entity_name, arg) != 0)
			return tool_usage_error(&spec,
						"only one entity name may be "
						"given (got '%s' and '%s')",
						o->entity_name, arg);
		o->entity_name = arg;
		return 0;
	case F_ENTITY_DEFAULT:
		o->entity_default = true;
		return 0;
	case F_TOPIC:
		return set_entity(o, "topics", arg, false);
	case F_BROKER:
		return set_entity(o, "brokers", arg, false);
	case F_BROKER_DEFAULTS:
		return set_entity(o, "brokers", NULL, true);
	case F_DESCRIBE:
	case F_ALTER:
		if (o->action != f->id)
			o->action_cnt++;
		o->action = f->id;
		return 0;
	case F_ALL:
		o->all = true;
		return 0;
	case F_ADD_CONFIG:
		o->has_add = true;
		if (config_parse_add(arg, &o->add, errstr, sizeof(errstr)) != 0)
			return tool_usage_error(&spec, "%s", errstr);
		return 0;
	case F_DELETE_CONFIG:
		o->has_del = true;
		if (config_parse_delete(arg, &o->del, errstr, sizeof(errstr)) !=
		    0)
			return tool_usage_error(&spec, "%s", errstr);
		return 0;
	case F_TIMEOUT:
		return tool_parse_int(&spec, "--timeout", arg, 1, INT32_MAX,
				      &o->timeout_ms);
	}
	return 0;
}

static bool is_broker_id(const char *s)
{
	char *end;
	long v;

	if (!*s)
		return false;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 && v <= INT32_MAX;
}

static int check_args(const struct opts *o)
{
	bool brokers;

	if (o->action_cnt != 1)
		return tool_usage_error(&spec,
					"Command must include exactly one "
					"action: --describe or --alter");
	if (!o->bootstrap)
		return tool_usage_error(&spec,
					"--bootstrap-server must be specified "
					"(e.g. --bootstrap-server "
					"localhost:9092)");
	if (!o->entity_type)
		return tool_usage_error(&spec,
					"--entity-type must be specified "
					"(topics or brokers), or use --topic / "
					"--broker / --broker-defaults");
	brokers = strcmp(o->entity_type, "brokers") == 0;
	if (o->entity_name && o->entity_default)
		return tool_usage_error(&spec,
					"--entity-name and --entity-default "
					"cannot be used together");
	if (o->entity_default && !brokers)
		return tool_usage_error(&spec,
					"--entity-default is only for "
					"--entity-type brokers (topics have no "
					"default entity)");
	if (brokers && o->entity_name && !is_broker_id(o->entity_name))
		return tool_usage_error(&spec,
					"The entity name for brokers must be a "
					"valid integer broker id, got '%s'",
					o->entity_name);
	if (o->action == F_ALTER) {
		if (!o->entity_name && !o->entity_default)
			return tool_usage_error(&spec,
						"an entity name must be "
						"specified with --alter of %s "
						"(--entity-name%s)",
						o->entity_type,
						brokers ? " or --entity-default"
							: "");
		if (!o->has_add && !o->has_del)
			return tool_usage_error(&spec,
						"At least one of --add-config "
						"or --delete-config must be "
						"specified with --alter");
		if (o->all)
			return tool_usage_error(&spec,
						"--all can only be used with "
						"--describe");
	} else if (o->has_add || o->has_del) {
		return tool_usage_error(&spec,
					"--add-config and --delete-config can "
					"only be used with --alter");
	}
	for (size_t i = 0; i < o->add.n; i++)
		for (size_t j = 0; j < o->del.n; j++)
			if (strcmp(o->add.names[i], o->del.names[j]) == 0)
				return tool_usage_error(
				    &spec, "%s is both added and deleted",
				    o->add.names[i]);
	return 0;
}

/* Kafka's failure report: the command line, then the reason. */
static int cmd_error(const struct opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cmd_error(const struct opts *o, const char *fmt, ...)
{
	FILE *err = tool_err ? tool_err : stderr;
	va_list ap;

	fputs("Error while executing config command with args '", err);
	for (int i = 1; i < o->argc; i++)
		fprintf(err, "%s%s", i > 1 ? " " : "", o->argv[i]);
	fputs("'\n", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return TOOL_ERROR;
}

static int client_error(const struct opts *o, const fluxo_conf_t *conf, int err,
			const char *errstr)
{
	/* A broker id the cluster does not list is not a connection
	 * problem of the whole cluster. */
	if (tool_err_is_unreachable(err) &&
	    err != FLUXO_ERR_BROKER_NOT_AVAILABLE)
		return tool_report_client_error(&spec, conf, "config", err,
						errstr, o->timeout_ms);
	return cmd_error(o, "%s",
			 errstr && *errstr ? errstr : fluxo_err2str(err));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const fluxo_config_entry_t *)a)->name,
		      ((const fluxo_config_entry_t *)b)->name);
}

static enum config_scope scope_of(bool brokers, const char *name)
{
	if (!brokers)
		return CONFIG_SCOPE_TOPIC;
	return *name ? CONFIG_SCOPE_BROKER : CONFIG_SCOPE_BROKER_DEFAULT;
}

/* Describes one entity (name "" for the broker default). */
static int describe_one(const struct opts *o, fluxo_admin_t *a,
			const fluxo_conf_t *conf, bool brokers,
			const char *name)
{
	fluxo_config_entry_t *e = NULL;
	enum config_scope scope = scope_of(brokers, name);
	char errstr[512] = "";
	size_t n = 0;
	int rc;

	rc = fluxo_admin_describe_configs(
	    a, brokers ? FLUXO_RESOURCE_BROKER : FLUXO_RESOURCE_TOPIC, name,
	    false, o->timeout_ms, &e, &n, errstr, sizeof(errstr));
	if (rc != 0)
		return client_error(o, conf, rc, errstr);
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	config_print_heading(stdout, o->entity_type, name, o->all);
	for (size_t i = 0; i < n; i++)
		if (config_shown(&e[i], scope, o->all))
			config_print_entry(stdout, &e[i]);
	fluxo_config_entries_destroy(e, n);
	return 0;
}

static int do_describe(const struct opts *o, fluxo_admin_t *a,
		       const fluxo_conf_t *conf, const fluxo_metadata_t *md)
{
	bool brokers = strcmp(o->entity_type, "brokers") == 0;
	char id[16];
	int rc = 0;

	if (o->entity_name || o->entity_default)
		return describe_one(o, a, conf, brokers,
				    o->entity_default ? "" : o->entity_name);
	if (!brokers) {
		for (int i = 0; rc == 0 && i < md->topic_cnt; i++)
			if (md->topics[i].err == 0)
				rc = describe_one(o, a, conf, false,
						  md->topics[i].name);
		return rc;
	}
	for (int i = 0; rc == 0 && i < md->broker_cnt; i++) {
		snprintf(id, sizeof(id), "%d", (int)md->brokers[i].id);
		rc = describe_one(o, a, conf, true, id);
	}
	return rc == 0 ? describe_one(o, a, conf, true, "") : rc;
}

static int do_alter(const struct opts *o, fluxo_admin_t *a,
		    const fluxo_conf_t *conf)
{
	bool brokers = strcmp(o->entity_type, "brokers") == 0;
	const char *name = o->entity_default ? "" : o->entity_name;
	int type = brokers ? FLUXO_RESOURCE_BROKER : FLUXO_RESOURCE_TOPIC;
	enum config_scope scope = scope_of(brokers, name);
	fluxo_config_entry_t *e = NULL;
	char errstr[512] = "", *bad = NULL;
	size_t n = 0, len = 0;
	int rc;

	/* Deleting what is not set is refused before anything changes. */
	if (o->del.n) {
		rc = fluxo_admin_describe_configs(a, type, name, false,
						  o->timeout_ms, &e, &n, errstr,
						  sizeof(errstr));
		if (rc != 0)
			return client_error(o, conf, rc, errstr);
		for (size_t i = 0; i < o->del.n; i++)
			len += strlen(o->del.names[i]) + 1;
		bad = calloc(1, len + 1);
		for (size_t i = 0; bad && i < o->del.n; i++) {
			bool set = false;

			for (size_t j = 0; j < n && !set; j++)
				set = strcmp(e[j].name, o->del.names[i]) == 0 &&
				      config_shown(&e[j], scope, false);
			if (!set) {
				if (bad[0])
					strcat(bad, ",");
				strcat(bad, o->del.names[i]);
			}
		}
		fluxo_config_entries_destroy(e, n);
		if (!bad)
			return tool_error(&spec, "out of memory");
		if (bad[0]) {
			fprintf(tool_err ? tool_err : stderr,
				"Invalid config(s): %s\n", bad);
			free(bad);
			return TOOL_ERROR;
		}
		free(bad);
	}
	rc = fluxo_admin_alter_configs(
	    a, type, name, (const char *const *)o->add.names,
	    (const char *const *)o->add.values, o->add.n,
	    (const char *const *)o->del.names, o->del.n, false, o->timeout_ms,
	    errstr, sizeof(errstr));
	if (rc != 0)
		return client_error(o, conf, rc, errstr);
	if (*name)
		printf("Completed updating config for %s %s.\n",
		       brokers ? "broker" : "topic", name);
	else
		printf("Completed updating default config for brokers in the "
		       "cluster.\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = CONFIGS_TIMEOUT_MS};
	fluxo_conf_t *conf = NULL;
	fluxo_metadata_t *md = NULL;
	fluxo_admin_t *admin = NULL;
	int rc;

	o.argc = argc;
	o.argv = argv;
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
	if (o.action == F_DESCRIBE)
		rc = do_describe(&o, admin, conf, md);
	else
		rc = do_alter(&o, admin, conf);
out:
	fflush(stdout);
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	fluxo_conf_destroy(conf);
	config_list_free(&o.add);
	config_list_free(&o.del);
	return rc == TOOL_DONE || rc == 0 ? 0 : 1;
}
