/*
 * metrics.c - the metrics registry, lock-free updates and the Prometheus
 * text exposition (format 0.0.4).
 *
 * Design. The registry is a list of families (name, type, help, and for
 * histograms the bucket bounds), each with a list of series, one per label
 * set. Label sets are fixed text validated once at registration, so a
 * scrape copies them verbatim and an update never touches a string.
 *
 * Hot path. Updates sit on the produce and fetch paths, hundreds of
 * thousands of times a second from every network thread. A single atomic
 * counter would bounce its cache line between cores on each update, so
 * counters and histograms are striped: each series holds one 64-byte
 * aligned stripe per slot, and each thread picks the slot given by a
 * thread-local number taken once from a global sequence. An update is then
 * a thread-local load and a relaxed atomic add on a line that stays in the
 * updating core's cache; the atomic keeps the rare threads that share a
 * slot exact. A histogram stripe holds every bucket count and the sum (a
 * double updated by compare-and-swap of its bits). Buckets are stored
 * non-cumulatively and summed at scrape time, and _count is the sum of
 * the buckets, so `_count == le="+Inf"` holds in every scrape even while
 * other threads observe. Gauges are set as often as added, which stripes
 * cannot do, so a gauge is one atomic on its own cache line; they are not
 * meant for per-request updates.
 *
 * Exposition. A scrape writes everything through a metrics_writer: one
 * buffer per family, found by name in a small hash table, in order of
 * first appearance. Registered series are written first, then every
 * collector; at the end each family is emitted once as # HELP, # TYPE and
 * its samples. Collectors may therefore interleave families (per
 * partition: size, segments, lag, ...) and still produce valid text, and
 * a collector's family merges with a registered one of the same name.
 *
 * Invariants: every family name, label name and registered label string
 * in the output has been validated; every label value a collector passes
 * is escaped here; an update never allocates, locks or fails.
 *
 * Threads: see metrics.h. The registry mutex guards the family and
 * collector lists; registration and scrapes take it, updates never do.
 */
#include "config.h"
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "metrics_int.h"

#define CACHE_LINE	 64
#define STRIPES_MAX	 64
#define WRITE_LABELS_MAX 16

/* clang-format off */
const double metrics_latency_buckets[METRICS_LATENCY_NBUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* clang-format on */

struct cstripe {
	_Atomic uint64_t v;
} __attribute__((aligned(CACHE_LINE)));

struct metrics_counter {
	struct metrics_counter *next;
	char *labels;
	unsigned mask; /* stripes - 1 */
	struct cstripe stripe[];
};

struct metrics_gauge {
	_Atomic int64_t v;
	struct metrics_gauge *next;
	char *labels;
} __attribute__((aligned(CACHE_LINE)));

/*
 * A histogram stripe is stride bytes: nbounds + 1 bucket counts (the last
 * is +Inf), then the bits of the double sum.
 */
struct metrics_histogram {
	struct metrics_histogram *next;
	char *labels;
	const double *bounds; /* the family's */
	unsigned nbounds;
	unsigned mask;
	size_t stride;
	unsigned char *stripes;
};

struct mfamily {
	struct mfamily *next;
	char *name;
	char *help;
	enum metrics_type type;
	double *bounds; /* histograms */
	size_t nbounds;
	struct metrics_counter *counters;
	struct metrics_gauge *gauges;
	struct metrics_histogram *hists;
};

struct mcollector {
	struct mcollector *next;
	metrics_collect_fn *fn;
	void *arg;
};

/* ---- thread slots ---- */

static atomic_uint slot_seq;
static _Thread_local unsigned tls_slot
    __attribute__((tls_model("initial-exec")));

/* This thread's slot number; the caller masks it with a stripe mask. */
static inline unsigned my_slot(void)
{
	unsigned s = tls_slot;

	if (__builtin_expect(s == 0, 0)) {
		s = atomic_fetch_add_explicit(&slot_seq, 1,
					      memory_order_relaxed) +
		    1;
		tls_slot = s;
	}
	return s - 1;
}

/* ---- validation ---- */

static bool is_alpha_(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool valid_metric_name(const char *s)
{
	size_t i;

	if (!s || !(is_alpha_(s[0]) || s[0] == ':'))
		return false;
	for (i = 1; s[i]; i++)
		if (!(is_alpha_(s[i]) || is_digit(s[i]) || s[i] == ':'))
			return false;
	return i <= METRICS_NAME_MAX;
}

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, not reserved (leading "__"). */
static bool valid_label_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > METRICS_NAME_MAX || !is_alpha_(s[0]))
		return false;
	if (len >= 2 && s[0] == '_' && s[1] == '_')
		return false;
	for (i = 1; i < len; i++)
		if (!(is_alpha_(s[i]) || is_digit(s[i])))
			return false;
	return true;
}

