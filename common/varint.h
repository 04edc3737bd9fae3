/*
 * varint.h - zig-zag variable-length integers, as in protobuf and Kafka's
 * record format.
 *
 * Decoders never read past end: they return the number of bytes consumed,
 * or 0 when the input is truncated or the varint is longer than its type
 * allows (5 bytes for 32-bit, 10 for 64-bit). Encoders write at most
 * VARINT32_MAX / VARINT64_MAX bytes and return the count written.
 */
#ifndef FLUXO_VARINT_H
#define FLUXO_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT32_MAX 5
#define VARINT64_MAX 10

size_t varint_encode_i32(uint8_t *p, int32_t v);
size_t varint_encode_i64(uint8_t *p, int64_t v);
size_t varint_decode_i32(const uint8_t *p, const uint8_t *end, int32_t *v);
size_t varint_decode_i64(const uint8_t *p, const uint8_t *end, int64_t *v);

/* Encoded size of v, without writing it. */
size_t varint_size_i32(int32_t v);
size_t varint_size_i64(int64_t v);

#endif
