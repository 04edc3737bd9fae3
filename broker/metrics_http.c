/*
 * metrics_http.c - the HTTP endpoint that serves the metrics exposition.
 *
 * Scrapers (Prometheus, an operator's curl) send one GET and read one
 * response, so this is deliberately not a general HTTP server: one thread,
 * plain non-blocking sockets and poll(2), one request per connection,
 * Connection: close. A connection reads its request head into a fixed 8 KiB
 * buffer; once the blank line arrives, the whole response (the exposition
 * rendered on this thread) is built in memory and written as the socket
 * accepts it. The server then half-closes and drains input until the
 * client closes, so that unread input (a body, an oversized head) does not
 * turn the close into a reset that destroys the response in flight.
 *
 * Hostile or broken clients cost bounded resources and time: the request
 * head is at most 8 KiB, each connection has one deadline from accept to
 * close (metrics_set_http_timeout, 10 s by default; draining lasts at
 * most 2 s of it), and at most 32 connections are open; a new one past
 * that evicts the oldest connection still reading its request (or
 * draining), so idle connections cannot lock scrapers out. Since every connection is multiplexed in one poll loop, a client
 * that connects and sends nothing delays nobody. An accept failure for
 * lack of descriptors pauses accepting for 100 ms instead of spinning.
 *
 * Threads: metrics_serve and metrics_stop run on the owning thread; the
 * server thread owns every connection and the listening socket until
 * metrics_stop joins it. A pipe wakes it to stop. It blocks all signals,
 * so that process signals go to the threads that handle them.
 */
#include "config.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "metrics_int.h"

#define REQ_MAX		8192
#define CONNS_MAX	32
#define ACCEPT_PAUSE_MS 100
#define LINGER_MS	2000
#define LINGER_READ_MAX (64 * 1024)

static const char index_page[] =
    "<html><head><title>fluxo broker</title></head><body>\n"
    "<h1>fluxo broker</h1>\n"
    "<p><a href=\"/metrics\">Metrics</a></p>\n"
    "</body></html>\n";

enum hstate {
	ST_READ,   /* reading the request head */
	ST_WRITE,  /* writing the response */
	ST_LINGER, /* response and FIN sent: draining until EOF */
};

struct hconn {
	int fd;
	enum hstate state;
	uint64_t seq; /* accept order */
	int64_t deadline_ms;
	size_t req_len;
	struct buf resp;
	size_t resp_off;
	char req[REQ_MAX];
};

static void conn_close(struct hconn *c)
{
	close(c->fd);
	buf_free(&c->resp);
	free(c);
}

/* Sets the response: status line, headers, and body unless head_only. */
static int set_response(struct hconn *c, int status, const char *reason,
			const char *ctype, const void *body, size_t len,
			bool head_only, const char *extra)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n\r\n",
		     status, reason, ctype, len, extra ? extra : "");
	buf_reset(&c->resp);
	if (buf_append(&c->resp, hdr, (size_t)n) < 0 ||
	    (!head_only && buf_append(&c->resp, body, len) < 0))
		return ERR_NOMEM;
	c->resp_off = 0;
	return 0;
}

static int set_error(struct hconn *c, int status, const char *reason,
		     const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	return set_response(c, status, reason, "text/plain; charset=utf-8",
			    body, (size_t)n, false, extra);
}

/*
 * Answers a complete request head. Only the request line matters:
 * METHOD SP target SP HTTP/x.y; headers are ignored.
 */
