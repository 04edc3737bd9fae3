/*
 * client.c - the core of every libfluxo handle: the I/O thread, request
 * placement, metadata refresh and synchronous calls.
 *
 * The I/O thread (io_main) turns a loop:
 *   1. place submitted requests on their brokers' send queues;
 *   2. apply a metadata update (new brokers, then the owner's md_updated);
 *   3. run the owner's serve() (producer sender, consumer fetcher);
 *   4. send a metadata request when one is due;
 *   5. open wanted connections, expire requests, write what is queued;
 *   6. poll(2) the sockets and the wake-up eventfd until the earliest
 *      deadline, then read responses and call their callbacks.
 * Callbacks never close a connection or change the broker list directly:
 * they submit requests (placed in step 1 of the next turn) and set flags,
 * so nothing is freed under the reader's feet.
 *
 * Requests for "any broker" (metadata, admin) go to the least loaded
 * connected broker, else to one that can be connected now. When a
 * connection attempt fails the request moves to another broker; when every
 * known broker has failed an attempt since the last success (a "round"),
 * such requests fail with FLUXO_ERR__TRANSPORT and a sentence naming each
 * address, and down_rounds counts up so that waiters (client_topic_wait)
 * fail too instead of waiting for their whole timeout. That is what keeps
 * tools from hanging on a dead cluster.
 *
 * Metadata: one request in flight at a time, at most one per
 * retry.backoff.ms, for the topics the handle follows (want_topics), and
 * at least every metadata.max.age.ms while it follows any. Errors that
 * suggest stale leadership and every lost connection ask for a refresh.
 */
#include "config.h"
#include "client_int.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

#include "broker.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/net.h"

void client_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

void client_strlcpy(char *buf, const char *s, size_t size)
{
	size_t n;

	if (size == 0)
		return;
	if (!s)
		s = "";
	n = strlen(s);
	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

void client_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
}

int client_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
			   int64_t deadline_ms)
{
	struct timespec ts;

	if (deadline_ms == INT64_MAX)
		return pthread_cond_wait(c, m);
	ts.tv_sec = deadline_ms / 1000;
	ts.tv_nsec = (deadline_ms % 1000) * 1000000;
	return pthread_cond_timedwait(c, m, &ts);
}

/* ------------------------------------------------------------ responses */

struct resp *resp_detach(struct resp *r)
{
	struct resp *d;
	struct frame_info fi;

	if (r->heap)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (r->frame_owned) {
		d->frame = r->frame;
		r->frame_owned = false;
	} else {
		d->frame = malloc(r->frame_len);
		if (!d->frame)
			goto err_free;
		memcpy(d->frame, r->frame, r->frame_len);
	}
	d->frame_len = r->frame_len;
	d->frame_owned = true;
	if (frame_parse_prefix(d->frame, d->frame_len, UINT32_MAX, &fi) < 0)
		goto err_free_frame;
	d->head = fluxo__response__unpack(NULL, fi.head_len,
					  d->frame + FRAME_PREFIX_SIZE);
	if (!d->head)
		goto err_free_frame;
	d->head_owned = true;
	d->payload = d->frame + FRAME_PREFIX_SIZE + fi.head_len;
	d->payload_len = fi.payload_len;
	d->heap = true;
	return d;

err_free_frame:
	free(d->frame);
err_free:
	free(d);
	return NULL;
}

void resp_free(struct resp *r)
{
	if (!r)
		return;
	if (r->head_owned && r->head)
		fluxo__response__free_unpacked(r->head, NULL);
	if (r->frame_owned)
		free(r->frame);
	if (r->heap)
		free(r);
}

/* ------------------------------------------------------------ requests */

