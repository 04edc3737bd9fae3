/*
 * broker.c - a client's connection to one broker.
 *
 * Sending: requests wait in sendq as prepared frames (a packed head plus
 * borrowed payload pieces); broker_write() gathers the pieces of as many
 * queued requests as fit in one iovec array and hands them to the kernel
 * with one sendmsg(), so record batches go from the producer's buffers to
 * the socket without a copy. A fully written request moves to waitq (or
 * completes at once when no response comes, acks=0).
 *
 * Receiving: small frames accumulate in rx and are decoded in place; a
 * frame larger than BIG_FRAME (a fetch response) gets a block of its own
 * into which the rest is read directly, so the consumer can keep the block
 * without copying it. Lengths are checked against the client's maximum
 * frame size before anything is allocated. The broker answers requests in
 * order, so a response normally matches waitq's head; any other
 * correlation id is a protocol violation and closes the connection.
 *
 * Thread: the owning client's I/O thread only.
 */
#include "config.h"
#include "broker.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"

#define RX_CHUNK  65536
#define BIG_FRAME 65536
#define IOV_BATCH 256

struct broker *broker_new(int32_t id, const char *host, int port,
			  bool bootstrap)
{
	struct broker *bk = calloc(1, sizeof(*bk));

	if (!bk)
		return NULL;
	bk->id = id;
	client_strlcpy(bk->host, host, sizeof(bk->host));
	bk->port = port;
	bk->bootstrap = bootstrap;
	bk->fd = -1;
	bk->state = BROKER_DOWN;
	bk->pfd_idx = -1;
	return bk;
}

void broker_free(struct broker *bk)
{
	if (!bk)
		return;
	if (bk->fd >= 0)
		close(bk->fd);
	if (bk->addrs)
		freeaddrinfo(bk->addrs);
	buf_free(&bk->rx);
	free(bk->big);
	free(bk);
}

int broker_outstanding(const struct broker *bk)
{
	int n = 0;

	for (const struct req *r = bk->sendq; r; r = r->next)
		n++;
	for (const struct req *r = bk->waitq; r; r = r->next)
		n += !r->orphan;
	return n;
}

static void set_err(struct broker *bk, const char *what, int e)
{
	client_fmt(bk->last_err, sizeof(bk->last_err), "%s %s:%d: %s", what,
		   bk->host, bk->port, strerror(e));
}

/* Starts connecting to the next resolved address. */
static int connect_next(struct client *cl, struct broker *bk)
{
	struct addrinfo *ai;
	int fd, one = 1;

	while ((ai = bk->addr_next) != NULL) {
		bk->addr_next = ai->ai_next;
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			set_err(bk, "cannot create a socket for", errno);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (cl->conf.socket_send_buffer_bytes > 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF,
				   &cl->conf.socket_send_buffer_bytes,
				   sizeof(int));
		if (cl->conf.socket_receive_buffer_bytes > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
				   &cl->conf.socket_receive_buffer_bytes,
				   sizeof(int));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			set_err(bk, "cannot connect to", errno);
			close(fd);
			continue;
		}
		bk->fd = fd;
		bk->state = BROKER_CONNECTING;
		return 0;
	}
	return ERR_CONNECT;
}

int broker_connect(struct client *cl, struct broker *bk)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	int rc;

	if (bk->addrs) {
		freeaddrinfo(bk->addrs);
		bk->addrs = bk->addr_next = NULL;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	client_fmt(port, sizeof(port), "%d", bk->port);
	rc = getaddrinfo(bk->host, port, &hints, &res);
	if (rc != 0) {
		client_fmt(bk->last_err, sizeof(bk->last_err),
			   "cannot resolve %s: %s", bk->host, gai_strerror(rc));
		return ERR_CONNECT;
	}
	bk->addrs = bk->addr_next = res;
	bk->connect_deadline_ms =
	    clock_mono_ms() + cl->conf.connection_setup_timeout_ms;
	client_fmt(bk->last_err, sizeof(bk->last_err),
		   "cannot connect to %s:%d", bk->host, bk->port);
	return connect_next(cl, bk);
}

