/*
 * log_manager.c - the broker's log directories and all partition logs in
 * them.
 *
 * Open. Each log dir is created if missing, locked with flock(2) on .lock
 * (the holder writes its pid there so that a refused second broker can say
 * who holds it; flock, unlike POSIX record locks, also refuses a second
 * open inside the same process), and its meta.properties is checked. The
 * three checkpoints are read, every <topic>-<partition>/ is queued, and a
 * pool of recovery threads loads the queue (plog_open recovers what the
 * clean-shutdown marker and recovery point say must be recovered). Only
 * when every partition loaded are the clean-shutdown markers removed, and
 * that removal is fsynced before open returns, so a crash from then on is
 * never mistaken for a clean stop.
 *
 * The map. Partitions live in a chained hash table keyed by (topic,
 * partition) under a read-write lock; lookups take it for reading and
 * return a referenced log. Creation holds it for writing across the
 * directory creation, so two creators of one partition cannot race.
 *
 * Background. One thread runs timed tasks (retention, the flush.ms check,
 * checkpoints, idle descriptor sweeps, delayed unlinks and removal of
 * deleted partition dirs) from a condition-variable wait on the monotonic
 * clock; each log dir also has a group-commit flusher thread (flusher.c).
 * Tasks work on a snapshot of the map (referenced logs), never holding the
 * map lock while they do I/O.
 *
 * Close stops the background thread, closes (flushes) every log with the
 * same pool size as recovery, stops the flushers, writes the checkpoints and
 * then the clean markers, and releases the locks.
 */
#include "config.h"
#include "broker/log/log_manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/checkpoint.h"
#include "broker/log/flusher.h"
#include "broker/log/log_int.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"

#define LM_FAC "log-manager"

struct log_dir {
	char *path;
	int lock_fd;
	int npart; /* under map_lock */
	bool was_clean;
	bool fresh;	  /* meta.properties was just created */
	char *cluster_id; /* from meta.properties, or NULL */
	struct flusher *flusher;
	struct plog_env env;
};

struct pnode {
	struct pnode *next;
	struct plog *plog;
	int dir;
	uint32_t hash;
};

struct unlink_job {
	char *path;
	int64_t due; /* monotonic ms */
	bool is_dir;
};

struct log_manager {
	struct log_dir *dirs;
	int ndirs;
	int32_t broker_id;
	int threads;
	int64_t retention_check_ms;
	int64_t flush_check_ms;
	int64_t checkpoint_ms;
	int64_t hw_checkpoint_ms;
	int64_t fd_idle_ms;
	struct topic_conf defaults;
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
	int (*topic_conf_cb)(void *arg, const char *topic,
			     struct topic_conf *out);
	void *topic_conf_arg;

	pthread_rwlock_t map_lock;
	struct pnode **buckets;
	size_t nbuckets;
	size_t count;
	bool closing;

	pthread_mutex_t ckpt_lock; /* one checkpoint writer at a time */

	pthread_t bg;
	bool bg_started;
	pthread_mutex_t bg_lock;
	pthread_cond_t bg_cond;
	bool stop;
	struct unlink_job *jobs; /* under bg_lock */
	size_t njobs, jobs_cap;
};

static void set_err(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!errstr || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errstr, size, fmt, ap);
	va_end(ap);
}

static int64_t lm_now(struct log_manager *lm)
{
	return lm->clock_ms ? lm->clock_ms(lm->clock_arg) : clock_wall_ms();
}

/* ---------------------------------------------------------------- map */

