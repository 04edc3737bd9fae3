/*
 * fetcher.c - replica fetchers: a follower's copy of its leaders' logs.
 *
 * One thread per source broker (the leader being copied), batching every
 * partition it follows from that leader into one Fetch request with
 * replica_id set to this broker's id; the leader records the fetch offset
 * as the follower's progress (see partition.c).
 *
 * A partition enters a fetcher in the TRUNCATE state. Before it fetches
 * anything it asks the leader, with OffsetForLeaderEpoch, where its latest
 * local epoch ends in the leader's log, and truncates its own log there
 * (never blindly to the high watermark: KIP-101/KIP-279). A follower
 * without any epoch in its cache truncates to its high watermark, which is
 * the only safe point it knows. When it keeps its whole log, it still
 * drops an epoch that starts at its log end: one it began as leader
 * without writing (paused, or deposed at once), which the leader never
 * had, and which as the last fetched epoch would make every fetch
 * diverge (Kafka's truncateTo truncates the cache then too). A
 * diverging_epoch in a later fetch response (the leader saw our last
 * fetched epoch end earlier) sends the partition back to TRUNCATE.
 *
 * Data is appended with plog_append_follower: batches keep the leader's
 * offsets and epochs. The follower's high watermark becomes
 * min(leader HW, own LEO).
 *
 * Replication throttling, follower side (KIP-73): a partition named by
 * follower.replication.throttled.replicas whose log ends below the
 * leader's last high watermark is left out of fetches while the broker's
 * follower throttle is in debt (it backs off for as long as the throttle
 * says), and the bytes it receives are charged to the throttle. Caught-up
 * replicas and partitions not named are never held back.
 *
 * Locking: f->lock guards the partition set and is held while a
 * response's data is appended, so removing a partition (when it becomes
 * leader or is stopped) waits for an append in progress and no append can
 * happen after removal. The lock is not held during network waits.
 */
#include "config.h"
#include "fetcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker_int.h"
#include "broker/log/plog.h"
#include "broker/partition.h"
#include "broker/replica/throttle.h"
#include "common/arena.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc.h"
#include "fluxo.pb-c.h"

enum fstate { FS_TRUNCATE, FS_FETCH, FS_FAILED };

struct fpart {
	struct fpart *next;
	struct partition *p;
	int32_t leader_epoch;
	enum fstate state;
	int64_t backoff_until;	/* monotonic ms */
	int64_t leader_hw;	/* from the last fetch response; -1 */
	bool throttled;		/* the fetch in flight is throttled */
};

struct fetcher {
	struct fetcher *next;
	struct fetcher_mgr *mgr;
	int32_t source;		/* leader broker id */
	char host[256];
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t fd_lock;	/* guards fd changes vs. shutdown */
	struct fpart *parts;
	int n_parts;
	bool stop;
	int fd;
	int32_t corr;
	struct buf resp;
	struct arena arena;
};

struct fetcher_mgr {
	struct broker *b;
	pthread_mutex_t lock;
	struct fetcher *fetchers;
	/* Last known endpoints of leaders (from LeaderAndIsr). */
	struct {
		int32_t id;
		char host[256];
		int port;
	} eps[64];
	int n_eps;
};

static const struct broker_conf *conf_of(struct fetcher *f)
{
	return broker_conf(f->mgr->b);
}

/* ------------------------------------------------------------ network */

static void disconnect(struct fetcher *f)
{
	pthread_mutex_lock(&f->fd_lock);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	pthread_mutex_unlock(&f->fd_lock);
}

static int ensure_connected(struct fetcher *f)
{
	char errstr[256];
	char host[256];
	int port, fd;

	if (f->fd >= 0)
		return 0;
	pthread_mutex_lock(&f->mgr->lock);
	snprintf(host, sizeof(host), "%s", f->host);
	port = f->port;
	pthread_mutex_unlock(&f->mgr->lock);
	if (port <= 0)
		return ERR_CONNECT;
	fd = net_connect(host, port, conf_of(f)->replica_socket_timeout_ms,
			 errstr, sizeof(errstr));
	if (fd < 0) {
		log_warn("replica", "fetcher for leader %d: %s", f->source,
			 errstr);
		return ERR_CONNECT;
	}
	pthread_mutex_lock(&f->fd_lock);
	f->fd = fd;
	if (f->stop)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&f->fd_lock);
	return 0;
}

/* Sends req and decodes the response into f->arena. NULL on failure
 * (the connection is then closed). */
