/*
 * murmur2.c - MurmurHash2 exactly as Kafka's Java client computes it
 * (org.apache.kafka.common.utils.Utils.murmur2), so that a keyed record
 * goes to the same partition whichever producer sends it.
 *
 * Kafka's variant: seed 0x9747b28c xor the length, the body read as
 * little-endian 32-bit words, the 1..3 tail bytes folded in from the
 * highest down, then the final avalanche. Everything is unsigned 32-bit
 * arithmetic, which matches Java's wrapping int arithmetic and its >>>
 * shifts. Pure functions; safe from any thread.
 */
#include "config.h"
#include "murmur2.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M    0x5bd1e995u

uint32_t murmur2(const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t words = len / 4;
	uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
	uint32_t k;
	size_t i;

	for (i = 0; i < words; i++, p += 4) {
		k = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		k *= MURMUR2_M;
		k ^= k >> 24;
		k *= MURMUR2_M;
		h *= MURMUR2_M;
		h ^= k;
	}
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)p[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)p[1] << 8;
		/* fall through */
	case 1:
		h ^= p[0];
		h *= MURMUR2_M;
		break;
	default:
		break;
	}
	h ^= h >> 13;
	h *= MURMUR2_M;
	h ^= h >> 15;
	return h;
}

int32_t murmur2_partition(const void *key, size_t len, int32_t partition_cnt)
{
	uint32_t h = murmur2(key, len) & 0x7fffffffu;

	return (int32_t)(h % (uint32_t)partition_cnt);
}