static uint32_t hash_tp(const char *topic, int32_t partition)
{
	uint32_t h = 2166136261u;

	for (const char *p = topic; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (int i = 0; i < 4; i++)
		h = (h ^ (uint8_t)((uint32_t)partition >> (8 * i))) * 16777619u;
	return h;
}

static struct pnode **map_slot(struct log_manager *lm, const char *topic,
			       int32_t partition)
{
	uint32_t h = hash_tp(topic, partition);
	struct pnode **pp = &lm->buckets[h & (lm->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->plog->partition == partition &&
		    strcmp((*pp)->plog->topic, topic) == 0)
			break;
	return pp;
}

static int map_grow(struct log_manager *lm)
{
	size_t n = lm->nbuckets ? lm->nbuckets * 2 : 64;
	struct pnode **b = calloc(n, sizeof(*b));

	if (!b)
		return ERR_NOMEM;
	for (size_t i = 0; i < lm->nbuckets; i++) {
		struct pnode *node = lm->buckets[i], *next;

		for (; node; node = next) {
			next = node->next;
			node->next = b[node->hash & (n - 1)];
			b[node->hash & (n - 1)] = node;
		}
	}
	free(lm->buckets);
	lm->buckets = b;
	lm->nbuckets = n;
	return 0;
}

/* Inserts plog (taking over its reference); map_lock held for writing. */
static int map_insert(struct log_manager *lm, struct plog *plog, int dir)
{
	struct pnode *node;

	if (lm->count + 1 > lm->nbuckets && map_grow(lm))
		return ERR_NOMEM;
	node = calloc(1, sizeof(*node));
	if (!node)
		return ERR_NOMEM;
	node->plog = plog;
	node->dir = dir;
	node->hash = hash_tp(plog->topic, plog->partition);
	node->next = lm->buckets[node->hash & (lm->nbuckets - 1)];
	lm->buckets[node->hash & (lm->nbuckets - 1)] = node;
	lm->count++;
	lm->dirs[dir].npart++;
	return 0;
}

struct snap {
	struct plog **p;
	int *dir;
	size_t n;
};

/* Referenced copies of every log (optionally of one topic). */
static int map_snapshot(struct log_manager *lm, const char *topic,
			struct snap *s)
{
	size_t k = 0;

	memset(s, 0, sizeof(*s));
	pthread_rwlock_rdlock(&lm->map_lock);
	if (lm->count > 0) {
		s->p = malloc(lm->count * sizeof(*s->p));
		s->dir = malloc(lm->count * sizeof(*s->dir));
		if (!s->p || !s->dir) {
			pthread_rwlock_unlock(&lm->map_lock);
			free(s->p);
			free(s->dir);
			return ERR_NOMEM;
		}
	}
	for (size_t i = 0; i < lm->nbuckets; i++)
		for (struct pnode *node = lm->buckets[i]; node;
		     node = node->next) {
			if (topic && strcmp(node->plog->topic, topic) != 0)
				continue;
			plog_ref(node->plog);
			s->p[k] = node->plog;
			s->dir[k++] = node->dir;
		}
	s->n = k;
	pthread_rwlock_unlock(&lm->map_lock);
	return 0;
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		plog_unref(s->p[i]);
	free(s->p);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------- unlink jobs */

static void add_job(struct log_manager *lm, const char *path, int64_t delay,
		    bool is_dir)
{
	char *copy = strdup(path);

	pthread_mutex_lock(&lm->bg_lock);
	if (copy && lm->njobs == lm->jobs_cap) {
		size_t cap = lm->jobs_cap ? lm->jobs_cap * 2 : 16;
		struct unlink_job *j = realloc(lm->jobs, cap * sizeof(*j));

		if (j) {
			lm->jobs = j;
			lm->jobs_cap = cap;
		}
	}
	if (copy && lm->njobs < lm->jobs_cap) {
		lm->jobs[lm->njobs].path = copy;
		lm->jobs[lm->njobs].due = clock_mono_ms() + delay;
		lm->jobs[lm->njobs].is_dir = is_dir;
		lm->njobs++;
		copy = NULL;
		pthread_cond_signal(&lm->bg_cond);
	}
	pthread_mutex_unlock(&lm->bg_lock);
	if (copy) {
		/* Out of memory: do it now rather than leak the file. */
		if (!is_dir)
			(void)unlink(copy);
		free(copy);
	}
}

static void schedule_unlink(void *arg, const char *path, int64_t delay_ms)
{
	add_job(arg, path, delay_ms, false);
}

/* Removes a partition directory and the files in it. */
static void remove_tree(const char *path)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);

	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			if (unlink(p) < 0 && errno == EISDIR)
				remove_tree(p);
		}
		closedir(d);
	}
	if (rmdir(path) < 0 && errno != ENOENT)
		log_warn(LM_FAC, "cannot remove %s: %s", path, strerror(errno));
	else
		log_info(LM_FAC, "removed %s", path);
}

/* Runs the jobs due at now (all with force); returns the next due time. */
static int64_t run_jobs(struct log_manager *lm, int64_t now, bool force)
{
	int64_t next = INT64_MAX;

	pthread_mutex_lock(&lm->bg_lock);
	for (size_t i = 0; i < lm->njobs;) {
		struct unlink_job j = lm->jobs[i];

		if (!force && j.due > now) {
			if (j.due < next)
				next = j.due;
			i++;
			continue;
		}
		lm->jobs[i] = lm->jobs[--lm->njobs];
		pthread_mutex_unlock(&lm->bg_lock);
		if (j.is_dir)
			remove_tree(j.path);
		else if (unlink(j.path) < 0 && errno != ENOENT)
			log_warn(LM_FAC, "cannot remove %s: %s", j.path,
				 strerror(errno));
		free(j.path);
		pthread_mutex_lock(&lm->bg_lock);
	}
	pthread_mutex_unlock(&lm->bg_lock);
	return next;
}

/* -------------------------------------------------------- checkpoints */

enum ckpt_kind { CKPT_RECOVERY, CKPT_HW, CKPT_START };

static const char *const ckpt_names[] = {LOG_RECOVERY_CKPT, LOG_HW_CKPT,
					 LOG_START_CKPT};

static int write_ckpts(struct log_manager *lm, unsigned kinds)
{
	struct ckpt_entry *e = NULL;
	struct snap s;
	char path[PATH_MAX], errstr[512];
	int rc = 0;

	if (map_snapshot(lm, NULL, &s))
		return ERR_NOMEM;
	if (s.n > 0 && !(e = malloc(s.n * sizeof(*e)))) {
		snap_free(&s);
		return ERR_NOMEM;
	}
	pthread_mutex_lock(&lm->ckpt_lock);
	for (int d = 0; d < lm->ndirs; d++) {
		for (int k = CKPT_RECOVERY; k <= CKPT_START; k++) {
			size_t n = 0;
			int r;

			if (!(kinds & (1u << k)))
				continue;
			for (size_t i = 0; i < s.n; i++) {
				struct plog *p = s.p[i];

				if (s.dir[i] != d || atomic_load(&p->deleted))
					continue;
				e[n].topic = p->topic;
				e[n].partition = p->partition;
				e[n].offset =
				    k == CKPT_RECOVERY ? plog_flushed(p)
				    : k == CKPT_HW     ? plog_hw(p)
						       : plog_log_start(p);
				n++;
			}
			snprintf(path, sizeof(path), "%s/%s", lm->dirs[d].path,
				 ckpt_names[k]);
			r = ckpt_write_offsets(path, e, n, errstr,
					       sizeof(errstr));
			if (r) {
				log_error(LM_FAC, "%s", errstr);
				rc = r;
			}
		}
	}
	pthread_mutex_unlock(&lm->ckpt_lock);
	free(e);
	snap_free(&s);
	return rc;
}