static Fluxo__ApiKey api_of(Fluxo__Request__BodyCase body)
{
	switch (body) {
	case FLUXO__REQUEST__BODY_PRODUCE:
		return FLUXO__API_KEY__PRODUCE;
	case FLUXO__REQUEST__BODY_FETCH:
		return FLUXO__API_KEY__FETCH;
	case FLUXO__REQUEST__BODY_LIST_OFFSETS:
		return FLUXO__API_KEY__LIST_OFFSETS;
	case FLUXO__REQUEST__BODY_METADATA:
		return FLUXO__API_KEY__METADATA;
	case FLUXO__REQUEST__BODY_API_VERSIONS:
		return FLUXO__API_KEY__API_VERSIONS;
	case FLUXO__REQUEST__BODY_CREATE_TOPICS:
		return FLUXO__API_KEY__CREATE_TOPICS;
	case FLUXO__REQUEST__BODY_DELETE_TOPICS:
		return FLUXO__API_KEY__DELETE_TOPICS;
	case FLUXO__REQUEST__BODY_CREATE_PARTITIONS:
		return FLUXO__API_KEY__CREATE_PARTITIONS;
	case FLUXO__REQUEST__BODY_DESCRIBE_CONFIGS:
		return FLUXO__API_KEY__DESCRIBE_CONFIGS;
	case FLUXO__REQUEST__BODY_ALTER_CONFIGS:
		return FLUXO__API_KEY__ALTER_CONFIGS;
	case FLUXO__REQUEST__BODY_INIT_PRODUCER_ID:
		return FLUXO__API_KEY__INIT_PRODUCER_ID;
	case FLUXO__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH:
		return FLUXO__API_KEY__OFFSET_FOR_LEADER_EPOCH;
	case FLUXO__REQUEST__BODY_ELECT_LEADERS:
		return FLUXO__API_KEY__ELECT_LEADERS;
	case FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS:
		return FLUXO__API_KEY__ALTER_PARTITION_REASSIGNMENTS;
	case FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS:
		return FLUXO__API_KEY__LIST_PARTITION_REASSIGNMENTS;
	case FLUXO__REQUEST__BODY_LEADER_AND_ISR:
		return FLUXO__API_KEY__LEADER_AND_ISR;
	case FLUXO__REQUEST__BODY_UPDATE_METADATA:
		return FLUXO__API_KEY__UPDATE_METADATA;
	case FLUXO__REQUEST__BODY_STOP_REPLICA:
		return FLUXO__API_KEY__STOP_REPLICA;
	case FLUXO__REQUEST__BODY_CONTROLLED_SHUTDOWN:
		return FLUXO__API_KEY__CONTROLLED_SHUTDOWN;
	case FLUXO__REQUEST__BODY_ALTER_ISR:
		return FLUXO__API_KEY__ALTER_ISR;
	default:
		return FLUXO__API_KEY__API_VERSIONS;
	}
}

struct req *req_new(struct client *cl, Fluxo__Request *head,
		    const struct iovec *payload, int iov_cnt, int32_t broker_id,
		    int timeout_ms, req_cb_t *cb, void *opaque)
{
	struct req *req = calloc(1, sizeof(*req));
	size_t payload_len = 0;

	if (!req)
		return NULL;
	for (int i = 0; i < iov_cnt; i++)
		payload_len += payload[i].iov_len;
	head->api = api_of(head->body_case);
	head->version = 0;
	head->correlation_id =
	    atomic_fetch_add_explicit(&cl->corr_seq, 1, memory_order_relaxed) &
	    INT32_MAX;
	head->client_id = cl->conf.client_id ? cl->conf.client_id : "";
	if (frame_encode_head(&req->head, &head->base, payload_len) < 0)
		goto err_free;
	if (iov_cnt >
	    (int)(sizeof(req->iov_inline) / sizeof(req->iov_inline[0]))) {
		req->iov = malloc((size_t)iov_cnt * sizeof(*req->iov));
		if (!req->iov)
			goto err_free;
	} else {
		req->iov = req->iov_inline;
	}
	if (iov_cnt > 0)
		memcpy(req->iov, payload, (size_t)iov_cnt * sizeof(*req->iov));
	req->iov_cnt = iov_cnt;
	req->api = head->api;
	req->corr_id = head->correlation_id;
	req->broker_id = broker_id;
	req->total = req->head.len + payload_len;
	req->timeout_ms =
	    timeout_ms > 0 ? timeout_ms : cl->conf.request_timeout_ms;
	req->deadline_ms = clock_mono_ms() + req->timeout_ms;
	req->cb = cb;
	req->opaque = opaque;
	return req;

err_free:
	req_free(req);
	return NULL;
}

void req_free(struct req *req)
{
	if (!req)
		return;
	buf_free(&req->head);
	if (req->iov && req->iov != req->iov_inline)
		free(req->iov);
	free(req);
}

/* The client whose I/O thread this is (NULL on other threads). */
static __thread struct client *io_client;

bool client_on_io_thread(struct client *cl)
{
	return io_client == cl;
}

void client_wakeup(struct client *cl)
{
	uint64_t one = 1;
	ssize_t n;

	if (atomic_exchange(&cl->wakeup_pending, true))
		return;
	do {
		n = write(cl->wake_wfd, &one,
			  cl->wake_wfd == cl->wake_fd ? sizeof(one) : 1);
	} while (n < 0 && errno == EINTR);
}

static void append(struct req **head, struct req **tail, struct req *req)
{
	req->next = NULL;
	if (*tail)
		(*tail)->next = req;
	else
		*head = req;
	*tail = req;
}

void client_submit(struct client *cl, struct req *req)
{
	if (client_on_io_thread(cl)) {
		append(&cl->localq, &cl->localq_tail, req);
		return;
	}
	pthread_mutex_lock(&cl->submit_lock);
	append(&cl->submitq, &cl->submitq_tail, req);
	pthread_mutex_unlock(&cl->submit_lock);
	client_wakeup(cl);
}

/* ------------------------------------------------------------ brokers */

static struct broker *broker_by_id(struct client *cl, int32_t id)
{
	for (int i = 0; i < cl->broker_cnt; i++)
		if (cl->brokers[i]->id == id && !cl->brokers[i]->bootstrap)
			return cl->brokers[i];
	return NULL;
}

