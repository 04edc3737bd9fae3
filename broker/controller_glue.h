/*
 * controller_glue.h - the broker's side of the controller module
 * (coordinator/): starting it, stopping it, controlled shutdown, and
 * handing it the requests only the active controller serves.
 */
#ifndef FLUXO_BROKER_CONTROLLER_GLUE_H
#define FLUXO_BROKER_CONTROLLER_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "fluxo.pb-c.h"

struct broker;

int controller_glue_start(struct broker *b, char *errstr, size_t errstr_size);
void controller_glue_stop(struct broker *b);

/*
 * Asks the active controller to move leadership away from this broker,
 * retrying up to controlled.shutdown.max.retries. Returns when done or
 * given up (logged). Main thread, during shutdown.
 */
void controller_glue_controlled_shutdown(struct broker *b);

/*
 * Passes a request head (copied) to the controller; done(arg, resp) runs
 * later on the controller's thread (or at once with NOT_CONTROLLER).
 */
void controller_glue_submit(struct broker *b, const uint8_t *head,
			    size_t head_len,
			    void (*done)(void *arg, Fluxo__Response *resp),
			    void *arg);

#endif
