/*
 * broker_metrics.c - what a broker exposes on metrics.listener.
 *
 * Hot-path series (request counts and latencies per API, bytes and
 * records in and out per topic) are registered up front or on first use
 * and updated lock-free. Everything derived from live state (per-partition
 * log size and offsets, under-replicated and offline partitions, follower
 * lag, controller role, ZooKeeper session state) is computed at scrape
 * time by collectors, so nothing on the data path pays for it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/plog.h"
#include "broker_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "coordinator/controller.h"
#include "coordinator/zk.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "metrics.h"
#include "partition.h"
#include "replica/isr.h"
#include "server.h"
#include "storage_glue.h"

#define MAX_API 64

struct metrics_state {
	struct metrics *m;
	struct metrics_counter *requests[MAX_API];
	struct metrics_histogram *latency[MAX_API];
};

static struct metrics_state *ms_of(struct broker *b)
{
	return (struct metrics_state *)b->metrics;
}

void broker_observe_request(struct broker *b, int api, int64_t latency_us)
{
	struct metrics_state *ms = ms_of(b);

	if (!ms || api < 0 || api >= MAX_API)
		return;
	metrics_counter_inc(ms->requests[api]);
	metrics_histogram_observe(ms->latency[api], (double)latency_us / 1e6);
}

void broker_topic_metrics(struct broker *b, const char *topic,
			  struct topic_metrics *tm)
{
	struct metrics_state *ms = ms_of(b);
	char labels[512];

	memset(tm, 0, sizeof(*tm));
	if (!ms)
		return;
	snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
	tm->bytes_in = metrics_add_counter(ms->m, "fluxo_topic_bytes_in_total",
					   "Bytes of record batches produced to a topic",
					   labels);
	tm->records_in = metrics_add_counter(
		ms->m, "fluxo_topic_records_in_total",
		"Records produced to a topic", labels);
	tm->bytes_out = metrics_add_counter(
		ms->m, "fluxo_topic_bytes_out_total",
		"Bytes of record batches sent to consumers of a topic", labels);
	tm->records_out = metrics_add_counter(
		ms->m, "fluxo_topic_records_out_total",
		"Records sent to consumers of a topic (whole batches)", labels);
	tm->replication_bytes_out = metrics_add_counter(
		ms->m, "fluxo_topic_replication_bytes_out_total",
		"Bytes of a topic sent to followers", labels);
}

static void collect_partitions(void *arg, struct metrics_writer *w)
{
	struct broker *b = arg;
	struct partition **v = NULL;
	int64_t now = clock_mono_ms();
	int n, under = 0, at_min = 0, leaders = 0;

	if (!b->rm)
		return;
	n = rm_list(b->rm, &v);
	for (int i = 0; i < n; i++) {
		struct partition *p = v[i];
		char part[16];
		int role, n_isr, n_rep, min_isr;

		snprintf(part, sizeof(part), "%d", p->id);
		pthread_mutex_lock(&p->lock);
		role = p->role;
		n_isr = p->n_isr;
		n_rep = p->n_replicas;
		min_isr = p->conf.min_insync_replicas;
		if (role == ROLE_LEADER) {
			for (int j = 0; j < p->n_followers; j++) {
				char rid[16];
				int64_t lag = plog_leo(p->log) -
					      (p->followers[j].leo < 0
						       ? 0
						       : p->followers[j].leo);

				snprintf(rid, sizeof(rid), "%d",
					 p->followers[j].id);
				metrics_write(w, METRICS_GAUGE,
					      "fluxo_follower_lag_records",
					      "Records a follower is behind the leader",
					      (double)lag, "topic", p->topic,
					      "partition", part, "replica", rid,
					      NULL);
				metrics_write(
					w, METRICS_GAUGE,
					"fluxo_follower_caught_up_age_seconds",
					"Seconds since a follower last caught up",
					(double)replica_lag_of(
						p, p->followers[j].id, now) /
						1000.0,
					"topic", p->topic, "partition", part,
					"replica", rid, NULL);
			}
		}
		pthread_mutex_unlock(&p->lock);
		if (role == ROLE_LEADER) {
			leaders++;
			if (n_isr < n_rep)
				under++;
			if (n_isr == min_isr && n_rep > 1)
				at_min++;
		}
		metrics_write(w, METRICS_GAUGE, "fluxo_log_size_bytes",
			      "Bytes of a partition's log on disk",
			      (double)plog_size_bytes(p->log), "topic",
			      p->topic, "partition", part, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_segments",
			      "Segment files of a partition",
			      (double)plog_segment_count(p->log), "topic",
			      p->topic, "partition", part, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_end_offset",
			      "Next offset to be written",
			      (double)plog_leo(p->log), "topic", p->topic,
			      "partition", part, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_start_offset",
			      "First offset retained",
			      (double)plog_log_start(p->log), "topic",
			      p->topic, "partition", part, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_high_watermark",
			      "Offset below which records are committed",
			      (double)plog_hw(p->log), "topic", p->topic,
			      "partition", part, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_partition_is_leader",
			      "1 when this broker leads the partition",
			      role == ROLE_LEADER ? 1 : 0, "topic", p->topic,
			      "partition", part, NULL);
		partition_unref(p);
	}
	free(v);
	metrics_write(w, METRICS_GAUGE, "fluxo_under_replicated_partitions",
		      "Partitions led here whose ISR is smaller than their replica set",
		      under, NULL);
	metrics_write(w, METRICS_GAUGE, "fluxo_at_min_isr_partitions",
		      "Partitions led here whose ISR is at min.insync.replicas",
		      at_min, NULL);
	metrics_write(w, METRICS_GAUGE, "fluxo_leader_partitions",
		      "Partitions led by this broker", leaders, NULL);
	metrics_write(w, METRICS_GAUGE, "fluxo_hosted_partitions",
		      "Partition replicas hosted by this broker", n, NULL);
}

static void collect_broker(void *arg, struct metrics_writer *w)
{
	struct broker *b = arg;
	struct md_snapshot *s;
	int64_t shrinks = 0, expands = 0;
	int offline = 0;

	if (b->srv)
		metrics_write(w, METRICS_GAUGE, "fluxo_connections",
			      "Open client connections",
			      (double)server_connection_count(b->srv), NULL);
	if (b->zk)
		metrics_write(w, METRICS_GAUGE, "fluxo_zookeeper_connected",
			      "1 while the ZooKeeper session is connected",
			      zk_session_connected(b->zk) ? 1 : 0, NULL);
	if (b->ctl) {
		bool active = controller_is_active(b->ctl);

		metrics_write(w, METRICS_COUNTER, "fluxo_leader_elections_total",
			      "Leader changes made by this broker as controller",
			      (double)controller_leader_elections(b->ctl),
			      NULL);
		metrics_write(w, METRICS_COUNTER,
			      "fluxo_unclean_leader_elections_total",
			      "Leaders chosen outside the ISR by this broker as controller",
			      (double)controller_unclean_elections(b->ctl),
			      NULL);

		metrics_write(w, METRICS_GAUGE, "fluxo_active_controller",
			      "1 on the broker that is the active controller",
			      active ? 1 : 0, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_controller_epoch",
			      "Epoch of the active controller (as this broker knows it)",
			      md_cache_controller_epoch(b->md), NULL);
	}
	if (b->md) {
		s = md_cache_acquire(b->md);
		for (int i = 0; i < s->n_topics; i++)
			for (int j = 0; j < s->topics[i]->n_parts; j++)
				if (s->topics[i]->parts[j].leader < 0)
					offline++;
		md_snapshot_release(s);
		metrics_write(w, METRICS_GAUGE, "fluxo_offline_partitions",
			      "Partitions without a leader in the cluster",
			      offline, NULL);
	}
	isr_mgr_counts(b->isrm, &shrinks, &expands);
	metrics_write(w, METRICS_COUNTER, "fluxo_isr_shrinks_total",
		      "ISR shrinks proposed by this broker as leader",
		      (double)shrinks, NULL);
	metrics_write(w, METRICS_COUNTER, "fluxo_isr_expands_total",
		      "ISR expansions proposed by this broker as leader",
		      (double)expands, NULL);
	metrics_write(w, METRICS_GAUGE, "fluxo_uptime_seconds",
		      "Seconds since the broker started",
		      (double)(clock_wall_ms() - b->start_ms) / 1000.0, NULL);
}

int metrics_glue_start(struct broker *b, char *errstr, size_t errstr_size)
{
	struct metrics_state *ms = calloc(1, sizeof(*ms));

	if (!ms) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	ms->m = metrics_new();
	if (!ms->m) {
		free(ms);
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	for (int api = 0; api < MAX_API; api++) {
		const char *name = broker_api_name(api);
		char labels[96];

		if (strcmp(name, "Unknown") == 0)
			continue;
		snprintf(labels, sizeof(labels), "api=\"%s\"", name);
		ms->requests[api] = metrics_add_counter(
			ms->m, "fluxo_requests_total",
			"Requests answered, by API", labels);
		ms->latency[api] = metrics_add_histogram(
			ms->m, "fluxo_request_latency_seconds",
			"Time from a request's arrival to its answer, by API",
			labels, metrics_latency_buckets,
			METRICS_LATENCY_NBUCKETS);
	}
	metrics_add_collector(ms->m, collect_broker, b);
	metrics_add_collector(ms->m, collect_partitions, b);
	b->metrics = ms;
	if (b->conf.metrics_listener && *b->conf.metrics_listener) {
		if (metrics_serve(ms->m, b->conf.metrics_listener, errstr,
				  errstr_size) < 0)
			return ERR_IO;
		log_info("metrics", "serving Prometheus metrics at %s/metrics",
			 b->conf.metrics_listener);
	}
	return 0;
}

void metrics_glue_stop_serving(struct broker *b)
{
	struct metrics_state *ms = ms_of(b);

	if (ms)
		metrics_stop(ms->m);
}

void metrics_glue_stop(struct broker *b)
{
	struct metrics_state *ms = ms_of(b);

	if (!ms)
		return;
	metrics_stop(ms->m);
	b->metrics = NULL;
	metrics_destroy(ms->m);
	free(ms);
}
