/*
 * strmap.h - an open-addressing hash map from C strings to pointers.
 *
 * Keys are borrowed: a key must stay valid (usually it lives inside the
 * value) until it is removed. Not thread-safe; the controller uses one on
 * its own thread. Lookups and inserts are O(1) on average; removal
 * leaves a tombstone that later inserts reuse.
 */
#ifndef FLUXO_STRMAP_H
#define FLUXO_STRMAP_H

#include <stddef.h>

struct strmap_ent {
	const char *key; /* NULL: empty; STRMAP_TOMB: removed */
	void *val;
	size_t hash;
};

struct strmap {
	struct strmap_ent *v;
	size_t cap;  /* power of two, or 0 */
	size_t n;    /* live entries */
	size_t used; /* live entries + tombstones */
};

void strmap_init(struct strmap *m);
/* Frees the table, not the keys or values. */
void strmap_free(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Inserts or replaces. Returns 0 or ERR_NOMEM. */
int strmap_put(struct strmap *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);

/* True when slot i holds a live entry (for iteration over 0..cap). */
int strmap_live(const struct strmap *m, size_t i);

#define strmap_foreach(m, i)                                                   \
	for (size_t i = 0; i < (m)->cap; i++)                                  \
		if (strmap_live((m), i))

#endif
