/*
 * rawclient.c - helpers of the raw-protocol test clients (rawclient.h).
 */
#include "config.h"
#include "rawclient.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rc_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

void rc_list_offsets_init(struct rc_list_offsets *lo, const char *topic,
			  int32_t partition, int64_t timestamp)
{
	fluxo__request__init(&lo->req);
	fluxo__list_offsets_request__init(&lo->lr);
	fluxo__list_offsets_topic__init(&lo->t);
	fluxo__list_offsets_partition__init(&lo->p);
	lo->p.partition = partition;
	lo->p.current_leader_epoch = -1;
	lo->p.timestamp = timestamp;
	lo->pp = &lo->p;
	lo->t.name = (char *)topic;
	lo->t.partitions = &lo->pp;
	lo->t.n_partitions = 1;
	lo->tp = &lo->t;
	lo->lr.replica_id = -1;
	lo->lr.topics = &lo->tp;
	lo->lr.n_topics = 1;
	lo->req.api = FLUXO__API_KEY__LIST_OFFSETS;
	lo->req.body_case = FLUXO__REQUEST__BODY_LIST_OFFSETS;
	lo->req.list_offsets = &lo->lr;
}
