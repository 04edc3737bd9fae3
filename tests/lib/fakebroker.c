/*
 * fakebroker.c - a recording, always-agreeing broker for controller tests.
 *
 * One thread polls the listening socket and the accepted connections;
 * each readable connection has one whole frame read (bounded by a 5 s
 * deadline), decoded, recorded and answered before the next. State is a
 * map from "topic/partition" to the last LeaderAndIsr and UpdateMetadata
 * state seen, under one mutex.
 */
#include "config.h"
#include "fakebroker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/net.h"
#include "common/rpc.h"
#include "coordinator/registration.h"
#include "coordinator/strmap.h"
#include "fluxo.pb-c.h"

#define MAX_CONNS 16

struct fb_entry {
	char key[300];
	struct fb_pstate lai, um;
	bool has_lai, has_um;
	int stops, stops_del;
};

struct fakebroker {
	int32_t id;
	zk_session_t *zs;
	registration_t *reg;
	int64_t epoch;
	int lfd;
	int port;
	int conns[MAX_CONNS];
	pthread_t thread;
	volatile bool stop;

	pthread_mutex_t mu;
	struct strmap parts;
	int counts[64];
	int lai_total;
	int um_live;
	int um_full;
	int bad_epochs;
	int32_t max_ctl_epoch;
	int64_t last_ms;
	int stop_error;
	char **deleted;
	int n_deleted;
};

static struct fb_entry *entry(fakebroker_t *fb, const char *topic, int32_t p)
{
	char key[300];
	struct fb_entry *e;

	snprintf(key, sizeof(key), "%s/%d", topic, p);
	e = strmap_get(&fb->parts, key);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->key, key, sizeof(key));
	strmap_put(&fb->parts, e->key, e);
	return e;
}

static void copy_ids(int32_t *dst, int *n, const int32_t *src, size_t len)
{
	*n = len > 16 ? 16 : (int)len;
	if (*n > 0)
		memcpy(dst, src, (size_t)*n * sizeof(int32_t));
}

static void record_lai(fakebroker_t *fb, const Fluxo__LeaderAndIsrRequest *r)
{
	if (r->broker_epoch != registration_epoch(fb->reg))
		fb->bad_epochs++;
	for (size_t i = 0; i < r->n_partitions; i++) {
		const Fluxo__LeaderAndIsrPartitionState *s = r->partitions[i];
		struct fb_entry *e = entry(fb, s->topic, s->partition);

		fb->lai_total++;
		if (!e)
			continue;
		e->has_lai = true;
		e->lai.leader = s->leader;
		e->lai.leader_epoch = s->leader_epoch;
		e->lai.partition_epoch = s->partition_epoch;
		e->lai.controller_epoch = s->controller_epoch;
		e->lai.is_new = s->is_new;
		copy_ids(e->lai.isr, &e->lai.n_isr, s->isr, s->n_isr);
		copy_ids(e->lai.replicas, &e->lai.n_replicas, s->replicas,
			 s->n_replicas);
		copy_ids(e->lai.adding, &e->lai.n_adding, s->adding_replicas,
			 s->n_adding_replicas);
		copy_ids(e->lai.removing, &e->lai.n_removing,
			 s->removing_replicas, s->n_removing_replicas);
	}
}