int log_manager_checkpoint(log_manager_t *lm)
{
	return write_ckpts(lm, 7);
}

static int ckpt_cmp(const void *a, const void *b)
{
	const struct ckpt_entry *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	if (c)
		return c;
	return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* Offset of topic-partition in a checkpoint sorted by ckpt_cmp, or -1. */
static int64_t ckpt_find(const struct ckpt_entry *e, size_t n,
			 const char *topic, int32_t partition)
{
	struct ckpt_entry key = {.topic = (char *)topic,
				 .partition = partition};
	const struct ckpt_entry *hit;

	if (n == 0)
		return -1;
	hit = bsearch(&key, e, n, sizeof(*e), ckpt_cmp);
	return hit ? hit->offset : -1;
}

/* --------------------------------------------------------- background */

int log_manager_run_retention(log_manager_t *lm)
{
	struct snap s;
	int64_t now = lm_now(lm);
	int total = 0;

	if (map_snapshot(lm, NULL, &s))
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		int n = plog_retention(s.p[i], now);

		if (n > 0)
			total += n;
	}
	snap_free(&s);
	return total;
}

static void each_plog(struct log_manager *lm,
		      void (*fn)(struct plog *p, int64_t a, int64_t b),
		      int64_t a, int64_t b)
{
	struct snap s;

	if (map_snapshot(lm, NULL, &s))
		return;
	for (size_t i = 0; i < s.n; i++)
		fn(s.p[i], a, b);
	snap_free(&s);
}

static void do_flush_check(struct plog *p, int64_t now, int64_t unused)
{
	(void)unused;
	plog_check_flush_time(p, now);
}

static void do_sweep(struct plog *p, int64_t now, int64_t idle)
{
	plog_sweep_idle(p, now, idle);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void *bg_main(void *arg)
{
	struct log_manager *lm = arg;
	int64_t now = clock_mono_ms();
	int64_t next_ret = now + lm->retention_check_ms;
	int64_t next_flush = now + lm->flush_check_ms;
	int64_t next_ckpt = now + lm->checkpoint_ms;
	int64_t next_hw = now + lm->hw_checkpoint_ms;
	int64_t next_sweep =
	    lm->fd_idle_ms > 0 ? now + lm->fd_idle_ms / 2 + 1 : INT64_MAX;

	for (;;) {
		int64_t next_job, wake;
		struct timespec ts;

		now = clock_mono_ms();
		next_job = run_jobs(lm, now, false);
		if (now >= next_ret) {
			(void)log_manager_run_retention(lm);
			next_ret = clock_mono_ms() + lm->retention_check_ms;
		}
		if (now >= next_flush) {
			each_plog(lm, do_flush_check, lm_now(lm), 0);
			next_flush = clock_mono_ms() + lm->flush_check_ms;
		}
		if (now >= next_ckpt || now >= next_hw) {
			unsigned kinds = 0;

			if (now >= next_ckpt) {
				kinds |= 1u << CKPT_RECOVERY | 1u << CKPT_START;
				next_ckpt = now + lm->checkpoint_ms;
			}
			if (now >= next_hw) {
				kinds |= 1u << CKPT_HW;
				next_hw = now + lm->hw_checkpoint_ms;
			}
			(void)write_ckpts(lm, kinds);
		}
		if (now >= next_sweep) {
			each_plog(lm, do_sweep, clock_mono_ms(),
				  lm->fd_idle_ms);
			next_sweep = clock_mono_ms() + lm->fd_idle_ms / 2 + 1;
		}
		wake = min64(min64(next_ret, next_flush),
			     min64(min64(next_ckpt, next_hw),
				   min64(next_sweep, next_job)));
		pthread_mutex_lock(&lm->bg_lock);
		if (lm->stop) {
			pthread_mutex_unlock(&lm->bg_lock);
			break;
		}
		now = clock_mono_ms();
		if (wake > now) {
			int64_t wait = wake - now;
			struct timespec cur;

			if (wait > 1000)
				wait = 1000;
			clock_gettime(CLOCK_MONOTONIC, &cur);
			ts.tv_sec = cur.tv_sec + wait / 1000;
			ts.tv_nsec = cur.tv_nsec + (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			(void)pthread_cond_timedwait(&lm->bg_cond, &lm->bg_lock,
						     &ts);
		}
		pthread_mutex_unlock(&lm->bg_lock);
	}
	return NULL;
}

/* ---------------------------------------------------------- log dirs */

static int mkdirs(const char *path)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return ERR_INVAL;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return ERR_IO;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return ERR_IO;
	return 0;
}

static int lock_dir(struct log_dir *d, char *errstr, size_t errstr_size)
{
	char path[PATH_MAX], pid[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", d->path, LOG_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(errstr, errstr_size, "cannot open %s: %s", path,
			strerror(errno));
		return ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK) {
			set_err(errstr, errstr_size,
				"log directory %s is in use by another "
				"fluxo-broker (pid %s)",
				d->path, pid[0] ? pid : "unknown");
			return ERR_LOCKED;
		}
		set_err(errstr, errstr_size, "cannot lock %s: %s", path,
			strerror(e));
		return ERR_IO;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn(LM_FAC, "cannot write the pid into %s", path);
	d->lock_fd = fd;
	return 0;
}