static Fluxo__Response *call(struct fetcher *f, Fluxo__Request *req,
			     const uint8_t **payload, size_t *payload_len,
			     int timeout_ms)
{
	struct frame_info fi;
	Fluxo__Response *resp;
	int rc;

	req->correlation_id = ++f->corr;
	req->client_id = "fluxo-replica-fetcher";
	rc = rpc_call(f->fd, &req->base, NULL, 0,
		      (uint32_t)conf_of(f)->socket_request_max_bytes +
			      (64u << 20),
		      timeout_ms, &f->resp, &fi);
	if (rc < 0) {
		log_warn("replica", "fetcher for leader %d: request failed: %s",
			 f->source, err_str(rc));
		disconnect(f);
		return NULL;
	}
	arena_reset(&f->arena);
	resp = fluxo__response__unpack(arena_pb(&f->arena), fi.head_len,
				       f->resp.data);
	if (!resp || resp->correlation_id != req->correlation_id) {
		log_warn("replica",
			 "fetcher for leader %d: undecodable response",
			 f->source);
		disconnect(f);
		return NULL;
	}
	if (payload) {
		*payload = f->resp.data + fi.head_len;
		*payload_len = fi.payload_len;
	}
	return resp;
}

/*
 * The pause after a partition error. A leader that has not yet applied
 * the LeaderAndIsr this follower already has (UNKNOWN_LEADER_EPOCH,
 * NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION: usual right after a
 * topic is created or leadership moves) will within milliseconds: waiting
 * the whole replica.fetch.backoff.ms there held acks=all produces for a
 * second. Other errors wait the full backoff.
 */
static int64_t error_backoff(struct fetcher *f, int err)
{
	int64_t ms = conf_of(f)->replica_fetch_backoff_ms;

	if ((err == FLUXO__ERROR_CODE__UNKNOWN_LEADER_EPOCH ||
	     err == FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER ||
	     err == FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION) &&
	    ms > 50)
		ms = 50;
	return clock_mono_ms() + ms;
}

/* ------------------------------------------------------------ truncation */

int64_t fetcher_truncation_offset(plog_t *log, int32_t leader_epoch,
				  int64_t leader_end_offset)
{
	int64_t leo = plog_leo(log), target;

	if (leader_epoch < 0 || leader_end_offset < 0) {
		/* No common epoch known: the HW is the only safe point. */
		target = plog_hw(log);
	} else {
		int32_t local_ep = -1;
		int64_t local_end = -1;

		target = leader_end_offset;
		/* KIP-279: if the leader's largest epoch <= ours is older
		 * than ours, also cap by where that epoch ends locally. */
		plog_epoch_end_offset(log, leader_epoch, &local_ep, &local_end);
		if (local_ep == leader_epoch && local_end >= 0 &&
		    local_end < target)
			target = local_end;
	}
	return target < leo ? target : leo;
}

int fetcher_drop_unwritten_epochs(plog_t *log)
{
	int32_t epochs[64];
	int64_t starts[64], leo = plog_leo(log);
	int n = plog_epoch_entries(log, epochs, starts, 64), k = 0;

	if (n > 64)
		n = 64;
	while (k < n && starts[n - 1 - k] >= leo)
		k++;
	if (k > 0 && plog_epoch_truncate_end(log, leo) < 0)
		return ERR_IO;
	return k;
}

/* After a truncation decision that kept the whole log. */
static void drop_unwritten_epochs(struct fpart *fp, int32_t source)
{
	int32_t latest = plog_epoch_latest(fp->p->log);
	int n = fetcher_drop_unwritten_epochs(fp->p->log);

	if (n > 0)
		log_info("replica",
			 "topic=%s partition=%d: dropping leader epoch %d, "
			 "begun at the log end %lld without a record (leader "
			 "%d never had it)",
			 fp->p->topic, fp->p->id, latest,
			 (long long)plog_leo(fp->p->log), source);
	else if (n < 0)
		log_warn("replica",
			 "topic=%s partition=%d: cannot drop leader epoch %d "
			 "begun at the log end: %s",
			 fp->p->topic, fp->p->id, latest, err_str(n));
}

/* Truncates every partition in FS_TRUNCATE. Called without f->lock;
 * takes it to read and apply. */
