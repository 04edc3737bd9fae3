/*
 * epoch_cache.c - leader epoch -> start offset, for truncation by epoch.
 *
 * A sorted array of (epoch, start offset), both strictly increasing, small
 * (one entry per leadership change that wrote data). Mutations follow
 * Kafka's LeaderEpochFileCache so that OffsetsForLeaderEpoch answers are
 * the ones Kafka gives for the same history.
 *
 * Persistence: each mutation rewrites the checkpoint through a renamed
 * temporary file but does not fsync it (nor the directory), because assign runs
 * on the append path of the first batch of every new epoch and on every
 * leadership change (thousands at once when a broker takes over). The
 * partition's flush calls epoch_cache_sync() before it advances the recovery
 * point, so the entries of trusted (flushed) data are durable, and recovery
 * re-derives entries of untrusted data from the batches' partitionLeaderEpoch.
 *
 * Thread: all functions take ec->lock. File writes happen under it; they
 * are rare and small.
 */
#include "config.h"
#include "broker/log/epoch_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/checkpoint.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

struct epoch_entry {
	int32_t epoch;
	int64_t start;
};

struct epoch_cache {
	pthread_mutex_t lock;
	char *dir;
	char *path;
	struct epoch_entry *e;
	int n;
	int cap;
	bool dirty; /* written since the last fsync */
};

static bool parse_num(const char *s, int64_t min, int64_t max, int64_t *v)
{
	char *end;
	long long x;

	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return false;
	*v = x;
	return true;
}

static int push(struct epoch_cache *ec, int32_t epoch, int64_t start)
{
	if (ec->n == ec->cap) {
		int cap = ec->cap ? ec->cap * 2 : 4;
		struct epoch_entry *e =
		    realloc(ec->e, (size_t)cap * sizeof(*e));

		if (!e)
			return ERR_NOMEM;
		ec->e = e;
		ec->cap = cap;
	}
	ec->e[ec->n].epoch = epoch;
	ec->e[ec->n].start = start;
	ec->n++;
	return 0;
}

/* Parses the file; false when it is malformed (the cache is left empty). */
static bool parse(struct epoch_cache *ec, char *data)
{
	char *line, *save = NULL;
	int64_t count = -1, v1, v2;
	int lineno = 0;

	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[3], *fs = NULL;
		int nf = 0;

		lineno++;
		for (char *t = strtok_r(line, " ", &fs); t && nf < 3;
		     t = strtok_r(NULL, " ", &fs))
			f[nf++] = t;
		if (lineno == 1) {
			if (nf != 1 || strcmp(f[0], "0") != 0)
				goto bad;
			continue;
		}
		if (lineno == 2) {
			if (nf != 1 ||
			    !parse_num(f[0], 0, EPOCH_CACHE_MAX, &count))
				goto bad;
			continue;
		}
		if (nf != 2 || ec->n >= count ||
		    !parse_num(f[0], 0, INT32_MAX, &v1) ||
		    !parse_num(f[1], 0, INT64_MAX, &v2))
			goto bad;
		if (ec->n > 0 && (v1 <= ec->e[ec->n - 1].epoch ||
				  v2 < ec->e[ec->n - 1].start))
			goto bad;
		if (push(ec, (int32_t)v1, v2))
			goto bad;
	}
	if (count != ec->n)
		goto bad;
	return true;
bad:
	ec->n = 0;
	return false;
}

struct epoch_cache *epoch_cache_open(const char *dir, bool *found, int *err)
{
	struct epoch_cache *ec = calloc(1, sizeof(*ec));
	char path[PATH_MAX];
	char *data = NULL;
	size_t len;
	int rc;

	*found = false;
	if (!ec)
		goto err_nomem;
	pthread_mutex_init(&ec->lock, NULL);
	snprintf(path, sizeof(path), "%s/%s", dir, EPOCH_CACHE_FILE);
	ec->dir = strdup(dir);
	ec->path = strdup(path);
	if (!ec->dir || !ec->path)
		goto err_nomem;
	rc = ckpt_slurp(path, (size_t)EPOCH_CACHE_MAX * 40, &data, &len);
	if (rc == ERR_NOMEM)
		goto err_nomem;
	if (rc == 0) {
		if (strlen(data) == len && parse(ec, data))
			*found = true;
		else
			log_warn("log",
				 "%s is malformed; rebuilding the "
				 "leader epoch cache from the log",
				 path);
		free(data);
	} else if (rc != ERR_NOT_FOUND) {
		log_warn("log",
			 "cannot read %s (%s); rebuilding the leader "
			 "epoch cache from the log",
			 path, err_str(rc));
	}
	return ec;
err_nomem:
	epoch_cache_close(ec);
	*err = ERR_NOMEM;
	return NULL;
}

void epoch_cache_close(struct epoch_cache *ec)
{
	if (!ec)
		return;
	pthread_mutex_destroy(&ec->lock);
	free(ec->e);
	free(ec->dir);
	free(ec->path);
	free(ec);
}

