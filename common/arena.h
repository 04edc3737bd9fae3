/*
 * arena.h - a bump allocator for short-lived request state.
 *
 * Decoding a protobuf head allocates one object per nested message and
 * string; an arena turns that into pointer bumps and one reset per
 * request. Memory comes in chunks that are kept across resets (the first
 * chunk only, to bound idle memory). Not thread-safe: one arena per
 * connection or per thread.
 */
#ifndef FLUXO_ARENA_H
#define FLUXO_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;	/* current chunk */
	struct arena_chunk *first;	/* kept across resets */
	size_t chunk_size;
	ProtobufCAllocator pb;		/* allocator view for protobuf-c */
};

/* chunk_size 0 picks 16 KiB. */
void arena_init(struct arena *a, size_t chunk_size);
/* Returns 16-byte aligned memory, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* Frees everything allocated since init or the last reset. */
void arena_reset(struct arena *a);
void arena_destroy(struct arena *a);
/* protobuf-c allocator backed by the arena (free is a no-op). */
static inline ProtobufCAllocator *arena_pb(struct arena *a)
{
	return &a->pb;
}

#endif
