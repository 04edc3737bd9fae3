/*
 * broker.h - one broker connection of a client: non-blocking connect,
 * writev of queued frames, framed reads and response dispatch.
 *
 * Everything here runs on the client's I/O thread (see client_int.h) and
 * touches only the broker given and the requests queued on it. Failures
 * are handed back to client.c (client_broker_failed), which decides what
 * happens to the requests (fail, or move requests for any broker to
 * another one).
 */
#ifndef FLUXO_CLIENT_BROKER_H
#define FLUXO_CLIENT_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "client_int.h"

/* Allocates a down broker entry. Returns NULL when out of memory. */
struct broker *broker_new(int32_t id, const char *host, int port,
			  bool bootstrap);

/* Frees a broker whose queues are empty and socket closed. */
void broker_free(struct broker *bk);

/*
 * Starts a non-blocking connect (state CONNECTING) bounded by
 * socket.connection.setup.timeout.ms. Returns 0, or an error with
 * bk->last_err set (the caller then treats the broker as failed).
 */
int broker_connect(struct client *cl, struct broker *bk);

/*
 * Completes a connect when the socket became writable: state UP and the
 * ApiVersions request goes first. Returns 0 or an error (last_err set).
 */
int broker_connected(struct client *cl, struct broker *bk);

/*
 * Closes the socket (if any) and moves every queued request, in order,
 * to the list *out (linked through req->next); orphans are freed. The
 * broker goes DOWN with its reconnect backoff advanced when connect_failed
 * (connection never came up), reset otherwise.
 */
void broker_close(struct client *cl, struct broker *bk, bool connect_failed,
		  struct req **out);

/* Appends req to the broker's send queue (front when urgent). */
void broker_enqueue(struct broker *bk, struct req *req, bool urgent);

/*
 * Writes as much of the send queue as the socket takes. Returns 0 or an
 * error (connection broken; last_err set).
 */
int broker_write(struct client *cl, struct broker *bk);

/*
 * Reads what the socket has and dispatches every complete response.
 * Returns 0 or an error (closed, protocol violation; last_err set).
 */
int broker_read(struct client *cl, struct broker *bk);

/*
 * Fails requests whose deadline passed. Returns 0, or ERR_TIMEOUT when the
 * connection itself must be closed (a request was half written, or one
 * went unanswered for request.timeout.ms); *next is lowered to the next
 * deadline.
 */
int broker_check_timeouts(struct client *cl, struct broker *bk, int64_t now,
			  int64_t *next);

/*
 * Calls req's callback (unless it is an orphan) and updates the broker's
 * counters; does not unlink or free the request.
 */
void broker_req_done(struct client *cl, struct broker *bk, struct req *req,
		     int err, const char *errstr, struct resp *resp);

/* Requests queued on bk, orphans excluded. */
int broker_outstanding(const struct broker *bk);

#endif
