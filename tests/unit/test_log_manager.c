/*
 * test_log_manager.c - the log directories: meta.properties, the lock
 * against a second broker, the clean-shutdown marker, checkpoints written
 * and read back, recovery after a kill -9 (a forked child killed in the
 * middle of producing), partitions spread over dirs, topic names with
 * '.', '_' and '-', deletion in the background, dynamic topic
 * configuration, the cluster id, and the background retention and
 * checkpoint threads.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/log/checkpoint.h"
#include "broker/log/log_manager.h"
#include "common/clock.h"
#include "common/err.h"
#include "log_test_util.h"

static char root[256];
static char d1[512], d2[512];
static const char *dirs[2];
static struct topic_conf defaults;
static struct log_manager_config cfg;
static int64_t now_ms;

static void setup(void)
{
	lt_tmpdir(root, sizeof(root));
	snprintf(d1, sizeof(d1), "%s/d1", root);
	snprintf(d2, sizeof(d2), "%s/nested/d2", root);
	dirs[0] = d1;
	dirs[1] = d2;
	lt_conf(&defaults, 4000, 4096);
	now_ms = 1700000000000;
	memset(&cfg, 0, sizeof(cfg));
	cfg.dirs = dirs;
	cfg.ndirs = 2;
	cfg.broker_id = 7;
	cfg.recovery_threads = 2;
	cfg.defaults = &defaults;
}

static void teardown(void)
{
	topic_conf_free(&defaults);
	lt_rmtree(root);
}

static log_manager_t *open_lm(void)
{
	char errstr[512] = "";
	int err = 0;
	log_manager_t *lm =
	    log_manager_open(&cfg, &err, errstr, sizeof(errstr));

	ck_assert_msg(lm != NULL, "open failed (%d): %s", err, errstr);
	return lm;
}

static char *slurp(const char *dir, const char *name)
{
	char path[1024], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ckpt_slurp(path, 1 << 20, &data, &len) != 0)
		return NULL;
	return data;
}

static bool exists(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

START_TEST(test_meta_lock_and_clean_marker)
{
	log_manager_t *lm, *lm2;
	char errstr[512], *meta, want[64];
	int err = 0;

	lm = open_lm();
	meta = slurp(d1, "meta.properties");
	ck_assert_ptr_nonnull(meta);
	ck_assert_ptr_nonnull(strstr(meta, "version=0\n"));
	ck_assert_ptr_nonnull(strstr(meta, "broker.id=7\n"));
	free(meta);
	ck_assert(exists(d2, ".lock"));
	ck_assert(!exists(d1, ".fluxo_cleanshutdown"));
	/* A second broker on the same dirs is refused and told who. */
	lm2 = log_manager_open(&cfg, &err, errstr, sizeof(errstr));
	ck_assert_ptr_null(lm2);
	ck_assert_int_eq(err, ERR_LOCKED);
	snprintf(want, sizeof(want), "in use by another fluxo-broker (pid %d)",
		 (int)getpid());
	ck_assert_msg(strstr(errstr, want) != NULL, "%s", errstr);
	ck_assert_int_eq(log_manager_close(lm), 0);
	ck_assert(exists(d1, ".fluxo_cleanshutdown"));
	ck_assert(exists(d2, ".fluxo_cleanshutdown"));
	/* Reopen: the marker is consumed. */
	lm = open_lm();
	ck_assert(!exists(d1, ".fluxo_cleanshutdown"));
	ck_assert_int_eq(log_manager_close(lm), 0);
	/* Another broker.id is refused with a sentence. */
	cfg.broker_id = 8;
	lm = log_manager_open(&cfg, &err, errstr, sizeof(errstr));
	ck_assert_ptr_null(lm);
	ck_assert_int_eq(err, ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(errstr, "belongs to broker 7"));
	/* The same dir listed twice. */
	cfg.broker_id = 7;
	dirs[1] = d1;
	lm = log_manager_open(&cfg, &err, errstr, sizeof(errstr));
	ck_assert_ptr_null(lm);
	ck_assert_ptr_nonnull(strstr(errstr, "listed twice"));
}
END_TEST

