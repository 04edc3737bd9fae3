/*
 * test_controller_reassign.c - partition reassignment by the controller,
 * against a real ZooKeeper and fake brokers (tests/lib/fakebroker.c) that
 * record the control requests they receive. The fake brokers do not
 * replicate, so each test plays the leader: it sends the AlterIsr that a
 * real leader sends once a new replica has caught up.
 *
 * Covered: the phases (assignment written first, LeaderAndIsr with a new
 * leader epoch to every replica, completion once the targets are in the
 * ISR: leadership moved off a removed replica, removed replicas out of the
 * ISR and deleted, final assignment), validation and its error codes,
 * ListPartitionReassignments, cancellation, the legacy
 * /admin/reassign_partitions znode, deletion waiting for a reassignment,
 * and controller fail-overs at each point a controller can die: after the
 * assignment was written, while new replicas copy, and between the final
 * state write and the final assignment write.
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

/* Creates a topic of one partition on the given replicas. */
static void create_topic(const char *name, const int32_t *reps, int rf)
{
	Fluxo__CreatableTopic t = FLUXO__CREATABLE_TOPIC__INIT;
	Fluxo__ReplicaAssignment *as[1], a;
	struct admin_defaults d;

	admin_defaults_init(&d);
	fluxo__replica_assignment__init(&a);
	a.partition = 0;
	a.broker_ids = (int32_t *)reps;
	a.n_broker_ids = (size_t)rf;
	as[0] = &a;
	t.name = (char *)name;
	t.num_partitions = -1;
	t.replication_factor = -1;
	t.assignments = as;
	t.n_assignments = 1;
	ck_assert_int_eq(admin_create_topic(admin, &d, &t, false, NULL, NULL,
					    errstr, sizeof(errstr)),
			 E(NONE));
}

static const char *ids_str(char *out, size_t size, const int32_t *v, int n)
{
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%" PRId32,
					i ? "," : "", v[i]);
	return out;
}

/* "replicas|adding|removing" of partition p in /brokers/topics/<t>. */
static const char *assignment(const char *topic, int p)
{
	static char out[256];
	struct zk_topic_assign a;
	char path[ZKPATH_MAX], *data, r[80], ad[80], rm[80];
	int len;

	zkpath_topic(path, sizeof(path), topic);
	if (zk_get(admin, path, NULL, &data, &len, NULL) != ZOK)
		return "none";
	ck_assert_int_eq(
	    zkdata_topic_decode(data, (size_t)len, &a, errstr, sizeof(errstr)),
	    0);
	free(data);
	snprintf(out, sizeof(out), "%s|%s|%s",
		 ids_str(r, sizeof(r), a.replicas[p].ids, a.replicas[p].n),
		 ids_str(ad, sizeof(ad), a.adding[p].ids, a.adding[p].n),
		 ids_str(rm, sizeof(rm), a.removing[p].ids, a.removing[p].n));
	zkdata_topic_free(&a);
	return out;
}

static bool assignment_is(const char *topic, int p, const char *want)
{
	return strcmp(assignment(topic, p), want) == 0;
}

/* "leader/epoch/isr" of a state znode; *version gets its version. */
static const char *state(const char *topic, int p, int *version)
{
	static char out[128];
	struct zk_partition_state s;
	char path[ZKPATH_MAX], *data, isr[80];
	struct Stat st;
	int len;

	zkpath_partition_state(path, sizeof(path), topic, p);
	if (zk_get(admin, path, NULL, &data, &len, &st) != ZOK)
		return "none";
	ck_assert_int_eq(
	    zkdata_state_decode(data, (size_t)len, &s, errstr, sizeof(errstr)),
	    0);
	free(data);
	if (version)
		*version = st.version;
	snprintf(out, sizeof(out), "%" PRId32 "/%" PRId32 "/%s", s.leader,
		 s.leader_epoch, ids_str(isr, sizeof(isr), s.isr, s.n_isr));
	zkdata_state_free(&s);
	return out;
}

static bool state_is(const char *topic, int p, const char *want)
{
	return strcmp(state(topic, p, NULL), want) == 0;
}

