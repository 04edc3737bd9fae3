/*
 * test_admin.c - topic and config administration against a real
 * ZooKeeper: the znodes written, Kafka's error codes and sentences, and
 * producer-id blocks under concurrency.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/admin.h"
#include "coordinator/registration.h"
#include "coordinator/zkdata.h"
#include "tests/lib/zktest.h"

#define E(x) FLUXO__ERROR_CODE__##x

static char errstr[512];
static char cid[64];

/* A session with bootstrap paths and brokers 1..n registered. */
static zk_session_t *setup(const char *prefix, int n_brokers, const char *rack)
{
	zk_session_t *zs = zktest_session(zktest_chroot(prefix), 4000);

	ck_assert_ptr_nonnull(zs);
	ck_assert_int_eq(registration_bootstrap(zs, cid, sizeof(cid), errstr,
						sizeof(errstr)),
			 0);
	for (int i = 1; i <= n_brokers; i++) {
		struct zk_endpoint ep = {"PLAINTEXT", "127.0.0.1", 9000 + i,
					 "PLAINTEXT"};
		struct zk_broker b = {.id = i,
				      .jmx_port = -1,
				      .endpoints = &ep,
				      .n_endpoints = 1,
				      .rack = (char *)rack};
		char path[64], *js = zkdata_broker_encode(&b);

		zkpath_broker(path, sizeof(path), i);
		ck_assert_int_eq(zk_create(zs, path, js, (int)strlen(js),
					   ZOO_EPHEMERAL, NULL, 0, NULL),
				 ZOK);
		free(js);
	}
	return zs;
}

static struct zk_topic_assign read_topic(zk_session_t *zs, const char *t)
{
	struct zk_topic_assign a = {0};
	char path[ZKPATH_MAX], *data;
	int len;

	zkpath_topic(path, sizeof(path), t);
	ck_assert_int_eq(zk_get(zs, path, NULL, &data, &len, NULL), ZOK);
	ck_assert_int_eq(
	    zkdata_topic_decode(data, (size_t)len, &a, errstr, sizeof(errstr)),
	    0);
	free(data);
	return a;
}

static int create(zk_session_t *zs, const struct admin_defaults *d,
		  const char *name, int np, int rf, bool validate_only)
{
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;

	t.name = (char *)name;
	t.num_partitions = np;
	t.replication_factor = rf;
	errstr[0] = '\0';
	return admin_create_topic(zs, d, &t, validate_only, NULL, NULL, errstr,
				  sizeof(errstr));
}