START_TEST(test_cluster_id)
{
	log_manager_t *lm = open_lm();
	char errstr[512], *meta;

	ck_assert_int_eq(log_manager_set_cluster_id(lm, "Xy7-cluster", errstr,
						    sizeof(errstr)),
			 0);
	meta = slurp(d2, "meta.properties");
	ck_assert_ptr_nonnull(strstr(meta, "cluster.id=Xy7-cluster\n"));
	free(meta);
	ck_assert_int_eq(log_manager_close(lm), 0);
	lm = open_lm();
	ck_assert_int_eq(log_manager_set_cluster_id(lm, "Xy7-cluster", errstr,
						    sizeof(errstr)),
			 0);
	ck_assert_int_eq(
	    log_manager_set_cluster_id(lm, "other", errstr, sizeof(errstr)),
	    ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(errstr, "belongs to cluster Xy7-cluster"));
	ck_assert_int_eq(log_manager_close(lm), 0);
}
END_TEST

START_TEST(test_partitions_spread_and_reloaded)
{
	log_manager_t *lm = open_lm();
	plog_t *p, *q;
	int64_t seq;
	char path[1024];
	int n1;

	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(log_manager_get_or_create(
				     lm, "my-topic.v1_x", i, NULL, &p, NULL, 0),
				 0);
		seq = 0;
		lt_append(p, 2, 3 + i, 30, now_ms, &seq, 0);
		plog_unref(p);
	}
	ck_assert_int_eq(log_manager_count(lm), 6);
	/* Three in each dir. */
	n1 = 0;
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/my-topic.v1_x-%d", d1, i);
		n1 += access(path, F_OK) == 0;
	}
	ck_assert_int_eq(n1, 3);
	/* get_or_create of an existing one returns it. */
	ck_assert_int_eq(log_manager_get_or_create(lm, "my-topic.v1_x", 2, NULL,
						   &p, NULL, 0),
			 0);
	q = log_manager_get(lm, "my-topic.v1_x", 2);
	ck_assert_ptr_eq(p, q);
	plog_unref(p);
	plog_unref(q);
	ck_assert_ptr_null(log_manager_get(lm, "my-topic.v1_x", 9));
	ck_assert_int_eq(
	    log_manager_get_or_create(lm, "bad/name", 0, NULL, &p, NULL, 0),
	    ERR_INVAL);
	ck_assert_int_eq(log_manager_close(lm), 0);
	/* Reloaded with the same names and contents. */
	lm = open_lm();
	ck_assert_int_eq(log_manager_count(lm), 6);
	for (int i = 0; i < 6; i++) {
		p = log_manager_get(lm, "my-topic.v1_x", i);
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(plog_leo(p), 2 * (3 + i));
		ck_assert_int_eq(
		    lt_read_all(p, 0, plog_leo(p), 1 << 20, 0, NULL),
		    2 * (3 + i));
		plog_unref(p);
	}
	ck_assert_int_eq(log_manager_close(lm), 0);
}
END_TEST

