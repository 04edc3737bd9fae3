/*
 * partition.c - hosted partitions: leader and follower state, the high
 * watermark, and the produce/fetch data path.
 *
 * The replica manager is a hash table (topic, partition) -> partition
 * under a read-write lock; lookups on the data path take the read lock
 * for a few hundred nanoseconds. Partitions are created and removed only
 * by the control thread, from LeaderAndIsr and StopReplica.
 *
 * High watermark (leader): the smallest log end offset over the ISR,
 * where the leader's own is its LEO and each follower's is the offset it
 * last fetched from; it only moves forward while this broker leads. With
 * an ISR of one the HW follows every append at once.
 *
 * Follower progress (leader side), as Kafka: a fetch at offset X proves
 * the follower holds everything below X; it was caught up at this fetch if
 * X >= the leader's LEO, or at its previous fetch if X >= the LEO the
 * leader had then. The ISR shrink/expand rules and the AlterIsr proposals
 * to the controller live in isr.c.
 *
 * Replication throttling, leader side (KIP-73): a follower outside the
 * ISR of a replica named by leader.replication.throttled.replicas gets
 * data only while the broker's leader throttle allows; what it gets is
 * charged to that throttle. Its fetch offset is recorded all the same, so
 * a throttled follower still counts for the ISR rules.
 */
#include "config.h"
#include "partition.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/plog.h"
#include "broker_int.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "metrics.h"
#include "purgatory.h"
#include "replica/throttle.h"
#include "replica_glue.h"
#include "server.h"

#define RM_BUCKETS 4096

struct rm_entry {
	struct rm_entry *next;
	struct partition *p;
};

struct replica_mgr {
	struct broker *b;
	pthread_rwlock_t lock;
	struct rm_entry *buckets[RM_BUCKETS];
	int count;
};

static uint32_t key_hash(const char *topic, int32_t partition)
{
	uint32_t h = 2166136261u;

	for (const char *c = topic; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ (uint32_t)partition) * 16777619u;
	return h;
}

/* ------------------------------------------------------------ lifetime */

void partition_ref(struct partition *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void partition_unref(struct partition *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	if (p->log) {
		plog_set_listener(p->log, NULL, NULL);
		plog_unref(p->log);
	}
	pthread_mutex_destroy(&p->lock);
	topic_conf_free(&p->conf);
	free(p->replicas);
	free(p->isr);
	free(p->proposed_isr);
	free(p->followers);
	free(p->topic);
	free(p);
}

struct worker *partition_worker(struct partition *p, int idx)
{
	struct server *srv = p->b->srv;

	if (!srv || idx >= server_worker_count(srv))
		return NULL;
	return server_worker(srv, idx);
}

static void on_log_event(void *arg, plog_t *log, enum plog_event ev)
{
	(void)log;
	(void)ev;
	partition_notify(arg);
}

struct replica_mgr *rm_new(struct broker *b)
{
	struct replica_mgr *rm = calloc(1, sizeof(*rm));

	if (!rm)
		return NULL;
	rm->b = b;
	pthread_rwlock_init(&rm->lock, NULL);
	return rm;
}

void rm_destroy(struct replica_mgr *rm)
{
	if (!rm)
		return;
	for (int i = 0; i < RM_BUCKETS; i++) {
		struct rm_entry *e = rm->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			partition_unref(e->p);
			free(e);
		}
	}
	pthread_rwlock_destroy(&rm->lock);
	free(rm);
}

struct partition *rm_get(struct replica_mgr *rm, const char *topic,
			 int32_t partition)
{
	uint32_t h = key_hash(topic, partition) % RM_BUCKETS;
	struct partition *found = NULL;

	pthread_rwlock_rdlock(&rm->lock);
	for (struct rm_entry *e = rm->buckets[h]; e; e = e->next) {
		if (e->p->id == partition && strcmp(e->p->topic, topic) == 0) {
			found = e->p;
			partition_ref(found);
			break;
		}
	}
	pthread_rwlock_unlock(&rm->lock);
	return found;
}

int rm_list(struct replica_mgr *rm, struct partition ***out)
{
	struct partition **v;
	int n = 0;

	pthread_rwlock_rdlock(&rm->lock);
	v = calloc((size_t)rm->count + 1, sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&rm->lock);
		return ERR_NOMEM;
	}
	for (int i = 0; i < RM_BUCKETS; i++)
		for (struct rm_entry *e = rm->buckets[i]; e; e = e->next) {
			partition_ref(e->p);
			v[n++] = e->p;
		}
	pthread_rwlock_unlock(&rm->lock);
	*out = v;
	return n;
}

