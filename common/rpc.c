/*
 * rpc.c - synchronous frame exchange.
 */
#include "config.h"
#include "rpc.h"

#include "clock.h"
#include "err.h"
#include "net.h"

int rpc_send(int fd, const ProtobufCMessage *head, const void *payload,
	     size_t payload_len, int64_t deadline_ms)
{
	struct buf out = BUF_INIT;
	int rc;

	rc = frame_encode_head(&out, head, payload_len);
	if (rc == 0 && payload_len <= 65536) {
		/* Small payloads go in the same write. */
		rc = buf_append(&out, payload, payload_len);
		payload_len = 0;
	}
	if (rc == 0)
		rc = net_write_all(fd, out.data, out.len, deadline_ms);
	if (rc == 0 && payload_len > 0)
		rc = net_write_all(fd, payload, payload_len, deadline_ms);
	buf_free(&out);
	return rc;
}

int rpc_recv(int fd, uint32_t max_frame, int64_t deadline_ms, struct buf *resp,
	     struct frame_info *fi)
{
	uint8_t prefix[FRAME_PREFIX_SIZE];
	size_t body;
	int rc;

	buf_reset(resp);
	rc = net_read_all(fd, prefix, sizeof(prefix), deadline_ms);
	if (rc < 0)
		return rc;
	rc = frame_parse_prefix(prefix, sizeof(prefix), max_frame, fi);
	if (rc < 0)
		return rc;
	body = fi->total - FRAME_PREFIX_SIZE;
	if (buf_reserve(resp, body) < 0)
		return ERR_NOMEM;
	rc = net_read_all(fd, resp->data, body, deadline_ms);
	if (rc < 0)
		return rc;
	resp->len = body;
	return 0;
}

int rpc_call(int fd, const ProtobufCMessage *head, const void *payload,
	     size_t payload_len, uint32_t max_frame, int timeout_ms,
	     struct buf *resp, struct frame_info *fi)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int rc;

	rc = rpc_send(fd, head, payload, payload_len, deadline);
	if (rc < 0)
		return rc;
	return rpc_recv(fd, max_frame, deadline, resp, fi);
}