/*
 * Checks a registered label string: k="v" pairs separated by commas,
 * values escaped, no name twice, no "le" for histograms. Returns NULL when
 * valid, else the reason.
 */
static const char *check_labels(const char *s, bool histogram)
{
	const char *names[WRITE_LABELS_MAX];
	size_t lens[WRITE_LABELS_MAX];
	size_t n = 0, i, len;
	const char *p = s, *start;

	if (strlen(s) > METRICS_LABELS_MAX)
		return "label string too long";
	while (*p) {
		start = p;
		while (is_alpha_(*p) || is_digit(*p))
			p++;
		len = (size_t)(p - start);
		if (!valid_label_name(start, len))
			return "bad label name";
		if (histogram && len == 2 && !memcmp(start, "le", 2))
			return "histograms may not use the label le";
		for (i = 0; i < n; i++)
			if (lens[i] == len && !memcmp(names[i], start, len))
				return "label name repeated";
		if (n == WRITE_LABELS_MAX)
			return "too many labels";
		names[n] = start;
		lens[n++] = len;
		if (p[0] != '=' || p[1] != '"')
			return "expected =\" after a label name";
		for (p += 2; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return "unterminated label value";
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return "bad escape in label value";
			}
		}
		p++;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			return "expected , between labels";
	}
	return NULL;
}

/* ---- registry ---- */

static unsigned stripe_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = 2;

	/* Twice the CPUs: threads take slots round robin, and a broker runs
	 * more threads than network workers. */
	while (cpus > 0 && n < STRIPES_MAX && n < 2 * (unsigned long)cpus)
		n *= 2;
	return n;
}

struct metrics *metrics_new(void)
{
	return metrics_new_stripes(stripe_count());
}

struct metrics *metrics_new_stripes(unsigned stripes)
{
	struct metrics *m;

