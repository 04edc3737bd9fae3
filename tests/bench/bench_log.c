/*
 * bench_log.c - storage engine benchmark: leader appends, Fetch-style
 * reads, and recovery after an unclean stop.
 *
 *   bench_log [-d DIR] [-m MiB] [-r RECORDS_PER_BATCH] [-v VALUE_BYTES]
 *             [-s SEGMENT_MiB] [-a] [-f] [-c] [-i] [-V] [-p PARTITIONS]
 *
 * Appends -m MiB of batches (-r records of -v bytes each, uncompressed) to
 * one partition in DIR (a fresh temporary dir by default, removed at the
 * end), reporting records/s, MB/s and the process's resident memory; then
 * reads everything back through plog_read slices of 1 MiB; then drops the
 * log without closing it (as kill -9 leaves it: data in the page cache, no
 * clean marker, recovery point 0) and times plog_open, which re-validates
 * every batch. -a also runs the append phase with flush.on.ack through a
 * group-commit flusher (fsyncs per second and records per fsync); -f
 * fdatasyncs before the recovery phase so the numbers do not include
 * writeback; -c also evicts the files from the page cache first, so
 * recovery reads from the disk (a reboot rather than a kill -9). -i
 * makes the batches those of an idempotent producer (consecutive
 * sequences, CRC recomputed per append), so appends go through the
 * producer state and recovery replays it (-V logs the rebuild's time).
 *
 * With -p N, instead: creates N partitions through the log manager, appends
 * one small batch to each, and reports resident memory and open file
 * descriptors, then the time to reopen them after a clean shutdown and
 * after an unclean one (clean-shutdown marker removed).
 *
 * Not run by make check; see BENCHMARKS.md for recorded figures.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log/flusher.h"
#include "broker/log/log_manager.h"
#include "broker/log/plog.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void rmtree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Drops the partition's files from the page cache (they are clean). */
static void evict(const char *pdir)
{
	char path[4500];
	struct dirent *de;
	DIR *d = opendir(pdir);

	while (d && (de = readdir(d)) != NULL) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pdir, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		(void)fdatasync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	if (d)
		closedir(d);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1; /* the opendir itself */
}

static log_manager_t *lm_open(const char *dir, struct topic_conf *tc)
{
	const char *dirs[1] = {dir};
	struct log_manager_config cfg = {
	    .dirs = dirs,
	    .ndirs = 1,
	    .broker_id = 1,
	    .recovery_threads = 2,
	    .defaults = tc,
	    .fd_idle_ms = 60000,
	};
	char errstr[512];
	int err;
	log_manager_t *lm =
	    log_manager_open(&cfg, &err, errstr, sizeof(errstr));

	if (!lm) {
		fprintf(stderr, "log manager: %s\n", errstr);
		exit(1);
	}
	return lm;
}

/* Many mostly idle partitions: memory, descriptors, load times. */
static int many_partitions(const char *dir, int n, const uint8_t *batch,
			   size_t len, const struct batch_run_info *info)
{
	struct topic_conf tc;
	log_manager_t *lm;
	uint8_t *copy = malloc(len);
	char path[4200];
	long rss0 = rss_kib();
	int64_t t0;

	topic_conf_defaults(&tc);
	t0 = clock_mono_us();
	lm = lm_open(dir, &tc);
	for (int i = 0; i < n; i++) {
		plog_t *p;

		if (log_manager_get_or_create(lm, "idle", i, NULL, &p, NULL,
					      0)) {
			fprintf(stderr, "create %d failed\n", i);
			return 1;
		}
		memcpy(copy, batch, len);
		if (plog_append_leader(p, copy, len, info, 1, NULL, NULL, NULL,
				       NULL)) {
			fprintf(stderr, "append %d failed\n", i);
			return 1;
		}
		plog_unref(p);
	}
	printf("partitions: %d created and written in %.2f s; RSS %ld KiB "
	       "(+%ld KiB, %.0f B/partition), %d open fds\n",
	       n, (double)(clock_mono_us() - t0) / 1e6, rss_kib(),
	       rss_kib() - rss0, (double)(rss_kib() - rss0) * 1024 / n,
	       count_fds());
	t0 = clock_mono_us();
	log_manager_close(lm);
	printf("partitions: clean close in %.2f s\n",
	       (double)(clock_mono_us() - t0) / 1e6);
	t0 = clock_mono_us();
	lm = lm_open(dir, &tc);
	printf("partitions: reopened after a clean shutdown in %.2f s; RSS "
	       "%ld KiB, %d open fds\n",
	       (double)(clock_mono_us() - t0) / 1e6, rss_kib(), count_fds());
	log_manager_close(lm);
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_CLEAN_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_RECOVERY_CKPT);
	unlink(path);
	t0 = clock_mono_us();
	lm = lm_open(dir, &tc);
	printf("partitions: reopened after an unclean stop (everything "
	       "re-validated) in %.2f s; RSS %ld KiB\n",
	       (double)(clock_mono_us() - t0) / 1e6, rss_kib());
	log_manager_close(lm);
	topic_conf_free(&tc);
	free(copy);
	return 0;
}