static int broker_add(struct client *cl, struct broker *bk)
{
	struct broker **grown;

	grown =
	    realloc(cl->brokers, (size_t)(cl->broker_cnt + 1) * sizeof(*grown));
	if (!grown)
		return ERR_NOMEM;
	cl->brokers = grown;
	cl->brokers[cl->broker_cnt++] = bk;
	return 0;
}

/*
 * Chooses a broker for a request any broker may answer; NULL when every
 * broker failed in the current round. Real brokers beat bootstrap entries
 * (often the same address); connected beats connecting beats connectable
 * beats backing off.
 */
static struct broker *select_any(struct client *cl, int64_t now)
{
	struct broker *best = NULL;
	int best_rank = 0, best_load = 0;
	bool have_real = false;

	for (int i = 0; i < cl->broker_cnt; i++)
		have_real |= !cl->brokers[i]->bootstrap;
	for (int i = 0; i < cl->broker_cnt; i++) {
		struct broker *bk = cl->brokers[i];
		int rank, load = broker_outstanding(bk);

		if (bk->failed_in_round)
			continue;
		switch (bk->state) {
		case BROKER_UP:
			rank = 0;
			break;
		case BROKER_CONNECTING:
			rank = 1;
			break;
		default:
			rank = bk->next_connect_ms <= now ? 2 : 3;
			if (rank == 3)
				load = (int)(bk->next_connect_ms - now);
			break;
		}
		if (bk->bootstrap && have_real)
			rank += 4;
		if (!best || rank < best_rank ||
		    (rank == best_rank && load < best_load)) {
			best = bk;
			best_rank = rank;
			best_load = load;
		}
	}
	return best;
}

static void fail_req(struct client *cl, struct broker *bk, struct req *req,
		     int err, const char *why)
{
	broker_req_done(cl, bk, req, err, why, NULL);
	req_free(req);
}

static void place_req(struct client *cl, struct req *req)
{
	struct broker *bk;
	char why[600];

	if (req->broker_id == CLIENT_ANY_BROKER) {
		bk = select_any(cl, cl->now_ms);
		if (!bk) {
			pthread_mutex_lock(&cl->md_lock);
			client_fmt(why, sizeof(why), "%s",
				   cl->down_errstr[0] ? cl->down_errstr
						      : "no broker is known");
			pthread_mutex_unlock(&cl->md_lock);
			fail_req(cl, NULL, req, FLUXO_ERR__TRANSPORT, why);
			return;
		}
	} else {
		bk = broker_by_id(cl, req->broker_id);
		if (!bk) {
			client_fmt(why, sizeof(why),
				   "broker %d is not in the cluster metadata",
				   req->broker_id);
			fail_req(cl, NULL, req, FLUXO_ERR__TRANSPORT, why);
			return;
		}
	}
	broker_enqueue(bk, req, false);
}

struct broker *client_broker_ready(struct client *cl, int32_t id)
{
	struct broker *bk = broker_by_id(cl, id);

	if (!bk) {
		/* A leader the broker list does not know yet: the metadata
		 * must be newer than our list. */
		client_md_refresh(cl, NULL);
		return NULL;
	}
	bk->want = true;
	return bk->state == BROKER_UP ? bk : NULL;
}

/*
 * Completes a round when every broker has failed a connection attempt
 * since the last success: waiters are told, flags start over. Returns
 * true when the round completed.
 */
static bool round_check(struct client *cl)
{
	char msg[sizeof(cl->down_errstr)];
	size_t n;

	for (int i = 0; i < cl->broker_cnt; i++)
		if (!cl->brokers[i]->failed_in_round)
			return false;
	n = (size_t)snprintf(msg, sizeof(msg), "all brokers are down: ");
	for (int i = 0; i < cl->broker_cnt && n < sizeof(msg); i++) {
		struct broker *bk = cl->brokers[i];
		bool dup = false;

		/* A bootstrap entry and the broker it turned out to be
		 * usually share an address: name it once. */
		for (int j = 0; j < i && !dup; j++)
			dup =
			    strcmp(cl->brokers[j]->last_err, bk->last_err) == 0;
		if (!dup)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s",
					      i ? "; " : "", bk->last_err);
		bk->failed_in_round = false;
	}
	pthread_mutex_lock(&cl->md_lock);
	cl->down_rounds++;
	client_strlcpy(cl->down_errstr, msg, sizeof(cl->down_errstr));
	pthread_cond_broadcast(&cl->md_cond);
	pthread_mutex_unlock(&cl->md_lock);
	log_debug("client", "%s", msg);
	return true;
}

static void round_reset(struct client *cl)
{
	for (int i = 0; i < cl->broker_cnt; i++)
		cl->brokers[i]->failed_in_round = false;
}

