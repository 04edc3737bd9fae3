/*
 * test_controller.c - the controller against a real ZooKeeper and fake
 * brokers (tests/lib/fakebroker.c) that record the control requests they
 * receive: election and epochs, fail-over to a second controller, fencing
 * of a stale controller, topic creation, broker failure and return,
 * controlled shutdown, AlterIsr, deletion, preferred and unclean
 * elections, auto-rebalance, session expiry, and a 10,000-partition
 * fail-over against its time bound.
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "coordinator/admin.h"
#include "coordinator/controller.h"
#include "coordinator/registration.h"
#include "coordinator/zkdata.h"
#include "tests/lib/ctltest.h"
#include "tests/lib/fakebroker.h"
#include "tests/lib/zktest.h"

#define E(x) FLUXO__ERROR_CODE__##x

/* Creates a topic with explicit replicas: reps[p][0..rf). */
static void create_topic(const char *name, int np, int rf,
			 const int32_t reps[][3])
{
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ReplicaAssignment *as[64], a[64];
	struct admin_defaults d;

	ck_assert_int_le(np, 64);
	admin_defaults_init(&d);
	for (int p = 0; p < np; p++) {
		fluxo__replica_assignment__init(&a[p]);
		a[p].partition = p;
		a[p].broker_ids = (int32_t *)reps[p];
		a[p].n_broker_ids = (size_t)rf;
		as[p] = &a[p];
	}
	t.name = (char *)name;
	t.num_partitions = -1;
	t.replication_factor = -1;
	t.assignments = as;
	t.n_assignments = (size_t)np;
	ck_assert_int_eq(admin_create_topic(admin, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
}

/* Reads a state znode; false when absent. */
static bool read_state(const char *topic, int p, struct zk_partition_state *s,
		       int *version, char **raw)
{
	char path[ZKPATH_MAX], *data;
	struct Stat st;
	int len;

	zkpath_partition_state(path, sizeof(path), topic, p);
	if (zk_get(admin, path, NULL, &data, &len, &st) != ZOK)
		return false;
	ck_assert_int_eq(
	    zkdata_state_decode(data, (size_t)len, s, errstr, sizeof(errstr)),
	    0);
	if (version)
		*version = st.version;
	if (raw)
		*raw = data;
	else
		free(data);
	return true;
}

static int32_t state_leader(const char *topic, int p)
{
	struct zk_partition_state s;
	int32_t l;

	if (!read_state(topic, p, &s, NULL, NULL))
		return -100;
	l = s.leader;
	zkdata_state_free(&s);
	return l;
}

static bool state_is(const char *topic, int p, int32_t leader,
		     int32_t leader_epoch, const int32_t *isr, int n_isr)
{
	struct zk_partition_state s;
	bool ok;

	if (!read_state(topic, p, &s, NULL, NULL))
		return false;
	ok = s.leader == leader && s.leader_epoch == leader_epoch &&
	     s.n_isr == n_isr &&
	     memcmp(s.isr, isr, (size_t)n_isr * sizeof(int32_t)) == 0;
	zkdata_state_free(&s);
	return ok;
}

/* ------------------------------------------------------------- requests */

static Fluxo__Response *controlled_shutdown(controller_t *ctl, int id,
					    int64_t epoch)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ControlledShutdownRequest cs_req =
	    FLUXO__CONTROLLED_SHUTDOWN_REQUEST__INIT;

	req.api = FLUXO__API_KEY__CONTROLLED_SHUTDOWN;
	req.correlation_id = 77;
	req.body_case = FLUXO__REQUEST__BODY_CONTROLLED_SHUTDOWN;
	req.controlled_shutdown = &cs_req;
	cs_req.broker_id = id;
	cs_req.broker_epoch = epoch;
	return call_sync(ctl, &req);
}

static void
build_alter_isr(Fluxo__Request *req, Fluxo__AlterIsrRequest *ai,
		Fluxo__AlterIsrTopic *at, Fluxo__AlterIsrTopic **ats,
		Fluxo__AlterIsrPartition *ap, Fluxo__AlterIsrPartition **aps,
		int broker, int64_t broker_epoch, const char *topic, int p,
		int leader_epoch, int partition_epoch, int32_t *isr, int n_isr)
{
	fluxo__request__init(req);
	fluxo__alter_isr_request__init(ai);
	fluxo__alter_isr_topic__init(at);
	fluxo__alter_isr_partition__init(ap);
	req->api = FLUXO__API_KEY__ALTER_ISR;
	req->body_case = FLUXO__REQUEST__BODY_ALTER_ISR;
	req->alter_isr = ai;
	ai->broker_id = broker;
	ai->broker_epoch = broker_epoch;
	ats[0] = at;
	ai->topics = ats;
	ai->n_topics = 1;
	at->name = (char *)topic;
	aps[0] = ap;
	at->partitions = aps;
	at->n_partitions = 1;
	ap->partition = p;
	ap->leader_epoch = leader_epoch;
	ap->partition_epoch = partition_epoch;
	ap->new_isr = isr;
	ap->n_new_isr = (size_t)n_isr;
}

/* AlterIsr of one partition; returns the partition's answer (or the
 * top-level error as a negative number). */
static int alter_isr(controller_t *ctl, int broker, int64_t broker_epoch,
		     const char *topic, int p, int leader_epoch,
		     int partition_epoch, int32_t *isr, int n_isr,
		     int32_t *new_version)
{
	Fluxo__Request req;
	Fluxo__AlterIsrRequest ai;
	Fluxo__AlterIsrTopic at, *ats[1];
	Fluxo__AlterIsrPartition ap, *aps[1];
	Fluxo__Response *r;
	int ret;

	build_alter_isr(&req, &ai, &at, ats, &ap, aps, broker, broker_epoch,
			topic, p, leader_epoch, partition_epoch, isr, n_isr);
	r = call_sync(ctl, &req);
	ck_assert_int_eq(r->body_case, FLUXO__RESPONSE__BODY_ALTER_ISR);
	if (r->alter_isr->error != E(NONE)) {
		ret = -(int)r->alter_isr->error;
	} else {
		const Fluxo__AlterIsrPartitionResponse *pr =
		    r->alter_isr->topics[0]->partitions[0];

		ret = pr->error;
		if (new_version)
			*new_version = pr->partition_epoch;
		if (pr->error == E(NONE)) {
			ck_assert_int_eq(pr->n_isr, (size_t)n_isr);
			ck_assert_int_eq(pr->leader, broker);
			ck_assert_int_eq(pr->leader_epoch, leader_epoch);
		}
	}
	fluxo__response__free_unpacked(r, NULL);
	return ret;
}

/* ElectLeaders for one partition (or all with topic NULL). */
static int elect(controller_t *ctl, int type, const char *topic, int p)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ElectLeadersRequest el = FLUXO__ELECT_LEADERS_REQUEST__INIT;
	Fluxo__TopicPartitions tp = FLUXO__TOPIC_PARTITIONS__INIT, *tps[1];
	int32_t parts[1] = {p};
	Fluxo__Response *r;
	int ret;

	req.api = FLUXO__API_KEY__ELECT_LEADERS;
	req.body_case = FLUXO__REQUEST__BODY_ELECT_LEADERS;
	req.elect_leaders = &el;
	el.election_type = type;
	if (topic) {
		tp.topic = (char *)topic;
		tp.partitions = parts;
		tp.n_partitions = 1;
		tps[0] = &tp;
		el.topic_partitions = tps;
		el.n_topic_partitions = 1;
	}
	r = call_sync(ctl, &req);
	ck_assert_int_eq(r->body_case, FLUXO__RESPONSE__BODY_ELECT_LEADERS);
	if (r->elect_leaders->error != E(NONE))
		ret = -(int)r->elect_leaders->error;
	else if (r->elect_leaders->n_results == 0)
		ret = E(ELECTION_NOT_NEEDED);
	else
		ret = r->elect_leaders->results[0]->error;
	fluxo__response__free_unpacked(r, NULL);
	return ret;
}