static void do_truncations(struct fetcher *f)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__OffsetForLeaderEpochRequest oe =
		FLUXO__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
	Fluxo__OffsetForLeaderEpochTopic **topics = NULL;
	Fluxo__Response *resp;
	int64_t now = clock_mono_ms();
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (struct fpart *fp = f->parts; fp; fp = fp->next)
		if (fp->state == FS_TRUNCATE && fp->backoff_until <= now)
			n++;
	if (n == 0) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/* One topic entry per partition keeps this simple; the leader
	 * answers per entry. */
	topics = calloc((size_t)n, sizeof(*topics));
	n = 0;
	for (struct fpart *fp = f->parts; fp && topics; fp = fp->next) {
		Fluxo__OffsetForLeaderEpochTopic *t;
		Fluxo__OffsetForLeaderEpochPartition *pp;

		if (fp->state != FS_TRUNCATE || fp->backoff_until > now)
			continue;
		t = calloc(1, sizeof(*t));
		pp = calloc(1, sizeof(*pp));
		fluxo__offset_for_leader_epoch_topic__init(t);
		fluxo__offset_for_leader_epoch_partition__init(pp);
		t->name = strdup(fp->p->topic);
		pp->partition = fp->p->id;
		pp->current_leader_epoch = fp->leader_epoch;
		pp->leader_epoch = plog_epoch_latest(fp->p->log);
		t->partitions = malloc(sizeof(*t->partitions));
		t->partitions[0] = pp;
		t->n_partitions = 1;
		topics[n++] = t;
	}
	pthread_mutex_unlock(&f->lock);

	oe.replica_id = broker_id(f->mgr->b);
	oe.topics = topics;
	oe.n_topics = (size_t)n;
	req.api = FLUXO__API_KEY__OFFSET_FOR_LEADER_EPOCH;
	req.body_case = FLUXO__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH;
	req.offset_for_leader_epoch = &oe;
	resp = call(f, &req, NULL, NULL, conf_of(f)->replica_socket_timeout_ms);

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; resp && resp->body_case ==
				  FLUXO__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH &&
			   i < resp->offset_for_leader_epoch->n_topics;
	     i++) {
		Fluxo__OffsetForLeaderEpochTopicResult *tr =
			resp->offset_for_leader_epoch->topics[i];

		for (size_t j = 0; j < tr->n_partitions; j++) {
			Fluxo__EpochEndOffsetResult *er = tr->partitions[j];
			struct fpart *fp;
			int64_t target, new_leo = -1;
			plog_t *log;

			for (fp = f->parts; fp; fp = fp->next)
				if (fp->state == FS_TRUNCATE &&
				    fp->p->id == er->partition &&
				    strcmp(fp->p->topic, tr->name) == 0)
					break;
			if (!fp)
				continue;
			log = fp->p->log;
			if (er->error != FLUXO__ERROR_CODE__NONE) {
				fp->backoff_until = error_backoff(f, er->error);
				continue;
			}
			target = fetcher_truncation_offset(
			    log, er->leader_epoch, er->end_offset);
			if (target < plog_leo(log)) {
				log_info("replica",
					 "topic=%s partition=%d: truncating "
					 "from %lld to %lld (leader %d, epoch "
					 "%d ends at %lld)",
					 fp->p->topic, fp->p->id,
					 (long long)plog_leo(log),
					 (long long)target, f->source,
					 er->leader_epoch,
					 (long long)er->end_offset);
				if (plog_truncate_to(log, target, &new_leo) <
				    0) {
					fp->state = FS_FAILED;
					continue;
				}
			} else {
				drop_unwritten_epochs(fp, f->source);
			}
			fp->state = FS_FETCH;
		}
	}
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < n; i++) {
		free(topics[i]->name);
		free(topics[i]->partitions[0]);
		free(topics[i]->partitions);
		free(topics[i]);
	}
	free(topics);
}

/* ------------------------------------------------------------ fetching */

