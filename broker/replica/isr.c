/*
 * isr.c - in-sync replica set changes, proposed by the leader and
 * committed by the controller (the AlterIsr model, KIP-497).
 *
 * Shrink: a follower in the ISR is out of sync when its log end offset is
 * behind the leader's and it has not caught up for replica.lag.time.max.ms
 * (one rule covers a dead follower and a slow one). A task checks every
 * leader partition at half that interval.
 * Expand: a follower outside the ISR rejoins once it has fetched up to the
 * high watermark and past the start of the current leader epoch (so it
 * holds every committed record of this epoch).
 *
 * The leader never writes ZooKeeper. It sends AlterIsr to the controller
 * with the leader epoch and the partition epoch (the state znode version)
 * it knows; the controller checks both, writes the state fenced by its own
 * epoch, and answers with the committed state, which the leader adopts.
 * At most one change per partition is in flight; while an addition is in
 * flight the high watermark already counts the new member (maximal ISR).
 *
 * Threads: proposals are made under p->lock from network workers (expand,
 * after a follower fetch) and from the ISR thread (shrink); the ISR thread
 * batches pending proposals into one AlterIsr request to the controller.
 */
#include "config.h"
#include "isr.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_int.h"
#include "broker/log/plog.h"
#include "broker/metadata_cache.h"
#include "broker/partition.h"
#include "broker/purgatory.h"
#include "common/arena.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc.h"

struct pending {
	struct pending *next;
	struct partition *p;
	uint64_t gen;		/* the proposal this entry carries */
	bool sent;
};

struct isr_mgr {
	struct broker *b;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pending *queue;
	bool stop;
	int fd;
	int32_t fd_broker;	/* controller the socket is connected to */
	int32_t corr;
	struct buf resp;
	struct arena arena;
	atomic_llong shrinks, expands;
};