/* Holds the controller thread inside a request's callback. */
static void hold(controller_t *ctl, struct call *blocker, Fluxo__Request *req,
		 Fluxo__ElectLeadersRequest *el)
{
	call_init(blocker);
	blocker->block = true;
	fluxo__request__init(req);
	fluxo__elect_leaders_request__init(el);
	req->api = FLUXO__API_KEY__ELECT_LEADERS;
	req->body_case = FLUXO__REQUEST__BODY_ELECT_LEADERS;
	req->elect_leaders = el;
	submit(ctl, req, blocker);
	WAIT_UNTIL(blocker->entered, 5000);
}

static void release(struct call *blocker)
{
	Fluxo__Response *r;

	pthread_mutex_lock(&blocker->mu);
	blocker->released = true;
	pthread_cond_broadcast(&blocker->cv);
	pthread_mutex_unlock(&blocker->mu);
	r = wait_call(blocker, 1000);
	fluxo__response__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------- tests */

START_TEST(test_election_and_failover)
{
	controller_t *c1, *c2;
	char *data;
	int len;

	setup("elect");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	ck_assert(!exists("/controller_epoch"));
	c1 = start_ctl(1);
	WAIT_UNTIL(controller_is_active(c1), 10000);
	ck_assert_int_eq(controller_epoch(c1), 1);
	ck_assert_int_eq(controller_active_id(c1), 1);
	ck_assert_int_eq(
	    zk_get(admin, "/controller_epoch", NULL, &data, &len, NULL), ZOK);
	ck_assert_str_eq(data, "1");
	free(data);
	ck_assert_int_eq(zk_get(admin, "/controller", NULL, &data, &len, NULL),
			 ZOK);
	ck_assert_ptr_nonnull(strstr(data, "\"brokerid\":1"));
	free(data);
	/* Every live broker got a full UpdateMetadata naming all three. */
	for (int i = 1; i <= 3; i++) {
		WAIT_UNTIL(fakebroker_um_full_count(fb[i]) >= 1, 10000);
		ck_assert_int_eq(fakebroker_um_live(fb[i]), 3);
		ck_assert_int_eq(fakebroker_controller_epoch(fb[i]), 1);
		ck_assert_int_eq(fakebroker_bad_epochs(fb[i]), 0);
	}

	/* A second candidate waits... */
	c2 = start_ctl(2);
	WAIT_UNTIL(controller_active_id(c2) == 1, 5000);
	usleep(300 * 1000);
	ck_assert(!controller_is_active(c2));
	ck_assert_int_eq(controller_epoch(c2), -1);
	/* ...and takes over with a larger epoch when the first stops. */
	controller_stop(c1);
	WAIT_UNTIL(controller_is_active(c2), 10000);
	ck_assert_int_eq(controller_epoch(c2), 2);
	ck_assert_int_eq(zk_get(admin, "/controller", NULL, &data, &len, NULL),
			 ZOK);
	ck_assert_ptr_nonnull(strstr(data, "\"brokerid\":2"));
	free(data);
	for (int i = 1; i <= 3; i++)
		WAIT_UNTIL(fakebroker_controller_epoch(fb[i]) == 2, 10000);
	controller_stop(c2);
	ck_assert(!exists("/controller"));
	teardown();
}
END_TEST

/* A controller replaced while busy has its next write refused. */
START_TEST(test_stale_controller_fenced)
{
	static const int32_t reps[1][3] = {{1, 2, 3}};
	int32_t all3[3] = {1, 2, 3}, two[2] = {1, 2};
	struct call blocker, late;
	Fluxo__Request el_req = FLUXO__REQUEST__INIT;
	Fluxo__ElectLeadersRequest el = FLUXO__ELECT_LEADERS_REQUEST__INIT;
	Fluxo__Request req;
	Fluxo__AlterIsrRequest ai;
	Fluxo__AlterIsrTopic at, *ats[1];
	Fluxo__AlterIsrPartition ap, *aps[1];
	zoo_op_t ops[3];
	zoo_op_result_t res[3];
	struct Stat st;
	controller_t *c1;
	Fluxo__Response *r;
	int version;
	struct zk_partition_state s;
	const char *other =
	    "{\"version\":1,\"brokerid\":9,\"timestamp\":\"1\"}";

	setup("fence");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c1 = start_ctl(1);
	WAIT_UNTIL(controller_is_active(c1), 10000);
	create_topic("f", 1, 3, reps);
	WAIT_UNTIL(state_is("f", 0, 1, 0, all3, 3), 10000);

	/* Hold the controller thread inside a request's callback. */
	call_init(&blocker);
	blocker.block = true;
	el_req.api = FLUXO__API_KEY__ELECT_LEADERS;
	el_req.body_case = FLUXO__REQUEST__BODY_ELECT_LEADERS;
	el_req.elect_leaders = &el;
	submit(c1, &el_req, &blocker);
	WAIT_UNTIL(blocker.entered, 5000);
	/* An ISR change queues behind it. */
	call_init(&late);
	build_alter_isr(&req, &ai, &at, ats, &ap, aps, 1,
			fakebroker_epoch(fb[1]), "f", 0, 0, 0, two, 2);
	submit(c1, &req, &late);
	/* Meanwhile another broker (9) becomes controller, epoch 2. */
	ck_assert_int_eq(zk_exists(admin, "/controller_epoch", NULL, &st), ZOK);
	zoo_delete_op_init(&ops[0], "/controller", -1);
	zoo_create_op_init(&ops[1], "/controller", other, (int)strlen(other),
			   &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
	zoo_set_op_init(&ops[2], "/controller_epoch", "2", 1, st.version, NULL);
	ck_assert_int_eq(zk_multi(admin, 3, ops, res), ZOK);
	pthread_mutex_lock(&blocker.mu);
	blocker.released = true;
	pthread_cond_broadcast(&blocker.cv);
	pthread_mutex_unlock(&blocker.mu);

	/* The zombie's write was refused and it resigned. */
	r = wait_call(&late, 10000);
	ck_assert_int_eq(r->body_case, FLUXO__RESPONSE__BODY_ALTER_ISR);
	ck_assert_int_eq(r->alter_isr->error, E(NOT_CONTROLLER));
	fluxo__response__free_unpacked(r, NULL);
	ck_assert(read_state("f", 0, &s, &version, NULL));
	ck_assert_int_eq(s.n_isr, 3);
	ck_assert_int_eq(version, 0);
	zkdata_state_free(&s);
	WAIT_UNTIL(!controller_is_active(c1), 5000);
	WAIT_UNTIL(controller_active_id(c1) == 9, 5000);
	r = wait_call(&blocker, 1000);
	fluxo__response__free_unpacked(r, NULL);
	controller_stop(c1);
	/* It did not delete the new controller's node on its way out. */
	ck_assert(exists("/controller"));
	teardown();
}
END_TEST

START_TEST(test_topic_creation)
{
	static const int32_t reps[3][3] = {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}};
	static const int32_t half[1][3] = {{9, 1}};
	static const int32_t dead[1][3] = {{9}};
	struct fb_pstate ps;
	controller_t *c;
	char *raw;
	struct zk_partition_state s;
	int32_t one[1] = {1};

	setup("create");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("orders", 3, 3, reps);
	WAIT_UNTIL(exists("/brokers/topics/orders/partitions/2/state"), 10000);
	ck_assert(read_state("orders", 0, &s, NULL, &raw));
	ck_assert_str_eq(raw, "{\"controller_epoch\":1,\"leader\":1,"
			      "\"version\":1,\"leader_epoch\":0,"
			      "\"isr\":[1,2,3]}");
	free(raw);
	zkdata_state_free(&s);
	ck_assert_int_eq(state_leader("orders", 1), 2);
	ck_assert_int_eq(state_leader("orders", 2), 3);
	for (int b = 1; b <= 3; b++) {
		for (int p = 0; p < 3; p++) {
			WAIT_UNTIL(fakebroker_lai(fb[b], "orders", p, &ps),
				   10000);
			ck_assert(ps.is_new);
			ck_assert_int_eq(ps.leader, reps[p][0]);
			ck_assert_int_eq(ps.leader_epoch, 0);
			ck_assert_int_eq(ps.partition_epoch, 0);
			ck_assert_int_eq(ps.n_isr, 3);
			ck_assert_int_eq(ps.n_replicas, 3);
			ck_assert_int_eq(ps.replicas[0], reps[p][0]);
			WAIT_UNTIL(fakebroker_um(fb[b], "orders", p, &ps),
				   10000);
			ck_assert_int_eq(ps.leader, reps[p][0]);
		}
		ck_assert_int_eq(fakebroker_bad_epochs(fb[b]), 0);
	}

	/* A replica on an unknown broker: first live replica leads. */
	create_topic("half", 1, 2, half);
	WAIT_UNTIL(state_is("half", 0, 1, 0, one, 1), 10000);
	WAIT_UNTIL(fakebroker_um(fb[2], "half", 0, &ps), 10000);
	ck_assert_int_eq(ps.n_offline, 1);
	ck_assert_int_eq(ps.offline[0], 9);
	/* No live replica at all: no state until one starts. */
	create_topic("dead", 1, 1, dead);
	usleep(500 * 1000);
	ck_assert(!exists("/brokers/topics/dead/partitions/0/state"));
	start_broker(9);
	WAIT_UNTIL(state_leader("dead", 0) == 9, 10000);
	WAIT_UNTIL(fakebroker_lai(fb[9], "dead", 0, &ps), 10000);
	ck_assert_int_eq(ps.leader, 9);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_broker_failure_and_return)
{
	static const int32_t reps[3][3] = {{1, 2, 3}, {2, 1, 3}, {3, 1, 2}};
	static const int32_t solo[1][3] = {{1}};
	int32_t all3[3] = {1, 2, 3}, all3b[3] = {2, 1, 3}, all3c[3] = {3, 1, 2},
		i23[2] = {2, 3}, i32[2] = {3, 2}, one[1] = {1};
	struct fb_pstate ps;
	controller_t *c;
	int64_t old_epoch;

	setup("fail");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("t", 3, 3, reps);
	create_topic("solo", 1, 1, solo);
	WAIT_UNTIL(state_is("t", 0, 1, 0, all3, 3), 10000);
	WAIT_UNTIL(state_is("t", 1, 2, 0, all3b, 3), 10000);
	WAIT_UNTIL(state_is("t", 2, 3, 0, all3c, 3), 10000);
	WAIT_UNTIL(state_is("solo", 0, 1, 0, one, 1), 10000);
	old_epoch = fakebroker_epoch(fb[1]);

	stop_broker(1);
	/* Led by 1: next in assignment order that is in the ISR. */
	WAIT_UNTIL(state_is("t", 0, 2, 1, i23, 2), 10000);
	/* Followed by 1: ISR shrinks, leader epoch bumps. */
	WAIT_UNTIL(state_is("t", 1, 2, 1, i23, 2), 10000);
	WAIT_UNTIL(state_is("t", 2, 3, 1, i32, 2), 10000);
	/* No other replica: offline, the ISR keeps its last member. */
	WAIT_UNTIL(state_is("solo", 0, -1, 1, one, 1), 10000);
	WAIT_UNTIL(fakebroker_lai(fb[2], "t", 0, &ps) && ps.leader_epoch == 1,
		   10000);
	ck_assert_int_eq(ps.leader, 2);
	ck_assert_int_eq(ps.n_isr, 2);
	WAIT_UNTIL(fakebroker_lai(fb[3], "t", 0, &ps) && ps.leader_epoch == 1,
		   10000);
	WAIT_UNTIL(fakebroker_um(fb[3], "t", 1, &ps) && ps.leader_epoch == 1,
		   10000);
	ck_assert_int_eq(ps.n_offline, 1);
	ck_assert_int_eq(ps.offline[0], 1);
	WAIT_UNTIL(fakebroker_um_live(fb[2]) == 2, 10000);

	/* It comes back with a new epoch: full metadata, its replicas. */
	start_broker(1);
	ck_assert_int_gt(fakebroker_epoch(fb[1]), old_epoch);
	WAIT_UNTIL(fakebroker_um_full_count(fb[1]) >= 1, 10000);
	for (int p = 0; p < 3; p++)
		WAIT_UNTIL(fakebroker_lai(fb[1], "t", p, &ps), 10000);
	ck_assert(fakebroker_lai(fb[1], "t", 0, &ps));
	ck_assert_int_eq(ps.leader, 2);
	/* The offline partition is led by it again, with a new epoch. */
	WAIT_UNTIL(state_is("solo", 0, 1, 2, one, 1), 10000);
	WAIT_UNTIL(fakebroker_lai(fb[1], "solo", 0, &ps) && ps.leader == 1,
		   10000);
	ck_assert_int_eq(ps.leader_epoch, 2);
	/* Leadership of t did not move back on its own. */
	ck_assert_int_eq(state_leader("t", 0), 2);
	WAIT_UNTIL(fakebroker_um_live(fb[2]) == 3, 10000);
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(fakebroker_bad_epochs(fb[i]), 0);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_controlled_shutdown)
{
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	struct admin_defaults d;
	static struct zk_read reads[1000];
	static char paths[1000][64];
	controller_t *c;
	Fluxo__Response *r;
	int64_t t0, took;
	int stops = 0;

	setup("cs");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	admin_defaults_init(&d);
	t.name = "cs";
	t.num_partitions = 1000;
	t.replication_factor = 2;
	ck_assert_int_eq(admin_create_topic(admin, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
	WAIT_UNTIL(fakebroker_lai_total(fb[1]) + fakebroker_lai_total(fb[2]) +
			   fakebroker_lai_total(fb[3]) >=
		       2000,
		   20000);

	r = controlled_shutdown(c, 1, fakebroker_epoch(fb[1]) + 1);
	ck_assert_int_eq(r->controlled_shutdown->error, E(STALE_BROKER_EPOCH));
	fluxo__response__free_unpacked(r, NULL);
	r = controlled_shutdown(c, 8, 1);
	ck_assert_int_eq(r->controlled_shutdown->error,
			 E(BROKER_NOT_AVAILABLE));
	fluxo__response__free_unpacked(r, NULL);

	t0 = clock_mono_ms();
	r = controlled_shutdown(c, 1, fakebroker_epoch(fb[1]));
	took = clock_mono_ms() - t0;
	fprintf(stderr,
		"controlled shutdown of a broker in 1000 partitions "
		"(RF 2): %" PRId64 " ms\n",
		took);
	ck_assert_int_eq(r->correlation_id, 77);
	ck_assert_int_eq(r->controlled_shutdown->error, E(NONE));
	ck_assert_int_eq(r->controlled_shutdown->n_remaining_partitions, 0);
	fluxo__response__free_unpacked(r, NULL);
	ck_assert_msg(took < 1000, "controlled shutdown took %" PRId64 " ms",
		      took);

	/* No partition is led by 1 or has 1 in its ISR any more. */
	for (int p = 0; p < 1000; p++) {
		zkpath_partition_state(paths[p], sizeof(paths[p]), "cs", p);
		reads[p].path = paths[p];
	}
	ck_assert_int_eq(zk_get_many(admin, reads, 1000, NULL), ZOK);
	for (int p = 0; p < 1000; p++) {
		struct zk_partition_state s;

		ck_assert_int_eq(reads[p].rc, ZOK);
		ck_assert_int_eq(zkdata_state_decode(reads[p].data,
						     (size_t)reads[p].len, &s,
						     errstr, sizeof(errstr)),
				 0);
		ck_assert_int_ne(s.leader, 1);
		for (int i = 0; i < s.n_isr; i++)
			ck_assert_int_ne(s.isr[i], 1);
		zkdata_state_free(&s);
	}
	zk_reads_free(reads, 1000);
	/* It was told to stop its replicas (without deleting them). */
	for (int p = 0; p < 1000; p++) {
		struct fb_pstate ps;

		if (fakebroker_lai(fb[1], "cs", p, &ps)) {
			WAIT_UNTIL(fakebroker_stops(fb[1], "cs", p, false) >= 1,
				   10000);
			stops++;
			ck_assert_int_eq(fakebroker_stops(fb[1], "cs", p, true),
					 0);
		}
	}
	ck_assert_int_gt(stops, 600);
	ck_assert_int_eq(fakebroker_count(fb[1], FLUXO__API_KEY__STOP_REPLICA),
			 1);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_alter_isr)
{
	static const int32_t reps[1][3] = {{1, 2, 3}};
	int32_t i12[2] = {1, 2}, i123[3] = {1, 2, 3}, i21[2] = {2, 1},
		i3[1] = {3};
	struct fb_pstate ps;
	controller_t *c;
	int32_t ver = -1;
	int64_t e1;

	setup("isr");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(2);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("a", 1, 3, reps);
	WAIT_UNTIL(state_is("a", 0, 1, 0, i123, 3), 10000);
	e1 = fakebroker_epoch(fb[1]);

	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 0, 0, i12, 2, &ver),
			 E(NONE));
	ck_assert_int_eq(ver, 1);
	ck_assert(state_is("a", 0, 1, 0, i12, 2));
	WAIT_UNTIL(fakebroker_um(fb[3], "a", 0, &ps) && ps.n_isr == 2, 10000);
	ck_assert_int_eq(ps.partition_epoch, 1);
	ck_assert_int_eq(ps.leader_epoch, 0);

	/* Refusals leave the state alone. */
	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 0, 0, i123, 3, NULL),
			 E(INVALID_UPDATE_VERSION));
	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 5, 1, i123, 3, NULL),
			 E(FENCED_LEADER_EPOCH));
	ck_assert_int_eq(alter_isr(c, 2, fakebroker_epoch(fb[2]), "a", 0, 0, 1,
				   i21, 2, NULL),
			 E(NOT_LEADER_OR_FOLLOWER));
	ck_assert_int_eq(alter_isr(c, 1, e1 + 1, "a", 0, 0, 1, i123, 3, NULL),
			 -E(STALE_BROKER_EPOCH));
	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 0, 1, i3, 1, NULL),
			 E(INVALID_REQUEST));
	ck_assert_int_eq(alter_isr(c, 1, e1, "nope", 0, 0, 1, i12, 2, NULL),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	ck_assert(state_is("a", 0, 1, 0, i12, 2));

	/* Expansion with the current versions. */
	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 0, 1, i123, 3, &ver),
			 E(NONE));
	ck_assert_int_eq(ver, 2);
	/* Same ISR again: nothing to write, current state returned. */
	ck_assert_int_eq(alter_isr(c, 1, e1, "a", 0, 0, 2, i123, 3, &ver),
			 E(NONE));
	ck_assert_int_eq(ver, 2);

	/* A dead broker cannot join. */
	stop_broker(3);
	WAIT_UNTIL(state_is("a", 0, 1, 1, i12, 2), 10000);
	{
		struct zk_partition_state s;
		int v;

		ck_assert(read_state("a", 0, &s, &v, NULL));
		zkdata_state_free(&s);
		ck_assert_int_eq(
		    alter_isr(c, 1, e1, "a", 0, 1, v, i123, 3, NULL),
		    E(INELIGIBLE_REPLICA));
	}
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_delete_topic)
{
	static const int32_t reps[2][3] = {{1, 2}, {2, 3}};
	static const int32_t on3[1][3] = {{3}};
	static const int32_t on2[1][3] = {{2}};
	Fluxo__AlterConfigsResource res = FLUXO__ALTER_CONFIGS_RESOURCE__INIT;
	Fluxo__AlterableConfig cfg = FLUXO__ALTERABLE_CONFIG__INIT, *cfgs[1];
	struct admin_defaults d;
	controller_t *c;

	setup("del");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(1);
	WAIT_UNTIL(controller_is_active(c), 10000);
	admin_defaults_init(&d);
	create_topic("d", 2, 2, reps);
	cfgs[0] = &cfg;
	res.type = FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC;
	res.name = "d";
	res.configs = cfgs;
	res.n_configs = 1;
	cfg.name = "retention.ms";
	cfg.value = "1000";
	ck_assert_int_eq(admin_alter_config(admin, &res, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
	WAIT_UNTIL(exists("/brokers/topics/d/partitions/1/state"), 10000);
	ck_assert_int_eq(
	    admin_delete_topic(admin, &d, "d", errstr, sizeof(errstr)),
	    E(NONE));
	WAIT_UNTIL(!exists("/brokers/topics/d"), 10000);
	WAIT_UNTIL(!exists("/admin/delete_topics/d"), 10000);
	ck_assert(!exists("/config/topics/d"));
	ck_assert_int_ge(fakebroker_stops(fb[1], "d", 0, true), 1);
	ck_assert_int_ge(fakebroker_stops(fb[2], "d", 0, true), 1);
	ck_assert_int_ge(fakebroker_stops(fb[2], "d", 1, true), 1);
	ck_assert_int_ge(fakebroker_stops(fb[3], "d", 1, true), 1);
	ck_assert_int_eq(fakebroker_stops(fb[3], "d", 0, true), 0);
	for (int i = 1; i <= 3; i++) {
		struct fb_pstate ps;

		WAIT_UNTIL(fakebroker_deleted(fb[i], "d"), 10000);
		ck_assert(!fakebroker_um(fb[i], "d", 0, &ps));
	}

	/* A replica's broker is down: the deletion waits for it. */
	create_topic("e", 1, 1, on3);
	WAIT_UNTIL(exists("/brokers/topics/e/partitions/0/state"), 10000);
	stop_broker(3);
	ck_assert_int_eq(
	    admin_delete_topic(admin, &d, "e", errstr, sizeof(errstr)),
	    E(NONE));
	usleep(1000 * 1000);
	ck_assert(exists("/brokers/topics/e"));
	start_broker(3);
	WAIT_UNTIL(!exists("/brokers/topics/e"), 10000);
	ck_assert_int_ge(fakebroker_stops(fb[3], "e", 0, true), 1);

	/* The replica fails to delete: retried until it succeeds. */
	create_topic("g", 1, 1, on2);
	WAIT_UNTIL(exists("/brokers/topics/g/partitions/0/state"), 10000);
	fakebroker_set_stop_error(fb[2], E(KAFKA_STORAGE_ERROR));
	ck_assert_int_eq(
	    admin_delete_topic(admin, &d, "g", errstr, sizeof(errstr)),
	    E(NONE));
	WAIT_UNTIL(fakebroker_stops(fb[2], "g", 0, true) >= 2, 10000);
	ck_assert(exists("/brokers/topics/g"));
	fakebroker_set_stop_error(fb[2], 0);
	WAIT_UNTIL(!exists("/brokers/topics/g"), 10000);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_preferred_unclean_rebalance)
{
	static const int32_t reps[2][3] = {{1, 2, 3}, {1, 3, 2}};
	static const int32_t two[1][3] = {{1, 2}};
	int32_t i23[2] = {2, 3}, i231[3] = {2, 3, 1}, i32[2] = {3, 2},
		i321[3] = {3, 2, 1}, i1[1] = {1}, i2[1] = {2};
	struct controller_config cfg = base_cfg(3);
	struct zk_partition_state s;
	controller_t *c;
	int v;

	setup("pref");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("p", 2, 3, reps);
	create_topic("uc", 1, 2, two);
	WAIT_UNTIL(state_leader("p", 1) == 1, 10000);
	WAIT_UNTIL(state_leader("uc", 0) == 1, 10000);
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__PREFERRED, "p", 0),
			 E(ELECTION_NOT_NEEDED));
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__PREFERRED, "p", 7),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	/* uc's ISR shrinks to the leader alone. */
	ck_assert_int_eq(alter_isr(c, 1, fakebroker_epoch(fb[1]), "uc", 0, 0, 0,
				   i1, 1, NULL),
			 E(NONE));

	stop_broker(1);
	WAIT_UNTIL(state_is("p", 0, 2, 1, i23, 2), 10000);
	WAIT_UNTIL(state_is("p", 1, 3, 1, i32, 2), 10000);
	WAIT_UNTIL(state_is("uc", 0, -1, 1, i1, 1), 10000);
	/* Unclean election on request: the out-of-sync replica leads. */
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__UNCLEAN, "uc", 0),
			 E(NONE));
	ck_assert(state_is("uc", 0, 2, 2, i2, 1));
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__UNCLEAN, "uc", 0),
			 E(ELECTION_NOT_NEEDED));

	start_broker(1);
	WAIT_UNTIL(fakebroker_um_full_count(fb[1]) >= 1, 10000);
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__PREFERRED, "p", 0),
			 E(PREFERRED_LEADER_NOT_AVAILABLE));
	/* The leader re-admits 1; then the preferred election succeeds. */
	ck_assert(read_state("p", 0, &s, &v, NULL));
	zkdata_state_free(&s);
	ck_assert_int_eq(alter_isr(c, 2, fakebroker_epoch(fb[2]), "p", 0, 1, v,
				   i231, 3, NULL),
			 E(NONE));
	ck_assert_int_eq(elect(c, FLUXO__ELECTION_TYPE__PREFERRED, "p", 0),
			 E(NONE));
	ck_assert(state_is("p", 0, 1, 2, i231, 3));

	/* The legacy znode triggers the same election, then goes. */
	ck_assert(read_state("p", 1, &s, &v, NULL));
	zkdata_state_free(&s);
	ck_assert_int_eq(alter_isr(c, 3, fakebroker_epoch(fb[3]), "p", 1, 1, v,
				   i321, 3, NULL),
			 E(NONE));
	{
		const char *js = "{\"version\":1,\"partitions\":[{\"topic\":"
				 "\"p\",\"partition\":1}]}";

		ck_assert_int_eq(
		    zk_create(admin, "/admin/preferred_replica_election", js,
			      (int)strlen(js), 0, NULL, 0, NULL),
		    ZOK);
	}
	WAIT_UNTIL(state_leader("p", 1) == 1, 10000);
	WAIT_UNTIL(!exists("/admin/preferred_replica_election"), 10000);
	/* The watch is armed again: a second request is handled too. */
	{
		const char *js = "{\"version\":1,\"partitions\":[{\"topic\":"
				 "\"p\",\"partition\":0}]}";

		ck_assert_int_eq(
		    zk_create(admin, "/admin/preferred_replica_election", js,
			      (int)strlen(js), 0, NULL, 0, NULL),
		    ZOK);
	}
	WAIT_UNTIL(!exists("/admin/preferred_replica_election"), 10000);
	controller_stop(c);

	/* Auto-rebalance: a new controller moves leadership back itself. */
	stop_broker(1);
	cfg.auto_leader_rebalance_enable = true;
	cfg.leader_imbalance_check_interval_seconds = 1;
	cfg.rebalance_initial_delay_ms = 100;
	c = start_ctl_cfg(3, &cfg);
	WAIT_UNTIL(controller_is_active(c), 10000);
	WAIT_UNTIL(state_leader("p", 0) == 2, 10000);
	start_broker(1);
	WAIT_UNTIL(fakebroker_um_full_count(fb[1]) >= 1, 10000);
	ck_assert(read_state("p", 0, &s, &v, NULL));
	ck_assert_int_eq(s.leader, 2);
	ck_assert_int_eq(alter_isr(c, 2, fakebroker_epoch(fb[2]), "p", 0,
				   s.leader_epoch, v, i231, 3, NULL),
			 E(NONE));
	zkdata_state_free(&s);
	WAIT_UNTIL(state_leader("p", 0) == 1, 10000);
	/* p/1 cannot move: 1 is not in its ISR. */
	ck_assert_int_eq(state_leader("p", 1), 3);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_session_expiry)
{
	static const int32_t reps[1][3] = {{2, 3}};
	controller_t *c;
	int64_t old_epoch;
	Fluxo__Response *r;

	setup("expiry");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(1);
	WAIT_UNTIL(controller_is_active(c), 10000);
	ck_assert_int_eq(controller_epoch(c), 1);
	create_topic("x", 1, 2, reps);
	WAIT_UNTIL(state_leader("x", 0) == 2, 10000);
	old_epoch = fakebroker_epoch(fb[1]);

	ck_assert(zktest_expire(fakebroker_session(fb[1]), 20000));
	/* It resigns at once, then wins again under the new session. */
	WAIT_UNTIL(controller_epoch(c) == 2, 20000);
	ck_assert(controller_is_active(c));
	ck_assert_int_gt(fakebroker_epoch(fb[1]), old_epoch);
	for (int i = 1; i <= 3; i++)
		WAIT_UNTIL(fakebroker_controller_epoch(fb[i]) == 2, 10000);
	/* Still working: a controlled shutdown with the new epoch. */
	r = controlled_shutdown(c, 3, fakebroker_epoch(fb[3]));
	ck_assert_int_eq(r->controlled_shutdown->error, E(NONE));
	fluxo__response__free_unpacked(r, NULL);
	WAIT_UNTIL(state_leader("x", 0) == 2, 10000);
	controller_stop(c);
	teardown();
}
END_TEST