static void handle_partition_response(struct fetcher *f, struct fpart *fp,
				      Fluxo__FetchPartitionResponse *pr,
				      const uint8_t *data)
{
	plog_t *log = fp->p->log;
	const struct broker_conf *bc = conf_of(f);

	switch (pr->error) {
	case FLUXO__ERROR_CODE__NONE:
		break;
	case FLUXO__ERROR_CODE__OFFSET_OUT_OF_RANGE:
		if (plog_leo(log) > pr->log_end_offset &&
		    pr->log_end_offset >= 0) {
			/* Unclean leader election: the leader has less. */
			log_warn("replica",
				 "topic=%s partition=%d: truncating to the "
				 "leader's end offset %lld",
				 fp->p->topic, fp->p->id,
				 (long long)pr->log_end_offset);
			plog_truncate_to(log, pr->log_end_offset, NULL);
		} else if (pr->log_start_offset > plog_leo(log)) {
			log_info("replica",
				 "topic=%s partition=%d: behind the leader's log "
				 "start; restarting at %lld",
				 fp->p->topic, fp->p->id,
				 (long long)pr->log_start_offset);
			plog_truncate_fully(log, pr->log_start_offset);
		}
		return;
	default:
		fp->backoff_until = error_backoff(f, pr->error);
		log_debug("replica", "topic=%s partition=%d: fetch error %d",
			  fp->p->topic, fp->p->id, (int)pr->error);
		return;
	}
	if (pr->diverging_epoch && pr->diverging_epoch->epoch >= -1 &&
	    pr->records_size == 0) {
		fp->state = FS_TRUNCATE;
		return;
	}
	if (pr->records_size > 0) {
		struct batch_run_info info;
		struct plog_append_result ar;
		size_t bad = 0;
		int rc;

		rc = batch_run_validate(data, pr->records_size, SIZE_MAX >> 1,
					&info, &bad);
		if (rc < 0) {
			log_error("replica",
				 "topic=%s partition=%d: leader %d sent a "
				 "corrupt batch at byte %zu; not appended",
				 fp->p->topic, fp->p->id, f->source, bad);
			fp->backoff_until =
				clock_mono_ms() + bc->replica_fetch_backoff_ms;
			return;
		}
		rc = plog_append_follower(log, data, pr->records_size, &info,
					  &ar);
		if (rc == ERR_OUT_OF_RANGE) {
			/* Our log moved (truncation raced): re-sync. */
			fp->state = FS_TRUNCATE;
			return;
		}
		if (rc < 0) {
			log_error("replica",
				  "topic=%s partition=%d: follower append "
				  "failed: %s",
				  fp->p->topic, fp->p->id, err_str(rc));
			fp->backoff_until =
				clock_mono_ms() + bc->replica_fetch_backoff_ms;
			return;
		}
	}
	if (fp->throttled && pr->records_size > 0)
		throttle_record(f->mgr->b->follower_throttle,
				(int64_t)pr->records_size, clock_mono_us());
	{
		int64_t hw = pr->high_watermark;
		int64_t leo = plog_leo(log);

		fp->leader_hw = hw;
		plog_set_hw(log, hw < leo ? hw : leo);
	}
}

/*
 * Whether fp's next fetch is throttled; when the throttle is in debt, the
 * partition backs off instead and the ms it waits are returned (else 0).
 * Caller holds f->lock.
 */
static int64_t throttle_check(struct fetcher *f, struct fpart *fp,
			      int64_t now)
{
	struct throttle *th = f->mgr->b->follower_throttle;
	int64_t wait;

	fp->throttled = false;
	if (!atomic_load(&fp->p->throttle_follower) || !throttle_limited(th))
		return 0;
	/* Caught up with what the leader has committed: in sync. */
	if (fp->leader_hw >= 0 && plog_leo(fp->p->log) >= fp->leader_hw)
		return 0;
	wait = throttle_delay_ms(th, clock_mono_us());
	if (wait > 0)
		fp->backoff_until = now + wait;
	else
		fp->throttled = true;
	return wait;
}

