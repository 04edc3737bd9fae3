/*
 * checkpoint.h - small files written atomically: the per-dir offset
 * checkpoints, meta.properties and the leader-epoch checkpoint.
 *
 * Internal to broker/log. An offset checkpoint (recovery-point-offset-
 * checkpoint, replication-offset-checkpoint, log-start-offset-checkpoint)
 * reads, as in Kafka:
 *
 *   0                     version
 *   <count>
 *   <topic> <partition> <offset>     (count lines)
 *
 * Files are replaced by writing <name>.tmp, fsyncing it, renaming it over
 * the old one and fsyncing the directory, so a reader after a crash sees
 * either the old or the new file whole.
 *
 * Thread: reentrant; callers serialise writers of the same file.
 */
#ifndef FLUXO_LOG_CHECKPOINT_H
#define FLUXO_LOG_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest entry count accepted when reading (input is never trusted). */
#define CKPT_MAX_ENTRIES 10000000
/* Longest topic name (Kafka's limit). */
#define TOPIC_NAME_MAX 249

struct ckpt_entry {
	char *topic; /* owned */
	int32_t partition;
	int64_t offset;
};

/*
 * Replaces path with data[0..len): write path.tmp, fsync it when sync is
 * true, rename, and fsync the directory when sync is true.
 * Returns 0 or ERR_IO / ERR_NOSPACE (errstr says which step failed).
 */
int ckpt_write_file(const char *path, const void *data, size_t len, bool sync,
		    char *errstr, size_t errstr_size);

/* fsyncs the directory dir. Returns 0 or ERR_IO. */
int ckpt_sync_dir(const char *dir);

/*
 * Writes an offset checkpoint (always synced). Returns as
 * ckpt_write_file, or ERR_NOMEM.
 */
int ckpt_write_offsets(const char *path, const struct ckpt_entry *e, size_t n,
		       char *errstr, size_t errstr_size);

/*
 * Reads an offset checkpoint. A missing file gives 0 entries and returns
 * 0. On success the caller frees with ckpt_free(*e, *n).
 * Returns 0, ERR_CORRUPT (a sentence naming the file and line in errstr),
 * ERR_IO or ERR_NOMEM.
 */
int ckpt_read_offsets(const char *path, struct ckpt_entry **e, size_t *n,
		      char *errstr, size_t errstr_size);

void ckpt_free(struct ckpt_entry *e, size_t n);

/* Whether name is a legal topic name: 1..249 of [A-Za-z0-9._-], not "."
 * or "..". */
bool topic_name_valid(const char *name);

/*
 * Reads a whole small file (at most max bytes) into a NUL-terminated
 * malloc'd string. Returns 0, ERR_NOT_FOUND, ERR_TOO_LARGE, ERR_IO or
 * ERR_NOMEM.
 */
int ckpt_slurp(const char *path, size_t max, char **out, size_t *len);

#endif