struct meta {
	int64_t version;
	int64_t broker_id;
	char *cluster_id;
	int lines;
};

static int meta_cb(void *arg, const char *key, const char *value, int line,
		   char *errstr, size_t errstr_size)
{
	struct meta *m = arg;
	char *end;

	(void)line;
	m->lines++;
	if (strcmp(key, "version") == 0 || strcmp(key, "broker.id") == 0) {
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno || *end || end == value) {
			set_err(errstr, errstr_size, "bad %s \"%s\"", key,
				value);
			return ERR_INVAL;
		}
		if (key[0] == 'v')
			m->version = v;
		else
			m->broker_id = v;
	} else if (strcmp(key, "cluster.id") == 0) {
		free(m->cluster_id);
		m->cluster_id = strdup(value);
		if (!m->cluster_id)
			return ERR_NOMEM;
	}
	return 0;
}

static int write_meta(struct log_dir *d, int32_t broker_id, char *errstr,
		      size_t errstr_size)
{
	char path[PATH_MAX], text[512];
	int n;

	snprintf(path, sizeof(path), "%s/%s", d->path, LOG_META_FILE);
	n = snprintf(text, sizeof(text),
		     "#fluxo log directory metadata\nversion=0\n"
		     "broker.id=%" PRId32 "\n%s%s%s",
		     broker_id, d->cluster_id ? "cluster.id=" : "",
		     d->cluster_id ? d->cluster_id : "",
		     d->cluster_id ? "\n" : "");
	if (n >= (int)sizeof(text)) {
		set_err(errstr, errstr_size, "cluster id too long");
		return ERR_INVAL;
	}
	return ckpt_write_file(path, text, (size_t)n, true, errstr,
			       errstr_size);
}

static int check_meta(struct log_dir *d, int32_t broker_id, char *errstr,
		      size_t errstr_size)
{
	struct meta m = {.version = -1, .broker_id = -1};
	char path[PATH_MAX], why[256];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", d->path, LOG_META_FILE);
	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			set_err(errstr, errstr_size, "cannot read %s: %s", path,
				strerror(errno));
			return ERR_IO;
		}
		d->fresh = true;
		return write_meta(d, broker_id, errstr, errstr_size);
	}
	why[0] = '\0';
	rc = conf_read_properties(path, meta_cb, &m, why, sizeof(why));
	if (rc) {
		set_err(errstr, errstr_size, "%s is unreadable: %s", path, why);
		goto out_free;
	}
	if (m.version != 0) {
		set_err(errstr, errstr_size, "%s: unsupported version %" PRId64,
			path, m.version);
		rc = ERR_INVAL;
		goto out_free;
	}
	if (m.broker_id != broker_id) {
		set_err(errstr, errstr_size,
			"log directory %s belongs to broker %" PRId64
			" (see %s), "
			"not to this broker.id %" PRId32 "; fix broker.id or "
			"log.dirs",
			d->path, m.broker_id, path, broker_id);
		rc = ERR_INVAL;
		goto out_free;
	}
	d->cluster_id = m.cluster_id;
	m.cluster_id = NULL;
out_free:
	free(m.cluster_id);
	return rc;
}

int log_manager_set_cluster_id(log_manager_t *lm, const char *cluster_id,
			       char *errstr, size_t errstr_size)
{
	if (!cluster_id || !*cluster_id || strlen(cluster_id) > 200 ||
	    strpbrk(cluster_id, "\n\r=:#!\\ ")) {
		set_err(errstr, errstr_size, "invalid cluster id");
		return ERR_INVAL;
	}
	for (int i = 0; i < lm->ndirs; i++) {
		struct log_dir *d = &lm->dirs[i];
		int rc;

		if (d->cluster_id) {
			if (strcmp(d->cluster_id, cluster_id) == 0)
				continue;
			set_err(
			    errstr, errstr_size,
			    "log directory %s belongs to cluster %s, but "
			    "this broker joined cluster %s; it was set up "
			    "for another cluster (or ZooKeeper's /cluster/id "
			    "changed)",
			    d->path, d->cluster_id, cluster_id);
			return ERR_INVAL;
		}
		d->cluster_id = strdup(cluster_id);
		if (!d->cluster_id)
			return ERR_NOMEM;
		rc = write_meta(d, lm->broker_id, errstr, errstr_size);
		if (rc)
			return rc;
	}
	return 0;
}

/* Parses "<topic>-<partition>" from the last '-'. */
static bool parse_tp(const char *name, char *topic, size_t topic_size,
		     int32_t *partition)
{
	const char *dash = strrchr(name, '-');
	long long p;
	char *end;

	if (!dash || dash == name || (size_t)(dash - name) >= topic_size ||
	    !dash[1] || dash[1] < '0' || dash[1] > '9')
		return false;
	errno = 0;
	p = strtoll(dash + 1, &end, 10);
	if (errno || *end || p < 0 || p > INT32_MAX)
		return false;
	memcpy(topic, name, (size_t)(dash - name));
	topic[dash - name] = '\0';
	if (!topic_name_valid(topic))
		return false;
	*partition = (int32_t)p;
	return true;
}

/* -------------------------------------------------------------- loading */

struct load_job {
	char *path;
	char topic[TOPIC_NAME_MAX + 1];
	int32_t partition;
	int dir;
	struct plog_load_opts opts;
	struct plog *plog; /* result */
	int rc;
	char errstr[512];
};

