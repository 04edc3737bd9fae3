/*
 * bench_codec.c - micro-benchmark of the record batch codec, for 100-byte
 * records (no key) in 16 KB batches: builder add+finish (records/s),
 * batch_validate (MB/s), reader (records/s) per codec, and CRC-32C
 * (GB/s) on the hardware and portable paths.
 *
 * Not run by make check. Usage: bench_codec [seconds-per-figure], default
 * 0.3. Single-threaded; each figure is the best of three runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/compress.h"
#include "common/crc32c.h"

#define BATCH_BYTES 16384
#define VALUE_BYTES 100

static double secs = 0.3;
static volatile uint64_t sink;

/* Fills one 16 KB batch; returns its record count. */
static int fill_batch(struct batch_builder *bb, int codec, const uint8_t *val,
		      int64_t ts)
{
	size_t est = batch_record_size_estimate(-1, VALUE_BYTES, 0);
	int n = 0;

	batch_builder_begin(bb, codec);
	while (batch_builder_size(bb) + est <= BATCH_BYTES) {
		if (batch_builder_add(bb, ts + n, NULL, -1, val, VALUE_BYTES,
				      NULL, 0) < 0)
			abort();
		n++;
	}
	if (batch_builder_finish(bb, -1, -1, -1, -1) < 0)
		abort();
	return n;
}

static double bench_build(int codec, const uint8_t *val)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	double best = 0, rate;
	int64_t t0, t1, recs;
	int rep;

	for (rep = 0; rep < 3; rep++) {
		recs = 0;
		t0 = clock_mono_ns();
		do {
			recs += fill_batch(&bb, codec, val, t0);
			t1 = clock_mono_ns();
		} while (t1 - t0 < (int64_t)(secs * 1e9));
		rate = (double)recs / ((double)(t1 - t0) / 1e9);
		if (rate > best)
			best = rate;
	}
	batch_builder_free(&bb);
	return best;
}

static double bench_validate(const uint8_t *p, size_t len)
{
	struct batch_header h;
	double best = 0, rate;
	int64_t t0, t1, bytes;
	int rep, i;

	for (rep = 0; rep < 3; rep++) {
		bytes = 0;
		t0 = clock_mono_ns();
		do {
			for (i = 0; i < 64; i++) {
				if (batch_validate(p, len, 1 << 20, &h) < 0)
					abort();
				bytes += (int64_t)len;
			}
			t1 = clock_mono_ns();
		} while (t1 - t0 < (int64_t)(secs * 1e9));
		rate = (double)bytes / ((double)(t1 - t0) / 1e9) / 1e6;
		if (rate > best)
			best = rate;
	}
	return best;
}

static double bench_read(const uint8_t *p, size_t len)
{
	struct batch_reader rd = BATCH_READER_INIT;
	struct record rec;
	double best = 0, rate;
	int64_t t0, t1, recs;
	int rep, rc;

	for (rep = 0; rep < 3; rep++) {
		recs = 0;
		t0 = clock_mono_ns();
		do {
			if (batch_reader_init(&rd, p, len, 1 << 20) < 0)
				abort();
			while ((rc = batch_reader_next(&rd, &rec)) == 1) {
				sink += (uint64_t)rec.value_len;
				recs++;
			}
			if (rc < 0)
				abort();
			t1 = clock_mono_ns();
		} while (t1 - t0 < (int64_t)(secs * 1e9));
		rate = (double)recs / ((double)(t1 - t0) / 1e9);
		if (rate > best)
			best = rate;
	}
	batch_reader_free(&rd);
	return best;
}

static double bench_crc(uint32_t (*fn)(uint32_t, const void *, size_t),
			const uint8_t *p, size_t len)
{
	double best = 0, rate;
	int64_t t0, t1, bytes;
	int rep;

	for (rep = 0; rep < 3; rep++) {
		bytes = 0;
		t0 = clock_mono_ns();
		do {
			sink += fn(0, p, len);
			bytes += (int64_t)len;
			t1 = clock_mono_ns();
		} while (t1 - t0 < (int64_t)(secs * 1e9));
		rate = (double)bytes / ((double)(t1 - t0) / 1e9) / 1e9;
		if (rate > best)
			best = rate;
	}
	return best;
}

int main(int argc, char **argv)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;
	uint8_t val[VALUE_BYTES], *big;
	static const size_t crc_sizes[] = {100, 1024, BATCH_BYTES, 1 << 20};
	size_t i;
	int codec, n;

	if (argc > 1)
		secs = atof(argv[1]);
	if (secs <= 0)
		secs = 0.3;
	/* Semi-compressible values: a little text with a counter. */
	for (i = 0; i < VALUE_BYTES; i++)
		val[i] = (uint8_t)("fluxo-bench-value-"[i % 18] + i / 18);

	printf("100-byte records, no key, 16 KB batches; best of 3 x %.2fs\n",
	       secs);
	printf("%-8s %16s %14s %16s %10s\n", "codec", "build rec/s",
	       "validate MB/s", "read rec/s", "batch B");
	for (codec = 0; codec <= COMPRESS_ZSTD; codec++) {
		n = fill_batch(&bb, codec, val, 1764000000000LL);
		printf("%-8s %16.0f %14.0f %16.0f %10zu  (%d records)\n",
		       compress_codec_name(codec), bench_build(codec, val),
		       bench_validate(bb.out.data, bb.out.len),
		       bench_read(bb.out.data, bb.out.len), bb.out.len, n);
	}
	batch_builder_free(&bb);

	big = malloc(1 << 20);
	if (!big)
		return 1;
	for (i = 0; i < (1 << 20); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	printf("\ncrc32c (hardware path %s)\n",
	       crc32c_hw_available() ? "in use" : "NOT available");
	printf("%-10s %10s %10s\n", "bytes", "hw GB/s", "sw GB/s");
	for (i = 0; i < sizeof(crc_sizes) / sizeof(crc_sizes[0]); i++)
		printf("%-10zu %10.2f %10.2f\n", crc_sizes[i],
		       bench_crc(crc32c, big, crc_sizes[i]),
		       bench_crc(crc32c_sw, big, crc_sizes[i]));
	free(big);
	return 0;
}
