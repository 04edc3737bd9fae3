/*
 * producer_state.c - the idempotent producers of one partition log (see
 * producer_state.h for the rules).
 *
 * Design. Producers are found through an open-addressing hash table of
 * pointers (linear probing, backward-shift deletion, load at most 1/2);
 * a partition usually has a handful of producers, so a lookup on the
 * append path is one multiply and one or two probes. Each producer keeps
 * its last five batches in a small ring.
 *
 * A run of the leader (pstate_run_begin .. commit/abort) applies accepted
 * batches at once, so later batches of the same run are checked against
 * them, and saves a copy of each producer the first time the run touches
 * it (entry->gen == the run's generation marks it saved). Abort restores
 * the copies and removes the producers the run created, newest first.
 *
 * Snapshot format (big-endian), everything after the CRC field covered by
 * the CRC-32C:
 *
 *   u32 magic "FXPS" | u16 version 1 | u16 0 | u32 crc |
 *   i64 offset | u32 count |
 *   count x { i64 pid | i16 epoch | i64 last_ts | u8 n |
 *             n x { i32 first_seq | i32 last_seq | i64 first_offset |
 *                   i64 last_offset | i64 timestamp } }
 *
 * Thread: none of its own; the caller serialises (the append lock).
 */
#include "config.h"
#include "broker/log/producer_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/crc32c.h"
#include "common/err.h"

#define SNAP_MAGIC	 0x46585053u /* "FXPS" */
#define SNAP_VERSION	 1
#define SNAP_HEADER	 24 /* magic..count */
#define SNAP_ENTRY_FIXED 19 /* pid, epoch, last_ts, n */
#define SNAP_BATCH	 32
#define MIN_CAP		 8

struct pentry {
	int64_t pid;
	int16_t epoch;
	uint8_t n;    /* cached batches */
	uint8_t head; /* ring index of the oldest */
	int64_t last_ts;
	uint64_t gen; /* the run that saved it in the undo log */
	struct pstate_batch b[PSTATE_BATCHES];
};

struct undo {
	int64_t pid;
	bool existed;
	struct pentry saved;
};

struct pstate {
	struct pentry **slots;
	uint32_t cap; /* power of two */
	uint32_t count;
	/* The run in progress. */
	uint64_t gen;
	int64_t run_start;
	bool in_run;
	struct undo *undo;
	size_t nundo, undo_cap;
};

/* ------------------------------------------------------------ helpers */

bool pstate_batch_from_header(const uint8_t *hdr, int64_t *pid, int16_t *epoch,
			      struct pstate_batch *b)
{
	int32_t delta = (int32_t)be32_get(hdr + BATCH_OFF_LAST_OFFSET_DELTA);

	*pid = (int64_t)be64_get(hdr + BATCH_OFF_PRODUCER_ID);
	if (*pid < 0)
		return false;
	*epoch = (int16_t)be16_get(hdr + BATCH_OFF_PRODUCER_EPOCH);
	b->first_seq = (int32_t)be32_get(hdr + BATCH_OFF_BASE_SEQUENCE);
	b->last_seq = b->first_seq >= 0 && delta >= 0
			  ? pstate_seq_add(b->first_seq, delta)
			  : b->first_seq;
	b->first_offset = (int64_t)be64_get(hdr + BATCH_OFF_BASE_OFFSET);
	b->last_offset = b->first_offset + delta;
	b->timestamp = (int64_t)be64_get(hdr + BATCH_OFF_MAX_TIMESTAMP);
	return true;
}

static uint32_t slot_of(const struct pstate *ps, int64_t pid)
{
	uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> 32) & (ps->cap - 1);
}

static struct pentry *find(const struct pstate *ps, int64_t pid)
{
	if (ps->count == 0)
		return NULL;
	for (uint32_t i = slot_of(ps, pid);; i = (i + 1) & (ps->cap - 1)) {
		struct pentry *e = ps->slots[i];

		if (!e)
			return NULL;
		if (e->pid == pid)
			return e;
	}
}

static void place(struct pstate *ps, struct pentry *e)
{
	uint32_t i = slot_of(ps, e->pid);

	while (ps->slots[i])
		i = (i + 1) & (ps->cap - 1);
	ps->slots[i] = e;
}

