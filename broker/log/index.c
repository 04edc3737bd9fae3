/*
 * index.c - sparse offset and time indexes of a segment.
 *
 * The design avoids Kafka's preallocated memory maps: with ten thousand
 * partitions a 10 MiB map each would cost address space and, once touched,
 * resident memory. Instead an index is an append-only file of fixed-size
 * big-endian entries plus a small buffer of entries not yet written. The
 * buffer starts at a few entries and doubles up to INDEX_PEND_BYTES, so an
 * idle partition holds almost nothing, and a busy one writes its index in
 * 4 KiB pwrites (one per ~2 MiB of log at the default 4096-byte interval).
 *
 * Lookups are floor searches ("the last entry <= target") on either field.
 * The buffer, being the newest entries, is searched first in memory; the
 * file part is binary-searched with single-entry preads until the range
 * fits one 4 KiB read, then finished in memory. On the hot read path the
 * partition log's position cache usually answers before an index is
 * consulted.
 *
 * Invariants: entries strictly increase in both fields; nfile matches the
 * file's length except transiently inside index_write_pending (which only
 * updates nfile after a complete write); last_key/last_val describe entry
 * nfile + npend - 1.
 *
 * Thread: not locked here; the segment's mutex covers every call.
 */
#include "config.h"
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"

#define PEND_MIN_ENTRIES 8

static void ent_decode(const struct log_index *ix, const uint8_t *p,
		       int64_t *key, int64_t *val)
{
	if (ix->kind == INDEX_OFFSET) {
		*key = ix->base + be32_get(p);
		*val = be32_get(p + 4);
	} else {
		*key = (int64_t)be64_get(p);
		*val = ix->base + be32_get(p + 8);
	}
}

static void ent_encode(const struct log_index *ix, uint8_t *p, int64_t key,
		       int64_t val)
{
	if (ix->kind == INDEX_OFFSET) {
		be32_put(p, (uint32_t)(key - ix->base));
		be32_put(p + 4, (uint32_t)val);
	} else {
		be64_put(p, (uint64_t)key);
		be32_put(p + 8, (uint32_t)(val - ix->base));
	}
}

static int64_t ent_field(const struct log_index *ix, const uint8_t *p,
			 enum index_field field)
{
	int64_t key, val;

	ent_decode(ix, p, &key, &val);
	return field == INDEX_KEY ? key : val;
}

static int pread_full(int fd, void *buf, size_t len, off_t pos)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (n == 0)
			return ERR_CORRUPT;
		p += n;
		len -= (size_t)n;
		pos += n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t pos)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == ENOSPC || errno == EDQUOT ? ERR_NOSPACE
								  : ERR_IO;
		}
		p += n;
		len -= (size_t)n;
		pos += n;
	}
	return 0;
}

void index_init(struct log_index *ix, enum index_kind kind, int64_t base,
		uint32_t max_entries)
{
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	ix->kind = (uint8_t)kind;
	ix->esize =
	    kind == INDEX_OFFSET ? INDEX_OFFSET_ENTRY : INDEX_TIME_ENTRY;
	ix->base = base;
	ix->max_entries = max_entries ? max_entries : 1;
	ix->last_key = INT64_MIN;
	ix->last_val = INT64_MIN;
}

void index_destroy(struct log_index *ix)
{
	index_close_fd(ix);
	free(ix->pend);
	ix->pend = NULL;
	ix->pend_cap = 0;
	ix->npend = 0;
}

int index_open(struct log_index *ix, const char *path, bool create)
{
	int fd;

	if (ix->fd >= 0)
		return 0;
	if (ix->trunc_on_open && !create)
		return ERR_NOT_FOUND; /* nothing written yet */
	fd = open(path,
		  O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0) |
		      (ix->trunc_on_open ? O_TRUNC : 0),
		  0644);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
	ix->fd = fd;
	ix->trunc_on_open = false;
	return 0;
}

void index_close_fd(struct log_index *ix)
{
	if (ix->fd >= 0) {
		close(ix->fd);
		ix->fd = -1;
	}
}

