/*
 * metrics.h - broker metrics: a registry of counters, gauges and
 * histograms, exposed as Prometheus text (format 0.0.4) over HTTP.
 *
 * A metric family is a name, a type and a help line; a series is one
 * family plus a fixed label set given once as text (`api="Produce"`).
 * Series are created through the registry and live until the registry is
 * destroyed; there is no removal. Values that come from live state (per
 * partition log size, follower lag, ...) are not registered at all:
 * a collector callback writes them at scrape time.
 *
 * Threads and locks:
 * - Registration (metrics_add_*) takes the registry mutex; it is meant for
 *   start-up but is safe from any thread at any time. A collector must not
 *   call metrics_add_*: it runs with the mutex held.
 * - Updates (metrics_counter_*, metrics_gauge_*, metrics_histogram_*) are
 *   lock-free and may be called from any thread. Counters and histograms
 *   are striped per thread (one cache line per stripe) so that hot-path
 *   updates do not bounce a shared line; a scrape sums the stripes.
 *   Update functions accept NULL and then do nothing, so a series whose
 *   registration failed costs nothing and crashes nothing.
 * - Scrapes (metrics_render, and so every collector) run on the HTTP
 *   thread started by metrics_serve, or on whichever thread calls
 *   metrics_render. A scrape reads each stripe with a relaxed atomic load:
 *   values are not a snapshot across series, but each histogram's
 *   `_count` always equals its `+Inf` bucket.
 * - metrics_serve, metrics_stop and metrics_destroy are called by the
 *   owning thread (the broker's main thread), never concurrently with each
 *   other and never from a collector.
 */
#ifndef FLUXO_METRICS_H
#define FLUXO_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;
struct metrics_writer;

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
	METRICS_UNTYPED,
};

/* Longest metric name, label string and help line accepted. */
#define METRICS_NAME_MAX   128
#define METRICS_LABELS_MAX 1024
#define METRICS_HELP_MAX   1024
/* Most finite bucket bounds a histogram may have (+Inf is implicit). */
#define METRICS_BUCKETS_MAX 32

/*
 * Request latency buckets in seconds, 100 us to 10 s (+Inf is implicit):
 * 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1
 * 2.5 5 10.
 */
#define METRICS_LATENCY_NBUCKETS 16
extern const double metrics_latency_buckets[METRICS_LATENCY_NBUCKETS];

/* ---- registry ---- */

/*
 * Creates an empty registry. Counters and histograms get one stripe per
 * online CPU (rounded up to a power of two, at most 64). Returns NULL when
 * out of memory. Caller frees with metrics_destroy.
 */
struct metrics *metrics_new(void);

/*
 * Stops the HTTP server if running, then frees the registry with every
 * series and collector in it. Every metrics_counter/gauge/histogram
 * pointer obtained from m dangles afterwards: no thread may update them
 * any more. metrics_destroy(NULL) does nothing.
 */
void metrics_destroy(struct metrics *m);

/*
 * Registers (or finds) the series name{labels} of a counter or gauge
 * family.
 * name:   a Prometheus metric name, [a-zA-Z_:][a-zA-Z0-9_:]*; counters
 *         should end in _total.
 * help:   one line for # HELP; taken from the first registration of the
 *         family, may be NULL. Copied.
 * labels: NULL or "" for none, else `k="v"` pairs separated by commas,
 *         values already escaped (\\, \" and \n). Copied.
 * Returns the series, owned by m (valid until metrics_destroy). The same
 * name and labels return the same series. Returns NULL, and logs why,
 * for an invalid name or label string, a name already registered with
 * another type, or no memory.
 */
struct metrics_counter *metrics_add_counter(struct metrics *m, const char *name,
					    const char *help,
					    const char *labels);
struct metrics_gauge *metrics_add_gauge(struct metrics *m, const char *name,
					const char *help, const char *labels);

/*
 * Registers (or finds) the series name{labels} of a histogram family with
 * the given finite bucket upper bounds, strictly increasing (a last bound
 * of +Inf is accepted and ignored). Samples are exposed as name_bucket
 * {..., le="bound"} (cumulative, ending with le="+Inf"), name_sum and
 * name_count. The bounds belong to the family: every series of one family
 * must pass the same ones. labels may not use "le". Other parameters,
 * ownership and return as metrics_add_counter; also NULL for bad bounds.
 */
struct metrics_histogram *
metrics_add_histogram(struct metrics *m, const char *name, const char *help,
		      const char *labels, const double *bounds, size_t nbounds);

/* ---- updates: any thread, lock-free, NULL-safe ---- */

