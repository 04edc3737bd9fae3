/*
 * controller_glue.c - the broker's side of the controller: start and
 * stop, requests for the controller, and controlled shutdown.
 *
 * Controlled shutdown (SIGTERM): the broker asks the active controller,
 * over the network like any other broker would, to move leadership of
 * every partition it leads to another in-sync replica. The controller
 * answers with the partitions still led here; the broker retries until
 * none remain or controlled.shutdown.max.retries is spent, then stops.
 * This runs while the broker still serves, so producers follow the new
 * leaders without a failed request.
 */
#include "config.h"
#include "controller_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "common/arena.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc.h"
#include "coordinator/controller.h"
#include "metadata_cache.h"

int controller_glue_start(struct broker *b, char *errstr, size_t errstr_size)
{
	struct controller_config cc;

	controller_config_defaults(&cc);
	cc.broker_id = b->conf.broker_id;
	cc.num_partitions = b->conf.num_partitions;
	cc.default_replication_factor = b->conf.default_replication_factor;
	cc.delete_topic_enable = b->conf.delete_topic_enable;
	cc.unclean_leader_election_enable =
		b->conf.unclean_leader_election_enable;
	cc.auto_leader_rebalance_enable = b->conf.auto_leader_rebalance_enable;
	cc.leader_imbalance_check_interval_seconds =
		(int32_t)b->conf.leader_imbalance_check_interval_seconds;
	cc.leader_imbalance_per_broker_percentage =
		b->conf.leader_imbalance_per_broker_percentage;
	cc.controller_socket_timeout_ms = b->conf.controller_socket_timeout_ms;
	cc.inter_broker_listener_name = b->conf.inter_broker_listener_name;
	cc.max_response_bytes = (uint32_t)b->conf.socket_request_max_bytes;
	b->ctl = controller_start(b->zk, &cc, errstr, errstr_size);
	return b->ctl ? 0 : ERR_ZK;
}

void controller_glue_stop(struct broker *b)
{
	controller_stop(b->ctl);
	b->ctl = NULL;
}

struct submit_ctx {
	void (*done)(void *arg, Fluxo__Response *resp);
	void *arg;
};

static void on_done(void *arg, const Fluxo__Response *resp)
{
	struct submit_ctx *sc = arg;
	Fluxo__Response copy = *resp;

	sc->done(sc->arg, &copy);
	free(sc);
}

void controller_glue_submit(struct broker *b, const uint8_t *head,
			    size_t head_len,
			    void (*done)(void *arg, Fluxo__Response *resp),
			    void *arg)
{
	struct submit_ctx *sc = malloc(sizeof(*sc));

	if (!sc || !b->ctl) {
		Fluxo__Response resp = FLUXO__RESPONSE__INIT;

		free(sc);
		resp.error = FLUXO__ERROR_CODE__NOT_CONTROLLER;
		done(arg, &resp);
		return;
	}
	sc->done = done;
	sc->arg = arg;
	if (controller_submit(b->ctl, head, head_len, on_done, sc) < 0) {
		Fluxo__Response resp = FLUXO__RESPONSE__INIT;

		free(sc);
		resp.error = FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
		done(arg, &resp);
	}
}

/* One ControlledShutdown exchange. Returns the partitions still led here
 * (>= 0) or a negative error. */
static int try_controlled_shutdown(struct broker *b)
{
	struct md_snapshot *s = md_cache_acquire(b->md);
	const struct md_broker *mb;
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__ControlledShutdownRequest cs =
		FLUXO__CONTROLLED_SHUTDOWN_REQUEST__INIT;
	Fluxo__Response *resp;
	struct buf rb = BUF_INIT;
	struct frame_info fi;
	char host[256], errstr[256];
	int port = -1, fd, rc, remaining = 0;
	int32_t ctl_id = controller_active_id(b->ctl);

	if (ctl_id < 0)
		ctl_id = s->controller_id;
	mb = ctl_id >= 0 ? md_find_broker(s, ctl_id) : NULL;
	if (mb) {
		snprintf(host, sizeof(host), "%s", mb->host);
		port = mb->port;
	}
	md_snapshot_release(s);
	if (port < 0)
		return ERR_NOT_FOUND;
	fd = net_connect(host, port, 5000, errstr, sizeof(errstr));
	if (fd < 0) {
		log_warn("broker", "controlled shutdown: %s", errstr);
		return fd;
	}
	cs.broker_id = b->conf.broker_id;
	cs.broker_epoch = atomic_load(&b->broker_epoch);
	req.api = FLUXO__API_KEY__CONTROLLED_SHUTDOWN;
	req.correlation_id = 1;
	req.client_id = "fluxo-broker";
	req.body_case = FLUXO__REQUEST__BODY_CONTROLLED_SHUTDOWN;
	req.controlled_shutdown = &cs;
	rc = rpc_call(fd, &req.base, NULL, 0, 64u << 20,
		      b->conf.controller_socket_timeout_ms, &rb, &fi);
	close(fd);
	if (rc < 0) {
		buf_free(&rb);
		return rc;
	}
	resp = fluxo__response__unpack(NULL, fi.head_len, rb.data);
	buf_free(&rb);
	if (!resp)
		return ERR_PROTO;
	if (resp->error != FLUXO__ERROR_CODE__NONE ||
	    resp->body_case != FLUXO__RESPONSE__BODY_CONTROLLED_SHUTDOWN ||
	    resp->controlled_shutdown->error != FLUXO__ERROR_CODE__NONE) {
		int e = resp->error ? (int)resp->error
				    : resp->body_case ==
					      FLUXO__RESPONSE__BODY_CONTROLLED_SHUTDOWN
					      ? (int)resp->controlled_shutdown->error
					      : -1;

		log_warn("broker", "controlled shutdown refused (error %d)", e);
		fluxo__response__free_unpacked(resp, NULL);
		return ERR_STATE;
	}
	for (size_t i = 0;
	     i < resp->controlled_shutdown->n_remaining_partitions; i++)
		remaining += (int)resp->controlled_shutdown
				     ->remaining_partitions[i]
				     ->n_partitions;
	fluxo__response__free_unpacked(resp, NULL);
	return remaining;
}

void controller_glue_controlled_shutdown(struct broker *b)
{
	int64_t start = clock_mono_ms();
	int tries = b->conf.controlled_shutdown_max_retries + 1;
	int prev = -1;

	for (int i = 0; i < tries; i++) {
		int rc = try_controlled_shutdown(b);

		if (rc > 0 && rc == prev) {
			/* No progress: no other in-sync replica is alive to
			 * take these over; waiting will not change that. */
			log_warn("broker",
				 "controlled shutdown: %d partition(s) have no "
				 "other in-sync replica alive; stopping with them "
				 "offline",
				 rc);
			return;
		}
		prev = rc;

		if (rc == 0) {
			log_info("broker",
				 "controlled shutdown done in %lld ms: this "
				 "broker leads no partition",
				 (long long)(clock_mono_ms() - start));
			return;
		}
		if (rc > 0)
			log_info("broker",
				 "controlled shutdown: %d partition(s) still "
				 "led here",
				 rc);
		if (i + 1 < tries) {
			int64_t ms = b->conf.controlled_shutdown_retry_backoff_ms;

			/* No controller known yet (just started, or one is
			 * being elected): ask again soon. */
			if (rc == ERR_NOT_FOUND && ms > 500)
				ms = 500;
			usleep((useconds_t)(ms * 1000));
		}
	}
	log_warn("broker",
		 "controlled shutdown did not complete; stopping anyway (the "
		 "controller will move leadership when the session ends)");
}
