/*
 * compress.h - the record batch compression codecs.
 *
 * Codec numbers are those of the batch attributes (bits 0-2): 0 none,
 * 1 gzip, 2 snappy, 3 lz4, 4 zstd. The framing of each matches what Kafka's
 * clients write, so batches interoperate:
 *   gzip   - a gzip stream (RFC 1952);
 *   snappy - the xerial "snappy-java" stream framing (magic
 *            82 'SNAPPY' 00, version, compat, then length-prefixed
 *            blocks); decoding also accepts a raw snappy block;
 *   lz4    - the LZ4 frame format;
 *   zstd   - a zstd frame.
 * Decompression is bounded by max_out: a payload that would inflate past
 * it fails with ERR_TOO_LARGE rather than exhausting memory.
 */
#ifndef FLUXO_COMPRESS_H
#define FLUXO_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum compress_codec {
	COMPRESS_NONE = 0,
	COMPRESS_GZIP = 1,
	COMPRESS_SNAPPY = 2,
	COMPRESS_LZ4 = 3,
	COMPRESS_ZSTD = 4,
};

/* "none", "gzip", "snappy", "lz4", "zstd" -> codec, or -1. */
int compress_codec_parse(const char *name);
const char *compress_codec_name(int codec);

/*
 * Appends the compressed form of in[0..len) to out. level < 0 picks the
 * codec's default. Returns 0, ERR_UNSUPPORTED for an unknown codec,
 * ERR_NOMEM, or ERR_CORRUPT if the library fails.
 */
int compress_append(int codec, int level, const uint8_t *in, size_t len,
		    struct buf *out);

/*
 * Appends the decompressed form of in[0..len) to out, producing at most
 * max_out bytes. Returns 0, ERR_UNSUPPORTED, ERR_CORRUPT for bad input,
 * ERR_TOO_LARGE when the output would pass max_out, or ERR_NOMEM.
 */
int decompress_append(int codec, const uint8_t *in, size_t len,
		      size_t max_out, struct buf *out);

#endif
