/*
 * test_dumplog.c - fluxo-dump-log's readers on segment files built with
 * the batch builder: Kafka's batch and record lines, a CRC error in the
 * middle (reported, walk continues), a structurally bad batch with a good
 * CRC, a torn tail, random garbage (never a crash), and .index /
 * .timeindex files including preallocated zeros and disorder.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/buf.h"
#include "common/crc32c.h"
#include "tools/dumplog.h"

static char dir[64];
static char *out_buf, *err_buf;
static size_t out_len, err_len;

static void setup(void)
{
	strcpy(dir, "/tmp/fluxo-dumplog-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int dump(const char *name, bool data)
{
	struct dumplog_opts o = {
		.print_data = data,
		.max_batch_bytes = DUMPLOG_MAX_BATCH_DEFAULT,
	};
	FILE *out = open_memstream(&out_buf, &out_len);
	FILE *err = open_memstream(&err_buf, &err_len);
	int rc = dumplog_file("fluxo-dump-log", path_of(name), &o, out, err);

	fclose(out);
	fclose(err);
	return rc;
}

static void free_output(void)
{
	free(out_buf);
	free(err_buf);
	out_buf = err_buf = NULL;
}

/* Appends one batch of n records to seg; returns its size. */
static size_t add_batch(struct buf *seg, int64_t base, int codec, int n,
			int64_t pid, int32_t seq)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct record_header h = { (const uint8_t *)"h1", 2,
				   (const uint8_t *)"x", 1 };
	size_t size;
	int i;

	ck_assert_int_eq(batch_builder_begin(&bb, codec), 0);
	for (i = 0; i < n; i++) {
		char key[16], value[16];
		int kl = snprintf(key, sizeof(key), "k%d", (int)base + i);
		int vl = snprintf(value, sizeof(value), "value-%d",
				  (int)base + i);

		/* Record 4 is a tombstone with a null key. */
		ck_assert_int_eq(batch_builder_add(&bb, 1000 + i,
						   base + i == 4 ? NULL : key,
						   base + i == 4 ? -1 : kl,
						   base + i == 4 ? NULL : value,
						   base + i == 4 ? -1 : vl,
						   i == 0 ? &h : NULL,
						   i == 0 ? 1 : 0),
				 0);
	}
	ck_assert_int_eq(batch_builder_finish(&bb, pid, pid >= 0 ? 0 : -1, seq,
					      -1),
			 0);
	batch_set_base_offset(bb.out.data, base);
	batch_set_leader_epoch(bb.out.data, 4);
	size = bb.out.len;
	ck_assert_int_eq(buf_append(seg, bb.out.data, size), 0);
	batch_builder_free(&bb);
	return size;
}

/* A segment of three batches: 3 keyed records, 2 gzip records (one a
 * tombstone), 1 idempotent record. Sizes in sz[]. */