/* A request to a broker that is not the controller fails at once. */
START_TEST(test_not_controller)
{
	controller_t *c1, *c2;
	Fluxo__Response *r;
	int64_t t0;

	setup("notctl");
	start_broker(1);
	start_broker(2);
	c1 = start_ctl(1);
	WAIT_UNTIL(controller_is_active(c1), 10000);
	c2 = start_ctl(2);
	WAIT_UNTIL(controller_active_id(c2) == 1, 5000);
	t0 = clock_mono_ms();
	r = controlled_shutdown(c2, 2, fakebroker_epoch(fb[2]));
	ck_assert_int_lt(clock_mono_ms() - t0, 100);
	ck_assert_int_eq(r->controlled_shutdown->error, E(NOT_CONTROLLER));
	ck_assert_int_eq(r->correlation_id, 77);
	fluxo__response__free_unpacked(r, NULL);
	controller_stop(c2);
	controller_stop(c1);
	teardown();
}
END_TEST

/* 10,000 partitions: a new controller pushes everything within 3 s. */
START_TEST(test_failover_10k_partitions)
{
	enum { TOPICS = 100, PARTS = 100 };
	char *paths = malloc((size_t)TOPICS * PARTS * 2 * 80);
	zoo_op_t *ops = calloc(1000, sizeof(*ops));
	zoo_op_result_t *res = calloc(1000, sizeof(*res));
	char state[3][128];
	controller_t *c;
	int64_t t0, took, active_at = 0;
	int k = 0, used = 0;
	bool done = false;

	setup("big");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	/* States as a previous controller left them (epoch 0). */
	for (int r = 0; r < 3; r++)
		snprintf(state[r], sizeof(state[r]),
			 "{\"controller_epoch\":0,\"leader\":%d,\"version\":1,"
			 "\"leader_epoch\":0,\"isr\":[%d,%d,%d]}",
			 r + 1, r + 1, (r + 1) % 3 + 1, (r + 2) % 3 + 1);
	for (int t = 0; t < TOPICS; t++) {
		struct zk_topic_assign a;
		char path[ZKPATH_MAX], name[32], *js;

		snprintf(name, sizeof(name), "big%03d", t);
		ck_assert_int_eq(zkdata_topic_alloc(&a, PARTS), 0);
		for (int p = 0; p < PARTS; p++) {
			int32_t rep[3] = {p % 3 + 1, (p + 1) % 3 + 1,
					  (p + 2) % 3 + 1};

			zkdata_replicas_set(&a.replicas[p], rep, 3);
		}
		js = zkdata_topic_encode(&a);
		zkdata_topic_free(&a);
		zkpath_topic(path, sizeof(path), name);
		ck_assert_int_eq(zk_create(admin, path, js, (int)strlen(js), 0,
					   NULL, 0, NULL),
				 ZOK);
		free(js);
		zkpath_partitions(path, sizeof(path), name);
		ck_assert_int_eq(
		    zk_create(admin, path, NULL, -1, 0, NULL, 0, NULL), ZOK);
		for (int p = 0; p < PARTS; p++) {
			char *pp = paths + used, *sp;

			used +=
			    snprintf(pp, 80, "/brokers/topics/%s/partitions/%d",
				     name, p) +
			    1;
			sp = paths + used;
			used +=
			    snprintf(sp, 80,
				     "/brokers/topics/%s/partitions/%d/state",
				     name, p) +
			    1;
			zoo_create_op_init(&ops[k++], pp, NULL, -1,
					   &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
			zoo_create_op_init(&ops[k++], sp, state[p % 3],
					   (int)strlen(state[p % 3]),
					   &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
			if (k == 1000) {
				ck_assert_int_eq(zk_multi(admin, k, ops, res),
						 ZOK);
				k = 0;
			}
		}
	}
	if (k > 0)
		ck_assert_int_eq(zk_multi(admin, k, ops, res), ZOK);

	t0 = clock_mono_ms();
	c = start_ctl(1);
	while (clock_mono_ms() - t0 < 20000 && !done) {
		if (!active_at && controller_is_active(c))
			active_at = clock_mono_ms();
		done = true;
		for (int i = 1; i <= 3; i++)
			done &= fakebroker_um_size(fb[i]) == TOPICS * PARTS &&
				fakebroker_lai_total(fb[i]) >= TOPICS * PARTS;
		if (!done)
			usleep(5 * 1000);
	}
	took = clock_mono_ms() - t0;
	ck_assert_msg(done, "brokers did not get the full state in 20 s");
	fprintf(stderr,
		"fail-over with %d partitions: complete state at 3 brokers "
		"%" PRId64 " ms after controller_start\n",
		TOPICS * PARTS, took);
	ck_assert_msg(took < 3000, "fail-over took %" PRId64 " ms", took);
	/* Nothing was re-elected: leaders and epochs are unchanged. */
	for (int i = 1; i <= 3; i++) {
		struct fb_pstate ps;

		ck_assert(fakebroker_lai(fb[i], "big042", 7, &ps));
		ck_assert_int_eq(ps.leader, 7 % 3 + 1);
		ck_assert_int_eq(ps.leader_epoch, 0);
		ck_assert_int_eq(fakebroker_bad_epochs(fb[i]), 0);
		ck_assert_int_eq(
		    fakebroker_count(fb[i], FLUXO__API_KEY__LEADER_AND_ISR), 1);
	}
	controller_stop(c);
	free(paths);
	free(ops);
	free(res);
	teardown();
}
END_TEST

/* A broker that restarts before the controller notices (larger czxid)
 * is handled as a failure, then a start: it loses its leaderships. */
START_TEST(test_bounced_broker)
{
	static const int32_t reps[2][3] = {{1, 2, 3}, {2, 1, 3}};
	int32_t all3[3] = {1, 2, 3}, i23[2] = {2, 3};
	Fluxo__ElectLeadersRequest el;
	Fluxo__Request req;
	struct call blocker;
	struct fb_pstate ps;
	controller_t *c;
	int64_t old_epoch;

	setup("bounce");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("b", 2, 3, reps);
	WAIT_UNTIL(state_is("b", 0, 1, 0, all3, 3), 10000);
	WAIT_UNTIL(state_leader("b", 1) == 2, 10000);
	old_epoch = fakebroker_epoch(fb[1]);

	hold(c, &blocker, &req, &el);
	stop_broker(1);
	start_broker(1);
	ck_assert_int_gt(fakebroker_epoch(fb[1]), old_epoch);
	release(&blocker);

	WAIT_UNTIL(state_is("b", 0, 2, 1, i23, 2), 10000);
	WAIT_UNTIL(state_is("b", 1, 2, 1, i23, 2), 10000);
	/* It starts again as a follower with the new leader epoch. */
	WAIT_UNTIL(fakebroker_lai(fb[1], "b", 0, &ps) && ps.leader_epoch == 1,
		   10000);
	ck_assert_int_eq(ps.leader, 2);
	WAIT_UNTIL(fakebroker_um_full_count(fb[1]) >= 1, 10000);
	ck_assert_int_eq(fakebroker_bad_epochs(fb[1]), 0);
	controller_stop(c);
	teardown();
}
END_TEST

/* Candidates starting together: exactly one wins, with epoch 1. */
START_TEST(test_simultaneous_candidates)
{
	controller_t *c[4];
	int active = 0;

	setup("race");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	for (int i = 1; i <= 3; i++)
		c[i] = start_ctl(i);
	WAIT_UNTIL(controller_is_active(c[1]) || controller_is_active(c[2]) ||
		       controller_is_active(c[3]),
		   10000);
	usleep(500 * 1000);
	for (int i = 1; i <= 3; i++) {
		active += controller_is_active(c[i]);
		if (controller_is_active(c[i]))
			ck_assert_int_eq(controller_epoch(c[i]), 1);
	}
	ck_assert_int_eq(active, 1);
	for (int i = 1; i <= 3; i++)
		WAIT_UNTIL(controller_active_id(c[i]) ==
			       controller_active_id(c[1]),
			   5000);
	for (int i = 1; i <= 3; i++)
		controller_stop(c[i]);
	teardown();
}
END_TEST

static Suite *controller_suite(void)
{
	Suite *s = suite_create("controller");
	TCase *tc = tcase_create("zookeeper");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_election_and_failover);
	tcase_add_test(tc, test_stale_controller_fenced);
	tcase_add_test(tc, test_topic_creation);
	tcase_add_test(tc, test_broker_failure_and_return);
	tcase_add_test(tc, test_controlled_shutdown);
	tcase_add_test(tc, test_alter_isr);
	tcase_add_test(tc, test_delete_topic);
	tcase_add_test(tc, test_preferred_unclean_rebalance);
	tcase_add_test(tc, test_session_expiry);
	tcase_add_test(tc, test_not_controller);
	tcase_add_test(tc, test_bounced_broker);
	tcase_add_test(tc, test_simultaneous_candidates);
	tcase_add_test(tc, test_failover_10k_partitions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!zktest_start())
		return EXIT_FAILURE;
	sr = srunner_create(controller_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
