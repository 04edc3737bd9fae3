/*
 * server.c - listeners, worker threads and connections.
 *
 * Design. An acceptor thread owns the listening sockets and hands each
 * accepted socket to a worker, round robin. A worker is a thread with its
 * own libevent loop; it owns its connections outright, so connection
 * state needs no locks. Cross-thread work (a new connection, a response
 * completed by the admin thread or the controller, a purgatory wake-up)
 * arrives through the worker's inbox: a mutex-protected list plus an
 * eventfd that wakes the loop, written only when the list goes from empty
 * to non-empty.
 *
 * Reading. Bytes accumulate in the connection's input buffer. The 8-byte
 * prefix is checked against socket.request.max.bytes before anything is
 * reserved, so an absurd length costs a closed connection and nothing
 * else. Once a whole frame is present its head is decoded into the
 * connection's arena and the request handler runs; the payload is handed
 * over in place (writable: the produce path rewrites offsets in it).
 *
 * Writing. Each request that expects an answer owns a slot in the
 * connection's slot queue, in arrival order. A handler fills its slot at
 * once or defers it (purgatory, admin thread, controller). Ready slots at
 * the head of the queue move to the output queue, which holds memory
 * chunks (sent with writev) and file ranges (sent with sendfile, which is
 * the zero-copy fetch path). Reading pauses while too many slots are
 * pending or too many bytes wait to be written, which bounds a
 * connection's memory.
 *
 * Lifetime. A connection is reference counted on its worker thread: one
 * reference while open, one per deferred response. Closing releases the
 * socket and queued output at once; the structure goes when the last
 * deferred response is completed or dropped.
 */
#include "config.h"
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/net.h"

#define MAX_LISTENERS 8
#define MAX_PENDING_SLOTS 64		/* requests in processing per conn */
#define OUT_HIGH_WATER (32u << 20)	/* pause reading above this */
#define READ_CHUNK 65536
#define IOV_MAX_BATCH 64

struct out_item {
	struct out_item *next;
	bool is_file;
	uint8_t *data;		/* memory chunk, malloc'd */
	size_t len;
	size_t off;
	struct out_file file;	/* file range */
	off_t pos;
	size_t left;
};

struct slot {
	struct slot *next;
	bool ready;
	bool deferred;
	int32_t correlation_id;
	int api;
	int64_t start_us;
	struct out_item *head, *tail;
};

struct conn {
	struct worker *w;
	int fd;
	struct event *rev;
	struct event *wev;
	int refs;
	bool closed;
	bool close_after;
	bool read_paused;
	bool in_dispatch;
	struct buf in;
	struct slot *slots, *slots_tail;
	int n_slots;
	struct out_item *out, *out_tail;
	size_t out_bytes;
	struct arena arena;
	int64_t last_active_ms;
	char peer[64];
	struct conn *prev, *next;
};

struct inbox_msg {
	struct inbox_msg *next;
	void (*fn)(struct worker *w, void *arg);
	void *arg;
};

struct worker {
	struct server *srv;
	int idx;
	pthread_t thread;
	bool started;
	struct event_base *base;
	int inbox_fd;
	struct event *inbox_ev;
	struct event *idle_ev;
	pthread_mutex_t inbox_lock;
	struct inbox_msg *inbox_head, *inbox_tail;
	struct conn *conns;
	int64_t n_conns;
	void *ctx;
	bool stopping;
};

struct listener {
	int fd;
	int port;
	struct event *ev;
};

struct server {
	struct broker *broker;
	request_handler_fn *handler;
	uint32_t max_frame;
	int sndbuf, rcvbuf;
	int64_t idle_ms;
	struct listener listeners[MAX_LISTENERS];
	int n_listeners;
	struct worker *workers;
	int n_workers;
	unsigned next_worker;
	struct event_base *accept_base;
	int accept_stop_fd;
	struct event *accept_stop_ev;
	pthread_t accept_thread;
	bool accept_started;
	atomic_llong n_conns;
};

struct deferred {
	struct conn *conn;
	struct slot *slot;
};

static _Thread_local struct worker *current_worker;

static void conn_close(struct conn *c, const char *why);
static void conn_try_write(struct conn *c);
static void conn_process(struct conn *c);

/* ------------------------------------------------------------ out queue */