START_TEST(test_checkpoints_written_and_read)
{
	struct ckpt_entry *e;
	log_manager_t *lm;
	plog_t *p;
	size_t n;
	int64_t seq = 0;
	char path[1024], errstr[256];

	cfg.ndirs = 1;
	lm = open_lm();
	ck_assert_int_eq(
	    log_manager_get_or_create(lm, "t", 0, NULL, &p, NULL, 0), 0);
	lt_append(p, 5, 4, 30, now_ms, &seq, 0);
	plog_set_hw(p, 12);
	ck_assert_int_eq(plog_flush(p, 8), 0);
	ck_assert_int_eq(log_manager_checkpoint(lm), 0);
	snprintf(path, sizeof(path), "%s/replication-offset-checkpoint", d1);
	ck_assert_int_eq(
	    ckpt_read_offsets(path, &e, &n, errstr, sizeof(errstr)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].topic, "t");
	ck_assert_int_eq(e[0].partition, 0);
	ck_assert_int_eq(e[0].offset, 12);
	ckpt_free(e, n);
	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", d1);
	ck_assert_int_eq(
	    ckpt_read_offsets(path, &e, &n, errstr, sizeof(errstr)), 0);
	ck_assert_int_eq(e[0].offset, 8);
	ckpt_free(e, n);
	{
		char *text = slurp(d1, "log-start-offset-checkpoint");

		ck_assert_str_eq(text, "0\n1\nt 0 0\n");
		free(text);
	}
	plog_unref(p);
	ck_assert_int_eq(log_manager_close(lm), 0);
	/* After a clean close the recovery point is the LEO, and the HW
	 * survives the restart. */
	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", d1);
	ck_assert_int_eq(
	    ckpt_read_offsets(path, &e, &n, errstr, sizeof(errstr)), 0);
	ck_assert_int_eq(e[0].offset, 20);
	ckpt_free(e, n);
	lm = open_lm();
	p = log_manager_get(lm, "t", 0);
	ck_assert_int_eq(plog_hw(p), 12);
	ck_assert_int_eq(plog_flushed(p), 20);
	plog_unref(p);
	ck_assert_int_eq(log_manager_close(lm), 0);
	/* Malformed checkpoints are refused by the reader. */
	{
		int fd;

		snprintf(path, sizeof(path), "%s/bad-ckpt", d1);
		fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		ck_assert_int_eq(write(fd, "0\n2\nt 0 5\n", 10), 10);
		close(fd);
		ck_assert_int_eq(
		    ckpt_read_offsets(path, &e, &n, errstr, sizeof(errstr)),
		    ERR_CORRUPT);
		ck_assert_ptr_nonnull(strstr(errstr, "bad-ckpt"));
	}
}
END_TEST

/* The child produces, flushes part of it, checkpoints, produces more, and
 * is killed with SIGKILL: no close, no marker. */
static void child_produce_and_die(int fd_done)
{
	log_manager_t *lm;
	plog_t *p;
	int64_t seq = 0;
	char errstr[512];
	int err;

	lm = log_manager_open(&cfg, &err, errstr, sizeof(errstr));
	if (!lm)
		_exit(3);
	if (log_manager_get_or_create(lm, "kill.me", 0, NULL, &p, NULL, 0))
		_exit(4);
	for (int i = 0; i < 40; i++)
		lt_append(p, 1, 10, 100, now_ms, &seq, 1);
	plog_set_hw(p, 400);
	if (plog_flush(p, 200) || log_manager_checkpoint(lm))
		_exit(5);
	for (int i = 0; i < 40; i++)
		lt_append(p, 1, 10, 100, now_ms, &seq, 2);
	if (write(fd_done, "x", 1) != 1)
		_exit(6);
	pause();
	_exit(0);
}

