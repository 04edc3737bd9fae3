/*
 * test_registration.c - bootstrap paths, cluster id, and the checked
 * ephemeral registration against a real ZooKeeper: the JSON written,
 * the broker epoch, a duplicate broker id, a node left by an earlier
 * session, re-registration after a forced session expiry, and that it
 * keeps retrying past twice the session timeout (and stops on destroy)
 * while another session holds the node.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/registration.h"
#include "coordinator/zkdata.h"
#include "tests/lib/zktest.h"

static char errstr[512];
static char cid[64];

static struct zk_endpoint eps[2] = {
    {"PLAINTEXT", "127.0.0.1", 9092, "PLAINTEXT"},
    {"INTERNAL", "127.0.0.1", 9093, "PLAINTEXT"},
};

static struct zk_broker info_for(int32_t id)
{
	struct zk_broker b = {.id = id,
			      .jmx_port = -1,
			      .endpoints = eps,
			      .n_endpoints = 2,
			      .rack = "rack-a"};

	return b;
}

START_TEST(test_bootstrap_and_cluster_id)
{
	zk_session_t *zs = zktest_session(zktest_chroot("boot"), 4000);
	char id[64], id2[64];
	struct Stat st;

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(
	    registration_bootstrap(zs, id, sizeof(id), errstr, sizeof(errstr)),
	    0);
	ck_assert_int_eq(strlen(id), 22);
	ck_assert_int_eq(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				    "nopqrstuvwxyz0123456789-_"),
			 22);
	for (int i = 0; zkdata_persistent_paths[i]; i++)
		ck_assert_msg(
		    zk_exists(zs, zkdata_persistent_paths[i], NULL, &st) == ZOK,
		    "%s missing", zkdata_persistent_paths[i]);
	/* A second broker reads the same id. */
	ck_assert_int_eq(registration_bootstrap(zs, id2, sizeof(id2), errstr,
						sizeof(errstr)),
			 0);
	ck_assert_str_eq(id, id2);
	/* Distinct clusters get distinct ids. */
	registration_new_cluster_id(id2);
	ck_assert_str_ne(id, id2);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_register_writes_v4)
{
	zk_session_t *zs = zktest_session(zktest_chroot("reg"), 4000);
	struct zk_broker info = info_for(1), dec = {0};
	registration_t *reg;
	struct Stat st;
	int64_t epoch = -1, epoch2 = -1;
	char *data;
	int len;

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(registration_bootstrap(zs, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	reg = registration_new(zs, &info, NULL, NULL);
	ck_assert_int_eq(
	    registration_register(reg, &epoch, errstr, sizeof(errstr)), 0);
	ck_assert_int_eq(zk_get(zs, "/brokers/ids/1", NULL, &data, &len, &st),
			 ZOK);
	ck_assert_int_eq(epoch, st.czxid);
	ck_assert_int_eq(registration_epoch(reg), epoch);
	ck_assert_int_eq(st.ephemeralOwner, zk_session_id(zs));
	ck_assert_int_eq(zkdata_broker_decode(data, (size_t)len, &dec, errstr,
					      sizeof(errstr)),
			 0);
	ck_assert_int_eq(dec.version, 4);
	ck_assert_str_eq(dec.host, "127.0.0.1");
	ck_assert_int_eq(dec.port, 9092);
	ck_assert_str_eq(dec.rack, "rack-a");
	ck_assert_int_eq(dec.n_endpoints, 2);
	ck_assert_int_eq(zkdata_broker_endpoint(&dec, "INTERNAL")->port, 9093);
	zkdata_broker_free(&dec);
	free(data);

	/* Registering again in the same session keeps the node (a retry). */
	ck_assert_int_eq(
	    registration_register(reg, &epoch2, errstr, sizeof(errstr)), 0);
	ck_assert_int_eq(epoch2, epoch);
	ck_assert_int_eq(registration_deregister(reg), 0);
	ck_assert_int_eq(zk_exists(zs, "/brokers/ids/1", NULL, NULL), ZNONODE);
	registration_destroy(reg);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_duplicate_id_refused)
{
	const char *cs = zktest_chroot("dup");
	zk_session_t *a = zktest_session(cs, 4000),
		     *b = zktest_session(cs, 4000);
	struct zk_broker info = info_for(7);
	registration_t *ra, *rb;
	char want[128];
	int64_t e, t0;

	ck_assert_int_eq(
	    registration_bootstrap(a, cid, sizeof(cid), errstr, sizeof(errstr)),
	    0);
	ra = registration_new(a, &info, NULL, NULL);
	rb = registration_new(b, &info, NULL, NULL);
	ck_assert_int_eq(registration_register(ra, &e, errstr, sizeof(errstr)),
			 0);
	/* A live owner: refused after waiting one session timeout. */
	t0 = zktest_now_ms();
	ck_assert_int_eq(registration_register(rb, &e, errstr, sizeof(errstr)),
			 ERR_EXISTS);
	ck_assert_int_ge(zktest_now_ms() - t0, 4000);
	ck_assert_int_lt(zktest_now_ms() - t0, 8000);
	snprintf(want, sizeof(want),
		 "broker.id 7 is already registered by another broker "
		 "(session 0x%llx)",
		 (unsigned long long)zk_session_id(a));
	ck_assert_str_eq(errstr, want);
	ck_assert_int_eq(registration_epoch(rb), -1);
	registration_destroy(rb);
	registration_destroy(ra);
	zk_session_close(b);
	zk_session_close(a);
}
END_TEST

/* A node held by this broker's previous session is replaced at once. */
START_TEST(test_stale_node_replaced)
{
	const char *cs = zktest_chroot("stale");
	zk_session_t *old = zktest_session(cs, 20000),
		     *cur = zktest_session(cs, 4000);
	struct zk_broker info = info_for(3);
	registration_t *rold, *rcur;
	int64_t e_old, e_new;
	struct Stat st;

	ck_assert_int_eq(registration_bootstrap(cur, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	rold = registration_new(old, &info, NULL, NULL);
	ck_assert_int_eq(
	    registration_register(rold, &e_old, errstr, sizeof(errstr)), 0);
	rcur = registration_new(cur, &info, NULL, NULL);
	registration_add_old_session(rcur, zk_session_id(old));
	ck_assert_int_eq(
	    registration_register(rcur, &e_new, errstr, sizeof(errstr)), 0);
	ck_assert_int_gt(e_new, e_old);
	ck_assert_int_eq(zk_exists(cur, "/brokers/ids/3", NULL, &st), ZOK);
	ck_assert_int_eq(st.ephemeralOwner, zk_session_id(cur));
	ck_assert_int_eq(st.czxid, e_new);
	registration_destroy(rold);
	registration_destroy(rcur);
	zk_session_close(old);
	zk_session_close(cur);
}
END_TEST

/* A predecessor killed with SIGKILL: its node is waited out, not fatal. */
START_TEST(test_crashed_predecessor)
{
	const char *cs = zktest_chroot("crash");
	struct zk_broker info = info_for(4);
	registration_t *reg;
	zk_session_t *zs;
	int64_t t0, e;
	int fds[2], status;
	char c = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		zk_session_t *old = zktest_session(cs, 2000);
		registration_t *r;

		if (!old || registration_bootstrap(old, cid, sizeof(cid),
						   errstr, sizeof(errstr)) < 0)
			_exit(1);
		r = registration_new(old, &info, NULL, NULL);
		if (registration_register(r, &e, errstr, sizeof(errstr)) < 0)
			_exit(1);
		c = 'r';
		if (write(fds[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(c, 'r');
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);

	zs = zktest_session(cs, 4000);
	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(zk_exists(zs, "/brokers/ids/4", NULL, NULL), ZOK);
	reg = registration_new(zs, &info, NULL, NULL);
	t0 = zktest_now_ms();
	ck_assert_int_eq(registration_register(reg, &e, errstr, sizeof(errstr)),
			 0);
	/* Registered once the dead session expired (2 s timeout). */
	ck_assert_int_lt(zktest_now_ms() - t0, 5000);
	registration_destroy(reg);
	zk_session_close(zs);
}
END_TEST

struct epoch_rec {
	pthread_mutex_t mu;
	int64_t epochs[8];
	int n;
};

static void on_epoch(void *arg, int64_t epoch)
{
	struct epoch_rec *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->n < 8)
		r->epochs[r->n++] = epoch;
	pthread_mutex_unlock(&r->mu);
}

static bool got_epoch(void *arg)
{
	struct epoch_rec *r = arg;
	bool b;

	pthread_mutex_lock(&r->mu);
	b = r->n > 0;
	pthread_mutex_unlock(&r->mu);
	return b;
}

START_TEST(test_reregister_after_expiry)
{
	zk_session_t *zs = zktest_session(zktest_chroot("expiry"), 4000);
	struct epoch_rec rec = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	struct zk_broker info = info_for(2);
	registration_t *reg;
	int64_t e1, old_sid;
	struct Stat st;

	ck_assert_int_eq(registration_bootstrap(zs, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	reg = registration_new(zs, &info, on_epoch, &rec);
	ck_assert_int_eq(
	    registration_register(reg, &e1, errstr, sizeof(errstr)), 0);
	old_sid = zk_session_id(zs);
	ck_assert(zktest_expire(zs, 20000));
	ck_assert_msg(zktest_wait(got_epoch, &rec, 20000),
		      "no re-registration within 20 s");
	ck_assert_int_gt(rec.epochs[0], e1);
	ck_assert_int_eq(registration_epoch(reg), rec.epochs[0]);
	ck_assert_int_eq(zk_exists(zs, "/brokers/ids/2", NULL, &st), ZOK);
	ck_assert_int_eq(st.czxid, rec.epochs[0]);
	ck_assert_int_ne(st.ephemeralOwner, old_sid);
	ck_assert_int_eq(st.ephemeralOwner, zk_session_id(zs));
	registration_destroy(reg);
	zk_session_close(zs);
}
END_TEST

/*
 * Another session takes /brokers/ids/<id> the moment the broker's new
 * session is announced: a listener added before the registration's runs
 * first, so the registration always finds the node taken.
 */
struct impostor {
	zk_session_t *zs;
	const char *path;
	atomic_bool done;
	int rc;
};

static void impostor_listener(zk_session_t *zs, enum zk_event ev, void *arg)
{
	struct impostor *im = arg;

	(void)zs;
	if (ev != ZK_EVENT_NEW_SESSION || atomic_exchange(&im->done, true))
		return;
	im->rc =
	    zk_create(im->zs, im->path, "{}", 2, ZOO_EPHEMERAL, NULL, 0, NULL);
}

static int n_epochs(struct epoch_rec *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static bool got_second_epoch(void *arg)
{
	return n_epochs(arg) >= 2;
}

/*
 * Sets up a broker (session timeout 2 s) whose session is expired and
 * whose node an impostor holds; returns once the registration has
 * reported the first failure (-1) after twice the session timeout.
 */
static registration_t *expire_with_impostor(const char *cs, int32_t id,
					    const char *path,
					    struct impostor *im,
					    struct epoch_rec *rec,
					    zk_session_t **zsp, int64_t *e1)
{
	struct zk_broker info = info_for(id);
	zk_session_t *zs = zktest_session(cs, 2000);
	registration_t *reg;

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(registration_bootstrap(zs, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	im->zs = zktest_session(cs, 20000);
	im->path = path;
	im->rc = -1;
	atomic_init(&im->done, false);
	ck_assert_int_ge(zk_session_listen(zs, impostor_listener, im), 0);
	reg = registration_new(zs, &info, on_epoch, rec);
	ck_assert_int_eq(registration_register(reg, e1, errstr, sizeof(errstr)),
			 0);
	ck_assert(zktest_expire(zs, 20000));
	ck_assert_msg(zktest_wait(got_epoch, rec, 20000),
		      "no report within 20 s of the expiry");
	ck_assert_int_eq(im->rc, ZOK);
	ck_assert_int_eq(rec->epochs[0], -1);
	*zsp = zs;
	return reg;
}

/*
 * The node is held for longer than twice the session timeout: the
 * registration reports -1 but keeps trying, and registers as soon as the
 * node is free (within its largest backoff, 5 s), with a new epoch.
 */
START_TEST(test_reregister_keeps_retrying)
{
	struct epoch_rec rec = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	struct impostor im;
	registration_t *reg;
	zk_session_t *zs;
	int64_t e1, t0, took;
	struct Stat st;

	reg = expire_with_impostor(zktest_chroot("retry"), 7, "/brokers/ids/7",
				   &im, &rec, &zs, &e1);
	/* Well past the first window, still refused, still unregistered. */
	sleep(3);
	ck_assert_int_eq(n_epochs(&rec), 1);
	ck_assert_int_eq(registration_epoch(reg), -1);
	ck_assert_int_eq(zk_exists(zs, "/brokers/ids/7", NULL, &st), ZOK);
	ck_assert_int_ne(st.ephemeralOwner, zk_session_id(zs));

	zk_session_close(im.zs); /* its node goes with it */
	t0 = zktest_now_ms();
	ck_assert_msg(zktest_wait(got_second_epoch, &rec, 15000),
		      "not registered again within 15 s of the node's release");
	took = zktest_now_ms() - t0;
	ck_assert_msg(took < 5000 + 2000,
		      "registered %lld ms after the release (backoff <= 5 s)",
		      (long long)took);
	ck_assert_int_gt(rec.epochs[1], e1);
	ck_assert_int_eq(registration_epoch(reg), rec.epochs[1]);
	ck_assert_int_eq(zk_exists(zs, "/brokers/ids/7", NULL, &st), ZOK);
	ck_assert_int_eq(st.czxid, rec.epochs[1]);
	ck_assert_int_eq(st.ephemeralOwner, zk_session_id(zs));
	registration_destroy(reg);
	zk_session_close(zs);
}
END_TEST

/* Destroying a registration that is retrying returns promptly and calls
 * back no more. */
START_TEST(test_destroy_while_retrying)
{
	struct epoch_rec rec = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	struct impostor im;
	registration_t *reg;
	zk_session_t *zs;
	int64_t e1, t0;

	reg = expire_with_impostor(zktest_chroot("retrystop"), 8,
				   "/brokers/ids/8", &im, &rec, &zs, &e1);
	t0 = zktest_now_ms();
	registration_destroy(reg);
	ck_assert_int_lt(zktest_now_ms() - t0, 2000);
	zk_session_close(im.zs);
	sleep(1);
	ck_assert_int_eq(n_epochs(&rec), 1);
	zk_session_close(zs);
}
END_TEST

static Suite *registration_suite(void)
{
	Suite *s = suite_create("registration");
	TCase *tc = tcase_create("zookeeper");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bootstrap_and_cluster_id);
	tcase_add_test(tc, test_register_writes_v4);
	tcase_add_test(tc, test_duplicate_id_refused);
	tcase_add_test(tc, test_stale_node_replaced);
	tcase_add_test(tc, test_crashed_predecessor);
	tcase_add_test(tc, test_reregister_after_expiry);
	tcase_add_test(tc, test_reregister_keeps_retrying);
	tcase_add_test(tc, test_destroy_while_retrying);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!zktest_start())
		return EXIT_FAILURE;
	sr = srunner_create(registration_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