int index_load(struct log_index *ix, const char *path, int64_t log_size)
{
	struct stat st;
	uint8_t e[INDEX_TIME_ENTRY];
	int64_t key, val;
	int rc;

	rc = index_open(ix, path, false);
	if (rc)
		return rc;
	if (fstat(ix->fd, &st) < 0) {
		rc = ERR_IO;
		goto out_close;
	}
	if (st.st_size % ix->esize != 0 ||
	    st.st_size / ix->esize > (off_t)UINT32_MAX) {
		rc = ERR_CORRUPT;
		goto out_close;
	}
	ix->nfile = (uint32_t)(st.st_size / ix->esize);
	ix->npend = 0;
	ix->last_key = INT64_MIN;
	ix->last_val = INT64_MIN;
	if (ix->nfile == 0) {
		rc = 0;
		goto out_close;
	}
	rc = pread_full(ix->fd, e, ix->esize,
			(off_t)(ix->nfile - 1) * ix->esize);
	if (rc)
		goto out_close;
	ent_decode(ix, e, &key, &val);
	if (ix->kind == INDEX_OFFSET ? val >= log_size : key < 0) {
		rc = ERR_CORRUPT;
		goto out_close;
	}
	/* The first entry must not be past the last one. */
	rc = pread_full(ix->fd, e, ix->esize, 0);
	if (rc)
		goto out_close;
	{
		int64_t k0, v0;

		ent_decode(ix, e, &k0, &v0);
		if (k0 > key || v0 > val) {
			rc = ERR_CORRUPT;
			goto out_close;
		}
	}
	ix->last_key = key;
	ix->last_val = val;
	rc = 0;
out_close:
	if (rc)
		ix->nfile = 0;
	index_close_fd(ix);
	return rc;
}

bool index_append_needs_fd(const struct log_index *ix)
{
	return ix->npend >= INDEX_PEND_BYTES / ix->esize;
}

int index_append(struct log_index *ix, int64_t key, int64_t val)
{
	int rc;

	if (key <= ix->last_key || val <= ix->last_val)
		return 0;
	if (ix->kind == INDEX_OFFSET
		? (key - ix->base > UINT32_MAX || val > UINT32_MAX)
		: val - ix->base > UINT32_MAX)
		return 0;
	if (index_append_needs_fd(ix)) {
		if (ix->fd < 0)
			return ERR_STATE;
		rc = index_write_pending(ix);
		if (rc)
			return rc;
	}
	if (ix->npend == ix->pend_cap) {
		uint32_t cap =
		    ix->pend_cap ? ix->pend_cap * 2 : PEND_MIN_ENTRIES;
		uint8_t *p;

		if (cap * ix->esize > INDEX_PEND_BYTES)
			cap = INDEX_PEND_BYTES / ix->esize;
		p = realloc(ix->pend, (size_t)cap * ix->esize);
		if (!p)
			return ERR_NOMEM;
		ix->pend = p;
		ix->pend_cap = cap;
	}
	ent_encode(ix, ix->pend + (size_t)ix->npend * ix->esize, key, val);
	ix->npend++;
	ix->last_key = key;
	ix->last_val = val;
	return 0;
}

/*
 * Counts the entries whose field is <= target, and returns the last of
 * them in key and val (when the count is not zero).
 */
