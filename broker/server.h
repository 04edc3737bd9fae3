/*
 * server.h - the broker's network layer: listeners, worker threads,
 * connections, request framing and ordered responses.
 *
 * Threads: one acceptor (the thread that calls server_run) hands each
 * connection to one of num.network.threads workers; a connection stays on
 * its worker. Each worker owns a libevent loop, its connections and their
 * buffers; nothing else touches them. Other threads reach a worker only
 * through worker_post(), a mutex-protected inbox woken by an eventfd.
 *
 * Requests of a connection are decoded in order. Each request that
 * expects a response gets a slot in the connection's response queue;
 * slots are sent strictly in request order, so a request parked in the
 * purgatory (acks=all, long-poll fetch) does not stop later requests from
 * being processed, yet responses never overtake each other.
 */
#ifndef FLUXO_BROKER_SERVER_H
#define FLUXO_BROKER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxo.pb-c.h"

struct broker;
struct server;
struct worker;
struct conn;
struct slot;

/* A byte range of a file sent with sendfile(2) after a response head. */
struct out_file {
	int fd;
	int64_t pos;
	size_t len;
	/* Called once the range is sent or dropped (may be NULL). */
	void (*release)(void *arg);
	void *arg;
};

/* The request being handled. Valid only during the handler call. */
struct request {
	struct conn *conn;
	struct worker *w;
	struct slot *slot;	/* NULL when no response is expected */
	Fluxo__Request *req;	/* decoded head (arena memory) */
	const uint8_t *head;	/* the head's encoded bytes */
	size_t head_len;
	uint8_t *payload;	/* writable; the frame's payload bytes */
	size_t payload_len;
	int64_t start_us;	/* monotonic receive time */
};

/* A response promised for later (purgatory, admin thread, controller). */
struct deferred;

typedef void(request_handler_fn)(struct request *r);

/*
 * Creates the server: parses listeners (already validated), binds every
 * listener socket (so that a port in use fails start-up with a sentence),
 * and prepares n_workers workers. handler is called on a worker thread for
 * every decoded request. Returns NULL with errstr set on failure.
 */
struct server *server_new(struct broker *b, const char *listeners,
			  int n_workers, request_handler_fn *handler,
			  char *errstr, size_t errstr_size);

/* Starts the worker threads and the acceptor thread. Returns 0 or an
 * error. */
int server_start(struct server *srv);

/* Stops accepting, closes every connection, joins all threads. */
void server_stop(struct server *srv);
void server_destroy(struct server *srv);

/* Port the idx-th listener is bound to (useful with port 0). */
int server_listener_port(const struct server *srv, int idx);

int server_worker_count(const struct server *srv);
struct worker *server_worker(struct server *srv, int idx);

/* Open client connections, across workers. */
int64_t server_connection_count(const struct server *srv);

/* ------------------------------------------------------------ workers */

/* The worker running on this thread, or NULL on other threads. */
struct worker *worker_self(void);
int worker_index(const struct worker *w);
struct event_base *worker_base(struct worker *w);
struct broker *worker_broker(struct worker *w);
/* Per-worker private pointer for other modules (the purgatory). */
void *worker_get_ctx(struct worker *w);
void worker_set_ctx(struct worker *w, void *ctx);

/*
 * Runs fn(w, arg) on w's thread, soon. Safe from any thread. Returns 0 or
 * ERR_NOMEM (fn is then not called).
 */
int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg),
		void *arg);

/* ------------------------------------------------------------ responses */

/*
 * Completes the request's slot with resp (encoded now; resp may be freed
 * after the call) followed by n_files file ranges (ownership of each
 * range's release passes to the server). A request without a slot
 * (acks=0) releases the files and sends nothing. Worker thread only.
 */
void request_respond(struct request *r, Fluxo__Response *resp,
		     const struct out_file *files, int n_files);

/* A response with only a request-level error. */
void request_respond_error(struct request *r, Fluxo__ErrorCode err,
			   const char *message);

/*
 * Turns the request's slot into a deferred response, keeping the
 * connection referenced. Must be called during the handler. Returns NULL
 * when the request has no slot.
 */
struct deferred *request_defer(struct request *r);

/* The correlation id the deferred response will carry. */
int32_t deferred_correlation_id(const struct deferred *d);

/*
 * Completes a deferred response (on its worker's thread) and frees d. If
 * the connection closed meanwhile, the response is dropped and the files
 * released.
 */
void deferred_respond(struct deferred *d, Fluxo__Response *resp,
		      const struct out_file *files, int n_files);

/*
 * Same as deferred_respond without files, callable from any thread (the
 * admin and control threads, the controller): resp is encoded on the
 * calling thread and may be freed when this returns.
 */
void deferred_respond_async(struct deferred *d, Fluxo__Response *resp);

/* Closes the request's connection after the handler returns (bad input). */
void request_close_connection(struct request *r, const char *why);

/*
 * Scratch memory for building the response, freed after the handler
 * returns (the connection's arena). Never NULL: exits on exhaustion.
 */
void *request_alloc(struct request *r, size_t n);
char *request_strdup(struct request *r, const char *s);

/* The peer's "ip:port", for logs. */
const char *request_peer(const struct request *r);

#endif