/* Adds n (or 1) to a counter. Wraps at 2^64. */
void metrics_counter_add(struct metrics_counter *c, uint64_t n);
void metrics_counter_inc(struct metrics_counter *c);

/* Sets a gauge, or adds a (possibly negative) delta to it. */
void metrics_gauge_set(struct metrics_gauge *g, int64_t v);
void metrics_gauge_add(struct metrics_gauge *g, int64_t delta);

/*
 * Counts v in the first bucket whose bound is >= v (Prometheus' le) and
 * adds v to the sum. A NaN is ignored.
 */
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/* Reads a value (the stripes summed): for tests and for the broker's own
 * use, e.g. logging. Any thread. NULL reads 0. */
uint64_t metrics_counter_value(const struct metrics_counter *c);
int64_t metrics_gauge_value(const struct metrics_gauge *g);
uint64_t metrics_histogram_count(const struct metrics_histogram *h);

/* ---- collectors and the exposition writer ---- */

/*
 * A collector writes extra samples at scrape time with metrics_write*
 * below, computed from live state. It runs on the scraping thread with
 * the registry mutex held (so it must not call metrics_add_*), takes the
 * locks its own state needs, and should be quick. Lock order is registry
 * mutex, then the collector's locks: never call metrics_add_* while
 * holding a lock a collector takes. The state a collector reads must
 * outlive metrics_stop (stop serving before tearing it down).
 */
typedef void metrics_collect_fn(void *arg, struct metrics_writer *w);

/*
 * Adds a collector; collectors run in the order added, after the
 * registered series are written. arg is borrowed until metrics_destroy.
 * Returns 0 or ERR_NOMEM.
 */
int metrics_add_collector(struct metrics *m, metrics_collect_fn *fn, void *arg);

/*
 * Writes one sample name{k1="v1",...} value. The family (name, type,
 * help) is declared by the first sample of a scrape that names it; the
 * output groups every family's samples under one # HELP and # TYPE line
 * whatever order samples are written in, and merges them with a
 * registered family of the same name and type.
 * type:  METRICS_COUNTER, METRICS_GAUGE or METRICS_UNTYPED.
 * The variadic arguments are label name, label value pairs (const char *)
 * ended by NULL; values are raw and escaped here. A sample with an
 * invalid metric or label name, a histogram type, more than 16 labels or
 * a type different from its family's is dropped (and logged once per
 * scrape). A collector must not write the same series twice.
 */
void metrics_write(struct metrics_writer *w, enum metrics_type type,
		   const char *name, const char *help, double value, ...)
    __attribute__((sentinel));

/* As metrics_write, labels given as an array of npairs name, value
 * pairs (labels[2 * i], labels[2 * i + 1]). */
void metrics_write_labels(struct metrics_writer *w, enum metrics_type type,
			  const char *name, const char *help, double value,
			  const char *const *labels, size_t npairs);

/*
 * Appends the whole exposition (registered series, then collectors) to
 * out. Runs the collectors on the calling thread. Returns 0, or ERR_NOMEM
 * (out may then hold part of the text).
 */
int metrics_render(struct metrics *m, struct buf *out);

/* ---- HTTP endpoint ---- */

/*
 * Sets how long one HTTP connection may live, from accept to close
 * (reading the request and writing the response); default 10000 ms.
 * Takes effect for connections accepted afterwards. Owning thread.
 */
void metrics_set_http_timeout(struct metrics *m, int timeout_ms);

/*
 * Starts one thread serving m on url, "http://host:port" (an empty host
 * means every interface; a trailing "/" or "/metrics" is allowed; port 0
 * picks a free port, see metrics_port). It answers GET or HEAD of
 * /metrics with the exposition (Content-Type: text/plain; version=0.0.4),
 * of / with a short HTML page linking it; other paths get 404, other
 * methods 405, malformed requests 400, requests over 8 KiB 431. One
 * response per connection (Connection: close). At most 32 connections
 * are open at a time: a new one then evicts the oldest still reading its
 * request. The thread blocks every signal.
 * Returns 0; ERR_INVAL for a bad url, ERR_IO if the address cannot be
 * bound, ERR_STATE if already serving, ERR_NOMEM; errstr then holds a
 * sentence naming the address.
 */
int metrics_serve(struct metrics *m, const char *url, char *errstr,
		  size_t errstr_size);

/* The port metrics_serve bound, or -1 when not serving. Any thread. */
int metrics_port(const struct metrics *m);

/* Stops the HTTP thread and closes the listener and every connection;
 * does nothing when not serving. Owning thread. */
void metrics_stop(struct metrics *m);

#endif
