/*
 * test_zk.c - the session wrapper against a real ZooKeeper: chroot
 * creation, synchronous helpers and their return codes, watches and
 * their disabling, pipelined reads, and a forced session expiry that must
 * be followed by a new session.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "coordinator/zk.h"
#include "tests/lib/zktest.h"

static const char *zk_connect;

START_TEST(test_chroot_created)
{
	char bare_path[256];
	const char *cs = zktest_chroot("chroot");
	const char *slash = strchr(cs, '/');
	zk_session_t *zs, *bare;
	char nested[256];
	struct Stat st;

	snprintf(nested, sizeof(nested), "%s/deeper/still", cs);
	zs = zktest_session(nested, 4000);
	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(zk_create(zs, "/x", "1", 1, 0, NULL, 0, NULL), ZOK);
	bare = zktest_session(zk_connect, 4000);
	ck_assert_ptr_nonnull(bare);
	snprintf(bare_path, sizeof(bare_path), "%s/deeper/still/x", slash);
	ck_assert_int_eq(zk_exists(bare, bare_path, NULL, &st), ZOK);
	ck_assert_int_eq(st.dataLength, 1);
	zk_session_close(bare);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_sync_helpers)
{
	zk_session_t *zs = zktest_session(zktest_chroot("sync"), 4000);
	struct String_vector kids;
	zoo_op_result_t res[3];
	struct Stat st, st2;
	zoo_op_t ops[3];
	char path[64];
	char *data;
	int len;

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(zk_get(zs, "/nope", NULL, &data, &len, &st), ZNONODE);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(zk_create(zs, "/a/b", "x", 1, 0, NULL, 0, NULL),
			 ZNONODE);
	ck_assert_int_eq(zk_create_parents(zs, "/a/b/c"), ZOK);
	ck_assert_int_eq(zk_create_parents(zs, "/a/b/c"), ZOK);
	ck_assert_int_eq(zk_create(zs, "/a/b/c", NULL, -1, 0, NULL, 0, NULL),
			 ZNODEEXISTS);
	ck_assert_int_eq(zk_create(zs, "/a/v", "hello", 5, 0, NULL, 0, &st),
			 ZOK);
	ck_assert_int_eq(st.version, 0);
	ck_assert_int_eq(zk_get(zs, "/a/v", NULL, &data, &len, &st2), ZOK);
	ck_assert_int_eq(len, 5);
	ck_assert_str_eq(data, "hello");
	ck_assert_int_eq(st2.czxid, st.czxid);
	free(data);
	/* Null data reads as NULL, length 0. */
	ck_assert_int_eq(zk_get(zs, "/a/b", NULL, &data, &len, NULL), ZOK);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(len, 0);

	ck_assert_int_eq(zk_set(zs, "/a/v", "bye", 3, 5, NULL), ZBADVERSION);
	ck_assert_int_eq(zk_set(zs, "/a/v", "bye", 3, 0, &st), ZOK);
	ck_assert_int_eq(st.version, 1);
	ck_assert_int_eq(zk_delete(zs, "/a/v", 0), ZBADVERSION);
	ck_assert_int_eq(zk_delete(zs, "/a", -1), ZNOTEMPTY);

	ck_assert_int_eq(zk_create(zs, "/a/s-", "", 0, ZOO_SEQUENCE, path,
				   sizeof(path), NULL),
			 ZOK);
	/* The suffix counts the parent's child creations (b, v, then s-). */
	ck_assert_str_eq(path, "/a/s-0000000002");
	ck_assert_int_eq(zk_children(zs, "/a", NULL, &kids), ZOK);
	ck_assert_int_eq(kids.count, 3);
	deallocate_String_vector(&kids);

	/* A multi is all or nothing; the failing op is reported. */
	zoo_check_op_init(&ops[0], "/a/v", 1);
	zoo_create_op_init(&ops[1], "/a/m", "m", 1, &ZOO_OPEN_ACL_UNSAFE, 0,
			   NULL, 0);
	zoo_set_op_init(&ops[2], "/a/v", "z", 1, 7, NULL);
	ck_assert_int_eq(zk_multi(zs, 3, ops, res), ZBADVERSION);
	ck_assert_int_eq(res[2].err, ZBADVERSION);
	ck_assert_int_eq(zk_exists(zs, "/a/m", NULL, NULL), ZNONODE);
	zoo_set_op_init(&ops[2], "/a/v", "z", 1, 1, NULL);
	ck_assert_int_eq(zk_multi(zs, 3, ops, res), ZOK);
	ck_assert_int_eq(zk_exists(zs, "/a/m", NULL, NULL), ZOK);
	zk_session_close(zs);
}
END_TEST

