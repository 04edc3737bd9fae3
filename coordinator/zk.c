/*
 * zk.c - the ZooKeeper session wrapper.
 *
 * Design. The C client (zookeeper_mt) runs two threads per handle: an I/O
 * thread and a completion thread that runs watcher functions and async
 * completions. Nothing of fluxo's runs on those threads except tiny
 * functions that copy a result or post an event: the session's global
 * watcher posts state changes to the session's own thread, and watch
 * functions post to their owner's queue.
 *
 * The session thread turns state changes into listener calls. On expiry
 * it tells listeners, closes the dead handle, opens a new one (a new
 * "generation") and, once that is connected, tells listeners
 * ZK_EVENT_NEW_SESSION. Events are tagged with the generation of the
 * handle that produced them, so a late event from a closed handle is
 * ignored.
 *
 * Invariants.
 *  - zs->zh is only replaced under the write side of zs->hlock; every call
 *    holds the read side for its whole duration, so a handle is never
 *    closed under a running call.
 *  - zs->mu is never held while calling into the client (closing a handle
 *    joins the completion thread, which may be waiting for zs->mu).
 *  - A zk_watcher_t's function runs only under its own mutex and only while
 *    enabled, so disabling it is a barrier.
 *
 * The C client's log lines (its WARN and ERROR levels) go to common/log.h
 * at WARN, through both the per-handle log callback and a stdio cookie
 * stream for messages logged outside any handle.
 */
#include "config.h"
#include "zk.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"

#define FAC		"zk"
#define GET_INITIAL_BUF 4096
#define MANY_WINDOW	2000

struct zk_handle_ctx {
	zk_session_t *zs;
	uint64_t gen;
};

struct sess_ev {
	uint64_t gen;
	int state;
	struct sess_ev *next;
};

struct listener {
	int id;
	zk_listener_fn fn;
	void *arg;
	bool removed;
};

struct zk_watcher {
	pthread_mutex_t mu;
	zk_watch_fn fn; /* NULL once disabled */
	void *arg;
	struct zk_watcher *next;
};

struct zk_session {
	char *hosts; /* with the chroot */
	int session_timeout_ms;
	int connection_timeout_ms;

	pthread_rwlock_t hlock;
	zhandle_t *zh; /* NULL between generations */
	struct zk_handle_ctx *hctx;

	pthread_mutex_t mu; /* everything below up to the listeners */
	pthread_cond_t cv;
	struct sess_ev *evq_head, *evq_tail;
	uint64_t gen; /* generation of zh */
	bool stopping;
	bool connected;
	bool announced;	    /* first CONNECTED of gen delivered */
	bool renew_pending; /* renewing failed; retry on timeout */
	clientid_t cid;
	int negotiated_timeout;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lmu; /* listeners array */
	struct listener *listeners;
	int n_listeners, cap_listeners, next_listener_id;
	pthread_mutex_t dispatch_mu; /* held while listeners run */

	pthread_mutex_t wmu; /* watchers list */
	struct zk_watcher *watchers;
};

const char *zk_event_name(enum zk_event ev)
{
	switch (ev) {
	case ZK_EVENT_CONNECTED:
		return "connected";
	case ZK_EVENT_DISCONNECTED:
		return "disconnected";
	case ZK_EVENT_EXPIRED:
		return "expired";
	case ZK_EVENT_NEW_SESSION:
		return "new-session";
	}
	return "unknown";
}

/* ------------------------------------------------------------- logging */

static void log_zk_line(const char *msg, size_t len)
{
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	log_warn(FAC, "%.*s", (int)len, msg);
}

static void zk_log_callback(const char *message)
{
	log_zk_line(message, strlen(message));
}

static ssize_t zk_log_cookie_write(void *cookie, const char *buf, size_t size)
{
	const char *p = buf, *end = buf + size, *nl;

	(void)cookie;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		log_zk_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	return (ssize_t)size;
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void zk_log_setup(void)
{
	static cookie_io_functions_t io = {.write = zk_log_cookie_write};
	FILE *f = fopencookie(NULL, "w", io);

	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		zoo_set_log_stream(f);
	}
	zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
}

/* ------------------------------------------------------------- helpers */