START_TEST(test_recovery_after_kill)
{
	log_manager_t *lm;
	plog_t *p;
	int fds[2], status;
	pid_t pid;
	char c;
	int32_t ep[4];
	int64_t st[4];
	struct ckpt_entry *e;
	size_t n;
	char path[1024], errstr[256];
	int64_t rp;

	cfg.ndirs = 1;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		child_produce_and_die(fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert(!exists(d1, ".fluxo_cleanshutdown"));
	/* Rolls flush in the background, so the checkpointed recovery point
	 * is at least the explicit flush. */
	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", d1);
	ck_assert_int_eq(
	    ckpt_read_offsets(path, &e, &n, errstr, sizeof(errstr)), 0);
	ck_assert_uint_eq(n, 1);
	rp = e[0].offset;
	ckpt_free(e, n);
	ck_assert_int_ge(rp, 200);
	ck_assert_int_le(rp, 400);
	/* The lock died with the process; everything in the page cache is
	 * recovered, from the checkpointed recovery point. */
	lm = open_lm();
	p = log_manager_get(lm, "kill.me", 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(plog_leo(p), 800);
	ck_assert_int_eq(plog_hw(p), 400);
	ck_assert_int_eq(plog_flushed(p), rp);
	ck_assert_int_eq(lt_read_all(p, 0, 800, 1 << 20, 0, NULL), 800);
	ck_assert_int_eq(plog_epoch_entries(p, ep, st, 4), 2);
	ck_assert_int_eq(st[1], 400);
	plog_unref(p);
	ck_assert_int_eq(log_manager_close(lm), 0);
}
END_TEST

START_TEST(test_delete_in_background)
{
	struct topic_conf tc;
	log_manager_t *lm;
	plog_t *p;
	struct plog_slice sl;
	int64_t seq = 0, deadline;
	char path[1024];
	bool gone = false;

	cfg.ndirs = 1;
	lm = open_lm();
	lt_conf(&tc, 4000, 4096);
	tc.file_delete_delay_ms = 0;
	ck_assert_int_eq(
	    log_manager_get_or_create(lm, "gone", 1, &tc, &p, NULL, 0), 0);
	lt_append(p, 3, 4, 30, now_ms, &seq, 0);
	ck_assert_int_eq(log_manager_delete(lm, "gone", 1), 0);
	ck_assert_ptr_null(log_manager_get(lm, "gone", 1));
	ck_assert_int_eq(log_manager_delete(lm, "gone", 1), ERR_NOT_FOUND);
	ck_assert_int_eq(plog_read(p, 0, 1000, -1, false, &sl), ERR_STATE);
	{
		struct buf b = BUF_INIT;
		struct batch_run_info info;

		lt_build_run(&b, 1, 1, 1, now_ms, &seq, &info);
		ck_assert_int_eq(plog_append_leader(p, b.data, b.len, &info, 0,
						    NULL, NULL, NULL, NULL),
				 ERR_STATE);
		buf_free(&b);
	}
	plog_unref(p);
	snprintf(path, sizeof(path), "%s/gone-1", d1);
	ck_assert_int_eq(access(path, F_OK), -1);
	deadline = clock_mono_ms() + 10000;
	while (!gone && clock_mono_ms() < deadline) {
		DIR *d = opendir(d1);
		struct dirent *de;

		gone = true;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "gone-1.", 7) == 0)
				gone = false;
		closedir(d);
		if (!gone)
			usleep(5000);
	}
	ck_assert(gone);
	/* A new partition of the same name starts empty. */
	ck_assert_int_eq(
	    log_manager_get_or_create(lm, "gone", 1, &tc, &p, NULL, 0), 0);
	ck_assert_int_eq(plog_leo(p), 0);
	plog_unref(p);
	topic_conf_free(&tc);
	ck_assert_int_eq(log_manager_close(lm), 0);
}
END_TEST

START_TEST(test_dynamic_conf_and_background_retention)
{
	struct topic_conf tc;
	log_manager_t *lm;
	plog_t *p[2];
	int64_t seq, deadline;

	cfg.ndirs = 1;
	cfg.retention_check_ms = 20;
	cfg.clock_ms = lt_clock_fn;
	cfg.clock_arg = &now_ms;
	lm = open_lm();
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(log_manager_get_or_create(lm, "dyn", i, NULL,
							   &p[i], NULL, 0),
				 0);
		seq = 0;
		for (int k = 0; k < 20; k++)
			lt_append(p[i], 1, 5, 100, now_ms, &seq, 0);
		plog_set_hw(p[i], plog_leo(p[i]));
		ck_assert_int_ge(plog_segment_count(p[i]), 4);
	}
	/* Keep 1 hour; the data is 2 hours old by the injected clock. */
	lt_conf(&tc, 4000, 4096);
	tc.retention_ms = 3600 * 1000;
	ck_assert_int_eq(log_manager_update_topic_conf(lm, "dyn", &tc), 2);
	ck_assert_int_eq(log_manager_update_topic_conf(lm, "none", &tc), 0);
	now_ms += 2 * 3600 * 1000;
	deadline = clock_mono_ms() + 10000;
	while ((plog_log_start(p[0]) < 100 || plog_log_start(p[1]) < 100) &&
	       clock_mono_ms() < deadline)
		usleep(5000);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(plog_log_start(p[i]), 100);
		ck_assert_int_eq(plog_segment_count(p[i]), 1);
		plog_unref(p[i]);
	}
	topic_conf_free(&tc);
	ck_assert_int_eq(log_manager_close(lm), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_manager");
	TCase *tc = tcase_create("log_manager");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_meta_lock_and_clean_marker);
	tcase_add_test(tc, test_cluster_id);
	tcase_add_test(tc, test_partitions_spread_and_reloaded);
	tcase_add_test(tc, test_checkpoints_written_and_read);
	tcase_add_test(tc, test_recovery_after_kill);
	tcase_add_test(tc, test_delete_in_background);
	tcase_add_test(tc, test_dynamic_conf_and_background_retention);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