static void item_free(struct out_item *it)
{
	if (it->is_file) {
		if (it->file.release)
			it->file.release(it->file.arg);
	} else {
		free(it->data);
	}
	free(it);
}

static void items_free(struct out_item *it)
{
	while (it) {
		struct out_item *next = it->next;

		item_free(it);
		it = next;
	}
}

static void release_files(const struct out_file *files, int n)
{
	for (int i = 0; i < n; i++)
		if (files[i].release)
			files[i].release(files[i].arg);
}

/* Builds the item list for a response: the encoded head, then files. */
static struct out_item *build_items(Fluxo__Response *resp,
				    const struct out_file *files, int n_files,
				    struct out_item **tail_out)
{
	struct out_item *head = NULL, *tail = NULL, *it;
	struct buf b = BUF_INIT;
	size_t payload = 0;

	for (int i = 0; i < n_files; i++)
		payload += files[i].len;
	if (frame_encode_head(&b, &resp->base, payload) < 0)
		goto err;
	it = calloc(1, sizeof(*it));
	if (!it)
		goto err;
	it->data = b.data;
	it->len = b.len;
	head = tail = it;
	b.data = NULL;
	for (int i = 0; i < n_files; i++) {
		if (files[i].len == 0) {
			if (files[i].release)
				files[i].release(files[i].arg);
			continue;
		}
		it = calloc(1, sizeof(*it));
		if (!it) {
			release_files(files + i, n_files - i);
			items_free(head);
			return NULL;
		}
		it->is_file = true;
		it->file = files[i];
		it->pos = (off_t)files[i].pos;
		it->left = files[i].len;
		tail->next = it;
		tail = it;
	}
	*tail_out = tail;
	return head;
err:
	buf_free(&b);
	release_files(files, n_files);
	return NULL;
}

static size_t items_bytes(const struct out_item *it)
{
	size_t n = 0;

	for (; it; it = it->next)
		n += it->is_file ? it->left : it->len - it->off;
	return n;
}

/* Moves ready slots at the head of the queue to the output queue. */
static void conn_flush_slots(struct conn *c)
{
	while (c->slots && c->slots->ready) {
		struct slot *s = c->slots;

		c->slots = s->next;
		if (!c->slots)
			c->slots_tail = NULL;
		c->n_slots--;
		if (s->head) {
			c->out_bytes += items_bytes(s->head);
			if (c->out_tail)
				c->out_tail->next = s->head;
			else
				c->out = s->head;
			c->out_tail = s->tail;
		}
		free(s);
	}
}

/* ------------------------------------------------------------ lifetime */

static void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	buf_free(&c->in);
	arena_destroy(&c->arena);
	free(c);
}

static void conn_maybe_resume(struct conn *c)
{
	if (c->closed || !c->read_paused)
		return;
	if (c->n_slots >= MAX_PENDING_SLOTS || c->out_bytes > OUT_HIGH_WATER)
		return;
	c->read_paused = false;
	event_add(c->rev, NULL);
	/* Frames may already be buffered. */
	conn_process(c);
}

static void conn_close(struct conn *c, const char *why)
{
	struct worker *w = c->w;
	struct slot *s, *next;

	if (c->closed)
		return;
	c->closed = true;
	if (why)
		log_debug("network", "closing connection peer=%s: %s", c->peer,
			  why);
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	c->fd = -1;
	items_free(c->out);
	c->out = c->out_tail = NULL;
	c->out_bytes = 0;
	for (s = c->slots; s; s = next) {
		next = s->next;
		if (s->deferred && !s->ready) {
			/* The deferred owner frees it. */
			s->next = NULL;
			continue;
		}
		items_free(s->head);
		free(s);
	}
	c->slots = c->slots_tail = NULL;
	c->n_slots = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	atomic_fetch_sub(&w->srv->n_conns, 1);
	conn_unref(c);
}

/* ------------------------------------------------------------ writing */

