/*
 * compress.c - the four record batch codecs, framed the way Kafka's Java
 * client frames them so batches cross between the two unchanged.
 *
 *   gzip    zlib with the gzip wrapper (windowBits 15 + 16). Decoding
 *           accepts concatenated members, as java.util.zip does.
 *   snappy  snappy-java's "xerial" stream: a 16-byte header (magic
 *           82 'SNAPPY' 00, version 1, compatible version 1, big-endian
 *           int32s), then blocks of [int32 compressed length][raw snappy
 *           block], each holding at most 32 KB of input (snappy-java's
 *           default block size). Decoding also accepts one raw snappy
 *           block, which some clients write.
 *   lz4     the LZ4 frame format with 64 KB independent blocks, no block
 *           checksums, no content checksum and no content size: what
 *           Kafka's KafkaLZ4BlockOutputStream writes and what its input
 *           stream is sure to read. Decoding takes any valid frame(s).
 *   zstd    one zstd frame (content size included, as zstd-jni writes);
 *           decoding accepts concatenated frames.
 *
 * Decompression is the untrusted direction: the input is whatever a peer
 * sent. Every decoder writes into the caller's buffer through a window
 * that never lets the output pass max_out + 1 bytes; producing that extra
 * byte is how "would inflate past max_out" is detected (ERR_TOO_LARGE)
 * without trusting any length the input claims. The buffer grows by
 * doubling inside that window. On any error the buffer's length is put
 * back to what it was on entry (its capacity may have grown).
 *
 * No state is kept between calls (each call creates and frees its library
 * context), so every function is safe from any thread.
 */
#include "config.h"
#include "compress.h"

#include <limits.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "err.h"

#define SNAPPY_BLOCK	   (32 * 1024)
#define XERIAL_HEADER_SIZE 16
#define OUT_MIN_STEP	   4096

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4",
					  "zstd"};