/* One fetch round. Returns false after a network failure. */
static bool fetch_once(struct fetcher *f)
{
	const struct broker_conf *bc = conf_of(f);
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__FetchRequest fr = FLUXO__FETCH_REQUEST__INIT;
	Fluxo__FetchTopic **topics;
	Fluxo__FetchPartition **parts;
	Fluxo__Response *resp;
	const uint8_t *payload = NULL;
	size_t payload_len = 0, off = 0;
	int64_t now = clock_mono_ms(), wake = 0;
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (struct fpart *fp = f->parts; fp; fp = fp->next) {
		int64_t wait;

		if (fp->state != FS_FETCH || fp->backoff_until > now)
			continue;
		wait = throttle_check(f, fp, now);
		if (wait > 0 && (wake == 0 || wait < wake))
			wake = wait;
		if (fp->backoff_until <= now)
			n++;
	}
	if (n == 0) {
		pthread_mutex_unlock(&f->lock);
		return true;
	}
	topics = calloc((size_t)n, sizeof(*topics));
	parts = calloc((size_t)n, sizeof(*parts));
	n = 0;
	for (struct fpart *fp = f->parts; fp && topics && parts;
	     fp = fp->next) {
		Fluxo__FetchTopic *t;
		Fluxo__FetchPartition *pp;

		if (fp->state != FS_FETCH || fp->backoff_until > now)
			continue;
		t = calloc(1, sizeof(*t));
		pp = calloc(1, sizeof(*pp));
		fluxo__fetch_topic__init(t);
		fluxo__fetch_partition__init(pp);
		t->name = strdup(fp->p->topic);
		pp->partition = fp->p->id;
		pp->current_leader_epoch = fp->leader_epoch;
		pp->fetch_offset = plog_leo(fp->p->log);
		pp->last_fetched_epoch = plog_epoch_latest(fp->p->log);
		pp->log_start_offset = plog_log_start(fp->p->log);
		pp->partition_max_bytes = bc->replica_fetch_max_bytes;
		parts[n] = pp;
		t->partitions = &parts[n];
		t->n_partitions = 1;
		topics[n++] = t;
	}
	pthread_mutex_unlock(&f->lock);

	fr.replica_id = broker_id(f->mgr->b);
	fr.replica_epoch = atomic_load(&f->mgr->b->broker_epoch);
	fr.max_wait_ms = bc->replica_fetch_wait_max_ms;
	/* Back in time for partitions the throttle holds back. */
	if (wake > 0 && wake < fr.max_wait_ms)
		fr.max_wait_ms = (int32_t)wake;
	fr.min_bytes = bc->replica_fetch_min_bytes;
	fr.max_bytes = bc->replica_fetch_response_max_bytes;
	fr.topics = topics;
	fr.n_topics = (size_t)n;
	req.api = FLUXO__API_KEY__FETCH;
	req.body_case = FLUXO__REQUEST__BODY_FETCH;
	req.fetch = &fr;
	resp = call(f, &req, &payload, &payload_len,
		    bc->replica_socket_timeout_ms + bc->replica_fetch_wait_max_ms);

	pthread_mutex_lock(&f->lock);
	if (resp && resp->body_case == FLUXO__RESPONSE__BODY_FETCH) {
		for (size_t i = 0; i < resp->fetch->n_topics; i++) {
			Fluxo__FetchTopicResponse *tr = resp->fetch->topics[i];

			for (size_t j = 0; j < tr->n_partitions; j++) {
				Fluxo__FetchPartitionResponse *pr =
					tr->partitions[j];
				struct fpart *fp;

				if (off + pr->records_size > payload_len)
					break;
				for (fp = f->parts; fp; fp = fp->next)
					if (fp->p->id == pr->partition &&
					    strcmp(fp->p->topic, tr->name) ==
						    0)
						break;
				/* Partitions removed meanwhile are
				 * skipped: their data is not ours any
				 * more. */
				if (fp && fp->state == FS_FETCH)
					handle_partition_response(
						f, fp, pr, payload + off);
				off += pr->records_size;
			}
		}
	}
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < n; i++) {
		free(topics[i]->name);
		free(parts[i]);
		free(topics[i]);
	}
	free(topics);
	free(parts);
	return resp != NULL;
}

static void *fetcher_main(void *arg)
{
	struct fetcher *f = arg;
	char name[16];

	snprintf(name, sizeof(name), "fluxo-fetch-%d", f->source);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		int64_t backoff = conf_of(f)->replica_fetch_backoff_ms;
		bool ok;

		if (f->n_parts == 0) {
			disconnect(f);
			pthread_cond_wait(&f->cond, &f->lock);
			continue;
		}
		pthread_mutex_unlock(&f->lock);
		ok = ensure_connected(f) == 0;
		if (ok) {
			do_truncations(f);
			ok = f->fd >= 0 && fetch_once(f);
		}
		pthread_mutex_lock(&f->lock);
		if (!ok && !f->stop) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += backoff / 1000;
			ts.tv_nsec += (backoff % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		} else if (!f->stop) {
			/* All partitions backing off: don't spin. */
			bool any = false;
			int64_t now = clock_mono_ms();

			for (struct fpart *fp = f->parts; fp; fp = fp->next)
				if (fp->state != FS_FAILED &&
				    fp->backoff_until <= now)
					any = true;
			if (!any) {
				pthread_mutex_unlock(&f->lock);
				usleep(50000);
				pthread_mutex_lock(&f->lock);
			}
		}
	}
	pthread_mutex_unlock(&f->lock);
	disconnect(f);
	return NULL;
}

/* ------------------------------------------------------------ manager */