/* A node larger than the first read buffer comes back whole. */
START_TEST(test_big_node)
{
	zk_session_t *zs = zktest_session(zktest_chroot("big"), 4000);
	size_t n = 200000;
	char *big = malloc(n), *data;
	int len;

	ck_assert_ptr_nonnull(zs);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(zk_create(zs, "/big", big, (int)n, 0, NULL, 0, NULL),
			 ZOK);
	ck_assert_int_eq(zk_get(zs, "/big", NULL, &data, &len, NULL), ZOK);
	ck_assert_int_eq(len, (int)n);
	ck_assert_mem_eq(data, big, n);
	free(data);
	free(big);
	zk_session_close(zs);
}
END_TEST

struct watch_rec {
	atomic_int fired;
	atomic_int last_type;
};

static void on_watch(void *arg, int type, const char *path)
{
	struct watch_rec *r = arg;

	(void)path;
	atomic_store(&r->last_type, type);
	atomic_fetch_add(&r->fired, 1);
}

static bool fired_once(void *arg)
{
	return atomic_load(&((struct watch_rec *)arg)->fired) >= 1;
}

START_TEST(test_watches)
{
	zk_session_t *zs = zktest_session(zktest_chroot("watch"), 4000);
	struct watch_rec data_rec = {0}, child_rec = {0}, off_rec = {0},
			 exists_rec = {0};
	zk_watcher_t *wd, *wc, *woff, *we;
	struct String_vector kids;
	char *data;
	int len;

	ck_assert_ptr_nonnull(zs);
	wd = zk_watcher_new(zs, on_watch, &data_rec);
	wc = zk_watcher_new(zs, on_watch, &child_rec);
	woff = zk_watcher_new(zs, on_watch, &off_rec);
	we = zk_watcher_new(zs, on_watch, &exists_rec);
	ck_assert_int_eq(zk_create(zs, "/w", "0", 1, 0, NULL, 0, NULL), ZOK);
	ck_assert_int_eq(zk_get(zs, "/w", wd, &data, &len, NULL), ZOK);
	free(data);
	ck_assert_int_eq(zk_children(zs, "/w", wc, &kids), ZOK);
	deallocate_String_vector(&kids);
	ck_assert_int_eq(zk_exists(zs, "/later", we, NULL), ZNONODE);
	ck_assert_int_eq(zk_get(zs, "/w", woff, &data, &len, NULL), ZOK);
	free(data);
	zk_watcher_disable(woff);

	ck_assert_int_eq(zk_set(zs, "/w", "1", 1, -1, NULL), ZOK);
	ck_assert(zktest_wait(fired_once, &data_rec, 5000));
	ck_assert_int_eq(atomic_load(&data_rec.last_type), ZOO_CHANGED_EVENT);
	ck_assert_int_eq(zk_create(zs, "/w/k", NULL, -1, 0, NULL, 0, NULL),
			 ZOK);
	ck_assert(zktest_wait(fired_once, &child_rec, 5000));
	ck_assert_int_eq(atomic_load(&child_rec.last_type), ZOO_CHILD_EVENT);
	ck_assert_int_eq(zk_create(zs, "/later", NULL, -1, 0, NULL, 0, NULL),
			 ZOK);
	ck_assert(zktest_wait(fired_once, &exists_rec, 5000));
	ck_assert_int_eq(atomic_load(&exists_rec.last_type), ZOO_CREATED_EVENT);
	/* Watches are one-shot, and the disabled one never ran. */
	ck_assert_int_eq(zk_set(zs, "/w", "2", 1, -1, NULL), ZOK);
	usleep(200 * 1000);
	ck_assert_int_eq(atomic_load(&data_rec.fired), 1);
	ck_assert_int_eq(atomic_load(&off_rec.fired), 0);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_get_many)
{
	enum { N = 3000 };
	zk_session_t *zs = zktest_session(zktest_chroot("many"), 4000);
	static struct zk_read reads[N];
	static char paths[N][32];
	zoo_op_t ops[100];
	zoo_op_result_t res[100];
	char vals[100][16];

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(zk_create(zs, "/m", NULL, -1, 0, NULL, 0, NULL), ZOK);
	for (int i = 0; i < N; i++)
		snprintf(paths[i], sizeof(paths[i]), "/m/%d", i);
	/* Create every node except multiples of 7, 100 per multi. */
	for (int base = 0; base < N; base += 100) {
		int k = 0;

		for (int i = base; i < base + 100; i++) {
			if (i % 7 == 0)
				continue;
			snprintf(vals[k], sizeof(vals[k]), "v%d", i);
			zoo_create_op_init(&ops[k], paths[i], vals[k],
					   (int)strlen(vals[k]),
					   &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
			k++;
		}
		ck_assert_int_eq(zk_multi(zs, k, ops, res), ZOK);
	}
	for (int i = 0; i < N; i++)
		reads[i].path = paths[i];
	ck_assert_int_eq(zk_get_many(zs, reads, N, NULL), ZOK);
	for (int i = 0; i < N; i++) {
		char want[16];

		if (i % 7 == 0) {
			ck_assert_int_eq(reads[i].rc, ZNONODE);
			ck_assert_ptr_null(reads[i].data);
			continue;
		}
		snprintf(want, sizeof(want), "v%d", i);
		ck_assert_int_eq(reads[i].rc, ZOK);
		ck_assert_str_eq(reads[i].data, want);
		ck_assert_int_eq(reads[i].len, (int)strlen(want));
	}
	zk_reads_free(reads, N);
	zk_session_close(zs);
}
END_TEST

struct ev_log {
	pthread_mutex_t mu;
	enum zk_event ev[32];
	int n;
};

static void on_event(zk_session_t *zs, enum zk_event ev, void *arg)
{
	struct ev_log *l = arg;

	(void)zs;
	pthread_mutex_lock(&l->mu);
	if (l->n < 32)
		l->ev[l->n++] = ev;
	pthread_mutex_unlock(&l->mu);
}

static bool saw_new_session(void *arg)
{
	struct ev_log *l = arg;
	bool found = false;

	pthread_mutex_lock(&l->mu);
	for (int i = 0; i < l->n; i++)
		found |= l->ev[i] == ZK_EVENT_NEW_SESSION;
	pthread_mutex_unlock(&l->mu);
	return found;
}

START_TEST(test_expiry_opens_new_session)
{
	zk_session_t *zs = zktest_session(zktest_chroot("expire"), 4000);
	struct ev_log log = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	struct ev_log gone = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	int64_t old_id, new_id;
	int saw_expired = -1, saw_new = -1, gone_id;

	ck_assert_ptr_nonnull(zs);
	zk_session_listen(zs, on_event, &log);
	gone_id = zk_session_listen(zs, on_event, &gone);
	zk_session_unlisten(zs, gone_id);
	old_id = zk_session_id(zs);
	ck_assert_int_ne(old_id, 0);
	ck_assert_int_eq(
	    zk_create(zs, "/eph", "x", 1, ZOO_EPHEMERAL, NULL, 0, NULL), ZOK);
	ck_assert(zktest_expire(zs, 20000));
	ck_assert_msg(zktest_wait(saw_new_session, &log, 15000),
		      "no new session within 15 s");
	for (int i = 0; i < log.n; i++) {
		if (log.ev[i] == ZK_EVENT_EXPIRED && saw_expired < 0)
			saw_expired = i;
		if (log.ev[i] == ZK_EVENT_NEW_SESSION && saw_new < 0)
			saw_new = i;
	}
	ck_assert_int_ge(saw_expired, 0);
	ck_assert_int_gt(saw_new, saw_expired);
	ck_assert_int_eq(gone.n, 0);
	new_id = zk_session_id(zs);
	ck_assert_int_ne(new_id, 0);
	ck_assert_int_ne(new_id, old_id);
	ck_assert(zk_session_connected(zs));
	/* The old session's ephemeral is gone; the new one works. */
	ck_assert_int_eq(zk_exists(zs, "/eph", NULL, NULL), ZNONODE);
	ck_assert_int_eq(
	    zk_create(zs, "/eph", "y", 1, ZOO_EPHEMERAL, NULL, 0, NULL), ZOK);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_connect_failure)
{
	struct zk_config cfg = {"127.0.0.1:1", 4000, 1000};
	char errstr[256];
	int64_t t0 = zktest_now_ms();
	zk_session_t *zs = zk_session_open(&cfg, errstr, sizeof(errstr));

	ck_assert_ptr_null(zs);
	ck_assert_int_lt(zktest_now_ms() - t0, 3000);
	ck_assert_str_eq(errstr, "could not connect to ZooKeeper at "
				 "127.0.0.1:1 within 1000 ms");
}
END_TEST

static Suite *zk_suite(void)
{
	Suite *s = suite_create("zk");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chroot_created);
	tcase_add_test(tc, test_sync_helpers);
	tcase_add_test(tc, test_big_node);
	tcase_add_test(tc, test_watches);
	tcase_add_test(tc, test_get_many);
	tcase_add_test(tc, test_expiry_opens_new_session);
	tcase_add_test(tc, test_connect_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	zk_connect = zktest_start();
	if (!zk_connect)
		return EXIT_FAILURE;
	sr = srunner_create(zk_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
