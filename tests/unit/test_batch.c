/*
 * test_batch.c - record batch v2: every vector encoded by an independent
 * implementation (kafka-python) decodes to exactly what vectors.json says,
 * the builder reproduces the uncompressed ones byte for byte, and every
 * codec round-trips through builder and reader. Corruption and mutation
 * tests live in test_batch_fuzz.c.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/compress.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "batch_test_util.h"

#define MAX_BATCH (1 << 20)

const char *const tb_vector_files[] = {"single.bin",
				       "keyed-3.bin",
				       "null-value-tombstone.bin",
				       "headers.bin",
				       "empty-value-and-key.bin",
				       "base-offset-1000.bin",
				       "idempotent.bin",
				       "hundred-100B.bin",
				       "large-value-300B-varint.bin",
				       "gzip-10.bin",
				       "snappy-10.bin",
				       "lz4-10.bin",
				       "zstd-10.bin",
				       NULL};

uint64_t tb_rng(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static char *data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	size_t n;
	char *path;

	if (!top)
		top = ".";
	n = strlen(top) + strlen(name) + 64;
	path = malloc(n);
	ck_assert_ptr_nonnull(path);
	snprintf(path, n, "%s/tests/data/record-batch-v2/%s", top, name);
	return path;
}

uint8_t *tb_read_vector(const char *name, size_t *size)
{
	char *path = data_path(name);
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_gt(n, 0);
	rewind(f);
	/* Exactly sized, so the sanitizers catch any overread. */
	p = malloc((size_t)n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(path);
	*size = (size_t)n;
	return p;
}

/* Hex string to bytes; NULL (JSON null) gives len -1. Caller frees. */
static uint8_t *unhex(const json_t *j, int32_t *len)
{
	const char *s;
	size_t n, i;
	uint8_t *p;
	unsigned v;

	if (json_is_null(j)) {
		*len = -1;
		return NULL;
	}
	ck_assert(json_is_string(j));
	s = json_string_value(j);
	n = strlen(s);
	ck_assert_uint_eq(n % 2, 0);
	p = malloc(n / 2 + 1);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n / 2; i++) {
		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		p[i] = (uint8_t)v;
	}
	*len = (int32_t)(n / 2);
	return p;
}

static json_t *load_vectors(void)
{
	char *path = data_path("vectors.json");
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);

	ck_assert_msg(root != NULL, "%s:%d: %s", path, err.line, err.text);
	free(path);
	return root;
}

static int64_t jint(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "field %s", key);
	return (int64_t)json_integer_value(v);
}

/* Records of one vector, decoded from JSON, for building and comparing. */
struct tv_record {
	int64_t offset, timestamp;
	uint8_t *key, *value;
	int32_t key_len, value_len;
	int header_cnt;
	struct record_header hdrs[8];
	uint8_t *hbufs[8];
};

static struct tv_record *tv_records(const json_t *jb, size_t *cnt)
{
	json_t *recs = json_object_get(jb, "records");
	struct tv_record *tr;
	json_t *jr, *jh;
	size_t i, k;
	int32_t vlen;

	ck_assert(json_is_array(recs));
	*cnt = json_array_size(recs);
	tr = calloc(*cnt ? *cnt : 1, sizeof(*tr));
	ck_assert_ptr_nonnull(tr);
	json_array_foreach(recs, i, jr)
	{
		tr[i].offset = jint(jr, "offset");
		tr[i].timestamp = jint(jr, "timestamp");
		tr[i].key = unhex(json_object_get(jr, "key"), &tr[i].key_len);
		tr[i].value =
		    unhex(json_object_get(jr, "value"), &tr[i].value_len);
		json_array_foreach(json_object_get(jr, "headers"), k, jh)
		{
			ck_assert_uint_lt(k, 8);
			tr[i].hdrs[k].key = (const uint8_t *)json_string_value(
			    json_array_get(jh, 0));
			tr[i].hdrs[k].key_len =
			    (int32_t)strlen((const char *)tr[i].hdrs[k].key);
			tr[i].hbufs[k] = unhex(json_array_get(jh, 1), &vlen);
			tr[i].hdrs[k].value = tr[i].hbufs[k];
			tr[i].hdrs[k].value_len = vlen;
			tr[i].header_cnt = (int)k + 1;
		}
	}
	return tr;
}

static void tv_free(struct tv_record *tr, size_t cnt)
{
	size_t i;
	int k;

	for (i = 0; i < cnt; i++) {
		free(tr[i].key);
		free(tr[i].value);
		for (k = 0; k < tr[i].header_cnt; k++)
			free(tr[i].hbufs[k]);
	}
	free(tr);
}