static int grow(struct pstate *ps)
{
	uint32_t old_cap = ps->cap, cap = old_cap ? old_cap * 2 : MIN_CAP;
	struct pentry **old = ps->slots, **slots;

	if (cap < old_cap)
		return ERR_NOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return ERR_NOMEM;
	ps->slots = slots;
	ps->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i])
			place(ps, old[i]);
	free(old);
	return 0;
}

/* A new, empty producer in the table (epoch -1), or NULL. */
static struct pentry *insert(struct pstate *ps, int64_t pid)
{
	struct pentry *e;

	if ((ps->count + 1) * 2 > ps->cap && grow(ps))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	e->epoch = -1;
	e->last_ts = -1;
	place(ps, e);
	ps->count++;
	return e;
}

/* Removes and frees pid's entry (backward-shift deletion). */
static void remove_pid(struct pstate *ps, int64_t pid)
{
	uint32_t mask = ps->cap - 1, i, j;

	if (ps->count == 0)
		return;
	for (i = slot_of(ps, pid); ps->slots[i]; i = (i + 1) & mask)
		if (ps->slots[i]->pid == pid)
			break;
	if (!ps->slots[i])
		return;
	free(ps->slots[i]);
	ps->slots[i] = NULL;
	ps->count--;
	/* Move later members of the cluster back over the hole when their
	 * home slot does not lie (cyclically) in (i, j]. */
	for (j = (i + 1) & mask; ps->slots[j]; j = (j + 1) & mask) {
		uint32_t home = slot_of(ps, ps->slots[j]->pid);
		bool stays =
		    i <= j ? (home > i && home <= j) : (home > i || home <= j);

		if (stays)
			continue;
		ps->slots[i] = ps->slots[j];
		ps->slots[j] = NULL;
		i = j;
	}
}

static const struct pstate_batch *nth(const struct pentry *e, int k)
{
	return &e->b[(e->head + k) % PSTATE_BATCHES];
}

static const struct pstate_batch *newest(const struct pentry *e)
{
	return e->n ? nth(e, e->n - 1) : NULL;
}

static void add_batch(struct pentry *e, int16_t epoch,
		      const struct pstate_batch *b)
{
	if (e->epoch != epoch) {
		e->epoch = epoch;
		e->n = 0;
		e->head = 0;
	}
	if (e->n == PSTATE_BATCHES) {
		e->b[e->head] = *b;
		e->head = (uint8_t)((e->head + 1) % PSTATE_BATCHES);
	} else {
		e->b[(e->head + e->n) % PSTATE_BATCHES] = *b;
		e->n++;
	}
	if (b->timestamp > e->last_ts)
		e->last_ts = b->timestamp;
}

static bool in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 ||
	       (next == 0 && last == INT32_MAX);
}

/* ----------------------------------------------------------- lifetime */

pstate_t *pstate_new(void)
{
	return calloc(1, sizeof(struct pstate));
}

void pstate_clear(pstate_t *ps)
{
	for (uint32_t i = 0; i < ps->cap; i++) {
		free(ps->slots[i]);
		ps->slots[i] = NULL;
	}
	ps->count = 0;
	ps->nundo = 0;
	ps->in_run = false;
}

void pstate_destroy(pstate_t *ps)
{
	if (!ps)
		return;
	pstate_clear(ps);
	free(ps->slots);
	free(ps->undo);
	free(ps);
}

int pstate_count(const pstate_t *ps)
{
	return (int)ps->count;
}

int pstate_lookup(const pstate_t *ps, int64_t pid, int16_t *epoch,
		  struct pstate_batch *out, int max)
{
	const struct pentry *e = find(ps, pid);

	if (!e)
		return ERR_NOT_FOUND;
	if (epoch)
		*epoch = e->epoch;
	for (int k = 0; k < e->n && k < max; k++)
		out[k] = *nth(e, k);
	return e->n;
}

/* ---------------------------------------------------------------- runs */

void pstate_run_begin(pstate_t *ps, int64_t run_start)
{
	ps->gen++;
	ps->run_start = run_start;
	ps->nundo = 0;
	ps->in_run = true;
}

