/*
 * net.c - socket helpers.
 *
 * Connecting uses a non-blocking connect() and poll() so that an
 * unreachable address costs at most the caller's timeout; the socket is
 * switched back to blocking mode for the simple synchronous users
 * (controller channel, replica fetchers). Bounded reads and writes poll
 * with the time left before each system call.
 */
#include "config.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

int net_parse_hostport(const char *s, char *host, size_t host_size,
		       int *port)
{
	const char *colon, *hs, *he;
	char *end;
	long p;

	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return ERR_INVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return ERR_INVAL;
		hs = s;
		he = colon;
	}
	if ((size_t)(he - hs) >= host_size)
		return ERR_INVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
		return ERR_INVAL;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)p;
	return 0;
}

int net_parse_listener(const char *s, char *name, size_t name_size,
		       char *host, size_t host_size, int *port)
{
	const char *sep = strstr(s, "://");

	if (!sep || sep == s || (size_t)(sep - s) >= name_size)
		return ERR_INVAL;
	memcpy(name, s, (size_t)(sep - s));
	name[sep - s] = '\0';
	return net_parse_hostport(sep + 3, host, host_size, port);
}

int net_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return ERR_IO;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? ERR_IO : 0;
}

int net_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0
		       ? ERR_IO
		       : 0;
}

int net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

int net_listen(const char *host, int port, int backlog, char *errstr,
	       size_t errstr_size)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, rc, one = 1, saved = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(errstr, errstr_size, "cannot resolve %s: %s",
			 host && *host ? host : "*", gai_strerror(rc));
		return ERR_INVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(errstr, errstr_size, "cannot listen on %s:%d: %s",
			 host && *host ? host : "*", port, strerror(saved));
		return ERR_IO;
	}
	net_set_nonblock(fd, 1);
	return fd;
}

static int connect_one(const struct addrinfo *ai, int64_t deadline,
		       int *err_out)
{
	struct pollfd pfd;
	socklen_t len;
	int fd, rc, soerr = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		*err_out = errno;
		return -1;
	}
	net_set_nonblock(fd, 1);
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno != EINPROGRESS) {
		*err_out = errno;
		close(fd);
		return -1;
	}
	while (rc < 0) {
		int64_t left = deadline - clock_mono_ms();

		if (left <= 0) {
			*err_out = ETIMEDOUT;
			close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR) {
			rc = -1;
			continue;
		}
		if (rc == 0) {
			rc = -1;
			continue;
		}
		len = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			*err_out = soerr;
			close(fd);
			return -1;
		}
		rc = 0;
	}
	net_set_nonblock(fd, 0);
	net_set_nodelay(fd);
	return fd;
}

int net_connect(const char *host, int port, int timeout_ms, char *errstr,
		size_t errstr_size)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	int64_t deadline = clock_mono_ms() + timeout_ms;
	char portstr[16];
	int fd = -1, rc, err = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(errstr, errstr_size, "cannot resolve %s: %s", host,
			 gai_strerror(rc));
		return ERR_CONNECT;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &err);
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(errstr, errstr_size, "cannot connect to %s:%d: %s",
			 host, port, strerror(err));
		return err == ETIMEDOUT ? ERR_TIMEOUT : ERR_CONNECT;
	}
	return fd;
}

static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline_ms - clock_mono_ms();
		if (left <= 0)
			return ERR_TIMEOUT;
		rc = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return ERR_IO;
	}
}

int net_write_all(int fd, const void *p, size_t len, int64_t deadline_ms)
{
	const uint8_t *b = p;
	ssize_t n;
	int rc;

	while (len > 0) {
		rc = wait_fd(fd, POLLOUT, deadline_ms);
		if (rc < 0)
			return rc;
		n = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == EPIPE || errno == ECONNRESET
				       ? ERR_CLOSED
				       : ERR_IO;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int net_read_all(int fd, void *p, size_t len, int64_t deadline_ms)
{
	uint8_t *b = p;
	ssize_t n;
	int rc;

	while (len > 0) {
		rc = wait_fd(fd, POLLIN, deadline_ms);
		if (rc < 0)
			return rc;
		n = recv(fd, b, len, MSG_DONTWAIT);
		if (n == 0)
			return ERR_CLOSED;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? ERR_CLOSED : ERR_IO;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
