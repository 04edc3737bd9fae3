/*
 * consumer.c - fluxo_consumer: assignment, fetching, positions, poll.
 *
 * Fetching runs on the client's I/O thread (the serve() hook): for every
 * leader broker it keeps one Fetch in flight covering all assigned
 * partitions that broker leads. When a response arrives the I/O thread
 * only reads batch headers to learn each partition's next fetch offset,
 * queues the whole response for the application and sends the next Fetch
 * at once, so the broker works on the next response while the application
 * decodes this one (consumer_iter.c). Fetching pauses while the queued
 * responses hold fetch.max.bytes or more, which bounds memory to about
 * twice fetch.max.bytes (the queue plus one response per broker in
 * flight).
 *
 * Positions. A partition (struct ctp) has a version that every seek
 * bumps; each fetched part carries the version it was fetched under and is
 * dropped when they differ, so data from before a seek never shows. The
 * application's position (next offset to return) is owned by the
 * application thread; the I/O thread only resolves logical offsets
 * (beginning, end, timestamp) with ListOffsets into fetch_offset and
 * resolved_offset. OFFSET_OUT_OF_RANGE resets per auto.offset.reset (a new
 * version, so the application takes the new position from the data) or,
 * with "none", pauses the partition and queues an error event.
 *
 * Locks: c->lock guards partitions' shared fields and the queue; it is
 * taken before the client's md_lock. The application thread holds no lock
 * while it decodes records.
 */
#include "config.h"
#include "fluxo.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "client_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "consumer_int.h"

enum ctp_state {
	CTP_OFFSET, /* reset_spec must be resolved with ListOffsets */
	CTP_ACTIVE, /* fetching from fetch_offset */
	CTP_PAUSED, /* error; waits for a seek */
};

struct ctp {
	struct ctp *next;
	char *topic;
	int32_t partition;
	/* under c->lock */
	enum ctp_state state;
	int64_t reset_spec; /* FLUXO_OFFSET_* or a timestamp */
	int64_t fetch_offset;
	int64_t resolved_offset; /* last resolution, -1 while pending */
	uint32_t version;
	int32_t leader;
	bool fetching;
	bool offset_inflight;
	int64_t backoff_until;
	int32_t max_bytes;
	bool removed;
	int last_err; /* last error reported as an event */
	/* application thread only */
	int64_t position; /* -1: take it from the next data */
	uint32_t app_version;
};

struct fluxo_consumer {
	struct client cl;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* queue items, offset resolutions */
	struct ctp *tps;     /* assigned, then removed ones */
	struct fitem *q_head, *q_tail;
	size_t q_bytes;
	bool fetch_paused;
	uint64_t down_seen; /* rounds already reported */
	struct ctp **scratch_fetch, **scratch_offs; /* I/O thread */
	int scratch_cap;
	/* application thread */
	struct fitem *cur;
	int cur_idx;
	struct ctp *cur_tp;
	struct citer it;
	fluxo_message_t msg;
	char errbuf[512];
};

/* One Fetch or ListOffsets in flight: the partitions it covers. */
struct creq {
	struct fluxo_consumer *c;
	struct broker *bk;
	int cnt;
	struct {
		struct ctp *tp;
		uint32_t version;
		int64_t offset;
	} e[];
};

static bool refresh_err(int err)
{
	return err == FLUXO_ERR_NOT_LEADER_OR_FOLLOWER ||
	       err == FLUXO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
	       err == FLUXO_ERR_LEADER_NOT_AVAILABLE ||
	       err == FLUXO_ERR_FENCED_LEADER_EPOCH ||
	       err == FLUXO_ERR_UNKNOWN_LEADER_EPOCH ||
	       err == FLUXO_ERR_KAFKA_STORAGE_ERROR ||
	       err == 9 /* REPLICA_NOT_AVAILABLE */ ||
	       err == FLUXO_ERR_OFFSET_NOT_AVAILABLE ||
	       err == FLUXO_ERR_BROKER_NOT_AVAILABLE;
}

static void item_free(struct fitem *it)
{
	if (!it)
		return;
	for (int i = 0; i < it->cnt; i++)
		free(it->parts[i].errstr);
	resp_free(it->resp);
	free(it);
}

/* Queues an item (locked). */
static void enqueue(struct fluxo_consumer *c, struct fitem *it)
{
	it->next = NULL;
	if (c->q_tail)
		c->q_tail->next = it;
	else
		c->q_head = it;
	c->q_tail = it;
	c->q_bytes += it->bytes;
	pthread_cond_broadcast(&c->cond);
}

