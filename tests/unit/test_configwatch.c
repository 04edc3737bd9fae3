/*
 * test_configwatch.c - config change notifications against a real
 * ZooKeeper: existing overrides at start, each change once and in order,
 * and the watch surviving a session expiry.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "coordinator/admin.h"
#include "coordinator/configwatch.h"
#include "coordinator/registration.h"
#include "tests/lib/zktest.h"

static char errstr[512];
static char cid[64];

struct seen {
	pthread_mutex_t mu;
	char v[64][80];
	int n;
};

static void on_change(void *arg, const char *type, const char *name)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->mu);
	if (s->n < 64)
		snprintf(s->v[s->n++], sizeof(s->v[0]), "%s/%s", type, name);
	pthread_mutex_unlock(&s->mu);
}

static int count(struct seen *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

struct want {
	struct seen *s;
	int n;
};

static bool has_n(void *arg)
{
	struct want *w = arg;

	return count(w->s) >= w->n;
}

static void alter_topic(zk_session_t *zs, const char *topic, const char *ms)
{
	Fluxo__AlterConfigsResource r = FLUXO__ALTER_CONFIGS_RESOURCE__INIT;
	Fluxo__AlterableConfig c = FLUXO__ALTERABLE_CONFIG__INIT, *cs[1] = {&c};

	r.type = FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC;
	r.name = (char *)topic;
	r.configs = cs;
	r.n_configs = 1;
	c.name = "retention.ms";
	c.value = (char *)ms;
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
}

static void make_topic(zk_session_t *zs, const char *name)
{
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ReplicaAssignment a = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 *as[1] = {&a};
	int32_t r[1] = {1};
	struct admin_defaults d;

	admin_defaults_init(&d);
	a.broker_ids = r;
	a.n_broker_ids = 1;
	t.name = (char *)name;
	t.num_partitions = -1;
	t.replication_factor = -1;
	t.assignments = as;
	t.n_assignments = 1;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
}

START_TEST(test_existing_then_changes_in_order)
{
	zk_session_t *zs = zktest_session(zktest_chroot("cw"), 4000);
	struct seen s = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};
	Fluxo__AlterConfigsResource r = FLUXO__ALTER_CONFIGS_RESOURCE__INIT;
	Fluxo__AlterableConfig c = FLUXO__ALTERABLE_CONFIG__INIT, *cs[1] = {&c};
	configwatch_t *cw;
	struct want w = {&s, 0};

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(registration_bootstrap(zs, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	make_topic(zs, "a");
	make_topic(zs, "b");
	alter_topic(zs, "a", "1000");
	/* A broker default written before the broker starts. */
	{
		const char *js = "{\"version\":1,\"config\":{}}";

		ck_assert_int_eq(zk_create(zs, "/config/brokers/<default>", js,
					   (int)strlen(js), 0, NULL, 0, NULL),
				 ZOK);
	}

	cw = configwatch_start(zs, on_change, &s, errstr, sizeof(errstr));
	ck_assert_ptr_nonnull(cw);
	/* Start-up delivered every override before returning. */
	ck_assert_int_eq(count(&s), 3);
	ck_assert_str_eq(s.v[0], "topics/a");
	ck_assert_str_eq(s.v[1], "topics/b");
	ck_assert_str_eq(s.v[2], "brokers/<default>");

	alter_topic(zs, "b", "1");
	alter_topic(zs, "a", "2");
	alter_topic(zs, "b", "3");
	r.type = FLUXO__RESOURCE_TYPE__RESOURCE_BROKER;
	r.name = "5";
	r.configs = cs;
	r.n_configs = 1;
	c.name = "retention.ms";
	c.op = FLUXO__ALTER_CONFIG_OP__OP_DELETE;
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 FLUXO__ERROR_CODE__NONE);
	w.n = 7;
	ck_assert(zktest_wait(has_n, &w, 10000));
	usleep(300 * 1000);
	ck_assert_int_eq(count(&s), 7);
	ck_assert_str_eq(s.v[3], "topics/b");
	ck_assert_str_eq(s.v[4], "topics/a");
	ck_assert_str_eq(s.v[5], "topics/b");
	ck_assert_str_eq(s.v[6], "brokers/5");
	configwatch_stop(cw);
	alter_topic(zs, "a", "9");
	usleep(300 * 1000);
	ck_assert_int_eq(count(&s), 7);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_survives_expiry)
{
	const char *cs = zktest_chroot("cwexp");
	zk_session_t *zs = zktest_session(cs, 4000),
		     *admin = zktest_session(cs, 4000);
	struct seen s = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};
	struct want w = {&s, 0};
	configwatch_t *cw;

	ck_assert_int_eq(registration_bootstrap(admin, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	make_topic(admin, "x");
	cw = configwatch_start(zs, on_change, &s, errstr, sizeof(errstr));
	ck_assert_ptr_nonnull(cw);
	ck_assert_int_eq(count(&s), 1);
	alter_topic(admin, "x", "1");
	w.n = 2;
	ck_assert(zktest_wait(has_n, &w, 10000));

	ck_assert(zktest_expire(zs, 20000));
	/* Written while the watcher's session is being replaced. */
	alter_topic(admin, "x", "2");
	w.n = 3;
	ck_assert_msg(zktest_wait(has_n, &w, 20000),
		      "change during expiry not delivered");
	alter_topic(admin, "x", "3");
	w.n = 4;
	ck_assert_msg(zktest_wait(has_n, &w, 10000),
		      "watch not re-set after expiry");
	usleep(300 * 1000);
	ck_assert_int_eq(count(&s), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(s.v[i], "topics/x");
	configwatch_stop(cw);
	zk_session_close(zs);
	zk_session_close(admin);
}
END_TEST

static Suite *configwatch_suite(void)
{
	Suite *s = suite_create("configwatch");
	TCase *tc = tcase_create("zookeeper");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_existing_then_changes_in_order);
	tcase_add_test(tc, test_survives_expiry);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!zktest_start())
		return EXIT_FAILURE;
	sr = srunner_create(configwatch_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
