/*
 * registration.c - bootstrap paths, cluster id, broker registration.
 *
 * Design. registration_register() writes the node once, synchronously,
 * and then listens to the session. On ZK_EVENT_NEW_SESSION (the old
 * session expired and with it the node), the listener re-creates the node
 * on the session thread, retrying with a short backoff for up to twice
 * the session timeout: a node still owned by a session that the server
 * has not expired yet vanishes within that time. Because the listener was
 * added before the controller's, the controller's re-election runs after
 * the broker is registered again, as in Kafka's RegisterBrokerAndReelect.
 *
 * A broker that is not registered is invisible to the controller, so
 * re-registration never gives up while the process runs (Kafka keeps
 * retrying too). When the window on the session thread closes without
 * success (another session holds the node, ZooKeeper answers nothing but
 * errors), the listener hands over to the registration's retry thread and
 * returns, so that later session events and listeners are not held up.
 * That thread retries with a backoff doubling from RETRY_MIN_MS up to
 * RETRY_MAX_MS until it succeeds, until a newer session starts its own
 * registration (the listener then takes over again), or until
 * registration_destroy(). One attempt runs at a time (attempt_mu), so the
 * callback never runs twice at once.
 *
 * Every session id this process used is remembered, so a node left by one
 * of them is recognised as stale and replaced, never confused with
 * another broker's registration (KAFKA-7165's "node already exists and
 * owner does not match").
 *
 * Threads: mu guards the epoch, the session-id history and the retry
 * state; the ZooKeeper calls run without it, under attempt_mu.
 */
#include "config.h"
#include "registration.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"

#define FAC		 "registration"
#define MAX_OLD_SESSIONS 16
#define RETRY_MIN_MS	 500
#define RETRY_MAX_MS	 5000
/* How often an unchanged failure is logged again while retrying. */
#define RETRY_LOG_MS	 60000

struct registration {
	zk_session_t *zs;
	struct zk_broker info;
	registration_epoch_fn cb;
	void *cb_arg;
	int listener_id;
	char path[ZKPATH_MAX];

	pthread_mutex_t attempt_mu; /* one registration attempt at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t epoch;
	int64_t sessions[MAX_OLD_SESSIONS]; /* every session we used */
	int n_sessions;
	uint64_t session_gen; /* NEW_SESSION events seen */
	bool retry_wanted;    /* the retry thread should register */
	bool stopping;	      /* registration_destroy() was called */
	pthread_t retry_thread;
	bool retry_started;
};

/* ------------------------------------------------------------- bootstrap */