/* Work shared by the recovery (or closing) threads. */
struct pool {
	struct log_manager *lm;
	struct load_job *jobs; /* loading */
	struct plog **logs;    /* closing */
	bool snapshots;	       /* closing: the producer state pass */
	size_t n;
	size_t next; /* under lock */
	pthread_mutex_t lock;
	int close_rc; /* under lock */
};

static void load_one(struct log_manager *lm, struct load_job *j)
{
	struct topic_conf tc;
	const struct topic_conf *conf = &lm->defaults;

	memset(&tc, 0, sizeof(tc));
	j->opts.conf_confirmed = false;
	if (lm->topic_conf_cb &&
	    lm->topic_conf_cb(lm->topic_conf_arg, j->topic, &tc) == 0) {
		conf = &tc;
		j->opts.conf_confirmed = true;
	}
	j->plog = plog_open(j->path, j->topic, j->partition, conf,
			    &lm->dirs[j->dir].env, &j->opts, &j->rc, j->errstr,
			    sizeof(j->errstr));
	topic_conf_free(&tc);
}

static void *pool_main(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&pl->lock);
		i = pl->next++;
		pthread_mutex_unlock(&pl->lock);
		if (i >= pl->n)
			break;
		if (pl->jobs) {
			load_one(pl->lm, &pl->jobs[i]);
			continue;
		}
		if (pl->snapshots) {
			(void)plog_snapshot_producers(pl->logs[i]);
			continue;
		}
		rc = plog_close(pl->logs[i]);
		if (rc) {
			pthread_mutex_lock(&pl->lock);
			pl->close_rc = rc;
			pthread_mutex_unlock(&pl->lock);
		}
	}
	return NULL;
}

/* Runs the pool on up to nthreads threads (and the caller's). */
static void pool_run(struct pool *pl, int nthreads)
{
	pthread_t *t;
	int started = 0;

	pthread_mutex_init(&pl->lock, NULL);
	if ((size_t)nthreads > pl->n)
		nthreads = (int)pl->n;
	t = nthreads > 1 ? calloc((size_t)nthreads, sizeof(*t)) : NULL;
	for (int i = 0; t && i < nthreads - 1; i++)
		if (pthread_create(&t[i], NULL, pool_main, pl) == 0)
			started++;
	pool_main(pl);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&pl->lock);
}

struct dir_ckpts {
	struct ckpt_entry *e[3];
	size_t n[3];
};

static int read_ckpts(struct log_dir *d, struct dir_ckpts *c, char *errstr,
		      size_t errstr_size)
{
	char path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	for (int k = 0; k < 3; k++) {
		int rc;

		snprintf(path, sizeof(path), "%s/%s", d->path, ckpt_names[k]);
		rc = ckpt_read_offsets(path, &c->e[k], &c->n[k], errstr,
				       errstr_size);
		if (rc == 0 && c->n[k] > 1)
			qsort(c->e[k], c->n[k], sizeof(*c->e[k]), ckpt_cmp);
		if (rc == ERR_CORRUPT) {
			/* Lose only precision: recover everything, keep data.
			 */
			log_warn(LM_FAC, "%s; ignoring it", errstr);
			c->e[k] = NULL;
			c->n[k] = 0;
		} else if (rc) {
			return rc;
		}
	}
	return 0;
}

static void free_ckpts(struct dir_ckpts *c)
{
	for (int k = 0; k < 3; k++)
		ckpt_free(c->e[k], c->n[k]);
}

static int push_job(struct load_job **jobs, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct load_job *j = realloc(*jobs, nc * sizeof(*j));

		if (!j)
			return ERR_NOMEM;
		*jobs = j;
		*cap = nc;
	}
	memset(&(*jobs)[*n], 0, sizeof(**jobs));
	(*n)++;
	return 0;
}

/* Queues every partition dir of d; schedules -delete dirs for removal. */
static int scan_dir(struct log_manager *lm, int di, struct load_job **jobs,
		    size_t *n, size_t *cap, char *errstr, size_t errstr_size)
{
	struct log_dir *d = &lm->dirs[di];
	struct dir_ckpts c;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dh;
	int rc;

	rc = read_ckpts(d, &c, errstr, errstr_size);
	if (rc)
		return rc;
	dh = opendir(d->path);
	if (!dh) {
		set_err(errstr, errstr_size, "cannot list %s: %s", d->path,
			strerror(errno));
		free_ckpts(&c);
		return ERR_IO;
	}
	while ((de = readdir(dh)) != NULL) {
		struct load_job *j;
		struct stat st;
		char topic[TOPIC_NAME_MAX + 1];
		int32_t part;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->path, de->d_name);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strlen(de->d_name) > 7 &&
		    strcmp(de->d_name + strlen(de->d_name) - 7, "-delete") ==
			0) {
			add_job(lm, path, 0, true);
			continue;
		}
		if (!parse_tp(de->d_name, topic, sizeof(topic), &part)) {
			log_warn(LM_FAC,
				 "ignoring %s: not a <topic>-<partition> "
				 "directory",
				 path);
			continue;
		}
		rc = push_job(jobs, n, cap);
		if (rc)
			break;
		j = &(*jobs)[*n - 1];
		j->path = strdup(path);
		if (!j->path) {
			rc = ERR_NOMEM;
			break;
		}
		snprintf(j->topic, sizeof(j->topic), "%s", topic);
		j->partition = part;
		j->dir = di;
		j->opts.recovery_point = ckpt_find(c.e[0], c.n[0], topic, part);
		j->opts.hw = ckpt_find(c.e[1], c.n[1], topic, part);
		j->opts.log_start = ckpt_find(c.e[2], c.n[2], topic, part);
		j->opts.clean = d->was_clean;
	}
	closedir(dh);
	free_ckpts(&c);
	if (rc)
		set_err(errstr, errstr_size, "out of memory scanning %s",
			d->path);
	return rc;
}

