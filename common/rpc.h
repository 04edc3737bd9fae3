/*
 * rpc.h - one synchronous request/response exchange on a blocking
 * connection.
 *
 * For the simple, thread-per-peer users: the controller's channel to each
 * broker, replica fetchers, tests. The caller owns the connection and must
 * close it after any error, since the stream position is then unknown.
 */
#ifndef FLUXO_RPC_H
#define FLUXO_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "buf.h"
#include "frame.h"

/*
 * Writes one frame (head, then payload_len bytes of payload) to fd.
 * Returns 0, ERR_TIMEOUT, ERR_CLOSED, ERR_IO or ERR_NOMEM.
 */
int rpc_send(int fd, const ProtobufCMessage *head, const void *payload,
	     size_t payload_len, int64_t deadline_ms);

/*
 * Reads one whole frame into resp (which is reset first); on return
 * resp->data[0..fi->head_len) is the head and the payload follows it.
 * Returns 0, ERR_TIMEOUT, ERR_CLOSED, ERR_IO, ERR_TOO_LARGE (frame larger
 * than max_frame), ERR_PROTO or ERR_NOMEM.
 */
int rpc_recv(int fd, uint32_t max_frame, int64_t deadline_ms, struct buf *resp,
	     struct frame_info *fi);

/* rpc_send then rpc_recv within timeout_ms. */
int rpc_call(int fd, const ProtobufCMessage *head, const void *payload,
	     size_t payload_len, uint32_t max_frame, int timeout_ms,
	     struct buf *resp, struct frame_info *fi);

#endif
