/*
 * dump-log.c - fluxo-dump-log: prints the batches and records of segment
 * files and the entries of index files, in the layout of Kafka's
 * kafka-dump-log.sh. It reads files directly (dumplog.h) and needs no
 * broker.
 *
 * --files takes a comma-separated list and, as a convenience, any further
 * file names after it. Exit status: 0; 1 for a usage error, for an
 * unreadable file, or with --verify when any file holds corrupt or torn
 * data (the first bad byte is always reported on stderr).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dumplog.h"
#include "toolcommon.h"

enum {
	F_FILES = 1,
	F_PRINT_DATA,
	F_DEEP,
	F_VERIFY,
	F_INDEX_SANITY,
	F_MAX_BATCH,
};

static const struct tool_flag flags[] = {
	{ "files", TOOL_ARG_MULTI, "FILE[,FILE...]",
	  "REQUIRED: the .log, .index and .timeindex files to dump, "
	  "separated by commas (more may follow as separate arguments).",
	  F_FILES },
	{ "print-data-log", TOOL_ARG_NONE, NULL,
	  "Print every record with its key and payload.", F_PRINT_DATA },
	{ "deep-iteration", TOOL_ARG_NONE, NULL,
	  "Print every record (without key and payload).", F_DEEP },
	{ "verify", TOOL_ARG_NONE, NULL,
	  "Exit with status 1 if a file holds corrupt or torn data.",
	  F_VERIFY },
	{ "index-sanity-check", TOOL_ARG_NONE, NULL,
	  "Only check that index files are sane; do not print their "
	  "entries.",
	  F_INDEX_SANITY },
	{ "max-batch-bytes", TOOL_ARG_REQUIRED, "BYTES",
	  "Treat batches larger than this as corrupt (default 268435456).",
	  F_MAX_BATCH },
	TOOL_FLAG_END
};

static const struct tool_spec spec = {
	.prog = "fluxo-dump-log",
	.synopsis = "--files FILE[,FILE...] [--print-data-log] [--verify]",
	.summary = "Parses segment and index files and dumps their contents "
		   "to the console; useful for debugging a seemingly corrupt "
		   "log segment.",
	.flags = flags,
	.positional_ok = true,
};

struct opts {
	struct dumplog_opts d;
	bool verify;
	char **files;
	size_t nfiles;
	size_t cap;
	bool files_flag;
};

static int add_files(struct opts *o, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len > 0) {
			if (o->nfiles == o->cap) {
				size_t cap = o->cap ? o->cap * 2 : 8;
				char **n = realloc(o->files,
						   cap * sizeof(*n));

				if (!n)
					return tool_error(&spec,
							  "out of memory");
				o->files = n;
				o->cap = cap;
			}
			o->files[o->nfiles] = strndup(p, len);
			if (!o->files[o->nfiles])
				return tool_error(&spec, "out of memory");
			o->nfiles++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int on_flag(void *ctx, const struct tool_flag *f, const char *arg)
{
	struct opts *o = ctx;
	int64_t v;

	if (!f) {
		if (!o->files_flag)
			return tool_usage_error(&spec,
						"unexpected argument '%s' "
						"(give files with --files)",
						arg);
		return add_files(o, arg);
	}
	switch (f->id) {
	case F_FILES:
		o->files_flag = true;
		return add_files(o, arg);
	case F_PRINT_DATA:
		o->d.print_data = true;
		return 0;
	case F_DEEP:
		o->d.deep = true;
		return 0;
	case F_VERIFY:
		o->verify = true;
		return 0;
	case F_INDEX_SANITY:
		o->d.index_sanity = true;
		return 0;
	case F_MAX_BATCH:
		if (tool_parse_i64(&spec, "--max-batch-bytes", arg, 61,
				   INT32_MAX, &v) != 0)
			return TOOL_ERROR;
		o->d.max_batch_bytes = (size_t)v;
		return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	bool bad = false, unreadable = false;
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	o.d.max_batch_bytes = DUMPLOG_MAX_BATCH_DEFAULT;
	rc = tool_parse_args(&spec, argc, argv, on_flag, &o);
	if (rc == TOOL_CONTINUE && o.nfiles == 0)
		rc = tool_usage_error(&spec,
				      "--files is required (e.g. --files "
				      "00000000000000000000.log)");
	for (i = 0; rc == TOOL_CONTINUE && i < o.nfiles; i++) {
		int r = dumplog_file(spec.prog, o.files[i], &o.d, stdout,
				     stderr);

		if (r == DUMPLOG_BAD)
			bad = true;
		else if (r == DUMPLOG_UNREADABLE)
			unreadable = true;
	}
	for (i = 0; i < o.nfiles; i++)
		free(o.files[i]);
	free(o.files);
	fflush(stdout);
	if (rc != TOOL_CONTINUE)
		return rc == TOOL_DONE ? 0 : 1;
	return unreadable || (bad && o.verify) ? 1 : 0;
}
