/*
 * log_manager.h - every partition log of a broker, across its log dirs.
 *
 * The log manager owns the log directories (log.dirs): it locks each one
 * against a second broker process, checks its meta.properties, loads every
 * partition directory in it (recovering after an unclean stop, several
 * partitions at a time), and runs the background work of the storage
 * engine:
 *
 *   - retention, every log.retention.check.interval.ms;
 *   - the flush.ms policy, every log.flush.scheduler.interval.ms;
 *   - recovery-point and log-start checkpoints, every
 *     log.flush.offset.checkpoint.interval.ms, and the high-watermark
 *     checkpoint every replica.high.watermark.checkpoint.interval.ms;
 *   - one group-commit flusher thread per log dir (flusher.h);
 *   - delayed removal of deleted segments and partition directories;
 *   - closing descriptors of segments idle for fd_idle_ms.
 *
 * Per log dir on disk: meta.properties, .lock, .fluxo_cleanshutdown (written
 * by a clean close; found at open, it skips recovery and is removed),
 * recovery-point-offset-checkpoint, replication-offset-checkpoint,
 * log-start-offset-checkpoint, and one <topic>-<partition>/ per partition.
 * A deleted partition's directory is renamed <topic>-<p>.<hex id>-delete
 * and removed in the background.
 *
 * Threads: every function may be called from any thread except where
 * noted; the partition map is guarded by a read-write lock and handed out
 * logs are referenced.
 */
#ifndef FLUXO_LOG_MANAGER_H
#define FLUXO_LOG_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/log/plog.h"
#include "common/topic_conf.h"

typedef struct log_manager log_manager_t;

#define LOG_META_FILE	  "meta.properties"
#define LOG_LOCK_FILE	  ".lock"
#define LOG_CLEAN_FILE	  ".fluxo_cleanshutdown"
#define LOG_RECOVERY_CKPT "recovery-point-offset-checkpoint"
#define LOG_HW_CKPT	  "replication-offset-checkpoint"
#define LOG_START_CKPT	  "log-start-offset-checkpoint"

struct log_manager_config {
	const char *const *dirs; /* log.dirs; created if missing */
	int ndirs;
	int32_t broker_id;
	/* num.recovery.threads.per.data.dir (>= 1). */
	int recovery_threads;
	/* Intervals: 0 means the default in parentheses. */
	/* log.retention.check.interval.ms (300000). */
	int64_t retention_check_ms;
	/* log.flush.scheduler.interval.ms: how often flush.ms is checked
	 * (1000). */
	int64_t flush_check_ms;
	/* log.flush.offset.checkpoint.interval.ms (60000). */
	int64_t checkpoint_ms;
	/* replica.high.watermark.checkpoint.interval.ms (5000). */
	int64_t hw_checkpoint_ms;
	/* Close segment descriptors unused this long; 0: 300000 (5 min);
	 * negative: never. */
	int64_t fd_idle_ms;
	/* The broker's default topic configuration (copied). */
	const struct topic_conf *defaults;
	/*
	 * Optional: fills *out with the configuration of a topic found on
	 * disk (defaults plus its overrides) and returns 0, or returns
	 * non-zero when unknown. Partitions loaded without a known
	 * configuration use the defaults and are left out of retention until
	 * plog_set_conf / log_manager_update_topic_conf confirms one. Called
	 * from the recovery threads during open.
	 */
	int (*topic_conf_cb)(void *arg, const char *topic,
			     struct topic_conf *out);
	void *topic_conf_arg;
	/* Optional wall clock (tests); NULL: clock_wall_ms(). */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/*
 * Opens every log dir: takes its .lock (another process holding it:
 * ERR_LOCKED, "log directory X is in use by another fluxo-broker (pid N)"),
 * checks or writes meta.properties (another broker.id: ERR_INVAL with a
 * sentence), loads and recovers every partition using
 * recovery_threads x ndirs threads, removes the clean-shutdown markers and
 * starts the background threads.
 * Returns the manager, or NULL with *err and a sentence in errstr.
 * Thread: the broker's main thread, once.
 */
log_manager_t *log_manager_open(const struct log_manager_config *cfg, int *err,
				char *errstr, size_t errstr_size);

/*
 * Records the cluster id in every dir's meta.properties, or checks it: a
 * dir that already belongs to another cluster is refused (ERR_INVAL, with
 * a sentence naming both ids). Returns 0, ERR_INVAL or ERR_IO.
 */
int log_manager_set_cluster_id(log_manager_t *lm, const char *cluster_id,
			       char *errstr, size_t errstr_size);

/* The referenced log of topic-partition, or NULL. */
plog_t *log_manager_get(log_manager_t *lm, const char *topic,
			int32_t partition);

/*
 * Returns (in *out, referenced) the existing log or a new empty one created
 * in the dir holding the fewest partitions, with conf (copied, confirmed).
 * Returns 0, ERR_INVAL (bad topic name or partition), ERR_STATE (closing),
 * ERR_IO or ERR_NOMEM; errstr may be NULL.
 */
int log_manager_get_or_create(log_manager_t *lm, const char *topic,
			      int32_t partition, const struct topic_conf *conf,
			      plog_t **out, char *errstr, size_t errstr_size);

/*
 * Deletes a partition: removed from the manager at once (later gets return
 * NULL, its log refuses appends and reads with ERR_STATE), its directory
 * renamed to <topic>-<p>.<hex id>-delete and removed in the background.
 * Returns 0, ERR_NOT_FOUND or ERR_IO.
 */
int log_manager_delete(log_manager_t *lm, const char *topic, int32_t partition);

/* Calls cb for every partition (a snapshot; cb may call into the manager
 * and may block). */
void log_manager_foreach(log_manager_t *lm, void (*cb)(void *arg, plog_t *plog),
			 void *arg);

/* Number of partitions. */
size_t log_manager_count(log_manager_t *lm);

/*
 * Applies a topic's new configuration to each of its partitions
 * (dynamic retention, segment and flush settings; takes effect without a
 * restart). Returns the number of partitions updated, or ERR_NOMEM.
 */
int log_manager_update_topic_conf(log_manager_t *lm, const char *topic,
				  const struct topic_conf *conf);

/* Writes the three checkpoints of every dir now. Returns 0 or ERR_IO. */
int log_manager_checkpoint(log_manager_t *lm);

/* Runs one retention pass now (as the background thread would). Returns
 * the number of segments deleted. */
int log_manager_run_retention(log_manager_t *lm);

/*
 * Stops the background work, closes every partition (flushing it),
 * writes the checkpoints and, when all of that succeeded, the clean-shutdown
 * markers; releases the locks and frees the manager. Logs still referenced
 * elsewhere stay valid (closed) until released. Returns 0 or ERR_IO (the
 * shutdown was not clean). NULL is ignored.
 * Thread: the broker's main thread, after the network workers stopped.
 */
int log_manager_close(log_manager_t *lm);

#endif