/* The last LeaderAndIsr a broker got: "leader/epoch/isr/rs/adding/rm". */
static const char *lai(int broker, const char *topic, int p)
{
	static char out[256];
	struct fb_pstate ps;
	char a[64], b[64], c[64], d[64];

	if (!fakebroker_lai(fb[broker], topic, p, &ps))
		return "none";
	snprintf(out, sizeof(out), "%" PRId32 "/%" PRId32 "/%s/%s/%s/%s",
		 ps.leader, ps.leader_epoch,
		 ids_str(a, sizeof(a), ps.isr, ps.n_isr),
		 ids_str(b, sizeof(b), ps.replicas, ps.n_replicas),
		 ids_str(c, sizeof(c), ps.adding, ps.n_adding),
		 ids_str(d, sizeof(d), ps.removing, ps.n_removing));
	return out;
}

static bool lai_is(int broker, const char *topic, int p, const char *want)
{
	return strcmp(lai(broker, topic, p), want) == 0;
}

/* ------------------------------------------------------------- requests */

/*
 * AlterPartitionReassignments of one partition (replicas NULL: cancel).
 * Returns the partition's error, or minus the top-level one; msg (may be
 * NULL) gets the sentence.
 */
static int reassign(controller_t *ctl, const char *topic, int p,
		    const int32_t *replicas, int n, char *msg, size_t msg_size)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__AlterPartitionReassignmentsRequest ar =
	    FLUXO__ALTER_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	Fluxo__ReassignablePartition rp = FLUXO__REASSIGNABLE_PARTITION__INIT,
				     *rps[1] = {&rp};
	Fluxo__Response *r;
	int ret;

	req.api = FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS;
	req.body_case = FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS;
	req.alter_partition_reassignments = &ar;
	ar.partitions = rps;
	ar.n_partitions = 1;
	rp.topic = (char *)topic;
	rp.partition = p;
	rp.replicas = (int32_t *)replicas;
	rp.n_replicas = replicas ? (size_t)n : 0;
	rp.cancel = replicas == NULL;
	r = call_sync(ctl, &req);
	ck_assert_int_eq(r->body_case,
			 FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS);
	if (r->alter_partition_reassignments->error != E(NONE)) {
		ret = -(int)r->alter_partition_reassignments->error;
	} else {
		const Fluxo__ReassignmentResult *res;

		ck_assert_int_eq(r->alter_partition_reassignments->n_results,
				 1);
		res = r->alter_partition_reassignments->results[0];
		ck_assert_str_eq(res->topic, topic);
		ck_assert_int_eq(res->partition, p);
		ret = res->error;
		if (msg)
			snprintf(msg, msg_size, "%s",
				 res->error_message ? res->error_message : "");
	}
	fluxo__response__free_unpacked(r, NULL);
	return ret;
}

/* ListPartitionReassignments of everything: "t-p:rs|ad|rm;..." */
static const char *list(controller_t *ctl)
{
	static char out[512];
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ListPartitionReassignmentsRequest lr =
	    FLUXO__LIST_PARTITION_REASSIGNMENTS_REQUEST__INIT;
	Fluxo__Response *r;
	size_t off = 0;

	req.api = FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS;
	req.body_case = FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS;
	req.list_partition_reassignments = &lr;
	r = call_sync(ctl, &req);
	ck_assert_int_eq(r->body_case,
			 FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS);
	ck_assert_int_eq(r->list_partition_reassignments->error, E(NONE));
	out[0] = '\0';
	for (size_t i = 0; i < r->list_partition_reassignments->n_reassignments;
	     i++) {
		const Fluxo__OngoingReassignment *o =
		    r->list_partition_reassignments->reassignments[i];
		char a[64], b[64], c[64];

		off += (size_t)snprintf(
		    out + off, sizeof(out) - off, "%s%s-%d:%s|%s|%s",
		    i ? ";" : "", o->topic, o->partition,
		    ids_str(a, sizeof(a), o->replicas, (int)o->n_replicas),
		    ids_str(b, sizeof(b), o->adding_replicas,
			    (int)o->n_adding_replicas),
		    ids_str(c, sizeof(c), o->removing_replicas,
			    (int)o->n_removing_replicas));
	}
	fluxo__response__free_unpacked(r, NULL);
	return out;
}

