/*
 * checkpoint.c - atomic replacement of small files and the offset
 * checkpoint format.
 *
 * The write protocol is Kafka's: <file>.tmp, fsync, rename, fsync the
 * directory. A crash at any point leaves either the old file or the new one
 * (and possibly a stale .tmp, which the next write truncates).
 *
 * Parsing treats the file as untrusted input: the count is bounded before
 * anything is allocated, every line must have exactly three fields, topic
 * names must be legal, numbers must parse completely and lie in range, and
 * the number of lines must equal the count. Any violation is ERR_CORRUPT
 * with a sentence naming the file and the line.
 */
#include "config.h"
#include "broker/log/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"

static void set_err(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!errstr || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errstr, size, fmt, ap);
	va_end(ap);
}

bool topic_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TOPIC_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

int ckpt_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return ERR_IO;
	if (fsync(fd) < 0)
		rc = ERR_IO;
	close(fd);
	return rc;
}

int ckpt_write_file(const char *path, const void *data, size_t len, bool sync,
		    char *errstr, size_t errstr_size)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const uint8_t *p = data;
	size_t done = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		set_err(errstr, errstr_size, "path %s is too long", path);
		return ERR_INVAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(errstr, errstr_size, "cannot create %s: %s", tmp,
			strerror(errno));
		return ERR_IO;
	}
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errno == ENOSPC || errno == EDQUOT ? ERR_NOSPACE
								: ERR_IO;
			set_err(errstr, errstr_size, "cannot write %s: %s", tmp,
				strerror(errno));
			goto err_close;
		}
		done += (size_t)n;
	}
	if (sync && fsync(fd) < 0) {
		rc = ERR_IO;
		set_err(errstr, errstr_size, "cannot fsync %s: %s", tmp,
			strerror(errno));
		goto err_close;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = ERR_IO;
		set_err(errstr, errstr_size, "cannot close %s: %s", tmp,
			strerror(errno));
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = ERR_IO;
		set_err(errstr, errstr_size, "cannot rename %s to %s: %s", tmp,
			path, strerror(errno));
		goto err_unlink;
	}
	if (sync) {
		snprintf(dir, sizeof(dir), "%s", path);
		if (ckpt_sync_dir(dirname(dir)) < 0) {
			set_err(errstr, errstr_size,
				"cannot fsync the directory of %s: %s", path,
				strerror(errno));
			return ERR_IO;
		}
	}
	return 0;
err_close:
	close(fd);
err_unlink:
	unlink(tmp);
	return rc;
}

int ckpt_write_offsets(const char *path, const struct ckpt_entry *e, size_t n,
		       char *errstr, size_t errstr_size)
{
	struct buf b = BUF_INIT;
	char line[TOPIC_NAME_MAX + 64];
	int rc = ERR_NOMEM;
	int len;

	len = snprintf(line, sizeof(line), "0\n%zu\n", n);
	if (buf_append(&b, line, (size_t)len))
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		len =
		    snprintf(line, sizeof(line), "%s %" PRId32 " %" PRId64 "\n",
			     e[i].topic, e[i].partition, e[i].offset);
		if (len >= (int)sizeof(line) ||
		    buf_append(&b, line, (size_t)len))
			goto out_free;
	}
	rc = ckpt_write_file(path, b.data, b.len, true, errstr, errstr_size);
out_free:
	if (rc == ERR_NOMEM)
		set_err(errstr, errstr_size, "out of memory writing %s", path);
	buf_free(&b);
	return rc;
}

int ckpt_slurp(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t done = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
	if (fstat(fd, &st) < 0) {
		rc = ERR_IO;
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = ERR_TOO_LARGE;
		goto out_close;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		rc = ERR_NOMEM;
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, data + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ERR_IO;
			goto out_close;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	data[done] = '\0';
	*out = data;
	*len = done;
	data = NULL;
out_close:
	free(data);
	close(fd);
	return rc;
}

/* Parses a decimal integer that must fill the whole token. */
static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	char *end;
	long long x;

	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return false;
	*v = x;
	return true;
}

void ckpt_free(struct ckpt_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].topic);
	free(e);
}

int ckpt_read_offsets(const char *path, struct ckpt_entry **out, size_t *nout,
		      char *errstr, size_t errstr_size)
{
	struct ckpt_entry *e = NULL;
	char *data = NULL, *line, *save = NULL;
	size_t len, n = 0, count = 0;
	int64_t v;
	int lineno = 0, rc;

	*out = NULL;
	*nout = 0;
	rc = ckpt_slurp(path, (size_t)CKPT_MAX_ENTRIES * 300, &data, &len);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc) {
		set_err(errstr, errstr_size, "cannot read %s: %s", path,
			err_str(rc));
		return rc;
	}
	rc = ERR_CORRUPT;
	if (strlen(data) != len) {
		set_err(errstr, errstr_size, "%s contains a NUL byte", path);
		goto err_free;
	}
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *fs = NULL;
		int nf = 0;

		lineno++;
		for (char *t = strtok_r(line, " ", &fs); t && nf < 4;
		     t = strtok_r(NULL, " ", &fs))
			f[nf++] = t;
		if (lineno == 1) {
			if (nf != 1 || strcmp(f[0], "0") != 0) {
				set_err(errstr, errstr_size,
					"%s line 1: unsupported version", path);
				goto err_free;
			}
			continue;
		}
		if (lineno == 2) {
			if (nf != 1 ||
			    !parse_i64(f[0], 0, CKPT_MAX_ENTRIES, &v)) {
				set_err(errstr, errstr_size,
					"%s line 2: bad entry count", path);
				goto err_free;
			}
			count = (size_t)v;
			e = calloc(count ? count : 1, sizeof(*e));
			if (!e) {
				rc = ERR_NOMEM;
				goto err_free;
			}
			continue;
		}
		if (n >= count) {
			set_err(errstr, errstr_size,
				"%s line %d: more entries than the count %zu",
				path, lineno, count);
			goto err_free;
		}
		if (nf != 3 || !topic_name_valid(f[0])) {
			set_err(errstr, errstr_size,
				"%s line %d: expected \"<topic> <partition> "
				"<offset>\"",
				path, lineno);
			goto err_free;
		}
		if (!parse_i64(f[1], 0, INT32_MAX, &v)) {
			set_err(errstr, errstr_size,
				"%s line %d: bad partition", path, lineno);
			goto err_free;
		}
		e[n].partition = (int32_t)v;
		if (!parse_i64(f[2], -1, INT64_MAX, &v)) {
			set_err(errstr, errstr_size, "%s line %d: bad offset",
				path, lineno);
			goto err_free;
		}
		e[n].offset = v;
		e[n].topic = strdup(f[0]);
		if (!e[n].topic) {
			rc = ERR_NOMEM;
			goto err_free;
		}
		n++;
	}
	if (lineno < 2 || n != count) {
		set_err(errstr, errstr_size,
			"%s: %zu entries where the header says %zu", path, n,
			count);
		goto err_free;
	}
	free(data);
	*out = e;
	*nout = n;
	return 0;
err_free:
	ckpt_free(e, n);
	free(data);
	return rc;
}
