/*
 * dumplog.c - fluxo-dump-log's file readers.
 *
 * A .log segment is a sequence of record batches (common/batch.h). We walk
 * it the way the broker's recovery does: read the 12-byte prefix (base
 * offset, batch length), check the length against the bytes left and a
 * ceiling, read the whole batch, check its CRC-32C and structure, print
 * it, move on. Two kinds of damage are told apart:
 *
 *   - a batch whose length is sane but whose CRC or structure is wrong is
 *     printed with "isvalid: false" and the walk continues after it, as in
 *     Kafka (its neighbours are still readable);
 *   - a length that cannot be right (too small, past the end of the file,
 *     or a batch that is not magic 2) ends the walk: nothing after it can be
 *     located. Kafka then prints "Found N invalid bytes at the end of F";
 *     so do we.
 *
 * Either way the position of the first bad byte and the reason go to the
 * error stream, and the result is DUMPLOG_BAD so --verify can fail.
 *
 * .index entries are 8 bytes (offset relative to the segment's base
 * offset, then file position, both big-endian u32); .timeindex entries 12
 * (timestamp i64, relative offset u32). The base offset is the file name.
 * Index files may be preallocated with zeros: as Kafka, we stop at the
 * first zero entry after the first.
 */
#include "config.h"

#include "dumplog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/buf.h"
#include "common/crc32c.h"
#include "common/err.h"

struct dump {
	const char *prog;
	const char *path;
	const struct dumplog_opts *o;
	FILE *out;
	FILE *err;
	int fd;
	uint64_t size;
	int64_t base_offset;
	bool bad;		/* a problem was reported */
};