static void apiversions_cb(struct client *cl, struct req *req, int err,
			   const char *errstr, struct resp *resp)
{
	const Fluxo__ApiVersionsResponse *av;

	if (err || !resp)
		return;
	av = resp->head->body_case == FLUXO__RESPONSE__BODY_API_VERSIONS
		 ? resp->head->api_versions
		 : NULL;
	if (resp->head->error || !av || av->error)
		log_debug("client", "ApiVersions refused by broker id=%d: %s",
			  req->broker_id,
			  fluxo_err2str(resp->head->error
					    ? (int)resp->head->error
					: av ? (int)av->error
					     : -1));
}

int broker_connected(struct client *cl, struct broker *bk)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__ApiVersionsRequest av = FLUXO__API_VERSIONS_REQUEST__INIT;
	socklen_t len = sizeof(int);
	int soerr = 0;
	struct req *req;

	if (getsockopt(bk->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		set_err(bk, "cannot connect to", soerr);
		close(bk->fd);
		bk->fd = -1;
		bk->state = BROKER_DOWN;
		/* Another resolved address may work (localhost: ::1 then
		 * 127.0.0.1). */
		if (connect_next(cl, bk) == 0)
			return 0;
		return ERR_CONNECT;
	}
	bk->state = BROKER_UP;
	bk->backoff_ms = 0;
	bk->last_err[0] = '\0';
	if (bk->addrs) {
		freeaddrinfo(bk->addrs);
		bk->addrs = bk->addr_next = NULL;
	}
	/* Negotiation first; the requests queued meanwhile follow it on the
	 * wire without waiting for its answer (version 0 of everything is
	 * what this client speaks). */
	av.client_software_name = "libfluxo";
	av.client_software_version = FLUXO_VERSION_STR;
	head.body_case = FLUXO__REQUEST__BODY_API_VERSIONS;
	head.api_versions = &av;
	req = req_new(cl, &head, NULL, 0, bk->id, 0, apiversions_cb, NULL);
	if (req)
		broker_enqueue(bk, req, true);
	log_debug("client", "connected to broker id=%d %s:%d", bk->id, bk->host,
		  bk->port);
	return 0;
}

void broker_enqueue(struct broker *bk, struct req *req, bool urgent)
{
	if (req->api == FLUXO__API_KEY__PRODUCE &&
	    !(req->flags & REQ_F_COUNTED)) {
		req->flags |= REQ_F_COUNTED;
		bk->produce_inflight++;
	}
	req->broker_id =
	    req->broker_id == CLIENT_ANY_BROKER ? req->broker_id : bk->id;
	if (urgent && (!bk->sendq || bk->sendq->sent == 0)) {
		req->next = bk->sendq;
		bk->sendq = req;
		if (!bk->sendq_tail)
			bk->sendq_tail = req;
		return;
	}
	req->next = NULL;
	if (bk->sendq_tail)
		bk->sendq_tail->next = req;
	else
		bk->sendq = req;
	bk->sendq_tail = req;
}

void broker_req_done(struct client *cl, struct broker *bk, struct req *req,
		     int err, const char *errstr, struct resp *resp)
{
	if (req->flags & REQ_F_COUNTED) {
		req->flags &= ~(unsigned)REQ_F_COUNTED;
		if (bk && bk->produce_inflight > 0)
			bk->produce_inflight--;
	}
	if (req->orphan)
		return;
	req->orphan = true;
	if (req->cb)
		req->cb(cl, req, err, errstr, resp);
}

void broker_close(struct client *cl, struct broker *bk, bool connect_failed,
		  struct req **out)
{
	struct req *list = NULL, **tail = &list, *r, *next;
	int base = cl->conf.reconnect_backoff_ms;