/* The connection of bk is gone: decide the fate of its requests. */
static void broker_failed(struct client *cl, struct broker *bk,
			  bool connect_failed, int err)
{
	struct req *list, *req, *next;
	bool round_done = false;
	char why[600];

	if (!bk->last_err[0])
		client_fmt(bk->last_err, sizeof(bk->last_err),
			   "connection to %s:%d failed", bk->host, bk->port);
	client_strlcpy(why, bk->last_err, sizeof(why));
	if (connect_failed)
		log_debug("client", "%s", why);
	else
		log_info("client", "%s", why);
	broker_close(cl, bk, connect_failed, &list);
	if (connect_failed) {
		bk->failed_in_round = true;
		round_done = round_check(cl);
		if (round_done) {
			pthread_mutex_lock(&cl->md_lock);
			client_strlcpy(why, cl->down_errstr, sizeof(why));
			pthread_mutex_unlock(&cl->md_lock);
		}
	}
	for (req = list; req; req = next) {
		next = req->next;
		if (req->broker_id == CLIENT_ANY_BROKER && req->sent == 0 &&
		    !round_done) {
			place_req(cl, req);
			continue;
		}
		fail_req(cl, bk, req, err, why);
	}
	if (!bk->bootstrap)
		client_md_refresh(cl, NULL);
}

/* ------------------------------------------------------------ metadata */

void client_md_refresh_locked(struct client *cl, const char *topic)
{
	if (topic) {
		bool known = false;

		for (int i = 0; i < cl->want_cnt && !known; i++)
			known = strcmp(cl->want_topics[i], topic) == 0;
		if (!known) {
			char **grown = realloc(cl->want_topics,
					       (size_t)(cl->want_cnt + 1) *
						   sizeof(*grown));
			char *dup = strdup(topic);

			if (grown)
				cl->want_topics = grown;
			if (grown && dup)
				cl->want_topics[cl->want_cnt++] = dup;
			else
				free(dup);
		}
	}
	if (!cl->md_refresh) {
		cl->md_refresh = true;
		client_wakeup(cl);
	}
}

void client_md_refresh(struct client *cl, const char *topic)
{
	pthread_mutex_lock(&cl->md_lock);
	client_md_refresh_locked(cl, topic);
	pthread_mutex_unlock(&cl->md_lock);
}

static void md_sync_brokers(struct client *cl, bool may_close);

static void md_cb(struct client *cl, struct req *req, int err,
		  const char *errstr, struct resp *resp)
{
	int rc;

	cl->md_inflight = false;
	if (err) {
		log_debug("client", "metadata request failed: %s",
			  errstr ? errstr : fluxo_err2str(err));
		return;
	}
	if (resp->head->error ||
	    resp->head->body_case != FLUXO__RESPONSE__BODY_METADATA) {
		log_warn("client", "metadata request refused: %s%s%s",
			 fluxo_err2str(resp->head->error),
			 resp->head->error_message[0] ? ": " : "",
			 resp->head->error_message);
		return;
	}
	pthread_mutex_lock(&cl->md_lock);
	rc = md_cache_update(&cl->md, resp->head->metadata, false);
	cl->md_known = true;
	cl->md_responses++;
	cl->md_last_ok_ms = cl->now_ms;
	pthread_cond_broadcast(&cl->md_cond);
	pthread_mutex_unlock(&cl->md_lock);
	if (rc < 0)
		log_warn("client", "metadata response not applied: %s",
			 err_str(rc));
	/* New brokers now, so that a waiter woken above can address them;
	 * the rest at the top of the next loop turn, outside any reader. */
	md_sync_brokers(cl, false);
	cl->md_changed = true;
}

static void md_maybe_request(struct client *cl, int64_t now, int64_t *next)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__MetadataRequest mr = FLUXO__METADATA_REQUEST__INIT;
	struct req *req = NULL;
	bool due;

	if (cl->md_inflight)
		return;
	pthread_mutex_lock(&cl->md_lock);
	due = cl->md_refresh ||
	      (cl->md_known && cl->want_cnt > 0 &&
	       now - cl->md_last_ok_ms >= cl->conf.metadata_max_age_ms);
	if (due && now < cl->md_next_ms) {
		if (cl->md_next_ms < *next)
			*next = cl->md_next_ms;
		due = false;
	}
	if (due) {
		mr.n_topics = (size_t)cl->want_cnt;
		mr.topics = cl->want_topics;
		mr.allow_auto_topic_creation = cl->allow_auto_create;
		head.body_case = FLUXO__REQUEST__BODY_METADATA;
		head.metadata = &mr;
		req = req_new(cl, &head, NULL, 0, CLIENT_ANY_BROKER, 0, md_cb,
			      NULL);
		if (req)
			cl->md_refresh = false;
	}
	pthread_mutex_unlock(&cl->md_lock);
	if (!req)
		return;
	cl->md_inflight = true;
	cl->md_next_ms = now + cl->conf.retry_backoff_ms;
	place_req(cl, req);
}

/*
 * Brings the broker list in line with the metadata cache. New brokers are
 * added at once (safe anywhere: entries are never freed while the client
 * runs); a broker that moved to another address is reconnected only when
 * may_close (top of the loop, outside any reader).
 */
