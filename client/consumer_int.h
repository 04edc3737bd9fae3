/*
 * consumer_int.h - the consumer's fetched-data iterator, shared between
 * consumer.c (threads, fetching) and its unit test.
 *
 * A fetch response is kept whole (its frame is the record memory) and
 * described by a struct fitem: one fpart per partition with data or an
 * error. The application thread walks items with struct citer: batches
 * are validated (CRC when check.crcs), control batches and records below
 * the partition's position are skipped, and each record becomes the
 * borrowed fluxo_message_t that fluxo_consumer_poll() returns.
 */
#ifndef FLUXO_CLIENT_CONSUMER_INT_H
#define FLUXO_CLIENT_CONSUMER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/batch.h"
#include "fluxo.h"

struct fpart {
	struct ctp *tp;
	uint32_t version; /* tp's version when the fetch was sent */
	int err;	  /* 0, or an error event for the partition */
	char *errstr;
	const uint8_t *data; /* record batches */
	size_t len;
	int64_t fetch_offset; /* the offset this data was fetched from */
	int64_t hw;
};

struct fitem {
	struct fitem *next;
	void *resp;   /* struct resp owning data, or NULL */
	size_t bytes; /* counted against the queue bound */
	int cnt;
	struct fpart parts[];
};

/* Where the application thread is in the current item. */
struct citer {
	const struct fpart *part;
	const char *topic;
	int32_t partition;
	int64_t *position;	  /* the partition's position (app thread) */
	const uint8_t *pos, *end; /* batches left in the part */
	bool in_batch;
	struct batch_header h;
	struct batch_reader rd;
	struct record rec;
	bool check_crcs;
	size_t max_decompressed;
};

/*
 * Starts iterating part (its tp's topic, partition and position given
 * separately so the test needs no consumer).
 */
void citer_start(struct citer *it, const struct fpart *part, const char *topic,
		 int32_t partition, int64_t *position);

/*
 * Fills m with the next record at or after *position (advancing it) and
 * returns 1; returns 0 when the part is exhausted; returns -1 with m set
 * to an error event (FLUXO_ERR__BAD_MSG, errstr in errbuf) when a batch is
 * corrupt, after which the rest of the part is skipped.
 */
int citer_next(struct citer *it, fluxo_message_t *m, char *errbuf,
	       size_t errbuf_size);

/* Drops the rest of the current part. */
void citer_abort(struct citer *it);

/* Frees the iterator's decompression buffer. */
void citer_free(struct citer *it);

/*
 * Walks the complete batches at the start of data[0..len) (headers only)
 * and returns the offset after the last record of the last complete batch,
 * or -1 when not even one batch is complete.
 */
int64_t citer_next_fetch_offset(const uint8_t *data, size_t len);

#endif