START_TEST(test_name_rules)
{
	char longname[300];

	ck_assert_int_eq(
	    admin_topic_name_check("ok.Name_-9", errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(admin_topic_name_check("", errstr, sizeof(errstr)),
			 E(INVALID_TOPIC_EXCEPTION));
	ck_assert_str_eq(errstr, "Topic name is illegal, it can't be empty");
	ck_assert_int_eq(admin_topic_name_check("..", errstr, sizeof(errstr)),
			 E(INVALID_TOPIC_EXCEPTION));
	ck_assert_str_eq(errstr, "Topic name cannot be \".\" or \"..\"");
	ck_assert_int_eq(admin_topic_name_check("a b", errstr, sizeof(errstr)),
			 E(INVALID_TOPIC_EXCEPTION));
	ck_assert_str_eq(
	    errstr, "Topic name \"a b\" is illegal, it contains a character "
		    "other than ASCII alphanumerics, '.', '_' and '-'");
	ck_assert_int_eq(admin_topic_name_check("a/b", errstr, sizeof(errstr)),
			 E(INVALID_TOPIC_EXCEPTION));
	memset(longname, 'x', 249);
	longname[249] = '\0';
	ck_assert_int_eq(
	    admin_topic_name_check(longname, errstr, sizeof(errstr)), E(NONE));
	longname[249] = 'x';
	longname[250] = '\0';
	ck_assert_int_eq(
	    admin_topic_name_check(longname, errstr, sizeof(errstr)),
	    E(INVALID_TOPIC_EXCEPTION));
	ck_assert_ptr_nonnull(
	    strstr(errstr, "can't be longer than 249 characters"));
}
END_TEST

START_TEST(test_create_topic)
{
	zk_session_t *zs = setup("create", 3, NULL);
	struct admin_defaults d;
	struct zk_topic_assign a;
	struct zk_entity_config cfg;
	int leaders[4] = {0};

	admin_defaults_init(&d);
	ck_assert_int_eq(create(zs, &d, "t1", 6, 2, false), E(NONE));
	a = read_topic(zs, "t1");
	ck_assert_int_eq(a.n_partitions, 6);
	for (int p = 0; p < 6; p++) {
		ck_assert_int_eq(a.replicas[p].n, 2);
		ck_assert_int_ne(a.replicas[p].ids[0], a.replicas[p].ids[1]);
		ck_assert(a.replicas[p].ids[0] >= 1 &&
			  a.replicas[p].ids[0] <= 3);
		leaders[a.replicas[p].ids[0]]++;
	}
	ck_assert_int_eq(leaders[1], 2);
	ck_assert_int_eq(leaders[2], 2);
	ck_assert_int_eq(leaders[3], 2);
	zkdata_topic_free(&a);
	/* The config znode is always written, empty when no overrides. */
	ck_assert_int_eq(
	    admin_read_config(zs, "topics", "t1", &cfg, errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(cfg.n, 0);
	ck_assert_int_eq(zk_exists(zs, "/config/topics/t1", NULL, NULL), ZOK);

	ck_assert_int_eq(create(zs, &d, "t1", 1, 1, false),
			 E(TOPIC_ALREADY_EXISTS));
	ck_assert_str_eq(errstr, "Topic 't1' already exists.");
	ck_assert_int_eq(create(zs, &d, "a.b", 1, 1, false), E(NONE));
	ck_assert_int_eq(create(zs, &d, "a_b", 1, 1, false),
			 E(INVALID_TOPIC_EXCEPTION));
	ck_assert_str_eq(errstr,
			 "Topic 'a_b' collides with existing topics: a.b");
	ck_assert_int_eq(create(zs, &d, "big", 1, 5, false),
			 E(INVALID_REPLICATION_FACTOR));
	ck_assert_str_eq(
	    errstr, "Replication factor: 5 larger than available brokers: 3.");
	ck_assert_int_eq(create(zs, &d, "bad name", 1, 1, false),
			 E(INVALID_TOPIC_EXCEPTION));

	/* validate_only writes nothing. */
	ck_assert_int_eq(create(zs, &d, "dry", 3, 3, true), E(NONE));
	ck_assert_int_eq(zk_exists(zs, "/brokers/topics/dry", NULL, NULL),
			 ZNONODE);
	ck_assert_int_eq(zk_exists(zs, "/config/topics/dry", NULL, NULL),
			 ZNONODE);

	/* -1 takes the broker defaults. */
	d.num_partitions = 4;
	d.default_replication_factor = 3;
	ck_assert_int_eq(create(zs, &d, "dflt", -1, -1, false), E(NONE));
	a = read_topic(zs, "dflt");
	ck_assert_int_eq(a.n_partitions, 4);
	ck_assert_int_eq(a.replicas[3].n, 3);
	zkdata_topic_free(&a);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_create_topic_configs)
{
	zk_session_t *zs = setup("configs", 1, NULL);
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ConfigEntry c1 = FLUXO__CONFIG_ENTRY__INIT,
			   c2 = FLUXO__CONFIG_ENTRY__INIT;
	Fluxo__ConfigEntry *cs[2] = {&c1, &c2};
	struct admin_defaults d;
	struct zk_entity_config cfg;

	admin_defaults_init(&d);
	t.name = "c";
	t.num_partitions = 1;
	t.replication_factor = 1;
	t.configs = cs;
	t.n_configs = 2;
	c1.name = "retention.ms";
	c1.value = "1000";
	c2.name = "nope";
	c2.value = "1";
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_CONFIG));
	ck_assert_str_eq(errstr, "Unknown topic config name: nope");
	c2.name = "min.insync.replicas";
	c2.value = "zero";
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_CONFIG));
	ck_assert_ptr_nonnull(strstr(errstr, "min.insync.replicas"));
	ck_assert_int_eq(zk_exists(zs, "/brokers/topics/c", NULL, NULL),
			 ZNONODE);
	c2.value = "1";
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(
	    admin_read_config(zs, "topics", "c", &cfg, errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(cfg.n, 2);
	ck_assert_str_eq(zkdata_config_get(&cfg, "retention.ms"), "1000");
	zkdata_config_free(&cfg);
	zk_session_close(zs);
}
END_TEST

START_TEST(test_create_topic_explicit)
{
	zk_session_t *zs = setup("explicit", 2, NULL);
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ReplicaAssignment a0 = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 a1 = FLUXO__REPLICA_ASSIGNMENT__INIT;
	Fluxo__ReplicaAssignment *as[2] = {&a1, &a0};
	int32_t r0[2] = {2, 1}, r1[2] = {1, 2}, dup[2] = {1, 1};
	struct admin_defaults d;
	struct zk_topic_assign a;
	int32_t np, rf;

	admin_defaults_init(&d);
	t.name = "x";
	t.num_partitions = -1;
	t.replication_factor = -1;
	t.assignments = as;
	t.n_assignments = 2;
	a0.partition = 0;
	a0.broker_ids = r0;
	a0.n_broker_ids = 2;
	a1.partition = 1;
	a1.broker_ids = r1;
	a1.n_broker_ids = 2;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, &np, &rf, errstr,
					    sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(np, 2);
	ck_assert_int_eq(rf, 2);
	a = read_topic(zs, "x");
	ck_assert_int_eq(a.replicas[0].ids[0], 2);
	ck_assert_int_eq(a.replicas[1].ids[0], 1);
	zkdata_topic_free(&a);

	t.name = "y";
	a1.partition = 2;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_str_eq(
	    errstr,
	    "partitions should be a consecutive 0-based integer sequence");
	a1.partition = 1;
	a1.broker_ids = dup;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	a1.broker_ids = r1;
	a1.n_broker_ids = 1;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_str_eq(
	    errstr, "All partitions should have the same number of replicas");
	a1.n_broker_ids = 2;
	t.num_partitions = 2;
	ck_assert_int_eq(admin_create_topic(zs, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_REQUEST));
	zk_session_close(zs);
}
END_TEST

START_TEST(test_delete_topic)
{
	zk_session_t *zs = setup("delete", 1, NULL);
	struct admin_defaults d;

	admin_defaults_init(&d);
	ck_assert_int_eq(
	    admin_delete_topic(zs, &d, "ghost", errstr, sizeof(errstr)),
	    E(UNKNOWN_TOPIC_OR_PARTITION));
	ck_assert_int_eq(create(zs, &d, "gone", 1, 1, false), E(NONE));
	d.delete_topic_enable = false;
	ck_assert_int_eq(
	    admin_delete_topic(zs, &d, "gone", errstr, sizeof(errstr)),
	    E(TOPIC_DELETION_DISABLED));
	ck_assert_str_eq(errstr, "Topic deletion is disabled.");
	ck_assert_int_eq(zk_exists(zs, "/admin/delete_topics/gone", NULL, NULL),
			 ZNONODE);
	d.delete_topic_enable = true;
	ck_assert_int_eq(
	    admin_delete_topic(zs, &d, "gone", errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(zk_exists(zs, "/admin/delete_topics/gone", NULL, NULL),
			 ZOK);
	ck_assert_int_eq(
	    admin_delete_topic(zs, &d, "gone", errstr, sizeof(errstr)),
	    E(NONE));
	zk_session_close(zs);
}
END_TEST

START_TEST(test_create_partitions)
{
	zk_session_t *zs = setup("parts", 3, NULL);
	Fluxo__CreatePartitionsTopic t = FLUXO__CREATE_PARTITIONS_TOPIC__INIT;
	Fluxo__CreatableTopic ct = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ReplicaAssignment ra = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 *ras[1] = {&ra};
	Fluxo__ReplicaAssignment a0 = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 a1 = FLUXO__REPLICA_ASSIGNMENT__INIT,
				 a2 = FLUXO__REPLICA_ASSIGNMENT__INIT;
	Fluxo__ReplicaAssignment *as[3] = {&a0, &a1, &a2};
	int32_t r0[2] = {1, 2}, r1[2] = {2, 3}, r2[2] = {3, 1},
		rnew[2] = {2, 9};
	struct admin_defaults d;
	struct zk_topic_assign a;

	admin_defaults_init(&d);
	/* p0..p2 led by 1, 2, 3 (start index 0, shift 0). */
	a0.partition = 0, a0.broker_ids = r0, a0.n_broker_ids = 2;
	a1.partition = 1, a1.broker_ids = r1, a1.n_broker_ids = 2;
	a2.partition = 2, a2.broker_ids = r2, a2.n_broker_ids = 2;
	ct.name = "p";
	ct.num_partitions = -1;
	ct.replication_factor = -1;
	ct.assignments = as;
	ct.n_assignments = 3;
	ck_assert_int_eq(admin_create_topic(zs, &d, &ct, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));

	t.name = "p";
	t.count = 2;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(INVALID_PARTITIONS));
	ck_assert_str_eq(errstr, "Topic currently has 3 partitions, which is "
				 "higher than the requested 2.");
	t.count = 3;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(INVALID_PARTITIONS));
	ck_assert_str_eq(errstr, "Topic already has 3 partitions.");
	t.name = "nope";
	t.count = 5;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(UNKNOWN_TOPIC_OR_PARTITION));
	ck_assert_str_eq(errstr, "The topic 'nope' does not exist.");

	t.name = "p";
	t.count = 5;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, true, errstr, sizeof(errstr)),
	    E(NONE));
	a = read_topic(zs, "p");
	ck_assert_int_eq(a.n_partitions, 3);
	zkdata_topic_free(&a);
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(NONE));
	a = read_topic(zs, "p");
	ck_assert_int_eq(a.n_partitions, 5);
	/* Existing partitions untouched; the round-robin continues. */
	ck_assert_int_eq(a.replicas[2].ids[0], 3);
	ck_assert_int_eq(a.replicas[2].ids[1], 1);
	ck_assert_int_eq(a.replicas[3].ids[0], 1);
	ck_assert_int_eq(a.replicas[4].ids[0], 2);
	ck_assert_int_eq(a.replicas[3].n, 2);
	ck_assert_int_ne(a.replicas[3].ids[0], a.replicas[3].ids[1]);
	zkdata_topic_free(&a);

	/* Explicit placement: one entry per new partition, known brokers. */
	t.count = 7;
	t.assignments = ras;
	t.n_assignments = 1;
	ra.broker_ids = rnew;
	ra.n_broker_ids = 2;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_str_eq(errstr, "Increasing the number of partitions by 2 "
				 "but 1 assignments provided.");
	t.count = 6;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(INVALID_REPLICA_ASSIGNMENT));
	rnew[1] = 3;
	ck_assert_int_eq(
	    admin_create_partitions(zs, &t, false, errstr, sizeof(errstr)),
	    E(NONE));
	a = read_topic(zs, "p");
	ck_assert_int_eq(a.n_partitions, 6);
	ck_assert_int_eq(a.replicas[5].ids[0], 2);
	ck_assert_int_eq(a.replicas[5].ids[1], 3);
	zkdata_topic_free(&a);
	zk_session_close(zs);
}
END_TEST

