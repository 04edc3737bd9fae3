/*
 * varint.c - zig-zag variable-length integers (protobuf's sint32/sint64,
 * Kafka's record fields).
 *
 * Zig-zag maps signed to unsigned so that small magnitudes of either sign
 * encode short (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...); the unsigned value is
 * then written seven bits per byte, least significant group first, the top
 * bit of each byte saying "more follows".
 *
 * Decoders are strict because their input comes from the network and the
 * disk: they never read at or past end, and they reject a varint longer
 * than its type allows or whose last byte carries bits the type cannot
 * hold (so every accepted encoding decodes to exactly one value). Both
 * return 0 for a bad input, which no valid varint ever consumes.
 *
 * Pure functions; safe from any thread.
 */
#include "config.h"
#include "varint.h"

static inline uint32_t zz32(int32_t v)
{
	uint32_t u = (uint32_t)v << 1;

	return v < 0 ? ~u : u;
}

static inline uint64_t zz64(int64_t v)
{
	uint64_t u = (uint64_t)v << 1;

	return v < 0 ? ~u : u;
}

static inline int32_t unzz32(uint32_t u)
{
	return (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
}

static inline int64_t unzz64(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static size_t put_u64(uint8_t *p, uint64_t u)
{
	size_t n = 0;

	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

static size_t size_u64(uint64_t u)
{
	size_t n = 1;

	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

size_t varint_encode_i32(uint8_t *p, int32_t v)
{
	return put_u64(p, zz32(v));
}

size_t varint_encode_i64(uint8_t *p, int64_t v)
{
	return put_u64(p, zz64(v));
}

size_t varint_size_i32(int32_t v)
{
	return size_u64(zz32(v));
}

size_t varint_size_i64(int64_t v)
{
	return size_u64(zz64(v));
}

/*
 * Reads an unsigned varint of at most maxlen bytes whose last byte may
 * hold at most lastbits significant bits. Returns the bytes consumed or 0.
 */
static size_t get_u64(const uint8_t *p, const uint8_t *end, size_t maxlen,
		      unsigned lastbits, uint64_t *out)
{
	uint64_t u = 0;
	size_t i;
	uint8_t b;

	for (i = 0; i < maxlen; i++) {
		if (p + i >= end)
			return 0;
		b = p[i];
		if (i == maxlen - 1) {
			if (b >> lastbits)
				return 0;
			u |= (uint64_t)b << (7 * i);
			*out = u;
			return i + 1;
		}
		u |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = u;
			return i + 1;
		}
	}
	return 0;
}

size_t varint_decode_i32(const uint8_t *p, const uint8_t *end, int32_t *v)
{
	uint64_t u;
	size_t n;

	if (p < end && p[0] < 0x80) {
		*v = unzz32(p[0]);
		return 1;
	}
	/* 5 bytes: 4 * 7 = 28 bits, so the fifth holds the top 4. */
	n = get_u64(p, end, VARINT32_MAX, 4, &u);
	if (n)
		*v = unzz32((uint32_t)u);
	return n;
}

size_t varint_decode_i64(const uint8_t *p, const uint8_t *end, int64_t *v)
{
	uint64_t u;
	size_t n;

	if (p < end && p[0] < 0x80) {
		*v = unzz64(p[0]);
		return 1;
	}
	/* 10 bytes: 9 * 7 = 63 bits, so the tenth holds the top 1. */
	n = get_u64(p, end, VARINT64_MAX, 1, &u);
	if (n)
		*v = unzz64(u);
	return n;
}