static void rm_insert(struct replica_mgr *rm, struct partition *p)
{
	uint32_t h = key_hash(p->topic, p->id) % RM_BUCKETS;
	struct rm_entry *e = malloc(sizeof(*e));

	if (!e)
		fatal("replica", "out of memory");
	e->p = p;
	partition_ref(p);
	pthread_rwlock_wrlock(&rm->lock);
	e->next = rm->buckets[h];
	rm->buckets[h] = e;
	rm->count++;
	pthread_rwlock_unlock(&rm->lock);
}

static void rm_remove(struct replica_mgr *rm, struct partition *p)
{
	uint32_t h = key_hash(p->topic, p->id) % RM_BUCKETS;
	struct rm_entry **pp, *e = NULL;

	pthread_rwlock_wrlock(&rm->lock);
	for (pp = &rm->buckets[h]; *pp; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			e = *pp;
			*pp = e->next;
			rm->count--;
			break;
		}
	}
	pthread_rwlock_unlock(&rm->lock);
	if (e) {
		partition_unref(e->p);
		free(e);
	}
}

/* Derives the throttle flags from p->conf. Caller holds p->lock (or owns
 * p alone). */
static void update_throttle_flags_locked(struct partition *p)
{
	int32_t self = broker_id(p->b);

	atomic_store(&p->throttle_leader,
		     throttle_list_has(
			     p->conf.leader_replication_throttled_replicas,
			     p->id, self));
	atomic_store(&p->throttle_follower,
		     throttle_list_has(
			     p->conf.follower_replication_throttled_replicas,
			     p->id, self));
}

/* Creates the partition object and opens (or creates) its log.
 * Control thread. */
static struct partition *partition_create(struct replica_mgr *rm,
					  const char *topic, int32_t id,
					  char *errstr, size_t errstr_size)
{
	struct partition *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->b = rm->b;
	p->topic = strdup(topic);
	p->id = id;
	p->refs = 1;
	p->leader = -1;
	p->leader_epoch = -1;
	pthread_mutex_init(&p->lock, NULL);
	if (!p->topic || broker_topic_conf(rm->b, topic, &p->conf) < 0) {
		snprintf(errstr, errstr_size,
			 "cannot read the configuration of topic %s", topic);
		goto err;
	}
	update_throttle_flags_locked(p);
	p->log = broker_log_open(rm->b, topic, id, &p->conf, errstr,
				 errstr_size);
	if (!p->log)
		goto err;
	plog_set_listener(p->log, on_log_event, p);
	broker_topic_metrics(rm->b, topic, &p->tm);
	return p;
err:
	partition_unref(p);
	return NULL;
}

/* ------------------------------------------------------------ helpers */

static bool contains(const int32_t *v, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

static int set_ids(int32_t **dst, int *n_dst, const int32_t *src, size_t n)
{
	int32_t *v = NULL;

	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v)
			return ERR_NOMEM;
		memcpy(v, src, n * sizeof(*v));
	}
	free(*dst);
	*dst = v;
	*n_dst = (int)n;
	return 0;
}

static int64_t follower_leo_locked(struct partition *p, int32_t id,
				   int64_t dflt)
{
	for (int j = 0; j < p->n_followers; j++)
		if (p->followers[j].id == id)
			return p->followers[j].leo < dflt ? p->followers[j].leo
							  : dflt;
	return dflt;
}

/*
 * Recomputes the HW as leader: min LEO over the maximal ISR (the ISR plus
 * members whose addition is being proposed, KIP-497: a replica that may
 * become leader as soon as the controller commits it must hold everything
 * below the HW). Only raises it. Caller holds p->lock. Returns true when
 * it moved.
 */