static void make_segment(struct buf *seg, size_t sz[3])
{
	sz[0] = add_batch(seg, 0, 0, 3, -1, -1);
	sz[1] = add_batch(seg, 3, 1, 2, -1, -1);
	sz[2] = add_batch(seg, 5, 0, 1, 7, 10);
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);
	const char *p = s;

	while (p && *p) {
		if (strncmp(p, prefix, plen) == 0)
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

START_TEST(test_clean_segment)
{
	struct buf seg = BUF_INIT;
	size_t sz[3];
	char want[2048];

	make_segment(&seg, sz);
	write_file("00000000000000000000.log", seg.data, seg.len);
	ck_assert_int_eq(dump("00000000000000000000.log", false),
			 DUMPLOG_CLEAN);
	ck_assert_uint_eq(err_len, 0);
	snprintf(want, sizeof(want),
		 "Dumping %s\nStarting offset: 0\n"
		 "baseOffset: 0 lastOffset: 2 count: 3 baseSequence: -1 "
		 "lastSequence: -1 producerId: -1 producerEpoch: -1 "
		 "partitionLeaderEpoch: 4 isTransactional: false isControl: "
		 "false position: 0 CreateTime: 1002 size: %zu magic: 2 "
		 "compresscodec: none crc: %u isvalid: true\n"
		 "baseOffset: 3 lastOffset: 4 count: 2 baseSequence: -1 "
		 "lastSequence: -1 producerId: -1 producerEpoch: -1 "
		 "partitionLeaderEpoch: 4 isTransactional: false isControl: "
		 "false position: %zu CreateTime: 1001 size: %zu magic: 2 "
		 "compresscodec: gzip crc: %u isvalid: true\n"
		 "baseOffset: 5 lastOffset: 5 count: 1 baseSequence: 10 "
		 "lastSequence: 10 producerId: 7 producerEpoch: 0 "
		 "partitionLeaderEpoch: 4 isTransactional: false isControl: "
		 "false position: %zu CreateTime: 1000 size: %zu magic: 2 "
		 "compresscodec: none crc: %u isvalid: true\n",
		 path_of("00000000000000000000.log"), sz[0],
		 be32_get(seg.data + BATCH_OFF_CRC), sz[0], sz[1],
		 be32_get(seg.data + sz[0] + BATCH_OFF_CRC), sz[0] + sz[1],
		 sz[2], be32_get(seg.data + sz[0] + sz[1] + BATCH_OFF_CRC));
	ck_assert_str_eq(out_buf, want);
	free_output();
	buf_free(&seg);
}
END_TEST

/* out_buf holds this exact line. */
#define HAS_LINE(line)                                                         \
	ck_assert_msg(strstr(out_buf, "\n" line "\n"), "missing: %s", line)

START_TEST(test_records_with_data)
{
	struct buf seg = BUF_INIT;
	size_t sz[3];

	make_segment(&seg, sz);
	write_file("00000000000000000000.log", seg.data, seg.len);
	ck_assert_int_eq(dump("00000000000000000000.log", true),
			 DUMPLOG_CLEAN);
	ck_assert_uint_eq(count_lines(out_buf, "| offset: "), 6);
	HAS_LINE("| offset: 0 CreateTime: 1000 keySize: 2 valueSize: 7 "
		 "sequence: -1 headerKeys: [h1] key: k0 payload: value-0");
	HAS_LINE("| offset: 2 CreateTime: 1002 keySize: 2 valueSize: 7 "
		 "sequence: -1 headerKeys: [] key: k2 payload: value-2");
	/* The gzip batch decompresses; the tombstone prints no key/payload. */
	HAS_LINE("| offset: 3 CreateTime: 1000 keySize: 2 valueSize: 7 "
		 "sequence: -1 headerKeys: [h1] key: k3 payload: value-3");
	HAS_LINE("| offset: 4 CreateTime: 1001 keySize: -1 valueSize: -1 "
		 "sequence: -1 headerKeys: []");
	HAS_LINE("| offset: 5 CreateTime: 1000 keySize: 2 valueSize: 7 "
		 "sequence: 10 headerKeys: [h1] key: k5 payload: value-5");
	free_output();
	buf_free(&seg);
}
END_TEST

START_TEST(test_crc_error_in_the_middle)
{
	struct buf seg = BUF_INIT;
	size_t sz[3];
	char want[512];

	make_segment(&seg, sz);
	seg.data[sz[0] + sz[1] - 1] ^= 0x40;	/* last byte of batch 2 */
	write_file("00000000000000000000.log", seg.data, seg.len);
	ck_assert_int_eq(dump("00000000000000000000.log", true), DUMPLOG_BAD);
	/* All three batches are listed; the second is flagged. */
	ck_assert_uint_eq(count_lines(out_buf, "baseOffset: "), 3);
	ck_assert_uint_eq(count_lines(out_buf, "| offset: "), 4);
	ck_assert_ptr_nonnull(strstr(out_buf, "compresscodec: gzip crc: "));
	ck_assert_ptr_nonnull(strstr(strstr(out_buf, "compresscodec: gzip"),
				     "isvalid: false\n"));
	snprintf(want, sizeof(want),
		 "fluxo-dump-log: %s: first invalid byte at position %zu: CRC "
		 "mismatch in the batch at offset 3",
		 path_of("00000000000000000000.log"), sz[0]);
	ck_assert_msg(strncmp(err_buf, want, strlen(want)) == 0, "got: %s",
		      err_buf);
	ck_assert_ptr_null(strstr(out_buf, "invalid bytes at the end"));
	free_output();
	buf_free(&seg);
}
END_TEST

START_TEST(test_bad_structure_good_crc)
{
	struct buf seg = BUF_INIT;
	size_t sz[3];
	uint8_t *b;

	make_segment(&seg, sz);
	/* recordsCount 5 in the first batch, with a CRC to match. */
	b = seg.data;
	be32_put(b + BATCH_OFF_RECORDS_COUNT, 5);
	be32_put(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES,
					   sz[0] - BATCH_OFF_ATTRIBUTES));
	write_file("00000000000000000000.log", seg.data, seg.len);
	ck_assert_int_eq(dump("00000000000000000000.log", true), DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(out_buf, "count: 5 "));
	ck_assert_ptr_nonnull(strstr(out_buf, "position: 0 "));
	ck_assert_ptr_nonnull(strstr(err_buf, "at position 0: the batch at "
					      "offset 0 is malformed"));
	/* The other batches are still read. */
	ck_assert_uint_eq(count_lines(out_buf, "baseOffset: "), 3);
	free_output();
	buf_free(&seg);
}
END_TEST