/*
 * The leader's AlterIsr for partition 0 of topic, from the state znode as
 * it is (so the test acts as a leader that has caught up with the
 * LeaderAndIsr). Returns the partition's error.
 */
static int leader_alter_isr(controller_t *ctl, const char *topic,
			    const int32_t *isr, int n_isr)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__AlterIsrRequest ai = FLUXO__ALTER_ISR_REQUEST__INIT;
	Fluxo__AlterIsrTopic at = FLUXO__ALTER_ISR_TOPIC__INIT, *ats[1] = {&at};
	Fluxo__AlterIsrPartition ap = FLUXO__ALTER_ISR_PARTITION__INIT,
				 *aps[1] = {&ap};
	struct zk_partition_state s;
	char path[ZKPATH_MAX], *data;
	struct Stat st;
	Fluxo__Response *r;
	int len, ret;

	zkpath_partition_state(path, sizeof(path), topic, 0);
	ck_assert_int_eq(zk_get(admin, path, NULL, &data, &len, &st), ZOK);
	ck_assert_int_eq(
	    zkdata_state_decode(data, (size_t)len, &s, errstr, sizeof(errstr)),
	    0);
	free(data);
	req.api = FLUXO__API_KEY__ALTER_ISR;
	req.body_case = FLUXO__REQUEST__BODY_ALTER_ISR;
	req.alter_isr = &ai;
	ai.broker_id = s.leader;
	ai.broker_epoch = fakebroker_epoch(fb[s.leader]);
	ai.topics = ats;
	ai.n_topics = 1;
	at.name = (char *)topic;
	at.partitions = aps;
	at.n_partitions = 1;
	ap.partition = 0;
	ap.leader_epoch = s.leader_epoch;
	ap.partition_epoch = st.version;
	ap.new_isr = (int32_t *)isr;
	ap.n_new_isr = (size_t)n_isr;
	zkdata_state_free(&s);
	r = call_sync(ctl, &req);
	ck_assert_int_eq(r->body_case, FLUXO__RESPONSE__BODY_ALTER_ISR);
	ret = r->alter_isr->error != E(NONE)
		  ? -(int)r->alter_isr->error
		  : (int)r->alter_isr->topics[0]->partitions[0]->error;
	fluxo__response__free_unpacked(r, NULL);
	return ret;
}

/* path's data holds has and neither of not1, not2. */
static bool znode_lists(const char *path, const char *has, const char *not1,
			const char *not2)
{
	char *data = NULL;
	bool ok;
	int len;

	if (zk_get(admin, path, NULL, &data, &len, NULL) != ZOK)
		return false;
	ok = data && strstr(data, has) && !strstr(data, not1) &&
	     !strstr(data, not2);
	free(data);
	return ok;
}

static void write_znode(const char *path, const char *json)
{
	int rc =
	    zk_create(admin, path, json, (int)strlen(json), 0, NULL, 0, NULL);

	if (rc == ZNODEEXISTS)
		rc = zk_set(admin, path, json, (int)strlen(json), -1, NULL);
	ck_assert_int_eq(rc, ZOK);
}

/* ------------------------------------------------------------- tests */

