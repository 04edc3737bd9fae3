/*
 * configwatch.c - the /config/changes notification listener.
 *
 * Design. A thread owns all the work. The child watch on /config/changes
 * and the session listener only set flags and signal the thread. The
 * thread lists the children (re-setting the watch), parses their sequence
 * numbers, and for each one above the last delivered reads it and calls
 * back, in order, then advances the mark. Notifications are persistent,
 * so nothing is lost while disconnected or between watch events; the
 * mark makes delivery exactly once.
 *
 * Start-up lists the notifications first (setting the mark at the newest)
 * and only then delivers every existing override: a change written after
 * the listing is delivered again as a notification, one written before is
 * already in the override that is read, so none is missed.
 *
 * After a session expiry the listing is redone. Notifications are purged
 * only once older than 15 minutes, so one this broker has not seen can be
 * gone only if it has not listed them for that long; then every override
 * is delivered again. (Sequence numbers cannot tell: ZooKeeper derives
 * them from the parent's cversion, which deletions also advance.)
 */
#include "config.h"
#include "configwatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "zkdata.h"

#define FAC	 "configwatch"
#define RETRY_MS 1000

struct configwatch {
	zk_session_t *zs;
	configwatch_fn fn;
	void *arg;
	zk_watcher_t *watcher;
	int listener_id;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool changed;	  /* child watch fired */
	bool new_session; /* re-set the watch, check for gaps */
	bool started;	  /* initial pass done */
	int start_rc;
	char start_err[256];

	int64_t mark; /* highest sequence delivered, -1 none */
};

static void on_watch(void *arg, int type, const char *path)
{
	configwatch_t *cw = arg;

	(void)type;
	(void)path;
	pthread_mutex_lock(&cw->mu);
	cw->changed = true;
	pthread_cond_signal(&cw->cv);
	pthread_mutex_unlock(&cw->mu);
}

static void on_session(zk_session_t *zs, enum zk_event ev, void *arg)
{
	configwatch_t *cw = arg;

	(void)zs;
	if (ev != ZK_EVENT_NEW_SESSION)
		return;
	pthread_mutex_lock(&cw->mu);
	cw->new_session = true;
	pthread_cond_signal(&cw->cv);
	pthread_mutex_unlock(&cw->mu);
}

