/*
 * frame.c - frame prefix parsing and head encoding.
 */
#include "config.h"
#include "frame.h"

#include "err.h"

int frame_parse_prefix(const uint8_t *p, size_t avail, uint32_t max_frame,
		       struct frame_info *fi)
{
	if (avail < FRAME_PREFIX_SIZE)
		return ERR_AGAIN;
	fi->frame_len = be32_get(p);
	fi->head_len = be32_get(p + 4);
	if (fi->frame_len > max_frame)
		return ERR_TOO_LARGE;
	if (fi->frame_len < 4 || fi->head_len == 0 ||
	    fi->head_len > fi->frame_len - 4)
		return ERR_PROTO;
	fi->payload_len = fi->frame_len - 4 - fi->head_len;
	fi->total = 4 + (size_t)fi->frame_len;
	return 0;
}

int frame_encode_head(struct buf *out, const ProtobufCMessage *head,
		      size_t payload_len)
{
	size_t head_len = protobuf_c_message_get_packed_size(head);
	uint64_t frame_len = 4 + (uint64_t)head_len + payload_len;
	uint8_t *p;

	if (frame_len > UINT32_MAX)
		return ERR_TOO_LARGE;
	p = buf_extend(out, FRAME_PREFIX_SIZE + head_len);
	if (!p)
		return ERR_NOMEM;
	be32_put(p, (uint32_t)frame_len);
	be32_put(p + 4, (uint32_t)head_len);
	protobuf_c_message_pack(head, p + FRAME_PREFIX_SIZE);
	return 0;
}
