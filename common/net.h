/*
 * net.h - socket helpers: address parsing, listening, connecting with a
 * deadline, and blocking I/O bounded by a deadline.
 *
 * Every function that can wait takes a timeout; nothing here blocks
 * forever. Errors fill errstr with a sentence that names the address.
 */
#ifndef FLUXO_NET_H
#define FLUXO_NET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Splits "host:port" or "[v6addr]:port". host receives the host without
 * brackets. Returns 0 or ERR_INVAL.
 */
int net_parse_hostport(const char *s, char *host, size_t host_size,
		       int *port);

/*
 * Splits a listener "NAME://host:port" (Kafka's listeners syntax). An
 * empty host means all interfaces. Returns 0 or ERR_INVAL.
 */
int net_parse_listener(const char *s, char *name, size_t name_size,
		       char *host, size_t host_size, int *port);

/* Listens on host:port (host "" or "0.0.0.0" for all) with SO_REUSEADDR,
 * non-blocking. Returns the fd or a negative error code. */
int net_listen(const char *host, int port, int backlog, char *errstr,
	       size_t errstr_size);

/*
 * Connects to host:port within timeout_ms, trying each resolved address.
 * The returned fd is blocking, with TCP_NODELAY. Returns the fd, or
 * ERR_CONNECT / ERR_TIMEOUT with errstr set.
 */
int net_connect(const char *host, int port, int timeout_ms, char *errstr,
		size_t errstr_size);

int net_set_nonblock(int fd, int on);
int net_set_nodelay(int fd);
/* Port a bound socket listens on, or -1. */
int net_local_port(int fd);

/*
 * Writes or reads exactly len bytes on a (blocking or non-blocking) fd
 * before the monotonic deadline deadline_ms (clock_mono_ms()). Returns 0,
 * ERR_TIMEOUT, ERR_CLOSED (peer closed while reading) or ERR_IO.
 */
int net_write_all(int fd, const void *p, size_t len, int64_t deadline_ms);
int net_read_all(int fd, void *p, size_t len, int64_t deadline_ms);

#endif
