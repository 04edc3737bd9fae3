/*
 * strmap.c - string-keyed open-addressing hash map (FNV-1a, linear
 * probing, grown at 70% load counting tombstones).
 */
#include "config.h"
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const char tomb_key;
#define TOMB (&tomb_key)

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_free(struct strmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int strmap_live(const struct strmap *m, size_t i)
{
	return m->v[i].key && m->v[i].key != TOMB;
}

static struct strmap_ent *find(const struct strmap *m, const char *key,
			       size_t h)
{
	size_t mask = m->cap - 1;

	if (!m->cap)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_ent *e = &m->v[i];

		if (!e->key)
			return NULL;
		if (e->key != TOMB && e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_ent *e = find(m, key, hash_str(key));

	return e ? e->val : NULL;
}

static int grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct strmap_ent *old = m->v, *v;
	size_t old_cap = m->cap;

	/* Mostly tombstones: rehash at the same size. */
	if (m->cap && m->n * 2 < m->cap)
		cap = m->cap;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return ERR_NOMEM;
	m->v = v;
	m->cap = cap;
	m->used = m->n;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].key || old[i].key == TOMB)
			continue;
		for (size_t j = old[i].hash & (cap - 1);;
		     j = (j + 1) & (cap - 1))
			if (!v[j].key) {
				v[j] = old[i];
				break;
			}
	}
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *val)
{
	size_t h = hash_str(key), mask;
	struct strmap_ent *e = find(m, key, h), *slot = NULL;

	if (e) {
		e->val = val;
		e->key = key;
		return 0;
	}
	if ((m->used + 1) * 10 >= m->cap * 7 && grow(m) < 0)
		return ERR_NOMEM;
	mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		if (m->v[i].key == TOMB) {
			slot = &m->v[i];
			break;
		}
		if (!m->v[i].key) {
			slot = &m->v[i];
			m->used++;
			break;
		}
	}
	slot->key = key;
	slot->val = val;
	slot->hash = h;
	m->n++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_ent *e = find(m, key, hash_str(key));
	void *val;

	if (!e)
		return NULL;
	val = e->val;
	e->key = TOMB;
	e->val = NULL;
	m->n--;
	return val;
}