static int handle_request(struct metrics *m, struct hconn *c)
{
	struct buf body = BUF_INIT;
	char *line = c->req, *eol, *method, *target, *version, *q;
	bool head;
	int rc;

	eol = memchr(line, '\n', c->req_len);
	*eol = '\0';
	if (eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	method = line;
	target = strchr(method, ' ');
	if (!target)
		return set_error(c, 400, "Bad Request", NULL);
	*target++ = '\0';
	version = strchr(target, ' ');
	if (!version)
		return set_error(c, 400, "Bad Request", NULL);
	*version++ = '\0';
	if (strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/')
		return set_error(c, 400, "Bad Request", NULL);
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET") != 0)
		return set_error(c, 405, "Method Not Allowed",
				 "Allow: GET, HEAD\r\n");
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (!strcmp(target, "/"))
		return set_response(c, 200, "OK", "text/html; charset=utf-8",
				    index_page, sizeof(index_page) - 1, head,
				    NULL);
	if (strcmp(target, "/metrics") != 0)
		return set_error(c, 404, "Not Found", NULL);
	rc = metrics_render(m, &body);
	if (rc < 0)
		rc = set_error(c, 500, "Internal Server Error", NULL);
	else
		rc = set_response(c, 200, "OK",
				  "text/plain; version=0.0.4; charset=utf-8",
				  body.data, body.len, head, NULL);
	buf_free(&body);
	return rc;
}

static bool head_complete(const struct hconn *c)
{
	return memmem(c->req, c->req_len, "\r\n\r\n", 4) ||
	       memmem(c->req, c->req_len, "\n\n", 2);
}

/*
 * Progresses c on readiness. Returns true when it is finished.
 * After the response, the connection half-closes and reads until the
 * client closes (for at most LINGER_MS): closing a socket with unread
 * input (a request body, the rest of an oversized head) sends a reset,
 * which can destroy the response before the client reads it.
 */
static bool conn_io(struct metrics *m, struct hconn *c)
{
	size_t drained = 0;
	int64_t linger;
	ssize_t n;

	if (c->state == ST_READ) {
		n = recv(c->fd, c->req + c->req_len, REQ_MAX - c->req_len, 0);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		c->req_len += (size_t)n;
		if (head_complete(c)) {
			if (handle_request(m, c) < 0)
				return true;
		} else if (c->req_len == REQ_MAX) {
			if (set_error(c, 431, "Request Header Fields Too Large",
				      NULL) < 0)
				return true;
		} else {
			return false;
		}
		c->state = ST_WRITE;
	}
	if (c->state == ST_WRITE) {
		while (c->resp_off < c->resp.len) {
			n = send(c->fd, c->resp.data + c->resp_off,
				 c->resp.len - c->resp_off, MSG_NOSIGNAL);
			if (n < 0)
				return errno != EAGAIN && errno != EINTR;
			c->resp_off += (size_t)n;
		}
		buf_free(&c->resp);
		if (shutdown(c->fd, SHUT_WR) < 0)
			return true;
		c->state = ST_LINGER;
		linger = clock_mono_ms() + LINGER_MS;
		if (linger < c->deadline_ms)
			c->deadline_ms = linger;
	}
	while (drained < LINGER_READ_MAX) {
		n = recv(c->fd, c->req, sizeof(c->req), 0);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		drained += (size_t)n;
	}
	return false;
}

/* Makes room for one more connection: evicts the oldest one reading its
 * request or lingering. Returns false if every connection is writing a
 * response. */
static bool evict_one(struct hconn **conns, size_t *n)
{
	size_t i, old = *n;

	for (i = 0; i < *n; i++)
		if (conns[i]->state != ST_WRITE &&
		    (old == *n || conns[i]->seq < conns[old]->seq))
			old = i;
	if (old == *n)
		return false;
	conn_close(conns[old]);
	conns[old] = conns[--*n];
	return true;
}

/* Accepts what is pending. Returns false when out of descriptors. */
static bool accept_all(struct metrics *m, int lfd, struct hconn **conns,
		       size_t *n, uint64_t *seq)
{
	struct hconn *c;
	int fd, i;

	for (i = 0; i < CONNS_MAX; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("metrics", "accept: %s",
					 strerror(errno));
				return false;
			}
			return true; /* EAGAIN, or the client went away */
		}
		if (*n == CONNS_MAX && !evict_one(conns, n)) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return false;
		}
		c->fd = fd;
		c->seq = (*seq)++;
		c->deadline_ms =
		    clock_mono_ms() + atomic_load(&m->http_timeout_ms);
		conns[(*n)++] = c;
	}
	return true;
}

