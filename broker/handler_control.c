/*
 * handler_control.c - requests from the controller (LeaderAndIsr,
 * UpdateMetadata, StopReplica) and requests for the controller.
 *
 * Control requests are applied on one control thread, in arrival order:
 * they create and delete logs, which may block, and the order in which a
 * controller's decisions are applied matters. Each carries the
 * controller's epoch and this broker's epoch; a request from an older
 * controller (STALE_CONTROLLER_EPOCH) or meant for an earlier incarnation
 * of this broker (STALE_BROKER_EPOCH) is refused, which fences a zombie
 * controller and a delayed request from before a restart.
 *
 * Requests that only the active controller can serve (ControlledShutdown,
 * AlterIsr, ElectLeaders, reassignments) are handed to the controller
 * module, which answers NOT_CONTROLLER when this broker is not it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"
#include "controller_glue.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "partition.h"
#include "server.h"
#include "taskq.h"

struct control_task {
	struct broker *b;
	struct deferred *d;
	uint8_t *head;
	size_t head_len;
};

static Fluxo__ErrorCode check_epochs(struct broker *b, int32_t ctl_epoch,
				     int64_t broker_epoch, const char *what)
{
	int64_t mine = atomic_load(&b->broker_epoch);

	if (ctl_epoch < md_cache_controller_epoch(b->md)) {
		log_warn("control",
			 "refusing %s from controller epoch %d: epoch %d seen",
			 what, ctl_epoch, md_cache_controller_epoch(b->md));
		return FLUXO__ERROR_CODE__STALE_CONTROLLER_EPOCH;
	}
	if (broker_epoch >= 0 && mine >= 0 && broker_epoch < mine) {
		log_warn("control",
			 "refusing %s meant for broker epoch %lld: this "
			 "broker's epoch is %lld",
			 what, (long long)broker_epoch, (long long)mine);
		return FLUXO__ERROR_CODE__STALE_BROKER_EPOCH;
	}
	return FLUXO__ERROR_CODE__NONE;
}

static void control_run(void *arg)
{
	struct control_task *ct = arg;
	struct broker *b = ct->b;
	Fluxo__Response resp = FLUXO__RESPONSE__INIT;
	Fluxo__LeaderAndIsrResponse lir = FLUXO__LEADER_AND_ISR_RESPONSE__INIT;
	Fluxo__UpdateMetadataResponse umr =
		FLUXO__UPDATE_METADATA_RESPONSE__INIT;
	Fluxo__StopReplicaResponse srr = FLUXO__STOP_REPLICA_RESPONSE__INIT;
	Fluxo__Request *req;
	Fluxo__ErrorCode err;

	req = fluxo__request__unpack(NULL, ct->head_len, ct->head);
	if (!req) {
		resp.error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		deferred_respond_async(ct->d, &resp);
		goto out;
	}
	switch (req->body_case) {
	case FLUXO__REQUEST__BODY_LEADER_AND_ISR:
		err = check_epochs(b, req->leader_and_isr->controller_epoch,
				   req->leader_and_isr->broker_epoch,
				   "LeaderAndIsr");
		resp.body_case = FLUXO__RESPONSE__BODY_LEADER_AND_ISR;
		resp.leader_and_isr = &lir;
		if (err) {
			lir.error = err;
			deferred_respond_async(ct->d, &resp);
			break;
		}
		rm_leader_and_isr(b->rm, req->leader_and_isr, &lir);
		deferred_respond_async(ct->d, &resp);
		rm_free_leader_and_isr_response(&lir);
		break;
	case FLUXO__REQUEST__BODY_UPDATE_METADATA:
		err = check_epochs(b, req->update_metadata->controller_epoch,
				   req->update_metadata->broker_epoch,
				   "UpdateMetadata");
		if (!err && md_cache_update(b->md, req->update_metadata) < 0)
			err = FLUXO__ERROR_CODE__STALE_CONTROLLER_EPOCH;
		if (!err && req->update_metadata->full)
			log_info("control",
				 "full metadata from controller %d epoch %d: "
				 "%zu partitions, %zu live brokers",
				 req->update_metadata->controller_id,
				 req->update_metadata->controller_epoch,
				 req->update_metadata->n_partitions,
				 req->update_metadata->n_live_brokers);
		umr.error = err;
		resp.body_case = FLUXO__RESPONSE__BODY_UPDATE_METADATA;
		resp.update_metadata = &umr;
		deferred_respond_async(ct->d, &resp);
		break;
	case FLUXO__REQUEST__BODY_STOP_REPLICA:
		err = check_epochs(b, req->stop_replica->controller_epoch,
				   req->stop_replica->broker_epoch,
				   "StopReplica");
		resp.body_case = FLUXO__RESPONSE__BODY_STOP_REPLICA;
		resp.stop_replica = &srr;
		if (err) {
			srr.error = err;
			deferred_respond_async(ct->d, &resp);
			break;
		}
		rm_stop_replica(b->rm, req->stop_replica, &srr);
		deferred_respond_async(ct->d, &resp);
		rm_free_stop_replica_response(&srr);
		break;
	default:
		resp.error = FLUXO__ERROR_CODE__INVALID_REQUEST;
		deferred_respond_async(ct->d, &resp);
		break;
	}
	fluxo__request__free_unpacked(req, NULL);
out:
	free(ct->head);
	free(ct);
}

void handle_control(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	struct control_task *ct = malloc(sizeof(*ct));

	if (!ct || !(ct->head = malloc(r->head_len)))
		fatal("control", "out of memory");
	memcpy(ct->head, r->head, r->head_len);
	ct->head_len = r->head_len;
	ct->b = b;
	ct->d = request_defer(r);
	if (!ct->d || taskq_post(b->control_q, control_run, ct) < 0) {
		if (ct->d) {
			Fluxo__Response resp = FLUXO__RESPONSE__INIT;

			resp.error = FLUXO__ERROR_CODE__BROKER_NOT_AVAILABLE;
			resp.error_message = "broker is shutting down";
			deferred_respond(ct->d, &resp, NULL, 0);
		}
		free(ct->head);
		free(ct);
	}
}

static void controller_done(void *arg, Fluxo__Response *resp)
{
	deferred_respond_async(arg, resp);
}

void handle_to_controller(struct request *r)
{
	struct broker *b = worker_broker(r->w);
	struct deferred *d = request_defer(r);

	if (!d)
		return;
	controller_glue_submit(b, r->head, r->head_len, controller_done, d);
}