static void assert_bytes(const uint8_t *got, int32_t got_len,
			 const uint8_t *want, int32_t want_len,
			 const char *what)
{
	ck_assert_msg(got_len == want_len, "%s: length %d, want %d", what,
		      got_len, want_len);
	if (want_len < 0) {
		ck_assert_ptr_null(got);
	} else {
		ck_assert_ptr_nonnull(got);
		if (want_len > 0)
			ck_assert_mem_eq(got, want, (size_t)want_len);
	}
}

/* Reads every record of p[0..size) and compares with tr[0..cnt). */
static void read_and_compare(struct batch_reader *rd, const uint8_t *p,
			     size_t size, const struct tv_record *tr,
			     size_t cnt, const char *name)
{
	struct record rec;
	struct record_header hdr;
	const uint8_t *hp;
	size_t i;
	int k;

	ck_assert_int_eq(batch_reader_init(rd, p, size, MAX_BATCH), 0);
	for (i = 0; i < cnt; i++) {
		ck_assert_msg(batch_reader_next(rd, &rec) == 1,
			      "%s: record %zu", name, i);
		ck_assert_int_eq(rec.offset, tr[i].offset);
		ck_assert_int_eq(rec.timestamp, tr[i].timestamp);
		assert_bytes(rec.key, rec.key_len, tr[i].key, tr[i].key_len,
			     "key");
		assert_bytes(rec.value, rec.value_len, tr[i].value,
			     tr[i].value_len, "value");
		ck_assert_int_eq(rec.header_cnt, tr[i].header_cnt);
		hp = rec.headers;
		for (k = 0; k < tr[i].header_cnt; k++) {
			ck_assert_int_eq(
			    record_header_next(&hp, rec.headers_end, &hdr), 1);
			assert_bytes(hdr.key, hdr.key_len, tr[i].hdrs[k].key,
				     tr[i].hdrs[k].key_len, "header key");
			assert_bytes(hdr.value, hdr.value_len,
				     tr[i].hdrs[k].value,
				     tr[i].hdrs[k].value_len, "header value");
		}
		ck_assert_int_eq(record_header_next(&hp, rec.headers_end, &hdr),
				 0);
	}
	ck_assert_int_eq(batch_reader_next(rd, &rec), 0);
	ck_assert_int_eq(batch_reader_next(rd, &rec), 0);
}

static void build(struct batch_builder *bb, int codec,
		  const struct tv_record *tr, size_t cnt, int64_t pid,
		  int16_t epoch, int32_t seq)
{
	size_t i;

	ck_assert_int_eq(batch_builder_begin(bb, codec), 0);
	for (i = 0; i < cnt; i++)
		ck_assert_int_eq(batch_builder_add(bb, tr[i].timestamp,
						   tr[i].key, tr[i].key_len,
						   tr[i].value, tr[i].value_len,
						   tr[i].hdrs,
						   tr[i].header_cnt),
				 0);
	ck_assert_int_eq(batch_builder_finish(bb, pid, epoch, seq, -1), 0);
}