static void record_um(fakebroker_t *fb, const Fluxo__UpdateMetadataRequest *r)
{
	if (r->broker_epoch != registration_epoch(fb->reg))
		fb->bad_epochs++;
	if (r->full) {
		fb->um_full++;
		strmap_foreach(&fb->parts,
			       i)((struct fb_entry *)fb->parts.v[i].val)
		    ->has_um = false;
	}
	fb->um_live = (int)r->n_live_brokers;
	for (size_t i = 0; i < r->n_partitions; i++) {
		const Fluxo__UpdateMetadataPartitionState *s = r->partitions[i];
		struct fb_entry *e = entry(fb, s->topic, s->partition);

		if (!e)
			continue;
		e->has_um = true;
		e->um.leader = s->leader;
		e->um.leader_epoch = s->leader_epoch;
		e->um.partition_epoch = s->partition_epoch;
		e->um.controller_epoch = s->controller_epoch;
		copy_ids(e->um.isr, &e->um.n_isr, s->isr, s->n_isr);
		copy_ids(e->um.replicas, &e->um.n_replicas, s->replicas,
			 s->n_replicas);
		copy_ids(e->um.offline, &e->um.n_offline, s->offline_replicas,
			 s->n_offline_replicas);
	}
	for (size_t i = 0; i < r->n_deleted_topics; i++) {
		char **v = realloc(fb->deleted,
				   ((size_t)fb->n_deleted + 1) * sizeof(*v));

		if (!v)
			break;
		fb->deleted = v;
		fb->deleted[fb->n_deleted++] = strdup(r->deleted_topics[i]);
		strmap_foreach(&fb->parts, k)
		{
			struct fb_entry *e = fb->parts.v[k].val;
			size_t tl = strlen(r->deleted_topics[i]);

			if (strncmp(e->key, r->deleted_topics[i], tl) == 0 &&
			    e->key[tl] == '/')
				e->has_um = false;
		}
	}
}

/* Handles one request; fills resp (arena-allocated parts). */
static void serve(fakebroker_t *fb, const Fluxo__Request *req,
		  Fluxo__Response *resp, struct arena *a)
{
	pthread_mutex_lock(&fb->mu);
	if (req->api >= 0 && req->api < 64)
		fb->counts[req->api]++;
	fb->last_ms = clock_mono_ms();
	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_LEADER_AND_ISR: {
		Fluxo__LeaderAndIsrResponse *r = arena_alloc(a, sizeof(*r));

		if (req->leader_and_isr->controller_epoch > fb->max_ctl_epoch)
			fb->max_ctl_epoch =
			    req->leader_and_isr->controller_epoch;
		record_lai(fb, req->leader_and_isr);
		fluxo__leader_and_isr_response__init(r);
		resp->body_case = FLUXO__RESPONSE__BODY_LEADER_AND_ISR;
		resp->leader_and_isr = r;
		break;
	}
	case FLUXO__REQUEST__BODY_UPDATE_METADATA: {
		Fluxo__UpdateMetadataResponse *r = arena_alloc(a, sizeof(*r));

		if (req->update_metadata->controller_epoch > fb->max_ctl_epoch)
			fb->max_ctl_epoch =
			    req->update_metadata->controller_epoch;
		record_um(fb, req->update_metadata);
		fluxo__update_metadata_response__init(r);
		resp->body_case = FLUXO__RESPONSE__BODY_UPDATE_METADATA;
		resp->update_metadata = r;
		break;
	}
	case FLUXO__REQUEST__BODY_STOP_REPLICA: {
		const Fluxo__StopReplicaRequest *sr = req->stop_replica;
		Fluxo__StopReplicaResponse *r = arena_alloc(a, sizeof(*r));

		fluxo__stop_replica_response__init(r);
		if (sr->broker_epoch != registration_epoch(fb->reg))
			fb->bad_epochs++;
		r->partitions =
		    arena_alloc(a, (sr->n_partitions + 1) * sizeof(void *));
		for (size_t i = 0; i < sr->n_partitions; i++) {
			const Fluxo__StopReplicaPartition *sp =
			    sr->partitions[i];
			struct fb_entry *e =
			    entry(fb, sp->topic, sp->partition);
			Fluxo__PartitionError *pe = arena_alloc(a, sizeof(*pe));

			if (e) {
				if (sp->delete_partition)
					e->stops_del++;
				else
					e->stops++;
			}
			fluxo__partition_error__init(pe);
			pe->topic = sp->topic;
			pe->partition = sp->partition;
			pe->error = fb->stop_error;
			r->partitions[r->n_partitions++] = pe;
		}
		resp->body_case = FLUXO__RESPONSE__BODY_STOP_REPLICA;
		resp->stop_replica = r;
		break;
	}
	default:
		resp->error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		break;
	}
	pthread_mutex_unlock(&fb->mu);
}

