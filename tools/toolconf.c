/*
 * toolconf.c - client configuration and start-up checks for the tools.
 *
 * Kafka's tools merge settings as: properties file, then --x-property
 * values, then dedicated flags; a tool default applies only when none of
 * those set the key (CommandLineUtils.maybeMergeOptions). Applying the
 * layers in that order to one fluxo_conf_t gives the same result without
 * having to know which keys the file set.
 *
 * The start-up check exists because a client waits for metadata up to
 * max.block.ms or request.timeout.ms (a minute or more) before it gives up;
 * a tool pointed at a wrong address should say so within seconds.
 */
#include "config.h"

#include "toolconf.h"

#include <stdio.h>
#include <string.h>

static int set_layer(const struct tool_spec *spec, fluxo_conf_t *conf,
		     const struct tool_props *p, bool lenient)
{
	char errstr[512];
	size_t i;

	for (i = 0; p && i < p->cnt; i++) {
		const struct tool_prop *kv = &p->v[i];

		if (fluxo_conf_set(conf, kv->key, kv->value, errstr,
				   sizeof(errstr)) == 0)
			continue;
		if (lenient)
			continue;
		if (kv->kv)
			return tool_usage_error(spec, "%s %s=%s: %s",
						kv->origin, kv->key, kv->value,
						errstr);
		return tool_usage_error(spec, "%s %s: %s",
					kv->origin ? kv->origin : kv->key,
					kv->value, errstr);
	}
	return 0;
}

fluxo_conf_t *tool_conf_build(const struct tool_spec *spec,
			      const struct tool_props *defaults,
			      const char *file_flag, const char *file,
			      const struct tool_props *props,
			      const struct tool_props *explicit_props)
{
	fluxo_conf_t *conf = fluxo_conf_new();
	char errstr[512];

	if (!conf) {
		tool_error(spec, "out of memory");
		return NULL;
	}
	set_layer(spec, conf, defaults, true);
	if (file && fluxo_conf_load_file(conf, file, errstr,
					 sizeof(errstr)) != 0) {
		tool_usage_error(spec, "%s %s: %s",
				 file_flag ? file_flag : "config file", file,
				 errstr);
		goto err;
	}
	if (set_layer(spec, conf, props, false) != 0 ||
	    set_layer(spec, conf, explicit_props, false) != 0)
		goto err;
	return conf;
err:
	fluxo_conf_destroy(conf);
	return NULL;
}

bool tool_err_is_unreachable(int err)
{
	return err == FLUXO_ERR__TRANSPORT || err == FLUXO_ERR__TIMED_OUT ||
	       err == FLUXO_ERR__ALL_BROKERS_DOWN ||
	       err == FLUXO_ERR_NETWORK_EXCEPTION ||
	       err == FLUXO_ERR_BROKER_NOT_AVAILABLE ||
	       err == FLUXO_ERR_REQUEST_TIMED_OUT;
}

int tool_report_client_error(const struct tool_spec *spec,
			     const fluxo_conf_t *conf, const char *what,
			     int err, const char *errstr, int timeout_ms)
{
	const char *why = errstr && *errstr ? errstr : fluxo_err2str(err);
	char servers[1024] = "";

	if (tool_err_is_unreachable(err)) {
		if (!conf || fluxo_conf_get(conf, "bootstrap.servers", servers,
					    sizeof(servers)) != 0 ||
		    !servers[0])
			snprintf(servers, sizeof(servers), "(bootstrap.servers "
							   "not set)");
		if (err == FLUXO_ERR__TIMED_OUT ||
		    err == FLUXO_ERR_REQUEST_TIMED_OUT)
			return tool_error(spec,
					  "cannot reach any broker at %s "
					  "within %d ms (%s)",
					  servers, timeout_ms, why);
		return tool_error(spec, "cannot reach any broker at %s (%s)",
				  servers, why);
	}
	return tool_error(spec, "%s: %s", what, why);
}