struct fetcher_mgr *fetcher_mgr_new(struct broker *b)
{
	struct fetcher_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->b = b;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void endpoint_of(struct fetcher_mgr *m, int32_t id, char *host,
			size_t host_size, int *port)
{
	*port = -1;
	host[0] = '\0';
	for (int i = 0; i < m->n_eps; i++) {
		if (m->eps[i].id == id) {
			snprintf(host, host_size, "%s", m->eps[i].host);
			*port = m->eps[i].port;
			return;
		}
	}
}

void fetcher_mgr_set_leaders(struct fetcher_mgr *m,
			     Fluxo__BrokerEndpoint *const *eps, size_t n)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		int slot = -1;

		for (int j = 0; j < m->n_eps; j++)
			if (m->eps[j].id == eps[i]->node_id)
				slot = j;
		if (slot < 0) {
			if (m->n_eps == 64)
				continue;
			slot = m->n_eps++;
		}
		m->eps[slot].id = eps[i]->node_id;
		snprintf(m->eps[slot].host, sizeof(m->eps[slot].host), "%s",
			 eps[i]->host);
		m->eps[slot].port = eps[i]->port;
		for (struct fetcher *f = m->fetchers; f; f = f->next) {
			if (f->source != eps[i]->node_id)
				continue;
			if (f->port != eps[i]->port ||
			    strcmp(f->host, eps[i]->host) != 0) {
				snprintf(f->host, sizeof(f->host), "%s",
					 eps[i]->host);
				f->port = eps[i]->port;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}

/* Removes p from f (caller holds f->lock). Returns true if it was there. */
static bool remove_locked(struct fetcher *f, struct partition *p)
{
	for (struct fpart **pp = &f->parts; *pp; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			struct fpart *fp = *pp;

			*pp = fp->next;
			f->n_parts--;
			partition_unref(fp->p);
			free(fp);
			return true;
		}
	}
	return false;
}

void fetcher_mgr_remove(struct fetcher_mgr *m, struct partition *p)
{
	pthread_mutex_lock(&m->lock);
	for (struct fetcher *f = m->fetchers; f; f = f->next) {
		pthread_mutex_lock(&f->lock);
		remove_locked(f, p);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&m->lock);
}

void fetcher_mgr_add(struct fetcher_mgr *m, struct partition *p,
		     int32_t leader, int32_t leader_epoch)
{
	struct fetcher *f;
	struct fpart *fp;

	pthread_mutex_lock(&m->lock);
	for (f = m->fetchers; f; f = f->next) {
		pthread_mutex_lock(&f->lock);
		remove_locked(f, p);
		pthread_mutex_unlock(&f->lock);
	}
	for (f = m->fetchers; f; f = f->next)
		if (f->source == leader)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			fatal("replica", "out of memory");
		f->mgr = m;
		f->source = leader;
		f->fd = -1;
		arena_init(&f->arena, 65536);
		pthread_mutex_init(&f->lock, NULL);
		pthread_mutex_init(&f->fd_lock, NULL);
		pthread_cond_init(&f->cond, NULL);
		endpoint_of(m, leader, f->host, sizeof(f->host), &f->port);
		if (pthread_create(&f->thread, NULL, fetcher_main, f) != 0)
			fatal("replica", "cannot start a fetcher thread");
		f->next = m->fetchers;
		m->fetchers = f;
	}
	fp = calloc(1, sizeof(*fp));
	if (!fp)
		fatal("replica", "out of memory");
	partition_ref(p);
	fp->p = p;
	fp->leader_epoch = leader_epoch;
	fp->state = FS_TRUNCATE;
	fp->leader_hw = -1;
	pthread_mutex_lock(&f->lock);
	fp->next = f->parts;
	f->parts = fp;
	f->n_parts++;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_unlock(&m->lock);
}

void fetcher_mgr_destroy(struct fetcher_mgr *m)
{
	struct fetcher *f, *next;

	if (!m)
		return;
	for (f = m->fetchers; f; f = next) {
		next = f->next;
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->lock);
		/* Cut a blocked network call short. */
		pthread_mutex_lock(&f->fd_lock);
		if (f->fd >= 0)
			shutdown(f->fd, SHUT_RDWR);
		pthread_mutex_unlock(&f->fd_lock);
		pthread_join(f->thread, NULL);
		while (f->parts)
			remove_locked(f, f->parts->p);
		buf_free(&f->resp);
		arena_destroy(&f->arena);
		pthread_mutex_destroy(&f->lock);
		pthread_mutex_destroy(&f->fd_lock);
		pthread_cond_destroy(&f->cond);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}
