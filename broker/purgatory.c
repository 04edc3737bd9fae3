/*
 * purgatory.c - delayed operations on each worker.
 *
 * Each worker keeps a doubly linked list of its pending operations.
 * A partition carries a bit mask of the workers that have operations
 * watching it and, per worker, a "wake pending" flag. partition_notify()
 * posts a wake to a worker only when its bit is set and its flag was
 * clear, so a burst of appends costs one cross-thread message per worker.
 * The worker clears the flag before it scans, so a change that lands
 * during the scan posts a new wake.
 *
 * A scan walks the worker's operations and retries those that watch the
 * partition. Workers hold few operations (one per long-polling consumer
 * or waiting acks=all request), so a list is enough; a bit is cleared once
 * no operation of the worker watches the partition any more.
 *
 * Invariant against lost wake-ups: purgatory_add sets the watcher bits
 * before the first completion check, and a worker clears a bit only on
 * its own thread after re-checking that none of its operations needs it.
 */
#include "config.h"
#include "purgatory.h"

#include <stdlib.h>

#include <event2/event.h>

#include "common/log.h"
#include "partition.h"
#include "server.h"

struct purgatory {
	struct delayed_op *head;
	int n;
};

static struct purgatory *pg_of(struct worker *w)
{
	return worker_get_ctx(w);
}

int purgatory_worker_init(struct worker *w)
{
	struct purgatory *pg = calloc(1, sizeof(*pg));

	if (!pg)
		return -1;
	worker_set_ctx(w, pg);
	return 0;
}

static void unlink_op(struct purgatory *pg, struct delayed_op *op)
{
	if (!op->linked)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		pg->head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->linked = false;
	pg->n--;
}

static bool worker_watches(struct purgatory *pg, struct partition *p)
{
	for (struct delayed_op *o = pg->head; o; o = o->next)
		for (int i = 0; i < o->n_watch; i++)
			if (o->watch[i] == p)
				return true;
	return false;
}

/* Drops op's watches, clearing worker bits nobody else needs. */
static void finish_op(struct purgatory *pg, struct delayed_op *op)
{
	int idx = worker_index(op->w);

	unlink_op(pg, op);
	if (op->timer) {
		event_free(op->timer);
		op->timer = NULL;
	}
	for (int i = 0; i < op->n_watch; i++) {
		struct partition *p = op->watch[i];

		if (!worker_watches(pg, p))
			atomic_fetch_and(&p->waiter_mask,
					 ~((uint64_t)1 << idx));
		partition_unref(p);
	}
	op->n_watch = 0;
	free(op->watch);
	op->watch = NULL;
	op->ops->release(op);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct delayed_op *op = arg;
	struct purgatory *pg = pg_of(op->w);

	(void)fd;
	(void)what;
	op->ops->try_complete(op, true);
	finish_op(pg, op);
}

void purgatory_add(struct delayed_op *op, int timeout_ms)
{
	struct purgatory *pg;
	struct timeval tv;
	int idx;

	op->w = worker_self();
	pg = pg_of(op->w);
	idx = worker_index(op->w);
	for (int i = 0; i < op->n_watch; i++)
		atomic_fetch_or(&op->watch[i]->waiter_mask,
				(uint64_t)1 << idx);
	op->prev = NULL;
	op->next = pg->head;
	if (pg->head)
		pg->head->prev = op;
	pg->head = op;
	op->linked = true;
	pg->n++;
	if (op->ops->try_complete(op, false)) {
		finish_op(pg, op);
		return;
	}
	if (timeout_ms < 0)
		timeout_ms = 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	op->timer = evtimer_new(worker_base(op->w), on_timeout, op);
	if (!op->timer) {
		op->ops->try_complete(op, true);
		finish_op(pg, op);
		return;
	}
	evtimer_add(op->timer, &tv);
}

int purgatory_pending(struct worker *w)
{
	struct purgatory *pg = pg_of(w);

	return pg ? pg->n : 0;
}

struct wake_msg {
	struct partition *p;
};

static void on_wake(struct worker *w, void *arg)
{
	struct partition *p = arg;
	struct purgatory *pg = pg_of(w);
	int idx = worker_index(w);
	struct delayed_op *op, *next;

	atomic_store(&p->wake_pending[idx], false);
	if (pg) {
		for (op = pg->head; op; op = next) {
			bool watches = false;

			next = op->next;
			for (int i = 0; i < op->n_watch && !watches; i++)
				watches = op->watch[i] == p;
			if (watches && op->ops->try_complete(op, false)) {
				/* finish_op may free ops after op: restart. */
				finish_op(pg, op);
				next = pg->head;
			}
		}
	}
	partition_unref(p);
}

void partition_notify(struct partition *p)
{
	uint64_t mask = atomic_load(&p->waiter_mask);

	while (mask) {
		int idx = __builtin_ctzll(mask);
		struct worker *w;

		mask &= mask - 1;
		if (atomic_exchange(&p->wake_pending[idx], true))
			continue;
		w = partition_worker(p, idx);
		if (!w) {
			atomic_store(&p->wake_pending[idx], false);
			continue;
		}
		partition_ref(p);
		if (worker_post(w, on_wake, p) < 0) {
			atomic_store(&p->wake_pending[idx], false);
			partition_unref(p);
		}
	}
}

void purgatory_worker_destroy(struct worker *w)
{
	struct purgatory *pg = pg_of(w);

	if (!pg)
		return;
	while (pg->head) {
		struct delayed_op *op = pg->head;

		op->ops->try_complete(op, true);
		finish_op(pg, op);
	}
	worker_set_ctx(w, NULL);
	free(pg);
}
