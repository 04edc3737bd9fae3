/*
 * client_int.h - the core shared by libfluxo's producer, consumer and
 * admin: broker connections, one I/O thread, requests and responses, and
 * the metadata cache.
 *
 * Threads. Every handle owns one struct client, which runs one I/O thread
 * (io_main in client.c). The I/O thread alone touches brokers, sockets and
 * requests once they are submitted; it polls the sockets and an eventfd,
 * writes prepared frames with writev, reads responses, matches them to
 * requests by correlation id and calls each request's callback. The
 * owner's hooks (struct client_ops) run on the I/O thread too: serve()
 * once per loop turn (the producer's sender, the consumer's fetcher) and
 * md_updated() after every metadata update.
 *
 * Other threads talk to the I/O thread through client_submit() (a locked
 * queue plus a wake-up) and read the metadata cache under md_lock. A
 * thread that needs an answer uses client_call(), which submits a request
 * and sleeps until its callback ran.
 *
 * Locks, in the order they may be taken: an owner's lock (producer,
 * consumer), then md_lock, then submit_lock / sync_lock. md_lock is held
 * only briefly and nothing blocking or calling out happens under it.
 *
 * Requests. A struct req holds a packed frame head plus borrowed payload
 * pieces (iovecs; the producer's batches) that must stay valid until the
 * callback runs. Every request has a deadline; the I/O thread calls the
 * callback exactly once: with the response, or with an error
 * (FLUXO_ERR__TIMED_OUT, FLUXO_ERR__TRANSPORT, FLUXO_ERR__DESTROY). A
 * request that timed out after it was written stays in the connection's
 * queue as an orphan so that its response is still matched and dropped.
 */
#ifndef FLUXO_CLIENT_INT_H
#define FLUXO_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fluxo.h"
#include "fluxo.pb-c.h"

#include "common/arena.h"
#include "common/buf.h"
#include "conf_int.h"
#include "metadata.h"

/* Target of a request that any broker may answer. */
#define CLIENT_ANY_BROKER INT32_MIN

struct client;
struct broker;
struct req;

/* ------------------------------------------------------------ responses */

/*
 * A response as the callback sees it. head is decoded; payload points
 * into the frame. Unless the callback calls resp_detach(), both are only
 * valid during the callback.
 */
struct resp {
	Fluxo__Response *head;
	const uint8_t *payload;
	size_t payload_len;
	/* private */
	uint8_t *frame; /* the whole frame, prefix included */
	size_t frame_len;
	bool frame_owned; /* frame is a malloc'd block owned here */
	bool head_owned;  /* head was unpacked with the default allocator */
	bool heap;	  /* the struct itself is malloc'd */
};

/*
 * Makes a callback's response outlive the callback: returns a heap copy
 * that owns its frame and head (the frame is moved, not copied, when it
 * already had its own block), or NULL when out of memory. I/O thread.
 */
struct resp *resp_detach(struct resp *r);

/* Frees a detached response. NULL is fine. */
void resp_free(struct resp *r);

/* ------------------------------------------------------------ requests */

enum req_flags {
	REQ_F_NO_RESPONSE = 1 << 0, /* acks=0 produce: done once written */
	REQ_F_COUNTED = 1 << 1,	    /* counted in produce_inflight */
};

/*
 * Called once per request on the I/O thread. err is 0 with resp set, or a
 * local error with errstr (may be NULL) and resp NULL. The request is
 * freed after the callback returns.
 */
typedef void(req_cb_t)(struct client *cl, struct req *req, int err,
		       const char *errstr, struct resp *resp);

struct req {
	struct req *next;
	int32_t broker_id; /* target, or CLIENT_ANY_BROKER */
	int32_t corr_id;
	Fluxo__ApiKey api;
	unsigned flags;
	struct buf head;   /* frame prefix + packed head */
	struct iovec *iov; /* payload pieces, borrowed */
	int iov_cnt;
	size_t total;	     /* bytes of the whole frame */
	size_t sent;	     /* bytes written so far */
	int64_t deadline_ms; /* monotonic; the callback gets TIMED_OUT */
	int timeout_ms;	     /* the request's own timeout */
	int64_t sent_ms;     /* when fully written, 0 before */
	req_cb_t *cb;
	void *opaque;
	bool orphan; /* callback already called; drop response */
	struct iovec iov_inline[4];
};