START_TEST(test_vectors)
{
	struct batch_reader rd = BATCH_READER_INIT;
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct batch_header h;
	struct tv_record *tr;
	json_t *root = load_vectors(), *jb;
	const char *name;
	uint8_t *bin;
	size_t size, cnt, i;
	int seen = 0, exact = 0;

	json_array_foreach(json_object_get(root, "batches"), i, jb)
	{
		name = json_string_value(json_object_get(jb, "file"));
		bin = tb_read_vector(name, &size);
		ck_assert_int_eq(size, jint(jb, "size"));
		ck_assert_msg(batch_validate(bin, size, MAX_BATCH, &h) == 0,
			      "%s does not validate", name);
		ck_assert_uint_eq(batch_total_size(&h), size);
		ck_assert_int_eq(h.base_offset, jint(jb, "base_offset"));
		ck_assert_int_eq(h.magic, 2);
		ck_assert_uint_eq(h.crc, (uint32_t)jint(jb, "crc"));
		ck_assert_int_eq(batch_codec(&h), jint(jb, "compression"));
		ck_assert_int_eq(h.producer_id, jint(jb, "producer_id"));
		ck_assert_int_eq(h.producer_epoch, jint(jb, "producer_epoch"));
		ck_assert_int_eq(h.base_sequence, jint(jb, "base_sequence"));
		ck_assert_int_eq(h.records_count, jint(jb, "records_count"));
		ck_assert_int_eq(h.last_offset_delta,
				 jint(jb, "last_offset_delta"));
		ck_assert_int_eq(h.first_timestamp,
				 jint(jb, "first_timestamp"));
		ck_assert_int_eq(h.max_timestamp, jint(jb, "max_timestamp"));
		ck_assert_int_eq(batch_last_offset(&h),
				 h.base_offset + h.records_count - 1);

		tr = tv_records(jb, &cnt);
		ck_assert_uint_eq(cnt, (size_t)h.records_count);
		read_and_compare(&rd, bin, size, tr, cnt, name);

		/* Build the same records with the same codec. */
		build(&bb, batch_codec(&h), tr, cnt, h.producer_id,
		      h.producer_epoch, h.base_sequence);
		ck_assert_int_eq(
		    batch_validate(bb.out.data, bb.out.len, MAX_BATCH, NULL),
		    0);
		batch_set_base_offset(bb.out.data, h.base_offset);
		if (batch_codec(&h) == COMPRESS_NONE) {
			/* Canonical encoding: byte for byte, once the
			 * leader epoch is stamped as in the vector. */
			batch_set_leader_epoch(bb.out.data,
					       h.partition_leader_epoch);
			ck_assert_uint_eq(bb.out.len, size);
			ck_assert_msg(memcmp(bb.out.data, bin, size) == 0,
				      "%s: built bytes differ", name);
			exact++;
		}
		read_and_compare(&rd, bb.out.data, bb.out.len, tr, cnt, name);
		tv_free(tr, cnt);
		free(bin);
		seen++;
	}
	ck_assert_int_eq(seen, 13);
	ck_assert_int_eq(exact, 9);
	batch_reader_free(&rd);
	batch_builder_free(&bb);
	json_decref(root);
}
END_TEST

/* The plain CRC-32C values listed with the vectors. */
START_TEST(test_vector_crc32c)
{
	json_t *root = load_vectors();
	json_t *crcs = json_object_get(root, "crc32c"), *v;
	uint8_t input[32];
	const char *name;
	size_t len;
	unsigned long want;
	int n = 0;

	json_object_foreach(crcs, name, v)
	{
		if (strcmp(name, "32 zero bytes") == 0) {
			memset(input, 0, 32);
			len = 32;
		} else if (strcmp(name, "32 0xff bytes") == 0) {
			memset(input, 0xff, 32);
			len = 32;
		} else {
			len = strlen(name);
			ck_assert_uint_le(len, sizeof(input));
			memcpy(input, name, len);
		}
		want = strtoul(json_string_value(v), NULL, 16);
		ck_assert_uint_eq(crc32c(0, input, len), want);
		ck_assert_uint_eq(crc32c_sw(0, input, len), want);
		n++;
	}
	ck_assert_int_eq(n, 4);
	json_decref(root);
}
END_TEST

/* A varied record set: null and empty keys/values, headers (with a null
 * value), sizes crossing varint and block boundaries, timestamps going
 * backwards. */
#define RT_RECORDS 700

static void rt_record(int i, int64_t *ts, uint8_t *key, int32_t *klen,
		      uint8_t *val, int32_t *vlen, struct record_header *hdrs,
		      int *hcnt)
{
	int j;

	*ts = 1764000000000LL + (i % 5 == 3 ? -i : i * 3);
	*klen = i % 7 == 0 ? -1 : i % 11 == 0 ? 0 : 1 + i % 20;
	for (j = 0; j < *klen; j++)
		key[j] = (uint8_t)('a' + (i + j) % 26);
	*vlen = i % 13 == 5 ? -1 : (i * 37) % (i % 50 == 0 ? 9000 : 300);
	for (j = 0; j < *vlen; j++)
		val[j] = (uint8_t)(i * 31 + j * (i % 3));
	*hcnt = i % 4 == 1 ? 1 + i % 3 : 0;
	for (j = 0; j < *hcnt; j++) {
		hdrs[j].key = (const uint8_t *)"hdr-key";
		hdrs[j].key_len = 1 + j * 2;
		hdrs[j].value = j == 1 ? NULL : val;
		hdrs[j].value_len = j == 1 ? -1 : (*vlen > 4 ? 4 : 0);
	}
}