/* Queues an error event for tp (locked). tp may be NULL. */
static void push_event(struct fluxo_consumer *c, struct ctp *tp, int err,
		       const char *errstr, int64_t offset)
{
	struct fitem *it = calloc(1, sizeof(*it) + sizeof(it->parts[0]));

	if (!it)
		return;
	it->cnt = 1;
	it->parts[0].tp = tp;
	it->parts[0].version = tp ? tp->version : 0;
	it->parts[0].err = err;
	it->parts[0].errstr = strdup(errstr ? errstr : fluxo_err2str(err));
	it->parts[0].fetch_offset = offset;
	it->parts[0].hw = -1;
	enqueue(c, it);
}

/* Refreshes the leaders of assigned partitions (locked). */
static void leaders_refresh_locked(struct fluxo_consumer *c)
{
	pthread_mutex_lock(&c->cl.md_lock);
	for (struct ctp *tp = c->tps; tp; tp = tp->next)
		if (!tp->removed)
			tp->leader = md_leader(&c->cl.md, tp->topic,
					       tp->partition, NULL);
	pthread_mutex_unlock(&c->cl.md_lock);
}

static void consumer_md_updated(struct client *cl)
{
	struct fluxo_consumer *c = cl->owner;

	pthread_mutex_lock(&c->lock);
	leaders_refresh_locked(c);
	pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------ fetch */

/* Sets tp to reset its position per auto.offset.reset (locked). */
static void out_of_range(struct fluxo_consumer *c, struct ctp *tp,
			 int64_t offset)
{
	char why[256];

	switch (c->cl.conf.auto_offset_reset) {
	case CONF_RESET_EARLIEST:
	case CONF_RESET_LATEST:
		tp->state = CTP_OFFSET;
		tp->reset_spec =
		    c->cl.conf.auto_offset_reset == CONF_RESET_EARLIEST
			? FLUXO_OFFSET_BEGINNING
			: FLUXO_OFFSET_END;
		tp->resolved_offset = -1;
		tp->version++;
		log_info("consumer",
			 "topic=%s partition=%d offset=%lld is "
			 "out of range; resetting to the %s",
			 tp->topic, tp->partition, (long long)offset,
			 tp->reset_spec == FLUXO_OFFSET_BEGINNING ? "beginning"
								  : "end");
		break;
	default:
		tp->state = CTP_PAUSED;
		client_fmt(why, sizeof(why),
			   "offset %lld of %s [%d] is out of range and "
			   "auto.offset.reset is none; seek to continue",
			   (long long)offset, tp->topic, tp->partition);
		push_event(c, tp, FLUXO_ERR_OFFSET_OUT_OF_RANGE, why, offset);
		break;
	}
}

/* A partition-level error of a Fetch or ListOffsets (locked). */
static void part_error(struct fluxo_consumer *c, struct ctp *tp, int err,
		       int64_t offset, bool *refresh)
{
	int64_t now = clock_mono_ms();

	tp->backoff_until = now + c->cl.conf.retry_backoff_ms;
	if (refresh_err(err)) {
		tp->leader = -1;
		*refresh = true;
		return;
	}
	if (err == FLUXO_ERR_OFFSET_OUT_OF_RANGE) {
		out_of_range(c, tp, offset);
		return;
	}
	if (tp->last_err != err) {
		char why[256];

		client_fmt(why, sizeof(why), "%s [%d]: %s", tp->topic,
			   tp->partition, fluxo_err2str(err));
		push_event(c, tp, err, why, offset);
	}
	tp->last_err = err;
}

static void fetch_cb(struct client *cl, struct req *req, int err,
		     const char *errstr, struct resp *resp)
{
	struct creq *cr = req->opaque;
	struct fluxo_consumer *c = cr->c;
	const Fluxo__FetchResponse *fr = NULL;
	struct fitem *item = NULL;
	struct resp *kept = NULL;
	bool refresh = false;
	size_t off = 0, nparts = 0;

	cr->bk->fetch_inflight = false;
	if (!err && (resp->head->error ||
		     resp->head->body_case != FLUXO__RESPONSE__BODY_FETCH))
		err = resp->head->error ? (int)resp->head->error
					: FLUXO_ERR__BAD_MSG;
	if (!err) {
		fr = resp->head->fetch;
		if (fr->error)
			err = fr->error;
	}
	if (!err) {
		uint64_t bytes = 0;

		for (size_t i = 0; i < fr->n_topics; i++) {
			nparts += fr->topics[i]->n_partitions;
			for (size_t j = 0; j < fr->topics[i]->n_partitions; j++)
				bytes +=
				    fr->topics[i]->partitions[j]->records_size;
		}
		/* Checked before any position moves. */
		if (bytes > resp->payload_len) {
			err = FLUXO_ERR__BAD_MSG;
			errstr = "a fetch response claims more record bytes "
				 "than it carries";
		}
	}
	if (!err) {
		item = calloc(1, sizeof(*item) + (nparts ? nparts : 1) *
						     sizeof(item->parts[0]));
		if (!item)
			err = FLUXO_ERR__NOMEM;
	}
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < cr->cnt; i++)
		cr->e[i].tp->fetching = false;
	if (err) {
		for (int i = 0; i < cr->cnt; i++)
			cr->e[i].tp->backoff_until =
			    clock_mono_ms() + cl->conf.retry_backoff_ms;
		if (err != FLUXO_ERR__DESTROY)
			log_debug("consumer", "fetch failed: %s",
				  errstr ? errstr : fluxo_err2str(err));
		refresh = err != FLUXO_ERR__DESTROY;
		goto out_unlock;
	}
	for (size_t i = 0; i < fr->n_topics; i++) {
		const Fluxo__FetchTopicResponse *ft = fr->topics[i];

		for (size_t j = 0; j < ft->n_partitions; j++) {
			const Fluxo__FetchPartitionResponse *fp =
			    ft->partitions[j];
			const uint8_t *data = resp->payload + off;
			struct ctp *tp = NULL;
			struct fpart *part;
			int64_t at = -1, next;
			int k;

			off += fp->records_size;
			for (k = 0; k < cr->cnt; k++) {
				if (cr->e[k].tp->partition == fp->partition &&
				    strcmp(cr->e[k].tp->topic, ft->name) == 0) {
					tp = cr->e[k].tp;
					at = cr->e[k].offset;
					break;
				}
			}
			if (!tp || tp->removed ||
			    tp->version != cr->e[k].version ||
			    tp->state != CTP_ACTIVE)
				continue;
			if (fp->error) {
				part_error(c, tp, fp->error, at, &refresh);
				continue;
			}
			tp->last_err = 0;
			if (fp->records_size == 0)
				continue;
			next = citer_next_fetch_offset(data, fp->records_size);
			if (next > tp->fetch_offset) {
				tp->fetch_offset = next;
				tp->max_bytes =
				    cl->conf.max_partition_fetch_bytes;
			} else if (next < 0 &&
				   tp->max_bytes < cl->conf.fetch_max_bytes) {
				/* One batch is bigger than the limit: ask
				 * for more next time. */
				tp->max_bytes =
				    tp->max_bytes * 2 > cl->conf.fetch_max_bytes
					? cl->conf.fetch_max_bytes
					: tp->max_bytes * 2;
			}
			part = &item->parts[item->cnt++];
			part->tp = tp;
			part->version = tp->version;
			part->data = data;
			part->len = fp->records_size;
			part->fetch_offset = at;
			part->hw = fp->high_watermark;
		}
	}
	if (item->cnt > 0) {
		kept = resp_detach(resp);
		if (!kept) {
			/* Cannot keep the data: fetch it again. */
			for (int i = 0; i < item->cnt; i++)
				item->parts[i].tp->fetch_offset =
				    item->parts[i].fetch_offset;
			goto out_unlock;
		}
		/* The frame moved or was copied: re-point the parts. */
		for (int i = 0; i < item->cnt; i++)
			item->parts[i].data =
			    kept->payload +
			    (item->parts[i].data - resp->payload);
		item->resp = kept;
		item->bytes = kept->frame_len;
		enqueue(c, item);
		item = NULL;
	}
out_unlock:
	pthread_mutex_unlock(&c->lock);
	free(item);
	if (refresh)
		client_md_refresh(cl, NULL);
	free(cr);
}