void registration_new_cluster_id(char out[23])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t u[18] = {0};
	int o = 0;

	if (getrandom(u, 16, 0) != 16) {
		uint64_t x = (uint64_t)clock_mono_ns() ^ (uint64_t)getpid();

		for (int i = 0; i < 16; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			u[i] = (uint8_t)x;
		}
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* IETF variant */
	/* 16 bytes = 5 groups of 3 plus 1 byte: 20 + 2 characters. */
	for (int i = 0; i < 15; i += 3) {
		uint32_t v =
		    (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];

		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[o++] = b64[u[15] >> 2];
	out[o++] = b64[(u[15] & 3) << 4];
	out[o] = '\0';
}

int registration_bootstrap(zk_session_t *zs, char *cluster_id,
			   size_t cluster_id_size, char *errstr,
			   size_t errstr_size)
{
	char *data = NULL;
	int len, rc;

	for (int i = 0; zkdata_persistent_paths[i]; i++) {
		rc = zk_create_parents(zs, zkdata_persistent_paths[i]);
		if (rc != ZOK) {
			snprintf(errstr, errstr_size,
				 "cannot create %s in ZooKeeper: %s",
				 zkdata_persistent_paths[i], zerror(rc));
			return ERR_ZK;
		}
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		rc = zk_get(zs, ZK_PATH_CLUSTER_ID, NULL, &data, &len, NULL);
		if (rc == ZOK) {
			rc = zkdata_cluster_id_decode(
			    data, (size_t)len, cluster_id, cluster_id_size,
			    errstr, errstr_size);
			free(data);
			return rc;
		}
		if (rc == ZNONODE) {
			char id[23];
			char *js;

			registration_new_cluster_id(id);
			js = zkdata_cluster_id_encode(id);
			if (!js) {
				snprintf(errstr, errstr_size, "out of memory");
				return ERR_NOMEM;
			}
			rc = zk_create(zs, ZK_PATH_CLUSTER_ID, js,
				       (int)strlen(js), 0, NULL, 0, NULL);
			free(js);
			if (rc == ZOK) {
				log_info(FAC, "created cluster id %s", id);
				snprintf(cluster_id, cluster_id_size, "%s", id);
				return 0;
			}
			/* NODEEXISTS: another broker won the race; re-read. */
		}
		if (rc != ZNODEEXISTS && !zk_rc_is_connection(rc))
			break;
		if (zk_rc_is_connection(rc))
			usleep(100 * 1000);
	}
	snprintf(errstr, errstr_size, "cannot read or create %s: %s",
		 ZK_PATH_CLUSTER_ID, zerror(rc));
	return ERR_ZK;
}

/* ------------------------------------------------------------- register */

static bool is_old_session(registration_t *reg, int64_t owner)
{
	bool found = false;

	pthread_mutex_lock(&reg->mu);
	for (int i = 0; i < reg->n_sessions; i++)
		if (reg->sessions[i] == owner)
			found = true;
	pthread_mutex_unlock(&reg->mu);
	return found;
}

static void remember_session(registration_t *reg, int64_t sid)
{
	pthread_mutex_lock(&reg->mu);
	for (int i = 0; i < reg->n_sessions; i++)
		if (reg->sessions[i] == sid)
			goto out;
	if (reg->n_sessions == MAX_OLD_SESSIONS) {
		memmove(&reg->sessions[0], &reg->sessions[1],
			(MAX_OLD_SESSIONS - 1) * sizeof(reg->sessions[0]));
		reg->n_sessions--;
	}
	reg->sessions[reg->n_sessions++] = sid;
out:
	pthread_mutex_unlock(&reg->mu);
}

/*
 * One attempt. Returns 0 with *epoch; ERR_AGAIN when a retry may help
 * (connection trouble, a stale node just removed); ERR_EXISTS when another
 * live session owns the node; ERR_ZK / ERR_NOMEM otherwise.
 */
static int register_once(registration_t *reg, int64_t *epoch, char *errstr,
			 size_t errstr_size)
{
	int64_t sid = zk_session_id(reg->zs);
	zoo_op_result_t res[2];
	struct Stat set_stat, st;
	zoo_op_t ops[2];
	char *data = NULL, *cur = NULL;
	int rc, len;

	if (sid == 0) {
		snprintf(errstr, errstr_size, "no ZooKeeper session");
		return ERR_AGAIN;
	}
	remember_session(reg, sid);
	reg->info.timestamp = clock_wall_ms();
	data = zkdata_broker_encode(&reg->info);
	if (!data) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	memset(&set_stat, 0, sizeof(set_stat));
	zoo_create_op_init(&ops[0], reg->path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
			   ZOO_EPHEMERAL, NULL, 0);
	zoo_set_op_init(&ops[1], reg->path, data, (int)strlen(data), 0,
			&set_stat);
	rc = zk_multi(reg->zs, 2, ops, res);
	if (rc == ZOK) {
		*epoch = set_stat.czxid;
		rc = 0;
		goto out;
	}
	if (zk_rc_is_connection(rc)) {
		snprintf(errstr, errstr_size, "registering %s: %s", reg->path,
			 zerror(rc));
		rc = ERR_AGAIN;
		goto out;
	}
	if (rc != ZNODEEXISTS) {
		snprintf(errstr, errstr_size, "cannot create %s: %s", reg->path,
			 zerror(rc));
		rc = ERR_ZK;
		goto out;
	}

	rc = zk_get(reg->zs, reg->path, NULL, &cur, &len, &st);
	if (rc == ZNONODE || zk_rc_is_connection(rc)) {
		snprintf(errstr, errstr_size, "registering %s: %s", reg->path,
			 zerror(rc));
		rc = ERR_AGAIN;
		goto out;
	}
	if (rc != ZOK) {
		snprintf(errstr, errstr_size, "cannot read %s: %s", reg->path,
			 zerror(rc));
		rc = ERR_ZK;
		goto out;
	}
	if (st.ephemeralOwner == sid) {
		/* Our own node: an earlier attempt went through. */
		rc = zk_set(reg->zs, reg->path, data, (int)strlen(data),
			    st.version, NULL);
		if (rc != ZOK && rc != ZBADVERSION) {
			snprintf(errstr, errstr_size, "cannot update %s: %s",
				 reg->path, zerror(rc));
			rc = zk_rc_is_connection(rc) ? ERR_AGAIN : ERR_ZK;
			goto out;
		}
		*epoch = st.czxid;
		rc = 0;
		goto out;
	}
	if (st.ephemeralOwner != 0 && is_old_session(reg, st.ephemeralOwner)) {
		log_warn(FAC,
			 "%s is still held by this broker's earlier session "
			 "0x%llx; replacing it",
			 reg->path, (unsigned long long)st.ephemeralOwner);
		rc = zk_delete(reg->zs, reg->path, st.version);
		if (rc != ZOK && rc != ZNONODE && rc != ZBADVERSION &&
		    !zk_rc_is_connection(rc)) {
			snprintf(errstr, errstr_size, "cannot delete %s: %s",
				 reg->path, zerror(rc));
			rc = ERR_ZK;
			goto out;
		}
		snprintf(errstr, errstr_size, "replaced a stale %s", reg->path);
		rc = ERR_AGAIN;
		goto out;
	}
	snprintf(errstr, errstr_size,
		 "broker.id %" PRId32
		 " is already registered by another broker (session 0x%llx)",
		 reg->info.id, (unsigned long long)st.ephemeralOwner);
	rc = ERR_EXISTS;
out:
	free(cur);
	free(data);
	return rc;
}

/* Waits up to ms or until registration_destroy(); true when stopping. */
static bool nap(registration_t *reg, int64_t ms)
{
	int64_t deadline = clock_mono_ms() + ms;
	bool stopping;

	pthread_mutex_lock(&reg->mu);
	while (!reg->stopping && clock_mono_ms() < deadline) {
		struct timespec ts;
		int64_t left = deadline - clock_mono_ms();

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&reg->cv, &reg->mu, &ts);
	}
	stopping = reg->stopping;
	pthread_mutex_unlock(&reg->mu);
	return stopping;
}

