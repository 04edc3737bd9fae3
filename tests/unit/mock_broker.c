/*
 * mock_broker.c - an in-process fluxo broker for libfluxo's unit tests.
 *
 * Single-threaded: one poll loop over the listener, a wake-up pipe and
 * the connections. Requests of a connection are answered in order; a
 * Fetch that finds no data waits (up to its max_wait_ms) and holds back
 * the connection's later requests, as a real broker does. Response heads
 * are built in an arena reset after each request.
 */
#include "config.h"
#include "mock_broker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/net.h"
#include "fluxo.pb-c.h"

#define MAX_CONNS 16

struct mconn {
	int fd;
	struct buf in;
	struct buf out;
	Fluxo__Request *pending; /* a waiting Fetch */
	int64_t pending_deadline;
};

static struct mock_topic *find_topic(struct mock_broker *m, const char *name)
{
	for (int i = 0; i < m->topic_cnt; i++)
		if (strcmp(m->topics[i].name, name) == 0)
			return &m->topics[i];
	return NULL;
}

void mock_add_topic(struct mock_broker *m, const char *name, int cnt)
{
	struct mock_topic *t;

	pthread_mutex_lock(&m->lock);
	t = &m->topics[m->topic_cnt++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->part_cnt = cnt;
	pthread_mutex_unlock(&m->lock);
}

int64_t mock_log_end(struct mock_broker *m, const char *topic, int part)
{
	struct mock_topic *t;
	int64_t r = -1;

	pthread_mutex_lock(&m->lock);
	t = find_topic(m, topic);
	if (t && part < t->part_cnt)
		r = t->parts[part].next_offset;
	pthread_mutex_unlock(&m->lock);
	return r;
}

void mock_add_peer(struct mock_broker *m, int32_t id, int port)
{
	pthread_mutex_lock(&m->lock);
	if (m->peer_cnt < MOCK_MAX_PEERS) {
		m->peer_ids[m->peer_cnt] = id;
		m->peer_ports[m->peer_cnt++] = port;
	}
	pthread_mutex_unlock(&m->lock);
}

void mock_bootstrap(const struct mock_broker *m, char *buf, size_t size)
{
	snprintf(buf, size, "127.0.0.1:%d", m->port);
}

static void respond(struct mconn *c, Fluxo__Response *resp,
		    const struct buf *payload)
{
	frame_encode_head(&c->out, &resp->base, payload ? payload->len : 0);
	if (payload && payload->len)
		buf_append(&c->out, payload->data, payload->len);
}

/* ------------------------------------------------------------ handlers */

static void h_metadata(struct mock_broker *m, struct arena *a,
		       const Fluxo__MetadataRequest *r, Fluxo__Response *resp)
{
	Fluxo__MetadataResponse *mr = arena_alloc(a, sizeof(*mr));
	size_t n = r->all_topics ? (size_t)m->topic_cnt : r->n_topics;

	fluxo__metadata_response__init(mr);
	mr->brokers =
	    arena_alloc(a, (size_t)(m->peer_cnt + 1) * sizeof(*mr->brokers));
	for (int i = 0; i <= m->peer_cnt; i++) {
		Fluxo__BrokerEndpoint *be = arena_alloc(a, sizeof(*be));

		fluxo__broker_endpoint__init(be);
		be->node_id = i == 0 ? m->node_id : m->peer_ids[i - 1];
		be->host = "127.0.0.1";
		be->port = i == 0 ? m->port : m->peer_ports[i - 1];
		mr->brokers[mr->n_brokers++] = be;
	}
	mr->cluster_id = "mock-cluster";
	mr->controller_id = m->controller_id;
	mr->topics = arena_alloc(a, (n + 1) * sizeof(*mr->topics));
	for (size_t i = 0; i < n; i++) {
		const char *name =
		    r->all_topics ? m->topics[i].name : r->topics[i];
		struct mock_topic *t = find_topic(m, name);
		Fluxo__TopicMetadata *tm = arena_alloc(a, sizeof(*tm));

		fluxo__topic_metadata__init(tm);
		tm->name = (char *)name;
		if (!t) {
			tm->error =
			    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
			tm->error_message =
			    "Topic does not exist and "
			    "auto.create.topics.enable is false";
		} else {
			tm->partitions = arena_alloc(a, (size_t)t->part_cnt *
							    sizeof(void *));
			tm->n_partitions = (size_t)t->part_cnt;
			for (int p = 0; p < t->part_cnt; p++) {
				Fluxo__PartitionMetadata *pm =
				    arena_alloc(a, sizeof(*pm));
				int32_t *one = arena_alloc(a, sizeof(int32_t));

				fluxo__partition_metadata__init(pm);
				*one = 1;
				pm->partition = p;
				pm->leader = 1;
				pm->leader_epoch = 0;
				pm->replicas = one;
				pm->n_replicas = 1;
				pm->isr = one;
				pm->n_isr = 1;
				tm->partitions[p] = pm;
			}
		}
		mr->topics[mr->n_topics++] = tm;
	}
	m->metadata_requests++;
	resp->body_case = FLUXO__RESPONSE__BODY_METADATA;
	resp->metadata = mr;
}

/* Another writer's records after each partition of the request. */
static void append_gap(struct mock_broker *m, const Fluxo__ProduceRequest *r)
{
	struct batch_builder bb = BATCH_BUILDER_INIT;

	for (size_t i = 0; i < r->n_topics; i++) {
		struct mock_topic *t = find_topic(m, r->topics[i]->name);

		for (size_t j = 0; t && j < r->topics[i]->n_partitions; j++) {
			int32_t pn = r->topics[i]->partitions[j]->partition;
			struct mock_part *part;
			uint8_t *dst;

			if (pn < 0 || pn >= t->part_cnt)
				continue;
			part = &t->parts[pn];
			batch_builder_begin(&bb, 0);
			for (int k = 0; k < m->gap_after_close; k++)
				batch_builder_add(&bb, 0, NULL, -1, "gap", 3,
						  NULL, 0);
			batch_builder_finish(&bb, -1, -1, -1, -1);
			dst = buf_extend(&part->log, bb.out.len);
			memcpy(dst, bb.out.data, bb.out.len);
			batch_set_base_offset(dst, part->next_offset);
			part->next_offset += m->gap_after_close;
			part->batch_cnt++;
		}
	}
	batch_builder_free(&bb);
}

/* Where the batch of producer pid starting at seq sits in the log. */
static int64_t find_batch(const struct mock_part *part, int64_t pid,
			  int32_t seq)
{
	for (size_t pos = 0; pos < part->log.len;) {
		struct batch_header h;

		batch_header_decode(part->log.data + pos, part->log.len - pos,
				    &h);
		if (h.producer_id == pid && h.base_sequence == seq)
			return h.base_offset;
		pos += batch_total_size(&h);
	}
	return -1;
}

/*
 * The idempotence checks of a run (one producer, as the client sends
 * them): a batch whose sequences are already in the log is a duplicate
 * (its offset goes into ppr->batch_base_offsets, -1 marks new batches);
 * otherwise it must follow on. Returns false with ppr->error set when the
 * run is refused; updates the partition's producer on success.
 */
static bool check_sequences(struct mock_broker *m, struct arena *a,
			    struct mock_part *part, const uint8_t *data,
			    size_t len, const struct batch_run_info *info,
			    Fluxo__ProducePartitionResponse *ppr)
{
	bool same = part->pid == info->producer_id;
	int32_t last = same ? part->last_seq : -1;
	int64_t *bases =
	    arena_alloc(a, (size_t)info->batch_cnt * sizeof(*bases));
	int dups = 0, k = 0;

	for (size_t pos = 0; pos < len; k++) {
		struct batch_header h;
		int32_t hi;

		batch_header_decode(data + pos, len - pos, &h);
		pos += batch_total_size(&h);
		hi = h.base_sequence + h.last_offset_delta;
		bases[k] = -1;
		if (same && hi <= part->last_seq) {
			bases[k] =
			    find_batch(part, h.producer_id, h.base_sequence);
			if (bases[k] >= 0) {
				dups++;
				continue;
			}
		}
		if (h.base_sequence != last + 1) {
			ppr->error =
			    FLUXO__ERROR_CODE__OUT_OF_ORDER_SEQUENCE_NUMBER;
			m->out_of_order++;
			return false;
		}
		last = hi;
	}
	part->pid = info->producer_id;
	if (last > part->last_seq || !same)
		part->last_seq = last;
	if (dups > 0) {
		ppr->batch_base_offsets = bases;
		ppr->n_batch_base_offsets = (size_t)info->batch_cnt;
		m->duplicates += dups;
	}
	return true;
}

/* Returns false when no response must be sent (acks=0). */
static bool h_produce(struct mock_broker *m, struct arena *a,
		      const Fluxo__ProduceRequest *r, const uint8_t *payload,
		      size_t plen, Fluxo__Response *resp)
{
	Fluxo__ProduceResponse *pr = arena_alloc(a, sizeof(*pr));
	size_t off = 0;

	fluxo__produce_response__init(pr);
	pr->topics = arena_alloc(a, (r->n_topics + 1) * sizeof(void *));
	for (size_t i = 0; i < r->n_topics; i++) {
		const Fluxo__ProduceTopic *pt = r->topics[i];
		struct mock_topic *t = find_topic(m, pt->name);
		Fluxo__ProduceTopicResponse *tr = arena_alloc(a, sizeof(*tr));

		fluxo__produce_topic_response__init(tr);
		tr->name = pt->name;
		tr->partitions =
		    arena_alloc(a, (pt->n_partitions + 1) * sizeof(void *));
		for (size_t j = 0; j < pt->n_partitions; j++) {
			const Fluxo__ProducePartition *pp = pt->partitions[j];
			Fluxo__ProducePartitionResponse *ppr =
			    arena_alloc(a, sizeof(*ppr));
			const uint8_t *data = payload + off;
			size_t len = pp->records_size;
			struct batch_run_info info;
			struct mock_part *part;

			fluxo__produce_partition_response__init(ppr);
			ppr->partition = pp->partition;
			ppr->base_offset = -1;
			ppr->log_append_time_ms = -1;
			tr->partitions[tr->n_partitions++] = ppr;
			if (len > plen - off) {
				ppr->error = FLUXO__ERROR_CODE__CORRUPT_MESSAGE;
				continue;
			}
			off += len;
			if (!t || pp->partition < 0 ||
			    pp->partition >= t->part_cnt) {
				ppr->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (m->produce_errors > 0) {
				m->produce_errors--;
				ppr->error = m->produce_error_code;
				continue;
			}
			if (batch_run_validate(data, len, 1 << 26, &info,
					       NULL) < 0) {
				ppr->error = FLUXO__ERROR_CODE__CORRUPT_MESSAGE;
				continue;
			}
			part = &t->parts[pp->partition];
			/* Idempotence as the broker checks it, batch by
			 * batch: sequences must follow on; a batch already
			 * appended is answered with its offset. */
			if (info.producer_id >= 0 &&
			    !check_sequences(m, a, part, data, len, &info, ppr))
				continue;
			if (ppr->n_batch_base_offsets == 0)
				ppr->base_offset = part->next_offset;
			for (size_t pos = 0, k = 0; pos < len; k++) {
				struct batch_header h;
				size_t size;
				uint8_t *dst;

				batch_header_decode(data + pos, len - pos, &h);
				size = batch_total_size(&h);
				pos += size;
				if (k < ppr->n_batch_base_offsets &&
				    ppr->batch_base_offsets[k] >= 0)
					continue; /* a duplicate */
				if (k < ppr->n_batch_base_offsets)
					ppr->batch_base_offsets[k] =
					    part->next_offset;
				dst = buf_extend(&part->log, size);
				memcpy(dst, data + pos - size, size);
				batch_set_base_offset(dst, part->next_offset);
				batch_set_leader_epoch(dst, 0);
				part->next_offset += h.last_offset_delta + 1;
				part->batch_cnt++;
				m->produce_batches++;
			}
			if (ppr->n_batch_base_offsets > 0) {
				ppr->base_offset = ppr->batch_base_offsets[0];
				if (ppr->n_batch_base_offsets == 1)
					ppr->n_batch_base_offsets = 0;
			}
		}
		pr->topics[pr->n_topics++] = tr;
	}
	m->produce_requests++;
	m->last_acks = r->acks;
	resp->body_case = FLUXO__RESPONSE__BODY_PRODUCE;
	resp->produce = pr;
	return r->acks != 0;
}

/* Fills a fetch response; returns the record bytes found. */
static size_t h_fetch(struct mock_broker *m, struct arena *a,
		      const Fluxo__FetchRequest *r, Fluxo__Response *resp,
		      struct buf *payload)
{
	Fluxo__FetchResponse *fr = arena_alloc(a, sizeof(*fr));
	size_t total = 0;

	fluxo__fetch_response__init(fr);
	fr->topics = arena_alloc(a, (r->n_topics + 1) * sizeof(void *));
	for (size_t i = 0; i < r->n_topics; i++) {
		const Fluxo__FetchTopic *ft = r->topics[i];
		struct mock_topic *t = find_topic(m, ft->name);
		Fluxo__FetchTopicResponse *tr = arena_alloc(a, sizeof(*tr));

		fluxo__fetch_topic_response__init(tr);
		tr->name = ft->name;
		tr->partitions =
		    arena_alloc(a, (ft->n_partitions + 1) * sizeof(void *));
		for (size_t j = 0; j < ft->n_partitions; j++) {
			const Fluxo__FetchPartition *fp = ft->partitions[j];
			Fluxo__FetchPartitionResponse *pr =
			    arena_alloc(a, sizeof(*pr));
			struct mock_part *part;
			size_t pos = 0, taken = 0;

			fluxo__fetch_partition_response__init(pr);
			pr->partition = fp->partition;
			tr->partitions[tr->n_partitions++] = pr;
			if (!t || fp->partition < 0 ||
			    fp->partition >= t->part_cnt) {
				pr->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			part = &t->parts[fp->partition];
			pr->high_watermark = part->next_offset;
			pr->last_stable_offset = part->next_offset;
			pr->log_start_offset = part->start_offset;
			pr->log_end_offset = part->next_offset;
			if (fp->fetch_offset > part->next_offset ||
			    fp->fetch_offset < part->start_offset) {
				pr->error =
				    FLUXO__ERROR_CODE__OFFSET_OUT_OF_RANGE;
				continue;
			}
			while (pos < part->log.len) {
				struct batch_header h;
				size_t size;

				batch_header_decode(part->log.data + pos,
						    part->log.len - pos, &h);
				size = batch_total_size(&h);
				if (batch_last_offset(&h) >= fp->fetch_offset) {
					if (taken > 0 &&
					    taken + size >
						(size_t)fp->partition_max_bytes)
						break;
					buf_append(payload,
						   part->log.data + pos, size);
					taken += size;
				}
				pos += size;
			}
			pr->records_size = (uint32_t)taken;
			total += taken;
		}
		fr->topics[fr->n_topics++] = tr;
	}
	resp->body_case = FLUXO__RESPONSE__BODY_FETCH;
	resp->fetch = fr;
	return total;
}

static int64_t offset_for_time(struct mock_part *part, int64_t ts)
{
	struct batch_reader rd = BATCH_READER_INIT;
	size_t pos = 0;
	int64_t found = -1;

	while (pos < part->log.len && found < 0) {
		struct batch_header h;
		struct record rec;
		size_t size;

		batch_header_decode(part->log.data + pos, part->log.len - pos,
				    &h);
		size = batch_total_size(&h);
		if (h.max_timestamp >= ts &&
		    batch_reader_init(&rd, part->log.data + pos, size,
				      1 << 26) == 0)
			while (batch_reader_next(&rd, &rec) == 1)
				if (rec.timestamp >= ts) {
					found = rec.offset;
					break;
				}
		pos += size;
	}
	batch_reader_free(&rd);
	return found;
}

static void h_list_offsets(struct mock_broker *m, struct arena *a,
			   const Fluxo__ListOffsetsRequest *r,
			   Fluxo__Response *resp)
{
	Fluxo__ListOffsetsResponse *lr = arena_alloc(a, sizeof(*lr));

	fluxo__list_offsets_response__init(lr);
	lr->topics = arena_alloc(a, (r->n_topics + 1) * sizeof(void *));
	for (size_t i = 0; i < r->n_topics; i++) {
		struct mock_topic *t = find_topic(m, r->topics[i]->name);
		Fluxo__ListOffsetsTopicResponse *tr =
		    arena_alloc(a, sizeof(*tr));

		fluxo__list_offsets_topic_response__init(tr);
		tr->name = r->topics[i]->name;
		tr->partitions = arena_alloc(
		    a, (r->topics[i]->n_partitions + 1) * sizeof(void *));
		for (size_t j = 0; j < r->topics[i]->n_partitions; j++) {
			const Fluxo__ListOffsetsPartition *lp =
			    r->topics[i]->partitions[j];
			Fluxo__ListOffsetsPartitionResponse *pr =
			    arena_alloc(a, sizeof(*pr));

			fluxo__list_offsets_partition_response__init(pr);
			pr->partition = lp->partition;
			pr->timestamp = -1;
			pr->offset = -1;
			tr->partitions[tr->n_partitions++] = pr;
			if (!t || lp->partition >= t->part_cnt) {
				pr->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (lp->timestamp == -2)
				pr->offset =
				    t->parts[lp->partition].start_offset;
			else if (lp->timestamp == -1)
				pr->offset =
				    t->parts[lp->partition].next_offset;
			else
				pr->offset = offset_for_time(
				    &t->parts[lp->partition], lp->timestamp);
		}
		lr->topics[lr->n_topics++] = tr;
	}
	resp->body_case = FLUXO__RESPONSE__BODY_LIST_OFFSETS;
	resp->list_offsets = lr;
}

static Fluxo__TopicResult *topic_result(struct arena *a, const char *name,
					int err)
{
	Fluxo__TopicResult *tr = arena_alloc(a, sizeof(*tr));

	fluxo__topic_result__init(tr);
	tr->name = (char *)name;
	tr->error = err;
	return tr;
}

static void h_admin(struct mock_broker *m, struct arena *a,
		    const Fluxo__Request *req, Fluxo__Response *resp)
{
	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_CREATE_TOPICS: {
		const Fluxo__CreatableTopic *ct = req->create_topics->topics[0];
		Fluxo__CreateTopicsResponse *cr = arena_alloc(a, sizeof(*cr));
		Fluxo__CreatableTopicResult *res = arena_alloc(a, sizeof(*res));

		fluxo__create_topics_response__init(cr);
		fluxo__creatable_topic_result__init(res);
		res->name = ct->name;
		res->num_partitions =
		    ct->num_partitions > 0 ? ct->num_partitions : 1;
		if (ct->n_assignments)
			res->num_partitions = (int32_t)ct->n_assignments;
		if (ct->n_assignments && (ct->num_partitions != -1 ||
					  ct->replication_factor != -1)) {
			/* As the broker (and Kafka) refuse it. */
			res->error = FLUXO__ERROR_CODE__INVALID_REQUEST;
			res->error_message =
			    "Both numPartitions or replicationFactor and "
			    "replicasAssignments were set.";
		} else if (find_topic(m, ct->name)) {
			res->error = FLUXO__ERROR_CODE__TOPIC_ALREADY_EXISTS;
			res->error_message = "Topic already exists.";
		} else if (!req->create_topics->validate_only) {
			struct mock_topic *t = &m->topics[m->topic_cnt++];

			memset(t, 0, sizeof(*t));
			snprintf(t->name, sizeof(t->name), "%s", ct->name);
			t->part_cnt = res->num_partitions;
		}
		cr->topics = arena_alloc(a, sizeof(void *));
		cr->topics[0] = res;
		cr->n_topics = 1;
		resp->body_case = FLUXO__RESPONSE__BODY_CREATE_TOPICS;
		resp->create_topics = cr;
		break;
	}
	case FLUXO__REQUEST__BODY_DELETE_TOPICS: {
		Fluxo__DeleteTopicsResponse *dr = arena_alloc(a, sizeof(*dr));
		const char *name = req->delete_topics->names[0];
		struct mock_topic *t = find_topic(m, name);

		fluxo__delete_topics_response__init(dr);
		dr->results = arena_alloc(a, sizeof(void *));
		dr->results[0] = topic_result(
		    a, name,
		    t ? 0 : FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION);
		dr->n_results = 1;
		if (t) {
			int i = (int)(t - m->topics);

			for (int p = 0; p < t->part_cnt; p++)
				buf_free(&t->parts[p].log);
			memmove(&m->topics[i], &m->topics[i + 1],
				(size_t)(m->topic_cnt - i - 1) * sizeof(*t));
			m->topic_cnt--;
		}
		resp->body_case = FLUXO__RESPONSE__BODY_DELETE_TOPICS;
		resp->delete_topics = dr;
		break;
	}
	case FLUXO__REQUEST__BODY_CREATE_PARTITIONS: {
		Fluxo__CreatePartitionsResponse *cr =
		    arena_alloc(a, sizeof(*cr));
		const Fluxo__CreatePartitionsTopic *ct =
		    req->create_partitions->topics[0];
		struct mock_topic *t = find_topic(m, ct->name);
		int err = 0;

		if (!t)
			err = FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
		else if (ct->count <= t->part_cnt || ct->count > MOCK_MAX_PARTS)
			err = FLUXO__ERROR_CODE__INVALID_PARTITIONS;
		else
			t->part_cnt = ct->count;
		fluxo__create_partitions_response__init(cr);
		cr->results = arena_alloc(a, sizeof(void *));
		cr->results[0] = topic_result(a, ct->name, err);
		cr->n_results = 1;
		resp->body_case = FLUXO__RESPONSE__BODY_CREATE_PARTITIONS;
		resp->create_partitions = cr;
		break;
	}
	case FLUXO__REQUEST__BODY_DESCRIBE_CONFIGS: {
		const Fluxo__DescribeConfigsResource *res =
		    req->describe_configs->resources[0];
		Fluxo__DescribeConfigsResponse *dr =
		    arena_alloc(a, sizeof(*dr));
		Fluxo__DescribeConfigsResult *r = arena_alloc(a, sizeof(*r));
		Fluxo__DescribedConfig *c = arena_alloc(a, 2 * sizeof(*c));
		Fluxo__ConfigSynonym *sy = arena_alloc(a, 3 * sizeof(*sy));
		struct mock_topic *t = find_topic(m, res->name);

		m->describe_configs_requests++;
		for (int i = 0; i < 3; i++)
			fluxo__config_synonym__init(&sy[i]);

		fluxo__describe_configs_response__init(dr);
		fluxo__describe_configs_result__init(r);
		r->type = res->type;
		r->name = res->name;
		r->configs = arena_alloc(a, 2 * sizeof(void *));
		fluxo__described_config__init(&c[0]);
		fluxo__described_config__init(&c[1]);
		if (res->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC && !t) {
			r->error =
			    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
		} else if (res->type == FLUXO__RESOURCE_TYPE__RESOURCE_TOPIC) {
			c[0].name = "retention.ms";
			c[0].value = "604800000";
			c[0].source =
			    FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG;
			if (req->describe_configs->include_synonyms) {
				sy[0].name = "log.retention.ms";
				sy[0].value = "604800000";
				sy[0].source =
				    FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG;
				c[0].synonyms =
				    arena_alloc(a, sizeof(*c[0].synonyms));
				c[0].synonyms[0] = &sy[0];
				c[0].n_synonyms = 1;
			}
			r->configs[r->n_configs++] = &c[0];
			if (t->config_key[0]) {
				c[1].name = t->config_key;
				c[1].value = t->config_value;
				c[1].source =
				    FLUXO__CONFIG_SOURCE__SOURCE_TOPIC_CONFIG;
				if (req->describe_configs->include_synonyms) {
					sy[1].name = t->config_key;
					sy[1].value = t->config_value;
					sy[1].source =
					    FLUXO__CONFIG_SOURCE__SOURCE_TOPIC_CONFIG;
					sy[2].name = "log.retention.ms";
					sy[2].value = "604800000";
					sy[2].source =
					    FLUXO__CONFIG_SOURCE__SOURCE_DEFAULT_CONFIG;
					c[1].synonyms = arena_alloc(
					    a, 2 * sizeof(*c[1].synonyms));
					c[1].synonyms[0] = &sy[1];
					c[1].synonyms[1] = &sy[2];
					c[1].n_synonyms = 2;
				}
				r->configs[r->n_configs++] = &c[1];
			}
		} else {
			c[0].name = "broker.id";
			c[0].value = m->node_str;
			c[0].read_only = true;
			c[0].source =
			    FLUXO__CONFIG_SOURCE__SOURCE_STATIC_BROKER_CONFIG;
			r->configs[r->n_configs++] = &c[0];
		}
		dr->results = arena_alloc(a, sizeof(void *));
		dr->results[0] = r;
		dr->n_results = 1;
		resp->body_case = FLUXO__RESPONSE__BODY_DESCRIBE_CONFIGS;
		resp->describe_configs = dr;
		break;
	}
	case FLUXO__REQUEST__BODY_ALTER_CONFIGS: {
		const Fluxo__AlterConfigsResource *res =
		    req->alter_configs->resources[0];
		Fluxo__AlterConfigsResponse *ar = arena_alloc(a, sizeof(*ar));
		Fluxo__AlterConfigsResult *r = arena_alloc(a, sizeof(*r));
		struct mock_topic *t = find_topic(m, res->name);

		fluxo__alter_configs_response__init(ar);
		fluxo__alter_configs_result__init(r);
		r->type = res->type;
		r->name = res->name;
		if (!t)
			r->error =
			    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
		else if (res->n_configs > 0 &&
			 res->configs[0]->op ==
			     FLUXO__ALTER_CONFIG_OP__OP_SET &&
			 !req->alter_configs->validate_only) {
			snprintf(t->config_key, sizeof(t->config_key), "%s",
				 res->configs[0]->name);
			snprintf(t->config_value, sizeof(t->config_value), "%s",
				 res->configs[0]->value);
		}
		ar->results = arena_alloc(a, sizeof(void *));
		ar->results[0] = r;
		ar->n_results = 1;
		resp->body_case = FLUXO__RESPONSE__BODY_ALTER_CONFIGS;
		resp->alter_configs = ar;
		break;
	}
	case FLUXO__REQUEST__BODY_INIT_PRODUCER_ID: {
		Fluxo__InitProducerIdResponse *ir = arena_alloc(a, sizeof(*ir));

		fluxo__init_producer_id_response__init(ir);
		ir->producer_id = m->next_pid++;
		ir->producer_epoch = 0;
		resp->body_case = FLUXO__RESPONSE__BODY_INIT_PRODUCER_ID;
		resp->init_producer_id = ir;
		break;
	}
	default: {
		Fluxo__ApiVersionsResponse *av = arena_alloc(a, sizeof(*av));

		fluxo__api_versions_response__init(av);
		resp->body_case = FLUXO__RESPONSE__BODY_API_VERSIONS;
		resp->api_versions = av;
		if (req->body_case != FLUXO__REQUEST__BODY_API_VERSIONS)
			resp->error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		break;
	}
	}
}

/* ------------------------------------------------------------ controller */

static struct mock_move *find_move(struct mock_broker *m, const char *topic,
				   int32_t p)
{
	for (int i = 0; i < m->move_cnt; i++)
		if (strcmp(m->moves[i].topic, topic) == 0 &&
		    m->moves[i].partition == p)
			return &m->moves[i];
	return NULL;
}

static bool part_known(struct mock_broker *m, const char *topic, int32_t p)
{
	struct mock_topic *t = find_topic(m, topic);

	return t && p >= 0 && p < t->part_cnt;
}

static void h_elect(struct mock_broker *m, struct arena *a,
		    const Fluxo__ElectLeadersRequest *r,
		    Fluxo__ElectLeadersResponse *er)
{
	size_t n = 0;

	m->last_election_type = r->election_type;
	for (size_t i = 0; i < r->n_topic_partitions; i++)
		n += r->topic_partitions[i]->n_partitions;
	m->last_elect_partitions = (int)n;
	er->results = arena_alloc(a, (n + 1) * sizeof(void *));
	for (size_t i = 0; i < r->n_topic_partitions; i++) {
		const Fluxo__TopicPartitions *tp = r->topic_partitions[i];

		for (size_t j = 0; j < tp->n_partitions; j++) {
			Fluxo__ElectLeadersPartitionResult *pr =
			    arena_alloc(a, sizeof(*pr));
			int32_t p = tp->partitions[j];

			fluxo__elect_leaders_partition_result__init(pr);
			pr->topic = tp->topic;
			pr->partition = p;
			if (!part_known(m, tp->topic, p)) {
				pr->error =
				    FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
				pr->error_message = "No such partition.";
			} else if (r->election_type ==
				   FLUXO__ELECTION_TYPE__UNCLEAN) {
				pr->error =
				    FLUXO__ERROR_CODE__ELIGIBLE_LEADERS_NOT_AVAILABLE;
			} else if (p % 2) {
				pr->error =
				    FLUXO__ERROR_CODE__ELECTION_NOT_NEEDED;
			}
			er->results[er->n_results++] = pr;
		}
	}
}

static int alter_one(struct mock_broker *m,
		     const Fluxo__ReassignablePartition *rp)
{
	struct mock_move *mv = find_move(m, rp->topic, rp->partition);

	if (!part_known(m, rp->topic, rp->partition))
		return FLUXO__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
	if (rp->cancel || rp->n_replicas == 0) {
		if (!mv)
			return FLUXO__ERROR_CODE__NO_REASSIGNMENT_IN_PROGRESS;
		*mv = m->moves[--m->move_cnt];
		return 0;
	}
	if (rp->n_replicas > 8)
		return FLUXO__ERROR_CODE__INVALID_REPLICA_ASSIGNMENT;
	for (size_t i = 0; i < rp->n_replicas; i++)
		for (size_t j = 0; j < i; j++)
			if (rp->replicas[i] == rp->replicas[j])
				return FLUXO__ERROR_CODE__INVALID_REPLICA_ASSIGNMENT;
	if (!mv) {
		if (m->move_cnt == MOCK_MAX_MOVES)
			return FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
		mv = &m->moves[m->move_cnt++];
		snprintf(mv->topic, sizeof(mv->topic), "%s", rp->topic);
		mv->partition = rp->partition;
	}
	memcpy(mv->target, rp->replicas, rp->n_replicas * sizeof(int32_t));
	mv->n_target = (int)rp->n_replicas;
	return 0;
}

static void h_alter_reassign(struct mock_broker *m, struct arena *a,
			     const Fluxo__AlterPartitionReassignmentsRequest *r,
			     Fluxo__AlterPartitionReassignmentsResponse *ar)
{
	ar->results = arena_alloc(a, (r->n_partitions + 1) * sizeof(void *));
	for (size_t i = 0; i < r->n_partitions; i++) {
		Fluxo__ReassignmentResult *rr = arena_alloc(a, sizeof(*rr));

		fluxo__reassignment_result__init(rr);
		rr->topic = r->partitions[i]->topic;
		rr->partition = r->partitions[i]->partition;
		rr->error = alter_one(m, r->partitions[i]);
		ar->results[ar->n_results++] = rr;
	}
}

static bool move_listed(const Fluxo__ListPartitionReassignmentsRequest *r,
			const struct mock_move *mv)
{
	if (r->n_topic_partitions == 0)
		return true;
	for (size_t i = 0; i < r->n_topic_partitions; i++)
		for (size_t j = 0; j < r->topic_partitions[i]->n_partitions;
		     j++)
			if (strcmp(r->topic_partitions[i]->topic, mv->topic) ==
				0 &&
			    r->topic_partitions[i]->partitions[j] ==
				mv->partition)
				return true;
	return false;
}

static void h_list_reassign(struct mock_broker *m, struct arena *a,
			    const Fluxo__ListPartitionReassignmentsRequest *r,
			    Fluxo__ListPartitionReassignmentsResponse *lr)
{
	lr->reassignments =
	    arena_alloc(a, (size_t)(m->move_cnt + 1) * sizeof(void *));
	for (int i = 0; i < m->move_cnt; i++) {
		const struct mock_move *mv = &m->moves[i];
		Fluxo__OngoingReassignment *o = arena_alloc(a, sizeof(*o));
		bool keeps_1 = false;

		if (!move_listed(r, mv))
			continue;
		fluxo__ongoing_reassignment__init(o);
		o->topic = (char *)mv->topic;
		o->partition = mv->partition;
		o->replicas = arena_alloc(a, 9 * sizeof(int32_t));
		o->adding_replicas = arena_alloc(a, 8 * sizeof(int32_t));
		o->removing_replicas = arena_alloc(a, sizeof(int32_t));
		o->replicas[o->n_replicas++] = 1;
		for (int j = 0; j < mv->n_target; j++) {
			if (mv->target[j] == 1) {
				keeps_1 = true;
				continue;
			}
			o->replicas[o->n_replicas++] = mv->target[j];
			o->adding_replicas[o->n_adding_replicas++] =
			    mv->target[j];
		}
		if (!keeps_1)
			o->removing_replicas[o->n_removing_replicas++] = 1;
		lr->reassignments[lr->n_reassignments++] = o;
	}
}

/* The controller's APIs; false when req is not one of them. */
static bool h_controller(struct mock_broker *m, struct arena *a,
			 const Fluxo__Request *req, Fluxo__Response *resp)
{
	bool refuse = m->node_id != m->controller_id || m->not_controller > 0;

	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_ELECT_LEADERS: {
		Fluxo__ElectLeadersResponse *er = arena_alloc(a, sizeof(*er));

		m->elect_requests++;
		fluxo__elect_leaders_response__init(er);
		if (refuse)
			er->error = FLUXO__ERROR_CODE__NOT_CONTROLLER;
		else
			h_elect(m, a, req->elect_leaders, er);
		resp->body_case = FLUXO__RESPONSE__BODY_ELECT_LEADERS;
		resp->elect_leaders = er;
		break;
	}
	case FLUXO__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS: {
		Fluxo__AlterPartitionReassignmentsResponse *ar =
		    arena_alloc(a, sizeof(*ar));

		m->alter_reassign_requests++;
		fluxo__alter_partition_reassignments_response__init(ar);
		if (refuse)
			ar->error = FLUXO__ERROR_CODE__NOT_CONTROLLER;
		else if (!m->reassign_unsupported)
			h_alter_reassign(
			    m, a, req->alter_partition_reassignments, ar);
		resp->body_case =
		    FLUXO__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS;
		resp->alter_partition_reassignments = ar;
		break;
	}
	case FLUXO__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS: {
		Fluxo__ListPartitionReassignmentsResponse *lr =
		    arena_alloc(a, sizeof(*lr));

		m->list_reassign_requests++;
		fluxo__list_partition_reassignments_response__init(lr);
		if (refuse)
			lr->error = FLUXO__ERROR_CODE__NOT_CONTROLLER;
		else if (!m->reassign_unsupported)
			h_list_reassign(m, a, req->list_partition_reassignments,
					lr);
		resp->body_case =
		    FLUXO__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS;
		resp->list_partition_reassignments = lr;
		break;
	}
	default:
		return false;
	}
	if (refuse && m->not_controller > 0)
		m->not_controller--;
	/* What fluxo's controller says before it implements an API. */
	if (!refuse && m->reassign_unsupported &&
	    req->body_case != FLUXO__REQUEST__BODY_ELECT_LEADERS) {
		resp->body_case = FLUXO__RESPONSE__BODY__NOT_SET;
		resp->error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		resp->error_message = "Not a controller request, or its body "
				      "does not match its api.";
	}
	return true;
}

/* ------------------------------------------------------------ the loop */

/* Answers (or parks) one request. Locked. */
static void serve_req(struct mock_broker *m, struct mconn *c,
		      Fluxo__Request *req, const uint8_t *payload, size_t plen,
		      bool *keep)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	struct arena a;
	struct buf out = BUF_INIT;
	bool send = true;

	arena_init(&a, 0);
	*keep = false;
	resp.api = req->api;
	resp.correlation_id = req->correlation_id;
	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_METADATA:
		h_metadata(m, &a, req->metadata, &resp);
		break;
	case FLUXO__REQUEST__BODY_PRODUCE:
		if (m->produce_delay_ms)
			usleep((useconds_t)m->produce_delay_ms * 1000);
		send = h_produce(m, &a, req->produce, payload, plen, &resp);
		if (m->close_after_produce) {
			m->close_after_produce = false;
			close(c->fd);
			c->fd = -1;
			send = false;
			if (m->gap_after_close > 0)
				append_gap(m, req->produce);
		}
		break;
	case FLUXO__REQUEST__BODY_FETCH:
		m->fetch_requests++;
		if (h_fetch(m, &a, req->fetch, &resp, &out) == 0 &&
		    !c->pending && req->fetch->max_wait_ms > 0) {
			c->pending = req;
			c->pending_deadline =
			    clock_mono_ms() + req->fetch->max_wait_ms;
			*keep = true;
			send = false;
		}
		break;
	case FLUXO__REQUEST__BODY_LIST_OFFSETS:
		h_list_offsets(m, &a, req->list_offsets, &resp);
		break;
	default:
		if (!h_controller(m, &a, req, &resp))
			h_admin(m, &a, req, &resp);
		break;
	}
	if (send && c->fd >= 0)
		respond(c, &resp, &out);
	buf_free(&out);
	arena_destroy(&a);
}