static void md_sync_brokers(struct client *cl, bool may_close)
{
	struct {
		int32_t id;
		int port;
		char host[256];
	} *list = NULL;
	int n = 0;

	pthread_mutex_lock(&cl->md_lock);
	if (cl->md.broker_cnt > 0)
		list = calloc((size_t)cl->md.broker_cnt, sizeof(*list));
	if (list) {
		n = cl->md.broker_cnt;
		for (int i = 0; i < n; i++) {
			list[i].id = cl->md.brokers[i].id;
			list[i].port = cl->md.brokers[i].port;
			client_strlcpy(list[i].host, cl->md.brokers[i].host,
				       sizeof(list[i].host));
		}
	}
	pthread_mutex_unlock(&cl->md_lock);
	for (int i = 0; i < n; i++) {
		struct broker *bk = broker_by_id(cl, list[i].id);

		if (!bk) {
			bk = broker_new(list[i].id, list[i].host, list[i].port,
					false);
			if (bk && broker_add(cl, bk) < 0)
				broker_free(bk);
			continue;
		}
		if (!may_close || (bk->port == list[i].port &&
				   strcmp(bk->host, list[i].host) == 0))
			continue;
		client_fmt(bk->last_err, sizeof(bk->last_err),
			   "broker %d moved from %s:%d to %s:%d", bk->id,
			   bk->host, bk->port, list[i].host, list[i].port);
		if (bk->state != BROKER_DOWN || bk->sendq)
			broker_failed(cl, bk, false, FLUXO_ERR__TRANSPORT);
		client_strlcpy(bk->host, list[i].host, sizeof(bk->host));
		bk->port = list[i].port;
	}
	free(list);
}

static void md_apply(struct client *cl)
{
	cl->md_changed = false;
	md_sync_brokers(cl, true);
	if (cl->ops && cl->ops->md_updated)
		cl->ops->md_updated(cl);
}

/* ------------------------------------------------------------ the loop */

static void drain_submitted(struct client *cl)
{
	struct req *list, *req, *next;

	pthread_mutex_lock(&cl->submit_lock);
	list = cl->submitq;
	cl->submitq = cl->submitq_tail = NULL;
	pthread_mutex_unlock(&cl->submit_lock);
	for (req = list; req; req = next) {
		next = req->next;
		place_req(cl, req);
	}
	while ((list = cl->localq) != NULL) {
		cl->localq = cl->localq_tail = NULL;
		for (req = list; req; req = next) {
			next = req->next;
			place_req(cl, req);
		}
	}
}

static void manage_brokers(struct client *cl, int64_t now, int64_t *next)
{
	for (int i = 0; i < cl->broker_cnt; i++) {
		struct broker *bk = cl->brokers[i];
		bool wanted = bk->want || bk->sendq;
		int rc;

		bk->want = false;
		if (bk->state == BROKER_CONNECTING &&
		    now >= bk->connect_deadline_ms) {
			client_fmt(bk->last_err, sizeof(bk->last_err),
				   "connection to %s:%d timed out after %d ms",
				   bk->host, bk->port,
				   cl->conf.connection_setup_timeout_ms);
			broker_failed(cl, bk, true, FLUXO_ERR__TIMED_OUT);
		}
		if (bk->state == BROKER_DOWN && wanted) {
			if (now >= bk->next_connect_ms) {
				if (broker_connect(cl, bk) < 0)
					broker_failed(cl, bk, true,
						      FLUXO_ERR__TRANSPORT);
			} else if (bk->next_connect_ms < *next) {
				*next = bk->next_connect_ms;
			}
		}
		if (bk->state == BROKER_CONNECTING &&
		    bk->connect_deadline_ms < *next)
			*next = bk->connect_deadline_ms;
		rc = broker_check_timeouts(cl, bk, now, next);
		if (rc < 0)
			broker_failed(cl, bk, false, FLUXO_ERR__TIMED_OUT);
		if (bk->state == BROKER_UP && bk->sendq &&
		    broker_write(cl, bk) < 0)
			broker_failed(cl, bk, false, FLUXO_ERR__TRANSPORT);
		/* Bootstrap connections are for finding the cluster. */
		if (bk->bootstrap && cl->md_known && bk->state == BROKER_UP &&
		    !bk->sendq && !bk->waitq) {
			struct req *none;

			broker_close(cl, bk, false, &none);
		}
	}
}