static plog_t *open_log(const char *pdir, const struct topic_conf *tc,
			const struct plog_env *env,
			const struct plog_load_opts *opts)
{
	char errstr[512];
	int err;
	plog_t *p = plog_open(pdir, "bench", 0, tc, env, opts, &err, errstr,
			      sizeof(errstr));

	if (!p) {
		fprintf(stderr, "open: %s\n", errstr);
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct batch_run_info info;
	struct topic_conf tc;
	struct plog_env env;
	struct plog_load_opts unclean = {
	    .recovery_point = -1, .log_start = -1, .hw = -1};
	char dir[4096] = "", pdir[4200], *value;
	const char *base_dir = NULL;
	int64_t mib = 1024, seg_mib = 256, total, t0, t1, n = 0;
	int recs = 160, vlen = 100, opt, partitions = 0;
	bool ack = false, sync_first = false, own_dir = false, verbose = false,
	     cold = false, idem = false;
	int32_t seq = 0;
	uint8_t *copy;
	plog_t *p;

	while ((opt = getopt(argc, argv, "d:m:r:v:s:afciVp:")) != -1) {
		switch (opt) {
		case 'd':
			base_dir = optarg;
			break;
		case 'm':
			mib = atoll(optarg);
			break;
		case 'r':
			recs = atoi(optarg);
			break;
		case 'v':
			vlen = atoi(optarg);
			break;
		case 's':
			seg_mib = atoll(optarg);
			break;
		case 'a':
			ack = true;
			break;
		case 'f':
			sync_first = true;
			break;
		case 'V':
			verbose = true;
			break;
		case 'c':
			cold = true;
			sync_first = true;
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 'i':
			idem = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-d DIR] [-m MiB] [-r RECS] "
				"[-v BYTES] [-s SEGMENT_MiB] [-a] [-f] [-c] "
				"[-i] [-V] [-p PARTITIONS]\n",
				argv[0]);
			return 2;
		}
	}
	log_init(verbose ? LOG_LVL_INFO : LOG_LVL_WARN, 2);
	if (base_dir) {
		snprintf(dir, sizeof(dir), "%s", base_dir);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/fluxo-bench-log-XXXXXX");
		if (!mkdtemp(dir))
			return 1;
		own_dir = true;
	}
	snprintf(pdir, sizeof(pdir), "%s/bench-0", dir);
	topic_conf_defaults(&tc);
	tc.segment_bytes = (int32_t)(seg_mib << 20);
	memset(&env, 0, sizeof(env));

	/* One batch, appended over and over (offsets are rewritten in
	 * place, which the CRC does not cover). */
	value = malloc((size_t)vlen);
	memset(value, 'v', (size_t)vlen);
	batch_builder_begin(&bb, 0);
	for (int i = 0; i < recs; i++)
		batch_builder_add(&bb, clock_wall_ms(), "key", 3, value, vlen,
				  NULL, 0);
	batch_builder_finish(&bb, idem ? 1 : -1, idem ? 0 : -1, idem ? 0 : -1,
			     -1);
	batch_run_validate(bb.out.data, bb.out.len, 1 << 30, &info, NULL);
	copy = malloc(bb.out.len);
	total = mib << 20;
	if (partitions > 0) {
		int rc = many_partitions(dir, partitions, bb.out.data,
					 bb.out.len, &info);

		if (own_dir)
			rmtree(dir);
		return rc;
	}

	p = open_log(pdir, &tc, &env, NULL);
	t0 = clock_mono_us();
	for (int64_t bytes = 0; bytes < total; bytes += (int64_t)bb.out.len) {
		memcpy(copy, bb.out.data, bb.out.len);
		if (idem) {
			be32_put(copy + BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
			be32_put(copy + BATCH_OFF_CRC,
				 crc32c(0, copy + BATCH_OFF_ATTRIBUTES,
					bb.out.len - BATCH_OFF_ATTRIBUTES));
			seq += recs;
		}
		if (plog_append_leader(p, copy, bb.out.len, &info, 1, NULL,
				       NULL, NULL, NULL)) {
			fprintf(stderr, "append failed\n");
			return 1;
		}
		n++;
	}
	t1 = clock_mono_us();
	printf("append: %" PRId64 " batches of %d x %d B (%zu B each), "
	       "%.0f records/s, %.0f MB/s, %.2f s, RSS %ld KiB, %d segments\n",
	       n, recs, vlen, bb.out.len,
	       (double)n * recs * 1e6 / (double)(t1 - t0),
	       (double)n * (double)bb.out.len / (double)(t1 - t0),
	       (double)(t1 - t0) / 1e6, rss_kib(), plog_segment_count(p));

	/* Reads: a consumer going through the whole log in 1 MiB slices. */
	{
		int64_t off = 0, slices = 0, bytes = 0;

		t0 = clock_mono_us();
		while (off < plog_leo(p)) {
			struct plog_slice sl;

			if (plog_read(p, off, 1 << 20, -1, true, &sl) ||
			    sl.len == 0) {
				fprintf(stderr, "read failed at %" PRId64 "\n",
					off);
				return 1;
			}
			off = sl.end_offset;
			bytes += (int64_t)sl.len;
			slices++;
			plog_slice_release(&sl);
		}
		t1 = clock_mono_us();
		printf("read: %" PRId64 " slices, %.2f us/slice (lookup only, "
		       "no copy), %" PRId64 " bytes\n",
		       slices, (double)(t1 - t0) / (double)slices, bytes);
	}
	if (sync_first)
		plog_flush(p, plog_leo(p));
	plog_unref(p); /* no close: as kill -9 leaves it */
	if (cold)
		evict(pdir);

	t0 = clock_mono_us();
	p = open_log(pdir, &tc, &env, &unclean);
	t1 = clock_mono_us();
	printf("recovery: %.1f MiB re-validated in %.3f s (%.0f MB/s), LEO "
	       "%" PRId64 "\n",
	       (double)plog_size_bytes(p) / (1 << 20), (double)(t1 - t0) / 1e6,
	       (double)plog_size_bytes(p) / (double)(t1 - t0), plog_leo(p));
	if (plog_leo(p) != n * recs) {
		fprintf(stderr,
			"recovered LEO %" PRId64 ", expected %" PRId64 "\n",
			plog_leo(p), n * recs);
		return 1;
	}
	plog_unref(p);

	if (ack) {
		struct flusher *fl;
		int err;
		int64_t appends = 0;

		rmtree(pdir);
		fl = flusher_start("bench", &err);
		env.flusher = fl;
		tc.flush_on_ack = true;
		p = open_log(pdir, &tc, &env, NULL);
		t0 = clock_mono_us();
		for (int64_t bytes = 0; bytes < total / 16;
		     bytes += (int64_t)bb.out.len) {
			struct plog_append_result res;

			memcpy(copy, bb.out.data, bb.out.len);
			if (idem) {
				be32_put(copy + BATCH_OFF_BASE_SEQUENCE,
					 (uint32_t)(appends * recs));
				be32_put(
				    copy + BATCH_OFF_CRC,
				    crc32c(0, copy + BATCH_OFF_ATTRIBUTES,
					   bb.out.len - BATCH_OFF_ATTRIBUTES));
			}
			plog_append_leader(p, copy, bb.out.len, &info, 1, NULL,
					   NULL, NULL, &res);
			appends++;
		}
		while (plog_flushed(p) < plog_leo(p))
			usleep(100);
		t1 = clock_mono_us();
		printf("flush.on.ack: %" PRId64 " appends, %" PRIu64
		       " fsync passes, %.0f records/s durable\n",
		       appends, flusher_passes(fl),
		       (double)appends * recs * 1e6 / (double)(t1 - t0));
		plog_close(p);
		plog_unref(p);
		flusher_stop(fl);
	}
	if (own_dir)
		rmtree(dir);
	else
		rmtree(pdir);
	topic_conf_free(&tc);
	batch_builder_free(&bb);
	free(copy);
	free(value);
	return 0;
}