static void offsets_cb(struct client *cl, struct req *req, int err,
		       const char *errstr, struct resp *resp)
{
	struct creq *cr = req->opaque;
	struct fluxo_consumer *c = cr->c;
	const Fluxo__ListOffsetsResponse *lr = NULL;
	bool refresh = false;

	if (!err &&
	    (resp->head->error ||
	     resp->head->body_case != FLUXO__RESPONSE__BODY_LIST_OFFSETS))
		err = resp->head->error ? (int)resp->head->error
					: FLUXO_ERR__BAD_MSG;
	if (!err)
		lr = resp->head->list_offsets;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < cr->cnt; i++) {
		struct ctp *tp = cr->e[i].tp;
		const Fluxo__ListOffsetsPartitionResponse *pp = NULL;

		tp->offset_inflight = false;
		if (tp->removed || tp->version != cr->e[i].version ||
		    tp->state != CTP_OFFSET)
			continue;
		if (err) {
			tp->backoff_until =
			    clock_mono_ms() + cl->conf.retry_backoff_ms;
			refresh |= err != FLUXO_ERR__DESTROY;
			continue;
		}
		for (size_t t = 0; t < lr->n_topics && !pp; t++) {
			if (strcmp(lr->topics[t]->name, tp->topic) != 0)
				continue;
			for (size_t p = 0; p < lr->topics[t]->n_partitions; p++)
				if (lr->topics[t]->partitions[p]->partition ==
				    tp->partition)
					pp = lr->topics[t]->partitions[p];
		}
		if (!pp) {
			tp->backoff_until =
			    clock_mono_ms() + cl->conf.retry_backoff_ms;
			continue;
		}
		if (pp->error) {
			part_error(c, tp, pp->error, cr->e[i].offset, &refresh);
			continue;
		}
		if (pp->offset < 0) {
			/* No record at or after the timestamp: the end. */
			tp->reset_spec = FLUXO_OFFSET_END;
			continue;
		}
		tp->state = CTP_ACTIVE;
		tp->fetch_offset = pp->offset;
		tp->resolved_offset = pp->offset;
		tp->max_bytes = cl->conf.max_partition_fetch_bytes;
		tp->last_err = 0;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (err && err != FLUXO_ERR__DESTROY)
		log_debug("consumer", "offset lookup failed: %s",
			  errstr ? errstr : fluxo_err2str(err));
	if (refresh)
		client_md_refresh(cl, NULL);
	free(cr);
}