static void timespec_after_ms(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static zhandle_t *zh_acquire(zk_session_t *zs)
{
	pthread_rwlock_rdlock(&zs->hlock);
	return zs->zh;
}

static void zh_release(zk_session_t *zs)
{
	pthread_rwlock_unlock(&zs->hlock);
}

/* ------------------------------------------------------------- watchers */

static void watch_trampoline(zhandle_t *zh, int type, int state,
			     const char *path, void *ctx)
{
	struct zk_watcher *w = ctx;

	(void)zh;
	(void)state;
	if (type == ZOO_SESSION_EVENT || !w)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->fn)
		w->fn(w->arg, type, path);
	pthread_mutex_unlock(&w->mu);
}

zk_watcher_t *zk_watcher_new(zk_session_t *zs, zk_watch_fn fn, void *arg)
{
	struct zk_watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&zs->wmu);
	w->next = zs->watchers;
	zs->watchers = w;
	pthread_mutex_unlock(&zs->wmu);
	return w;
}

void zk_watcher_disable(zk_watcher_t *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->fn = NULL;
	w->arg = NULL;
	pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------- listeners */

int zk_session_listen(zk_session_t *zs, zk_listener_fn fn, void *arg)
{
	int id = ERR_NOMEM;

	pthread_mutex_lock(&zs->lmu);
	if (zs->n_listeners == zs->cap_listeners) {
		int cap = zs->cap_listeners ? zs->cap_listeners * 2 : 4;
		struct listener *l =
		    realloc(zs->listeners, (size_t)cap * sizeof(*l));

		if (!l)
			goto out_unlock;
		zs->listeners = l;
		zs->cap_listeners = cap;
	}
	id = zs->next_listener_id++;
	zs->listeners[zs->n_listeners++] =
	    (struct listener){.id = id, .fn = fn, .arg = arg};
out_unlock:
	pthread_mutex_unlock(&zs->lmu);
	return id;
}

void zk_session_unlisten(zk_session_t *zs, int id)
{
	bool on_session_thread =
	    zs->thread_started && pthread_equal(pthread_self(), zs->thread);

	/* Taking dispatch_mu waits out a running dispatch. */
	if (!on_session_thread)
		pthread_mutex_lock(&zs->dispatch_mu);
	pthread_mutex_lock(&zs->lmu);
	for (int i = 0; i < zs->n_listeners; i++)
		if (zs->listeners[i].id == id)
			zs->listeners[i].removed = true;
	pthread_mutex_unlock(&zs->lmu);
	if (!on_session_thread)
		pthread_mutex_unlock(&zs->dispatch_mu);
}

static void dispatch(zk_session_t *zs, enum zk_event ev)
{
	pthread_mutex_lock(&zs->dispatch_mu);
	for (int i = 0;; i++) {
		zk_listener_fn fn = NULL;
		void *arg = NULL;
		bool end;

		pthread_mutex_lock(&zs->lmu);
		end = i >= zs->n_listeners;
		if (!end && !zs->listeners[i].removed) {
			fn = zs->listeners[i].fn;
			arg = zs->listeners[i].arg;
		}
		pthread_mutex_unlock(&zs->lmu);
		if (end)
			break;
		if (fn)
			fn(zs, ev, arg);
	}
	pthread_mutex_unlock(&zs->dispatch_mu);
}

/* ------------------------------------------------------------- handles */

static void post_state(zk_session_t *zs, uint64_t gen, int state)
{
	struct sess_ev *ev = malloc(sizeof(*ev));

	if (!ev) {
		log_error(FAC, "out of memory posting a session event");
		return;
	}
	ev->gen = gen;
	ev->state = state;
	ev->next = NULL;
	pthread_mutex_lock(&zs->mu);
	if (zs->evq_tail)
		zs->evq_tail->next = ev;
	else
		zs->evq_head = ev;
	zs->evq_tail = ev;
	pthread_cond_broadcast(&zs->cv);
	pthread_mutex_unlock(&zs->mu);
}

/* The handle's global watcher: on a client thread, so it only posts. */
static void global_watcher(zhandle_t *zh, int type, int state, const char *path,
			   void *ctx)
{
	struct zk_handle_ctx *hc = ctx;

	(void)zh;
	(void)path;
	if (type != ZOO_SESSION_EVENT || !hc)
		return;
	post_state(hc->zs, hc->gen, state);
}

/* Opens a handle of a new generation. Caller holds the hlock write side. */
static int open_handle_locked(zk_session_t *zs, const clientid_t *cid)
{
	struct zk_handle_ctx *hc = malloc(sizeof(*hc));
	zhandle_t *zh;
	uint64_t gen;

	if (!hc)
		return ERR_NOMEM;
	pthread_mutex_lock(&zs->mu);
	gen = ++zs->gen;
	zs->connected = false;
	zs->announced = false;
	memset(&zs->cid, 0, sizeof(zs->cid));
	pthread_mutex_unlock(&zs->mu);
	hc->zs = zs;
	hc->gen = gen;
	zh = zookeeper_init2(zs->hosts, global_watcher, zs->session_timeout_ms,
			     cid, hc, 0, zk_log_callback);
	if (!zh) {
		log_error(FAC, "cannot create a ZooKeeper handle for %s: %s",
			  zs->hosts, strerror(errno));
		free(hc);
		return ERR_ZK;
	}
	zs->zh = zh;
	zs->hctx = hc;
	return 0;
}

/* Closes the current handle and opens a fresh session. Session thread. */
static void renew(zk_session_t *zs)
{
	zhandle_t *old;
	struct zk_handle_ctx *oldctx;
	int rc;

	pthread_rwlock_wrlock(&zs->hlock);
	old = zs->zh;
	oldctx = zs->hctx;
	zs->zh = NULL;
	zs->hctx = NULL;
	if (old)
		zookeeper_close(old);
	free(oldctx);
	rc = open_handle_locked(zs, NULL);
	pthread_rwlock_unlock(&zs->hlock);
	pthread_mutex_lock(&zs->mu);
	zs->renew_pending = rc < 0;
	pthread_mutex_unlock(&zs->mu);
	if (rc == 0)
		log_info(FAC, "opening a new ZooKeeper session after expiry");
}

static void handle_state(zk_session_t *zs, const struct sess_ev *ev)
{
	bool first = false, expired = false, lost = false;
	bool up = ev->state == ZOO_CONNECTED_STATE ||
		  ev->state == ZOO_READONLY_STATE;
	clientid_t cid = { 0 };
	bool have_cid = false;
	uint64_t gen;
	int to = 0;

	/* Read the session id before announcing the connection, so that a
	 * caller woken by the announcement sees it. */
	if (up) {
		zhandle_t *zh = zh_acquire(zs);
		const clientid_t *c = zh ? zoo_client_id(zh) : NULL;

		if (c) {
			cid = *c;
			have_cid = true;
		}
		to = zh ? zoo_recv_timeout(zh) : 0;
		zh_release(zs);
	}
	pthread_mutex_lock(&zs->mu);
	gen = zs->gen;
	if (ev->gen != gen) {
		pthread_mutex_unlock(&zs->mu);
		return;
	}
	if (up) {
		zs->connected = true;
		first = !zs->announced;
		if (have_cid)
			zs->cid = cid;
		if (to > 0)
			zs->negotiated_timeout = to;
		zs->announced = true;
	} else if (ev->state == ZOO_EXPIRED_SESSION_STATE ||
		   ev->state == ZOO_AUTH_FAILED_STATE) {
		zs->connected = false;
		expired = true;
	} else if (ev->state == ZOO_CONNECTING_STATE ||
		   ev->state == ZOO_ASSOCIATING_STATE ||
		   ev->state == ZOO_NOTCONNECTED_STATE) {
		lost = zs->connected;
		zs->connected = false;
	}
	pthread_cond_broadcast(&zs->cv);
	pthread_mutex_unlock(&zs->mu);

	if (up) {
		if (first) {
			log_info(
			    FAC, "session 0x%llx established (timeout %d ms)",
			    (unsigned long long)cid.client_id, to);
			dispatch(zs, gen > 1 ? ZK_EVENT_NEW_SESSION
					     : ZK_EVENT_CONNECTED);
		} else {
			log_info(FAC, "reconnected to ZooKeeper");
			dispatch(zs, ZK_EVENT_CONNECTED);
		}
	} else if (expired) {
		if (ev->state == ZOO_AUTH_FAILED_STATE)
			log_error(FAC, "ZooKeeper authentication failed; "
				       "opening a new session");
		else
			log_warn(FAC, "ZooKeeper session expired");
		dispatch(zs, ZK_EVENT_EXPIRED);
		renew(zs);
	} else if (lost) {
		log_warn(FAC, "disconnected from ZooKeeper");
		dispatch(zs, ZK_EVENT_DISCONNECTED);
	}
}

static void *session_thread(void *arg)
{
	zk_session_t *zs = arg;
	struct sess_ev *ev;

	pthread_mutex_lock(&zs->mu);
	while (!zs->stopping) {
		if (!zs->evq_head) {
			if (zs->renew_pending) {
				struct timespec ts;

				timespec_after_ms(&ts, 1000);
				pthread_cond_timedwait(&zs->cv, &zs->mu, &ts);
				if (zs->renew_pending && !zs->evq_head &&
				    !zs->stopping) {
					pthread_mutex_unlock(&zs->mu);
					renew(zs);
					pthread_mutex_lock(&zs->mu);
				}
			} else {
				pthread_cond_wait(&zs->cv, &zs->mu);
			}
			continue;
		}
		ev = zs->evq_head;
		zs->evq_head = ev->next;
		if (!zs->evq_head)
			zs->evq_tail = NULL;
		pthread_mutex_unlock(&zs->mu);
		handle_state(zs, ev);
		free(ev);
		pthread_mutex_lock(&zs->mu);
	}
	pthread_mutex_unlock(&zs->mu);
	return NULL;
}

/* ------------------------------------------------------------- chroot */

struct bare_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
};