/* Saves e (or its absence) once per run. Returns 0 or ERR_NOMEM. */
static int save(struct pstate *ps, int64_t pid, const struct pentry *e)
{
	struct undo *u;

	if (e && e->gen == ps->gen)
		return 0;
	if (ps->nundo == ps->undo_cap) {
		size_t cap = ps->undo_cap ? ps->undo_cap * 2 : 4;

		u = realloc(ps->undo, cap * sizeof(*u));
		if (!u)
			return ERR_NOMEM;
		ps->undo = u;
		ps->undo_cap = cap;
	}
	u = &ps->undo[ps->nundo++];
	u->pid = pid;
	u->existed = e != NULL;
	if (e)
		u->saved = *e;
	return 0;
}

int pstate_check(pstate_t *ps, int64_t pid, int16_t epoch,
		 const struct pstate_batch *b, struct pstate_batch *dup)
{
	struct pentry *e = find(ps, pid);
	const struct pstate_batch *last;
	int16_t cur = e ? e->epoch : -1;

	if (epoch < 0 || b->first_seq < 0)
		return ERR_INVAL;
	if (e && e->epoch == epoch) {
		for (int k = 0; k < e->n; k++) {
			const struct pstate_batch *c = nth(e, k);

			if (c->first_seq == b->first_seq &&
			    c->last_seq == b->last_seq &&
			    c->first_offset < ps->run_start) {
				if (dup)
					*dup = *c;
				return PSTATE_DUPLICATE;
			}
		}
	}
	if (epoch < cur)
		return ERR_FENCED;
	if (epoch != cur) {
		if (b->first_seq != 0 && cur != -1)
			return ERR_SEQUENCE;
	} else {
		last = newest(e);
		if (!in_sequence(last ? last->last_seq : -1, b->first_seq))
			return ERR_SEQUENCE;
	}
	if (save(ps, pid, e))
		return ERR_NOMEM;
	if (!e) {
		e = insert(ps, pid);
		if (!e) {
			ps->nundo--;
			return ERR_NOMEM;
		}
	}
	e->gen = ps->gen;
	add_batch(e, epoch, b);
	return PSTATE_NEW;
}

void pstate_run_commit(pstate_t *ps)
{
	ps->nundo = 0;
	ps->in_run = false;
}

void pstate_run_abort(pstate_t *ps)
{
	while (ps->nundo > 0) {
		struct undo *u = &ps->undo[--ps->nundo];
		struct pentry *e;

		if (!u->existed) {
			remove_pid(ps, u->pid);
			continue;
		}
		e = find(ps, u->pid);
		if (e)
			*e = u->saved;
	}
	ps->in_run = false;
}

/* ------------------------------------------------- followers, recovery */

int pstate_apply(pstate_t *ps, int64_t pid, int16_t epoch,
		 const struct pstate_batch *b)
{
	struct pentry *e = find(ps, pid);

	if (!e) {
		e = insert(ps, pid);
		if (!e)
			return ERR_NOMEM;
	}
	add_batch(e, epoch, b);
	return 0;
}

int pstate_expire(pstate_t *ps, int64_t before_ts)
{
	int n = 0;

	for (uint32_t i = 0; i < ps->cap;) {
		struct pentry *e = ps->slots[i];

		if (e && e->last_ts < before_ts) {
			/* Deletion may shift a later entry into slot i. */
			remove_pid(ps, e->pid);
			n++;
			continue;
		}
		i++;
	}
	return n;
}

void pstate_truncate(pstate_t *ps, int64_t offset)
{
	for (uint32_t i = 0; i < ps->cap;) {
		struct pentry *e = ps->slots[i];

		if (!e) {
			i++;
			continue;
		}
		while (e->n > 0 && newest(e)->last_offset >= offset)
			e->n--;
		if (e->n == 0) {
			remove_pid(ps, e->pid);
			continue;
		}
		e->last_ts = -1;
		for (int k = 0; k < e->n; k++)
			if (nth(e, k)->timestamp > e->last_ts)
				e->last_ts = nth(e, k)->timestamp;
		i++;
	}
}

/* ----------------------------------------------------------- snapshots */