	if (bk->fd >= 0) {
		close(bk->fd);
		bk->fd = -1;
	}
	if (bk->addrs) {
		freeaddrinfo(bk->addrs);
		bk->addrs = bk->addr_next = NULL;
	}
	bk->state = BROKER_DOWN;
	buf_free(&bk->rx);
	bk->rx_off = 0;
	free(bk->big);
	bk->big = NULL;
	bk->big_len = bk->big_need = 0;
	/* Written requests are older than queued ones. */
	for (r = bk->waitq; r; r = next) {
		next = r->next;
		if (r->orphan) {
			req_free(r);
			continue;
		}
		*tail = r;
		tail = &r->next;
	}
	for (r = bk->sendq; r; r = next) {
		next = r->next;
		*tail = r;
		tail = &r->next;
	}
	*tail = NULL;
	bk->waitq = bk->waitq_tail = NULL;
	bk->sendq = bk->sendq_tail = NULL;
	bk->fetch_inflight = false;
	if (connect_failed) {
		int max = cl->conf.reconnect_backoff_max_ms;

		bk->backoff_ms = bk->backoff_ms ? bk->backoff_ms * 2 : base;
		if (bk->backoff_ms > max)
			bk->backoff_ms = max;
	} else {
		bk->backoff_ms = 0;
	}
	/* +-20% jitter so that clients do not reconnect in lockstep. */
	bk->next_connect_ms =
	    clock_mono_ms() + (bk->backoff_ms ? bk->backoff_ms : base) *
				  (80 + (int64_t)((unsigned)rand() % 41)) / 100;
	*out = list;
}

/* A request left sendq: it now waits for its response, or is done. */
static void written(struct client *cl, struct broker *bk, struct req *req)
{
	if (req->flags & REQ_F_NO_RESPONSE) {
		broker_req_done(cl, bk, req, 0, NULL, NULL);
		req_free(req);
		return;
	}
	req->sent_ms = cl->now_ms;
	req->next = NULL;
	if (bk->waitq_tail)
		bk->waitq_tail->next = req;
	else
		bk->waitq = req;
	bk->waitq_tail = req;
}

/* Adds the unsent pieces of req to iov; returns the new count. */
static int gather(const struct req *req, struct iovec *iov, int n, int max)
{
	size_t skip = req->sent;

	if (skip < req->head.len) {
		iov[n].iov_base = req->head.data + skip;
		iov[n].iov_len = req->head.len - skip;
		n++;
		skip = 0;
	} else {
		skip -= req->head.len;
	}
	for (int i = 0; i < req->iov_cnt && n < max; i++) {
		if (skip >= req->iov[i].iov_len) {
			skip -= req->iov[i].iov_len;
			continue;
		}
		iov[n].iov_base = (uint8_t *)req->iov[i].iov_base + skip;
		iov[n].iov_len = req->iov[i].iov_len - skip;
		skip = 0;
		if (iov[n].iov_len > 0)
			n++;
	}
	return n;
}

int broker_write(struct client *cl, struct broker *bk)
{
	struct iovec iov[IOV_BATCH];
	struct msghdr msg;
	ssize_t w;

	while (bk->sendq) {
		int n = 0;

		for (struct req *r = bk->sendq; r && n < IOV_BATCH - 1;
		     r = r->next)
			n = gather(r, iov, n, IOV_BATCH);
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		w = sendmsg(bk->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			set_err(bk, "lost connection to", errno);
			return ERR_CLOSED;
		}
		while (w > 0 && bk->sendq) {
			struct req *r = bk->sendq;
			size_t left = r->total - r->sent;
			size_t take = (size_t)w < left ? (size_t)w : left;

			r->sent += take;
			w -= (ssize_t)take;
			if (r->sent < r->total)
				break;
			bk->sendq = r->next;
			if (!bk->sendq)
				bk->sendq_tail = NULL;
			written(cl, bk, r);
		}
		/* A zero-length request (never built) cannot stall us. */
		while (bk->sendq && bk->sendq->sent >= bk->sendq->total) {
			struct req *r = bk->sendq;

			bk->sendq = r->next;
			if (!bk->sendq)
				bk->sendq_tail = NULL;
			written(cl, bk, r);
		}
	}
	return 0;
}