static void bare_watcher(zhandle_t *zh, int type, int state, const char *path,
			 void *ctx)
{
	struct bare_wait *bw = ctx;

	(void)zh;
	(void)path;
	if (type != ZOO_SESSION_EVENT)
		return;
	pthread_mutex_lock(&bw->mu);
	bw->state = state;
	pthread_cond_broadcast(&bw->cv);
	pthread_mutex_unlock(&bw->mu);
}

/* Creates chroot (and its ancestors) through a handle without a chroot. */
static int create_chroot(const char *hosts, const char *chroot, int timeout_ms,
			 int session_timeout_ms, char *errstr,
			 size_t errstr_size)
{
	struct bare_wait bw = {PTHREAD_MUTEX_INITIALIZER,
			       PTHREAD_COND_INITIALIZER, 0};
	struct timespec ts;
	zhandle_t *zh;
	char *path = NULL;
	int rc = 0;

	zh = zookeeper_init2(hosts, bare_watcher, session_timeout_ms, NULL, &bw,
			     0, zk_log_callback);
	if (!zh) {
		snprintf(errstr, errstr_size,
			 "cannot create a ZooKeeper handle for %s: %s", hosts,
			 strerror(errno));
		return ERR_ZK;
	}
	timespec_after_ms(&ts, timeout_ms);
	pthread_mutex_lock(&bw.mu);
	while (bw.state != ZOO_CONNECTED_STATE) {
		if (pthread_cond_timedwait(&bw.cv, &bw.mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&bw.mu);
	if (bw.state != ZOO_CONNECTED_STATE) {
		snprintf(errstr, errstr_size,
			 "could not connect to ZooKeeper at %s within %d ms",
			 hosts, timeout_ms);
		rc = ERR_TIMEOUT;
		goto err_close;
	}
	path = strdup(chroot);
	if (!path) {
		rc = ERR_NOMEM;
		goto err_close;
	}
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char save = *p;
			int zrc;

			*p = '\0';
			zrc = zoo_create(zh, path, NULL, -1,
					 &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
			*p = save;
			if (zrc != ZOK && zrc != ZNODEEXISTS) {
				snprintf(
				    errstr, errstr_size,
				    "cannot create the ZooKeeper chroot %s: %s",
				    chroot, zerror(zrc));
				rc = ERR_ZK;
				goto err_close;
			}
			if (save == '\0')
				break;
		}
	}
err_close:
	free(path);
	zookeeper_close(zh);
	return rc;
}

/* ------------------------------------------------------------- open/close */

zk_session_t *zk_session_open(const struct zk_config *cfg, char *errstr,
			      size_t errstr_size)
{
	zk_session_t *zs;
	struct timespec ts;
	const char *slash;
	int rc;

	pthread_once(&log_once, zk_log_setup);
	if (!cfg->connect || !*cfg->connect) {
		snprintf(errstr, errstr_size, "zookeeper.connect is empty");
		return NULL;
	}
	zs = calloc(1, sizeof(*zs));
	if (!zs) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	zs->hosts = strdup(cfg->connect);
	zs->session_timeout_ms =
	    cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : 18000;
	zs->connection_timeout_ms = cfg->connection_timeout_ms > 0
					? cfg->connection_timeout_ms
					: zs->session_timeout_ms;
	zs->negotiated_timeout = zs->session_timeout_ms;
	pthread_rwlock_init(&zs->hlock, NULL);
	pthread_mutex_init(&zs->mu, NULL);
	pthread_cond_init(&zs->cv, NULL);
	pthread_mutex_init(&zs->lmu, NULL);
	pthread_mutex_init(&zs->dispatch_mu, NULL);
	pthread_mutex_init(&zs->wmu, NULL);
	if (!zs->hosts) {
		snprintf(errstr, errstr_size, "out of memory");
		goto err_free;
	}

	slash = strchr(zs->hosts, '/');
	if (slash && slash[1] != '\0') {
		char *bare = strndup(zs->hosts, (size_t)(slash - zs->hosts));

		if (!bare) {
			snprintf(errstr, errstr_size, "out of memory");
			goto err_free;
		}
		rc = create_chroot(bare, slash, zs->connection_timeout_ms,
				   zs->session_timeout_ms, errstr, errstr_size);
		free(bare);
		if (rc < 0)
			goto err_free;
	}

	pthread_rwlock_wrlock(&zs->hlock);
	rc = open_handle_locked(zs, NULL);
	pthread_rwlock_unlock(&zs->hlock);
	if (rc < 0) {
		snprintf(errstr, errstr_size,
			 "cannot create a ZooKeeper handle for %s", zs->hosts);
		goto err_free;
	}
	if (pthread_create(&zs->thread, NULL, session_thread, zs) != 0) {
		snprintf(errstr, errstr_size, "cannot start a thread");
		goto err_close;
	}
	zs->thread_started = true;

	timespec_after_ms(&ts, zs->connection_timeout_ms);
	pthread_mutex_lock(&zs->mu);
	while (!zs->announced) {
		if (pthread_cond_timedwait(&zs->cv, &zs->mu, &ts) == ETIMEDOUT)
			break;
	}
	rc = zs->announced;
	pthread_mutex_unlock(&zs->mu);
	if (!rc) {
		snprintf(errstr, errstr_size,
			 "could not connect to ZooKeeper at %s within %d ms",
			 zs->hosts, zs->connection_timeout_ms);
		zk_session_close(zs);
		return NULL;
	}
	return zs;

err_close:
	zookeeper_close(zs->zh);
	free(zs->hctx);
err_free:
	free(zs->hosts);
	free(zs);
	return NULL;
}

void zk_session_close(zk_session_t *zs)
{
	struct zk_watcher *w, *wn;
	struct sess_ev *ev, *evn;

	if (!zs)
		return;
	pthread_mutex_lock(&zs->mu);
	zs->stopping = true;
	pthread_cond_broadcast(&zs->cv);
	pthread_mutex_unlock(&zs->mu);
	if (zs->thread_started)
		pthread_join(zs->thread, NULL);

	pthread_rwlock_wrlock(&zs->hlock);
	if (zs->zh)
		zookeeper_close(zs->zh);
	zs->zh = NULL;
	free(zs->hctx);
	zs->hctx = NULL;
	pthread_rwlock_unlock(&zs->hlock);

	for (ev = zs->evq_head; ev; ev = evn) {
		evn = ev->next;
		free(ev);
	}
	for (w = zs->watchers; w; w = wn) {
		wn = w->next;
		pthread_mutex_destroy(&w->mu);
		free(w);
	}
	free(zs->listeners);
	pthread_rwlock_destroy(&zs->hlock);
	pthread_mutex_destroy(&zs->mu);
	pthread_cond_destroy(&zs->cv);
	pthread_mutex_destroy(&zs->lmu);
	pthread_mutex_destroy(&zs->dispatch_mu);
	pthread_mutex_destroy(&zs->wmu);
	free(zs->hosts);
	free(zs);
}

int64_t zk_session_id(zk_session_t *zs)
{
	int64_t id;

	pthread_mutex_lock(&zs->mu);
	id = zs->announced ? zs->cid.client_id : 0;
	pthread_mutex_unlock(&zs->mu);
	return id;
}

int zk_session_credentials(zk_session_t *zs, clientid_t *out)
{
	int rc = ZINVALIDSTATE;

	pthread_mutex_lock(&zs->mu);
	if (zs->announced && zs->cid.client_id != 0) {
		*out = zs->cid;
		rc = ZOK;
	}
	pthread_mutex_unlock(&zs->mu);
	return rc;
}

bool zk_session_connected(zk_session_t *zs)
{
	bool c;

	pthread_mutex_lock(&zs->mu);
	c = zs->connected;
	pthread_mutex_unlock(&zs->mu);
	return c;
}

int zk_session_timeout_ms(zk_session_t *zs)
{
	int t;

	pthread_mutex_lock(&zs->mu);
	t = zs->negotiated_timeout;
	pthread_mutex_unlock(&zs->mu);
	return t;
}

/* ------------------------------------------------------------- sync calls */

static watcher_fn wfn(zk_watcher_t *w)
{
	return w ? watch_trampoline : NULL;
}

int zk_get(zk_session_t *zs, const char *path, zk_watcher_t *w, char **data,
	   int *len, struct Stat *st)
{
	struct Stat stat_local;
	char *buf = NULL, *nb;
	int cap = GET_INITIAL_BUF, blen, rc = ZINVALIDSTATE;
	zhandle_t *zh;

	*data = NULL;
	*len = 0;
	if (!st)
		st = &stat_local;
	zh = zh_acquire(zs);
	if (!zh)
		goto out_release;
	for (int attempt = 0; attempt < 4; attempt++) {
		nb = realloc(buf, (size_t)cap + 1);
		if (!nb) {
			rc = ZSYSTEMERROR;
			goto out_release;
		}
		buf = nb;
		blen = cap;
		rc = zoo_wget(zh, path, wfn(w), w, buf, &blen, st);
		if (rc != ZOK)
			goto out_release;
		if (st->dataLength <= cap)
			break;
		/* The node is bigger than the buffer: read it again. */
		cap = st->dataLength;
		rc = ZSYSTEMERROR;
	}
	if (rc != ZOK)
		goto out_release;
	if (blen < 0) {
		free(buf);
		buf = NULL;
		blen = 0;
	} else {
		buf[blen] = '\0';
	}
	*data = buf;
	*len = blen;
	buf = NULL;
out_release:
	zh_release(zs);
	free(buf);
	return rc;
}

int zk_exists(zk_session_t *zs, const char *path, zk_watcher_t *w,
	      struct Stat *st)
{
	struct Stat stat_local;
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	if (zh)
		rc = zoo_wexists(zh, path, wfn(w), w, st ? st : &stat_local);
	zh_release(zs);
	return rc;
}

int zk_children(zk_session_t *zs, const char *path, zk_watcher_t *w,
		struct String_vector *out)
{
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	memset(out, 0, sizeof(*out));
	if (zh)
		rc = zoo_wget_children(zh, path, wfn(w), w, out);
	zh_release(zs);
	return rc;
}

int zk_create(zk_session_t *zs, const char *path, const char *data, int len,
	      int flags, char *out_path, int out_path_size, struct Stat *st)
{
	struct Stat stat_local;
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	if (zh)
		rc = zoo_create2(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE,
				 flags, out_path, out_path ? out_path_size : 0,
				 st ? st : &stat_local);
	zh_release(zs);
	return rc;
}

int zk_create_parents(zk_session_t *zs, const char *path)
{
	char *p, *copy = strdup(path);
	int rc = ZOK;

	if (!copy)
		return ZSYSTEMERROR;
	for (p = copy + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char save = *p;

			*p = '\0';
			rc = zk_create(zs, copy, NULL, -1, 0, NULL, 0, NULL);
			*p = save;
			if (rc == ZNODEEXISTS)
				rc = ZOK;
			if (rc != ZOK || save == '\0')
				break;
		}
	}
	free(copy);
	return rc;
}