/* Retries register_once() until it settles, deadline_ms passes or
 * registration_destroy() is called. */
static int register_retry(registration_t *reg, int64_t deadline_ms,
			  bool retry_exists, int64_t *epoch, char *errstr,
			  size_t errstr_size)
{
	bool told = false;
	int rc;

	for (;;) {
		rc = register_once(reg, epoch, errstr, errstr_size);
		if (rc == 0 || rc == ERR_NOMEM || rc == ERR_ZK)
			break;
		if (rc == ERR_EXISTS && !retry_exists)
			break;
		if (rc == ERR_EXISTS && !told &&
		    clock_mono_ms() < deadline_ms) {
			/* Often a crashed predecessor whose session has not
			 * expired yet: it goes within a session timeout. */
			log_warn(FAC,
				 "%s; waiting up to %" PRId64
				 " ms for it to expire",
				 errstr, deadline_ms - clock_mono_ms());
			told = true;
		}
		if (clock_mono_ms() >= deadline_ms)
			break;
		if (nap(reg, rc == ERR_EXISTS ? 500 : 100))
			break;
	}
	if (rc == ERR_AGAIN)
		rc = ERR_ZK;
	return rc;
}

/*
 * The retry thread: registers whenever retry_wanted is set, with a backoff
 * doubling from RETRY_MIN_MS to RETRY_MAX_MS, for the session generation
 * that asked, until registration_destroy().
 */