/* Decodes one whole frame and completes its request. */
static int dispatch(struct client *cl, struct broker *bk, uint8_t *frame,
		    size_t total, bool owned)
{
	struct frame_info fi;
	struct req *req, *prev = NULL;
	struct resp resp;
	Fluxo__Response *head;
	int rc = 0;

	if (frame_parse_prefix(frame, total, UINT32_MAX, &fi) < 0) {
		rc = ERR_PROTO;
		goto out_free;
	}
	head = fluxo__response__unpack(arena_pb(&cl->arena), fi.head_len,
				       frame + FRAME_PREFIX_SIZE);
	if (!head) {
		client_fmt(bk->last_err, sizeof(bk->last_err),
			   "broker %s:%d sent a response head that does not "
			   "decode",
			   bk->host, bk->port);
		rc = ERR_PROTO;
		goto out_reset;
	}
	for (req = bk->waitq; req; prev = req, req = req->next)
		if (req->corr_id == head->correlation_id)
			break;
	if (!req) {
		client_fmt(bk->last_err, sizeof(bk->last_err),
			   "broker %s:%d answered correlation id %d, which was "
			   "never sent",
			   bk->host, bk->port, head->correlation_id);
		rc = ERR_PROTO;
		goto out_reset;
	}
	if (prev)
		prev->next = req->next;
	else
		bk->waitq = req->next;
	if (bk->waitq_tail == req)
		bk->waitq_tail = prev;
	resp.head = head;
	resp.payload = frame + FRAME_PREFIX_SIZE + fi.head_len;
	resp.payload_len = fi.payload_len;
	resp.frame = frame;
	resp.frame_len = total;
	resp.frame_owned = owned;
	resp.head_owned = false;
	resp.heap = false;
	broker_req_done(cl, bk, req, 0, NULL, &resp);
	req_free(req);
	owned = resp.frame_owned; /* false when the callback took it */
out_reset:
	arena_reset(&cl->arena);
out_free:
	if (owned)
		free(frame);
	return rc;
}

static int parse_frames(struct client *cl, struct broker *bk)
{
	struct frame_info fi;
	int rc;

	while (bk->rx.len - bk->rx_off >= FRAME_PREFIX_SIZE) {
		uint8_t *p = bk->rx.data + bk->rx_off;
		size_t avail = bk->rx.len - bk->rx_off;

		rc = frame_parse_prefix(p, avail, cl->max_frame, &fi);
		if (rc < 0) {
			client_fmt(bk->last_err, sizeof(bk->last_err),
				   "broker %s:%d sent a bad frame (%s)",
				   bk->host, bk->port, err_str(rc));
			return rc;
		}
		if (avail >= fi.total) {
			bk->rx_off += fi.total;
			rc = dispatch(cl, bk, p, fi.total, false);
			if (rc < 0)
				return rc;
			continue;
		}
		if (fi.total > BIG_FRAME) {
			bk->big = malloc(fi.total);
			if (!bk->big) {
				client_fmt(bk->last_err, sizeof(bk->last_err),
					   "out of memory for a %zu-byte "
					   "response from %s:%d",
					   fi.total, bk->host, bk->port);
				return ERR_NOMEM;
			}
			memcpy(bk->big, p, avail);
			bk->big_len = avail;
			bk->big_need = fi.total;
			bk->rx_off += avail;
		}
		break;
	}
	return 0;
}