int zk_set(zk_session_t *zs, const char *path, const char *data, int len,
	   int version, struct Stat *st)
{
	struct Stat stat_local;
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	if (zh)
		rc = zoo_set2(zh, path, data, len, version,
			      st ? st : &stat_local);
	zh_release(zs);
	return rc;
}

int zk_delete(zk_session_t *zs, const char *path, int version)
{
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	if (zh)
		rc = zoo_delete(zh, path, version);
	zh_release(zs);
	return rc;
}

int zk_multi(zk_session_t *zs, int n, const zoo_op_t *ops,
	     zoo_op_result_t *results)
{
	zhandle_t *zh = zh_acquire(zs);
	int rc = ZINVALIDSTATE;

	if (zh)
		rc = zoo_multi(zh, n, ops, results);
	zh_release(zs);
	return rc;
}

/* ------------------------------------------------------------- pipelined */

struct many {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending;
};

struct many_slot {
	struct many *m;
	struct zk_read *r;
};

static void many_done(int rc, const char *value, int value_len,
		      const struct Stat *stat, const void *data)
{
	const struct many_slot *slot = data;
	struct zk_read *r = slot->r;
	struct many *m = slot->m;

	r->rc = rc;
	if (rc == ZOK) {
		if (stat)
			r->stat = *stat;
		if (value && value_len >= 0) {
			r->data = malloc((size_t)value_len + 1);
			if (r->data) {
				memcpy(r->data, value, (size_t)value_len);
				r->data[value_len] = '\0';
				r->len = value_len;
			} else {
				r->rc = ZSYSTEMERROR;
			}
		}
	}
	pthread_mutex_lock(&m->mu);
	m->pending--;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

int zk_get_many(zk_session_t *zs, struct zk_read *reads, int n, zk_watcher_t *w)
{
	struct many m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			 0};
	struct many_slot *slots;
	int first_err = ZOK;
	zhandle_t *zh;

	for (int i = 0; i < n; i++) {
		reads[i].rc = ZSYSTEMERROR;
		reads[i].data = NULL;
		reads[i].len = 0;
		memset(&reads[i].stat, 0, sizeof(reads[i].stat));
	}
	if (n <= 0)
		return ZOK;
	slots = calloc((size_t)n, sizeof(*slots));
	if (!slots)
		return ZSYSTEMERROR;
	zh = zh_acquire(zs);
	for (int i = 0; i < n; i++) {
		int rc;

		if (!zh) {
			reads[i].rc = first_err = ZINVALIDSTATE;
			continue;
		}
		slots[i].m = &m;
		slots[i].r = &reads[i];
		pthread_mutex_lock(&m.mu);
		while (m.pending >= MANY_WINDOW)
			pthread_cond_wait(&m.cv, &m.mu);
		m.pending++;
		pthread_mutex_unlock(&m.mu);
		rc = zoo_awget(zh, reads[i].path, wfn(w), w, many_done,
			       &slots[i]);
		if (rc != ZOK) {
			pthread_mutex_lock(&m.mu);
			m.pending--;
			pthread_mutex_unlock(&m.mu);
			reads[i].rc = rc;
			if (first_err == ZOK)
				first_err = rc;
		}
	}
	pthread_mutex_lock(&m.mu);
	while (m.pending > 0)
		pthread_cond_wait(&m.cv, &m.mu);
	pthread_mutex_unlock(&m.mu);
	zh_release(zs);
	free(slots);
	return first_err;
}

void zk_reads_free(struct zk_read *reads, int n)
{
	for (int i = 0; i < n; i++) {
		free(reads[i].data);
		reads[i].data = NULL;
	}
}