/* 1,2 -> 2,3 with the leader (1) among the removed replicas. */
START_TEST(test_reassign_moves_leader)
{
	static const int32_t r12[] = {1, 2}, r23[] = {2, 3}, i123[] = {1, 2, 3};
	controller_t *c;
	int64_t um0;

	setup("ra_basic");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("r", r12, 2);
	WAIT_UNTIL(state_is("r", 0, "1/0/1,2"), 10000);
	ck_assert_str_eq(list(c), "");

	ck_assert_int_eq(reassign(c, "r", 0, r23, 2, NULL, 0), E(NONE));
	/* U: RS = TRS ++ ORS with AR and RR, written first. */
	ck_assert_str_eq(assignment("r", 0), "2,3,1|3|1");
	ck_assert_str_eq(list(c), "r-0:2,3,1|3|1");
	/* A: new leader epoch; every replica, old and new, hears of it. */
	WAIT_UNTIL(state_is("r", 0, "1/1/1,2"), 10000);
	for (int b = 1; b <= 3; b++)
		WAIT_UNTIL(lai_is(b, "r", 0, "1/1/1,2/2,3,1/3/1"), 10000);
	um0 = fakebroker_count(fb[1], FLUXO__API_KEY__UPDATE_METADATA);
	/* Resubmitting the same target changes nothing. */
	ck_assert_int_eq(reassign(c, "r", 0, r23, 2, NULL, 0), E(NONE));
	ck_assert_str_eq(state("r", 0, NULL), "1/1/1,2");

	/* The new replica caught up: the leader adds it to the ISR. */
	ck_assert_int_eq(leader_alter_isr(c, "r", i123, 3), E(NONE));
	/* B: leadership moves into the target, 1 leaves the ISR, one write. */
	WAIT_UNTIL(assignment_is("r", 0, "2,3||"), 10000);
	ck_assert_str_eq(state("r", 0, NULL), "2/2/2,3");
	WAIT_UNTIL(lai_is(2, "r", 0, "2/2/2,3/2,3//"), 10000);
	WAIT_UNTIL(lai_is(3, "r", 0, "2/2/2,3/2,3//"), 10000);
	/* The removed replica is stopped and deleted, not told to follow. */
	WAIT_UNTIL(fakebroker_stops(fb[1], "r", 0, true) == 1, 10000);
	ck_assert_str_eq(lai(1, "r", 0), "1/1/1,2/2,3,1/3/1");
	ck_assert_int_eq(fakebroker_stops(fb[2], "r", 0, true), 0);
	ck_assert_int_eq(fakebroker_stops(fb[3], "r", 0, true), 0);
	/* Everyone's metadata has the final replicas. */
	WAIT_UNTIL(fakebroker_count(fb[1], FLUXO__API_KEY__UPDATE_METADATA) >
		       um0,
		   10000);
	{
		struct fb_pstate ps;

		WAIT_UNTIL(fakebroker_um(fb[1], "r", 0, &ps) &&
			       ps.n_replicas == 2,
			   10000);
		ck_assert_int_eq(ps.leader, 2);
		ck_assert_int_eq(ps.replicas[0], 2);
		ck_assert_int_eq(ps.replicas[1], 3);
	}
	ck_assert_str_eq(list(c), "");
	for (int b = 1; b <= 3; b++)
		ck_assert_int_eq(fakebroker_bad_epochs(fb[b]), 0);
	controller_stop(c);
	teardown();
}
END_TEST

