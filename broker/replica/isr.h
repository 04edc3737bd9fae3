/*
 * isr.h - ISR shrink/expand proposals and AlterIsr (see isr.c).
 */
#ifndef FLUXO_BROKER_REPLICA_ISR_H
#define FLUXO_BROKER_REPLICA_ISR_H

#include <stdint.h>

struct broker;
struct partition;
struct isr_mgr;

struct isr_mgr *isr_mgr_start(struct broker *b);
void isr_mgr_stop(struct isr_mgr *m);

/* After a follower fetch, as leader (caller holds p->lock). */
void isr_maybe_expand_locked(struct isr_mgr *m, struct partition *p,
			     int32_t replica_id);

/* Milliseconds since follower id last caught up (caller holds p->lock). */
int64_t replica_lag_of(struct partition *p, int32_t id, int64_t now);

/* Totals since start, for metrics. */
void isr_mgr_counts(struct isr_mgr *m, int64_t *shrinks, int64_t *expands);

#endif
