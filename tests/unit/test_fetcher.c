/*
 * test_fetcher.c - a follower's truncation decision
 * (fetcher_truncation_offset), on real partition logs: the leader's
 * answer to OffsetForLeaderEpoch is computed from a second log with
 * plog_epoch_end_offset, as the leader's handler does, so each case is the
 * exchange a fetcher in the TRUNCATE state has. Cases: a paused leader's
 * uncommitted tail (the zombie of tests/integration/test_cluster_faults.sh)
 * is cut where its epoch ends at the new leader and the two logs then hold
 * the same bytes; KIP-279's cap by the local end of the leader's epoch; no
 * common epoch (the high watermark); a leader ahead (nothing to cut); an
 * epoch the follower began as leader without writing (paused at once) is
 * dropped, so that its next fetch does not diverge again and again.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/plog.h"
#include "broker/replica/fetcher.h"
#include "common/err.h"
#include "log_test_util.h"

static char dir[256];
static int64_t now_ms;
static struct plog_env env;
static struct topic_conf conf;

static void setup(void)
{
	lt_tmpdir(dir, sizeof(dir));
	now_ms = 1700000000000;
	memset(&env, 0, sizeof(env));
	env.clock_ms = lt_clock_fn;
	env.clock_arg = &now_ms;
	lt_conf(&conf, 1 << 20, 4096);
}

static void teardown(void)
{
	topic_conf_free(&conf);
	lt_rmtree(dir);
}

static plog_t *open_log(const char *name)
{
	char path[512], errstr[256] = "";
	int err = 0;
	plog_t *p;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	p = plog_open(path, "t", 0, &conf, &env, NULL, &err, errstr,
		      sizeof(errstr));
	ck_assert_msg(p != NULL, "open failed: %s", errstr);
	return p;
}

/* The bytes of [0, LEO) of a log, malloc'd; *len gets the size. */
static uint8_t *log_bytes(plog_t *p, size_t *len)
{
	uint8_t *all = NULL;
	int64_t from = 0;

	*len = 0;
	while (from < plog_leo(p)) {
		struct plog_slice sl;

		ck_assert_int_eq(plog_read(p, from, 1 << 20, -1, true, &sl), 0);
		all = realloc(all, *len + sl.len);
		ck_assert_ptr_nonnull(all);
		ck_assert_int_eq(plog_slice_copy(&sl, all + *len), 0);
		*len += sl.len;
		from = sl.end_offset;
		plog_slice_release(&sl);
	}
	return all;
}

/* The follower's side of the exchange: what it asks, what leader answers,
 * where it decides to end. */
static int64_t decide(plog_t *follower, plog_t *leader)
{
	int32_t ep = -1;
	int64_t end = -1;

	ck_assert_int_eq(plog_epoch_end_offset(
			     leader, plog_epoch_latest(follower), &ep, &end),
			 0);
	return fetcher_truncation_offset(follower, ep, end);
}

/* The leader's check of a fetch (partition.c): does the follower's last
 * fetched epoch end, at the leader, before its fetch offset? */
static bool diverges(plog_t *leader, plog_t *follower)
{
	int32_t last = plog_epoch_latest(follower), ep = -1;
	int64_t end = -1;

	if (last < 0)
		return false;
	plog_epoch_end_offset(leader, last, &ep, &end);
	return ep != last || (end >= 0 && end < plog_leo(follower));
}

/*
 * A leader L of epoch 1 appends [20, 30) that no follower has (they are
 * paused), then is paused itself; N, which had [0, 20), leads epoch 2
 * and takes other records at [20, 35). When L resumes as N's follower it
 * asks where epoch 1 ends (20), cuts its tail there and copies N: both
 * logs then hold the same bytes, and none of L's tail is left.
 */
START_TEST(test_zombie_tail_truncated)
{
	plog_t *l = open_log("zombie"), *n = open_log("new-leader");
	int64_t seq = 0, other = 1000, nleo = -1;
	uint8_t *lb, *nb;
	size_t llen, nlen;

	ck_assert_int_eq(plog_epoch_assign(l, 1, 0), 0);
	lt_append(l, 4, 5, 20, now_ms, &seq, 1); /* 0..19 */
	lt_replicate(l, n, 0);
	plog_set_hw(l, 20);
	plog_set_hw(n, 20);
	lt_append(l, 2, 5, 20, now_ms, &seq, 1); /* 20..29: the tail */
	ck_assert_int_eq(plog_epoch_assign(n, 2, 20), 0);
	lt_append(n, 3, 5, 20, now_ms, &other, 2); /* 20..34 */

	ck_assert_int_eq(decide(l, n), 20);
	ck_assert_int_eq(plog_truncate_to(l, 20, &nleo), 0);
	ck_assert_int_eq(nleo, 20);
	ck_assert(!diverges(n, l));
	lt_replicate(n, l, 20);
	ck_assert_int_eq(plog_leo(l), 35);
	ck_assert_int_eq(plog_epoch_latest(l), 2);
	lb = log_bytes(l, &llen);
	nb = log_bytes(n, &nlen);
	ck_assert_uint_eq(llen, nlen);
	ck_assert(memcmp(lb, nb, llen) == 0);
	/* Caught up, it has nothing more to cut. */
	ck_assert_int_eq(decide(l, n), 35);
	free(lb);
	free(nb);
	plog_unref(l);
	plog_unref(n);
}
END_TEST