static void conn_try_write(struct conn *c)
{
	struct iovec iov[IOV_MAX_BATCH];

	while (c->out && !c->closed) {
		struct out_item *it = c->out;
		ssize_t n;

		if (!it->is_file) {
			int cnt = 0;

			for (struct out_item *m = it;
			     m && !m->is_file && cnt < IOV_MAX_BATCH;
			     m = m->next) {
				iov[cnt].iov_base = m->data + m->off;
				iov[cnt].iov_len = m->len - m->off;
				cnt++;
			}
			n = writev(c->fd, iov, cnt);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close(c, strerror(errno));
				return;
			}
			c->out_bytes -= (size_t)n;
			while (n > 0 && c->out && !c->out->is_file) {
				struct out_item *m = c->out;
				size_t left = m->len - m->off;

				if ((size_t)n < left) {
					m->off += (size_t)n;
					n = 0;
					break;
				}
				n -= (ssize_t)left;
				c->out = m->next;
				item_free(m);
			}
		} else {
			size_t chunk = it->left > (1u << 30) ? (1u << 30)
							     : it->left;

			n = sendfile(c->fd, it->file.fd, &it->pos, chunk);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close(c, strerror(errno));
				return;
			}
			if (n == 0) {
				/* The file is shorter than promised: the frame
				 * can no longer be completed. */
				log_warn("network",
					 "segment ended early while sending "
					 "to peer=%s; closing the connection",
					 c->peer);
				conn_close(c, "short file");
				return;
			}
			it->left -= (size_t)n;
			c->out_bytes -= (size_t)n;
			if (it->left == 0) {
				c->out = it->next;
				item_free(it);
			}
		}
		if (!c->out)
			c->out_tail = NULL;
	}
	if (c->closed)
		return;
	if (c->out) {
		event_add(c->wev, NULL);
		return;
	}
	c->out_tail = NULL;
	event_del(c->wev);
	if (c->close_after && !c->slots) {
		conn_close(c, "closed after error");
		return;
	}
	conn_maybe_resume(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_try_write(c);
}

/* ------------------------------------------------------------ reading */

static void conn_handle_frame(struct conn *c, uint8_t *p,
			      const struct frame_info *fi)
{
	struct server *srv = c->w->srv;
	struct request r = { 0 };
	Fluxo__Request *req;
	struct slot *s = NULL;

	req = fluxo__request__unpack(arena_pb(&c->arena), fi->head_len, p);
	if (!req) {
		log_warn("network",
			 "closing connection peer=%s: a request head of %u "
			 "bytes does not decode",
			 c->peer, fi->head_len);
		conn_close(c, "undecodable head");
		return;
	}
	if (!(req->api == FLUXO__API_KEY__PRODUCE &&
	      req->body_case == FLUXO__REQUEST__BODY_PRODUCE &&
	      req->produce->acks == 0)) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			conn_close(c, "out of memory");
			return;
		}
		s->correlation_id = req->correlation_id;
		s->api = (int)req->api;
		s->start_us = clock_mono_us();
		if (c->slots_tail)
			c->slots_tail->next = s;
		else
			c->slots = s;
		c->slots_tail = s;
		c->n_slots++;
	}
	r.conn = c;
	r.w = c->w;
	r.slot = s;
	r.req = req;
	r.head = p;
	r.head_len = fi->head_len;
	r.payload = p + fi->head_len;
	r.payload_len = fi->payload_len;
	r.start_us = s ? s->start_us : clock_mono_us();
	c->in_dispatch = true;
	srv->handler(&r);
	c->in_dispatch = false;
	arena_reset(&c->arena);
}