static void poll_once(struct client *cl, int timeout_ms)
{
	struct pollfd *pfds;
	int n = 1, rc;

	if (cl->pfd_cap < cl->broker_cnt + 1) {
		void *grown = realloc(cl->pfds, (size_t)(cl->broker_cnt + 8) *
						    sizeof(struct pollfd));

		if (!grown) {
			usleep(1000);
			return;
		}
		cl->pfds = grown;
		cl->pfd_cap = cl->broker_cnt + 8;
	}
	pfds = cl->pfds;
	pfds[0].fd = cl->wake_fd;
	pfds[0].events = POLLIN;
	pfds[0].revents = 0;
	for (int i = 0; i < cl->broker_cnt; i++) {
		struct broker *bk = cl->brokers[i];

		bk->pfd_idx = -1;
		if (bk->fd < 0)
			continue;
		pfds[n].fd = bk->fd;
		pfds[n].events = POLLIN;
		if (bk->state == BROKER_CONNECTING || bk->sendq)
			pfds[n].events |= POLLOUT;
		pfds[n].revents = 0;
		bk->pfd_idx = n++;
	}
	rc = poll(pfds, (nfds_t)n, timeout_ms);
	cl->now_ms = clock_mono_ms();
	if (rc <= 0)
		return;
	if (pfds[0].revents) {
		uint64_t v;

		/* Drain first, then re-arm: a wake-up that lands in between
		 * leaves the descriptor readable for the next poll, so none
		 * is lost (the other order could swallow one for good). */
		while (read(cl->wake_fd, &v, sizeof(v)) > 0 &&
		       cl->wake_fd != cl->wake_wfd)
			;
		atomic_store(&cl->wakeup_pending, false);
	}
	for (int i = 0; i < cl->broker_cnt; i++) {
		struct broker *bk = cl->brokers[i];
		short re;

		if (bk->pfd_idx < 0 || bk->fd < 0)
			continue;
		re = pfds[bk->pfd_idx].revents;
		if (!re)
			continue;
		if (bk->state == BROKER_CONNECTING) {
			if (broker_connected(cl, bk) < 0) {
				broker_failed(cl, bk, true,
					      FLUXO_ERR__TRANSPORT);
				continue;
			}
			if (bk->state == BROKER_UP)
				round_reset(cl);
			else
				continue;
		} else if (re & (POLLIN | POLLHUP | POLLERR)) {
			if (broker_read(cl, bk) < 0) {
				broker_failed(cl, bk, false,
					      FLUXO_ERR__TRANSPORT);
				continue;
			}
		}
		if (bk->state == BROKER_UP && bk->sendq &&
		    broker_write(cl, bk) < 0)
			broker_failed(cl, bk, false, FLUXO_ERR__TRANSPORT);
	}
}

static void shutdown_all(struct client *cl)
{
	const char *why = "the client is being destroyed";
	struct req *list, *req, *next;

	for (int round = 0; round < 8; round++) {
		pthread_mutex_lock(&cl->submit_lock);
		list = cl->submitq;
		cl->submitq = cl->submitq_tail = NULL;
		pthread_mutex_unlock(&cl->submit_lock);
		for (req = list; req; req = next) {
			next = req->next;
			fail_req(cl, NULL, req, FLUXO_ERR__DESTROY, why);
		}
		list = cl->localq;
		cl->localq = cl->localq_tail = NULL;
		for (req = list; req; req = next) {
			next = req->next;
			fail_req(cl, NULL, req, FLUXO_ERR__DESTROY, why);
		}
		for (int i = 0; i < cl->broker_cnt; i++) {
			broker_close(cl, cl->brokers[i], false, &list);
			for (req = list; req; req = next) {
				next = req->next;
				fail_req(cl, cl->brokers[i], req,
					 FLUXO_ERR__DESTROY, why);
			}
		}
	}
}

static void *io_main(void *arg)
{
	struct client *cl = arg;

	io_client = cl;

	while (!atomic_load(&cl->terminate)) {
		int64_t now = clock_mono_ms(), next = now + 1000;
		int64_t wait;

		cl->now_ms = now;
		drain_submitted(cl);
		if (cl->md_changed)
			md_apply(cl);
		if (cl->ops && cl->ops->serve) {
			int64_t t = cl->ops->serve(cl, now);

			if (t < next)
				next = t;
		}
		md_maybe_request(cl, now, &next);
		drain_submitted(cl);
		manage_brokers(cl, now, &next);
		if (cl->localq || cl->md_changed)
			next = now;
		wait = next - clock_mono_ms();
		poll_once(cl, wait < 0 ? 0 : wait > 1000 ? 1000 : (int)wait);
	}
	shutdown_all(cl);
	return NULL;
}

/* ------------------------------------------------------------ set-up */

