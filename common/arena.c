/*
 * arena.c - bump allocator.
 *
 * Chunks form a singly linked list from the newest; a request larger than
 * the chunk size gets a chunk of its own. Reset frees every chunk except
 * the first, which is what a steady stream of small requests reuses.
 */
#include "config.h"
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

static void *pb_alloc(void *ctx, size_t n)
{
	return arena_alloc(ctx, n);
}

static void pb_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

void arena_init(struct arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->first = NULL;
	a->chunk_size = chunk_size ? chunk_size : 16384;
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;

	if (need < n)
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t size = need > a->chunk_size ? need : a->chunk_size;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		if (!a->first)
			a->first = c;
	}
	c->used += need;
	return c->data + c->used - need;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c && c != a->first) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = a->first;
	if (a->first) {
		a->first->used = 0;
		a->first->next = NULL;
	}
}

void arena_destroy(struct arena *a)
{
	arena_reset(a);
	free(a->first);
	a->first = NULL;
	a->head = NULL;
}
