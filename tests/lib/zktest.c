/*
 * zktest.c - start and stop a ZooKeeper for tests; forced expiry.
 */
#include "config.h"
#include "zktest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

static char zk_dir[256];
static char zk_connect[128];
static char script[512];
static pid_t starter_pid;
static int chroot_seq;

int64_t zktest_now_ms(void)
{
	return clock_mono_ms();
}

static const char *script_path(void)
{
	const char *top = getenv("top_srcdir");

	snprintf(script, sizeof(script), "%s/deploy/zk-local",
		 top ? top : "../..");
	return script;
}

void zktest_stop(void)
{
	char cmd[2048];

	if (!zk_dir[0] || getpid() != starter_pid)
		return;
	snprintf(cmd, sizeof(cmd), "%s stop '%s' >/dev/null 2>&1; rm -rf '%s'",
		 script_path(), zk_dir, zk_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "zktest: stopping ZooKeeper in %s failed\n",
			zk_dir);
	zk_dir[0] = '\0';
}

const char *zktest_start(void)
{
	char cmd[2048];
	FILE *p;

	if (zk_dir[0])
		return zk_connect;
	snprintf(zk_dir, sizeof(zk_dir), "/tmp/fluxo-zktest-XXXXXX");
	if (!mkdtemp(zk_dir)) {
		fprintf(stderr, "zktest: mkdtemp: %s\n", strerror(errno));
		zk_dir[0] = '\0';
		return NULL;
	}
	starter_pid = getpid();
	atexit(zktest_stop);
	snprintf(cmd, sizeof(cmd), "%s start '%s'", script_path(), zk_dir);
	p = popen(cmd, "r");
	if (!p || !fgets(zk_connect, sizeof(zk_connect), p)) {
		if (p)
			pclose(p);
		fprintf(stderr, "zktest: %s printed no connect string\n", cmd);
		zktest_stop();
		return NULL;
	}
	if (pclose(p) != 0) {
		fprintf(stderr, "zktest: %s failed\n", cmd);
		zktest_stop();
		return NULL;
	}
	zk_connect[strcspn(zk_connect, "\r\n")] = '\0';
	return zk_connect;
}

const char *zktest_chroot(const char *prefix)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s_%d_%d", zk_connect, prefix,
		 (int)getpid(), chroot_seq++);
	return buf;
}

zk_session_t *zktest_session(const char *connect, int session_timeout_ms)
{
	struct zk_config cfg = {connect, session_timeout_ms, 5000};
	char errstr[256];
	zk_session_t *zs = zk_session_open(&cfg, errstr, sizeof(errstr));

	if (!zs)
		fprintf(stderr, "zktest: %s\n", errstr);
	return zs;
}

struct wait_conn {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
};

static void expire_watcher(zhandle_t *zh, int type, int state, const char *path,
			   void *ctx)
{
	struct wait_conn *w = ctx;

	(void)zh;
	(void)path;
	if (type != ZOO_SESSION_EVENT)
		return;
	pthread_mutex_lock(&w->mu);
	w->state = state;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/*
 * One attempt: attach a second handle to the session, wait until it is
 * connected (the session moves to it), then close it, which closes the
 * session. The original handle may reconnect in between and move the
 * session back, in which case the close is refused as "session moved";
 * zktest_expire() then tries again.
 */
static bool expire_once(zk_session_t *zs, int64_t old_id, int64_t deadline)
{
	struct wait_conn w = {PTHREAD_MUTEX_INITIALIZER,
			      PTHREAD_COND_INITIALIZER, 0};
	clientid_t cid;
	zhandle_t *zh;
	bool ok;

	if (zk_session_credentials(zs, &cid) != ZOK)
		return false;
	zh = zookeeper_init(zk_connect, expire_watcher,
			    zk_session_timeout_ms(zs), &cid, &w, 0);
	if (!zh)
		return false;
	/* Woken by the watcher the moment the session moves here, so the
	 * close follows at once and the original handle has little time to
	 * move it back. */
	pthread_mutex_lock(&w.mu);
	while (w.state != ZOO_CONNECTED_STATE && clock_mono_ms() < deadline) {
		struct timespec ts;

		/* The session ended meanwhile (an earlier close took effect):
		 * this handle will never connect. */
		if (w.state == ZOO_EXPIRED_SESSION_STATE ||
		    zk_session_id(zs) != old_id)
			break;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w.cv, &w.mu, &ts);
	}
	ok = w.state == ZOO_CONNECTED_STATE;
	pthread_mutex_unlock(&w.mu);
	zookeeper_close(zh);
	return ok;
}

bool zktest_expire(zk_session_t *zs, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int64_t old_id = zk_session_id(zs);

	while (clock_mono_ms() < deadline) {
		int64_t settle;

		/* An earlier attempt may have worked late. */
		if (zk_session_id(zs) != old_id)
			return true;
		if (!expire_once(zs, old_id, deadline)) {
			/* No credentials: the session is being replaced. */
			usleep(50 * 1000);
			continue;
		}
		/* Expired when the wrapper notices (it then opens a new
		 * session, with a new id). */
		settle = clock_mono_ms() + 2000;
		while (clock_mono_ms() < settle) {
			if (zk_session_id(zs) != old_id)
				return true;
			usleep(10 * 1000);
		}
	}
	return false;
}

bool zktest_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (clock_mono_ms() >= deadline)
			return false;
		usleep(10 * 1000);
	}
}
