/*
 * dumplog.h - reading segment files for fluxo-dump-log, in the layout of
 * Kafka's DumpLogSegments: one line per record batch, optionally one line
 * per record, and the entries of .index and .timeindex files.
 *
 * The files are read with pread in batch-sized pieces (never mapped, so a
 * segment truncated while we read it gives a short read, not SIGBUS), and
 * every length is checked before it is trusted: garbage input yields a
 * report of the first bad byte, never a crash or a huge allocation.
 *
 * Threads: none.
 */
#ifndef FLUXO_DUMPLOG_H
#define FLUXO_DUMPLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct dumplog_opts {
	bool print_data;	/* --print-data-log: records with key/payload */
	bool deep;		/* --deep-iteration: records, no data */
	bool index_sanity;	/* --index-sanity-check: check, don't list */
	size_t max_batch_bytes;	/* larger batches count as corrupt */
};

#define DUMPLOG_MAX_BATCH_DEFAULT (256u << 20)

/* Results of dumplog_file(). */
#define DUMPLOG_CLEAN 0		/* every byte accounted for */
#define DUMPLOG_BAD 1		/* corrupt or torn data found (reported) */
#define DUMPLOG_UNREADABLE 2	/* the file could not be opened or read */

/*
 * Dumps one file, chosen by its suffix (.log, .index, .timeindex): prints
 * "Dumping <path>" and the contents to out; problems (the position of the
 * first bad byte and why) to err as "<prog>: <path>: ...". Files with other
 * suffixes are reported on err and skipped (DUMPLOG_CLEAN, as Kafka ignores
 * them).
 */
int dumplog_file(const char *prog, const char *path,
		 const struct dumplog_opts *o, FILE *out, FILE *err);

#endif