int pstate_encode(const pstate_t *ps, int64_t offset, struct buf *out)
{
	size_t start = out->len, need = SNAP_HEADER;
	uint8_t *p, *q;

	for (uint32_t i = 0; i < ps->cap; i++)
		if (ps->slots[i])
			need += SNAP_ENTRY_FIXED +
				(size_t)ps->slots[i]->n * SNAP_BATCH;
	p = buf_extend(out, need);
	if (!p)
		return ERR_NOMEM;
	be32_put(p, SNAP_MAGIC);
	be16_put(p + 4, SNAP_VERSION);
	be16_put(p + 6, 0);
	be64_put(p + 12, (uint64_t)offset);
	be32_put(p + 20, ps->count);
	q = p + SNAP_HEADER;
	for (uint32_t i = 0; i < ps->cap; i++) {
		const struct pentry *e = ps->slots[i];

		if (!e)
			continue;
		be64_put(q, (uint64_t)e->pid);
		be16_put(q + 8, (uint16_t)e->epoch);
		be64_put(q + 10, (uint64_t)e->last_ts);
		q[18] = e->n;
		q += SNAP_ENTRY_FIXED;
		for (int k = 0; k < e->n; k++) {
			const struct pstate_batch *b = nth(e, k);

			be32_put(q, (uint32_t)b->first_seq);
			be32_put(q + 4, (uint32_t)b->last_seq);
			be64_put(q + 8, (uint64_t)b->first_offset);
			be64_put(q + 16, (uint64_t)b->last_offset);
			be64_put(q + 24, (uint64_t)b->timestamp);
			q += SNAP_BATCH;
		}
	}
	p = out->data + start;
	be32_put(p + 8, crc32c(0, p + 12, need - 12));
	return 0;
}

int pstate_decode(pstate_t *ps, const uint8_t *data, size_t len,
		  int64_t *offset)
{
	const uint8_t *q, *end = data + len;
	uint32_t count;
	int64_t off;
	int rc = ERR_CORRUPT;

	pstate_clear(ps);
	if (len < SNAP_HEADER || be32_get(data) != SNAP_MAGIC ||
	    be16_get(data + 4) != SNAP_VERSION || be16_get(data + 6) != 0 ||
	    be32_get(data + 8) != crc32c(0, data + 12, len - 12))
		return ERR_CORRUPT;
	off = (int64_t)be64_get(data + 12);
	count = be32_get(data + 20);
	if (off < 0 || count > (len - SNAP_HEADER) / SNAP_ENTRY_FIXED)
		return ERR_CORRUPT;
	q = data + SNAP_HEADER;
	for (uint32_t i = 0; i < count; i++) {
		struct pentry *e;
		int64_t pid;
		uint8_t n;

		if ((size_t)(end - q) < SNAP_ENTRY_FIXED)
			goto err_clear;
		pid = (int64_t)be64_get(q);
		n = q[18];
		if (pid < 0 || n > PSTATE_BATCHES || find(ps, pid) ||
		    (size_t)(end - q) - SNAP_ENTRY_FIXED <
			(size_t)n * SNAP_BATCH)
			goto err_clear;
		e = insert(ps, pid);
		if (!e) {
			rc = ERR_NOMEM;
			goto err_clear;
		}
		e->epoch = (int16_t)be16_get(q + 8);
		e->last_ts = (int64_t)be64_get(q + 10);
		q += SNAP_ENTRY_FIXED;
		for (int k = 0; k < n; k++) {
			struct pstate_batch *b = &e->b[k];

			b->first_seq = (int32_t)be32_get(q);
			b->last_seq = (int32_t)be32_get(q + 4);
			b->first_offset = (int64_t)be64_get(q + 8);
			b->last_offset = (int64_t)be64_get(q + 16);
			b->timestamp = (int64_t)be64_get(q + 24);
			q += SNAP_BATCH;
			if (b->first_offset < 0 ||
			    b->last_offset < b->first_offset ||
			    b->last_offset >= off ||
			    (k > 0 &&
			     b->first_offset <= e->b[k - 1].last_offset))
				goto err_clear;
		}
		e->n = n;
	}
	if (q != end)
		goto err_clear;
	*offset = off;
	return 0;
err_clear:
	pstate_clear(ps);
	return rc;
}
