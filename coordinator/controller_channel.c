/*
 * controller_channel.c - one sender thread per live broker.
 *
 * Kafka's ControllerChannelManager: each broker the controller talks to
 * has a FIFO of framed requests and a thread that sends them one at a
 * time over a blocking connection to the broker's inter-broker listener,
 * waiting for each answer (controller.socket.timeout.ms). A failed
 * connect, write or read closes the connection and retries the same
 * request after a backoff (100 ms doubling to 2 s), for as long as the
 * broker is live; requests carry epochs, so a late one is harmless.
 * Answers go back to the controller thread as EV_RESPONSE events, tagged
 * with the controller generation that sent them.
 *
 * A channel is retired when its broker dies or the controller resigns:
 * the thread is told to stop, its socket is shut down to cut a blocked
 * read short, and the controller joins it later (ctl_channel_reap), so
 * the controller thread never waits on a slow connect.
 *
 * Locking: ch->mu guards the queue, the stop flag and the socket; the
 * thread never holds it across I/O.
 */
#include "config.h"
#include "controller_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "rpc.h"

struct ctl_out {
	int api;
	uint64_t gen;
	int64_t broker_epoch;
	struct buf frame;
	struct ctl_tp_name *sent;
	int n_sent;
	struct ctl_out *next;
};

struct ctl_channel {
	controller_t *ctl;
	int32_t broker_id;
	char *host;
	int port;
	int socket_timeout_ms;
	int connect_timeout_ms;
	uint32_t max_frame;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ctl_out *head, *tail;
	bool stop;
	atomic_bool done;
	int fd;
	struct ctl_channel *next_retired;
};

void ctl_tp_names_free(struct ctl_tp_name *v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i].topic);
	free(v);
}

static void out_free(struct ctl_out *o)
{
	buf_free(&o->frame);
	ctl_tp_names_free(o->sent, o->n_sent);
	free(o);
}

/* Waits up to ms unless told to stop. Caller holds ch->mu. */
static void wait_locked(struct ctl_channel *ch, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (!ch->stop)
		pthread_cond_timedwait(&ch->cv, &ch->mu, &ts);
}

static void close_fd(struct ctl_channel *ch)
{
	int fd;

	pthread_mutex_lock(&ch->mu);
	fd = ch->fd;
	ch->fd = -1;
	pthread_mutex_unlock(&ch->mu);
	if (fd >= 0)
		close(fd);
}

static void *channel_thread(void *arg)
{
	struct ctl_channel *ch = arg;
	int backoff = 100, failures = 0;
	struct buf resp = BUF_INIT;

	pthread_mutex_lock(&ch->mu);
	for (;;) {
		struct ctl_out *o;
		struct frame_info fi;
		char errstr[256];
		int64_t deadline;
		int rc;

		while (!ch->stop && !ch->head)
			pthread_cond_wait(&ch->cv, &ch->mu);
		if (ch->stop)
			break;
		o = ch->head;
		pthread_mutex_unlock(&ch->mu);

		if (ch->fd < 0) {
			int fd = net_connect(ch->host, ch->port,
					     ch->connect_timeout_ms, errstr,
					     sizeof(errstr));

			if (fd < 0) {
				if (failures++ % 20 == 0)
					log_warn(CTL_FAC,
						 "cannot reach broker %" PRId32
						 " at %s:%d: %s; retrying",
						 ch->broker_id, ch->host,
						 ch->port, errstr);
				pthread_mutex_lock(&ch->mu);
				wait_locked(ch, backoff);
				backoff = backoff < 1000 ? backoff * 2 : 2000;
				continue;
			}
			pthread_mutex_lock(&ch->mu);
			if (ch->stop) {
				pthread_mutex_unlock(&ch->mu);
				close(fd);
				pthread_mutex_lock(&ch->mu);
				break;
			}
			ch->fd = fd;
			pthread_mutex_unlock(&ch->mu);
		}

		deadline = clock_mono_ms() + ch->socket_timeout_ms;
		rc = net_write_all(ch->fd, o->frame.data, o->frame.len,
				   deadline);
		if (rc == 0)
			rc = rpc_recv(ch->fd, ch->max_frame, deadline, &resp,
				      &fi);
		if (rc < 0) {
			if (failures++ % 20 == 0)
				log_warn(CTL_FAC,
					 "request to broker %" PRId32
					 " failed: %s; retrying",
					 ch->broker_id, err_str(rc));
			close_fd(ch);
			pthread_mutex_lock(&ch->mu);
			wait_locked(ch, backoff);
			backoff = backoff < 1000 ? backoff * 2 : 2000;
			continue;
		}
		failures = 0;
		backoff = 100;
		{
			struct ctl_event *ev = calloc(1, sizeof(*ev));

			if (ev) {
				ev->type = EV_RESPONSE;
				ev->gen = o->gen;
				ev->broker_id = ch->broker_id;
				ev->broker_epoch = o->broker_epoch;
				ev->api = o->api;
				ev->resp = resp;
				ev->head_len_resp = fi.head_len;
				ev->sent = o->sent;
				ev->n_sent = o->n_sent;
				o->sent = NULL;
				o->n_sent = 0;
				resp = (struct buf)BUF_INIT;
				ctl_post(ch->ctl, ev);
			}
		}
		pthread_mutex_lock(&ch->mu);
		ch->head = o->next;
		if (!ch->head)
			ch->tail = NULL;
		out_free(o);
	}
	pthread_mutex_unlock(&ch->mu);
	buf_free(&resp);
	close_fd(ch);
	atomic_store(&ch->done, true);
	return NULL;
}

