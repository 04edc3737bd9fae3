/*
 * murmur2.h - Kafka's key partitioner hash.
 *
 * MurmurHash2, 32-bit, seed 0x9747b28c, byte order and tail handling as in
 * Kafka's Java client, so that a key lands on the same partition with
 * fluxo's producer as with Kafka's.
 */
#ifndef FLUXO_MURMUR2_H
#define FLUXO_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

uint32_t murmur2(const void *data, size_t len);

/* Kafka's DefaultPartitioner for a non-null key:
 * (murmur2(key) & 0x7fffffff) % partition_cnt. partition_cnt > 0. */
int32_t murmur2_partition(const void *key, size_t len, int32_t partition_cnt);

#endif
