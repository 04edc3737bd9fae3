/*
 * toolconf.h - the tools' bridge to libfluxo: building a client
 * configuration with Kafka's precedence, and a bounded start-up check that
 * names the unreachable address instead of hanging.
 *
 * Threads: the tools' main thread only.
 */
#ifndef FLUXO_TOOLCONF_H
#define FLUXO_TOOLCONF_H

#include <stdbool.h>

#include "client/fluxo.h"
#include "toolcommon.h"

/*
 * Builds a configuration in Kafka's order of precedence, later layers
 * overriding earlier ones:
 *   1. defaults   the tool's own defaults (a name the client does not
 *                 know is skipped: the default is only a preference);
 *   2. file       the properties file of file_flag (--producer.config, ...),
 *                 loaded with fluxo_conf_load_file; may be NULL;
 *   3. props      --producer-property / --consumer-property / ... ;
 *   4. explicit   values of dedicated flags the user gave (--bootstrap-server,
 *                 --request-required-acks, ...).
 * Any refused setting of layers 2-4 prints "<prog>: <flag> k=v: <reason>"
 * and returns NULL. Returns the configuration (caller destroys it or hands
 * it to a _new function).
 */
fluxo_conf_t *tool_conf_build(const struct tool_spec *spec,
			      const struct tool_props *defaults,
			      const char *file_flag, const char *file,
			      const struct tool_props *props,
			      const struct tool_props *explicit_props);

/* True for errors that mean "no broker answered": transport failures,
 * all brokers down, timeouts. */
bool tool_err_is_unreachable(int err);

/*
 * Prints why the cluster could not be used, naming the bootstrap servers
 * of conf for connection problems:
 *   "<prog>: cannot reach any broker at h:p (<reason>)"
 * ("... within N ms (<reason>)" for a timeout), or "<prog>: <what>:
 * <reason>" otherwise. Returns TOOL_ERROR.
 */
int tool_report_client_error(const struct tool_spec *spec,
			     const fluxo_conf_t *conf, const char *what,
			     int err, const char *errstr, int timeout_ms);

/*
 * Asks the cluster for the partitions of topic with a short-lived admin
 * client on a copy of conf, within timeout_ms. Returns the partition count
 * (> 0), or TOOL_ERROR after printing why (unreachable cluster, unknown
 * topic: "Topic 't' does not exist", ...).
 */
int tool_topic_partitions(const struct tool_spec *spec,
			  const fluxo_conf_t *conf, const char *topic,
			  int timeout_ms);

/*
 * What the admin tools (fluxo-configs, fluxo-leader-election, ...) do
 * first: build a configuration from --bootstrap-server and an optional
 * properties file (config_flag names it in messages), open an admin
 * client, and check within TOOL_CONNECT_TIMEOUT_MS (or timeout_ms when
 * shorter) that a broker answers, fetching the cluster's metadata (every
 * topic). On success returns the client with *conf (a
 * copy of its configuration, for error messages; caller destroys) and
 * *md (caller destroys). On failure prints why (naming the address when
 * no broker answers) and returns NULL.
 */
fluxo_admin_t *tool_admin_open(const struct tool_spec *spec,
			       const char *bootstrap, const char *config_flag,
			       const char *config_file, int timeout_ms,
			       fluxo_conf_t **conf, fluxo_metadata_t **md);

/*
 * What the producing tools do first: set cb/arg as the delivery callback
 * of *conf, create the producer (taking *conf, which becomes NULL), and
 * check within TOOL_CONNECT_TIMEOUT_MS that topic exists. On success
 * returns the producer and *keep, a copy of the configuration (for
 * messages and metrics; caller destroys). On failure prints why (a
 * missing topic, or the address no broker answers at) and returns NULL
 * with *rc set to the tool's exit code.
 */
fluxo_producer_t *tool_producer_open(const struct tool_spec *spec,
				     fluxo_conf_t **conf,
				     fluxo_delivery_cb_t *cb, void *arg,
				     const char *topic, fluxo_conf_t **keep,
				     int *rc);

/* Fails with the release's message when --group is given to a consumer
 * tool. Returns TOOL_ERROR. */
int tool_no_groups(const struct tool_spec *spec);

#endif