START_TEST(test_torn_tail)
{
	struct buf seg = BUF_INIT;
	size_t sz[3], keep;
	char want[512];

	make_segment(&seg, sz);
	keep = sz[0] + sz[1] + 20;
	write_file("00000000000000000042.log", seg.data, keep);
	ck_assert_int_eq(dump("00000000000000000042.log", false), DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(out_buf, "Starting offset: 42\n"));
	ck_assert_uint_eq(count_lines(out_buf, "baseOffset: "), 2);
	ck_assert_ptr_nonnull(strstr(out_buf,
				     "Found 20 invalid bytes at the end of "
				     "00000000000000000042.log\n"));
	snprintf(want, sizeof(want), "first invalid byte at position %zu: the "
				     "batch claims %zu bytes but only 20 are "
				     "left",
		 sz[0] + sz[1], sz[2]);
	ck_assert_msg(strstr(err_buf, want), "got: %s", err_buf);
	free_output();

	/* Fewer bytes than a batch prefix. */
	write_file("00000000000000000000.log", seg.data, sz[0] + 5);
	ck_assert_int_eq(dump("00000000000000000000.log", false), DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(out_buf, "Found 5 invalid bytes"));
	free_output();
	buf_free(&seg);
}
END_TEST

START_TEST(test_garbage_never_crashes)
{
	unsigned seed = 4242;
	static const size_t sizes[] = { 0, 1, 11, 12, 13, 60, 61, 62, 200,
					4096, 70000 };
	uint8_t *junk = malloc(70000);
	struct buf seg = BUF_INIT;
	size_t i, j, sz[3];

	ck_assert_ptr_nonnull(junk);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizes[i]; j++)
			junk[j] = (uint8_t)rand_r(&seed);
		write_file("00000000000000000000.log", junk, sizes[i]);
		ck_assert_int_eq(dump("00000000000000000000.log", true),
				 sizes[i] ? DUMPLOG_BAD : DUMPLOG_CLEAN);
		free_output();
	}
	/* A plausible prefix that claims 2 GiB. */
	memset(junk, 0, 12);
	be32_put(junk + 8, 0x7fffffff);
	write_file("00000000000000000000.log", junk, 100);
	ck_assert_int_eq(dump("00000000000000000000.log", true), DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(err_buf, "exceeds the"));
	free_output();
	/* Random single-byte damage anywhere in a real segment. */
	make_segment(&seg, sz);
	for (i = 0; i < 300; i++) {
		size_t at = (size_t)rand_r(&seed) % seg.len;
		uint8_t old = seg.data[at];
		int rc;

		seg.data[at] ^= (uint8_t)(1 + rand_r(&seed) % 255);
		write_file("00000000000000000000.log", seg.data, seg.len);
		rc = dump("00000000000000000000.log", true);
		ck_assert(rc == DUMPLOG_BAD || rc == DUMPLOG_CLEAN);
		/* Damage outside the CRC-covered bytes (base offset, leader
		 * epoch) may go unnoticed; damage inside never does. */
		if (rc == DUMPLOG_CLEAN) {
			size_t start = 0, k;

			for (k = 0; k < 3 && at >= start + sz[k]; k++)
				start += sz[k];
			ck_assert_msg(at - start < BATCH_OFF_MAGIC,
				      "damage at %zu unnoticed", at);
		}
		seg.data[at] = old;
		free_output();
	}
	buf_free(&seg);
	free(junk);
}
END_TEST