int tool_topic_partitions(const struct tool_spec *spec,
			  const fluxo_conf_t *conf, const char *topic,
			  int timeout_ms)
{
	fluxo_conf_t *dup = fluxo_conf_dup(conf);
	const char *topics[1] = { topic };
	fluxo_metadata_t *md = NULL;
	fluxo_admin_t *admin;
	char errstr[512] = "";
	int rc, cnt = TOOL_ERROR;

	if (!dup)
		return tool_error(spec, "out of memory");
	admin = fluxo_admin_new(dup, errstr, sizeof(errstr));
	if (!admin) {
		fluxo_conf_destroy(dup);
		return tool_usage_error(spec, "%s", errstr);
	}
	rc = fluxo_admin_metadata(admin, topics, 1, timeout_ms, &md, errstr,
				  sizeof(errstr));
	if (rc != 0) {
		tool_report_client_error(spec, conf, "metadata", rc, errstr,
					 timeout_ms);
		goto out;
	}
	if (md->topic_cnt < 1 || strcmp(md->topics[0].name, topic) != 0 ||
	    md->topics[0].err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
	    md->topics[0].err == FLUXO_ERR__UNKNOWN_TOPIC) {
		tool_error(spec,
			   "Topic '%s' does not exist (create it with "
			   "fluxo-topics --create --topic %s)",
			   topic, topic);
		goto out;
	}
	if (md->topics[0].err != 0) {
		tool_report_client_error(spec, conf, topic,
					 md->topics[0].err,
					 md->topics[0].errstr, timeout_ms);
		goto out;
	}
	if (md->topics[0].partition_cnt < 1) {
		tool_error(spec, "Topic '%s' has no partitions", topic);
		goto out;
	}
	cnt = md->topics[0].partition_cnt;
out:
	fluxo_metadata_destroy(md);
	fluxo_admin_destroy(admin);
	return cnt;
}

fluxo_admin_t *tool_admin_open(const struct tool_spec *spec,
			       const char *bootstrap, const char *config_flag,
			       const char *config_file, int timeout_ms,
			       fluxo_conf_t **conf, fluxo_metadata_t **md)
{
	struct tool_props explicit_props = TOOL_PROPS_INIT;
	fluxo_conf_t *c = NULL, *keep = NULL;
	fluxo_admin_t *admin = NULL;
	char errstr[512] = "";
	int rc, probe_ms;

	*conf = NULL;
	*md = NULL;
	if (tool_props_set(&explicit_props, "bootstrap.servers", bootstrap,
			   "--bootstrap-server") != 0) {
		tool_error(spec, "out of memory");
		goto out;
	}
	c = tool_conf_build(spec, NULL, config_flag, config_file, NULL,
			    &explicit_props);
	if (!c)
		goto out;
	keep = fluxo_conf_dup(c);
	if (!keep) {
		tool_error(spec, "out of memory");
		goto out;
	}
	admin = fluxo_admin_new(c, errstr, sizeof(errstr));
	if (!admin) {
		tool_usage_error(spec, "%s", errstr);
		goto out;
	}
	c = NULL;
	probe_ms = timeout_ms > 0 && timeout_ms < TOOL_CONNECT_TIMEOUT_MS
		       ? timeout_ms
		       : TOOL_CONNECT_TIMEOUT_MS;
	rc = fluxo_admin_metadata(admin, NULL, 0, probe_ms, md, errstr,
				  sizeof(errstr));
	if (rc != 0) {
		tool_report_client_error(spec, keep, "metadata", rc, errstr,
					 probe_ms);
		fluxo_admin_destroy(admin);
		admin = NULL;
		goto out;
	}
	*conf = keep;
	keep = NULL;
out:
	fluxo_conf_destroy(c);
	fluxo_conf_destroy(keep);
	tool_props_free(&explicit_props);
	return admin;
}

int tool_no_groups(const struct tool_spec *spec)
{
	return tool_usage_error(spec,
				"consumer groups are not supported by this "
				"fluxo release; use --partition/--offset or "
				"--from-beginning");
}

fluxo_producer_t *tool_producer_open(const struct tool_spec *spec,
				     fluxo_conf_t **conf,
				     fluxo_delivery_cb_t *cb, void *arg,
				     const char *topic, fluxo_conf_t **keep,
				     int *rc)
{
	fluxo_producer_t *p;
	char errstr[512] = "";
	int cnt;

	*keep = NULL;
	fluxo_conf_set_delivery_cb(*conf, cb, arg);
	*keep = fluxo_conf_dup(*conf);
	if (!*keep) {
		*rc = tool_error(spec, "out of memory");
		return NULL;
	}
	p = fluxo_producer_new(*conf, errstr, sizeof(errstr));
	if (!p) {
		*rc = tool_usage_error(spec, "%s", errstr);
		goto err;
	}
	*conf = NULL;
	/* A partition count, or a local (negative) error. */
	cnt = fluxo_producer_partition_count(p, topic,
					     TOOL_CONNECT_TIMEOUT_MS);
	if (cnt == FLUXO_ERR__UNKNOWN_TOPIC) {
		*rc = tool_error(spec,
				 "Topic '%s' does not exist (create it with "
				 "fluxo-topics --create --topic %s)",
				 topic, topic);
		goto err_destroy;
	}
	if (cnt < 0) {
		*rc = tool_report_client_error(spec, *keep, topic, cnt, NULL,
					       TOOL_CONNECT_TIMEOUT_MS);
		goto err_destroy;
	}
	return p;
err_destroy:
	fluxo_producer_destroy(p);
err:
	fluxo_conf_destroy(*keep);
	*keep = NULL;
	return NULL;
}