static void free_jobs(struct load_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].path);
		plog_unref(jobs[i].plog);
	}
	free(jobs);
}

static int load_all(struct log_manager *lm, char *errstr, size_t errstr_size)
{
	struct load_job *jobs = NULL;
	size_t n = 0, cap = 0;
	struct pool pl;
	int64_t t0 = clock_mono_ms();
	int rc = 0;

	for (int d = 0; d < lm->ndirs && !rc; d++)
		rc = scan_dir(lm, d, &jobs, &n, &cap, errstr, errstr_size);
	if (rc)
		goto out_free;
	memset(&pl, 0, sizeof(pl));
	pl.lm = lm;
	pl.jobs = jobs;
	pl.n = n;
	pool_run(&pl, lm->threads);
	for (size_t i = 0; i < n; i++) {
		struct pnode **slot;

		if (!jobs[i].plog) {
			set_err(errstr, errstr_size, "%s", jobs[i].errstr);
			rc = jobs[i].rc ? jobs[i].rc : ERR_IO;
			goto out_free;
		}
		slot = map_slot(lm, jobs[i].topic, jobs[i].partition);
		if (*slot) {
			set_err(errstr, errstr_size,
				"partition %s-%" PRId32 " exists in two log "
				"directories (%s and %s); remove the stale "
				"copy",
				jobs[i].topic, jobs[i].partition,
				lm->dirs[(*slot)->dir].path,
				lm->dirs[jobs[i].dir].path);
			rc = ERR_EXISTS;
			goto out_free;
		}
		rc = map_insert(lm, jobs[i].plog, jobs[i].dir);
		if (rc) {
			set_err(errstr, errstr_size, "out of memory");
			goto out_free;
		}
		jobs[i].plog = NULL;
	}
	log_info(LM_FAC,
		 "loaded %zu partition(s) from %d log dir(s) in %" PRId64 " ms",
		 n, lm->ndirs, clock_mono_ms() - t0);
out_free:
	free_jobs(jobs, n);
	return rc;
}

/* ------------------------------------------------------- open, close */

static void free_manager(struct log_manager *lm)
{
	for (size_t i = 0; i < lm->nbuckets; i++) {
		struct pnode *node = lm->buckets[i], *next;

		for (; node; node = next) {
			next = node->next;
			plog_unref(node->plog);
			free(node);
		}
	}
	free(lm->buckets);
	for (int i = 0; i < lm->ndirs; i++) {
		struct log_dir *d = &lm->dirs[i];

		flusher_stop(d->flusher);
		if (d->lock_fd >= 0)
			close(d->lock_fd);
		free(d->path);
		free(d->cluster_id);
	}
	free(lm->dirs);
	for (size_t i = 0; i < lm->njobs; i++)
		free(lm->jobs[i].path);
	free(lm->jobs);
	topic_conf_free(&lm->defaults);
	pthread_rwlock_destroy(&lm->map_lock);
	pthread_mutex_destroy(&lm->ckpt_lock);
	pthread_mutex_destroy(&lm->bg_lock);
	pthread_cond_destroy(&lm->bg_cond);
	free(lm);
}

static int64_t or_default(int64_t v, int64_t dflt)
{
	return v > 0 ? v : dflt;
}

static int open_dirs(struct log_manager *lm,
		     const struct log_manager_config *cfg, char *errstr,
		     size_t errstr_size)
{
	char real[PATH_MAX], path[PATH_MAX];

	for (int i = 0; i < cfg->ndirs; i++) {
		struct log_dir *d = &lm->dirs[i];
		int rc, err = 0;

		d->lock_fd = -1;
		if (!cfg->dirs[i] || !cfg->dirs[i][0] || mkdirs(cfg->dirs[i]) ||
		    !realpath(cfg->dirs[i], real)) {
			set_err(errstr, errstr_size,
				"log directory %s cannot be created: %s",
				cfg->dirs[i] ? cfg->dirs[i] : "(null)",
				strerror(errno));
			return ERR_IO;
		}
		for (int k = 0; k < i; k++) {
			if (strcmp(lm->dirs[k].path, real) == 0) {
				set_err(errstr, errstr_size,
					"log directory %s is listed twice in "
					"log.dirs",
					cfg->dirs[i]);
				return ERR_INVAL;
			}
		}
		d->path = strdup(real);
		if (!d->path)
			return ERR_NOMEM;
		lm->ndirs = i + 1;
		rc = lock_dir(d, errstr, errstr_size);
		if (!rc)
			rc = check_meta(d, cfg->broker_id, errstr, errstr_size);
		if (rc)
			return rc;
		snprintf(path, sizeof(path), "%s/%s", d->path, LOG_CLEAN_FILE);
		d->was_clean = access(path, F_OK) == 0;
		d->flusher = flusher_start(d->path, &err);
		if (!d->flusher) {
			set_err(errstr, errstr_size,
				"cannot start the flusher of %s", d->path);
			return err;
		}
		d->env.clock_ms = cfg->clock_ms;
		d->env.clock_arg = cfg->clock_arg;
		d->env.flusher = d->flusher;
		d->env.schedule_unlink = schedule_unlink;
		d->env.unlink_arg = lm;
		if (!d->was_clean && !d->fresh)
			log_info(LM_FAC,
				 "log directory %s was not shut down "
				 "cleanly; recovering from the recovery points",
				 d->path);
	}
	return 0;
}