/*
 * KIP-279: the follower led epoch 2 briefly ([20, 25), never replicated)
 * after copying epoch 1 up to 20; the leader never had epoch 2 and its
 * epoch 1 runs to 22. The leader answers (1, 22), but the follower's own
 * epoch 1 ends at 20, so it cuts at 20, not 22.
 */
START_TEST(test_kip279_cap_by_local_epoch_end)
{
	plog_t *f = open_log("follower"), *ld = open_log("leader");
	int64_t seq = 0, other = 1000;

	ck_assert_int_eq(plog_epoch_assign(ld, 1, 0), 0);
	lt_append(ld, 4, 5, 20, now_ms, &seq, 1); /* 0..19 */
	lt_replicate(ld, f, 0);
	lt_append(ld, 1, 2, 20, now_ms, &seq, 1); /* 20..21, epoch 1 */
	ck_assert_int_eq(plog_epoch_assign(ld, 3, 22), 0);
	lt_append(ld, 1, 5, 20, now_ms, &seq, 3); /* 22..26 */
	ck_assert_int_eq(plog_epoch_assign(f, 2, 20), 0);
	lt_append(f, 1, 5, 20, now_ms, &other, 2); /* 20..24 */

	ck_assert_int_eq(decide(f, ld), 20);
	plog_unref(f);
	plog_unref(ld);
}
END_TEST

/* No epoch in common (the leader answers -1, -1): the high watermark. */
START_TEST(test_unknown_epoch_uses_hw)
{
	plog_t *f = open_log("follower");
	int64_t seq = 0;

	lt_append(f, 3, 5, 20, now_ms, &seq, 4); /* 0..14 */
	plog_set_hw(f, 10);
	ck_assert_int_eq(fetcher_truncation_offset(f, -1, -1), 10);
	ck_assert_int_eq(fetcher_truncation_offset(f, 3, -1), 10);
	plog_unref(f);
}
END_TEST

/* The leader's epoch ends past our log end: nothing to cut. */
START_TEST(test_leader_ahead_keeps_log)
{
	plog_t *f = open_log("follower");
	int64_t seq = 0;

	ck_assert_int_eq(plog_epoch_assign(f, 1, 0), 0);
	lt_append(f, 3, 5, 20, now_ms, &seq, 1); /* 0..14 */
	ck_assert_int_eq(fetcher_truncation_offset(f, 1, 40), 15);
	ck_assert_int_eq(fetcher_truncation_offset(f, 1, 15), 15);
	ck_assert_int_eq(fetcher_truncation_offset(f, 1, 12), 12);
	plog_unref(f);
}
END_TEST

/*
 * F copied epoch 1 up to 20, was made leader of epoch 2 (started at its
 * log end, 20) while paused, and never wrote; meanwhile N went on with
 * epoch 1 to 22 and leads epoch 3. F's truncation point is its log end,
 * so nothing is cut, but a fetch with epoch 2 as its last fetched epoch
 * diverges at N. Dropping the unwritten epoch ends that: F then fetches
 * and ends with N's log.
 */
START_TEST(test_unwritten_epoch_dropped)
{
	plog_t *f = open_log("follower"), *n = open_log("leader");
	int64_t seq = 0;
	int32_t ep[4];
	int64_t st[4];
	uint8_t *fb, *nb;
	size_t flen, nlen;

	ck_assert_int_eq(plog_epoch_assign(n, 1, 0), 0);
	lt_append(n, 4, 5, 20, now_ms, &seq, 1); /* 0..19 */
	lt_replicate(n, f, 0);
	ck_assert_int_eq(plog_epoch_assign(f, 2, 20), 0); /* led, unwritten */
	lt_append(n, 1, 2, 20, now_ms, &seq, 1);	  /* 20..21 */
	ck_assert_int_eq(plog_epoch_assign(n, 3, 22), 0);
	lt_append(n, 1, 5, 20, now_ms, &seq, 3); /* 22..26 */

	ck_assert_int_eq(decide(f, n), 20);
	ck_assert(diverges(n, f));
	ck_assert_int_eq(fetcher_drop_unwritten_epochs(f), 1);
	ck_assert_int_eq(plog_epoch_latest(f), 1);
	ck_assert_int_eq(plog_epoch_entries(f, ep, st, 4), 1);
	ck_assert_int_eq(plog_leo(f), 20);
	ck_assert(!diverges(n, f));
	lt_replicate(n, f, 20);
	fb = log_bytes(f, &flen);
	nb = log_bytes(n, &nlen);
	ck_assert_uint_eq(flen, nlen);
	ck_assert(memcmp(fb, nb, flen) == 0);
	/* Nothing to drop once written: epochs start below the log end. */
	ck_assert_int_eq(fetcher_drop_unwritten_epochs(f), 0);
	ck_assert_int_eq(plog_epoch_latest(f), 3);
	free(fb);
	free(nb);
	plog_unref(f);
	plog_unref(n);
}
END_TEST

static Suite *fetcher_suite(void)
{
	Suite *s = suite_create("fetcher");
	TCase *tc = tcase_create("truncation");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_zombie_tail_truncated);
	tcase_add_test(tc, test_kip279_cap_by_local_epoch_end);
	tcase_add_test(tc, test_unknown_epoch_uses_hw);
	tcase_add_test(tc, test_leader_ahead_keeps_log);
	tcase_add_test(tc, test_unwritten_epoch_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fetcher_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