bool maybe_advance_hw_locked(struct partition *p)
{
	int64_t hw = plog_leo(p->log);
	int32_t self = broker_id(p->b);

	if (p->role != ROLE_LEADER)
		return false;
	for (int i = 0; i < p->n_isr; i++)
		if (p->isr[i] != self)
			hw = follower_leo_locked(p, p->isr[i], hw);
	for (int i = 0; p->alter_isr_inflight && i < p->n_proposed_isr; i++)
		if (p->proposed_isr[i] != self)
			hw = follower_leo_locked(p, p->proposed_isr[i], hw);
	if (hw > plog_hw(p->log)) {
		plog_set_hw(p->log, hw);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------ control */

static void reset_followers_locked(struct partition *p)
{
	int32_t self = broker_id(p->b);
	int64_t now = clock_mono_ms();
	int n = 0;

	free(p->followers);
	p->followers = calloc((size_t)p->n_replicas + 1, sizeof(*p->followers));
	if (!p->followers)
		fatal("replica", "out of memory");
	for (int i = 0; i < p->n_replicas; i++) {
		struct follower_state *f;

		if (p->replicas[i] == self)
			continue;
		f = &p->followers[n++];
		f->id = p->replicas[i];
		/* Unknown until it fetches; an ISR member is given the
		 * benefit of the doubt for replica.lag.time.max.ms. */
		f->leo = -1;
		f->last_caught_up_ms =
			contains(p->isr, p->n_isr, f->id) ? now : 0;
		f->last_fetch_ms = 0;
		f->leo_at_prev_fetch = -1;
	}
	p->n_followers = n;
}

static bool is_stale_locked(struct partition *p,
			    const Fluxo__LeaderAndIsrPartitionState *st)
{
	return p->role != ROLE_NONE && st->leader_epoch <= p->leader_epoch &&
	       !(st->leader_epoch == p->leader_epoch &&
		 st->partition_epoch > p->partition_epoch);
}

static Fluxo__ErrorCode apply_state(struct replica_mgr *rm,
				    struct partition *p,
				    const Fluxo__LeaderAndIsrPartitionState *st)
{
	int32_t self = broker_id(rm->b);
	bool leader = st->leader == self;
	bool stale;
	int old_role;

	pthread_mutex_lock(&p->lock);
	stale = is_stale_locked(p, st);
	pthread_mutex_unlock(&p->lock);
	if (stale) {
		log_info("replica",
			 "ignoring LeaderAndIsr topic=%s partition=%d "
			 "leader_epoch=%d: already at epoch %d",
			 p->topic, p->id, st->leader_epoch, p->leader_epoch);
		return FLUXO__ERROR_CODE__FENCED_LEADER_EPOCH;
	}
	/* Stop copying from the old leader before anything changes, so no
	 * follower append lands after this broker has become leader. Only
	 * this (control) thread changes partition state, so the check above
	 * still holds below. */
	replica_glue_stop_fetching(rm->b, p);

	pthread_mutex_lock(&p->lock);
	old_role = p->role;
	if (set_ids(&p->replicas, &p->n_replicas, st->replicas,
		    st->n_replicas) < 0 ||
	    set_ids(&p->isr, &p->n_isr, st->isr, st->n_isr) < 0) {
		pthread_mutex_unlock(&p->lock);
		return FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
	}
	p->leader = st->leader;
	p->leader_epoch = st->leader_epoch;
	p->partition_epoch = st->partition_epoch;
	p->controller_epoch = st->controller_epoch;
	p->alter_isr_inflight = false;
	free(p->proposed_isr);
	p->proposed_isr = NULL;
	p->n_proposed_isr = 0;
	if (leader) {
		p->role = ROLE_LEADER;
		reset_followers_locked(p);
		if (plog_epoch_assign(p->log, st->leader_epoch,
				      plog_leo(p->log)) < 0)
			log_warn("replica",
				 "topic=%s partition=%d: cannot record leader "
				 "epoch %d in the epoch cache",
				 p->topic, p->id, st->leader_epoch);
		maybe_advance_hw_locked(p);
	} else {
		p->role = ROLE_FOLLOWER;
		free(p->followers);
		p->followers = NULL;
		p->n_followers = 0;
	}
	pthread_mutex_unlock(&p->lock);

	if (leader) {
		log_info("replica",
			 "topic=%s partition=%d: leader at epoch %d (was %s), "
			 "isr size %zu, leo %lld, hw %lld",
			 p->topic, p->id, st->leader_epoch,
			 old_role == ROLE_LEADER	 ? "leader"
			 : old_role == ROLE_FOLLOWER ? "follower"
						     : "new",
			 st->n_isr, (long long)plog_leo(p->log),
			 (long long)plog_hw(p->log));
	} else {
		log_info("replica",
			 "topic=%s partition=%d: follower of broker %d at "
			 "epoch %d",
			 p->topic, p->id, st->leader, st->leader_epoch);
		replica_glue_start_fetching(rm->b, p, st->leader,
					    st->leader_epoch);
	}
	/* Waiting produces and fetches re-check their partition. */
	partition_notify(p);
	return FLUXO__ERROR_CODE__NONE;
}

int rm_leader_and_isr(struct replica_mgr *rm,
		      const Fluxo__LeaderAndIsrRequest *req,
		      Fluxo__LeaderAndIsrResponse *resp)
{
	int32_t self = broker_id(rm->b);
	size_t n = 0;

	resp->partitions = calloc(req->n_partitions + 1,
				  sizeof(*resp->partitions));
	if (!resp->partitions)
		return ERR_NOMEM;
	replica_glue_set_leaders(rm->b, req->live_leaders,
				 req->n_live_leaders);
	for (size_t i = 0; i < req->n_partitions; i++) {
		const Fluxo__LeaderAndIsrPartitionState *st =
			req->partitions[i];
		Fluxo__PartitionError *pe = calloc(1, sizeof(*pe));
		struct partition *p;
		char errstr[512];

		if (!pe)
			return ERR_NOMEM;
		fluxo__partition_error__init(pe);
		pe->topic = strdup(st->topic);
		pe->partition = st->partition;
		resp->partitions[n++] = pe;
		if (!contains(st->replicas, (int)st->n_replicas, self)) {
			pe->error =
				FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		p = rm_get(rm, st->topic, st->partition);
		if (!p) {
			p = partition_create(rm, st->topic, st->partition,
					     errstr, sizeof(errstr));
			if (!p) {
				log_error("replica",
					  "topic=%s partition=%d: cannot open "
					  "the log: %s",
					  st->topic, st->partition, errstr);
				pe->error =
					FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR;
				continue;
			}
			rm_insert(rm, p);
		}
		pe->error = apply_state(rm, p, st);
		partition_unref(p);
	}
	resp->n_partitions = n;
	return 0;
}

void rm_free_leader_and_isr_response(Fluxo__LeaderAndIsrResponse *resp)
{
	for (size_t i = 0; i < resp->n_partitions; i++) {
		free(resp->partitions[i]->topic);
		free(resp->partitions[i]);
	}
	free(resp->partitions);
	resp->partitions = NULL;
	resp->n_partitions = 0;
}

int rm_stop_replica(struct replica_mgr *rm, const Fluxo__StopReplicaRequest *req,
		    Fluxo__StopReplicaResponse *resp)
{
	size_t n = 0;

	resp->partitions = calloc(req->n_partitions + 1,
				  sizeof(*resp->partitions));
	if (!resp->partitions)
		return ERR_NOMEM;
	for (size_t i = 0; i < req->n_partitions; i++) {
		const Fluxo__StopReplicaPartition *sp = req->partitions[i];
		Fluxo__PartitionError *pe = calloc(1, sizeof(*pe));
		struct partition *p;

		if (!pe)
			return ERR_NOMEM;
		fluxo__partition_error__init(pe);
		pe->topic = strdup(sp->topic);
		pe->partition = sp->partition;
		resp->partitions[n++] = pe;
		p = rm_get(rm, sp->topic, sp->partition);
		if (p) {
			pthread_mutex_lock(&p->lock);
			if (sp->leader_epoch >= 0 &&
			    sp->leader_epoch < p->leader_epoch) {
				pthread_mutex_unlock(&p->lock);
				pe->error =
					FLUXO__ERROR_CODE__FENCED_LEADER_EPOCH;
				partition_unref(p);
				continue;
			}
			p->role = ROLE_NONE;
			if (sp->delete_partition)
				p->deleted = true;
			pthread_mutex_unlock(&p->lock);
			replica_glue_stop_fetching(rm->b, p);
			partition_notify(p);
			if (sp->delete_partition) {
				rm_remove(rm, p);
				plog_set_listener(p->log, NULL, NULL);
				broker_log_delete(rm->b, p->topic, p->id);
				log_info("replica",
					 "topic=%s partition=%d: replica "
					 "deleted",
					 sp->topic, sp->partition);
			}
			partition_unref(p);
		} else if (sp->delete_partition) {
			/* A log left from before a restart. */
			broker_log_delete(rm->b, sp->topic, sp->partition);
		}
		pe->error = FLUXO__ERROR_CODE__NONE;
	}
	resp->n_partitions = n;
	return 0;
}

void rm_free_stop_replica_response(Fluxo__StopReplicaResponse *resp)
{
	for (size_t i = 0; i < resp->n_partitions; i++) {
		free(resp->partitions[i]->topic);
		free(resp->partitions[i]);
	}
	free(resp->partitions);
	resp->partitions = NULL;
	resp->n_partitions = 0;
}

void rm_update_topic_config(struct replica_mgr *rm, const char *topic,
			    const struct topic_conf *tc)
{
	struct partition **v;
	int n = rm_list(rm, &v);

	for (int i = 0; i < n; i++) {
		struct partition *p = v[i];

		if (strcmp(p->topic, topic) == 0) {
			struct topic_conf copy;

			if (topic_conf_copy(&copy, tc) == 0) {
				pthread_mutex_lock(&p->lock);
				topic_conf_free(&p->conf);
				p->conf = copy;
				update_throttle_flags_locked(p);
				pthread_mutex_unlock(&p->lock);
				plog_set_conf(p->log, tc);
				partition_notify(p);
			}
		}
		partition_unref(p);
	}
	free(v);
}

/* ------------------------------------------------------------ produce */

static const char *batch_error_sentence(int rc)
{
	switch (rc) {
	case ERR_TRUNCATED:
		return "ends in the middle of a record batch";
	case ERR_TOO_LARGE:
		return "holds a record batch larger than max.message.bytes";
	default:
		return "holds a record batch that fails validation (length, "
		       "magic or CRC)";
	}
}

/*
 * Checks the producer fields of every batch: a producer id needs an epoch
 * and a base sequence (Kafka's INVALID_RECORD). Returns the number of
 * batches with a producer id, or -1 with *bad the position of a bad one.
 */
static int idempotent_batches(const uint8_t *data, size_t len, size_t *bad)
{
	int n = 0;

	for (size_t pos = 0; pos < len;) {
		const uint8_t *b = data + pos;

		if ((int64_t)be64_get(b + BATCH_OFF_PRODUCER_ID) >= 0) {
			if ((int16_t)be16_get(b + BATCH_OFF_PRODUCER_EPOCH) <
				0 ||
			    (int32_t)be32_get(b + BATCH_OFF_BASE_SEQUENCE) <
				0) {
				*bad = pos;
				return -1;
			}
			n++;
		}
		pos += BATCH_LOG_OVERHEAD +
		       (size_t)be32_get(b + BATCH_OFF_LENGTH);
	}
	return n;
}

/* The sentence for a refused idempotent batch (the error path only). */
static void sequence_error(struct partition *p, const uint8_t *data, int rc,
			   char *msg, size_t msg_size)
{
	int64_t pid = (int64_t)be64_get(data + BATCH_OFF_PRODUCER_ID);
	int16_t epoch = (int16_t)be16_get(data + BATCH_OFF_PRODUCER_EPOCH);
	int32_t seq = (int32_t)be32_get(data + BATCH_OFF_BASE_SEQUENCE);
	struct pstate_batch last[PSTATE_BATCHES];
	int16_t known = -1;
	int n;

	n = plog_producer_lookup(p->log, pid, &known, last, PSTATE_BATCHES);
	if (rc == ERR_FENCED)
		snprintf(msg, msg_size,
			 "Producer %lld wrote to %s-%d with epoch %d, older "
			 "than its current epoch %d",
			 (long long)pid, p->topic, p->id, epoch, known);
	else if (n > 0)
		snprintf(msg, msg_size,
			 "Out of order sequence number for producer %lld "
			 "(epoch %d) on %s-%d: the run starts at %d, the last "
			 "appended sequence is %d (epoch %d)",
			 (long long)pid, epoch, p->topic, p->id, seq,
			 last[n - 1].last_seq, known);
	else
		snprintf(msg, msg_size,
			 "Out of order sequence number for producer %lld "
			 "(epoch %d) on %s-%d: a new epoch must start at "
			 "sequence 0, not %d",
			 (long long)pid, epoch, p->topic, p->id, seq);
}

Fluxo__ErrorCode partition_append(struct partition *p, uint8_t *data,
				  size_t len, int acks,
				  struct append_result *res, char *msg,
				  size_t msg_size)
{
	struct batch_run_info info;
	struct plog_append_result ar;
	int32_t leader_epoch, min_isr, max_bytes;
	int64_t ts_diff, now, bases_buf[16], *bases = NULL;
	int n_isr, ts_type, n_idem, rc;
	size_t bad_at = 0;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&p->lock);
	if (p->role != ROLE_LEADER) {
		int32_t leader = p->leader;

		pthread_mutex_unlock(&p->lock);
		snprintf(msg, msg_size,
			 "This broker is not the leader of %s-%d (leader: %d)",
			 p->topic, p->id, leader);
		return FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
	}
	leader_epoch = p->leader_epoch;
	n_isr = p->n_isr;
	min_isr = p->conf.min_insync_replicas;
	max_bytes = p->conf.max_message_bytes;
	ts_type = p->conf.message_timestamp_type;
	ts_diff = p->conf.message_timestamp_difference_max_ms;
	pthread_mutex_unlock(&p->lock);

	if (len == 0) {
		snprintf(msg, msg_size, "The request has no record batch for %s-%d",
			 p->topic, p->id);
		return FLUXO__ERROR_CODE__CORRUPT_MESSAGE;
	}
	rc = batch_run_validate(data, len, (size_t)max_bytes, &info, &bad_at);
	if (rc == ERR_TOO_LARGE) {
		snprintf(msg, msg_size,
			 "A record batch for %s-%d is larger than the "
			 "topic's max.message.bytes=%d",
			 p->topic, p->id, max_bytes);
		return FLUXO__ERROR_CODE__MESSAGE_TOO_LARGE;
	}
	if (rc < 0) {
		snprintf(msg, msg_size,
			 "The data for %s-%d %s at byte %zu; nothing was "
			 "appended",
			 p->topic, p->id, batch_error_sentence(rc), bad_at);
		return FLUXO__ERROR_CODE__CORRUPT_MESSAGE;
	}
	if (acks == -1 && n_isr < min_isr) {
		snprintf(msg, msg_size,
			 "%s-%d has %d in-sync replicas, fewer than "
			 "min.insync.replicas=%d",
			 p->topic, p->id, n_isr, min_isr);
		return FLUXO__ERROR_CODE__NOT_ENOUGH_REPLICAS;
	}
	if (ts_type == TS_TYPE_CREATE_TIME && ts_diff < INT64_MAX) {
		now = clock_wall_ms();
		if (info.max_timestamp > now + ts_diff ||
		    info.first_timestamp < now - ts_diff) {
			snprintf(msg, msg_size,
				 "A record timestamp of %s-%d is more than "
				 "message.timestamp.difference.max.ms=%lld from "
				 "the broker's clock",
				 p->topic, p->id, (long long)ts_diff);
			return FLUXO__ERROR_CODE__INVALID_TIMESTAMP;
		}
	}
	n_idem = idempotent_batches(data, len, &bad_at);
	if (n_idem < 0) {
		snprintf(msg, msg_size,
			 "The batch at byte %zu for %s-%d has a producer id "
			 "but no producer epoch or base sequence",
			 bad_at, p->topic, p->id);
		return FLUXO__ERROR_CODE__INVALID_RECORD;
	}
	/* Per-batch offsets matter only when a run of several batches may
	 * hold duplicates. */
	if (n_idem > 0 && info.batch_cnt > 1) {
		bases = bases_buf;
		if ((size_t)info.batch_cnt > sizeof(bases_buf) / sizeof(*bases))
			bases = malloc((size_t)info.batch_cnt * sizeof(*bases));
		if (!bases) {
			snprintf(msg, msg_size, "out of memory");
			return FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
		}
	}
	rc = plog_append_leader(p->log, data, len, &info, leader_epoch, NULL,
				NULL, bases, &ar);
	if (rc < 0) {
		Fluxo__ErrorCode err = FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR;

		if (rc == ERR_STATE) {
			snprintf(msg, msg_size,
				 "%s-%d is no longer served by this broker",
				 p->topic, p->id);
			err = FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
		} else if (rc == ERR_SEQUENCE || rc == ERR_FENCED) {
			sequence_error(p, data, rc, msg, msg_size);
			err = FLUXO__ERROR_CODE__OUT_OF_ORDER_SEQUENCE_NUMBER;
			if (rc == ERR_FENCED)
				err = FLUXO__ERROR_CODE__INVALID_PRODUCER_EPOCH;
		} else if (rc == ERR_INVAL) {
			snprintf(msg, msg_size,
				 "A batch for %s-%d has invalid producer "
				 "fields; nothing was appended",
				 p->topic, p->id);
			err = FLUXO__ERROR_CODE__INVALID_RECORD;
		} else if (plog_failed(p->log)) {
			/* A write or flush of this log failed earlier (a
			 * full disk, an I/O error): what is on disk may not
			 * be what was acknowledged as flushed, so the log
			 * takes no more writes until it is reloaded. */
			snprintf(msg, msg_size,
				 "%s-%d refuses writes: an earlier write or "
				 "flush of its log failed (see the broker's "
				 "log); free the disk and restart the broker",
				 p->topic, p->id);
		} else {
			snprintf(msg, msg_size,
				 "Writing %s-%d failed: %s; nothing was "
				 "appended",
				 p->topic, p->id,
				 rc == ERR_NOSPACE ? "the log directory is full"
						   : err_str(rc));
			/* The log reports its own write errors, at most
			 * one line every few seconds. */
			if (rc != ERR_NOSPACE && rc != ERR_IO)
				log_error("produce",
					  "topic=%s partition=%d: append "
					  "failed: %s",
					  p->topic, p->id, err_str(rc));
		}
		if (bases != bases_buf)
			free(bases);
		return err;
	}
	metrics_counter_add(p->tm.bytes_in, len);
	metrics_counter_add(p->tm.records_in,
			    (uint64_t)(ar.last_offset - ar.first_offset + 1));
	res->base_offset = ar.first_offset;
	res->last_offset = ar.last_offset;
	res->log_append_time = ar.append_time;
	res->log_start_offset = ar.log_start;
	res->dup_batches = ar.dup_batches;
	if (ar.dup_batches > 0 && bases) {
		if (bases == bases_buf) {
			bases = malloc((size_t)info.batch_cnt * sizeof(*bases));
			if (bases)
				memcpy(bases, bases_buf,
				       (size_t)info.batch_cnt * sizeof(*bases));
		}
		/* Out of memory: the client computes offsets from
		 * base_offset; only the reported offsets can be wrong. */
		res->batch_bases = bases;
		res->n_batch_bases = bases ? (size_t)info.batch_cnt : 0;
	} else if (bases != bases_buf) {
		free(bases);
	}

	pthread_mutex_lock(&p->lock);
	maybe_advance_hw_locked(p);
	pthread_mutex_unlock(&p->lock);
	res->wait_hw = acks == -1 && plog_hw(p->log) <= ar.last_offset;
	res->wait_flush = acks != 0 && ar.flush_requested &&
			  plog_flushed(p->log) <= ar.last_offset;
	return FLUXO__ERROR_CODE__NONE;
}

Fluxo__ErrorCode partition_produce_status(struct partition *p,
					  int64_t required_end,
					  bool wait_hw, bool wait_flush)
{
	Fluxo__ErrorCode err = FLUXO__ERROR_CODE__NONE;

	pthread_mutex_lock(&p->lock);
	if (p->role != ROLE_LEADER) {
		err = FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
	} else if (wait_flush && plog_failed(p->log)) {
		err = FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR;
	} else if ((wait_hw && plog_hw(p->log) < required_end) ||
		   (wait_flush && plog_flushed(p->log) < required_end)) {
		err = FLUXO__ERROR_CODE__REQUEST_TIMED_OUT;
	} else if (wait_hw && p->n_isr < p->conf.min_insync_replicas) {
		err = FLUXO__ERROR_CODE__NOT_ENOUGH_REPLICAS_AFTER_APPEND;
	}
	pthread_mutex_unlock(&p->lock);
	return err;
}

/* ------------------------------------------------------------ fetch */

void fetch_slice_release(struct fetch_slice *s)
{
	if (s->ref) {
		plog_slice_release(s->ref);
		free(s->ref);
		s->ref = NULL;
	}
	s->len = 0;
	s->fd = -1;
}

void fetch_slice_release_cb(void *ref)
{
	if (ref) {
		plog_slice_release(ref);
		free(ref);
	}
}

static Fluxo__ErrorCode check_epoch(int32_t requested, int32_t current)
{
	if (requested < 0 || requested == current)
		return FLUXO__ERROR_CODE__NONE;
	return requested < current ? FLUXO__ERROR_CODE__FENCED_LEADER_EPOCH
				   : FLUXO__ERROR_CODE__UNKNOWN_LEADER_EPOCH;
}

/* Records a follower's fetch (leader side). Caller holds p->lock. */
static void follower_fetched_locked(struct partition *p, int32_t replica_id,
				    int64_t fetch_offset)
{
	int64_t now = clock_mono_ms();
	int64_t leo = plog_leo(p->log);

	for (int i = 0; i < p->n_followers; i++) {
		struct follower_state *f = &p->followers[i];

		if (f->id != replica_id)
			continue;
		if (fetch_offset >= leo)
			f->last_caught_up_ms = now;
		else if (f->leo_at_prev_fetch >= 0 &&
			 fetch_offset >= f->leo_at_prev_fetch)
			f->last_caught_up_ms = f->last_fetch_ms;
		f->leo = fetch_offset;
		f->leo_at_prev_fetch = leo;
		f->last_fetch_ms = now;
		break;
	}
}

void partition_fetch(struct partition *p, int32_t replica_id,
		     int32_t current_leader_epoch, int64_t fetch_offset,
		     int32_t last_fetched_epoch, size_t max_bytes,
		     bool min_one, struct fetch_result *fr)
{
	struct plog_slice sl;
	struct throttle *th = NULL;
	int64_t max_offset;
	bool follower = replica_id >= 0;
	bool hw_moved = false;
	int rc;

	fr->slice.fd = -1;
	fr->slice.len = 0;
	fr->slice.ref = NULL;
	fr->diverging_epoch = -1;
	fr->throttle_ms = 0;
	pthread_mutex_lock(&p->lock);
	fr->err = check_epoch(current_leader_epoch, p->leader_epoch);
	if (fr->err == FLUXO__ERROR_CODE__NONE && p->role != ROLE_LEADER)
		fr->err = FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
	if (fr->err == FLUXO__ERROR_CODE__NONE && follower) {
		if (!contains(p->replicas, p->n_replicas, replica_id)) {
			fr->err = FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
		} else if (last_fetched_epoch >= 0) {
			int32_t ep = -1;
			int64_t end = -1;

			/* Divergence: the follower's last epoch ends
			 * earlier here than its fetch offset. */
			plog_epoch_end_offset(p->log, last_fetched_epoch, &ep,
					      &end);
			if (ep != last_fetched_epoch ||
			    (end >= 0 && end < fetch_offset)) {
				fr->diverging_epoch = ep;
				fr->diverging_end_offset = end;
			}
		}
		if (fr->err == FLUXO__ERROR_CODE__NONE &&
		    fr->diverging_epoch < 0) {
			follower_fetched_locked(p, replica_id, fetch_offset);
			hw_moved = maybe_advance_hw_locked(p);
			replica_glue_maybe_expand_isr_locked(p, replica_id);
		}
		/* Out of sync and named: slowed to the leader's rate. */
		if (atomic_load(&p->throttle_leader) &&
		    throttle_limited(p->b->leader_throttle) &&
		    !contains(p->isr, p->n_isr, replica_id))
			th = p->b->leader_throttle;
	}
	pthread_mutex_unlock(&p->lock);
	fr->high_watermark = plog_hw(p->log);
	fr->log_start_offset = plog_log_start(p->log);
	fr->log_end_offset = plog_leo(p->log);
	if (fr->err != FLUXO__ERROR_CODE__NONE || fr->diverging_epoch >= 0)
		return;
	(void)hw_moved;
	if (th) {
		int64_t wait = throttle_delay_ms(th, clock_mono_us());

		if (wait > 0) {
			fr->throttle_ms = (int32_t)wait;
			return;
		}
	}
	max_offset = follower ? -1 : fr->high_watermark;
	rc = plog_read(p->log, fetch_offset, max_bytes, max_offset, min_one,
		       &sl);
	if (rc == ERR_OUT_OF_RANGE) {
		fr->err = FLUXO__ERROR_CODE__OFFSET_OUT_OF_RANGE;
		return;
	}
	if (rc < 0) {
		fr->err = rc == ERR_STATE
				  ? FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER
				  : FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR;
		return;
	}
	if (sl.len == 0) {
		plog_slice_release(&sl);
		return;
	}
	fr->slice.ref = malloc(sizeof(sl));
	if (!fr->slice.ref) {
		plog_slice_release(&sl);
		fr->err = FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
		return;
	}
	memcpy(fr->slice.ref, &sl, sizeof(sl));
	if (follower) {
		metrics_counter_add(p->tm.replication_bytes_out, sl.len);
	} else {
		int64_t from = sl.first_offset > fetch_offset ? sl.first_offset
							      : fetch_offset;

		metrics_counter_add(p->tm.bytes_out, sl.len);
		if (sl.end_offset > from)
			metrics_counter_add(p->tm.records_out,
					    (uint64_t)(sl.end_offset - from));
	}
	fr->slice.fd = sl.fd;
	fr->slice.pos = sl.pos;
	fr->slice.len = sl.len;
	if (th)
		throttle_record(th, (int64_t)sl.len, clock_mono_us());
}

Fluxo__ErrorCode partition_list_offset(struct partition *p, int64_t spec,
				       int32_t current_leader_epoch,
				       bool from_consumer, int64_t *offset,
				       int64_t *timestamp, int32_t *epoch)
{
	Fluxo__ErrorCode err;
	int64_t bound;
	int rc;

	pthread_mutex_lock(&p->lock);
	err = check_epoch(current_leader_epoch, p->leader_epoch);
	if (!err && p->role != ROLE_LEADER)
		err = FLUXO__ERROR_CODE__NOT_LEADER_OR_FOLLOWER;
	*epoch = p->leader_epoch;
	pthread_mutex_unlock(&p->lock);
	if (err)
		return err;
	bound = from_consumer ? plog_hw(p->log) : plog_leo(p->log);
	*timestamp = -1;
	if (spec == -1) {
		*offset = bound;
	} else if (spec == -2) {
		*offset = plog_log_start(p->log);
	} else {
		rc = plog_offset_for_time(p->log, spec, bound, offset,
					  timestamp);
		if (rc == ERR_NOT_FOUND) {
			*offset = -1;
			*timestamp = -1;
		} else if (rc < 0) {
			return FLUXO__ERROR_CODE__KAFKA_STORAGE_ERROR;
		}
	}
	return FLUXO__ERROR_CODE__NONE;
}