static int check_broker(void *arg, const char *name, const char *value,
			char *err, size_t err_size)
{
	(void)arg;
	if (strcmp(name, "log.retention.ms") == 0 && value[0] != '-')
		return E(NONE);
	snprintf(err, err_size, "bad broker config %s", name);
	return E(INVALID_CONFIG);
}

START_TEST(test_alter_configs)
{
	zk_session_t *zs = setup("alter", 1, NULL);
	Fluxo__AlterConfigsResource r = FLUXO__ALTER_CONFIGS_RESOURCE__INIT;
	Fluxo__AlterableConfig c1 = FLUXO__ALTERABLE_CONFIG__INIT,
			       c2 = FLUXO__ALTERABLE_CONFIG__INIT;
	Fluxo__AlterableConfig *cs[2] = {&c1, &c2};
	struct String_vector kids;
	struct zk_entity_config cfg;
	struct admin_defaults d;
	char *data;
	int len;

	admin_defaults_init(&d);
	r.type = FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC;
	r.name = "nope";
	r.configs = cs;
	r.n_configs = 1;
	c1.name = "retention.ms";
	c1.value = "5000";
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	ck_assert_int_eq(create(zs, &d, "t", 1, 1, false), E(NONE));
	r.name = "t";
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(zk_children(zs, "/config/changes", NULL, &kids), ZOK);
	ck_assert_int_eq(kids.count, 1);
	ck_assert_int_eq(strncmp(kids.data[0], "config_change_", 14), 0);
	ck_assert_int_eq(strlen(kids.data[0]), 24);
	{
		char path[128];

		snprintf(path, sizeof(path), "/config/changes/%s",
			 kids.data[0]);
		ck_assert_int_eq(zk_get(zs, path, NULL, &data, &len, NULL),
				 ZOK);
		ck_assert_str_eq(
		    data, "{\"version\":2,\"entity_path\":\"topics/t\"}");
		free(data);
	}
	deallocate_String_vector(&kids);

	/* Incremental: set one, delete the other. */
	c1.name = "segment.ms";
	c1.value = "60000";
	c2.name = "retention.ms";
	c2.op = FLUXO__ALTER_CONFIG_OP__OP_DELETE;
	r.n_configs = 2;
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(
	    admin_read_config(zs, "topics", "t", &cfg, errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(cfg.n, 1);
	ck_assert_str_eq(zkdata_config_get(&cfg, "segment.ms"), "60000");
	zkdata_config_free(&cfg);

	c1.value = "-5";
	r.n_configs = 1;
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 E(INVALID_CONFIG));

	/* Broker configs go through the broker's validator. */
	r.type = FLUXO__RESOURCE_TYPE__RESOURCE_BROKER;
	r.name = "";
	c1.name = "log.retention.ms";
	c1.value = "1000";
	ck_assert_int_eq(admin_alter_config(zs, &r, false, NULL, NULL, errstr,
					    sizeof(errstr)),
			 E(INVALID_CONFIG));
	ck_assert_int_eq(admin_alter_config(zs, &r, false, check_broker, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(admin_read_config(zs, "brokers", "<default>", &cfg,
					   errstr, sizeof(errstr)),
			 E(NONE));
	ck_assert_str_eq(zkdata_config_get(&cfg, "log.retention.ms"), "1000");
	zkdata_config_free(&cfg);
	r.name = "1";
	c1.value = "-1";
	ck_assert_int_eq(admin_alter_config(zs, &r, false, check_broker, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_CONFIG));
	ck_assert_str_eq(errstr, "bad broker config log.retention.ms");
	r.name = "x1";
	ck_assert_int_eq(admin_alter_config(zs, &r, false, check_broker, NULL,
					    errstr, sizeof(errstr)),
			 E(INVALID_REQUEST));
	zk_session_close(zs);
}
END_TEST

START_TEST(test_list_and_brokers)
{
	zk_session_t *zs = setup("list", 3, "rack-1");
	struct admin_defaults d;
	struct zk_broker *b;
	char **names;
	int n;

	admin_defaults_init(&d);
	ck_assert_int_eq(create(zs, &d, "zeta", 1, 1, false), E(NONE));
	ck_assert_int_eq(create(zs, &d, "alpha", 1, 1, false), E(NONE));
	ck_assert_int_eq(
	    admin_list_topics(zs, &names, &n, errstr, sizeof(errstr)), E(NONE));
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(names[0], "alpha");
	ck_assert_str_eq(names[1], "zeta");
	admin_names_free(names, n);
	ck_assert_int_eq(admin_read_brokers(zs, &b, &n, errstr, sizeof(errstr)),
			 E(NONE));
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(b[0].id, 1);
	ck_assert_int_eq(b[2].id, 3);
	ck_assert_str_eq(b[1].rack, "rack-1");
	ck_assert_int_gt(b[2].epoch, b[0].epoch);
	admin_brokers_free(b, n);
	zk_session_close(zs);
}
END_TEST

struct pid_ctx {
	zk_session_t *zs;
	int64_t starts[10];
};

static void *alloc_thread(void *arg)
{
	struct pid_ctx *c = arg;
	char err[256];

	for (int i = 0; i < 10; i++) {
		int64_t s = -1, e = -1;

		if (admin_alloc_producer_ids(c->zs, 1, &s, &e, err,
					     sizeof(err)) != E(NONE) ||
		    e != s + 999)
			s = -1;
		c->starts[i] = s;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

START_TEST(test_producer_ids)
{
	zk_session_t *zs = setup("pid", 1, NULL);
	struct pid_ctx ctx[4];
	pthread_t th[4];
	int64_t all[40], s, e;
	char *data;
	int len;

	ck_assert_int_eq(
	    admin_alloc_producer_ids(zs, 7, &s, &e, errstr, sizeof(errstr)),
	    E(NONE));
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(e, 999);
	ck_assert_int_eq(
	    zk_get(zs, "/latest_producer_id_block", NULL, &data, &len, NULL),
	    ZOK);
	ck_assert_str_eq(data, "{\"version\":1,\"broker\":7,\"block_start\":"
			       "\"0\",\"block_end\":\"999\"}");
	free(data);
	/* Four concurrent allocators never get the same block. */
	for (int i = 0; i < 4; i++) {
		ctx[i].zs = zs;
		pthread_create(&th[i], NULL, alloc_thread, &ctx[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		memcpy(all + i * 10, ctx[i].starts, sizeof(ctx[i].starts));
	}
	qsort(all, 40, sizeof(all[0]), cmp_i64);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(all[i], 1000 * (int64_t)(i + 1));
	zk_session_close(zs);
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc = tcase_create("zookeeper");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_name_rules);
	tcase_add_test(tc, test_create_topic);
	tcase_add_test(tc, test_create_topic_configs);
	tcase_add_test(tc, test_create_topic_explicit);
	tcase_add_test(tc, test_delete_topic);
	tcase_add_test(tc, test_create_partitions);
	tcase_add_test(tc, test_alter_configs);
	tcase_add_test(tc, test_list_and_brokers);
	tcase_add_test(tc, test_producer_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!zktest_start())
		return EXIT_FAILURE;
	sr = srunner_create(admin_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