/*
 * Builds a request from a head whose body (oneof) is set; fills api,
 * version, correlation_id and client_id, and packs it. payload/iov_cnt are
 * borrowed until the callback. timeout_ms <= 0 means request.timeout.ms.
 * Returns the request (owned by the caller until submitted) or NULL when
 * out of memory. Any thread.
 */
struct req *req_new(struct client *cl, Fluxo__Request *head,
		    const struct iovec *payload, int iov_cnt, int32_t broker_id,
		    int timeout_ms, req_cb_t *cb, void *opaque);

void req_free(struct req *req);

/*
 * Queues req for its broker. Takes ownership. Any thread: from the I/O
 * thread the request is placed at once, from others it goes through the
 * submit queue.
 */
void client_submit(struct client *cl, struct req *req);

/*
 * Sends a request and waits for its response (not from the I/O thread).
 * head's body must be set; payload may be NULL. On success returns 0 with
 * *respp (free with resp_free). Otherwise returns the local error with a
 * sentence in errstr: FLUXO_ERR__TIMED_OUT, FLUXO_ERR__TRANSPORT (every
 * broker failed, or the target did), FLUXO_ERR__NOMEM, FLUXO_ERR__BAD_MSG,
 * or the response's request-level error code.
 */
int client_call(struct client *cl, Fluxo__Request *head, const void *payload,
		size_t payload_len, int32_t broker_id, int timeout_ms,
		struct resp **respp, char *errstr, size_t errstr_size);

/* ------------------------------------------------------------ brokers */

enum broker_state { BROKER_DOWN = 0, BROKER_CONNECTING, BROKER_UP };

struct broker {
	int32_t id; /* node id; bootstrap entries are < 0 */
	char host[256];
	int port;
	bool bootstrap;
	enum broker_state state;
	int fd;
	void *addrs;	 /* struct addrinfo list being tried */
	void *addr_next; /* next address to try after a failure */
	int64_t connect_deadline_ms;
	int64_t next_connect_ms; /* reconnect backoff */
	int backoff_ms;
	bool want;	      /* an owner wants it connected this turn */
	bool failed_in_round; /* see client.c: all-brokers-down rounds */
	struct req *sendq, *sendq_tail; /* not fully written */
	struct req *waitq, *waitq_tail; /* written, awaiting a response */
	int produce_inflight;		/* produce requests in waitq or sendq */
	bool fetch_inflight;		/* consumer: one Fetch at a time */
	/* receive state */
	struct buf rx; /* small frames accumulate here */
	size_t rx_off; /* parse position in rx */
	uint8_t *big;  /* a large frame read straight into place */
	size_t big_len, big_need;
	char last_err[256];
	int pfd_idx; /* index in the poll array this turn */
};

/*
 * Called on the I/O thread before a request is sent: marks broker id
 * wanted, so a down connection is (re)opened once its backoff passed.
 * Returns the broker when it is up and ready for writes, else NULL (and
 * asks for a metadata refresh when id is not a known broker). Takes
 * md_lock in that case, so the caller may hold an owner's lock.
 */
struct broker *client_broker_ready(struct client *cl, int32_t id);

/* ------------------------------------------------------------ the client */

struct client_ops {
	/* One loop turn of the owner's work; returns the monotonic ms at
	 * which it next needs to run, or INT64_MAX. I/O thread. */
	int64_t (*serve)(struct client *cl, int64_t now_ms);
	/* After each metadata update (md_lock not held). I/O thread. */
	void (*md_updated)(struct client *cl);
};