/* Removes the clean markers (durably) once everything is loaded. */
static int remove_clean_markers(struct log_manager *lm, char *errstr,
				size_t errstr_size)
{
	char path[PATH_MAX];

	for (int i = 0; i < lm->ndirs; i++) {
		if (!lm->dirs[i].was_clean)
			continue;
		snprintf(path, sizeof(path), "%s/%s", lm->dirs[i].path,
			 LOG_CLEAN_FILE);
		if ((unlink(path) < 0 && errno != ENOENT) ||
		    ckpt_sync_dir(lm->dirs[i].path)) {
			set_err(errstr, errstr_size, "cannot remove %s: %s",
				path, strerror(errno));
			return ERR_IO;
		}
	}
	return 0;
}

log_manager_t *log_manager_open(const struct log_manager_config *cfg, int *err,
				char *errstr, size_t errstr_size)
{
	struct log_manager *lm;
	int rc = ERR_NOMEM;

	if (!cfg || cfg->ndirs < 1 || !cfg->dirs || cfg->broker_id < 0 ||
	    !cfg->defaults) {
		set_err(errstr, errstr_size,
			"log manager: log.dirs must name at least one "
			"directory and broker.id must be set");
		*err = ERR_INVAL;
		return NULL;
	}
	lm = calloc(1, sizeof(*lm));
	if (!lm) {
		*err = ERR_NOMEM;
		set_err(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&lm->map_lock, NULL);
	pthread_mutex_init(&lm->ckpt_lock, NULL);
	pthread_mutex_init(&lm->bg_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&lm->bg_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	lm->broker_id = cfg->broker_id;
	lm->threads = (cfg->recovery_threads > 0 ? cfg->recovery_threads : 1) *
		      cfg->ndirs;
	lm->retention_check_ms = or_default(cfg->retention_check_ms, 300000);
	lm->flush_check_ms = or_default(cfg->flush_check_ms, 1000);
	lm->checkpoint_ms = or_default(cfg->checkpoint_ms, 60000);
	lm->hw_checkpoint_ms = or_default(cfg->hw_checkpoint_ms, 5000);
	if (cfg->fd_idle_ms == 0)
		lm->fd_idle_ms = 300000;
	else
		lm->fd_idle_ms = cfg->fd_idle_ms > 0 ? cfg->fd_idle_ms : 0;
	lm->clock_ms = cfg->clock_ms;
	lm->clock_arg = cfg->clock_arg;
	lm->topic_conf_cb = cfg->topic_conf_cb;
	lm->topic_conf_arg = cfg->topic_conf_arg;
	if (topic_conf_copy(&lm->defaults, cfg->defaults) || map_grow(lm))
		goto err_free;
	lm->dirs = calloc((size_t)cfg->ndirs, sizeof(*lm->dirs));
	if (!lm->dirs)
		goto err_free;
	for (int i = 0; i < cfg->ndirs; i++)
		lm->dirs[i].lock_fd = -1;
	rc = open_dirs(lm, cfg, errstr, errstr_size);
	if (rc)
		goto err_free;
	rc = load_all(lm, errstr, errstr_size);
	if (rc)
		goto err_free;
	rc = remove_clean_markers(lm, errstr, errstr_size);
	if (rc)
		goto err_free;
	if (pthread_create(&lm->bg, NULL, bg_main, lm) != 0) {
		set_err(errstr, errstr_size,
			"cannot start the log manager's thread");
		rc = ERR_IO;
		goto err_free;
	}
	lm->bg_started = true;
	return lm;
err_free:
	if (rc == ERR_NOMEM && errstr && !errstr[0])
		set_err(errstr, errstr_size, "out of memory");
	free_manager(lm);
	*err = rc;
	return NULL;
}

int log_manager_close(log_manager_t *lm)
{
	struct snap s;
	struct pool pl;
	char path[PATH_MAX], errstr[512];
	int rc = 0;

	if (!lm)
		return 0;
	pthread_rwlock_wrlock(&lm->map_lock);
	lm->closing = true;
	pthread_rwlock_unlock(&lm->map_lock);
	if (lm->bg_started) {
		pthread_mutex_lock(&lm->bg_lock);
		lm->stop = true;
		pthread_cond_signal(&lm->bg_cond);
		pthread_mutex_unlock(&lm->bg_lock);
		pthread_join(lm->bg, NULL);
	}
	if (map_snapshot(lm, NULL, &s) == 0) {
		memset(&pl, 0, sizeof(pl));
		pl.lm = lm;
		pl.logs = s.p;
		pl.n = s.n;
		pool_run(&pl, lm->threads);
		rc = pl.close_rc;
		/* Producer state snapshots after every close's fsyncs (see
		 * plog_snapshot_producers); the checkpoints' fsyncs below
		 * commit their metadata once. */
		pl.next = 0;
		pl.snapshots = true;
		pool_run(&pl, lm->threads);
		snap_free(&s);
	} else {
		rc = ERR_NOMEM;
	}
	for (int i = 0; i < lm->ndirs; i++) {
		flusher_stop(lm->dirs[i].flusher);
		lm->dirs[i].flusher = NULL;
	}
	if (write_ckpts(lm, 7))
		rc = ERR_IO;
	(void)run_jobs(lm, clock_mono_ms(), false);
	for (int i = 0; i < lm->ndirs && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", lm->dirs[i].path,
			 LOG_CLEAN_FILE);
		rc = ckpt_write_file(path, "", 0, true, errstr, sizeof(errstr));
		if (rc)
			log_error(LM_FAC, "%s", errstr);
	}
	if (rc)
		log_warn(LM_FAC, "the log directories were not shut down "
				 "cleanly; the next start recovers them");
	free_manager(lm);
	return rc;
}

/* ---------------------------------------------------- partition access */

plog_t *log_manager_get(log_manager_t *lm, const char *topic, int32_t partition)
{
	struct plog *plog = NULL;
	struct pnode **slot;

	pthread_rwlock_rdlock(&lm->map_lock);
	slot = map_slot(lm, topic, partition);
	if (*slot) {
		plog = (*slot)->plog;
		plog_ref(plog);
	}
	pthread_rwlock_unlock(&lm->map_lock);
	return plog;
}

int log_manager_get_or_create(log_manager_t *lm, const char *topic,
			      int32_t partition, const struct topic_conf *conf,
			      plog_t **out, char *errstr, size_t errstr_size)
{
	char path[PATH_MAX], why[512];
	struct plog *plog;
	struct pnode **slot;
	int best = 0, rc = 0;

	*out = NULL;
	if (!topic_name_valid(topic) || partition < 0) {
		set_err(errstr, errstr_size,
			"invalid topic name or partition: %s-%" PRId32, topic,
			partition);
		return ERR_INVAL;
	}
	pthread_rwlock_wrlock(&lm->map_lock);
	if (lm->closing) {
		rc = ERR_STATE;
		goto out_unlock;
	}
	slot = map_slot(lm, topic, partition);
	if (*slot) {
		*out = (*slot)->plog;
		plog_ref(*out);
		goto out_unlock;
	}
	for (int i = 1; i < lm->ndirs; i++)
		if (lm->dirs[i].npart < lm->dirs[best].npart)
			best = i;
	snprintf(path, sizeof(path), "%s/%s-%" PRId32, lm->dirs[best].path,
		 topic, partition);
	why[0] = '\0';
	plog = plog_open(path, topic, partition, conf ? conf : &lm->defaults,
			 &lm->dirs[best].env, NULL, &rc, why, sizeof(why));
	if (!plog) {
		set_err(errstr, errstr_size, "%s", why);
		goto out_unlock;
	}
	rc = map_insert(lm, plog, best);
	if (rc) {
		plog_unref(plog);
		goto out_unlock;
	}
	plog_ref(plog);
	*out = plog;
	log_info(LM_FAC, "created partition %s-%" PRId32 " in %s", topic,
		 partition, lm->dirs[best].path);
out_unlock:
	pthread_rwlock_unlock(&lm->map_lock);
	return rc;
}

int log_manager_delete(log_manager_t *lm, const char *topic, int32_t partition)
{
	struct pnode **slot, *node;
	char path[PATH_MAX];
	uint8_t id[16];
	char hex[33];
	int rc;

	pthread_rwlock_wrlock(&lm->map_lock);
	slot = map_slot(lm, topic, partition);
	node = *slot;
	if (node) {
		*slot = node->next;
		lm->count--;
		lm->dirs[node->dir].npart--;
	}
	pthread_rwlock_unlock(&lm->map_lock);
	if (!node)
		return ERR_NOT_FOUND;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		uint64_t t = (uint64_t)clock_mono_ns() ^ (uint64_t)getpid();

		for (size_t i = 0; i < sizeof(id); i++)
			id[i] = (uint8_t)(t >> (8 * (i % 8)) ^ i);
	}
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	snprintf(path, sizeof(path), "%s/%s-%" PRId32 ".%s-delete",
		 lm->dirs[node->dir].path, topic, partition, hex);
	rc = plog_mark_deleted(node->plog, path);
	if (rc == 0) {
		(void)ckpt_sync_dir(lm->dirs[node->dir].path);
		add_job(lm, path, plog_file_delete_delay(node->plog), true);
		log_info(LM_FAC,
			 "deleted partition %s-%" PRId32
			 "; removing %s in the background",
			 topic, partition, path);
	}
	plog_unref(node->plog);
	free(node);
	return rc;
}

void log_manager_foreach(log_manager_t *lm, void (*cb)(void *arg, plog_t *plog),
			 void *arg)
{
	struct snap s;

	if (map_snapshot(lm, NULL, &s))
		return;
	for (size_t i = 0; i < s.n; i++)
		cb(arg, s.p[i]);
	snap_free(&s);
}

size_t log_manager_count(log_manager_t *lm)
{
	size_t n;

	pthread_rwlock_rdlock(&lm->map_lock);
	n = lm->count;
	pthread_rwlock_unlock(&lm->map_lock);
	return n;
}

int log_manager_update_topic_conf(log_manager_t *lm, const char *topic,
				  const struct topic_conf *conf)
{
	struct snap s;
	int rc = 0;

	if (map_snapshot(lm, topic, &s))
		return ERR_NOMEM;
	for (size_t i = 0; i < s.n && rc >= 0; i++)
		rc = plog_set_conf(s.p[i], conf) ? ERR_NOMEM : rc + 1;
	snap_free(&s);
	return rc;
}