static int cmp_leader(const void *a, const void *b)
{
	const struct ctp *x = *(struct ctp *const *)a;
	const struct ctp *y = *(struct ctp *const *)b;

	if (x->leader != y->leader)
		return x->leader < y->leader ? -1 : 1;
	return strcmp(x->topic, y->topic) != 0
		   ? strcmp(x->topic, y->topic)
		   : (x->partition > y->partition) -
			 (x->partition < y->partition);
}

/* Sends one Fetch or ListOffsets for tps[0..n), all led by bk (locked). */
static void send_for(struct fluxo_consumer *c, struct broker *bk,
		     struct ctp **tps, int n, bool fetch)
{
	Fluxo__Request head = FLUXO__REQUEST__INIT;
	Fluxo__FetchRequest fr = FLUXO__FETCH_REQUEST__INIT;
	Fluxo__ListOffsetsRequest lr = FLUXO__LIST_OFFSETS_REQUEST__INIT;
	Fluxo__FetchTopic *ft = NULL, **ftp = NULL;
	Fluxo__FetchPartition *fp = NULL, **fpp = NULL;
	Fluxo__ListOffsetsTopic *lt = NULL, **ltp = NULL;
	Fluxo__ListOffsetsPartition *lp = NULL, **lpp = NULL;
	struct creq *cr;
	struct req *req = NULL;
	int nt = 0;