static void conn_process(struct conn *c)
{
	struct server *srv = c->w->srv;
	size_t off = 0;

	while (!c->closed && !c->close_after) {
		struct frame_info fi;
		size_t avail = c->in.len - off;
		int rc;

		if (c->n_slots >= MAX_PENDING_SLOTS ||
		    c->out_bytes > OUT_HIGH_WATER) {
			if (!c->read_paused) {
				c->read_paused = true;
				event_del(c->rev);
			}
			break;
		}
		rc = frame_parse_prefix(c->in.data + off, avail, srv->max_frame,
					&fi);
		if (rc == ERR_AGAIN)
			break;
		if (rc == ERR_TOO_LARGE) {
			log_warn("network",
				 "closing connection peer=%s: frame of %u bytes "
				 "exceeds socket.request.max.bytes=%u",
				 c->peer, fi.frame_len, srv->max_frame);
			conn_close(c, "frame too large");
			return;
		}
		if (rc < 0) {
			log_warn("network",
				 "closing connection peer=%s: malformed frame "
				 "prefix",
				 c->peer);
			conn_close(c, "bad frame");
			return;
		}
		if (avail < fi.total) {
			/* Make room for the whole frame at the front. */
			buf_consume(&c->in, off);
			off = 0;
			if (buf_reserve(&c->in, fi.total - c->in.len) < 0) {
				conn_close(c, "out of memory");
				return;
			}
			break;
		}
		conn_handle_frame(c, c->in.data + off + FRAME_PREFIX_SIZE, &fi);
		off += fi.total;
	}
	if (c->closed)
		return;
	buf_consume(&c->in, off);
	conn_flush_slots(c);
	if (c->out)
		conn_try_write(c);
	else if (c->close_after && !c->slots)
		conn_close(c, "closed after error");
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int rounds = 0;

	(void)what;
	c->refs++;	/* the handler may close c */
	while (!c->closed && !c->read_paused && rounds++ < 8) {
		size_t room;
		ssize_t n;

		if (c->in.cap - c->in.len < 4096 &&
		    buf_reserve(&c->in, READ_CHUNK) < 0) {
			conn_close(c, "out of memory");
			break;
		}
		room = c->in.cap - c->in.len;
		n = recv(fd, c->in.data + c->in.len, room, 0);
		if (n == 0) {
			conn_close(c, "peer closed");
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c, strerror(errno));
			break;
		}
		c->in.len += (size_t)n;
		c->last_active_ms = clock_mono_ms();
		conn_process(c);
		if ((size_t)n < room)
			break;
	}
	conn_unref(c);
}

/* ------------------------------------------------------------ requests */

void request_respond(struct request *r, Fluxo__Response *resp,
		     const struct out_file *files, int n_files)
{
	struct slot *s = r->slot;
	struct out_item *tail = NULL;

	if (!s || r->conn->closed) {
		release_files(files, n_files);
		return;
	}
	resp->correlation_id = s->correlation_id;
	resp->api = (Fluxo__ApiKey)s->api;
	s->head = build_items(resp, files, n_files, &tail);
	s->tail = tail;
	s->ready = true;
	if (!s->head)
		r->conn->close_after = true;
	broker_observe_request(worker_broker(r->w), s->api,
			       clock_mono_us() - s->start_us);
	r->slot = NULL;
}

void request_respond_error(struct request *r, Fluxo__ErrorCode err,
			   const char *message)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;

	resp.error = err;
	resp.error_message = (char *)(message ? message : "");
	request_respond(r, &resp, NULL, 0);
}

struct deferred *request_defer(struct request *r)
{
	struct deferred *d;

	if (!r->slot)
		return NULL;
	d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	d->conn = r->conn;
	d->slot = r->slot;
	d->slot->deferred = true;
	r->conn->refs++;
	r->slot = NULL;
	return d;
}

int32_t deferred_correlation_id(const struct deferred *d)
{
	return d->slot->correlation_id;
}

/* Attaches a completed response to a deferred slot. Worker thread. */
static void deferred_finish(struct deferred *d, struct out_item *head,
			    struct out_item *tail)
{
	struct conn *c = d->conn;
	struct slot *s = d->slot;

	free(d);
	if (c->closed) {
		items_free(head);
		free(s);
		conn_unref(c);
		return;
	}
	s->head = head;
	s->tail = tail;
	s->ready = true;
	if (!s->head)
		c->close_after = true;
	broker_observe_request(worker_broker(c->w), s->api,
			       clock_mono_us() - s->start_us);
	if (!c->in_dispatch) {
		conn_flush_slots(c);
		conn_try_write(c);
	}
	conn_unref(c);
}

void deferred_respond(struct deferred *d, Fluxo__Response *resp,
		      const struct out_file *files, int n_files)
{
	struct out_item *head, *tail = NULL;

	if (d->conn->closed) {
		release_files(files, n_files);
		deferred_finish(d, NULL, NULL);
		return;
	}
	resp->correlation_id = d->slot->correlation_id;
	resp->api = (Fluxo__ApiKey)d->slot->api;
	head = build_items(resp, files, n_files, &tail);
	deferred_finish(d, head, tail);
}

struct packed_completion {
	struct deferred *d;
	struct out_item *item;
};

