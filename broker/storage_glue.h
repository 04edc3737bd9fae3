/*
 * storage_glue.h - the broker's use of the log manager (broker/log/).
 */
#ifndef FLUXO_BROKER_STORAGE_GLUE_H
#define FLUXO_BROKER_STORAGE_GLUE_H

#include <stddef.h>

struct broker;

/* Opens every log dir (locks, recovery). Returns 0 or an error. */
int storage_glue_open(struct broker *b, char *errstr, size_t errstr_size);
/* Checks or records the cluster id in meta.properties. */
int storage_glue_check_cluster(struct broker *b, char *errstr,
			       size_t errstr_size);
/* Flushes, checkpoints and marks the dirs clean. */
void storage_glue_close(struct broker *b);

/* Metrics endpoint (metrics.c). */
int metrics_glue_start(struct broker *b, char *errstr, size_t errstr_size);
/* Stops the HTTP endpoint (collectors read state that shutdown frees). */
void metrics_glue_stop_serving(struct broker *b);
/* Frees the registry; no worker may run any more. */
void metrics_glue_stop(struct broker *b);

#endif