struct ctl_channel *ctl_channel_start(controller_t *ctl, int32_t broker_id,
				      const char *host, int port)
{
	struct ctl_channel *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->ctl = ctl;
	ch->broker_id = broker_id;
	ch->host = strdup(host);
	ch->port = port;
	ch->fd = -1;
	ch->socket_timeout_ms = ctl->cfg.controller_socket_timeout_ms;
	ch->connect_timeout_ms = ctl->cfg.connect_timeout_ms;
	ch->max_frame = ctl->cfg.max_response_bytes;
	pthread_mutex_init(&ch->mu, NULL);
	pthread_cond_init(&ch->cv, NULL);
	if (!ch->host ||
	    pthread_create(&ch->thread, NULL, channel_thread, ch) != 0) {
		free(ch->host);
		pthread_mutex_destroy(&ch->mu);
		pthread_cond_destroy(&ch->cv);
		free(ch);
		return NULL;
	}
	return ch;
}

void ctl_channel_send(struct ctl_channel *ch, int api, uint64_t gen,
		      int64_t broker_epoch, struct buf *frame,
		      struct ctl_tp_name *sent, int n_sent)
{
	struct ctl_out *o = calloc(1, sizeof(*o));

	if (!o) {
		buf_free(frame);
		ctl_tp_names_free(sent, n_sent);
		return;
	}
	o->api = api;
	o->gen = gen;
	o->broker_epoch = broker_epoch;
	o->frame = *frame;
	*frame = (struct buf)BUF_INIT;
	o->sent = sent;
	o->n_sent = n_sent;
	pthread_mutex_lock(&ch->mu);
	if (ch->tail)
		ch->tail->next = o;
	else
		ch->head = o;
	ch->tail = o;
	pthread_cond_signal(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
}

void ctl_channel_retire(controller_t *ctl, struct ctl_channel *ch)
{
	pthread_mutex_lock(&ch->mu);
	ch->stop = true;
	if (ch->fd >= 0)
		shutdown(ch->fd, SHUT_RDWR);
	pthread_cond_signal(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
	ch->next_retired = ctl->retired;
	ctl->retired = ch;
}

void ctl_channel_reap(controller_t *ctl, bool wait)
{
	struct ctl_channel **pp = &ctl->retired;

	while (*pp) {
		struct ctl_channel *ch = *pp;

		if (!wait && !atomic_load(&ch->done)) {
			pp = &ch->next_retired;
			continue;
		}
		*pp = ch->next_retired;
		pthread_join(ch->thread, NULL);
		while (ch->head) {
			struct ctl_out *o = ch->head;

			ch->head = o->next;
			out_free(o);
		}
		pthread_mutex_destroy(&ch->mu);
		pthread_cond_destroy(&ch->cv);
		free(ch->host);
		free(ch);
	}
}