static void put_index(uint8_t *p, uint32_t rel, uint32_t pos)
{
	be32_put(p, rel);
	be32_put(p + 4, pos);
}

START_TEST(test_offset_index)
{
	uint8_t idx[8 * 5];
	char want[512];

	memset(idx, 0, sizeof(idx));
	put_index(idx, 0, 0);
	put_index(idx + 8, 5, 4096);
	put_index(idx + 16, 9, 8200);
	/* two preallocated zero entries follow */
	write_file("00000000000000000100.index", idx, sizeof(idx));
	ck_assert_int_eq(dump("00000000000000000100.index", false),
			 DUMPLOG_CLEAN);
	snprintf(want, sizeof(want),
		 "Dumping %s\noffset: 100 position: 0\noffset: 105 position: "
		 "4096\noffset: 109 position: 8200\n",
		 path_of("00000000000000000100.index"));
	ck_assert_str_eq(out_buf, want);
	free_output();

	/* Going backwards is reported. */
	put_index(idx + 16, 3, 8200);
	write_file("00000000000000000100.index", idx, 24);
	ck_assert_int_eq(dump("00000000000000000100.index", false),
			 DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(err_buf, "first invalid byte at position "
					      "16: entry 2 (offset 103) goes "
					      "back from offset 105"));
	free_output();

	/* A partial entry at the end. */
	write_file("00000000000000000100.index", idx, 13);
	ck_assert_int_eq(dump("00000000000000000100.index", false),
			 DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(err_buf, "not a multiple of the 8-byte"));
	free_output();

	write_file("00000000000000000100.index", idx, 0);
	ck_assert_int_eq(dump("00000000000000000100.index", false),
			 DUMPLOG_CLEAN);
	ck_assert_ptr_nonnull(strstr(out_buf, "00000000000000000100.index is "
					      "empty.\n"));
	free_output();
}
END_TEST

START_TEST(test_time_index)
{
	uint8_t ti[12 * 3];
	char want[512];

	memset(ti, 0, sizeof(ti));
	be64_put(ti, 1690000000000ULL);
	be32_put(ti + 8, 0);
	be64_put(ti + 12, 1690000000500ULL);
	be32_put(ti + 20, 7);
	write_file("00000000000000000010.timeindex", ti, sizeof(ti));
	ck_assert_int_eq(dump("00000000000000000010.timeindex", false),
			 DUMPLOG_CLEAN);
	snprintf(want, sizeof(want),
		 "Dumping %s\ntimestamp: 1690000000000 offset: 10\n"
		 "timestamp: 1690000000500 offset: 17\n",
		 path_of("00000000000000000010.timeindex"));
	ck_assert_str_eq(out_buf, want);
	free_output();

	be64_put(ti + 12, 1);	/* time goes back */
	write_file("00000000000000000010.timeindex", ti, 24);
	ck_assert_int_eq(dump("00000000000000000010.timeindex", false),
			 DUMPLOG_BAD);
	ck_assert_ptr_nonnull(strstr(err_buf, "goes back from timestamp"));
	free_output();
}
END_TEST

START_TEST(test_other_files)
{
	write_file("leader-epoch-checkpoint", "0\n0\n", 4);
	ck_assert_int_eq(dump("leader-epoch-checkpoint", false),
			 DUMPLOG_CLEAN);
	ck_assert_ptr_nonnull(strstr(err_buf, "Ignoring unknown file"));
	free_output();
	ck_assert_int_eq(dump("missing.log", false), DUMPLOG_UNREADABLE);
	ck_assert_ptr_nonnull(strstr(err_buf, "No such file or directory"));
	free_output();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dumplog");
	TCase *tc = tcase_create("dumplog");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_clean_segment);
	tcase_add_test(tc, test_records_with_data);
	tcase_add_test(tc, test_crc_error_in_the_middle);
	tcase_add_test(tc, test_bad_structure_good_crc);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_garbage_never_crashes);
	tcase_add_test(tc, test_offset_index);
	tcase_add_test(tc, test_time_index);
	tcase_add_test(tc, test_other_files);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