/* Rewrites the file; ec->lock held. */
static int persist(struct epoch_cache *ec)
{
	struct buf b = BUF_INIT;
	char line[64];
	char errstr[256];
	int len, rc = ERR_NOMEM;

	len = snprintf(line, sizeof(line), "0\n%d\n", ec->n);
	if (buf_append(&b, line, (size_t)len))
		goto out_free;
	for (int i = 0; i < ec->n; i++) {
		len = snprintf(line, sizeof(line), "%" PRId32 " %" PRId64 "\n",
			       ec->e[i].epoch, ec->e[i].start);
		if (buf_append(&b, line, (size_t)len))
			goto out_free;
	}
	rc = ckpt_write_file(ec->path, b.data, b.len, false, errstr,
			     sizeof(errstr));
	if (rc)
		log_error("log", "leader epoch checkpoint: %s", errstr);
	else
		ec->dirty = true;
out_free:
	buf_free(&b);
	return rc;
}

int epoch_cache_assign(struct epoch_cache *ec, int32_t epoch,
		       int64_t start_offset)
{
	int rc;

	if (epoch < 0 || start_offset < 0)
		return ERR_INVAL;
	pthread_mutex_lock(&ec->lock);
	if (ec->n > 0 && ec->e[ec->n - 1].epoch == epoch &&
	    start_offset >= ec->e[ec->n - 1].start) {
		rc = 0;
		goto out_unlock;
	}
	while (ec->n > 0 && (ec->e[ec->n - 1].epoch >= epoch ||
			     ec->e[ec->n - 1].start >= start_offset)) {
		log_info("log",
			 "leader epoch cache %s: dropping epoch %" PRId32
			 " at %" PRId64 " for epoch %" PRId32 " at %" PRId64,
			 ec->dir, ec->e[ec->n - 1].epoch,
			 ec->e[ec->n - 1].start, epoch, start_offset);
		ec->n--;
	}
	rc = push(ec, epoch, start_offset);
	if (!rc)
		rc = persist(ec);
	if (!rc)
		rc = 1;
out_unlock:
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

int32_t epoch_cache_latest(struct epoch_cache *ec)
{
	int32_t e;

	pthread_mutex_lock(&ec->lock);
	e = ec->n ? ec->e[ec->n - 1].epoch : -1;
	pthread_mutex_unlock(&ec->lock);
	return e;
}

void epoch_cache_end_offset(struct epoch_cache *ec, int32_t requested,
			    int64_t leo, int32_t *epoch, int64_t *end_offset)
{
	int i;

	*epoch = -1;
	*end_offset = -1;
	pthread_mutex_lock(&ec->lock);
	if (requested < 0 || ec->n == 0)
		goto out_unlock;
	if (ec->e[ec->n - 1].epoch == requested) {
		*epoch = requested;
		*end_offset = leo;
		goto out_unlock;
	}
	/* The first entry with a higher epoch. */
	for (i = 0; i < ec->n && ec->e[i].epoch <= requested; i++)
		;
	if (i == ec->n)
		goto out_unlock;
	*end_offset = ec->e[i].start;
	*epoch = i == 0 ? requested : ec->e[i - 1].epoch;
out_unlock:
	pthread_mutex_unlock(&ec->lock);
}

int epoch_cache_truncate_end(struct epoch_cache *ec, int64_t end_offset)
{
	int rc = 0, n;

	pthread_mutex_lock(&ec->lock);
	n = ec->n;
	while (ec->n > 0 && ec->e[ec->n - 1].start >= end_offset)
		ec->n--;
	if (ec->n != n)
		rc = persist(ec);
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

int epoch_cache_truncate_start(struct epoch_cache *ec, int64_t start_offset)
{
	int rc = 0, k = 0;

	pthread_mutex_lock(&ec->lock);
	while (k < ec->n && ec->e[k].start <= start_offset)
		k++;
	if (k > 0 && !(k == 1 && ec->e[0].start == start_offset)) {
		/* Keep the last removed entry, starting at start_offset. */
		ec->e[k - 1].start = start_offset;
		memmove(ec->e, ec->e + k - 1,
			(size_t)(ec->n - k + 1) * sizeof(*ec->e));
		ec->n -= k - 1;
		rc = persist(ec);
	}
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

int epoch_cache_clear(struct epoch_cache *ec)
{
	int rc;

	pthread_mutex_lock(&ec->lock);
	ec->n = 0;
	rc = persist(ec);
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

int epoch_cache_sync(struct epoch_cache *ec)
{
	int fd, rc = 0;

	pthread_mutex_lock(&ec->lock);
	if (!ec->dirty)
		goto out_unlock;
	fd = open(ec->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = ERR_IO;
		goto out_unlock;
	}
	if (fsync(fd) < 0)
		rc = ERR_IO;
	close(fd);
	if (!rc) {
		ec->dirty = false;
		rc = 1;
	}
out_unlock:
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

int epoch_cache_entries(struct epoch_cache *ec, int32_t *epochs,
			int64_t *starts, int max)
{
	int n;

	pthread_mutex_lock(&ec->lock);
	n = ec->n;
	for (int i = 0; i < n && i < max; i++) {
		epochs[i] = ec->e[i].epoch;
		starts[i] = ec->e[i].start;
	}
	pthread_mutex_unlock(&ec->lock);
	return n;
}