/* Sequence number of a child named config_change_NNNNNNNNNN, or -1. */
static int64_t child_seq(const char *name)
{
	size_t plen = strlen(ZK_CONFIG_CHANGE_PREFIX);
	int64_t v = 0;
	const char *p;

	if (strncmp(name, ZK_CONFIG_CHANGE_PREFIX, plen) != 0)
		return -1;
	p = name + plen;
	if (!*p || strlen(p) > 18)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

static int cmp_seq(const void *a, const void *b)
{
	int64_t x = child_seq(*(char *const *)a),
		y = child_seq(*(char *const *)b);

	return (x > y) - (x < y);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void deliver(configwatch_t *cw, const char *type, const char *name)
{
	log_debug(FAC, "config of %s/%s changed", type, name);
	cw->fn(cw->arg, type, name);
}

/* Delivers every existing topic and broker override. Returns ZK rc. */
static int deliver_all(configwatch_t *cw)
{
	static const char *const types[] = {ZK_ENTITY_TOPICS,
					    ZK_ENTITY_BROKERS};

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct String_vector kids;
		char path[ZKPATH_MAX];
		int rc;

		snprintf(path, sizeof(path), ZK_PATH_CONFIG "/%s", types[t]);
		rc = zk_children(cw->zs, path, NULL, &kids);
		if (rc == ZNONODE)
			continue;
		if (rc != ZOK)
			return rc;
		qsort(kids.data, (size_t)kids.count, sizeof(kids.data[0]),
		      cmp_name);
		for (int i = 0; i < kids.count; i++)
			deliver(cw, types[t], kids.data[i]);
		deallocate_String_vector(&kids);
	}
	return ZOK;
}

/*
 * Lists the notifications (setting the watch) and delivers those after
 * the mark. With initial, only moves the mark; with resync, delivers
 * every override first and skips the pending notifications (the
 * overrides already hold their effect). Returns ZK rc.
 */
static int process(configwatch_t *cw, bool initial, bool resync)
{
	struct String_vector kids;
	int64_t now = clock_wall_ms();
	int rc;

	rc = zk_children(cw->zs, ZK_PATH_CONFIG_CHANGES, cw->watcher, &kids);
	if (rc == ZNONODE) {
		rc = zk_create_parents(cw->zs, ZK_PATH_CONFIG_CHANGES);
		if (rc != ZOK)
			return rc;
		rc = zk_children(cw->zs, ZK_PATH_CONFIG_CHANGES, cw->watcher,
				 &kids);
	}
	if (rc != ZOK)
		return rc;
	qsort(kids.data, (size_t)kids.count, sizeof(kids.data[0]), cmp_seq);
	if (resync) {
		log_warn(FAC, "this broker missed config changes for longer "
			      "than notifications are kept; reloading every "
			      "override");
		rc = deliver_all(cw);
		if (rc != ZOK)
			goto out;
	}

	for (int i = 0; i < kids.count; i++) {
		int64_t seq = child_seq(kids.data[i]);
		char path[ZKPATH_MAX], type[64], name[ZKPATH_MAX], why[256];
		struct Stat st;
		char *data = NULL;
		int len;

		if (seq < 0)
			continue;
		snprintf(path, sizeof(path), ZK_PATH_CONFIG_CHANGES "/%s",
			 kids.data[i]);
		if (initial || seq <= cw->mark || resync) {
			if (seq > cw->mark)
				cw->mark = seq;
			continue;
		}
		rc = zk_get(cw->zs, path, NULL, &data, &len, &st);
		if (rc == ZNONODE) {
			cw->mark = seq;
			continue;
		}
		if (rc != ZOK)
			goto out;
		if (zkdata_config_change_decode(
			data, (size_t)len, type, sizeof(type), name,
			sizeof(name), why, sizeof(why)) < 0)
			log_warn(FAC, "ignoring %s: %s", path, why);
		else
			deliver(cw, type, name);
		free(data);
		cw->mark = seq;
	}

	/* Purge notifications older than Kafka's 15 minutes. */
	for (int i = 0; i < kids.count; i++) {
		char path[ZKPATH_MAX];
		struct Stat st;

		if (child_seq(kids.data[i]) < 0 ||
		    child_seq(kids.data[i]) > cw->mark)
			continue;
		snprintf(path, sizeof(path), ZK_PATH_CONFIG_CHANGES "/%s",
			 kids.data[i]);
		if (zk_exists(cw->zs, path, NULL, &st) == ZOK &&
		    st.ctime < now - CONFIGWATCH_EXPIRY_MS)
			zk_delete(cw->zs, path, -1);
	}
	rc = ZOK;
out:
	deallocate_String_vector(&kids);
	return rc;
}

static void *watch_thread(void *arg)
{
	configwatch_t *cw = arg;
	int64_t last_ok = clock_mono_ms();
	bool retry = false;
	int rc;

	/* Initial pass: mark the existing notifications, then overrides. */
	rc = process(cw, true, false);
	if (rc == ZOK)
		rc = deliver_all(cw);
	pthread_mutex_lock(&cw->mu);
	cw->start_rc = rc;
	if (rc != ZOK) {
		snprintf(cw->start_err, sizeof(cw->start_err),
			 "cannot read the config overrides in ZooKeeper: %s",
			 zerror(rc));
		cw->stop = true;
	}
	cw->started = true;
	pthread_cond_broadcast(&cw->cv);

	while (!cw->stop) {
		bool work = cw->changed || cw->new_session, fresh, resync;

		if (!work && !retry) {
			pthread_cond_wait(&cw->cv, &cw->mu);
			continue;
		}
		if (!work) {
			struct timespec ts;
			int w;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RETRY_MS / 1000;
			w = pthread_cond_timedwait(&cw->cv, &cw->mu, &ts);
			if (cw->stop)
				break;
			if (w != ETIMEDOUT && !cw->changed && !cw->new_session)
				continue;
		}
		fresh = cw->new_session;
		cw->new_session = false;
		cw->changed = false;
		pthread_mutex_unlock(&cw->mu);
		/*
		 * Only notifications older than the expiry are purged, so one
		 * we have not seen can be gone only after so long away.
		 */
		resync =
		    fresh && clock_mono_ms() - last_ok >= CONFIGWATCH_EXPIRY_MS;
		rc = process(cw, false, resync);
		retry = rc != ZOK;
		if (retry)
			log_warn(FAC,
				 "reading config changes failed (%s); "
				 "retrying",
				 zerror(rc));
		else
			last_ok = clock_mono_ms();
		pthread_mutex_lock(&cw->mu);
		if (retry && fresh)
			cw->new_session = true;
	}
	pthread_mutex_unlock(&cw->mu);
	return NULL;
}

configwatch_t *configwatch_start(zk_session_t *zs, configwatch_fn fn, void *arg,
				 char *errstr, size_t errstr_size)
{
	configwatch_t *cw = calloc(1, sizeof(*cw));

	if (!cw) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	cw->zs = zs;
	cw->fn = fn;
	cw->arg = arg;
	cw->mark = -1;
	cw->listener_id = -1;
	pthread_mutex_init(&cw->mu, NULL);
	pthread_cond_init(&cw->cv, NULL);
	cw->watcher = zk_watcher_new(zs, on_watch, cw);
	if (!cw->watcher)
		goto err_nomem;
	cw->listener_id = zk_session_listen(zs, on_session, cw);
	if (cw->listener_id < 0)
		goto err_nomem;
	if (pthread_create(&cw->thread, NULL, watch_thread, cw) != 0) {
		snprintf(errstr, errstr_size, "cannot start a thread");
		goto err_free;
	}
	pthread_mutex_lock(&cw->mu);
	while (!cw->started)
		pthread_cond_wait(&cw->cv, &cw->mu);
	pthread_mutex_unlock(&cw->mu);
	if (cw->start_rc != ZOK) {
		snprintf(errstr, errstr_size, "%s", cw->start_err);
		pthread_join(cw->thread, NULL);
		goto err_free;
	}
	return cw;

err_nomem:
	snprintf(errstr, errstr_size, "out of memory");
err_free:
	if (cw->listener_id >= 0)
		zk_session_unlisten(zs, cw->listener_id);
	zk_watcher_disable(cw->watcher);
	pthread_mutex_destroy(&cw->mu);
	pthread_cond_destroy(&cw->cv);
	free(cw);
	return NULL;
}

void configwatch_stop(configwatch_t *cw)
{
	if (!cw)
		return;
	zk_session_unlisten(cw->zs, cw->listener_id);
	zk_watcher_disable(cw->watcher);
	pthread_mutex_lock(&cw->mu);
	cw->stop = true;
	pthread_cond_signal(&cw->cv);
	pthread_mutex_unlock(&cw->mu);
	pthread_join(cw->thread, NULL);
	pthread_mutex_destroy(&cw->mu);
	pthread_cond_destroy(&cw->cv);
	free(cw);
}
