/*
 * purgatory.h - requests waiting for something to happen to partitions.
 *
 * A delayed operation (an acks=all produce waiting for the high watermark,
 * a produce waiting for its fsync, a long-poll fetch waiting for bytes)
 * lives on the worker thread of its connection. It watches one or more
 * partitions and has a deadline. Whenever a watched partition changes
 * (append, high watermark, flush, leadership, truncation) the operation is
 * asked to try to complete; at its deadline it completes as expired.
 *
 * Wake-ups cross threads: the thread that changed a partition calls
 * partition_notify(), which posts at most one pending wake per worker that
 * has operations watching that partition (a per-worker flag coalesces a
 * burst of appends into one wake). No wake-up is lost: an operation is
 * registered as a watcher before its first completion check.
 */
#ifndef FLUXO_BROKER_PURGATORY_H
#define FLUXO_BROKER_PURGATORY_H

#include <stdbool.h>

struct worker;
struct partition;
struct delayed_op;

struct delayed_op_ops {
	/*
	 * Tries to complete op. expired is true at the deadline (the op must
	 * then complete). Returns true when op completed (answered); the
	 * purgatory then frees it with release().
	 */
	bool (*try_complete)(struct delayed_op *op, bool expired);
	void (*release)(struct delayed_op *op);
};

/* Embed as the first member of a concrete operation. */
struct delayed_op {
	const struct delayed_op_ops *ops;
	struct worker *w;
	struct partition **watch;	/* referenced partitions */
	int n_watch;
	struct event *timer;
	struct delayed_op *prev, *next;
	bool linked;
};

/* Per-worker set-up and tear-down (worker thread). Tear-down expires every
 * pending operation. */
int purgatory_worker_init(struct worker *w);
void purgatory_worker_destroy(struct worker *w);

/*
 * Parks op on its worker (the current thread's) for at most timeout_ms,
 * watching op->watch[0..n_watch) (the purgatory takes over the partition
 * references). Completes it at once if it already can.
 */
void purgatory_add(struct delayed_op *op, int timeout_ms);

/* Number of operations waiting on the current worker. */
int purgatory_pending(struct worker *w);

/* Any thread: something changed on p; wake the operations watching it. */
void partition_notify(struct partition *p);

#endif