START_TEST(test_round_trip_codecs)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct batch_reader rd = BATCH_READER_INIT;
	struct record_header hdrs[3], got_h;
	uint8_t key[32], val[9000];
	int32_t klen, vlen;
	int64_t ts, first_ts, max_ts;
	struct batch_header h;
	struct record rec;
	const uint8_t *hp;
	size_t raw_size = 0;
	int codec, i, j, hcnt;

	for (codec = 0; codec <= COMPRESS_ZSTD; codec++) {
		ck_assert_int_eq(batch_builder_begin(&bb, codec), 0);
		ck_assert_uint_eq(batch_builder_size(&bb), BATCH_HEADER_SIZE);
		max_ts = INT64_MIN;
		first_ts = 0;
		for (i = 0; i < RT_RECORDS; i++) {
			size_t before = batch_builder_size(&bb), est;

			rt_record(i, &ts, key, &klen, val, &vlen, hdrs, &hcnt);
			if (ts > max_ts)
				max_ts = ts;
			if (i == 0)
				first_ts = ts;
			ck_assert_int_eq(batch_builder_add(&bb, ts, key, klen,
							   val, vlen, hdrs,
							   hcnt),
					 0);
			est = batch_record_size_estimate(
			    klen, vlen, batch_headers_size(hdrs, hcnt));
			ck_assert_uint_ge(est,
					  batch_builder_size(&bb) - before);
			ck_assert_uint_le(est, batch_builder_size(&bb) -
						   before + 21);
		}
		if (codec == 0)
			raw_size = batch_builder_size(&bb);
		else
			ck_assert_uint_eq(batch_builder_size(&bb), raw_size);
		ck_assert_int_eq(batch_builder_finish(&bb, 77, 5, 1000, -1), 0);
		if (codec != 0)
			ck_assert_uint_lt(bb.out.len, raw_size);
		else
			ck_assert_uint_eq(bb.out.len, raw_size);
		ck_assert_int_eq(
		    batch_validate(bb.out.data, bb.out.len, MAX_BATCH, &h), 0);
		ck_assert_int_eq(batch_codec(&h), codec);
		ck_assert_int_eq(h.records_count, RT_RECORDS);
		ck_assert_int_eq(h.last_offset_delta, RT_RECORDS - 1);
		ck_assert_int_eq(h.first_timestamp, first_ts);
		ck_assert_int_eq(h.max_timestamp, max_ts);
		ck_assert_int_eq(h.producer_id, 77);
		ck_assert_int_eq(h.producer_epoch, 5);
		ck_assert_int_eq(h.base_sequence, 1000);
		ck_assert_int_eq(h.partition_leader_epoch, -1);
		ck_assert_int_eq(h.base_offset, 0);
		batch_set_base_offset(bb.out.data, 5000);
		batch_set_leader_epoch(bb.out.data, 9);
		ck_assert_int_eq(
		    batch_validate(bb.out.data, bb.out.len, MAX_BATCH, &h), 0);
		ck_assert_int_eq(h.base_offset, 5000);
		ck_assert_int_eq(h.partition_leader_epoch, 9);

		ck_assert_int_eq(
		    batch_reader_init(&rd, bb.out.data, bb.out.len, MAX_BATCH),
		    0);
		for (i = 0; i < RT_RECORDS; i++) {
			rt_record(i, &ts, key, &klen, val, &vlen, hdrs, &hcnt);
			ck_assert_int_eq(batch_reader_next(&rd, &rec), 1);
			ck_assert_int_eq(rec.offset, 5000 + i);
			ck_assert_int_eq(rec.timestamp, ts);
			assert_bytes(rec.key, rec.key_len, key, klen, "key");
			assert_bytes(rec.value, rec.value_len, val, vlen,
				     "value");
			ck_assert_int_eq(rec.header_cnt, hcnt);
			hp = rec.headers;
			for (j = 0; j < hcnt; j++) {
				ck_assert_int_eq(
				    record_header_next(&hp, rec.headers_end,
						       &got_h),
				    1);
				assert_bytes(got_h.key, got_h.key_len,
					     hdrs[j].key, hdrs[j].key_len,
					     "hkey");
				assert_bytes(got_h.value, got_h.value_len,
					     hdrs[j].value, hdrs[j].value_len,
					     "hvalue");
			}
			ck_assert_ptr_eq(hp, rec.headers_end);
		}
		ck_assert_int_eq(batch_reader_next(&rd, &rec), 0);

		/* The decompressed size is bounded by the reader. */
		if (codec != 0)
			ck_assert_int_eq(batch_reader_init(&rd, bb.out.data,
							   bb.out.len, 1000),
					 ERR_TOO_LARGE);

		/* LogAppendTime: every record reads the batch's time. */
		batch_set_log_append_time(bb.out.data, bb.out.len,
					  1800000000000LL);
		ck_assert_int_eq(
		    batch_validate(bb.out.data, bb.out.len, MAX_BATCH, &h), 0);
		ck_assert(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
		ck_assert_int_eq(batch_codec(&h), codec);
		ck_assert_int_eq(h.max_timestamp, 1800000000000LL);
		ck_assert_int_eq(
		    batch_reader_init(&rd, bb.out.data, bb.out.len, MAX_BATCH),
		    0);
		for (i = 0; i < RT_RECORDS; i++) {
			ck_assert_int_eq(batch_reader_next(&rd, &rec), 1);
			ck_assert_int_eq(rec.timestamp, 1800000000000LL);
		}
		ck_assert_int_eq(batch_reader_next(&rd, &rec), 0);
	}
	batch_builder_free(&bb);
	batch_reader_free(&rd);
}
END_TEST

