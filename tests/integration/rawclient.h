/*
 * rawclient.h - what the integration tests' raw-protocol clients
 * (badinput, idem_client, probe_client) share: a fatal error that names
 * the program, and a ListOffsets request for one partition built in place.
 * They speak the wire protocol directly (common/rpc.h) so that one request
 * is one call, with no client-side batching or retries in between.
 */
#ifndef FLUXO_TESTS_RAWCLIENT_H
#define FLUXO_TESTS_RAWCLIENT_H

#include <stdint.h>

#include "fluxo.pb-c.h"

/* Prints "PROGRAM: message" on stderr and exits 1. */
void rc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* A ListOffsets request (consumer, replica_id -1) for one partition, all
 * of it inside the struct: send lo->req while lo lives. */
struct rc_list_offsets {
	Fluxo__Request req;
	Fluxo__ListOffsetsRequest lr;
	Fluxo__ListOffsetsTopic t;
	Fluxo__ListOffsetsPartition p;
	Fluxo__ListOffsetsTopic *tp;
	Fluxo__ListOffsetsPartition *pp;
};

/* timestamp: -1 latest, -2 earliest, else the first offset at or after
 * it. topic is borrowed while lo is used. */
void rc_list_offsets_init(struct rc_list_offsets *lo, const char *topic,
			  int32_t partition, int64_t timestamp);

#endif
