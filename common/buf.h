/*
 * buf.h - a growable byte buffer and big-endian load/store helpers.
 *
 * struct buf is a plain value type (not opaque): callers embed it and read
 * data/len directly. Growth doubles the capacity; buf_free() releases it and
 * leaves an empty buffer that may be reused.
 */
#ifndef FLUXO_BUF_H
#define FLUXO_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Ensures room for extra more bytes. Returns 0 or ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes. Returns 0 or ERR_NOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Grows len by n and returns a pointer to the n new (uninitialised) bytes,
 * or NULL on allocation failure. */
void *buf_extend(struct buf *b, size_t n);
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

static inline void buf_reset(struct buf *b)
{
	b->len = 0;
}

static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

#endif