	cr = malloc(sizeof(*cr) + (size_t)n * sizeof(cr->e[0]));
	if (fetch) {
		ft = calloc((size_t)n, sizeof(*ft));
		ftp = calloc((size_t)n, sizeof(*ftp));
		fp = calloc((size_t)n, sizeof(*fp));
		fpp = calloc((size_t)n, sizeof(*fpp));
	} else {
		lt = calloc((size_t)n, sizeof(*lt));
		ltp = calloc((size_t)n, sizeof(*ltp));
		lp = calloc((size_t)n, sizeof(*lp));
		lpp = calloc((size_t)n, sizeof(*lpp));
	}
	if (!cr || (fetch && (!ft || !ftp || !fp || !fpp)) ||
	    (!fetch && (!lt || !ltp || !lp || !lpp)))
		goto out_free;
	cr->c = c;
	cr->bk = bk;
	cr->cnt = n;
	for (int i = 0; i < n; i++) {
		struct ctp *tp = tps[i];
		bool new_topic =
		    i == 0 || strcmp(tps[i - 1]->topic, tp->topic) != 0;

		cr->e[i].tp = tp;
		cr->e[i].version = tp->version;
		cr->e[i].offset = fetch ? tp->fetch_offset : tp->reset_spec;
		if (fetch) {
			fluxo__fetch_partition__init(&fp[i]);
			fp[i].partition = tp->partition;
			fp[i].current_leader_epoch = -1;
			fp[i].fetch_offset = tp->fetch_offset;
			fp[i].last_fetched_epoch = -1;
			fp[i].log_start_offset = -1;
			fp[i].partition_max_bytes = tp->max_bytes;
			fpp[i] = &fp[i];
			if (new_topic) {
				fluxo__fetch_topic__init(&ft[nt]);
				ft[nt].name = tp->topic;
				ft[nt].partitions = &fpp[i];
				ftp[nt] = &ft[nt];
				nt++;
			}
			ft[nt - 1].n_partitions++;
		} else {
			fluxo__list_offsets_partition__init(&lp[i]);
			lp[i].partition = tp->partition;
			lp[i].current_leader_epoch = -1;
			lp[i].timestamp = tp->reset_spec;
			lpp[i] = &lp[i];
			if (new_topic) {
				fluxo__list_offsets_topic__init(&lt[nt]);
				lt[nt].name = tp->topic;
				lt[nt].partitions = &lpp[i];
				ltp[nt] = &lt[nt];
				nt++;
			}
			lt[nt - 1].n_partitions++;
		}
	}
	if (fetch) {
		fr.replica_id = -1;
		fr.replica_epoch = -1;
		fr.max_wait_ms = c->cl.conf.fetch_max_wait_ms;
		fr.min_bytes = c->cl.conf.fetch_min_bytes;
		fr.max_bytes = c->cl.conf.fetch_max_bytes;
		fr.isolation_level = c->cl.conf.isolation_level;
		fr.topics = ftp;
		fr.n_topics = (size_t)nt;
		head.body_case = FLUXO__REQUEST__BODY_FETCH;
		head.fetch = &fr;
	} else {
		lr.replica_id = -1;
		lr.isolation_level = c->cl.conf.isolation_level;
		lr.topics = ltp;
		lr.n_topics = (size_t)nt;
		head.body_case = FLUXO__REQUEST__BODY_LIST_OFFSETS;
		head.list_offsets = &lr;
	}
	req = req_new(&c->cl, &head, NULL, 0, bk->id,
		      c->cl.conf.request_timeout_ms +
			  (fetch ? c->cl.conf.fetch_max_wait_ms : 0),
		      fetch ? fetch_cb : offsets_cb, cr);
	if (!req)
		goto out_free;
	for (int i = 0; i < n; i++) {
		if (fetch)
			tps[i]->fetching = true;
		else
			tps[i]->offset_inflight = true;
	}
	if (fetch)
		bk->fetch_inflight = true;
	broker_enqueue(bk, req, false);
	cr = NULL;
out_free:
	free(cr);
	free(ft);
	free(ftp);
	free(fp);
	free(fpp);
	free(lt);
	free(ltp);
	free(lp);
	free(lpp);
}