static bool contains(const int32_t *v, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* Caller holds p->lock. Takes ownership of isr. */
static void propose_locked(struct isr_mgr *m, struct partition *p, int32_t *isr,
			   int n)
{
	struct pending *q;

	if (p->alter_isr_inflight || p->role != ROLE_LEADER) {
		free(isr);
		return;
	}
	q = malloc(sizeof(*q));
	if (!q) {
		free(isr);
		return;
	}
	free(p->proposed_isr);
	p->proposed_isr = isr;
	p->n_proposed_isr = n;
	p->alter_isr_inflight = true;
	q->gen = ++p->isr_proposal_gen;
	q->sent = false;
	partition_ref(p);
	q->p = p;
	pthread_mutex_lock(&m->lock);
	q->next = m->queue;
	m->queue = q;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void isr_maybe_expand_locked(struct isr_mgr *m, struct partition *p,
			     int32_t replica_id)
{
	struct follower_state *f = NULL;
	int32_t ep = -1;
	int64_t epoch_start = -1;
	int32_t *isr;

	if (!m || p->role != ROLE_LEADER || p->alter_isr_inflight ||
	    contains(p->isr, p->n_isr, replica_id) ||
	    !contains(p->replicas, p->n_replicas, replica_id))
		return;
	for (int i = 0; i < p->n_followers; i++)
		if (p->followers[i].id == replica_id)
			f = &p->followers[i];
	if (!f || f->leo < plog_hw(p->log))
		return;
	/* The current epoch starts where the previous one ends. */
	plog_epoch_end_offset(p->log, p->leader_epoch - 1, &ep, &epoch_start);
	if (ep < 0)
		epoch_start = 0;
	if (f->leo < epoch_start)
		return;
	isr = malloc(((size_t)p->n_isr + 1) * sizeof(*isr));
	if (!isr)
		return;
	memcpy(isr, p->isr, (size_t)p->n_isr * sizeof(*isr));
	isr[p->n_isr] = replica_id;
	log_info("replica",
		 "topic=%s partition=%d: proposing to add broker %d to the ISR "
		 "(its offset %lld, hw %lld)",
		 p->topic, p->id, replica_id, (long long)f->leo,
		 (long long)plog_hw(p->log));
	atomic_fetch_add(&m->expands, 1);
	propose_locked(m, p, isr, p->n_isr + 1);
}

/* Shrink check of one partition (ISR thread). */
static void check_shrink(struct isr_mgr *m, struct partition *p,
			 int64_t lag_ms, int64_t now)
{
	int32_t self = broker_id(m->b);
	int32_t *isr;
	int n = 0;
	int64_t leo;

	pthread_mutex_lock(&p->lock);
	if (p->role != ROLE_LEADER || p->alter_isr_inflight) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	leo = plog_leo(p->log);
	isr = malloc(((size_t)p->n_isr + 1) * sizeof(*isr));
	if (!isr) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	for (int i = 0; i < p->n_isr; i++) {
		int32_t id = p->isr[i];
		bool out = false;

		if (id != self) {
			for (int j = 0; j < p->n_followers; j++) {
				struct follower_state *f = &p->followers[j];

				if (f->id == id && f->leo < leo &&
				    now - f->last_caught_up_ms > lag_ms)
					out = true;
				if (f->id == id && f->leo < 0 &&
				    now - f->last_caught_up_ms > lag_ms)
					out = true;
			}
		}
		if (out)
			log_info("replica",
				 "topic=%s partition=%d: broker %d is out of "
				 "sync (no catch-up for %lld ms); proposing to "
				 "remove it from the ISR",
				 p->topic, p->id, id,
				 (long long)replica_lag_of(p, id, now));
		else
			isr[n++] = id;
	}
	if (n < p->n_isr) {
		atomic_fetch_add(&m->shrinks, 1);
		propose_locked(m, p, isr, n);
	} else {
		free(isr);
	}
	pthread_mutex_unlock(&p->lock);
}

int64_t replica_lag_of(struct partition *p, int32_t id, int64_t now)
{
	for (int j = 0; j < p->n_followers; j++)
		if (p->followers[j].id == id)
			return now - p->followers[j].last_caught_up_ms;
	return -1;
}

/* ------------------------------------------------------------ AlterIsr */

static void disconnect(struct isr_mgr *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->fd_broker = -1;
}

static int connect_controller(struct isr_mgr *m)
{
	struct md_snapshot *s = md_cache_acquire(m->b->md);
	const struct md_broker *mb = NULL;
	char host[256], errstr[256];
	int32_t ctl = s->controller_id;
	int port = -1;

	if (ctl >= 0)
		mb = md_find_broker(s, ctl);
	if (mb) {
		snprintf(host, sizeof(host), "%s", mb->host);
		port = mb->port;
	}
	md_snapshot_release(s);
	if (m->fd >= 0 && m->fd_broker == ctl)
		return 0;
	disconnect(m);
	if (port < 0)
		return ERR_NOT_FOUND;
	m->fd = net_connect(host, port, 5000, errstr, sizeof(errstr));
	if (m->fd < 0) {
		log_warn("replica", "cannot reach the controller: %s", errstr);
		m->fd = -1;
		return ERR_CONNECT;
	}
	m->fd_broker = ctl;
	return 0;
}

/*
 * Applies the controller's answer to the proposal q carried. A proposal
 * superseded meanwhile (a LeaderAndIsr reset the partition's ISR state,
 * or a newer proposal replaced it) is left alone.
 */
static void finish(struct pending *q, const Fluxo__AlterIsrPartitionResponse *r)
{
	struct partition *p = q->p;

	pthread_mutex_lock(&p->lock);
	if (!p->alter_isr_inflight || p->isr_proposal_gen != q->gen) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (r && r->error == FLUXO__ERROR_CODE__NONE &&
	    r->leader_epoch == p->leader_epoch && p->role == ROLE_LEADER) {
		int32_t *isr = NULL;

		if (r->n_isr) {
			isr = malloc(r->n_isr * sizeof(*isr));
			if (isr)
				memcpy(isr, r->isr, r->n_isr * sizeof(*isr));
		}
		if (isr || !r->n_isr) {
			free(p->isr);
			p->isr = isr;
			p->n_isr = (int)r->n_isr;
			p->partition_epoch = r->partition_epoch;
			log_info("replica",
				 "topic=%s partition=%d: ISR is now %zu "
				 "replica(s) (partition epoch %d)",
				 p->topic, p->id, r->n_isr,
				 r->partition_epoch);
		}
	} else if (r) {
		log_info("replica",
			 "topic=%s partition=%d: the controller refused the ISR "
			 "change (error %d)",
			 p->topic, p->id, (int)r->error);
	}
	p->alter_isr_inflight = false;
	free(p->proposed_isr);
	p->proposed_isr = NULL;
	p->n_proposed_isr = 0;
	maybe_advance_hw_locked(p);
	pthread_mutex_unlock(&p->lock);
	partition_notify(p);
}

static void send_batch(struct isr_mgr *m, struct pending *batch)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__AlterIsrRequest ar = FLUXO__ALTER_ISR_REQUEST__INIT;
	Fluxo__AlterIsrTopic **topics;
	Fluxo__AlterIsrPartition **parts;
	Fluxo__Response *resp = NULL;
	struct frame_info fi;
	int n = 0, i = 0;

	for (struct pending *q = batch; q; q = q->next)
		n++;
	topics = calloc((size_t)n, sizeof(*topics));
	parts = calloc((size_t)n, sizeof(*parts));
	if (!topics || !parts)
		goto done;
	for (struct pending *q = batch; q; q = q->next) {
		struct partition *p = q->p;
		Fluxo__AlterIsrTopic *t;
		Fluxo__AlterIsrPartition *pp;

		pthread_mutex_lock(&p->lock);
		if (!p->alter_isr_inflight || p->isr_proposal_gen != q->gen ||
		    p->n_proposed_isr == 0) {
			/* Superseded while queued: nothing to send. */
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		t = calloc(1, sizeof(*t));
		pp = calloc(1, sizeof(*pp));
		if (!t || !pp) {
			pthread_mutex_unlock(&p->lock);
			free(t);
			free(pp);
			goto done;
		}
		q->sent = true;
		fluxo__alter_isr_topic__init(t);
		fluxo__alter_isr_partition__init(pp);
		t->name = p->topic;
		pp->partition = p->id;
		pp->leader_epoch = p->leader_epoch;
		pp->partition_epoch = p->partition_epoch;
		pp->n_new_isr = (size_t)p->n_proposed_isr;
		pp->new_isr = malloc(((size_t)p->n_proposed_isr + 1) *
				     sizeof(int32_t));
		if (pp->new_isr)
			memcpy(pp->new_isr, p->proposed_isr,
			       (size_t)p->n_proposed_isr * sizeof(int32_t));
		pthread_mutex_unlock(&p->lock);
		parts[i] = pp;
		t->partitions = &parts[i];
		t->n_partitions = 1;
		topics[i] = t;
		i++;
	}
	if (i == 0)
		goto done;
	n = i;
	ar.broker_id = broker_id(m->b);
	ar.broker_epoch = atomic_load(&m->b->broker_epoch);
	ar.topics = topics;
	ar.n_topics = (size_t)n;
	req.api = FLUXO__API_KEY__ALTER_ISR;
	req.body_case = FLUXO__REQUEST__BODY_ALTER_ISR;
	req.alter_isr = &ar;
	req.correlation_id = ++m->corr;
	req.client_id = "fluxo-isr";
	if (connect_controller(m) == 0) {
		int rc = rpc_call(m->fd, &req.base, NULL, 0, 64u << 20, 10000,
				  &m->resp, &fi);

		if (rc < 0) {
			disconnect(m);
		} else {
			arena_reset(&m->arena);
			resp = fluxo__response__unpack(arena_pb(&m->arena),
						       fi.head_len,
						       m->resp.data);
			if (!resp)
				disconnect(m);
		}
	}
done:
	for (struct pending *q = batch; q; q = q->next) {
		const Fluxo__AlterIsrPartitionResponse *r = NULL;

		if (resp && resp->body_case == FLUXO__RESPONSE__BODY_ALTER_ISR &&
		    resp->alter_isr->error == FLUXO__ERROR_CODE__NONE) {
			for (size_t a = 0; a < resp->alter_isr->n_topics; a++) {
				Fluxo__AlterIsrTopicResponse *tr =
					resp->alter_isr->topics[a];

				if (strcmp(tr->name, q->p->topic) != 0)
					continue;
				for (size_t b = 0; b < tr->n_partitions; b++)
					if (tr->partitions[b]->partition ==
					    q->p->id)
						r = tr->partitions[b];
			}
		}
		if (q->sent || !r)
			finish(q, r);
	}
	for (int k = 0; k < n; k++) {
		if (parts && parts[k]) {
			free(parts[k]->new_isr);
			free(parts[k]);
		}
		if (topics)
			free(topics[k]);
	}
	free(topics);
	free(parts);
}

static void *isr_main(void *arg)
{
	struct isr_mgr *m = arg;
	const struct broker_conf *bc = broker_conf(m->b);
	int64_t lag = bc->replica_lag_time_max_ms;
	int64_t interval = lag / 2 > 100 ? lag / 2 : 100;
	int64_t next_check = clock_mono_ms() + interval;

	pthread_setname_np(pthread_self(), "fluxo-isr");
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		int64_t now = clock_mono_ms();

		if (m->queue) {
			struct pending *batch = m->queue;

			m->queue = NULL;
			pthread_mutex_unlock(&m->lock);
			send_batch(m, batch);
			while (batch) {
				struct pending *next = batch->next;

				partition_unref(batch->p);
				free(batch);
				batch = next;
			}
			pthread_mutex_lock(&m->lock);
			continue;
		}
		if (now >= next_check) {
			struct partition **v = NULL;
			int n;

			pthread_mutex_unlock(&m->lock);
			n = m->b->rm ? rm_list(m->b->rm, &v) : 0;
			for (int i = 0; i < n; i++) {
				check_shrink(m, v[i], lag, now);
				partition_unref(v[i]);
			}
			free(v);
			next_check = now + interval;
			pthread_mutex_lock(&m->lock);
			continue;
		}
		{
			struct timespec ts;
			int64_t wait = next_check - now;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&m->cond, &m->lock, &ts);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

struct isr_mgr *isr_mgr_start(struct broker *b)
{
	struct isr_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->b = b;
	m->fd = -1;
	m->fd_broker = -1;
	arena_init(&m->arena, 16384);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (pthread_create(&m->thread, NULL, isr_main, m) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

void isr_mgr_stop(struct isr_mgr *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	while (m->queue) {
		struct pending *q = m->queue;

		m->queue = q->next;
		finish(q, NULL);
		partition_unref(q->p);
		free(q);
	}
	disconnect(m);
	buf_free(&m->resp);
	arena_destroy(&m->arena);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

void isr_mgr_counts(struct isr_mgr *m, int64_t *shrinks, int64_t *expands)
{
	*shrinks = m ? atomic_load(&m->shrinks) : 0;
	*expands = m ? atomic_load(&m->expands) : 0;
}