/* Reads, answers one frame. Returns false when the connection is done. */
static bool handle_conn(fakebroker_t *fb, int fd)
{
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	struct buf in = BUF_INIT;
	struct frame_info fi;
	Fluxo__Request *req;
	struct arena a;
	bool ok = false;

	if (rpc_recv(fd, 256 << 20, clock_mono_ms() + 5000, &in, &fi) < 0)
		goto out;
	req = fluxo__request__unpack(NULL, fi.head_len, in.data);
	if (!req)
		goto out;
	arena_init(&a, 16 * 1024);
	resp.api = req->api;
	resp.correlation_id = req->correlation_id;
	serve(fb, req, &resp, &a);
	ok = rpc_send(fd, &resp.base, NULL, 0, clock_mono_ms() + 5000) == 0;
	arena_destroy(&a);
	fluxo__request__free_unpacked(req, NULL);
out:
	buf_free(&in);
	return ok;
}

static void *fb_thread(void *arg)
{
	fakebroker_t *fb = arg;

	while (!fb->stop) {
		struct pollfd pfd[MAX_CONNS + 1];
		int n = 0, map[MAX_CONNS + 1];

		pfd[n].fd = fb->lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++)
			if (fb->conns[i] >= 0) {
				pfd[n].fd = fb->conns[i];
				pfd[n].events = POLLIN;
				map[n++] = i;
			}
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int c = accept(fb->lfd, NULL, NULL);

			if (c >= 0) {
				net_set_nonblock(c, 0);
				for (int i = 0; i < MAX_CONNS; i++)
					if (fb->conns[i] < 0) {
						fb->conns[i] = c;
						c = -1;
						break;
					}
				if (c >= 0)
					close(c);
			}
		}
		for (int k = 1; k < n; k++) {
			int i = map[k];

			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!handle_conn(fb, fb->conns[i])) {
				close(fb->conns[i]);
				fb->conns[i] = -1;
			}
		}
	}
	return NULL;
}

fakebroker_t *fakebroker_start(const char *connect, int32_t id,
			       const char *rack)
{
	struct zk_config zc = {connect, 4000, 5000};
	fakebroker_t *fb = calloc(1, sizeof(*fb));
	struct zk_endpoint ep = {"PLAINTEXT", "127.0.0.1", 0, "PLAINTEXT"};
	struct zk_broker info = {.id = id,
				 .jmx_port = -1,
				 .endpoints = &ep,
				 .n_endpoints = 1,
				 .rack = (char *)rack};
	char errstr[256];

	if (!fb)
		return NULL;
	fb->id = id;
	fb->max_ctl_epoch = -1;
	pthread_mutex_init(&fb->mu, NULL);
	strmap_init(&fb->parts);
	for (int i = 0; i < MAX_CONNS; i++)
		fb->conns[i] = -1;
	fb->lfd = net_listen("127.0.0.1", 0, 16, errstr, sizeof(errstr));
	if (fb->lfd < 0)
		goto err;
	errstr[0] = '\0';
	fb->port = net_local_port(fb->lfd);
	ep.port = fb->port;
	/* Registered before serving: requests queue in the backlog. */
	fb->zs = zk_session_open(&zc, errstr, sizeof(errstr));
	if (!fb->zs)
		goto err_reg;
	fb->reg = registration_new(fb->zs, &info, NULL, NULL);
	if (!fb->reg || registration_register(fb->reg, &fb->epoch, errstr,
					      sizeof(errstr)) < 0)
		goto err_reg;
	if (pthread_create(&fb->thread, NULL, fb_thread, fb) != 0)
		goto err_reg;
	return fb;
err_reg:
	fprintf(stderr, "fakebroker %d: %s\n", id, errstr);
	registration_destroy(fb->reg);
	zk_session_close(fb->zs);
	close(fb->lfd);
err:
	free(fb);
	return NULL;
}