int broker_read(struct client *cl, struct broker *bk)
{
	ssize_t n;
	size_t want;
	int rc;

	for (int turn = 0; turn < 64; turn++) {
		uint8_t *dst;

		if (bk->big) {
			dst = bk->big + bk->big_len;
			want = bk->big_need - bk->big_len;
		} else {
			if (bk->rx_off > 0) {
				buf_consume(&bk->rx, bk->rx_off);
				bk->rx_off = 0;
			}
			if (buf_reserve(&bk->rx, RX_CHUNK) < 0) {
				client_fmt(bk->last_err, sizeof(bk->last_err),
					   "out of memory reading from %s:%d",
					   bk->host, bk->port);
				return ERR_NOMEM;
			}
			dst = bk->rx.data + bk->rx.len;
			want = bk->rx.cap - bk->rx.len;
		}
		n = recv(bk->fd, dst, want, MSG_DONTWAIT);
		if (n == 0) {
			client_fmt(bk->last_err, sizeof(bk->last_err),
				   "broker %s:%d closed the connection",
				   bk->host, bk->port);
			return ERR_CLOSED;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			set_err(bk, "lost connection to", errno);
			return ERR_CLOSED;
		}
		if (bk->big) {
			bk->big_len += (size_t)n;
			if (bk->big_len == bk->big_need) {
				uint8_t *f = bk->big;
				size_t total = bk->big_need;

				bk->big = NULL;
				bk->big_len = bk->big_need = 0;
				rc = dispatch(cl, bk, f, total, true);
				if (rc < 0)
					return rc;
			}
		} else {
			bk->rx.len += (size_t)n;
			rc = parse_frames(cl, bk);
			if (rc < 0)
				return rc;
		}
		if ((size_t)n < want)
			return 0;
	}
	return 0;
}

int broker_check_timeouts(struct client *cl, struct broker *bk, int64_t now,
			  int64_t *next)
{
	struct req *r, *prev = NULL, *nx;
	char why[256];

	for (r = bk->sendq; r; r = nx) {
		nx = r->next;
		if (r->deadline_ms > now) {
			if (r->deadline_ms < *next)
				*next = r->deadline_ms;
			prev = r;
			continue;
		}
		if (r->sent > 0) {
			client_fmt(bk->last_err, sizeof(bk->last_err),
				   "timed out writing to %s:%d", bk->host,
				   bk->port);
			return ERR_TIMEOUT;
		}
		if (prev)
			prev->next = nx;
		else
			bk->sendq = nx;
		if (bk->sendq_tail == r)
			bk->sendq_tail = prev;
		client_fmt(why, sizeof(why),
			   "request timed out after %d ms before it could be "
			   "sent to %s:%d%s%s",
			   r->timeout_ms, bk->host, bk->port,
			   bk->last_err[0] ? ": " : "", bk->last_err);
		broker_req_done(cl, bk, r, FLUXO_ERR__TIMED_OUT, why, NULL);
		req_free(r);
	}
	for (r = bk->waitq; r; r = r->next) {
		int64_t dead =
		    r->sent_ms + (r->timeout_ms > cl->conf.request_timeout_ms
				      ? r->timeout_ms
				      : cl->conf.request_timeout_ms);

		if (now >= dead) {
			client_fmt(bk->last_err, sizeof(bk->last_err),
				   "broker %s:%d did not answer within %lld ms",
				   bk->host, bk->port,
				   (long long)(now - r->sent_ms));
			return ERR_TIMEOUT;
		}
		if (!r->orphan && r->deadline_ms <= now) {
			client_fmt(why, sizeof(why),
				   "broker %s:%d did not answer within %d ms",
				   bk->host, bk->port, r->timeout_ms);
			broker_req_done(cl, bk, r, FLUXO_ERR__TIMED_OUT, why,
					NULL);
		}
		if (!r->orphan && r->deadline_ms < *next)
			*next = r->deadline_ms;
		if (dead < *next)
			*next = dead;
	}
	return 0;
}