static int add_bootstrap(struct client *cl, char *errstr, size_t errstr_size)
{
	char *list = strdup(cl->conf.bootstrap_servers), *tok, *save = NULL;
	int32_t id = -1;
	int rc = 0;

	if (!list)
		return FLUXO_ERR__NOMEM;
	for (tok = strtok_r(list, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char host[256];
		int port;
		struct broker *bk;

		if (net_parse_hostport(tok, host, sizeof(host), &port) < 0 ||
		    port <= 0 || !host[0]) {
			client_fmt(errstr, errstr_size,
				   "bootstrap.servers: \"%s\" is not host:port",
				   tok);
			rc = FLUXO_ERR__INVALID_ARG;
			break;
		}
		bk = broker_new(id--, host, port, true);
		if (!bk || broker_add(cl, bk) < 0) {
			broker_free(bk);
			rc = FLUXO_ERR__NOMEM;
			break;
		}
	}
	free(list);
	if (rc == 0 && cl->broker_cnt == 0) {
		client_fmt(errstr, errstr_size,
			   "bootstrap.servers names no broker");
		rc = FLUXO_ERR__INVALID_ARG;
	}
	return rc;
}

static int wake_open(struct client *cl)
{
	int fds[2];

#ifdef HAVE_EVENTFD
	cl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cl->wake_fd >= 0) {
		cl->wake_wfd = cl->wake_fd;
		return 0;
	}
#endif
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return ERR_IO;
	cl->wake_fd = fds[0];
	cl->wake_wfd = fds[1];
	return 0;
}

int client_init(struct client *cl, const struct client_conf *conf,
		const struct client_ops *ops, void *owner, char *errstr,
		size_t errstr_size)
{
	uint64_t max_frame;
	int rc;

	memset(cl, 0, sizeof(*cl));
	cl->wake_fd = cl->wake_wfd = -1;
	if (client_conf_copy(&cl->conf, conf) < 0) {
		client_fmt(errstr, errstr_size, "out of memory");
		return FLUXO_ERR__NOMEM;
	}
	cl->ops = ops;
	cl->owner = owner;
	cl->allow_auto_create = cl->conf.allow_auto_create_topics;
	/* A fetch response may exceed fetch.max.bytes by one batch. */
	max_frame = (uint64_t)cl->conf.fetch_max_bytes +
		    (uint64_t)cl->conf.max_partition_fetch_bytes +
		    (uint64_t)cl->conf.max_request_size + (16u << 20);
	cl->max_frame =
	    max_frame > UINT32_MAX ? UINT32_MAX : (uint32_t)max_frame;
	atomic_init(&cl->terminate, false);
	atomic_init(&cl->wakeup_pending, false);
	atomic_init(&cl->corr_seq, 1);
	pthread_mutex_init(&cl->submit_lock, NULL);
	pthread_mutex_init(&cl->md_lock, NULL);
	pthread_mutex_init(&cl->sync_lock, NULL);
	client_cond_init(&cl->md_cond);
	client_cond_init(&cl->sync_cond);
	md_cache_init(&cl->md);
	arena_init(&cl->arena, 0);
	rc = add_bootstrap(cl, errstr, errstr_size);
	if (rc < 0)
		goto err_free;
	if (wake_open(cl) < 0) {
		client_fmt(errstr, errstr_size,
			   "cannot create a wake-up "
			   "descriptor: %s",
			   strerror(errno));
		rc = FLUXO_ERR__FAIL;
		goto err_free;
	}
	if (pthread_create(&cl->io_thread, NULL, io_main, cl) != 0) {
		client_fmt(errstr, errstr_size, "cannot start the I/O thread");
		rc = FLUXO_ERR__FAIL;
		goto err_free;
	}
	cl->io_started = true;
	return 0;

err_free:
	client_destroy(cl);
	return rc;
}

void client_destroy(struct client *cl)
{
	if (cl->io_started) {
		atomic_store(&cl->terminate, true);
		atomic_store(&cl->wakeup_pending, false);
		client_wakeup(cl);
		pthread_join(cl->io_thread, NULL);
		cl->io_started = false;
	}
	for (int i = 0; i < cl->broker_cnt; i++)
		broker_free(cl->brokers[i]);
	free(cl->brokers);
	cl->brokers = NULL;
	cl->broker_cnt = 0;
	free(cl->pfds);
	cl->pfds = NULL;
	if (cl->wake_fd >= 0)
		close(cl->wake_fd);
	if (cl->wake_wfd >= 0 && cl->wake_wfd != cl->wake_fd)
		close(cl->wake_wfd);
	cl->wake_fd = cl->wake_wfd = -1;
	md_cache_clear(&cl->md);
	for (int i = 0; i < cl->want_cnt; i++)
		free(cl->want_topics[i]);
	free(cl->want_topics);
	cl->want_topics = NULL;
	cl->want_cnt = 0;
	arena_destroy(&cl->arena);
	pthread_mutex_destroy(&cl->submit_lock);
	pthread_mutex_destroy(&cl->md_lock);
	pthread_mutex_destroy(&cl->sync_lock);
	pthread_cond_destroy(&cl->md_cond);
	pthread_cond_destroy(&cl->sync_cond);
	client_conf_free(&cl->conf);
}

/* ------------------------------------------------------------ waiting */

struct sync_ctx {
	bool done;
	int err;
	struct resp *resp;
	char errstr[600];
};