static void *retry_main(void *arg)
{
	registration_t *reg = arg;
	int64_t backoff = RETRY_MIN_MS, last_log = 0;
	char errstr[256], last_err[256] = "";

	pthread_mutex_lock(&reg->mu);
	for (;;) {
		uint64_t gen;
		int64_t epoch = -1;
		bool current;
		int rc;

		while (!reg->stopping && !reg->retry_wanted) {
			backoff = RETRY_MIN_MS;
			last_err[0] = '\0';
			pthread_cond_wait(&reg->cv, &reg->mu);
		}
		if (reg->stopping)
			break;
		pthread_mutex_unlock(&reg->mu);
		if (nap(reg, backoff))
			goto out;
		backoff =
		    backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;

		pthread_mutex_lock(&reg->attempt_mu);
		pthread_mutex_lock(&reg->mu);
		gen = reg->session_gen;
		current = reg->retry_wanted && !reg->stopping;
		pthread_mutex_unlock(&reg->mu);
		if (!current) {
			pthread_mutex_unlock(&reg->attempt_mu);
			pthread_mutex_lock(&reg->mu);
			continue;
		}
		rc = register_once(reg, &epoch, errstr, sizeof(errstr));
		pthread_mutex_lock(&reg->mu);
		/* A newer session re-registers by itself. */
		current = reg->retry_wanted && reg->session_gen == gen;
		if (rc == 0 && current) {
			reg->epoch = epoch;
			reg->retry_wanted = false;
		}
		pthread_mutex_unlock(&reg->mu);
		if (rc == 0 && current) {
			log_info(FAC,
				 "registered broker %" PRId32
				 " again with broker epoch %" PRId64,
				 reg->info.id, epoch);
			if (reg->cb)
				reg->cb(reg->cb_arg, epoch);
		} else if (rc < 0 && current &&
			   (strcmp(errstr, last_err) != 0 ||
			    clock_mono_ms() - last_log >= RETRY_LOG_MS)) {
			log_warn(FAC,
				 "registering broker %" PRId32
				 " again failed: %s; still retrying",
				 reg->info.id, errstr);
			snprintf(last_err, sizeof(last_err), "%s", errstr);
			last_log = clock_mono_ms();
		}
		pthread_mutex_unlock(&reg->attempt_mu);
		pthread_mutex_lock(&reg->mu);
	}
	pthread_mutex_unlock(&reg->mu);
out:
	return NULL;
}

static void on_session(zk_session_t *zs, enum zk_event ev, void *arg)
{
	registration_t *reg = arg;
	char errstr[256];
	int64_t epoch = -1;
	bool stopping;
	int rc;

	if (ev == ZK_EVENT_EXPIRED) {
		pthread_mutex_lock(&reg->mu);
		reg->epoch = -1;
		pthread_mutex_unlock(&reg->mu);
		return;
	}
	if (ev != ZK_EVENT_NEW_SESSION)
		return;
	/* This session's registration supersedes any retry of an older one. */
	pthread_mutex_lock(&reg->mu);
	reg->session_gen++;
	reg->retry_wanted = false;
	stopping = reg->stopping;
	pthread_mutex_unlock(&reg->mu);
	if (stopping)
		return;
	pthread_mutex_lock(&reg->attempt_mu);
	/*
	 * A node owned by another session may be a zombie of ours the server
	 * has not expired yet; it goes within a session timeout.
	 */
	rc = register_retry(
	    reg, clock_mono_ms() + 2 * (int64_t)zk_session_timeout_ms(zs), true,
	    &epoch, errstr, sizeof(errstr));
	pthread_mutex_lock(&reg->mu);
	stopping = reg->stopping;
	pthread_mutex_unlock(&reg->mu);
	if (rc < 0 && stopping) {
		/* Interrupted by registration_destroy(): nothing to report. */
		pthread_mutex_unlock(&reg->attempt_mu);
		return;
	}
	if (rc < 0) {
		log_error(FAC,
			  "could not register broker %" PRId32
			  " again after the session expired: %s; retrying "
			  "every %d s at most until it works",
			  reg->info.id, errstr, RETRY_MAX_MS / 1000);
		epoch = -1;
	} else {
		log_info(FAC,
			 "registered broker %" PRId32
			 " again with broker epoch %" PRId64,
			 reg->info.id, epoch);
	}
	pthread_mutex_lock(&reg->mu);
	reg->epoch = epoch;
	if (rc < 0 && !reg->stopping) {
		reg->retry_wanted = true;
		pthread_cond_broadcast(&reg->cv);
	}
	pthread_mutex_unlock(&reg->mu);
	if (reg->cb)
		reg->cb(reg->cb_arg, epoch);
	pthread_mutex_unlock(&reg->attempt_mu);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

registration_t *registration_new(zk_session_t *zs, const struct zk_broker *info,
				 registration_epoch_fn cb, void *arg)
{
	registration_t *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->zs = zs;
	reg->cb = cb;
	reg->cb_arg = arg;
	reg->listener_id = -1;
	reg->epoch = -1;
	pthread_mutex_init(&reg->attempt_mu, NULL);
	pthread_mutex_init(&reg->mu, NULL);
	pthread_cond_init(&reg->cv, NULL);
	reg->info.id = info->id;
	reg->info.jmx_port = info->jmx_port;
	reg->info.rack = dup_or_null(info->rack);
	if (info->rack && !reg->info.rack)
		goto err;
	reg->info.endpoints =
	    calloc((size_t)info->n_endpoints + 1, sizeof(*reg->info.endpoints));
	if (!reg->info.endpoints)
		goto err;
	for (int i = 0; i < info->n_endpoints; i++) {
		struct zk_endpoint *d = &reg->info.endpoints[i];
		const struct zk_endpoint *s = &info->endpoints[i];

		reg->info.n_endpoints++;
		d->listener = dup_or_null(s->listener);
		d->host = dup_or_null(s->host);
		d->protocol =
		    dup_or_null(s->protocol ? s->protocol : s->listener);
		d->port = s->port;
		if (!d->listener || !d->host || !d->protocol)
			goto err;
	}
	zkpath_broker(reg->path, sizeof(reg->path), info->id);
	return reg;
err:
	registration_destroy(reg);
	return NULL;
}

int registration_register(registration_t *reg, int64_t *epoch, char *errstr,
			  size_t errstr_size)
{
	int64_t e = -1;
	int rc;

	/* A node of a live session blocks us for up to one session timeout:
	 * the time for a crashed predecessor's session to expire. */
	rc = register_retry(
	    reg, clock_mono_ms() + zk_session_timeout_ms(reg->zs) + 1000, true,
	    &e, errstr, errstr_size);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&reg->mu);
	reg->epoch = e;
	pthread_mutex_unlock(&reg->mu);
	if (!reg->retry_started) {
		rc = pthread_create(&reg->retry_thread, NULL, retry_main, reg);
		if (rc != 0) {
			snprintf(errstr, errstr_size,
				 "cannot start the re-registration thread: %s",
				 strerror(rc));
			return ERR_NOMEM;
		}
		reg->retry_started = true;
	}
	if (reg->listener_id < 0) {
		reg->listener_id = zk_session_listen(reg->zs, on_session, reg);
		if (reg->listener_id < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return ERR_NOMEM;
		}
	}
	log_info(FAC,
		 "registered broker %" PRId32 " at %s, broker epoch %" PRId64,
		 reg->info.id, reg->path, e);
	if (epoch)
		*epoch = e;
	return 0;
}