int compress_codec_parse(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
		if (strcmp(name, codec_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *compress_codec_name(int codec)
{
	if (codec < 0 || codec > COMPRESS_ZSTD)
		return "unknown";
	return codec_names[codec];
}

/* ------------------------------------------------------------ output */

/*
 * The bounded output window of one decompression: out->len on entry
 * (start) and the most bytes this call may produce before it knows the
 * payload is too large (limit = max_out + 1, saturated).
 */
struct outwin {
	struct buf *out;
	size_t start;
	size_t limit;
};

static void outwin_init(struct outwin *w, struct buf *out, size_t max_out)
{
	w->out = out;
	w->start = out->len;
	w->limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
}

static size_t outwin_produced(const struct outwin *w)
{
	return w->out->len - w->start;
}

/*
 * Makes room for more output and returns in *room how many bytes may be
 * written at out->data + out->len (at least 1, at most what the window
 * still allows). hint is a guess of the output still to come.
 */
static int outwin_room(struct outwin *w, size_t hint, size_t *room)
{
	struct buf *out = w->out;
	size_t produced = outwin_produced(w);
	size_t left = w->limit - produced;
	size_t want;

	want = produced > OUT_MIN_STEP ? produced : OUT_MIN_STEP;
	if (hint > want)
		want = hint;
	if (want > left)
		want = left;
	if (out->cap - out->len < want && buf_reserve(out, want) < 0)
		return ERR_NOMEM;
	*room = out->cap - out->len;
	if (*room > left)
		*room = left;
	return 0;
}

/* ------------------------------------------------------------ gzip */

static int gzip_compress(int level, const uint8_t *in, size_t len,
			 struct buf *out)
{
	z_stream zs;
	uLong bound;
	size_t start = out->len;
	int rc = ERR_CORRUPT;
	int zr;

	if (len > UINT_MAX)
		return ERR_TOO_LARGE;
	if (level < 0)
		level = Z_DEFAULT_COMPRESSION;
	else if (level > 9)
		level = 9;
	memset(&zs, 0, sizeof(zs));
	zr = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8,
			  Z_DEFAULT_STRATEGY);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? ERR_NOMEM : ERR_CORRUPT;
	bound = deflateBound(&zs, (uLong)len);
	if (bound > UINT_MAX) {
		rc = ERR_TOO_LARGE;
		goto err_end;
	}
	if (buf_reserve(out, bound) < 0) {
		rc = ERR_NOMEM;
		goto err_end;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out->data + start;
	zs.avail_out = (uInt)bound;
	zr = deflate(&zs, Z_FINISH);
	if (zr != Z_STREAM_END)
		goto err_end;
	out->len = start + (size_t)zs.total_out;
	rc = 0;
err_end:
	deflateEnd(&zs);
	return rc;
}

static int gzip_decompress(const uint8_t *in, size_t len, size_t max_out,
			   struct buf *out)
{
	struct outwin w;
	z_stream zs;
	size_t room, wrote;
	int rc = ERR_CORRUPT;
	int zr;

	if (len > UINT_MAX)
		return ERR_TOO_LARGE;
	outwin_init(&w, out, max_out);
	memset(&zs, 0, sizeof(zs));
	zr = inflateInit2(&zs, 15 + 16);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? ERR_NOMEM : ERR_CORRUPT;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		rc = outwin_room(&w, (size_t)zs.avail_in * 4, &room);
		if (rc < 0)
			goto err_end;
		if (room > UINT_MAX)
			room = UINT_MAX;
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)room;
		zr = inflate(&zs, Z_NO_FLUSH);
		wrote = room - zs.avail_out;
		out->len += wrote;
		if (outwin_produced(&w) > max_out) {
			rc = ERR_TOO_LARGE;
			goto err_end;
		}
		if (zr == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows. */
			if (inflateReset(&zs) != Z_OK) {
				rc = ERR_CORRUPT;
				goto err_end;
			}
			continue;
		}
		if (zr == Z_MEM_ERROR) {
			rc = ERR_NOMEM;
			goto err_end;
		}
		if ((zr != Z_OK && zr != Z_BUF_ERROR) ||
		    (zs.avail_in == 0 && wrote < room)) {
			/* Bad data, or all input used mid-stream. */
			rc = ERR_CORRUPT;
			goto err_end;
		}
	}
	rc = 0;
err_end:
	inflateEnd(&zs);
	if (rc < 0)
		out->len = w.start;
	return rc;
}

/* ------------------------------------------------------------ snappy */

static int snappy_compress_xerial(const uint8_t *in, size_t len,
				  struct buf *out)
{
	size_t start = out->len;
	size_t chunk, clen;
	uint8_t *hdr;
	int rc = 0;

	hdr = buf_extend(out, XERIAL_HEADER_SIZE);
	if (!hdr)
		return ERR_NOMEM;
	memcpy(hdr, xerial_magic, sizeof(xerial_magic));
	be32_put(hdr + 8, 1);
	be32_put(hdr + 12, 1);
	while (len > 0) {
		chunk = len < SNAPPY_BLOCK ? len : SNAPPY_BLOCK;
		clen = snappy_max_compressed_length(chunk);
		if (buf_reserve(out, 4 + clen) < 0) {
			rc = ERR_NOMEM;
			goto err_reset;
		}
		if (snappy_compress((const char *)in, chunk,
				    (char *)out->data + out->len + 4,
				    &clen) != SNAPPY_OK) {
			rc = ERR_CORRUPT;
			goto err_reset;
		}
		be32_put(out->data + out->len, (uint32_t)clen);
		out->len += 4 + clen;
		in += chunk;
		len -= chunk;
	}
	return 0;
err_reset:
	out->len = start;
	return rc;
}

/* Appends one raw snappy block, checking its claimed size first. */
static int snappy_block_decode(struct outwin *w, size_t max_out,
			       const uint8_t *in, size_t len)
{
	struct buf *out = w->out;
	size_t ulen;

	if (snappy_uncompressed_length((const char *)in, len, &ulen) !=
	    SNAPPY_OK)
		return ERR_CORRUPT;
	if (ulen > max_out - outwin_produced(w))
		return ERR_TOO_LARGE;
	if (buf_reserve(out, ulen) < 0)
		return ERR_NOMEM;
	if (snappy_uncompress((const char *)in, len,
			      (char *)out->data + out->len, &ulen) != SNAPPY_OK)
		return ERR_CORRUPT;
	out->len += ulen;
	return 0;
}

static int snappy_decompress(const uint8_t *in, size_t len, size_t max_out,
			     struct buf *out)
{
	const uint8_t *end = in + len;
	struct outwin w;
	uint32_t blen;
	int rc;

	outwin_init(&w, out, max_out);
	if (len < XERIAL_HEADER_SIZE ||
	    memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0) {
		rc = snappy_block_decode(&w, max_out, in, len);
		goto out_done;
	}
	in += XERIAL_HEADER_SIZE;
	rc = 0;
	while (in < end) {
		if (end - in < 4) {
			rc = ERR_CORRUPT;
			break;
		}
		blen = be32_get(in);
		in += 4;
		if (blen > (size_t)(end - in)) {
			rc = ERR_CORRUPT;
			break;
		}
		rc = snappy_block_decode(&w, max_out, in, blen);
		if (rc < 0)
			break;
		in += blen;
	}
out_done:
	if (rc < 0)
		out->len = w.start;
	return rc;
}

/* ------------------------------------------------------------ lz4 */

static int lz4_compress(int level, const uint8_t *in, size_t len,
			struct buf *out)
{
	LZ4F_preferences_t prefs;
	size_t bound, n;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	prefs.compressionLevel = level < 0 ? 0 : level;
	bound = LZ4F_compressFrameBound(len, &prefs);
	if (buf_reserve(out, bound) < 0)
		return ERR_NOMEM;
	n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
	if (LZ4F_isError(n))
		return ERR_CORRUPT;
	out->len += n;
	return 0;
}

static int lz4_decompress(const uint8_t *in, size_t len, size_t max_out,
			  struct buf *out)
{
	LZ4F_dctx *dctx = NULL;
	struct outwin w;
	size_t room, dst_n, src_n, hint = 0;
	int rc;

	outwin_init(&w, out, max_out);
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return ERR_NOMEM;
	for (;;) {
		rc = outwin_room(&w, len * 4, &room);
		if (rc < 0)
			goto err_free;
		dst_n = room;
		src_n = len;
		hint = LZ4F_decompress(dctx, out->data + out->len, &dst_n, in,
				       &src_n, NULL);
		if (LZ4F_isError(hint)) {
			rc = ERR_CORRUPT;
			goto err_free;
		}
		in += src_n;
		len -= src_n;
		out->len += dst_n;
		if (outwin_produced(&w) > max_out) {
			rc = ERR_TOO_LARGE;
			goto err_free;
		}
		if (hint == 0 && len == 0)
			break; /* frame complete, no more input */
		if (hint != 0 && len == 0 && dst_n < room) {
			/* The frame needs input that is not there. */
			rc = ERR_CORRUPT;
			goto err_free;
		}
		if (src_n == 0 && dst_n == 0) {
			rc = ERR_CORRUPT; /* no progress possible */
			goto err_free;
		}
	}
	rc = 0;
err_free:
	LZ4F_freeDecompressionContext(dctx);
	if (rc < 0)
		out->len = w.start;
	return rc;
}

/* ------------------------------------------------------------ zstd */

static int zstd_compress(int level, const uint8_t *in, size_t len,
			 struct buf *out)
{
	size_t bound = ZSTD_compressBound(len);
	size_t n;

	if (ZSTD_isError(bound))
		return ERR_TOO_LARGE;
	if (level < 0)
		level = ZSTD_CLEVEL_DEFAULT;
	else if (level > ZSTD_maxCLevel())
		level = ZSTD_maxCLevel();
	if (buf_reserve(out, bound) < 0)
		return ERR_NOMEM;
	n = ZSTD_compress(out->data + out->len, bound, in, len, level);
	if (ZSTD_isError(n))
		return ERR_CORRUPT;
	out->len += n;
	return 0;
}

static int zstd_decompress(const uint8_t *in, size_t len, size_t max_out,
			   struct buf *out)
{
	ZSTD_DCtx *dctx;
	ZSTD_inBuffer ib = {in, len, 0};
	ZSTD_outBuffer ob;
	struct outwin w;
	size_t room, zr;
	int rc;

	outwin_init(&w, out, max_out);
	dctx = ZSTD_createDCtx();
	if (!dctx)
		return ERR_NOMEM;
	for (;;) {
		rc = outwin_room(&w, (len - ib.pos) * 4, &room);
		if (rc < 0)
			goto err_free;
		ob.dst = out->data + out->len;
		ob.size = room;
		ob.pos = 0;
		zr = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(zr)) {
			rc = ERR_CORRUPT;
			goto err_free;
		}
		out->len += ob.pos;
		if (outwin_produced(&w) > max_out) {
			rc = ERR_TOO_LARGE;
			goto err_free;
		}
		if (zr == 0 && ib.pos == ib.size)
			break; /* frame complete and flushed, input used */
		if (zr != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			rc = ERR_CORRUPT; /* truncated frame */
			goto err_free;
		}
	}
	rc = 0;
err_free:
	ZSTD_freeDCtx(dctx);
	if (rc < 0)
		out->len = w.start;
	return rc;
}