static int64_t consumer_serve(struct client *cl, int64_t now)
{
	struct fluxo_consumer *c = cl->owner;
	struct ctp **fetch = NULL, **offs = NULL;
	int nf = 0, no = 0, cnt = 0;
	int64_t next = INT64_MAX;
	bool want_md = false;
	uint64_t rounds;
	char why[512];

	pthread_mutex_lock(&cl->md_lock);
	rounds = cl->down_rounds;
	client_strlcpy(why, cl->down_errstr, sizeof(why));
	pthread_mutex_unlock(&cl->md_lock);
	pthread_mutex_lock(&c->lock);
	if (rounds != c->down_seen) {
		c->down_seen = rounds;
		push_event(c, NULL, FLUXO_ERR__TRANSPORT, why, -1);
	}
	for (struct ctp *tp = c->tps; tp; tp = tp->next)
		cnt++;
	if (cnt > c->scratch_cap) {
		struct ctp **f =
		    realloc(c->scratch_fetch, (size_t)cnt * sizeof(*f));
		struct ctp **o =
		    f ? realloc(c->scratch_offs, (size_t)cnt * sizeof(*o))
		      : NULL;

		if (f)
			c->scratch_fetch = f;
		if (o) {
			c->scratch_offs = o;
			c->scratch_cap = cnt;
		}
	}
	if (cnt <= c->scratch_cap) {
		fetch = c->scratch_fetch;
		offs = c->scratch_offs;
	}
	c->fetch_paused = c->q_bytes >= (size_t)cl->conf.fetch_max_bytes;
	for (struct ctp *tp = c->tps; tp && fetch && offs; tp = tp->next) {
		if (tp->removed || tp->state == CTP_PAUSED)
			continue;
		if (tp->leader < 0) {
			want_md = true;
			continue;
		}
		if (tp->backoff_until > now) {
			if (tp->backoff_until < next)
				next = tp->backoff_until;
			continue;
		}
		if (tp->state == CTP_OFFSET && !tp->offset_inflight)
			offs[no++] = tp;
		else if (tp->state == CTP_ACTIVE && !tp->fetching &&
			 !c->fetch_paused)
			fetch[nf++] = tp;
	}
	if (no > 1)
		qsort(offs, (size_t)no, sizeof(*offs), cmp_leader);
	if (nf > 1)
		qsort(fetch, (size_t)nf, sizeof(*fetch), cmp_leader);
	for (int i = 0, j; i < no; i = j) {
		struct broker *bk = client_broker_ready(cl, offs[i]->leader);

		for (j = i; j < no && offs[j]->leader == offs[i]->leader; j++)
			;
		if (bk)
			send_for(c, bk, &offs[i], j - i, false);
	}
	for (int i = 0, j; i < nf; i = j) {
		struct broker *bk = client_broker_ready(cl, fetch[i]->leader);

		for (j = i; j < nf && fetch[j]->leader == fetch[i]->leader; j++)
			;
		if (bk && !bk->fetch_inflight)
			send_for(c, bk, &fetch[i], j - i, true);
	}
	pthread_mutex_unlock(&c->lock);
	if (want_md) {
		client_md_refresh(cl, NULL);
		if (now + cl->conf.retry_backoff_ms < next)
			next = now + cl->conf.retry_backoff_ms;
	}
	return next;
}

static const struct client_ops consumer_ops = {
    .serve = consumer_serve,
    .md_updated = consumer_md_updated,
};

/* ------------------------------------------------------------ public API */