void fakebroker_stop(fakebroker_t *fb)
{
	if (!fb)
		return;
	registration_destroy(fb->reg);
	zk_session_close(fb->zs);
	fb->stop = true;
	pthread_join(fb->thread, NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		if (fb->conns[i] >= 0)
			close(fb->conns[i]);
	close(fb->lfd);
	strmap_foreach(&fb->parts, i) free(fb->parts.v[i].val);
	strmap_free(&fb->parts);
	for (int i = 0; i < fb->n_deleted; i++)
		free(fb->deleted[i]);
	free(fb->deleted);
	pthread_mutex_destroy(&fb->mu);
	free(fb);
}

int32_t fakebroker_id(fakebroker_t *fb)
{
	return fb->id;
}

int64_t fakebroker_epoch(fakebroker_t *fb)
{
	return registration_epoch(fb->reg);
}

zk_session_t *fakebroker_session(fakebroker_t *fb)
{
	return fb->zs;
}

#define LOCKED(expr)                                                           \
	do {                                                                   \
		pthread_mutex_lock(&fb->mu);                                   \
		expr;                                                          \
		pthread_mutex_unlock(&fb->mu);                                 \
	} while (0)

int fakebroker_count(fakebroker_t *fb, int api)
{
	int n = 0;

	if (api >= 0 && api < 64)
		LOCKED(n = fb->counts[api]);
	return n;
}

int fakebroker_lai_total(fakebroker_t *fb)
{
	int n;

	LOCKED(n = fb->lai_total);
	return n;
}

static bool lookup(fakebroker_t *fb, const char *topic, int32_t p, bool lai,
		   struct fb_pstate *out)
{
	char key[300];
	struct fb_entry *e;
	bool found = false;

	snprintf(key, sizeof(key), "%s/%d", topic, p);
	pthread_mutex_lock(&fb->mu);
	e = strmap_get(&fb->parts, key);
	if (e && (lai ? e->has_lai : e->has_um)) {
		*out = lai ? e->lai : e->um;
		found = true;
	}
	pthread_mutex_unlock(&fb->mu);
	return found;
}

bool fakebroker_lai(fakebroker_t *fb, const char *topic, int32_t p,
		    struct fb_pstate *out)
{
	return lookup(fb, topic, p, true, out);
}

bool fakebroker_um(fakebroker_t *fb, const char *topic, int32_t p,
		   struct fb_pstate *out)
{
	return lookup(fb, topic, p, false, out);
}

int fakebroker_um_size(fakebroker_t *fb)
{
	int n = 0;

	pthread_mutex_lock(&fb->mu);
	strmap_foreach(&fb->parts, i) n +=
	    ((struct fb_entry *)fb->parts.v[i].val)->has_um;
	pthread_mutex_unlock(&fb->mu);
	return n;
}

int fakebroker_um_live(fakebroker_t *fb)
{
	int n;

	LOCKED(n = fb->um_live);
	return n;
}

int fakebroker_um_full_count(fakebroker_t *fb)
{
	int n;

	LOCKED(n = fb->um_full);
	return n;
}

int fakebroker_stops(fakebroker_t *fb, const char *topic, int32_t p, bool del)
{
	char key[300];
	struct fb_entry *e;
	int n = 0;

	snprintf(key, sizeof(key), "%s/%d", topic, p);
	pthread_mutex_lock(&fb->mu);
	e = strmap_get(&fb->parts, key);
	if (e)
		n = del ? e->stops_del : e->stops;
	pthread_mutex_unlock(&fb->mu);
	return n;
}

bool fakebroker_deleted(fakebroker_t *fb, const char *topic)
{
	bool found = false;

	pthread_mutex_lock(&fb->mu);
	for (int i = 0; i < fb->n_deleted; i++)
		if (fb->deleted[i] && strcmp(fb->deleted[i], topic) == 0)
			found = true;
	pthread_mutex_unlock(&fb->mu);
	return found;
}

int fakebroker_bad_epochs(fakebroker_t *fb)
{
	int n;

	LOCKED(n = fb->bad_epochs);
	return n;
}

int32_t fakebroker_controller_epoch(fakebroker_t *fb)
{
	int32_t e;

	LOCKED(e = fb->max_ctl_epoch);
	return e;
}

int64_t fakebroker_last_request_ms(fakebroker_t *fb)
{
	int64_t t;

	LOCKED(t = fb->last_ms);
	return t;
}

void fakebroker_set_stop_error(fakebroker_t *fb, int error)
{
	LOCKED(fb->stop_error = error);
}