static void complete_packed(struct worker *w, void *arg)
{
	struct packed_completion *pc = arg;

	(void)w;
	deferred_finish(pc->d, pc->item, pc->item);
	free(pc);
}

void deferred_respond_async(struct deferred *d, Fluxo__Response *resp)
{
	struct packed_completion *pc;
	struct out_item *tail = NULL;

	/* The slot's id and api never change after creation, so reading
	 * them here, off the worker thread, is safe. */
	resp->correlation_id = d->slot->correlation_id;
	resp->api = (Fluxo__ApiKey)d->slot->api;
	pc = malloc(sizeof(*pc));
	if (!pc)
		fatal("network", "out of memory completing a response");
	pc->d = d;
	pc->item = build_items(resp, NULL, 0, &tail);
	if (worker_post(d->conn->w, complete_packed, pc) < 0)
		fatal("network", "out of memory completing a response");
}

void request_close_connection(struct request *r, const char *why)
{
	log_warn("network", "closing connection peer=%s: %s", r->conn->peer,
		 why);
	r->conn->close_after = true;
	if (r->slot) {
		/* Nothing will be sent for this request. */
		r->slot->ready = true;
		r->slot = NULL;
	}
}

void *request_alloc(struct request *r, size_t n)
{
	void *p = arena_alloc(&r->conn->arena, n ? n : 1);

	if (!p)
		fatal("network", "out of memory building a response");
	memset(p, 0, n);
	return p;
}

char *request_strdup(struct request *r, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = request_alloc(r, n);

	memcpy(p, s, n);
	return p;
}

const char *request_peer(const struct request *r)
{
	return r->conn->peer;
}

/* ------------------------------------------------------------ workers */

struct worker *worker_self(void)
{
	return current_worker;
}

int worker_index(const struct worker *w)
{
	return w->idx;
}

struct event_base *worker_base(struct worker *w)
{
	return w->base;
}

struct broker *worker_broker(struct worker *w)
{
	return w->srv->broker;
}

void *worker_get_ctx(struct worker *w)
{
	return w->ctx;
}

void worker_set_ctx(struct worker *w, void *ctx)
{
	w->ctx = ctx;
}

int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg),
		void *arg)
{
	struct inbox_msg *m = malloc(sizeof(*m));
	bool was_empty;
	uint64_t one = 1;

	if (!m)
		return ERR_NOMEM;
	m->next = NULL;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&w->inbox_lock);
	was_empty = w->inbox_head == NULL;
	if (w->inbox_tail)
		w->inbox_tail->next = m;
	else
		w->inbox_head = m;
	w->inbox_tail = m;
	pthread_mutex_unlock(&w->inbox_lock);
	if (was_empty && write(w->inbox_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_error("network", "worker %d inbox wake failed: %s", w->idx,
			  strerror(errno));
	return 0;
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct inbox_msg *m, *next;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("network", "worker %d inbox read failed: %s", w->idx,
			  strerror(errno));
	pthread_mutex_lock(&w->inbox_lock);
	m = w->inbox_head;
	w->inbox_head = w->inbox_tail = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	for (; m; m = next) {
		next = m->next;
		m->fn(w, m->arg);
		free(m);
	}
}

static void worker_adopt(struct worker *w, void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct conn *c;

	if (w->stopping) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->fd = fd;
	c->refs = 1;
	arena_init(&c->arena, 8192);
	c->last_active_ms = clock_mono_ms();
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char host[INET6_ADDRSTRLEN] = "?";
		int port = 0;

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			port = ntohs(s6->sin6_port);
		}
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	} else {
		snprintf(c->peer, sizeof(c->peer), "fd%d", fd);
	}
	c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	if (!c->rev || !c->wev) {
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		close(fd);
		arena_destroy(&c->arena);
		free(c);
		return;
	}
	event_add(c->rev, NULL);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	atomic_fetch_add(&w->srv->n_conns, 1);
}

static void on_idle_check(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int64_t now = clock_mono_ms();
	struct conn *c, *next;

	(void)fd;
	(void)what;
	for (c = w->conns; c; c = next) {
		next = c->next;
		if (!c->slots && !c->out &&
		    now - c->last_active_ms > w->srv->idle_ms)
			conn_close(c, "idle");
	}
}