static void *http_main(void *arg)
{
	struct metrics *m = arg;
	struct hconn *conns[CONNS_MAX];
	struct pollfd pfd[2 + CONNS_MAX];
	int64_t now, wait, pause_until = 0;
	uint64_t seq = 0;
	size_t n = 0, i;
	int rc;

	for (;;) {
		now = clock_mono_ms();
		wait = 1000;
		for (i = n; i-- > 0;) {
			if (now >= conns[i]->deadline_ms) {
				conn_close(conns[i]);
				conns[i] = conns[--n];
			} else if (conns[i]->deadline_ms - now < wait) {
				wait = conns[i]->deadline_ms - now;
			}
		}
		pfd[0].fd = m->http_wake_fd[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = now >= pause_until ? m->http_listen_fd : -1;
		pfd[1].events = POLLIN;
		if (pfd[1].fd < 0 && pause_until - now < wait)
			wait = pause_until - now;
		for (i = 0; i < n; i++) {
			pfd[2 + i].fd = conns[i]->fd;
			pfd[2 + i].events =
			    conns[i]->state == ST_WRITE ? POLLOUT : POLLIN;
		}
		rc = poll(pfd, 2 + n, (int)wait);
		if (rc < 0 && errno != EINTR) {
			log_error("metrics", "poll: %s", strerror(errno));
			poll(NULL, 0, ACCEPT_PAUSE_MS);
			continue;
		}
		if (rc <= 0)
			continue;
		if (pfd[0].revents)
			break;
		/* From the end, so that moving the last entry into a freed
		 * slot only moves one already handled. */
		for (i = n; i-- > 0;) {
			if (pfd[2 + i].revents && conn_io(m, conns[i])) {
				conn_close(conns[i]);
				conns[i] = conns[--n];
			}
		}
		if ((pfd[1].revents & POLLIN) &&
		    !accept_all(m, m->http_listen_fd, conns, &n, &seq))
			pause_until = clock_mono_ms() + ACCEPT_PAUSE_MS;
	}
	for (i = 0; i < n; i++)
		conn_close(conns[i]);
	return NULL;
}

void metrics_set_http_timeout(struct metrics *m, int timeout_ms)
{
	atomic_store(&m->http_timeout_ms, timeout_ms > 0 ? timeout_ms : 1);
}

/* Splits "http://host:port[/|/metrics]" into host and port. */
static int parse_url(const char *url, char *host, size_t host_size, int *port)
{
	char hp[300];
	size_t len;

	if (!url || strncasecmp(url, "http://", 7) != 0)
		return ERR_INVAL;
	len = strlen(url + 7);
	if (len >= sizeof(hp))
		return ERR_INVAL;
	memcpy(hp, url + 7, len + 1);
	if (len > 8 && !strcmp(hp + len - 8, "/metrics"))
		hp[len -= 8] = '\0';
	else if (len > 1 && hp[len - 1] == '/')
		hp[--len] = '\0';
	return net_parse_hostport(hp, host, host_size, port);
}

int metrics_serve(struct metrics *m, const char *url, char *errstr,
		  size_t errstr_size)
{
	char host[256];
	sigset_t all, old;
	int port, fd = -1, rc;

	if (m->http_running) {
		snprintf(errstr, errstr_size, "metrics are already served");
		return ERR_STATE;
	}
	if (parse_url(url, host, sizeof(host), &port) < 0) {
		snprintf(errstr, errstr_size,
			 "bad metrics listener \"%s\": expected "
			 "http://host:port",
			 url ? url : "");
		return ERR_INVAL;
	}
	fd = net_listen(host, port, 64, errstr, errstr_size);
	if (fd < 0)
		return fd;
	if (pipe2(m->http_wake_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(errstr, errstr_size, "metrics listener %s: pipe: %s",
			 url, strerror(errno));
		rc = ERR_IO;
		goto err_close_listen;
	}
	m->http_listen_fd = fd;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&m->http_thread, NULL, http_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(errstr, errstr_size,
			 "metrics listener %s: cannot start thread: %s", url,
			 strerror(rc));
		rc = ERR_NOMEM;
		goto err_close_pipe;
	}
	pthread_setname_np(m->http_thread, "fluxo-metrics");
	m->http_running = true;
	atomic_store(&m->http_port, net_local_port(fd));
	log_info("metrics", "serving metrics on http://%s:%d/metrics",
		 host[0] ? host : "0.0.0.0", atomic_load(&m->http_port));
	return 0;

err_close_pipe:
	close(m->http_wake_fd[0]);
	close(m->http_wake_fd[1]);
	m->http_wake_fd[0] = m->http_wake_fd[1] = -1;
	m->http_listen_fd = -1;
err_close_listen:
	close(fd);
	return rc;
}

int metrics_port(const struct metrics *m)
{
	return atomic_load(&m->http_port);
}

void metrics_stop(struct metrics *m)
{
	ssize_t n;

	if (!m->http_running)
		return;
	do
		n = write(m->http_wake_fd[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(m->http_thread, NULL);
	close(m->http_listen_fd);
	close(m->http_wake_fd[0]);
	close(m->http_wake_fd[1]);
	m->http_listen_fd = -1;
	m->http_wake_fd[0] = m->http_wake_fd[1] = -1;
	atomic_store(&m->http_port, -1);
	m->http_running = false;
}