fluxo_consumer_t *fluxo_consumer_new(fluxo_conf_t *conf, char *errstr,
				     size_t errstr_size)
{
	struct fluxo_consumer *c;
	char scratch[1];
	int64_t maxd;

	if (!errstr || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (!conf) {
		client_fmt(errstr, errstr_size, "fluxo_consumer_new: no conf");
		return NULL;
	}
	if (client_conf_finalize(conf, false, errstr, errstr_size) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		client_fmt(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	client_cond_init(&c->cond);
	c->it.rd = (struct batch_reader)BATCH_READER_INIT;
	c->it.check_crcs = conf->c.check_crcs;
	/* A compressed batch inflates at most to this. */
	maxd = 4 * (int64_t)conf->c.fetch_max_bytes;
	if (maxd < (64 << 20))
		maxd = 64 << 20;
	if (maxd > (1 << 30))
		maxd = 1 << 30;
	c->it.max_decompressed = (size_t)maxd;
	if (client_init(&c->cl, &conf->c, &consumer_ops, c, errstr,
			errstr_size) < 0) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c);
		return NULL;
	}
	fluxo_conf_destroy(conf);
	return c;
}

static struct ctp *ctp_find(struct fluxo_consumer *c, const char *topic,
			    int32_t partition)
{
	for (struct ctp *tp = c->tps; tp; tp = tp->next)
		if (!tp->removed && tp->partition == partition &&
		    strcmp(tp->topic, topic) == 0)
			return tp;
	return NULL;
}

/* Points tp at offset (locked); the caller wakes the I/O thread. */
static void ctp_seek(struct fluxo_consumer *c, struct ctp *tp, int64_t spec,
		     bool logical)
{
	tp->version++;
	tp->app_version = tp->version;
	tp->backoff_until = 0;
	tp->last_err = 0;
	tp->max_bytes = c->cl.conf.max_partition_fetch_bytes;
	if (!logical) {
		tp->state = CTP_ACTIVE;
		tp->fetch_offset = spec;
		tp->resolved_offset = spec;
		tp->position = spec;
	} else {
		tp->state = CTP_OFFSET;
		tp->reset_spec = spec;
		tp->resolved_offset = -1;
		tp->position = -1;
	}
	if (c->cur_tp == tp)
		citer_abort(&c->it);
}

int fluxo_consumer_assign(fluxo_consumer_t *c, const char *topic,
			  int32_t partition, int64_t offset)
{
	char errstr[512];
	int cnt, first, last;

	if (!c || !topic || !*topic || partition < -1 ||
	    offset < FLUXO_OFFSET_BEGINNING)
		return FLUXO_ERR__INVALID_ARG;
	/* A topic the brokers deny in three answers (retry.backoff.ms
	 * apart) does not exist: say so rather than wait the whole
	 * request.timeout.ms. */
	cnt = client_topic_wait(&c->cl, topic,
				clock_mono_ms() + c->cl.conf.request_timeout_ms,
				3, errstr, sizeof(errstr));
	if (cnt < 0) {
		log_debug("consumer", "assign %s: %s", topic, errstr);
		return cnt;
	}
	if (partition >= cnt)
		return FLUXO_ERR__UNKNOWN_PARTITION;
	first = partition < 0 ? 0 : partition;
	last = partition < 0 ? cnt - 1 : partition;
	pthread_mutex_lock(&c->lock);
	for (int p = first; p <= last; p++) {
		struct ctp *tp = ctp_find(c, topic, p);

		if (!tp) {
			tp = calloc(1, sizeof(*tp));
			if (tp)
				tp->topic = strdup(topic);
			if (!tp || !tp->topic) {
				if (tp)
					free(tp);
				pthread_mutex_unlock(&c->lock);
				return FLUXO_ERR__NOMEM;
			}
			tp->partition = p;
			tp->leader = -1;
			tp->next = c->tps;
			c->tps = tp;
		}
		ctp_seek(c, tp, offset, offset < 0);
	}
	leaders_refresh_locked(c);
	pthread_mutex_unlock(&c->lock);
	client_wakeup(&c->cl);
	return 0;
}

int fluxo_consumer_unassign(fluxo_consumer_t *c)
{
	if (!c)
		return FLUXO_ERR__INVALID_ARG;
	pthread_mutex_lock(&c->lock);
	/* Entries stay allocated (the I/O thread may still refer to them)
	 * until the consumer is destroyed. */
	for (struct ctp *tp = c->tps; tp; tp = tp->next)
		tp->removed = true;
	pthread_mutex_unlock(&c->lock);
	citer_abort(&c->it);
	return 0;
}

int fluxo_consumer_seek(fluxo_consumer_t *c, const char *topic,
			int32_t partition, int64_t offset)
{
	struct ctp *tp;

	if (!c || !topic || offset < FLUXO_OFFSET_BEGINNING)
		return FLUXO_ERR__INVALID_ARG;
	pthread_mutex_lock(&c->lock);
	tp = ctp_find(c, topic, partition);
	if (tp)
		ctp_seek(c, tp, offset, offset < 0);
	pthread_mutex_unlock(&c->lock);
	if (!tp)
		return FLUXO_ERR__UNKNOWN_PARTITION;
	client_wakeup(&c->cl);
	return 0;
}

int fluxo_consumer_seek_timestamp(fluxo_consumer_t *c, const char *topic,
				  int32_t partition, int64_t ts_ms)
{
	struct ctp *tp;

	if (!c || !topic || ts_ms < 0)
		return FLUXO_ERR__INVALID_ARG;
	pthread_mutex_lock(&c->lock);
	tp = ctp_find(c, topic, partition);
	if (tp)
		ctp_seek(c, tp, ts_ms, true);
	pthread_mutex_unlock(&c->lock);
	if (!tp)
		return FLUXO_ERR__UNKNOWN_PARTITION;
	client_wakeup(&c->cl);
	return 0;
}

int fluxo_consumer_position(fluxo_consumer_t *c, const char *topic,
			    int32_t partition, int64_t *offset)
{
	struct ctp *tp;
	int64_t deadline;
	int rc = 0;

	if (!c || !topic || !offset)
		return FLUXO_ERR__INVALID_ARG;
	deadline = clock_mono_ms() + c->cl.conf.request_timeout_ms;
	pthread_mutex_lock(&c->lock);
	tp = ctp_find(c, topic, partition);
	if (!tp) {
		rc = FLUXO_ERR__UNKNOWN_PARTITION;
		goto out_unlock;
	}
	/* A reset by the I/O thread (out of range) voids the position. */
	if (tp->app_version != tp->version)
		tp->position = -1;
	while (tp->position < 0 && tp->resolved_offset < 0 &&
	       tp->state != CTP_PAUSED && !tp->removed) {
		if (clock_mono_ms() >= deadline) {
			rc = FLUXO_ERR__TIMED_OUT;
			goto out_unlock;
		}
		client_cond_wait_until(&c->cond, &c->lock, deadline);
	}
	*offset = tp->position >= 0 ? tp->position : tp->resolved_offset;
	if (*offset < 0)
		rc = FLUXO_ERR__STATE;
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Starts the next part of the current item; false when it is stale. */
static bool part_begin(struct fluxo_consumer *c, const struct fpart *part)
{
	struct ctp *tp = part->tp;
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = !tp || (!tp->removed && part->version == tp->version);
	if (ok && tp) {
		if (tp->app_version != tp->version) {
			/* Reset by the I/O thread: start from this data. */
			tp->app_version = tp->version;
			tp->position = -1;
		}
		if (tp->position < 0)
			tp->position = part->fetch_offset;
	}
	pthread_mutex_unlock(&c->lock);
	if (!ok)
		return false;
	c->cur_tp = tp;
	return true;
}

static void item_done(struct fluxo_consumer *c)
{
	struct fitem *it = c->cur;
	bool wake;

	c->cur = NULL;
	c->cur_tp = NULL;
	pthread_mutex_lock(&c->lock);
	c->q_bytes -= it->bytes;
	wake =
	    c->fetch_paused && c->q_bytes < (size_t)c->cl.conf.fetch_max_bytes;
	pthread_mutex_unlock(&c->lock);
	item_free(it);
	if (wake)
		client_wakeup(&c->cl);
}

const fluxo_message_t *fluxo_consumer_poll(fluxo_consumer_t *c, int timeout_ms)
{
	int64_t deadline;
	fluxo_message_t *m;
	int rc;

	if (!c)
		return NULL;
	m = &c->msg;
	deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
	for (;;) {
		if (c->cur && c->cur_tp && !c->cur_tp->removed) {
			rc =
			    citer_next(&c->it, m, c->errbuf, sizeof(c->errbuf));
			if (rc != 0)
				return m;
		}
		if (c->cur && c->cur_idx + 1 < c->cur->cnt) {
			const struct fpart *part = &c->cur->parts[++c->cur_idx];

			c->cur_tp = NULL;
			if (!part_begin(c, part))
				continue;
			if (part->err) {
				memset(m, 0, sizeof(*m));
				m->err = part->err;
				m->errstr = part->errstr;
				m->topic = part->tp ? part->tp->topic : "";
				m->partition =
				    part->tp ? part->tp->partition : -1;
				m->offset = part->fetch_offset;
				m->leader_epoch = -1;
				m->high_watermark = -1;
				c->cur_tp = NULL;
				return m;
			}
			citer_start(&c->it, part, part->tp->topic,
				    part->tp->partition, &part->tp->position);
			continue;
		}
		if (c->cur)
			item_done(c);
		pthread_mutex_lock(&c->lock);
		while (!c->q_head) {
			if (clock_mono_ms() >= deadline) {
				pthread_mutex_unlock(&c->lock);
				return NULL;
			}
			client_cond_wait_until(&c->cond, &c->lock, deadline);
		}
		c->cur = c->q_head;
		c->q_head = c->cur->next;
		if (!c->q_head)
			c->q_tail = NULL;
		pthread_mutex_unlock(&c->lock);
		c->cur_idx = -1;
	}
}

void fluxo_consumer_destroy(fluxo_consumer_t *c)
{
	struct ctp *tp, *next;
	struct fitem *it, *nit;

	if (!c)
		return;
	client_destroy(&c->cl);
	if (c->cur)
		item_free(c->cur);
	for (it = c->q_head; it; it = nit) {
		nit = it->next;
		item_free(it);
	}
	for (tp = c->tps; tp; tp = next) {
		next = tp->next;
		free(tp->topic);
		free(tp);
	}
	citer_free(&c->it);
	free(c->scratch_fetch);
	free(c->scratch_offs);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