static void worker_stop_msg(struct worker *w, void *arg)
{
	(void)arg;
	w->stopping = true;
	while (w->conns)
		conn_close(w->conns, "broker stopping");
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	current_worker = w;
	snprintf(name, sizeof(name), "fluxo-net-%d", w->idx);
	pthread_setname_np(pthread_self(), name);
	broker_worker_started(w->srv->broker, w);
	event_base_dispatch(w->base);
	broker_worker_stopping(w->srv->broker, w);
	current_worker = NULL;
	return NULL;
}

/* ------------------------------------------------------------ acceptor */

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct worker *w;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_error("network",
					  "cannot accept a connection: %s "
					  "(raise the open file limit)",
					  strerror(errno));
			return;
		}
		net_set_nodelay(fd);
		if (srv->sndbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &srv->sndbuf,
				   sizeof(srv->sndbuf));
		if (srv->rcvbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &srv->rcvbuf,
				   sizeof(srv->rcvbuf));
		w = &srv->workers[srv->next_worker++ % (unsigned)srv->n_workers];
		if (worker_post(w, worker_adopt, (void *)(intptr_t)fd) < 0)
			close(fd);
	}
}

static void on_accept_stop(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0)
		v = 0;
	event_base_loopbreak(srv->accept_base);
}

static void *accept_main(void *arg)
{
	struct server *srv = arg;

	pthread_setname_np(pthread_self(), "fluxo-accept");
	event_base_dispatch(srv->accept_base);
	return NULL;
}

/* ------------------------------------------------------------ server */

static int add_listener(struct server *srv, const char *spec, char *errstr,
			size_t errstr_size)
{
	char name[64], host[256];
	int port, fd;

	if (srv->n_listeners == MAX_LISTENERS) {
		snprintf(errstr, errstr_size, "too many listeners (at most %d)",
			 MAX_LISTENERS);
		return ERR_INVAL;
	}
	if (net_parse_listener(spec, name, sizeof(name), host, sizeof(host),
			       &port) < 0) {
		snprintf(errstr, errstr_size, "listeners: bad listener \"%s\"",
			 spec);
		return ERR_INVAL;
	}
	fd = net_listen(host, port, 1024, errstr, errstr_size);
	if (fd < 0)
		return fd;
	srv->listeners[srv->n_listeners].fd = fd;
	srv->listeners[srv->n_listeners].port = net_local_port(fd);
	srv->n_listeners++;
	return 0;
}

struct server *server_new(struct broker *b, const char *listeners,
			  int n_workers, request_handler_fn *handler,
			  char *errstr, size_t errstr_size)
{
	const struct broker_conf *bc = broker_conf(b);
	struct server *srv;
	char *copy = NULL, *save = NULL, *tok;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		goto err_nomem;
	srv->broker = b;
	srv->handler = handler;
	srv->max_frame = (uint32_t)bc->socket_request_max_bytes;
	srv->sndbuf = bc->socket_send_buffer_bytes;
	srv->rcvbuf = bc->socket_receive_buffer_bytes;
	srv->idle_ms = bc->connections_max_idle_ms;
	srv->accept_stop_fd = -1;
	copy = strdup(listeners);
	if (!copy)
		goto err_nomem;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (add_listener(srv, tok, errstr, errstr_size) < 0)
			goto err;
	}
	free(copy);
	copy = NULL;

	srv->n_workers = n_workers;
	srv->workers = calloc((size_t)n_workers, sizeof(*srv->workers));
	if (!srv->workers)
		goto err_nomem;
	for (int i = 0; i < n_workers; i++) {
		struct worker *w = &srv->workers[i];
		struct timeval idle = { 5, 0 };

		w->srv = srv;
		w->idx = i;
		pthread_mutex_init(&w->inbox_lock, NULL);
		w->base = event_base_new();
		w->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!w->base || w->inbox_fd < 0)
			goto err_nomem;
		w->inbox_ev = event_new(w->base, w->inbox_fd,
					EV_READ | EV_PERSIST, on_inbox, w);
		w->idle_ev = event_new(w->base, -1, EV_PERSIST, on_idle_check,
				       w);
		if (!w->inbox_ev || !w->idle_ev)
			goto err_nomem;
		event_add(w->inbox_ev, NULL);
		event_add(w->idle_ev, &idle);
	}
	srv->accept_base = event_base_new();
	srv->accept_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!srv->accept_base || srv->accept_stop_fd < 0)
		goto err_nomem;
	srv->accept_stop_ev = event_new(srv->accept_base, srv->accept_stop_fd,
					EV_READ, on_accept_stop, srv);
	if (!srv->accept_stop_ev)
		goto err_nomem;
	event_add(srv->accept_stop_ev, NULL);
	for (int i = 0; i < srv->n_listeners; i++) {
		srv->listeners[i].ev =
			event_new(srv->accept_base, srv->listeners[i].fd,
				  EV_READ | EV_PERSIST, on_accept, srv);
		if (!srv->listeners[i].ev)
			goto err_nomem;
		event_add(srv->listeners[i].ev, NULL);
	}
	return srv;