void registration_add_old_session(registration_t *reg, int64_t session_id)
{
	remember_session(reg, session_id);
}

int64_t registration_epoch(registration_t *reg)
{
	int64_t e;

	pthread_mutex_lock(&reg->mu);
	e = reg->epoch;
	pthread_mutex_unlock(&reg->mu);
	return e;
}

int registration_deregister(registration_t *reg)
{
	struct Stat st;
	int rc;

	rc = zk_exists(reg->zs, reg->path, NULL, &st);
	if (rc == ZNONODE)
		return 0;
	if (rc != ZOK)
		return ERR_ZK;
	if (st.ephemeralOwner != zk_session_id(reg->zs))
		return 0;
	rc = zk_delete(reg->zs, reg->path, st.version);
	pthread_mutex_lock(&reg->mu);
	reg->epoch = -1;
	pthread_mutex_unlock(&reg->mu);
	return rc == ZOK || rc == ZNONODE ? 0 : ERR_ZK;
}

void registration_destroy(registration_t *reg)
{
	if (!reg)
		return;
	/* Wakes a retry on the session thread or the retry thread. */
	pthread_mutex_lock(&reg->mu);
	reg->stopping = true;
	pthread_cond_broadcast(&reg->cv);
	pthread_mutex_unlock(&reg->mu);
	if (reg->listener_id >= 0)
		zk_session_unlisten(reg->zs, reg->listener_id);
	if (reg->retry_started)
		pthread_join(reg->retry_thread, NULL);
	zkdata_broker_free(&reg->info);
	pthread_cond_destroy(&reg->cv);
	pthread_mutex_destroy(&reg->mu);
	pthread_mutex_destroy(&reg->attempt_mu);
	free(reg);
}