static int count_le(struct log_index *ix, enum index_field field,
		    int64_t target, uint32_t *count, int64_t *key, int64_t *val)
{
	uint8_t chunk[INDEX_PEND_BYTES];
	uint32_t per_chunk = INDEX_PEND_BYTES / ix->esize;
	uint32_t lo, hi, i;
	int rc;

	*count = 0;
	if (ix->npend > 0 && ent_field(ix, ix->pend, field) <= target) {
		lo = 0;
		hi = ix->npend;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (ent_field(ix, ix->pend + (size_t)mid * ix->esize,
				      field) <= target)
				lo = mid + 1;
			else
				hi = mid;
		}
		ent_decode(ix, ix->pend + (size_t)(lo - 1) * ix->esize, key,
			   val);
		*count = ix->nfile + lo;
		return 0;
	}
	if (ix->nfile == 0)
		return 0;
	if (ix->fd < 0)
		return ERR_STATE;
	/* Entries [0, lo) are <= target, entries [hi, nfile) are not. */
	lo = 0;
	hi = ix->nfile;
	while (hi - lo >= per_chunk) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint8_t e[INDEX_TIME_ENTRY];

		rc = pread_full(ix->fd, e, ix->esize, (off_t)mid * ix->esize);
		if (rc)
			return rc;
		if (ent_field(ix, e, field) <= target)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Read [lo - 1, hi), at most per_chunk entries, so that the answer
	 * is in the chunk. */
	i = lo > 0 ? lo - 1 : 0;
	rc = pread_full(ix->fd, chunk, (size_t)(hi - i) * ix->esize,
			(off_t)i * ix->esize);
	if (rc)
		return rc;
	for (uint32_t j = lo; j < hi; j++) {
		if (ent_field(ix, chunk + (size_t)(j - i) * ix->esize, field) >
		    target)
			break;
		lo = j + 1;
	}
	*count = lo;
	if (lo > 0)
		ent_decode(ix, chunk + (size_t)(lo - 1 - i) * ix->esize, key,
			   val);
	return 0;
}

bool index_floor_needs_fd(const struct log_index *ix, enum index_field field,
			  int64_t target)
{
	if (ix->npend > 0 && ent_field(ix, ix->pend, field) <= target)
		return false;
	return ix->nfile > 0;
}

int index_floor(struct log_index *ix, enum index_field field, int64_t target,
		int64_t *key, int64_t *val)
{
	uint32_t n;
	int rc;

	rc = count_le(ix, field, target, &n, key, val);
	if (rc)
		return rc;
	return n == 0 ? ERR_NOT_FOUND : 0;
}

int index_truncate(struct log_index *ix, enum index_field field, int64_t target)
{
	int64_t key = INT64_MIN, val = INT64_MIN;
	uint32_t n = 0;
	int rc;

	if (target != INT64_MIN) {
		rc = count_le(ix, field, target - 1, &n, &key, &val);
		if (rc)
			return rc;
	}
	if (n >= index_count(ix))
		return 0;
	if (n >= ix->nfile) {
		ix->npend = n - ix->nfile;
	} else {
		if (ix->fd < 0)
			return ERR_STATE;
		if (ftruncate(ix->fd, (off_t)n * ix->esize) < 0)
			return ERR_IO;
		ix->nfile = n;
		ix->npend = 0;
		ix->dirty = true;
	}
	ix->last_key = n ? key : INT64_MIN;
	ix->last_val = n ? val : INT64_MIN;
	return 0;
}

int index_reset(struct log_index *ix)
{
	if (ix->nfile > 0 || ix->fd >= 0) {
		if (ix->fd < 0)
			return ERR_STATE;
		if (ftruncate(ix->fd, 0) < 0)
			return ERR_IO;
		ix->dirty = true;
	}
	ix->nfile = 0;
	ix->npend = 0;
	ix->last_key = INT64_MIN;
	ix->last_val = INT64_MIN;
	return 0;
}

int index_write_pending(struct log_index *ix)
{
	int rc;

	if (ix->npend == 0)
		return 0;
	if (ix->fd < 0)
		return ERR_STATE;
	rc = pwrite_full(ix->fd, ix->pend, (size_t)ix->npend * ix->esize,
			 (off_t)ix->nfile * ix->esize);
	if (rc) {
		/* Leave the file as long as the entries it fully holds. */
		if (ftruncate(ix->fd, (off_t)ix->nfile * ix->esize) < 0)
			return ERR_IO;
		return rc;
	}
	ix->nfile += ix->npend;
	ix->npend = 0;
	ix->dirty = true;
	return 0;
}

void index_trim_buffer(struct log_index *ix)
{
	if (ix->npend == 0) {
		free(ix->pend);
		ix->pend = NULL;
		ix->pend_cap = 0;
	}
}

int index_sync(struct log_index *ix)
{
	if (!ix->dirty)
		return 0;
	if (ix->fd < 0)
		return ERR_STATE;
	if (fdatasync(ix->fd) < 0)
		return ERR_IO;
	ix->dirty = false;
	return 0;
}