/* ------------------------------------------------------------ API */

int compress_append(int codec, int level, const uint8_t *in, size_t len,
		    struct buf *out)
{
	switch (codec) {
	case COMPRESS_NONE:
		return buf_append(out, in, len);
	case COMPRESS_GZIP:
		return gzip_compress(level, in, len, out);
	case COMPRESS_SNAPPY:
		return snappy_compress_xerial(in, len, out);
	case COMPRESS_LZ4:
		return lz4_compress(level, in, len, out);
	case COMPRESS_ZSTD:
		return zstd_compress(level, in, len, out);
	default:
		return ERR_UNSUPPORTED;
	}
}

int decompress_append(int codec, const uint8_t *in, size_t len, size_t max_out,
		      struct buf *out)
{
	switch (codec) {
	case COMPRESS_NONE:
		if (len > max_out)
			return ERR_TOO_LARGE;
		return buf_append(out, in, len);
	case COMPRESS_GZIP:
		return gzip_decompress(in, len, max_out, out);
	case COMPRESS_SNAPPY:
		return snappy_decompress(in, len, max_out, out);
	case COMPRESS_LZ4:
		return lz4_decompress(in, len, max_out, out);
	case COMPRESS_ZSTD:
		return zstd_decompress(in, len, max_out, out);
	default:
		return ERR_UNSUPPORTED;
	}
}
