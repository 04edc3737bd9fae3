/*
 * storage_glue.c - the broker's use of the log manager (broker/log/).
 */
#include "config.h"
#include "storage_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "broker/log/log_manager.h"
#include "broker_int.h"
#include "common/err.h"
#include "common/log.h"
#include "replica_glue.h"

/* Topic configuration for logs found on disk at start-up: ZooKeeper is
 * not connected yet, so they start with the defaults and get their real
 * configuration when LeaderAndIsr arrives. */
static int conf_cb(void *arg, const char *topic, struct topic_conf *out)
{
	(void)arg;
	(void)topic;
	(void)out;
	return -1;
}

int storage_glue_open(struct broker *b, char *errstr, size_t errstr_size)
{
	struct log_manager_config cfg = { 0 };
	char *copy = strdup(broker_conf_log_dirs(&b->conf));
	const char *dirs[64];
	char *save = NULL, *tok;
	int n = 0, err = 0;

	if (!copy)
		return ERR_NOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && n < 64;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok)
			dirs[n++] = tok;
	}
	cfg.dirs = dirs;
	cfg.ndirs = n;
	cfg.broker_id = b->conf.broker_id;
	cfg.recovery_threads = b->conf.num_recovery_threads_per_data_dir;
	cfg.retention_check_ms = b->conf.log_retention_check_interval_ms;
	cfg.flush_check_ms = b->conf.log_flush_scheduler_interval_ms;
	cfg.checkpoint_ms = b->conf.log_flush_offset_checkpoint_interval_ms;
	cfg.hw_checkpoint_ms =
		b->conf.replica_high_watermark_checkpoint_interval_ms;
	cfg.fd_idle_ms = 600000;
	cfg.defaults = &b->topic_defaults;
	cfg.topic_conf_cb = conf_cb;
	cfg.topic_conf_arg = b;
	b->logs = log_manager_open(&cfg, &err, errstr, errstr_size);
	free(copy);
	if (!b->logs)
		return err ? err : ERR_IO;
	log_info("storage", "%zu partition log(s) loaded from %s",
		 log_manager_count(b->logs), broker_conf_log_dirs(&b->conf));
	return 0;
}

int storage_glue_check_cluster(struct broker *b, char *errstr,
			       size_t errstr_size)
{
	return log_manager_set_cluster_id(b->logs, b->cluster_id, errstr,
					  errstr_size);
}

void storage_glue_close(struct broker *b)
{
	if (!b->logs)
		return;
	if (log_manager_close(b->logs) < 0)
		log_error("storage",
			  "closing the logs failed; the next start will run "
			  "recovery");
	b->logs = NULL;
}

plog_t *broker_log_open(struct broker *b, const char *topic, int32_t id,
			const struct topic_conf *tc, char *errstr,
			size_t errstr_size)
{
	plog_t *log = NULL;
	int rc;

	rc = log_manager_get_or_create(b->logs, topic, id, tc, &log, errstr,
				       errstr_size);
	if (rc < 0)
		return NULL;
	/* A log found on disk at start-up had only the defaults. */
	plog_set_conf(log, tc);
	return log;
}

void broker_log_delete(struct broker *b, const char *topic, int32_t id)
{
	int rc = log_manager_delete(b->logs, topic, id);

	if (rc < 0 && rc != ERR_NOT_FOUND)
		log_error("storage", "topic=%s partition=%d: delete failed: %s",
			  topic, id, err_str(rc));
}