static void sync_cb(struct client *cl, struct req *req, int err,
		    const char *errstr, struct resp *resp)
{
	struct sync_ctx *ctx = req->opaque;

	if (!err) {
		ctx->resp = resp_detach(resp);
		if (!ctx->resp) {
			err = FLUXO_ERR__NOMEM;
			errstr = "out of memory keeping a response";
		}
	}
	pthread_mutex_lock(&cl->sync_lock);
	ctx->err = err;
	if (err)
		client_strlcpy(ctx->errstr,
			       errstr ? errstr : fluxo_err2str(err),
			       sizeof(ctx->errstr));
	ctx->done = true;
	pthread_cond_broadcast(&cl->sync_cond);
	pthread_mutex_unlock(&cl->sync_lock);
}

int client_call(struct client *cl, Fluxo__Request *head, const void *payload,
		size_t payload_len, int32_t broker_id, int timeout_ms,
		struct resp **respp, char *errstr, size_t errstr_size)
{
	struct sync_ctx ctx = {0};
	struct iovec iov = {(void *)payload, payload_len};
	struct req *req;

	*respp = NULL;
	req = req_new(cl, head, &iov, payload_len ? 1 : 0, broker_id,
		      timeout_ms, sync_cb, &ctx);
	if (!req) {
		client_fmt(errstr, errstr_size, "out of memory");
		return FLUXO_ERR__NOMEM;
	}
	client_submit(cl, req);
	/* The I/O thread calls back exactly once, by the deadline at the
	 * latest, so this wait is bounded. */
	pthread_mutex_lock(&cl->sync_lock);
	while (!ctx.done)
		pthread_cond_wait(&cl->sync_cond, &cl->sync_lock);
	pthread_mutex_unlock(&cl->sync_lock);
	if (ctx.err) {
		client_fmt(errstr, errstr_size, "%s", ctx.errstr);
		return ctx.err;
	}
	if (ctx.resp->head->error) {
		int err = ctx.resp->head->error;

		client_fmt(errstr, errstr_size, "%s",
			   ctx.resp->head->error_message[0]
			       ? ctx.resp->head->error_message
			       : fluxo_err2str(err));
		resp_free(ctx.resp);
		return err;
	}
	*respp = ctx.resp;
	return 0;
}

int client_topic_wait(struct client *cl, const char *topic, int64_t deadline_ms,
		      int max_denials, char *errstr, size_t errstr_size)
{
	uint64_t rounds, seen = UINT64_MAX;
	int last_err = 0, rc, denials = 0;
	char last_msg[512] = "";

	pthread_mutex_lock(&cl->md_lock);
	rounds = cl->down_rounds;
	seen = cl->md_responses; /* only fresh answers count as denials */
	for (;;) {
		const struct md_topic *t = md_topic_find(&cl->md, topic);
		int64_t now = clock_mono_ms(), until;

		if (t && t->err == 0 && t->part_cnt > 0) {
			rc = t->part_cnt;
			break;
		}
		if (t && t->err) {
			last_err = t->err;
			client_strlcpy(last_msg, t->errstr, sizeof(last_msg));
			if (seen != cl->md_responses &&
			    t->err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
				seen = cl->md_responses;
				denials++;
			}
			if (t->err == FLUXO_ERR_INVALID_TOPIC_EXCEPTION) {
				client_fmt(errstr, errstr_size,
					   "topic \"%s\" is invalid%s%s", topic,
					   last_msg[0] ? ": " : "", last_msg);
				rc = FLUXO_ERR__INVALID_ARG;
				break;
			}
		}
		if (cl->down_rounds != rounds) {
			client_fmt(errstr, errstr_size, "%s", cl->down_errstr);
			rc = FLUXO_ERR__TRANSPORT;
			break;
		}
		if (now >= deadline_ms ||
		    (max_denials > 0 && denials >= max_denials)) {
			if (last_err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
				client_fmt(errstr, errstr_size,
					   "topic \"%s\" does not exist%s%s",
					   topic, last_msg[0] ? ": " : "",
					   last_msg);
				rc = FLUXO_ERR__UNKNOWN_TOPIC;
			} else if (last_err) {
				client_fmt(errstr, errstr_size,
					   "topic \"%s\" is not available: "
					   "%s%s%s",
					   topic, fluxo_err2str(last_err),
					   last_msg[0] ? ": " : "", last_msg);
				rc = FLUXO_ERR__TIMED_OUT;
			} else {
				client_fmt(errstr, errstr_size,
					   "timed out waiting for metadata of "
					   "topic \"%s\"",
					   topic);
				rc = FLUXO_ERR__TIMED_OUT;
			}
			break;
		}
		/* Ask again every turn: a lost or unanswered request must not
		 * leave us waiting; the I/O thread keeps one in flight at
		 * most and spaces them by retry.backoff.ms. */
		client_md_refresh_locked(cl, topic);
		until = now + (cl->conf.retry_backoff_ms > 0
				   ? cl->conf.retry_backoff_ms
				   : 10);
		if (until > deadline_ms)
			until = deadline_ms;
		client_cond_wait_until(&cl->md_cond, &cl->md_lock, until);
	}
	pthread_mutex_unlock(&cl->md_lock);
	return rc;
}