	if (stripes == 0 || stripes > STRIPES_MAX ||
	    (stripes & (stripes - 1)) != 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	m->families_tail = &m->families;
	m->collectors_tail = &m->collectors;
	m->stripe_mask = stripes - 1;
	atomic_init(&m->http_timeout_ms, 10000);
	m->http_listen_fd = -1;
	m->http_wake_fd[0] = m->http_wake_fd[1] = -1;
	atomic_init(&m->http_port, -1);
	return m;
}

static void counter_free(struct metrics_counter *c)
{
	if (!c)
		return;
	free(c->labels);
	free(c);
}

static void gauge_free(struct metrics_gauge *g)
{
	if (!g)
		return;
	free(g->labels);
	free(g);
}

static void hist_free(struct metrics_histogram *h)
{
	if (!h)
		return;
	free(h->stripes);
	free(h->labels);
	free(h);
}

static void family_free(struct mfamily *f)
{
	struct metrics_counter *c, *cn;
	struct metrics_gauge *g, *gn;
	struct metrics_histogram *h, *hn;

	for (c = f->counters; c; c = cn) {
		cn = c->next;
		counter_free(c);
	}
	for (g = f->gauges; g; g = gn) {
		gn = g->next;
		gauge_free(g);
	}
	for (h = f->hists; h; h = hn) {
		hn = h->next;
		hist_free(h);
	}
	free(f->bounds);
	free(f->help);
	free(f->name);
	free(f);
}

void metrics_destroy(struct metrics *m)
{
	struct mfamily *f, *fn;
	struct mcollector *c, *cn;

	if (!m)
		return;
	metrics_stop(m);
	for (f = m->families; f; f = fn) {
		fn = f->next;
		family_free(f);
	}
	for (c = m->collectors; c; c = cn) {
		cn = c->next;
		free(c);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static bool same_bounds(const struct mfamily *f, const double *bounds, size_t n)
{
	return f->nbounds == n &&
	       !memcmp(f->bounds, bounds, n * sizeof(*bounds));
}

/*
 * Finds the family name or creates it, under m->lock. Returns NULL, with
 * *why set, on a type or bounds mismatch or no memory.
 */
static struct mfamily *family_get(struct metrics *m, const char *name,
				  const char *help, enum metrics_type type,
				  const double *bounds, size_t nbounds,
				  const char **why)
{
	struct mfamily *f;

	for (f = m->families; f; f = f->next)
		if (!strcmp(f->name, name))
			break;
	if (f) {
		if (f->type != type) {
			*why = "name registered with another type";
			return NULL;
		}
		if (type == METRICS_HISTOGRAM &&
		    !same_bounds(f, bounds, nbounds)) {
			*why = "histogram registered with other buckets";
			return NULL;
		}
		if (!f->help && help && *help)
			f->help = strdup(help); /* best effort */
		return f;
	}
	*why = "out of memory";
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->type = type;
	f->name = strdup(name);
	if (help && *help)
		f->help = strndup(help, METRICS_HELP_MAX);
	if (nbounds) {
		f->bounds = malloc(nbounds * sizeof(*bounds));
		if (f->bounds)
			memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
		f->nbounds = nbounds;
	}
	if (!f->name || (help && *help && !f->help) ||
	    (nbounds && !f->bounds)) {
		family_free(f);
		return NULL;
	}
	*m->families_tail = f;
	m->families_tail = &f->next;
	return f;
}

/* Common checks of metrics_add_*; returns the reason or NULL. */
static const char *check_add(const char *name, const char *labels,
			     bool histogram)
{
	if (!valid_metric_name(name))
		return "bad metric name";
	return check_labels(labels, histogram);
}

static void add_failed(const char *name, const char *labels, const char *why)
{
	log_error("metrics", "cannot register metric=%s labels={%.200s}: %s",
		  name ? name : "(null)", labels, why);
}

struct metrics_counter *metrics_add_counter(struct metrics *m, const char *name,
					    const char *help,
					    const char *labels)
{
	struct metrics_counter *c = NULL, **pp;
	struct mfamily *f;
	const char *why;
	size_t size;

	labels = labels ? labels : "";
	why = check_add(name, labels, false);
	if (why) {
		add_failed(name, labels, why);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	f = family_get(m, name, help, METRICS_COUNTER, NULL, 0, &why);
	if (!f)
		goto out_unlock;
	for (pp = &f->counters; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->labels, labels)) {
			c = *pp;
			goto out_unlock;
		}
	why = "out of memory";
	size = sizeof(*c) + (m->stripe_mask + 1) * sizeof(struct cstripe);
	if (posix_memalign((void **)&c, CACHE_LINE, size) != 0) {
		c = NULL;
		goto out_unlock;
	}
	memset(c, 0, size);
	c->mask = m->stripe_mask;
	c->labels = strdup(labels);
	if (!c->labels) {
		counter_free(c);
		c = NULL;
		goto out_unlock;
	}
	*pp = c;
out_unlock:
	pthread_mutex_unlock(&m->lock);
	if (!c)
		add_failed(name, labels, why);
	return c;
}

struct metrics_gauge *metrics_add_gauge(struct metrics *m, const char *name,
					const char *help, const char *labels)
{
	struct metrics_gauge *g = NULL, **pp;
	struct mfamily *f;
	const char *why;

	labels = labels ? labels : "";
	why = check_add(name, labels, false);
	if (why) {
		add_failed(name, labels, why);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	f = family_get(m, name, help, METRICS_GAUGE, NULL, 0, &why);
	if (!f)
		goto out_unlock;
	for (pp = &f->gauges; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->labels, labels)) {
			g = *pp;
			goto out_unlock;
		}
	why = "out of memory";
	if (posix_memalign((void **)&g, CACHE_LINE, sizeof(*g)) != 0) {
		g = NULL;
		goto out_unlock;
	}
	memset(g, 0, sizeof(*g));
	atomic_init(&g->v, 0);
	g->labels = strdup(labels);
	if (!g->labels) {
		gauge_free(g);
		g = NULL;
		goto out_unlock;
	}
	*pp = g;
out_unlock:
	pthread_mutex_unlock(&m->lock);
	if (!g)
		add_failed(name, labels, why);
	return g;
}

/* Counts the finite bounds, or returns -1 if they are not strictly
 * increasing finite numbers (a last +Inf is dropped). */
static long count_bounds(const double *bounds, size_t n)
{
	size_t i;

	if (n > 0 && isinf(bounds[n - 1]) && bounds[n - 1] > 0)
		n--;
	if (n == 0 || n > METRICS_BUCKETS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isfinite(bounds[i]))
			return -1;
		if (i > 0 && !(bounds[i] > bounds[i - 1]))
			return -1;
	}
	return (long)n;
}

struct metrics_histogram *
metrics_add_histogram(struct metrics *m, const char *name, const char *help,
		      const char *labels, const double *bounds, size_t nbounds)
{
	struct metrics_histogram *h = NULL, **pp;
	struct mfamily *f;
	const char *why;
	long nb;

	labels = labels ? labels : "";
	why = check_add(name, labels, true);
	nb = bounds ? count_bounds(bounds, nbounds) : -1;
	if (!why && nb < 0)
		why = "bucket bounds must be 1 to 32 increasing finite numbers";
	if (why) {
		add_failed(name, labels, why);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	f = family_get(m, name, help, METRICS_HISTOGRAM, bounds, (size_t)nb,
		       &why);
	if (!f)
		goto out_unlock;
	for (pp = &f->hists; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->labels, labels)) {
			h = *pp;
			goto out_unlock;
		}
	why = "out of memory";
	h = calloc(1, sizeof(*h));
	if (!h)
		goto out_unlock;
	h->bounds = f->bounds;
	h->nbounds = (unsigned)nb;
	h->mask = m->stripe_mask;
	/* nb + 1 bucket counts and the sum, rounded up to whole lines. */
	h->stride = ((size_t)(nb + 2) * sizeof(uint64_t) + CACHE_LINE - 1) /
		    CACHE_LINE * CACHE_LINE;
	h->labels = strdup(labels);
	if (!h->labels || posix_memalign((void **)&h->stripes, CACHE_LINE,
					 h->stride * (h->mask + 1)) != 0) {
		h->stripes = NULL;
		hist_free(h);
		h = NULL;
		goto out_unlock;
	}
	/* All zero bits: zero counts and a sum of +0.0. */
	memset(h->stripes, 0, h->stride * (h->mask + 1));
	*pp = h;
out_unlock:
	pthread_mutex_unlock(&m->lock);
	if (!h)
		add_failed(name, labels, why);
	return h;
}

int metrics_add_collector(struct metrics *m, metrics_collect_fn *fn, void *arg)
{
	struct mcollector *c = calloc(1, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&m->lock);
	*m->collectors_tail = c;
	m->collectors_tail = &c->next;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- updates ---- */

void metrics_counter_add(struct metrics_counter *c, uint64_t n)
{
	if (!c)
		return;
	atomic_fetch_add_explicit(&c->stripe[my_slot() & c->mask].v, n,
				  memory_order_relaxed);
}

void metrics_counter_inc(struct metrics_counter *c)
{
	metrics_counter_add(c, 1);
}

void metrics_gauge_set(struct metrics_gauge *g, int64_t v)
{
	if (g)
		atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void metrics_gauge_add(struct metrics_gauge *g, int64_t delta)
{
	if (g)
		atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

static inline _Atomic uint64_t *hist_stripe(const struct metrics_histogram *h,
					    unsigned slot)
{
	return (_Atomic uint64_t *)(void *)(h->stripes +
					    (slot & h->mask) * h->stride);
}

static inline double bits_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	_Atomic uint64_t *s;
	uint64_t old;
	unsigned i = 0;

	if (!h || isnan(v))
		return;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	s = hist_stripe(h, my_slot());
	atomic_fetch_add_explicit(&s[i], 1, memory_order_relaxed);
	old = atomic_load_explicit(&s[h->nbounds + 1], memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
	    &s[h->nbounds + 1], &old, double_bits(bits_double(old) + v),
	    memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- reads ---- */

uint64_t metrics_counter_value(const struct metrics_counter *c)
{
	uint64_t sum = 0;
	unsigned i;

	if (!c)
		return 0;
	for (i = 0; i <= c->mask; i++)
		sum +=
		    atomic_load_explicit(&c->stripe[i].v, memory_order_relaxed);
	return sum;
}

int64_t metrics_gauge_value(const struct metrics_gauge *g)
{
	return g ? atomic_load_explicit(&g->v, memory_order_relaxed) : 0;
}

/* Sums the stripes: counts[0..nbounds] per bucket (not cumulative). */
static void hist_read(const struct metrics_histogram *h, uint64_t *counts,
		      double *sum)
{
	_Atomic uint64_t *s;
	unsigned i, b;

	memset(counts, 0, (h->nbounds + 1) * sizeof(*counts));
	*sum = 0;
	for (i = 0; i <= h->mask; i++) {
		s = hist_stripe(h, i);
		for (b = 0; b <= h->nbounds; b++)
			counts[b] +=
			    atomic_load_explicit(&s[b], memory_order_relaxed);
		*sum += bits_double(atomic_load_explicit(&s[h->nbounds + 1],
							 memory_order_relaxed));
	}
}

uint64_t metrics_histogram_count(const struct metrics_histogram *h)
{
	uint64_t counts[METRICS_BUCKETS_MAX + 1], n = 0;
	double sum;
	unsigned b;

	if (!h)
		return 0;
	hist_read(h, counts, &sum);
	for (b = 0; b <= h->nbounds; b++)
		n += counts[b];
	return n;
}

/* ---- the writer ---- */

struct wfam {
	char *name;
	char *help; /* NULL: no # HELP line */
	enum metrics_type type;
	struct buf body;
};

struct metrics_writer {
	struct wfam *fams; /* order of first appearance */
	size_t nfams, capfams;
	uint32_t *table;   /* open addressing: fams index + 1 */
	size_t table_size; /* a power of two */
	int err;
	size_t dropped;
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static void writer_free(struct metrics_writer *w)
{
	size_t i;

	for (i = 0; i < w->nfams; i++) {
		free(w->fams[i].name);
		free(w->fams[i].help);
		buf_free(&w->fams[i].body);
	}
	free(w->fams);
	free(w->table);
}

static int table_grow(struct metrics_writer *w)
{
	size_t size = w->table_size ? w->table_size * 2 : 64, i, j;
	uint32_t *t = calloc(size, sizeof(*t));

	if (!t)
		return ERR_NOMEM;
	for (i = 0; i < w->nfams; i++) {
		j = hash_name(w->fams[i].name) & (size - 1);
		while (t[j])
			j = (j + 1) & (size - 1);
		t[j] = (uint32_t)(i + 1);
	}
	free(w->table);
	w->table = t;
	w->table_size = size;
	return 0;
}

/*
 * Finds or declares the family name. Returns NULL if its type differs
 * (*conflict set) or memory ran out (w->err set). The pointer is valid
 * until the next call.
 */
static struct wfam *writer_family(struct metrics_writer *w, const char *name,
				  enum metrics_type type, const char *help,
				  bool *conflict)
{
	struct wfam *f, *fams;
	size_t j;
	uint32_t idx;

	*conflict = false;
	if (w->err)
		return NULL;
	if ((w->nfams + 1) * 2 > w->table_size && table_grow(w) < 0)
		goto err_nomem;
	j = hash_name(name) & (w->table_size - 1);
	while ((idx = w->table[j]) != 0) {
		f = &w->fams[idx - 1];
		if (!strcmp(f->name, name)) {
			if (f->type != type) {
				*conflict = true;
				return NULL;
			}
			if (!f->help && help && *help)
				f->help = strndup(help, METRICS_HELP_MAX);
			return f;
		}
		j = (j + 1) & (w->table_size - 1);
	}
	if (w->nfams == w->capfams) {
		size_t cap = w->capfams ? w->capfams * 2 : 16;

		fams = realloc(w->fams, cap * sizeof(*fams));
		if (!fams)
			goto err_nomem;
		w->fams = fams;
		w->capfams = cap;
	}
	f = &w->fams[w->nfams];
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->name = strdup(name);
	if (help && *help)
		f->help = strndup(help, METRICS_HELP_MAX);
	w->table[j] = (uint32_t)++w->nfams;
	/* Counted even when a copy failed, so writer_free frees it. */
	if (!f->name || (help && *help && !f->help))
		goto err_nomem;
	return f;
err_nomem:
	w->err = ERR_NOMEM;
	return NULL;
}

static void put(struct metrics_writer *w, struct buf *b, const char *s,
		size_t n)
{
	if (!w->err && buf_append(b, s, n) < 0)
		w->err = ERR_NOMEM;
}

static void puts_(struct metrics_writer *w, struct buf *b, const char *s)
{
	put(w, b, s, strlen(s));
}

/*
 * Formats v as Prometheus reads it: NaN, +Inf, -Inf, integers exactly
 * below 2^53, else the shortest of %.15g or %.17g that reads back as v.
 */
static void fmt_double(char *out, size_t size, double v)
{
	if (isnan(v))
		snprintf(out, size, "NaN");
	else if (isinf(v))
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(out, size, "%.0f", v);
	else {
		snprintf(out, size, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, size, "%.17g", v);
	}
}

/* Appends s escaped as a label value (esc_quote) or help text. */
static void put_escaped(struct metrics_writer *w, struct buf *b, const char *s,
			bool esc_quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && esc_quote)
			rep = "\\\"";
		if (!rep)
			continue;
		put(w, b, run, (size_t)(s - run));
		puts_(w, b, rep);
		run = s + 1;
	}
	put(w, b, run, (size_t)(s - run));
}

/*
 * Appends name+suffix{labels,le="le"} value\n where labels is a validated
 * label string (may be empty) and le may be NULL.
 */
static void put_sample(struct metrics_writer *w, struct buf *b,
		       const char *name, const char *suffix, const char *labels,
		       const char *le, const char *value)
{
	puts_(w, b, name);
	puts_(w, b, suffix);
	if (*labels || le) {
		puts_(w, b, "{");
		puts_(w, b, labels);
		if (le) {
			puts_(w, b, *labels ? ",le=\"" : "le=\"");
			puts_(w, b, le);
			puts_(w, b, "\"");
		}
		puts_(w, b, "}");
	}
	puts_(w, b, " ");
	puts_(w, b, value);
	puts_(w, b, "\n");
}

static void drop_sample(struct metrics_writer *w, const char *name,
			const char *why)
{
	if (w->dropped++ == 0)
		log_warn("metrics", "scrape dropped sample metric=%.*s: %s",
			 METRICS_NAME_MAX, name ? name : "(null)", why);
}

void metrics_write_labels(struct metrics_writer *w, enum metrics_type type,
			  const char *name, const char *help, double value,
			  const char *const *labels, size_t npairs)
{
	struct wfam *f;
	bool conflict;
	char num[40];
	size_t i;

	if (type == METRICS_HISTOGRAM || type > METRICS_UNTYPED) {
		drop_sample(w, name, "collectors write counters and gauges");
		return;
	}
	if (!valid_metric_name(name)) {
		drop_sample(w, name, "bad metric name");
		return;
	}
	if (npairs > WRITE_LABELS_MAX) {
		drop_sample(w, name, "too many labels");
		return;
	}
	for (i = 0; i < npairs; i++) {
		const char *k = labels[2 * i];

		if (!k || !valid_label_name(k, strlen(k)) ||
		    !labels[2 * i + 1]) {
			drop_sample(w, name, "bad label name or NULL value");
			return;
		}
	}
	f = writer_family(w, name, type, help, &conflict);
	if (!f) {
		if (conflict)
			drop_sample(w, name, "type differs from its family");
		return;
	}
	puts_(w, &f->body, name);
	for (i = 0; i < npairs; i++) {
		puts_(w, &f->body, i == 0 ? "{" : ",");
		puts_(w, &f->body, labels[2 * i]);
		puts_(w, &f->body, "=\"");
		put_escaped(w, &f->body, labels[2 * i + 1], true);
		puts_(w, &f->body, "\"");
	}
	if (npairs)
		puts_(w, &f->body, "}");
	fmt_double(num, sizeof(num), value);
	puts_(w, &f->body, " ");
	puts_(w, &f->body, num);
	puts_(w, &f->body, "\n");
}

void metrics_write(struct metrics_writer *w, enum metrics_type type,
		   const char *name, const char *help, double value, ...)
{
	const char *labels[2 * WRITE_LABELS_MAX];
	const char *k;
	size_t n = 0;
	va_list ap;

	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		if (n == WRITE_LABELS_MAX) {
			n++;
			break;
		}
		labels[2 * n] = k;
		labels[2 * n + 1] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	if (n > WRITE_LABELS_MAX) {
		drop_sample(w, name, "too many labels");
		return;
	}
	metrics_write_labels(w, type, name, help, value, labels, n);
}

/* ---- rendering ---- */

static void render_family(struct metrics_writer *w, const struct mfamily *f)
{
	uint64_t counts[METRICS_BUCKETS_MAX + 1], cum;
	const struct metrics_counter *c;
	const struct metrics_gauge *g;
	const struct metrics_histogram *h;
	char num[40], le[40];
	struct wfam *wf;
	bool conflict;
	double sum;
	unsigned b;

	wf = writer_family(w, f->name, f->type, f->help, &conflict);
	if (!wf)
		return;
	for (c = f->counters; c; c = c->next) {
		snprintf(num, sizeof(num), "%" PRIu64,
			 metrics_counter_value(c));
		put_sample(w, &wf->body, f->name, "", c->labels, NULL, num);
	}
	for (g = f->gauges; g; g = g->next) {
		snprintf(num, sizeof(num), "%" PRId64, metrics_gauge_value(g));
		put_sample(w, &wf->body, f->name, "", g->labels, NULL, num);
	}
	for (h = f->hists; h; h = h->next) {
		hist_read(h, counts, &sum);
		cum = 0;
		for (b = 0; b <= h->nbounds; b++) {
			cum += counts[b];
			if (b < h->nbounds)
				fmt_double(le, sizeof(le), h->bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			snprintf(num, sizeof(num), "%" PRIu64, cum);
			put_sample(w, &wf->body, f->name, "_bucket", h->labels,
				   le, num);
		}
		fmt_double(num, sizeof(num), sum);
		put_sample(w, &wf->body, f->name, "_sum", h->labels, NULL, num);
		snprintf(num, sizeof(num), "%" PRIu64, cum);
		put_sample(w, &wf->body, f->name, "_count", h->labels, NULL,
			   num);
	}
}

static const char *type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	case METRICS_HISTOGRAM:
		return "histogram";
	default:
		return "untyped";
	}
}

int metrics_render(struct metrics *m, struct buf *out)
{
	struct metrics_writer w = {0};
	const struct mfamily *f;
	const struct mcollector *c;
	struct wfam *wf;
	size_t i;
	int rc;

	pthread_mutex_lock(&m->lock);
	for (f = m->families; f; f = f->next)
		render_family(&w, f);
	for (c = m->collectors; c; c = c->next)
		c->fn(c->arg, &w);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < w.nfams && !w.err; i++) {
		wf = &w.fams[i];
		if (wf->body.len == 0)
			continue;
		if (wf->help) {
			puts_(&w, out, "# HELP ");
			puts_(&w, out, wf->name);
			puts_(&w, out, " ");
			put_escaped(&w, out, wf->help, false);
			puts_(&w, out, "\n");
		}
		puts_(&w, out, "# TYPE ");
		puts_(&w, out, wf->name);
		puts_(&w, out, " ");
		puts_(&w, out, type_name(wf->type));
		puts_(&w, out, "\n");
		put(&w, out, (const char *)wf->body.data, wf->body.len);
	}
	if (w.dropped > 1)
		log_warn("metrics", "scrape dropped %zu samples", w.dropped);
	rc = w.err;
	writer_free(&w);
	return rc;
}