static void problem(struct dump *d, uint64_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports the first problem of a file; later ones are counted only. */
static void problem(struct dump *d, uint64_t pos, const char *fmt, ...)
{
	va_list ap;

	if (d->bad)
		return;
	d->bad = true;
	fprintf(d->err, "%s: %s: first invalid byte at position %" PRIu64 ": ",
		d->prog, d->path, pos);
	va_start(ap, fmt);
	vfprintf(d->err, fmt, ap);
	va_end(ap);
	fputc('\n', d->err);
}

/* Reads exactly n bytes at off; returns 0 or ERR_IO / ERR_TRUNCATED. */
static int read_at(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *q = p;

	while (n > 0) {
		ssize_t r = pread(fd, q, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (r == 0)
			return ERR_TRUNCATED;
		q += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* The base offset in the file name ("00000000000000000042.log"), or -1. */
static int64_t name_offset(const char *path)
{
	const char *name = basename_of(path);
	size_t n = 0;
	int64_t v = 0;

	while (isdigit((unsigned char)name[n])) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (name[n] - '0');
		n++;
	}
	return n > 0 && name[n] == '.' ? v : -1;
}

static const char *codec_name(int codec)
{
	static const char *const names[] = { "none", "gzip", "snappy", "lz4",
					      "zstd" };

	return codec >= 0 && codec < 5 ? names[codec] : "unknown";
}

/* Kafka's DefaultRecordBatch.incrementSequence (wraps at INT32_MAX). */
static int32_t seq_add(int32_t base, int32_t delta)
{
	if (base < 0)
		return -1;
	if (base > INT32_MAX - delta)
		return delta - (INT32_MAX - base) - 1;
	return base + delta;
}

static void put_bytes(FILE *out, const uint8_t *p, int32_t len)
{
	if (len > 0)
		fwrite(p, 1, (size_t)len, out);
}

static void dump_records(struct dump *d, const uint8_t *p, size_t size,
			 const struct batch_header *h, uint64_t pos)
{
	struct batch_reader rd = BATCH_READER_INIT;
	const char *ts_type = (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) ?
				      "LogAppendTime" :
				      "CreateTime";
	bool control = (h->attributes & BATCH_ATTR_CONTROL) != 0;
	size_t max_out = d->o->max_batch_bytes;
	struct record rec;
	int rc;

	if (max_out < (SIZE_MAX >> 3))
		max_out <<= 2;
	rc = batch_reader_init(&rd, p, size, max_out);
	if (rc != 0) {
		fprintf(d->out, "| records could not be read: %s\n",
			err_str(rc));
		problem(d, pos, "records of the batch could not be read (%s)",
			err_str(rc));
		goto out;
	}
	while ((rc = batch_reader_next(&rd, &rec)) == 1) {
		const uint8_t *hp = rec.headers;
		struct record_header hdr;
		int hrc, n = 0;

		fprintf(d->out,
			"| offset: %" PRId64 " %s: %" PRId64
			" keySize: %d valueSize: %d sequence: %d headerKeys: [",
			rec.offset, ts_type, rec.timestamp, (int)rec.key_len,
			(int)rec.value_len,
			(int)seq_add(h->base_sequence,
				     (int32_t)(rec.offset - h->base_offset)));
		while ((hrc = record_header_next(&hp, rec.headers_end, &hdr)) ==
		       1) {
			if (n++)
				fputc(',', d->out);
			put_bytes(d->out, hdr.key, hdr.key_len);
		}
		fputc(']', d->out);
		if (d->o->print_data && !control) {
			if (rec.key_len >= 0) {
				fputs(" key: ", d->out);
				put_bytes(d->out, rec.key, rec.key_len);
			}
			if (rec.value_len >= 0) {
				fputs(" payload: ", d->out);
				put_bytes(d->out, rec.value, rec.value_len);
			}
		}
		fputc('\n', d->out);
		if (hrc < 0) {
			problem(d, pos, "a record header at offset %" PRId64
					" is malformed",
				rec.offset);
			break;
		}
	}
	if (rc < 0) {
		fprintf(d->out, "| records could not be read: %s\n",
			err_str(rc));
		problem(d, pos, "a record of the batch is malformed (%s)",
			err_str(rc));
	}
out:
	batch_reader_free(&rd);
}

static void dump_log(struct dump *d)
{
	struct buf b = BUF_INIT;
	uint64_t pos = 0;
	uint8_t prefix[BATCH_LOG_OVERHEAD];

	if (d->base_offset >= 0)
		fprintf(d->out, "Starting offset: %" PRId64 "\n",
			d->base_offset);
	while (pos < d->size) {
		uint64_t left = d->size - pos;
		struct batch_header h;
		int64_t base;
		int32_t blen;
		size_t total;
		uint32_t crc;
		bool valid;
		int rc;

		if (left < BATCH_LOG_OVERHEAD) {
			problem(d, pos,
				"%" PRIu64 " bytes after the last batch are "
				"too few for a batch (a torn write?)",
				left);
			break;
		}
		if (read_at(d->fd, prefix, sizeof(prefix), pos) != 0) {
			problem(d, pos, "read failed: %s", strerror(errno));
			break;
		}
		batch_peek(prefix, sizeof(prefix), &base, &blen);
		if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD) {
			problem(d, pos,
				"batch length %d is smaller than a batch "
				"header",
				(int)blen);
			break;
		}
		total = (size_t)BATCH_LOG_OVERHEAD + (size_t)(uint32_t)blen;
		if (total > d->o->max_batch_bytes) {
			problem(d, pos,
				"batch length %d exceeds the %zu-byte limit",
				(int)blen, d->o->max_batch_bytes);
			break;
		}
		if (total > left) {
			problem(d, pos,
				"the batch claims %zu bytes but only %" PRIu64
				" are left (a torn write?)",
				total, left);
			break;
		}
		buf_reset(&b);
		if (!buf_extend(&b, total)) {
			problem(d, pos, "out of memory for a %zu-byte batch",
				total);
			break;
		}
		rc = read_at(d->fd, b.data, total, pos);
		if (rc != 0) {
			problem(d, pos, "read failed: %s",
				rc == ERR_IO ? strerror(errno) :
					       "file shrank while reading");
			break;
		}
		batch_header_decode(b.data, total, &h);
		if (h.magic != BATCH_MAGIC) {
			problem(d, pos, "magic %d is not %d", (int)h.magic,
				BATCH_MAGIC);
			break;
		}
		crc = crc32c(0, b.data + BATCH_OFF_ATTRIBUTES,
			     total - BATCH_OFF_ATTRIBUTES);
		valid = crc == h.crc;
		if (!valid) {
			problem(d, pos,
				"CRC mismatch in the batch at offset %" PRId64
				" (stored %" PRIu32 ", computed %" PRIu32 ")",
				h.base_offset, h.crc, crc);
		} else {
			rc = batch_validate(b.data, total,
					    d->o->max_batch_bytes, NULL);
			if (rc != 0) {
				valid = false;
				problem(d, pos,
					"the batch at offset %" PRId64
					" is malformed (%s)",
					h.base_offset, err_str(rc));
			}
		}
		fprintf(d->out,
			"baseOffset: %" PRId64 " lastOffset: %" PRId64
			" count: %d baseSequence: %d lastSequence: %d "
			"producerId: %" PRId64 " producerEpoch: %d "
			"partitionLeaderEpoch: %d isTransactional: %s "
			"isControl: %s position: %" PRIu64 " %s: %" PRId64
			" size: %zu magic: %d compresscodec: %s crc: %" PRIu32
			" isvalid: %s\n",
			h.base_offset, batch_last_offset(&h),
			(int)h.records_count, (int)h.base_sequence,
			(int)seq_add(h.base_sequence, h.last_offset_delta),
			h.producer_id, (int)h.producer_epoch,
			(int)h.partition_leader_epoch,
			(h.attributes & BATCH_ATTR_TRANSACTIONAL) ? "true" :
								    "false",
			(h.attributes & BATCH_ATTR_CONTROL) ? "true" : "false",
			pos,
			(h.attributes & BATCH_ATTR_LOG_APPEND_TIME) ?
				"LogAppendTime" :
				"CreateTime",
			h.max_timestamp, total, (int)h.magic,
			codec_name(batch_codec(&h)), h.crc,
			valid ? "true" : "false");
		if ((d->o->deep || d->o->print_data) && valid)
			dump_records(d, b.data, total, &h, pos);
		pos += total;
	}
	if (pos < d->size)
		fprintf(d->out,
			"Found %" PRIu64 " invalid bytes at the end of %s\n",
			d->size - pos, basename_of(d->path));
	buf_free(&b);
}

/* Walks an index file's entries of entry_size bytes in 64 KiB chunks. */
static void dump_index(struct dump *d, bool time_index)
{
	const size_t esz = time_index ? 12 : 8;
	uint64_t entries = d->size / esz, i, prev_rel = 0;
	int64_t prev_ts = INT64_MIN;
	uint32_t prev_pos = 0;
	uint8_t chunk[65536 - 65536 % 24];
	size_t have = 0, at = 0;
	uint64_t off = 0;
	int rc;

	if (d->size % esz)
		problem(d, entries * esz,
			"the file size %" PRIu64 " is not a multiple of the "
			"%zu-byte entry size",
			d->size, esz);
	if (entries == 0) {
		if (d->o->index_sanity && !d->bad)
			fprintf(d->out, "%s passed sanity check.\n", d->path);
		else
			fprintf(d->out, "%s is empty.\n", d->path);
		return;
	}
	for (i = 0; i < entries; i++) {
		const uint8_t *e;
		uint32_t rel, epos = 0;
		int64_t ts = 0;

		if (at == have) {
			uint64_t left = (entries - i) * esz;

			have = left < sizeof(chunk) ? (size_t)left :
						      sizeof(chunk);
			rc = read_at(d->fd, chunk, have, off);
			if (rc != 0) {
				problem(d, off, "read failed: %s",
					rc == ERR_IO ? strerror(errno) :
						       "file shrank");
				return;
			}
			off += have;
			at = 0;
		}
		e = chunk + at;
		at += esz;
		if (time_index) {
			ts = (int64_t)be64_get(e);
			rel = be32_get(e + 8);
		} else {
			rel = be32_get(e);
			epos = be32_get(e + 4);
		}
		/* Preallocated zeros after the last real entry. */
		if (i > 0 && rel == 0)
			break;
		if (i > 0 && (time_index ? rel < prev_rel : rel <= prev_rel))
			problem(d, i * esz,
				"entry %" PRIu64 " (offset %" PRId64
				") goes back from offset %" PRId64,
				i, d->base_offset + (int64_t)rel,
				d->base_offset + (int64_t)prev_rel);
		if (!time_index && i > 0 && epos < prev_pos)
			problem(d, i * esz,
				"entry %" PRIu64 " (position %" PRIu32
				") goes back from position %" PRIu32,
				i, epos, prev_pos);
		if (time_index && i > 0 && ts < prev_ts)
			problem(d, i * esz,
				"entry %" PRIu64 " (timestamp %" PRId64
				") goes back from timestamp %" PRId64,
				i, ts, prev_ts);
		prev_rel = rel;
		prev_pos = epos;
		prev_ts = ts;
		if (d->o->index_sanity)
			continue;
		if (time_index)
			fprintf(d->out,
				"timestamp: %" PRId64 " offset: %" PRId64 "\n",
				ts, d->base_offset + (int64_t)rel);
		else
			fprintf(d->out,
				"offset: %" PRId64 " position: %" PRIu32 "\n",
				d->base_offset + (int64_t)rel, epos);
	}
	if (d->o->index_sanity && !d->bad)
		fprintf(d->out, "%s passed sanity check.\n", d->path);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int dumplog_file(const char *prog, const char *path,
		 const struct dumplog_opts *o, FILE *out, FILE *err)
{
	struct dump d = { prog, path, o, out, err, -1, 0, -1, false };
	enum { LOG, INDEX, TIMEINDEX } kind;
	struct stat st;

	fprintf(out, "Dumping %s\n", path);
	if (has_suffix(path, ".log")) {
		kind = LOG;
	} else if (has_suffix(path, ".timeindex")) {
		kind = TIMEINDEX;
	} else if (has_suffix(path, ".index")) {
		kind = INDEX;
	} else {
		fprintf(err, "Ignoring unknown file %s\n", path);
		return DUMPLOG_CLEAN;
	}
	d.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d.fd < 0 || fstat(d.fd, &st) != 0) {
		fprintf(err, "%s: %s: %s\n", prog, path, strerror(errno));
		if (d.fd >= 0)
			close(d.fd);
		return DUMPLOG_UNREADABLE;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(err, "%s: %s: not a regular file\n", prog, path);
		close(d.fd);
		return DUMPLOG_UNREADABLE;
	}
	d.size = (uint64_t)st.st_size;
	d.base_offset = name_offset(path);
	if (kind != LOG && d.base_offset < 0) {
		fprintf(err,
			"%s: %s: the name does not start with the base offset; "
			"showing offsets relative to 0\n",
			prog, path);
		d.base_offset = 0;
	}
	if (kind == LOG)
		dump_log(&d);
	else
		dump_index(&d, kind == TIMEINDEX);
	fflush(out);
	close(d.fd);
	return d.bad ? DUMPLOG_BAD : DUMPLOG_CLEAN;
}
