/*
 * log_test_util.c - see log_test_util.h.
 */
#include "config.h"
#include "log_test_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

char *lt_tmpdir(char *buf, size_t size)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, size, "%s/fluxo-log-test-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(buf));
	return buf;
}

static void rmtree_depth(const char *path, int depth)
{
	char p[4096];
	struct dirent *de;
	DIR *d;

	if (depth > 4)
		return;
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			if (unlink(p) < 0 &&
			    (errno == EISDIR || errno == EPERM))
				rmtree_depth(p, depth + 1);
		}
		closedir(d);
	}
	rmdir(path);
}

void lt_rmtree(const char *path)
{
	rmtree_depth(path, 0);
}

int64_t lt_clock_fn(void *arg)
{
	return *(int64_t *)arg;
}

void lt_build_run(struct buf *out, int nbatches, int recs, int vlen, int64_t ts,
		  int64_t *seq, struct batch_run_info *info)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	char val[4096];
	size_t start = out->len;

	ck_assert_int_lt(vlen, (int)sizeof(val));
	for (int b = 0; b < nbatches; b++) {
		ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
		for (int r = 0; r < recs; r++) {
			int n = snprintf(val, sizeof(val), "seq=%" PRId64,
					 (*seq)++);

			if (n < vlen) {
				memset(val + n, '.', (size_t)(vlen - n));
				n = vlen;
			}
			ck_assert_int_eq(
			    batch_builder_add(&bb, ts, "k", 1, val, n, NULL, 0),
			    0);
		}
		ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
		ck_assert_int_eq(buf_append(out, bb.out.data, bb.out.len), 0);
	}
	batch_builder_free(&bb);
	ck_assert_int_eq(batch_run_validate(out->data + start, out->len - start,
					    1 << 30, info, NULL),
			 0);
}

int64_t lt_append(plog_t *plog, int nbatches, int recs, int vlen, int64_t ts,
		  int64_t *seq, int32_t epoch)
{
	struct buf b = BUF_INIT;
	struct batch_run_info info;
	struct plog_append_result res;
	int64_t leo = plog_leo(plog);

	lt_build_run(&b, nbatches, recs, vlen, ts, seq, &info);
	ck_assert_int_eq(plog_append_leader(plog, b.data, b.len, &info, epoch,
					    NULL, NULL, NULL, &res),
			 0);
	ck_assert_int_eq(res.first_offset, leo);
	ck_assert_int_eq(res.last_offset, leo + (int64_t)nbatches * recs - 1);
	ck_assert_int_eq(plog_leo(plog), res.last_offset + 1);
	buf_free(&b);
	return res.first_offset;
}

void lt_conf(struct topic_conf *tc, int32_t segment_bytes,
	     int32_t index_interval)
{
	topic_conf_defaults(tc);
	tc->segment_bytes = segment_bytes;
	tc->index_interval_bytes = index_interval;
}

int64_t lt_read_all(plog_t *plog, int64_t from, int64_t to, size_t max_bytes,
		    int64_t delta, int64_t *batches)
{
	struct batch_reader rd = BATCH_READER_INIT;
	int64_t off = from, records = 0, nb = 0;
	int guard = 0;

	while (off < to) {
		struct plog_slice sl;
		uint8_t *data;
		size_t pos = 0;

		ck_assert_int_lt(guard++, 1000000);
		ck_assert_int_eq(plog_read(plog, off, max_bytes, to, true, &sl),
				 0);
		ck_assert_uint_gt(sl.len, 0);
		ck_assert_int_le(sl.first_offset, off);
		data = malloc(sl.len);
		ck_assert_ptr_nonnull(data);
		ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
		while (pos < sl.len) {
			struct batch_header h;
			struct record rec;
			size_t size;

			ck_assert_int_eq(batch_validate(data + pos,
							sl.len - pos, 1 << 30,
							&h),
					 0);
			size = batch_total_size(&h);
			ck_assert_int_lt(batch_last_offset(&h), to);
			ck_assert_int_eq(
			    batch_reader_init(&rd, data + pos, size, 1 << 26),
			    0);
			while (batch_reader_next(&rd, &rec) == 1) {
				char want[64];
				int n =
				    snprintf(want, sizeof(want), "seq=%" PRId64,
					     rec.offset + delta);

				ck_assert_int_ge(rec.value_len, n);
				ck_assert_int_eq(
				    memcmp(rec.value, want, (size_t)n), 0);
				if (rec.offset >= off)
					records++;
			}
			nb++;
			off = batch_last_offset(&h) + 1;
			pos += size;
		}
		ck_assert_int_eq(off, sl.end_offset);
		free(data);
		plog_slice_release(&sl);
	}
	batch_reader_free(&rd);
	if (batches)
		*batches = nb;
	return records;
}

int64_t lt_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

void lt_replicate(plog_t *leader, plog_t *follower, int64_t from)
{
	int guard = 0;

	while (from < plog_leo(leader)) {
		struct plog_slice sl;
		struct batch_run_info info;
		struct plog_append_result res;
		uint8_t *data;

		ck_assert_int_lt(guard++, 10000);
		ck_assert_int_eq(plog_read(leader, from, 3000, -1, true, &sl),
				 0);
		data = malloc(sl.len);
		ck_assert_ptr_nonnull(data);
		ck_assert_int_eq(plog_slice_copy(&sl, data), 0);
		ck_assert_int_eq(
		    batch_run_validate(data, sl.len, 1 << 30, &info, NULL), 0);
		ck_assert_int_eq(
		    plog_append_follower(follower, data, sl.len, &info, &res),
		    0);
		ck_assert_int_eq(res.first_offset, from);
		from = sl.end_offset;
		plog_slice_release(&sl);
		free(data);
	}
}