/* Re-checks a parked Fetch; answers it when data came or time is up. */
static void retry_pending(struct mock_broker *m, struct mconn *c)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	struct arena a;
	struct buf out = BUF_INIT;

	arena_init(&a, 0);
	resp.api = c->pending->api;
	resp.correlation_id = c->pending->correlation_id;
	if (h_fetch(m, &a, c->pending->fetch, &resp, &out) > 0 ||
	    clock_mono_ms() >= c->pending_deadline) {
		respond(c, &resp, &out);
		fluxo__request__free_unpacked(c->pending, NULL);
		c->pending = NULL;
	}
	buf_free(&out);
	arena_destroy(&a);
}

static void process_input(struct mock_broker *m, struct mconn *c)
{
	struct frame_info fi;
	size_t off = 0;

	while (!c->pending && c->fd >= 0 &&
	       frame_parse_prefix(c->in.data + off, c->in.len - off, 1 << 30,
				  &fi) == 0 &&
	       c->in.len - off >= fi.total) {
		Fluxo__Request *req;
		bool keep = false;

		req = fluxo__request__unpack(NULL, fi.head_len,
					     c->in.data + off + 8);
		if (req && !m->silent)
			serve_req(m, c, req, c->in.data + off + 8 + fi.head_len,
				  fi.payload_len, &keep);
		if (req && !keep)
			fluxo__request__free_unpacked(req, NULL);
		off += fi.total;
	}
	buf_consume(&c->in, off);
}