err_nomem:
	snprintf(errstr, errstr_size, "out of memory setting up the network");
err:
	free(copy);
	server_destroy(srv);
	return NULL;
}

int server_start(struct server *srv)
{
	for (int i = 0; i < srv->n_workers; i++) {
		if (pthread_create(&srv->workers[i].thread, NULL, worker_main,
				   &srv->workers[i]) != 0)
			return ERR_NOMEM;
		srv->workers[i].started = true;
	}
	if (pthread_create(&srv->accept_thread, NULL, accept_main, srv) != 0)
		return ERR_NOMEM;
	srv->accept_started = true;
	return 0;
}

void server_stop(struct server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (srv->accept_started) {
		if (write(srv->accept_stop_fd, &one, sizeof(one)) < 0)
			log_error("network", "cannot stop the acceptor");
		pthread_join(srv->accept_thread, NULL);
		srv->accept_started = false;
	}
	for (int i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].ev) {
			event_free(srv->listeners[i].ev);
			srv->listeners[i].ev = NULL;
		}
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
		srv->listeners[i].fd = -1;
	}
	for (int i = 0; i < srv->n_workers; i++) {
		struct worker *w = &srv->workers[i];

		if (!w->started)
			continue;
		worker_post(w, worker_stop_msg, NULL);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void server_destroy(struct server *srv)
{
	if (!srv)
		return;
	server_stop(srv);
	for (int i = 0; srv->workers && i < srv->n_workers; i++) {
		struct worker *w = &srv->workers[i];
		struct inbox_msg *m, *next;

		/* Messages that arrived after the worker stopped (answers from
		 * the admin and control threads, wake-ups) still own memory:
		 * run them here, where nothing runs concurrently any more; new
		 * sockets are just closed. */
		pthread_mutex_lock(&w->inbox_lock);
		while ((m = w->inbox_head) != NULL) {
			w->inbox_head = NULL;
			w->inbox_tail = NULL;
			pthread_mutex_unlock(&w->inbox_lock);
			for (; m; m = next) {
				next = m->next;
				if (m->fn == worker_adopt) {
					close((int)(intptr_t)m->arg);
				} else {
					w->stopping = true;
					m->fn(w, m->arg);
				}
				free(m);
			}
			pthread_mutex_lock(&w->inbox_lock);
		}
		pthread_mutex_unlock(&w->inbox_lock);
		if (w->inbox_ev)
			event_free(w->inbox_ev);
		if (w->idle_ev)
			event_free(w->idle_ev);
		if (w->inbox_fd >= 0)
			close(w->inbox_fd);
		if (w->base)
			event_base_free(w->base);
		pthread_mutex_destroy(&w->inbox_lock);
	}
	free(srv->workers);
	for (int i = 0; i < srv->n_listeners; i++)
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
	if (srv->accept_stop_ev)
		event_free(srv->accept_stop_ev);
	if (srv->accept_stop_fd >= 0)
		close(srv->accept_stop_fd);
	if (srv->accept_base)
		event_base_free(srv->accept_base);
	free(srv);
}

int server_listener_port(const struct server *srv, int idx)
{
	if (idx < 0 || idx >= srv->n_listeners)
		return -1;
	return srv->listeners[idx].port;
}

int server_worker_count(const struct server *srv)
{
	return srv->n_workers;
}

struct worker *server_worker(struct server *srv, int idx)
{
	return &srv->workers[idx];
}

int64_t server_connection_count(const struct server *srv)
{
	return atomic_load(&((struct server *)srv)->n_conns);
}