struct client {
	struct client_conf conf; /* the owner's copy */
	const struct client_ops *ops;
	void *owner;
	bool allow_auto_create; /* in Metadata requests */
	uint32_t max_frame;

	pthread_t io_thread;
	bool io_started;
	atomic_bool terminate;
	int wake_fd;  /* eventfd, or the read end of a pipe */
	int wake_wfd; /* write end (== wake_fd for eventfd) */
	atomic_bool wakeup_pending;
	atomic_int corr_seq;

	pthread_mutex_t submit_lock;
	struct req *submitq, *submitq_tail;

	/* I/O thread only */
	struct req *localq, *localq_tail; /* submitted on the I/O thread */
	struct broker **brokers;
	int broker_cnt;
	struct arena arena; /* response heads, reset per response */
	void *pfds;	    /* struct pollfd[], grown as needed */
	int pfd_cap;
	bool md_inflight;
	bool md_changed;    /* apply the cache at the next turn */
	int64_t md_next_ms; /* earliest next metadata request */
	int64_t md_last_ok_ms;
	int64_t now_ms; /* start of the current loop turn */

	/* Metadata, under md_lock. */
	pthread_mutex_t md_lock;
	pthread_cond_t md_cond;
	struct md_cache md;
	char **want_topics;
	int want_cnt;
	bool md_refresh;       /* a refresh was asked for */
	bool md_known;	       /* a response ever arrived */
	uint64_t md_responses; /* count of responses applied */
	uint64_t down_rounds;  /* see client.c */
	char down_errstr[512];

	/* client_call() waiters. */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
};

/*
 * Sets up cl from conf (copied): parses bootstrap.servers, opens the
 * wake-up descriptor and starts the I/O thread. ops may be NULL.
 * Returns 0 or a FLUXO_ERR_ code with errstr set.
 */
int client_init(struct client *cl, const struct client_conf *conf,
		const struct client_ops *ops, void *owner, char *errstr,
		size_t errstr_size);

/*
 * Stops and joins the I/O thread (every pending request's callback runs
 * with FLUXO_ERR__DESTROY first), then frees everything. The owner's
 * hooks must still work until this returns.
 */
void client_destroy(struct client *cl);

/* Wakes the I/O thread (coalesced: one write per loop turn). Any thread. */
void client_wakeup(struct client *cl);

/* True on the I/O thread. */
bool client_on_io_thread(struct client *cl);

/*
 * Asks for a metadata refresh soon (at most every retry.backoff.ms).
 * topic (may be NULL) is added to the topics the client follows. Any
 * thread; takes md_lock.
 */
void client_md_refresh(struct client *cl, const char *topic);

/* The same with md_lock already held. */
void client_md_refresh_locked(struct client *cl, const char *topic);

/*
 * Waits until topic appears in the metadata without a topic-level error,
 * refreshing every retry.backoff.ms. Returns its partition count (> 0);
 * FLUXO_ERR__UNKNOWN_TOPIC when the brokers still deny it at deadline, or
 * have denied it in max_denials metadata answers (0: no such limit)
 * (errstr: their message); FLUXO_ERR__TRANSPORT when every broker failed
 * to connect (errstr names them); FLUXO_ERR__TIMED_OUT otherwise. Not on
 * the I/O thread; takes md_lock.
 */
int client_topic_wait(struct client *cl, const char *topic, int64_t deadline_ms,
		      int max_denials, char *errstr, size_t errstr_size);

/* Condition variables on the monotonic clock, and a wait until a
 * monotonic deadline in ms (INT64_MAX: no deadline). */
void client_cond_init(pthread_cond_t *c);
int client_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
			   int64_t deadline_ms);

/* Maps a common/err.h code to a fluxo_err_t code. */
int client_err_from_local(int err);

/* snprintf into a fixed buffer where cutting a long sentence is fine (a
 * function of its own so that messages naming hosts do not trip
 * -Wformat-truncation). */
void client_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies at most size-1 bytes of s into buf (NULL s: ""). */
void client_strlcpy(char *buf, const char *s, size_t size);

#endif