START_TEST(test_reassign_validation)
{
	static const int32_t r12[] = {1, 2}, r21[] = {2, 1}, empty[] = {0},
			     dup[] = {2, 2}, neg[] = {1, -3}, dead[] = {1, 9};
	char msg[256];
	controller_t *c;

	setup("ra_valid");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("v", r12, 2);
	WAIT_UNTIL(state_is("v", 0, "1/0/1,2"), 10000);

	/* An empty list is a cancellation: nothing to cancel. */
	ck_assert_int_eq(reassign(c, "v", 0, empty, 0, msg, sizeof(msg)),
			 E(NO_REASSIGNMENT_IN_PROGRESS));
	ck_assert_int_eq(reassign(c, "v", 0, NULL, 0, msg, sizeof(msg)),
			 E(NO_REASSIGNMENT_IN_PROGRESS));
	ck_assert_int_eq(reassign(c, "v", 0, dup, 2, msg, sizeof(msg)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_ptr_nonnull(strstr(msg, "Duplicate replica ids"));
	ck_assert_int_eq(reassign(c, "v", 0, neg, 2, msg, sizeof(msg)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_ptr_nonnull(strstr(msg, "Invalid broker id"));
	ck_assert_int_eq(reassign(c, "v", 0, dead, 2, msg, sizeof(msg)),
			 E(INVALID_REPLICA_ASSIGNMENT));
	ck_assert_ptr_nonnull(strstr(msg, "not alive"));
	ck_assert_int_eq(reassign(c, "nope", 0, r12, 2, msg, sizeof(msg)),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	ck_assert_int_eq(reassign(c, "v", 1, r12, 2, msg, sizeof(msg)),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	/* Nothing was written by the refusals. */
	ck_assert_str_eq(assignment("v", 0), "1,2||");
	ck_assert_str_eq(state("v", 0, NULL), "1/0/1,2");
	/* The current assignment again: nothing to do. */
	ck_assert_int_eq(reassign(c, "v", 0, r12, 2, msg, sizeof(msg)),
			 E(NONE));
	usleep(200 * 1000);
	ck_assert_str_eq(state("v", 0, NULL), "1/0/1,2");
	/* A new order only: written, announced, nothing to copy. */
	ck_assert_int_eq(reassign(c, "v", 0, r21, 2, msg, sizeof(msg)),
			 E(NONE));
	ck_assert_str_eq(assignment("v", 0), "2,1||");
	WAIT_UNTIL(state_is("v", 0, "1/1/1,2"), 10000);
	WAIT_UNTIL(lai_is(2, "v", 0, "1/1/1,2/2,1//"), 10000);
	ck_assert_str_eq(list(c), "");
	controller_stop(c);
	teardown();
}
END_TEST

/* Cancelling goes back to the original replicas and deletes the new. */
START_TEST(test_reassign_cancel)
{
	static const int32_t r12[] = {1, 2}, r23[] = {2, 3}, r3[] = {3};
	controller_t *c;

	setup("ra_cancel");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("k", r12, 2);
	WAIT_UNTIL(state_is("k", 0, "1/0/1,2"), 10000);
	ck_assert_int_eq(reassign(c, "k", 0, r23, 2, NULL, 0), E(NONE));
	WAIT_UNTIL(state_is("k", 0, "1/1/1,2"), 10000);
	WAIT_UNTIL(lai_is(3, "k", 0, "1/1/1,2/2,3,1/3/1"), 10000);

	/* A topic being reassigned waits to be deleted. */
	ck_assert_int_eq(zk_create(admin, "/admin/delete_topics/k", NULL, -1, 0,
				   NULL, 0, NULL),
			 ZOK);
	usleep(300 * 1000);
	ck_assert_int_eq(fakebroker_stops(fb[1], "k", 0, true), 0);
	ck_assert(exists("/brokers/topics/k"));

	/* ... but a topic being deleted cannot be reassigned. */
	ck_assert_int_eq(reassign(c, "k", 0, r3, 1, NULL, 0),
			 E(UNKNOWN_TOPIC_OR_PARTITION));
	/* Cancelling: back to 1,2; the new replica 3 is deleted. */
	ck_assert_int_eq(reassign(c, "k", 0, NULL, 0, NULL, 0), E(NONE));
	ck_assert_str_eq(list(c), "");
	/* Then the deletion goes ahead and removes everything. */
	WAIT_UNTIL(!exists("/brokers/topics/k"), 10000);
	WAIT_UNTIL(fakebroker_stops(fb[3], "k", 0, true) >= 1, 10000);
	ck_assert_int_ge(fakebroker_stops(fb[1], "k", 0, true), 1);
	controller_stop(c);
	teardown();
}
END_TEST

/* Cancelling restores the old assignment, order included. */
START_TEST(test_reassign_cancel_restores)
{
	static const int32_t r12[] = {1, 2}, r234[] = {2, 3, 4},
			     i123[] = {1, 2, 3};
	controller_t *c;
	char *data;
	int len;

	setup("ra_cancel2");
	for (int i = 1; i <= 4; i++)
		start_broker(i);
	c = start_ctl(4);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("k", r12, 2);
	WAIT_UNTIL(state_is("k", 0, "1/0/1,2"), 10000);
	ck_assert_int_eq(reassign(c, "k", 0, r234, 3, NULL, 0), E(NONE));
	/* RS - AR is 2,1: the original order is recorded beside it. */
	ck_assert_str_eq(assignment("k", 0), "2,3,4,1|3,4|1");
	ck_assert_int_eq(
	    zk_get(admin, "/brokers/topics/k", NULL, &data, &len, NULL), ZOK);
	ck_assert_ptr_nonnull(
	    strstr(data, "\"original_replicas\":{\"0\":[1,2]}"));
	free(data);
	WAIT_UNTIL(state_is("k", 0, "1/1/1,2"), 10000);
	/* 3 caught up, 4 has not: still running. */
	ck_assert_int_eq(leader_alter_isr(c, "k", i123, 3), E(NONE));
	WAIT_UNTIL(state_is("k", 0, "1/1/1,2,3"), 10000);
	usleep(200 * 1000);
	ck_assert_str_eq(list(c), "k-0:2,3,4,1|3,4|1");

	ck_assert_int_eq(reassign(c, "k", 0, NULL, 0, NULL, 0), E(NONE));
	ck_assert_str_eq(assignment("k", 0), "1,2||");
	ck_assert_int_eq(
	    zk_get(admin, "/brokers/topics/k", NULL, &data, &len, NULL), ZOK);
	ck_assert_ptr_null(strstr(data, "original"));
	free(data);
	/* The added replicas leave the ISR and are deleted. */
	WAIT_UNTIL(state_is("k", 0, "1/2/1,2"), 10000);
	WAIT_UNTIL(fakebroker_stops(fb[3], "k", 0, true) == 1, 10000);
	WAIT_UNTIL(fakebroker_stops(fb[4], "k", 0, true) == 1, 10000);
	WAIT_UNTIL(lai_is(1, "k", 0, "1/2/1,2/1,2//"), 10000);
	WAIT_UNTIL(lai_is(2, "k", 0, "1/2/1,2/1,2//"), 10000);
	ck_assert_int_eq(fakebroker_stops(fb[1], "k", 0, true), 0);
	ck_assert_int_eq(fakebroker_stops(fb[2], "k", 0, true), 0);
	ck_assert_str_eq(list(c), "");
	controller_stop(c);
	teardown();
}
END_TEST

/* A controller fail-over while the new replica copies. */
START_TEST(test_reassign_failover_midway)
{
	static const int32_t r12[] = {1, 2}, r23[] = {2, 3}, i123[] = {1, 2, 3};
	controller_t *c1, *c2;

	setup("ra_fo");
	for (int i = 1; i <= 4; i++)
		start_broker(i);
	c1 = start_ctl(4);
	WAIT_UNTIL(controller_is_active(c1), 10000);
	c2 = start_ctl(3);
	create_topic("f", r12, 2);
	WAIT_UNTIL(state_is("f", 0, "1/0/1,2"), 10000);
	ck_assert_int_eq(reassign(c1, "f", 0, r23, 2, NULL, 0), E(NONE));
	WAIT_UNTIL(state_is("f", 0, "1/1/1,2"), 10000);

	controller_stop(c1);
	WAIT_UNTIL(controller_is_active(c2), 10000);
	/* The successor resumes: Phase A again, with a newer epoch. */
	WAIT_UNTIL(state_is("f", 0, "1/2/1,2"), 10000);
	for (int b = 1; b <= 3; b++)
		WAIT_UNTIL(lai_is(b, "f", 0, "1/2/1,2/2,3,1/3/1"), 10000);
	ck_assert_str_eq(list(c2), "f-0:2,3,1|3|1");
	ck_assert_int_eq(leader_alter_isr(c2, "f", i123, 3), E(NONE));
	WAIT_UNTIL(assignment_is("f", 0, "2,3||"), 10000);
	ck_assert_str_eq(state("f", 0, NULL), "2/3/2,3");
	WAIT_UNTIL(fakebroker_stops(fb[1], "f", 0, true) == 1, 10000);
	controller_stop(c2);
	teardown();
}
END_TEST

/*
 * A controller that died right after writing the assignment (U), and one
 * that died between the final state write and the final assignment
 * write (B): the znodes are left as it left them, with no controller,
 * and a new one takes over.
 */
START_TEST(test_reassign_failover_crash_points)
{
	static const int32_t r12[] = {1, 2};
	char path[ZKPATH_MAX];
	controller_t *c;

	setup("ra_crash");
	for (int i = 1; i <= 4; i++)
		start_broker(i);
	c = start_ctl(4);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("u", r12, 2);
	create_topic("b", r12, 2);
	WAIT_UNTIL(state_is("u", 0, "1/0/1,2"), 10000);
	WAIT_UNTIL(state_is("b", 0, "1/0/1,2"), 10000);
	controller_stop(c);

	/* Died after U: assignment written, nothing else. */
	write_znode("/brokers/topics/u",
		    "{\"version\":2,\"partitions\":{\"0\":[2,3,1]},"
		    "\"adding_replicas\":{\"0\":[3]},"
		    "\"removing_replicas\":{\"0\":[1]},"
		    "\"original_replicas\":{\"0\":[1,2]}}");
	/* Died in B: new leader and ISR written, final assignment not. */
	write_znode("/brokers/topics/b",
		    "{\"version\":2,\"partitions\":{\"0\":[2,3,1]},"
		    "\"adding_replicas\":{\"0\":[3]},"
		    "\"removing_replicas\":{\"0\":[1]}}");
	zkpath_partition_state(path, sizeof(path), "b", 0);
	write_znode(path, "{\"controller_epoch\":1,\"leader\":2,\"version\":1,"
			  "\"leader_epoch\":2,\"isr\":[2,3]}");

	c = start_ctl(4);
	WAIT_UNTIL(controller_is_active(c), 10000);
	/* u: Phase A: every replica learns RS with a new epoch. */
	WAIT_UNTIL(state_is("u", 0, "1/1/1,2"), 10000);
	WAIT_UNTIL(lai_is(3, "u", 0, "1/1/1,2/2,3,1/3/1"), 10000);
	WAIT_UNTIL(lai_is(1, "u", 0, "1/1/1,2/2,3,1/3/1"), 10000);
	ck_assert_str_eq(assignment("u", 0), "2,3,1|3|1");
	/* b: complete already; B is finished. */
	WAIT_UNTIL(assignment_is("b", 0, "2,3||"), 10000);
	ck_assert_str_eq(state("b", 0, NULL), "2/3/2,3");
	WAIT_UNTIL(fakebroker_stops(fb[1], "b", 0, true) == 1, 10000);
	ck_assert_str_eq(list(c), "u-0:2,3,1|3|1");
	/* The successor cancels to the original order, 1 first. */
	ck_assert_int_eq(reassign(c, "u", 0, NULL, 0, NULL, 0), E(NONE));
	ck_assert_str_eq(assignment("u", 0), "1,2||");
	WAIT_UNTIL(fakebroker_stops(fb[3], "u", 0, true) == 1, 10000);
	controller_stop(c);
	teardown();
}
END_TEST

/* The legacy znode: acted on at creation, pruned, removed when done. */
START_TEST(test_reassign_znode)
{
	static const int32_t r12[] = {1, 2}, i123[] = {1, 2, 3};
	controller_t *c;

	setup("ra_znode");
	for (int i = 1; i <= 3; i++)
		start_broker(i);
	c = start_ctl(3);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("z", r12, 2);
	create_topic("y", r12, 2);
	WAIT_UNTIL(state_is("z", 0, "1/0/1,2"), 10000);
	WAIT_UNTIL(state_is("y", 0, "1/0/1,2"), 10000);
	write_znode(ZK_PATH_REASSIGN,
		    "{\"version\":1,\"partitions\":["
		    "{\"topic\":\"z\",\"partition\":0,\"replicas\":[1,3],"
		    "\"log_dirs\":[\"any\",\"any\"]},"
		    "{\"topic\":\"y\",\"partition\":0,\"replicas\":[1,2]},"
		    "{\"topic\":\"nope\",\"partition\":0,\"replicas\":[1]}]}");
	WAIT_UNTIL(assignment_is("z", 0, "1,3,2|3|2"), 10000);
	/* y was already there and nope does not exist: both pruned. */
	WAIT_UNTIL(znode_lists(ZK_PATH_REASSIGN, "\"z\"", "nope", "\"y\""),
		   10000);
	ck_assert_str_eq(assignment("y", 0), "1,2||");
	WAIT_UNTIL(state_is("z", 0, "1/1/1,2"), 10000);
	/* A rewrite of the node is not a new request. */
	write_znode(ZK_PATH_REASSIGN,
		    "{\"version\":1,\"partitions\":["
		    "{\"topic\":\"y\",\"partition\":0,\"replicas\":[3]}]}");
	usleep(300 * 1000);
	ck_assert_str_eq(assignment("y", 0), "1,2||");
	write_znode(ZK_PATH_REASSIGN,
		    "{\"version\":1,\"partitions\":["
		    "{\"topic\":\"z\",\"partition\":0,\"replicas\":[1,3]}]}");

	ck_assert_int_eq(leader_alter_isr(c, "z", i123, 3), E(NONE));
	WAIT_UNTIL(assignment_is("z", 0, "1,3||"), 10000);
	ck_assert_str_eq(state("z", 0, NULL), "1/2/1,3");
	WAIT_UNTIL(!exists(ZK_PATH_REASSIGN), 10000);
	WAIT_UNTIL(fakebroker_stops(fb[2], "z", 0, true) == 1, 10000);
	/* A new node is a new request; garbage is removed. */
	write_znode(ZK_PATH_REASSIGN, "{\"version\":1,\"partitions\":7}");
	WAIT_UNTIL(!exists(ZK_PATH_REASSIGN), 10000);
	write_znode(ZK_PATH_REASSIGN,
		    "{\"version\":1,\"partitions\":["
		    "{\"topic\":\"y\",\"partition\":0,\"replicas\":[2,1]}]}");
	WAIT_UNTIL(assignment_is("y", 0, "2,1||"), 10000);
	WAIT_UNTIL(!exists(ZK_PATH_REASSIGN), 10000);
	controller_stop(c);
	teardown();
}
END_TEST

/* The leader dies while the new replica copies; then it completes. */
START_TEST(test_reassign_leader_dies)
{
	static const int32_t r12[] = {1, 2}, r23[] = {2, 3}, i23[] = {2, 3};
	controller_t *c;

	setup("ra_dies");
	for (int i = 1; i <= 4; i++)
		start_broker(i);
	c = start_ctl(4);
	WAIT_UNTIL(controller_is_active(c), 10000);
	create_topic("d", r12, 2);
	WAIT_UNTIL(state_is("d", 0, "1/0/1,2"), 10000);
	ck_assert_int_eq(reassign(c, "d", 0, r23, 2, NULL, 0), E(NONE));
	WAIT_UNTIL(state_is("d", 0, "1/1/1,2"), 10000);
	stop_broker(1);
	/* First live in-sync replica in RS order (2,3,1) leads. */
	WAIT_UNTIL(state_is("d", 0, "2/2/2"), 10000);
	ck_assert_str_eq(list(c), "d-0:2,3,1|3|1");
	ck_assert_int_eq(leader_alter_isr(c, "d", i23, 2), E(NONE));
	WAIT_UNTIL(assignment_is("d", 0, "2,3||"), 10000);
	ck_assert_str_eq(state("d", 0, NULL), "2/3/2,3");
	WAIT_UNTIL(lai_is(3, "d", 0, "2/3/2,3/2,3//"), 10000);
	ck_assert_str_eq(list(c), "");
	controller_stop(c);
	teardown();
}
END_TEST

static Suite *reassign_suite(void)
{
	Suite *s = suite_create("controller_reassign");
	TCase *tc = tcase_create("zookeeper");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reassign_moves_leader);
	tcase_add_test(tc, test_reassign_validation);
	tcase_add_test(tc, test_reassign_cancel);
	tcase_add_test(tc, test_reassign_cancel_restores);
	tcase_add_test(tc, test_reassign_failover_midway);
	tcase_add_test(tc, test_reassign_failover_crash_points);
	tcase_add_test(tc, test_reassign_znode);
	tcase_add_test(tc, test_reassign_leader_dies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!zktest_start())
		return EXIT_FAILURE;
	sr = srunner_create(reassign_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zktest_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