static void conn_close(struct mconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
	if (c->pending)
		fluxo__request__free_unpacked(c->pending, NULL);
	c->pending = NULL;
}

static void *mock_main(void *arg)
{
	struct mock_broker *m = arg;
	struct mconn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 2];

	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1, conns[i].pending = NULL,
		conns[i].in = (struct buf)BUF_INIT,
		conns[i].out = (struct buf)BUF_INIT;
	for (;;) {
		int n = 2;

		pthread_mutex_lock(&m->lock);
		if (!m->running) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		pthread_mutex_unlock(&m->lock);
		pfd[0].fd = m->listen_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = m->wake[0];
		pfd[1].events = POLLIN;
		for (int i = 0; i < MAX_CONNS; i++) {
			pfd[n].fd = conns[i].fd;
			pfd[n].events =
			    POLLIN | (conns[i].out.len ? POLLOUT : 0);
			n++;
		}
		poll(pfd, (nfds_t)n, 10);
		if (pfd[1].revents) {
			char b[64];

			while (read(m->wake[0], b, sizeof(b)) > 0)
				;
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept(m->listen_fd, NULL, NULL);

			for (int i = 0; fd >= 0 && i < MAX_CONNS; i++)
				if (conns[i].fd < 0) {
					net_set_nonblock(fd, 1);
					net_set_nodelay(fd);
					conns[i].fd = fd;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
		}
		pthread_mutex_lock(&m->lock);
		for (int i = 0; i < MAX_CONNS; i++) {
			struct mconn *c = &conns[i];
			short re = pfd[i + 2].revents;

			if (c->fd < 0)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r;

				buf_reserve(&c->in, 65536);
				r = read(c->fd, c->in.data + c->in.len,
					 c->in.cap - c->in.len);
				if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
					conn_close(c);
					continue;
				}
				if (r > 0)
					c->in.len += (size_t)r;
			}
			if (c->pending)
				retry_pending(m, c);
			process_input(m, c);
			if (c->fd < 0) {
				conn_close(c);
				continue;
			}
			while (c->out.len) {
				ssize_t w =
				    write(c->fd, c->out.data, c->out.len);

				if (w <= 0)
					break;
				buf_consume(&c->out, (size_t)w);
			}
		}
		pthread_mutex_unlock(&m->lock);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&conns[i]);
	return NULL;
}

int mock_start(struct mock_broker *m)
{
	char err[256];

	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->next_pid = 1000;
	m->node_id = 1;
	m->controller_id = 1;
	snprintf(m->node_str, sizeof(m->node_str), "1");
	m->listen_fd = net_listen("127.0.0.1", 0, 16, err, sizeof(err));
	if (m->listen_fd < 0)
		return -1;
	m->port = net_local_port(m->listen_fd);
	if (pipe2(m->wake, O_NONBLOCK) < 0)
		return -1;
	m->running = true;
	return pthread_create(&m->thread, NULL, mock_main, m) ? -1 : 0;
}

void mock_stop(struct mock_broker *m)
{
	pthread_mutex_lock(&m->lock);
	m->running = false;
	pthread_mutex_unlock(&m->lock);
	if (write(m->wake[1], "x", 1) < 0)
		(void)0;
	pthread_join(m->thread, NULL);
	close(m->listen_fd);
	close(m->wake[0]);
	close(m->wake[1]);
	for (int i = 0; i < m->topic_cnt; i++)
		for (int p = 0; p < MOCK_MAX_PARTS; p++)
			buf_free(&m->topics[i].parts[p].log);
	pthread_mutex_destroy(&m->lock);
}