START_TEST(test_builder_states)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	struct batch_header h;

	/* add and finish need begin. */
	ck_assert_int_eq(batch_builder_add(&bb, 1, NULL, -1, "v", 1, NULL, 0),
			 ERR_STATE);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), ERR_STATE);
	ck_assert_int_eq(batch_builder_begin(&bb, 5), ERR_UNSUPPORTED);
	ck_assert_int_eq(batch_builder_begin(&bb, -1), ERR_UNSUPPORTED);
	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), ERR_STATE);
	ck_assert_int_eq(batch_builder_add(&bb, 10, NULL, -1, "v", 1, NULL, 0),
			 0);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
	/* Finished: no more records until the next begin. */
	ck_assert_int_eq(batch_builder_add(&bb, 10, NULL, -1, "v", 1, NULL, 0),
			 ERR_STATE);
	/* The builder is reused; the new batch has only its own records. */
	ck_assert_int_eq(batch_builder_begin(&bb, 3), 0);
	ck_assert_int_eq(batch_builder_add(&bb, 20, "k", 1, NULL, -1, NULL, 0),
			 0);
	ck_assert_int_eq(batch_builder_add(&bb, 19, "k", 1, "x", 1, NULL, 0),
			 0);
	ck_assert_int_eq(batch_builder_finish(&bb, 1, 2, 3, -1), 0);
	ck_assert_int_eq(batch_validate(bb.out.data, bb.out.len, MAX_BATCH, &h),
			 0);
	ck_assert_int_eq(h.records_count, 2);
	ck_assert_int_eq(h.first_timestamp, 20);
	ck_assert_int_eq(h.max_timestamp, 20);
	ck_assert_int_eq(batch_codec(&h), 3);
	batch_builder_free(&bb);
	/* Freed builders are reusable. */
	ck_assert_int_eq(batch_builder_begin(&bb, 0), 0);
	ck_assert_int_eq(batch_builder_add(&bb, 1, NULL, -1, NULL, -1, NULL, 0),
			 0);
	ck_assert_int_eq(batch_builder_finish(&bb, -1, -1, -1, -1), 0);
	/* Smallest possible batch: one 7-byte record. */
	ck_assert_uint_eq(bb.out.len, BATCH_HEADER_SIZE + 7);
	batch_builder_free(&bb);
}
END_TEST

START_TEST(test_peek_and_decode)
{
	struct batch_header h;
	int64_t base;
	int32_t blen;
	size_t size;
	uint8_t *bin = tb_read_vector("base-offset-1000.bin", &size);

	ck_assert_int_eq(batch_peek(bin, 11, &base, &blen), ERR_TRUNCATED);
	ck_assert_int_eq(batch_peek(bin, 12, &base, &blen), 0);
	ck_assert_int_eq(base, 1000);
	ck_assert_int_eq(blen, (int32_t)size - 12);
	ck_assert_int_eq(batch_header_decode(bin, 60, &h), ERR_TRUNCATED);
	ck_assert_int_eq(batch_header_decode(bin, 61, &h), 0);
	ck_assert_int_eq(h.base_offset, 1000);
	ck_assert_int_eq(h.records_count, 2);
	ck_assert_int_eq(batch_last_offset(&h), 1001);
	free(bin);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("codec");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_vector_crc32c);
	tcase_add_test(tc, test_round_trip_codecs);
	tcase_add_test(tc, test_builder_states);
	tcase_add_test(tc, test_peek_and_decode);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tb_fuzz_tcase());
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
