/*
 * frame.h - the connection framing shared by every peer.
 *
 *   u32 frame_len | u32 head_len | head (protobuf) | payload
 *
 * frame_len counts every byte after itself (4 + head_len + payload_len).
 * Lengths are checked against the configured maximum before anything is
 * allocated, so an oversized or garbage prefix costs nothing but a closed
 * connection.
 */
#ifndef FLUXO_FRAME_H
#define FLUXO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "buf.h"

#define FRAME_PREFIX_SIZE 8

struct frame_info {
	uint32_t frame_len;	/* bytes after the first four */
	uint32_t head_len;
	uint32_t payload_len;
	size_t total;		/* 4 + frame_len: bytes of the whole frame */
};

/*
 * Parses the 8-byte prefix at p (avail bytes present).
 * Returns 0 with *fi filled; ERR_AGAIN when fewer than 8 bytes are
 * present; ERR_TOO_LARGE when frame_len > max_frame; ERR_PROTO when the
 * lengths are inconsistent (head_len > frame_len - 4, or head_len == 0).
 */
int frame_parse_prefix(const uint8_t *p, size_t avail, uint32_t max_frame,
		       struct frame_info *fi);

/*
 * Appends a frame prefix and the packed head to out; the caller then
 * appends payload_len bytes of payload (or sends them separately, e.g.
 * with sendfile). Returns 0, ERR_NOMEM, or ERR_TOO_LARGE if the frame
 * would exceed 4 GiB.
 */
int frame_encode_head(struct buf *out, const ProtobufCMessage *head,
		      size_t payload_len);

#endif
