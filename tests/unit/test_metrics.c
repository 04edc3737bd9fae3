/*
 * test_metrics.c - the metrics registry and its HTTP endpoint: exact
 * exposition text, registration errors, collectors (grouping, escaping,
 * merging), exact totals under concurrent updates, and a real HTTP server
 * on a free loopback port checked with real sockets: status, headers, a
 * body that parses as Prometheus text, error statuses, and clients that
 * connect and send nothing.
 */
#include "config.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/metrics.h"
#include "broker/metrics_int.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/net.h"

/* ---- a small Prometheus text (0.0.4) validator ---- */

#define V_FAMS	 256
#define V_SERIES 1024

struct vfam {
	char name[160];
	char type[16];
	bool help, typed, samples, closed;
};

struct vseries {
	int fam;
	char key[512]; /* labels without le */
	double last_le;
	double last_count;
	double inf_count; /* -1 until seen */
	double count;	  /* -1 until seen */
};

struct vstate {
	struct vfam fams[V_FAMS];
	int nfams, cur;
	struct vseries series[V_SERIES];
	int nseries;
	char err[256];
	int line;
};

static bool vfail(struct vstate *v, const char *what)
{
	snprintf(v->err, sizeof(v->err), "line %d: %s", v->line, what);
	return false;
}

static bool name_char(int c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* Reads a metric (colon) or label name at *p into out. */
static bool read_name(const char **p, char *out, size_t size, bool colon)
{
	size_t n = 0;

	if (!name_char(**p, true, colon))
		return false;
	while (name_char(**p, n == 0, colon) && n + 1 < size)
		out[n++] = *(*p)++;
	out[n] = '\0';
	return !name_char(**p, false, colon);
}

static bool parse_value(const char *s, size_t len, double *out)
{
	char tmp[64], *end;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!strcmp(tmp, "NaN")) {
		*out = NAN;
		return true;
	}
	if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf")) {
		*out = tmp[0] == '+' ? INFINITY : -INFINITY;
		return true;
	}
	if (!(tmp[0] == '-' || tmp[0] == '+' || tmp[0] == '.' ||
	      (tmp[0] >= '0' && tmp[0] <= '9')))
		return false;
	errno = 0;
	*out = strtod(tmp, &end);
	return *end == '\0' && errno == 0;
}

static int vfam_find(struct vstate *v, const char *name)
{
	int i;

	for (i = 0; i < v->nfams; i++)
		if (!strcmp(v->fams[i].name, name))
			return i;
	return -1;
}

/* A HELP or TYPE line for name: the family becomes current. */
static bool v_declare(struct vstate *v, const char *name, int *fi)
{
	int i = vfam_find(v, name);

	if (i < 0) {
		if (v->nfams == V_FAMS)
			return vfail(v, "too many families");
		i = v->nfams++;
		snprintf(v->fams[i].name, sizeof(v->fams[i].name), "%s", name);
	}
	if (v->fams[i].closed || v->fams[i].samples)
		return vfail(v, "HELP/TYPE after the family's samples");
	if (v->cur >= 0 && v->cur != i)
		v->fams[v->cur].closed = true;
	v->cur = i;
	*fi = i;
	return true;
}

static bool v_comment(struct vstate *v, const char *l)
{
	const char *p;
	char name[160];
	int fi;

	if (strncmp(l, "# HELP ", 7) && strncmp(l, "# TYPE ", 7))
		return true; /* a plain comment */
	p = l + 7;
	if (!read_name(&p, name, sizeof(name), true) ||
	    (*p != ' ' && *p != '\0'))
		return vfail(v, "bad name in HELP/TYPE");
	if (!v_declare(v, name, &fi))
		return false;
	if (l[2] == 'H') {
		if (v->fams[fi].help || v->fams[fi].typed)
			return vfail(v, "second HELP, or HELP after TYPE");
		v->fams[fi].help = true;
		for (p++; *p; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return vfail(v, "bad escape in HELP");
			else if (*p == '\\')
				p++;
		return true;
	}
	if (v->fams[fi].typed)
		return vfail(v, "second TYPE");
	if (*p++ != ' ' || (strcmp(p, "counter") && strcmp(p, "gauge") &&
			    strcmp(p, "histogram") && strcmp(p, "summary") &&
			    strcmp(p, "untyped")))
		return vfail(v, "bad TYPE");
	snprintf(v->fams[fi].type, sizeof(v->fams[fi].type), "%s", p);
	v->fams[fi].typed = true;
	return true;
}

/* The family of a sample name: itself, or a histogram's base name. */
static int v_family_of(struct vstate *v, const char *name, const char **suffix)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	char base[160];
	size_t n = strlen(name), k, i;
	int fi;

	*suffix = "";
	fi = vfam_find(v, name);
	if (fi >= 0 && strcmp(v->fams[fi].type, "histogram"))
		return fi;
	for (i = 0; i < 3; i++) {
		k = strlen(sfx[i]);
		if (n <= k || strcmp(name + n - k, sfx[i]))
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
		fi = vfam_find(v, base);
		if (fi >= 0 && !strcmp(v->fams[fi].type, "histogram")) {
			*suffix = sfx[i];
			return fi;
		}
	}
	return -1;
}

static struct vseries *v_series(struct vstate *v, int fi, const char *key)
{
	int i;

	for (i = 0; i < v->nseries; i++)
		if (v->series[i].fam == fi && !strcmp(v->series[i].key, key))
			return &v->series[i];
	if (v->nseries == V_SERIES)
		return NULL;
	v->series[v->nseries] = (struct vseries){
	    .fam = fi,
	    .last_le = -INFINITY,
	    .last_count = 0,
	    .inf_count = -1,
	    .count = -1,
	};
	snprintf(v->series[v->nseries].key, sizeof(v->series[0].key), "%s",
		 key);
	return &v->series[v->nseries++];
}

static bool v_sample(struct vstate *v, const char *l)
{
	const char *p = l, *suffix, *vs;
	char name[160], lname[160], key[512] = "", le[64] = "";
	double val, lev;
	struct vseries *s;
	size_t klen = 0;
	int fi;

	if (!read_name(&p, name, sizeof(name), true))
		return vfail(v, "bad metric name");
	if (*p == '{') {
		p++;
		while (*p != '}') {
			char value[256];
			size_t vn = 0;

			if (!read_name(&p, lname, sizeof(lname), false) ||
			    *p++ != '=' || *p++ != '"')
				return vfail(v, "bad label");
			for (; *p != '"'; p++) {
				if (*p == '\0')
					return vfail(v, "unterminated value");
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' &&
					    *p != 'n')
						return vfail(v, "bad escape");
				}
				if (vn + 1 < sizeof(value))
					value[vn++] = *p;
			}
			value[vn] = '\0';
			p++;
			if (!strcmp(lname, "le"))
				snprintf(le, sizeof(le), "%.63s", value);
			else
				klen += (size_t)snprintf(
				    key + klen, sizeof(key) - klen, "%s=%s,",
				    lname, value);
			if (klen >= sizeof(key))
				return vfail(v, "labels too long");
			if (*p == ',')
				p++;
			else if (*p != '}')
				return vfail(v, "expected , or }");
		}
		p++;
	}
	if (*p++ != ' ')
		return vfail(v, "expected a space before the value");
	vs = p;
	while (*p && *p != ' ')
		p++;
	if (!parse_value(vs, (size_t)(p - vs), &val))
		return vfail(v, "bad value");
	if (*p == ' ') { /* optional timestamp */
		for (p++; *p; p++)
			if (!(*p >= '0' && *p <= '9') && *p != '-')
				return vfail(v, "bad timestamp");
	}
	fi = v_family_of(v, name, &suffix);
	if (fi < 0 || !v->fams[fi].typed)
		return vfail(v, "sample before its family's TYPE");
	if (fi != v->cur || v->fams[fi].closed)
		return vfail(v, "family samples are not contiguous");
	v->fams[fi].samples = true;
	if (strcmp(v->fams[fi].type, "histogram"))
		return true;
	s = v_series(v, fi, key);
	if (!s)
		return vfail(v, "too many series");
	if (!strcmp(suffix, "_bucket")) {
		if (!le[0] || !parse_value(le, strlen(le), &lev))
			return vfail(v, "bucket without a valid le");
		if (s->inf_count >= 0 || !(lev > s->last_le))
			return vfail(v, "le not increasing, or after +Inf");
		if (val < s->last_count)
			return vfail(v, "buckets not cumulative");
		s->last_le = lev;
		s->last_count = val;
		if (isinf(lev))
			s->inf_count = val;
	} else if (!strcmp(suffix, "_count")) {
		s->count = val;
	} else if (le[0]) {
		return vfail(v, "le on a non-bucket sample");
	}
	return true;
}

/*
 * Checks text as Prometheus text format 0.0.4: every line a comment or
 * name{labels} value [timestamp]; HELP/TYPE before a family's samples and
 * at most once; a family's samples contiguous; histogram buckets
 * cumulative with increasing le, ending in +Inf equal to _count. Returns
 * NULL if valid (and the sample count in *nsamples), else the reason.
 */
static const char *prom_check(const char *text, int *nsamples)
{
	static struct vstate v;
	const char *p = text, *nl;
	char line[2048];
	int i, n = 0;

	memset(&v, 0, sizeof(v));
	v.cur = -1;
	if (*text && text[strlen(text) - 1] != '\n')
		return "text does not end in a newline";
	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		v.line++;
		if ((size_t)(nl - p) >= sizeof(line))
			return "line too long";
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (line[0] == '\0')
			continue;
		if (line[0] == '#' ? !v_comment(&v, line)
				   : (n++, !v_sample(&v, line)))
			return v.err;
	}
	for (i = 0; i < v.nseries; i++) {
		if (v.series[i].inf_count < 0)
			return "histogram without a +Inf bucket";
		if (v.series[i].count != v.series[i].inf_count)
			return "histogram _count differs from its +Inf bucket";
	}
	if (nsamples)
		*nsamples = n;
	return NULL;
}

static char *render(struct metrics *m)
{
	struct buf b = BUF_INIT;

	ck_assert_int_eq(metrics_render(m, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	return (char *)b.data;
}

START_TEST(test_validator_rejects_bad_text)
{
	static const char *const bad[] = {
	    "x 1\n", /* no TYPE */
	    "# TYPE x gauge\nx{a=\"1} 1\n",
	    "# TYPE x gauge\nx{a=\"\\t\"} 1\n",
	    "# TYPE x gauge\nx one\n",
	    "# TYPE x gauge\nx 1",
	    "# TYPE x gauge\n# TYPE y gauge\ny 1\nx 2\n",
	    "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n",
	    "# TYPE x gauge\nx 1\n# HELP x late\n",
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
	    "h_bucket{le=\"+Inf\"} 1\nh_count 1\n",
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
	    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n",
	    "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
	    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
	};
	const char *ok = "# HELP x a \\\\ b\n# TYPE x gauge\nx{a=\"q\\\"\"} "
			 "-1.5e-3\n# TYPE h histogram\n"
			 "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
			 "h_sum 3\nh_count 2\n";
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(prom_check(bad[i], NULL) != NULL,
			      "accepted bad text %zu", i);
	ck_assert_msg(prom_check(ok, &n) == NULL, "%s", prom_check(ok, &n));
	ck_assert_int_eq(n, 5);
}
END_TEST

START_TEST(test_exact_text)
{
	static const double bounds[] = {0.25, 0.5, 1};
	static const char expect[] =
	    "# HELP fluxo_requests_total Requests handled.\n"
	    "# TYPE fluxo_requests_total counter\n"
	    "fluxo_requests_total{api=\"Produce\"} 5\n"
	    "fluxo_requests_total{api=\"Fetch\",x=\"a\\\"b\"} 1\n"
	    "# HELP fluxo_connections Open connections;\\nsee "
	    "C:\\\\doc.\n"
	    "# TYPE fluxo_connections gauge\n"
	    "fluxo_connections 5\n"
	    "# TYPE fluxo_request_seconds histogram\n"
	    "fluxo_request_seconds_bucket{api=\"Produce\",le=\"0.25\"} 2\n"
	    "fluxo_request_seconds_bucket{api=\"Produce\",le=\"0.5\"} 2\n"
	    "fluxo_request_seconds_bucket{api=\"Produce\",le=\"1\"} 3\n"
	    "fluxo_request_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 4\n"
	    "fluxo_request_seconds_sum{api=\"Produce\"} 3.125\n"
	    "fluxo_request_seconds_count{api=\"Produce\"} 4\n"
	    "fluxo_request_seconds_bucket{le=\"0.25\"} 0\n"
	    "fluxo_request_seconds_bucket{le=\"0.5\"} 0\n"
	    "fluxo_request_seconds_bucket{le=\"1\"} 0\n"
	    "fluxo_request_seconds_bucket{le=\"+Inf\"} 0\n"
	    "fluxo_request_seconds_sum 0\n"
	    "fluxo_request_seconds_count 0\n";
	struct metrics *m = metrics_new();
	struct metrics_counter *c1, *c2;
	struct metrics_gauge *g;
	struct metrics_histogram *h;
	char *text;

	ck_assert_ptr_nonnull(m);
	c1 = metrics_add_counter(m, "fluxo_requests_total", "Requests handled.",
				 "api=\"Produce\"");
	c2 = metrics_add_counter(m, "fluxo_requests_total", "ignored",
				 "api=\"Fetch\",x=\"a\\\"b\"");
	g = metrics_add_gauge(m, "fluxo_connections",
			      "Open connections;\nsee C:\\doc.", NULL);
	h = metrics_add_histogram(m, "fluxo_request_seconds", NULL,
				  "api=\"Produce\"", bounds, 3);
	ck_assert_ptr_nonnull(metrics_add_histogram(m, "fluxo_request_seconds",
						    NULL, "", bounds, 3));
	ck_assert_ptr_nonnull(c1);
	ck_assert_ptr_nonnull(c2);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(h);
	metrics_counter_add(c1, 4);
	metrics_counter_inc(c1);
	metrics_counter_inc(c2);
	metrics_gauge_set(g, 7);
	metrics_gauge_add(g, -2);
	metrics_histogram_observe(h, 0.125);
	metrics_histogram_observe(h, 0.25); /* le: on the bound counts */
	metrics_histogram_observe(h, 0.75);
	metrics_histogram_observe(h, 2);
	metrics_histogram_observe(h, NAN); /* ignored */
	text = render(m);
	ck_assert_str_eq(text, expect);
	ck_assert_ptr_null(prom_check(text, NULL));
	ck_assert_uint_eq(metrics_counter_value(c1), 5);
	ck_assert_int_eq(metrics_gauge_value(g), 5);
	ck_assert_uint_eq(metrics_histogram_count(h), 4);
	free(text);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_latency_buckets_and_floats)
{
	static const char lines[] = "x_seconds_bucket{le=\"0.0001\"} 1\n"
				    "x_seconds_bucket{le=\"0.00025\"} 1\n"
				    "x_seconds_bucket{le=\"0.0005\"} 1\n"
				    "x_seconds_bucket{le=\"0.001\"} 2\n"
				    "x_seconds_bucket{le=\"0.0025\"} 2\n"
				    "x_seconds_bucket{le=\"0.005\"} 2\n"
				    "x_seconds_bucket{le=\"0.01\"} 2\n"
				    "x_seconds_bucket{le=\"0.025\"} 2\n"
				    "x_seconds_bucket{le=\"0.05\"} 2\n"
				    "x_seconds_bucket{le=\"0.1\"} 2\n"
				    "x_seconds_bucket{le=\"0.25\"} 2\n"
				    "x_seconds_bucket{le=\"0.5\"} 2\n"
				    "x_seconds_bucket{le=\"1\"} 2\n"
				    "x_seconds_bucket{le=\"2.5\"} 2\n"
				    "x_seconds_bucket{le=\"5\"} 2\n"
				    "x_seconds_bucket{le=\"10\"} 4\n"
				    "x_seconds_bucket{le=\"+Inf\"} 4\n"
				    "x_seconds_sum 20.00105\n"
				    "x_seconds_count 4\n";
	static const double with_inf[] = {1, 2, INFINITY};
	struct metrics *m = metrics_new();
	struct metrics_histogram *h;
	char *text;

	h = metrics_add_histogram(m, "x_seconds", NULL, NULL,
				  metrics_latency_buckets,
				  METRICS_LATENCY_NBUCKETS);
	ck_assert_ptr_nonnull(h);
	metrics_histogram_observe(h, 0.00005);
	metrics_histogram_observe(h, 0.001);
	metrics_histogram_observe(h, 10);
	metrics_histogram_observe(h, 10);
	/* A trailing +Inf bound is accepted and not doubled. */
	ck_assert_ptr_nonnull(
	    metrics_add_histogram(m, "y_seconds", NULL, "", with_inf, 3));
	text = render(m);
	ck_assert_msg(strstr(text, lines) != NULL, "%s", text);
	ck_assert_msg(strstr(text, "y_seconds_bucket{le=\"2\"} 0\n"
				   "y_seconds_bucket{le=\"+Inf\"} 0\n"),
		      "%s", text);
	ck_assert_ptr_null(prom_check(text, NULL));
	free(text);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_registration_rules)
{
	static const double b2[] = {1, 2}, b3[] = {1, 2, 3}, down[] = {2, 1};
	static const double nan_b[] = {1, NAN};
	struct metrics *m = metrics_new();
	struct metrics_counter *c;
	char *text;

	c = metrics_add_counter(m, "ok_total", NULL, "a=\"1\"");
	ck_assert_ptr_nonnull(c);
	/* Same name and labels: the same series. */
	ck_assert_ptr_eq(metrics_add_counter(m, "ok_total", NULL, "a=\"1\""),
			 c);
	ck_assert_ptr_ne(metrics_add_counter(m, "ok_total", NULL, "a=\"2\""),
			 c);
	/* Bad names and label strings. */
	ck_assert_ptr_null(metrics_add_counter(m, "1bad", NULL, NULL));
	ck_assert_ptr_null(metrics_add_counter(m, "bad-name", NULL, NULL));
	ck_assert_ptr_null(metrics_add_counter(m, "", NULL, NULL));
	ck_assert_ptr_null(metrics_add_counter(m, NULL, NULL, NULL));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=1"));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=\"1"));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=\"1\","));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=\"1\"b=\"\""));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=\"\\t\""));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "a=\"\n\""));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "__a=\"1\""));
	ck_assert_ptr_null(
	    metrics_add_counter(m, "x", NULL, "a=\"1\",a=\"2\""));
	ck_assert_ptr_null(metrics_add_counter(m, "x", NULL, "1a=\"1\""));
	/* A name keeps its type. */
	ck_assert_ptr_null(metrics_add_gauge(m, "ok_total", NULL, "a=\"3\""));
	ck_assert_ptr_null(
	    metrics_add_histogram(m, "ok_total", NULL, NULL, b2, 2));
	/* Histograms: bounds, le, and one set of bounds per family. */
	ck_assert_ptr_nonnull(metrics_add_histogram(m, "h", NULL, NULL, b2, 2));
	ck_assert_ptr_null(
	    metrics_add_histogram(m, "h", NULL, "a=\"1\"", b3, 3));
	ck_assert_ptr_null(metrics_add_histogram(m, "h2", NULL, NULL, down, 2));
	ck_assert_ptr_null(
	    metrics_add_histogram(m, "h2", NULL, NULL, nan_b, 2));
	ck_assert_ptr_null(metrics_add_histogram(m, "h2", NULL, NULL, b2, 0));
	ck_assert_ptr_null(metrics_add_histogram(m, "h2", NULL, NULL, NULL, 2));
	ck_assert_ptr_null(
	    metrics_add_histogram(m, "h2", NULL, "le=\"1\"", b2, 2));
	ck_assert_ptr_null(metrics_new_stripes(0));
	ck_assert_ptr_null(metrics_new_stripes(3));
	ck_assert_ptr_null(metrics_new_stripes(128));
	/* Updates through NULL do nothing. */
	metrics_counter_inc(NULL);
	metrics_counter_add(NULL, 3);
	metrics_gauge_set(NULL, 1);
	metrics_gauge_add(NULL, 1);
	metrics_histogram_observe(NULL, 1);
	ck_assert_uint_eq(metrics_counter_value(NULL), 0);
	/* No failed registration left a family behind. */
	text = render(m);
	ck_assert_ptr_null(strstr(text, "h2"));
	ck_assert_ptr_null(strstr(text, "# TYPE x "));
	ck_assert_ptr_null(prom_check(text, NULL));
	free(text);
	metrics_destroy(m);
	metrics_destroy(NULL);
}
END_TEST

/* A collector of per-partition state, interleaving three families. */
struct part_state {
	const char *topic;
	int parts;
};

static void collect_parts(void *arg, struct metrics_writer *w)
{
	const struct part_state *st = arg;
	const char *labels[4];
	char pbuf[16];
	int p;

	for (p = 0; p < st->parts; p++) {
		snprintf(pbuf, sizeof(pbuf), "%d", p);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_size_bytes",
			      "Bytes in the partition log.", 1000.0 * p,
			      "topic", st->topic, "partition", pbuf, NULL);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_segments", NULL,
			      (double)p + 1, "topic", st->topic, "partition",
			      pbuf, NULL);
		labels[0] = "topic";
		labels[1] = st->topic;
		labels[2] = "partition";
		labels[3] = pbuf;
		metrics_write_labels(w, METRICS_GAUGE, "fluxo_replica_lag",
				     "Follower lag.", p * 0.5, labels, 2);
	}
	/* Merges into the registered family. */
	metrics_write(w, METRICS_GAUGE, "fluxo_connections", NULL, 2,
		      "listener", "REPL", NULL);
	/* Dropped: type conflict, bad names, a histogram, NULL value. */
	metrics_write(w, METRICS_COUNTER, "fluxo_connections", NULL, 1, NULL);
	metrics_write(w, METRICS_GAUGE, "bad name", NULL, 1, NULL);
	metrics_write(w, METRICS_GAUGE, "x", NULL, 1, "bad-label", "v", NULL);
	metrics_write(w, METRICS_GAUGE, "x", NULL, 1, "__reserved", "v", NULL);
	metrics_write(w, METRICS_HISTOGRAM, "x", NULL, 1, NULL);
	metrics_write(w, METRICS_GAUGE, "x", NULL, 1, "a", (char *)NULL, NULL);
	/* Special values. */
	metrics_write(w, METRICS_UNTYPED, "fluxo_special", "Special values.",
		      INFINITY, "v", "inf", NULL);
	metrics_write(w, METRICS_UNTYPED, "fluxo_special", NULL, -INFINITY, "v",
		      "-inf", NULL);
	metrics_write(w, METRICS_UNTYPED, "fluxo_special", NULL, NAN, "v",
		      "nan", NULL);
	metrics_write(w, METRICS_UNTYPED, "fluxo_special", NULL, 0.1, "v",
		      "0.1", NULL);
	metrics_write(w, METRICS_UNTYPED, "fluxo_special", NULL, 1e300, "v",
		      "big", NULL);
}

START_TEST(test_collectors)
{
	static const char expect[] =
	    "# HELP fluxo_connections Open connections.\n"
	    "# TYPE fluxo_connections gauge\n"
	    "fluxo_connections{listener=\"CLIENT\"} 3\n"
	    "fluxo_connections{listener=\"REPL\"} 2\n"
	    "# HELP fluxo_log_size_bytes Bytes in the partition log.\n"
	    "# TYPE fluxo_log_size_bytes gauge\n"
	    "fluxo_log_size_bytes{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} "
	    "0\n"
	    "fluxo_log_size_bytes{topic=\"a\\\"b\\\\c\\nd\",partition=\"1\"} "
	    "1000\n"
	    "# TYPE fluxo_log_segments gauge\n"
	    "fluxo_log_segments{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 1\n"
	    "fluxo_log_segments{topic=\"a\\\"b\\\\c\\nd\",partition=\"1\"} 2\n"
	    "# HELP fluxo_replica_lag Follower lag.\n"
	    "# TYPE fluxo_replica_lag gauge\n"
	    "fluxo_replica_lag{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 0\n"
	    "fluxo_replica_lag{topic=\"a\\\"b\\\\c\\nd\",partition=\"1\"} 0.5\n"
	    "# HELP fluxo_special Special values.\n"
	    "# TYPE fluxo_special untyped\n"
	    "fluxo_special{v=\"inf\"} +Inf\n"
	    "fluxo_special{v=\"-inf\"} -Inf\n"
	    "fluxo_special{v=\"nan\"} NaN\n"
	    "fluxo_special{v=\"0.1\"} 0.1\n"
	    "fluxo_special{v=\"big\"} 1e+300\n";
	struct part_state st = {.topic = "a\"b\\c\nd", .parts = 2};
	struct metrics *m = metrics_new();
	char *text;
	int n = 0;

	metrics_gauge_set(metrics_add_gauge(m, "fluxo_connections",
					    "Open connections.",
					    "listener=\"CLIENT\""),
			  3);
	ck_assert_int_eq(metrics_add_collector(m, collect_parts, &st), 0);
	text = render(m);
	ck_assert_str_eq(text, expect);
	ck_assert_msg(prom_check(text, &n) == NULL, "%s", prom_check(text, &n));
	ck_assert_int_eq(n, 13);
	free(text);
	/* Many partitions: still grouped, and one HELP per family. */
	st.parts = 3000;
	text = render(m);
	ck_assert_msg(prom_check(text, &n) == NULL, "%s", prom_check(text, &n));
	ck_assert_int_eq(n, 2 + 3 * 3000 + 5);
	free(text);
	metrics_destroy(m);
}
END_TEST

/* ---- concurrency ---- */

#define THREADS	   4
#define PER_THREAD 100000

struct hot {
	struct metrics_counter *c;
	struct metrics_gauge *g;
	struct metrics_histogram *h;
	pthread_barrier_t start;
};

static void *hammer(void *arg)
{
	struct hot *hot = arg;
	int i;

	pthread_barrier_wait(&hot->start);
	for (i = 0; i < PER_THREAD; i++) {
		metrics_counter_inc(hot->c);
		metrics_gauge_add(hot->g, 1);
		metrics_histogram_observe(hot->h, i % 2 ? 0.5 : 2);
	}
	return NULL;
}

/* Run 0: stripes from the CPU count; run 1: one stripe, so that every
 * thread updates the same cache line. */
START_TEST(test_concurrent_updates_exact)
{
	static const double bounds[] = {1};
	struct metrics *m = _i == 0 ? metrics_new() : metrics_new_stripes(1);
	pthread_t th[THREADS];
	struct hot hot;
	char *text, want[256];
	int i;

	ck_assert_ptr_nonnull(m);

	hot.c = metrics_add_counter(m, "hot_total", NULL, NULL);
	hot.g = metrics_add_gauge(m, "hot_inflight", NULL, NULL);
	hot.h = metrics_add_histogram(m, "hot_seconds", NULL, NULL, bounds, 1);
	pthread_barrier_init(&hot.start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &hot), 0);
	/* Scrapes while the updates run stay valid. */
	for (i = 0; i < 20; i++) {
		text = render(m);
		ck_assert_msg(prom_check(text, NULL) == NULL, "%s",
			      prom_check(text, NULL));
		free(text);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&hot.start);
	ck_assert_uint_eq(metrics_counter_value(hot.c), THREADS * PER_THREAD);
	ck_assert_int_eq(metrics_gauge_value(hot.g), THREADS * PER_THREAD);
	ck_assert_uint_eq(metrics_histogram_count(hot.h), THREADS * PER_THREAD);
	text = render(m);
	snprintf(want, sizeof(want),
		 "hot_seconds_bucket{le=\"1\"} %d\n"
		 "hot_seconds_bucket{le=\"+Inf\"} %d\n"
		 "hot_seconds_sum %d\n"
		 "hot_seconds_count %d\n",
		 THREADS * PER_THREAD / 2, THREADS * PER_THREAD,
		 THREADS * PER_THREAD / 2 * 5 / 2, THREADS * PER_THREAD);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	snprintf(want, sizeof(want), "hot_total %d\n", THREADS * PER_THREAD);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	free(text);
	metrics_destroy(m);
}
END_TEST

/* ---- HTTP ---- */

struct resp {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
}

/* Reads until the server closes, within timeout_ms. Returns 0, or
 * ERR_TIMEOUT. ECONNRESET counts as a close. */
static int read_to_eof(int fd, struct buf *b, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char tmp[4096];
	ssize_t n;

	for (;;) {
		int64_t left = deadline - clock_mono_ms();

		if (left <= 0)
			return ERR_TIMEOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0)
			ck_abort_msg("recv: %s", strerror(errno));
		ck_assert_int_eq(buf_append(b, tmp, (size_t)n), 0);
	}
}

static int connect_port(int port)
{
	char err[256];
	int fd = net_connect("127.0.0.1", port, 2000, err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	return fd;
}

/* Sends raw bytes, then reads and splits the response. */
static void http_raw(int port, const char *req, size_t len, struct resp *r)
{
	struct buf b = BUF_INIT;
	char *sep;
	int fd = connect_port(port);

	ck_assert_int_eq(net_write_all(fd, req, len, clock_mono_ms() + 2000),
			 0);
	ck_assert_int_eq(read_to_eof(fd, &b, 5000), 0);
	close(fd);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	sep = strstr((char *)b.data, "\r\n\r\n");
	ck_assert_msg(sep != NULL, "no header end in: %s", (char *)b.data);
	*sep = '\0';
	r->head = strdup((char *)b.data);
	r->body = strdup(sep + 4);
	r->body_len = b.len - 1 - (size_t)(sep + 4 - (char *)b.data);
	ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	buf_free(&b);
}

static void http_get(int port, const char *method, const char *path,
		     struct resp *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "User-Agent: test\r\nAccept: */*\r\n\r\n",
			 method, path);

	http_raw(port, req, (size_t)n, r);
}

static size_t content_length(const struct resp *r)
{
	const char *p = strstr(r->head, "\r\nContent-Length: ");

	ck_assert_ptr_nonnull(p);
	return strtoul(p + 18, NULL, 10);
}

static struct metrics *serving_registry(void)
{
	struct metrics *m = metrics_new();
	struct metrics_histogram *h;
	char err[256];
	int i;

	metrics_counter_add(metrics_add_counter(m, "fluxo_requests_total",
						"Requests.", "api=\"Produce\""),
			    42);
	h = metrics_add_histogram(m, "fluxo_request_seconds", "Latency.",
				  "api=\"Produce\"", metrics_latency_buckets,
				  METRICS_LATENCY_NBUCKETS);
	for (i = 0; i < 100; i++)
		metrics_histogram_observe(h, i * 0.001);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0", err, sizeof(err)), 0);
	ck_assert_int_gt(metrics_port(m), 0);
	return m;
}

START_TEST(test_http_metrics)
{
	struct metrics *m = serving_registry();
	struct resp r;
	int n = 0;

	http_get(metrics_port(m), "GET", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.head, "\r\nContent-Type: text/plain; "
				     "version=0.0.4") != NULL,
		      "%s", r.head);
	ck_assert_msg(strstr(r.head, "\r\nConnection: close") != NULL, "%s",
		      r.head);
	ck_assert_uint_eq(content_length(&r), r.body_len);
	ck_assert_uint_eq(strlen(r.body), r.body_len);
	ck_assert_msg(prom_check(r.body, &n) == NULL, "%s",
		      prom_check(r.body, &n));
	ck_assert_int_eq(n, 1 + 17 + 2);
	ck_assert_ptr_nonnull(
	    strstr(r.body, "fluxo_requests_total{api=\"Produce\"} 42\n"));
	ck_assert_ptr_nonnull(strstr(
	    r.body, "fluxo_request_seconds_count{api=\"Produce\"} 100\n"));
	resp_free(&r);

	/* A query string is ignored. */
	http_get(metrics_port(m), "GET", "/metrics?name[]=x", &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);

	/* HEAD: the headers of GET, no body. */
	http_get(metrics_port(m), "HEAD", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_gt(content_length(&r), 100);
	ck_assert_uint_eq(r.body_len, 0);
	resp_free(&r);

	/* The index page links /metrics. */
	http_get(metrics_port(m), "GET", "/", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: text/html"));
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/metrics\""));
	ck_assert_uint_eq(content_length(&r), r.body_len);
	resp_free(&r);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_http_errors)
{
	struct metrics *m = serving_registry();
	char big[9000];
	struct resp r;
	int port = metrics_port(m);

	http_get(port, "GET", "/nope", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_uint_eq(content_length(&r), r.body_len);
	resp_free(&r);
	http_get(port, "GET", "/metricsx", &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);
	http_get(port, "POST", "/metrics", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nAllow: GET, HEAD"));
	resp_free(&r);
	http_raw(port, "hello\r\n\r\n", 9, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	http_raw(port, "GET /metrics\r\n\r\n", 16, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	/* A head that never ends within 8 KiB. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	http_raw(port, big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 431);
	resp_free(&r);
	/* Bare LF line ends are accepted. */
	http_raw(port, "GET /metrics HTTP/1.0\n\n", 23, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	/* Still serving after all that. */
	http_get(port, "GET", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	metrics_destroy(m);
}
END_TEST

static void collect_many(void *arg, struct metrics_writer *w)
{
	char pbuf[16];
	int p;

	for (p = 0; p < 20000; p++) {
		snprintf(pbuf, sizeof(pbuf), "%d", p);
		metrics_write(w, METRICS_GAUGE, "fluxo_log_size_bytes", NULL, p,
			      "topic", "a-topic-with-a-long-name", "partition",
			      pbuf, NULL);
	}
}

/*
 * A client that sends more after its request head (a body) and reads a
 * large response slowly: closing with that input unread would reset the
 * connection and drop the response's tail still queued in the server; the
 * server drains instead, and the whole response arrives.
 */
START_TEST(test_http_unread_input)
{
	static const char head[] = "GET /metrics HTTP/1.1\r\n\r\n";
	struct metrics *m = metrics_new();
	struct buf b = BUF_INIT;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, small = 4096, rc;
	char err[256], *sep;

	ck_assert_int_eq(metrics_add_collector(m, collect_many, NULL), 0);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0", err, sizeof(err)), 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	sa.sin_port = htons((uint16_t)metrics_port(m));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(
	    net_write_all(fd, head, sizeof(head) - 1, clock_mono_ms() + 2000),
	    0);
	usleep(200000); /* the server renders and fills the window */
	ck_assert_int_eq(
	    net_write_all(fd, "trailing bytes", 14, clock_mono_ms() + 2000), 0);
	usleep(100000);
	rc = read_to_eof(fd, &b, 10000);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	sep = strstr((char *)b.data, "\r\n\r\n");
	ck_assert_ptr_nonnull(sep);
	ck_assert_uint_eq(
	    strtoul(strstr((char *)b.data, "Content-Length: ") + 16, NULL, 10),
	    strlen(sep + 4));
	ck_assert_uint_gt(strlen(sep + 4), 1000000);
	close(fd);
	buf_free(&b);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_http_silent_client)
{
	struct metrics *m = metrics_new();
	struct buf b = BUF_INIT;
	struct pollfd pfd;
	char err[256];
	struct resp r;
	int64_t t0, waited;
	int silent;

	metrics_set_http_timeout(m, 1000);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0/", err, sizeof(err)), 0);
	t0 = clock_mono_ms();
	silent = connect_port(metrics_port(m));
	/* Others are answered while the silent client hangs on. */
	http_get(metrics_port(m), "GET", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	pfd.fd = silent;
	pfd.events = POLLIN;
	if (clock_mono_ms() - t0 < 800)
		ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* Then it is cut off, after about the timeout. */
	ck_assert_int_eq(read_to_eof(silent, &b, 5000), 0);
	waited = clock_mono_ms() - t0;
	ck_assert_int_ge(waited, 900);
	ck_assert_int_lt(waited, 4000);
	ck_assert_uint_eq(b.len, 0);
	close(silent);
	buf_free(&b);
	http_get(metrics_port(m), "GET", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_http_many_idle_clients)
{
	struct metrics *m = metrics_new();
	struct buf b = BUF_INIT;
	int idle[40], i, port;
	char err[256];
	struct resp r;
	int64_t t0;

	metrics_set_http_timeout(m, 30000);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0/metrics", err, sizeof(err)),
	    0);
	port = metrics_port(m);
	for (i = 0; i < 40; i++) {
		idle[i] = connect_port(port);
		/* Let the server accept them in order. */
		if (i % 8 == 7)
			usleep(20000);
	}
	/* A scraper still gets through, long before the 30 s timeout: it
	 * evicts the oldest idle connection. */
	t0 = clock_mono_ms();
	http_get(port, "GET", "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_lt(clock_mono_ms() - t0, 5000);
	resp_free(&r);
	/* The first idle client was evicted; the newest still waits. */
	ck_assert_int_eq(read_to_eof(idle[0], &b, 5000), 0);
	ck_assert_uint_eq(b.len, 0);
	{
		struct pollfd pfd = {.fd = idle[39], .events = POLLIN};

		ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	}
	for (i = 0; i < 40; i++)
		close(idle[i]);
	buf_free(&b);
	metrics_destroy(m);
}
END_TEST

START_TEST(test_serve_and_stop)
{
	struct metrics *m = metrics_new(), *m2 = metrics_new();
	char err[256], url[64];
	int port, fd;

	ck_assert_int_eq(metrics_port(m), -1);
	metrics_stop(m); /* not serving: nothing */
	ck_assert_int_eq(
	    metrics_serve(m, "tcp://127.0.0.1:0", err, sizeof(err)), ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "tcp://127.0.0.1:0"));
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:99999", err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_int_eq(metrics_serve(m, "http://127.0.0.1", err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0/x", err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_int_eq(metrics_serve(m, NULL, err, sizeof(err)), ERR_INVAL);
	ck_assert_int_eq(
	    metrics_serve(m, "HTTP://127.0.0.1:0", err, sizeof(err)), 0);
	port = metrics_port(m);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(
	    metrics_serve(m, "http://127.0.0.1:0", err, sizeof(err)),
	    ERR_STATE);
	/* The port is taken. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	ck_assert_int_eq(metrics_serve(m2, url, err, sizeof(err)), ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1"));
	metrics_stop(m);
	ck_assert_int_eq(metrics_port(m), -1);
	fd = net_connect("127.0.0.1", port, 1000, err, sizeof(err));
	ck_assert_int_lt(fd, 0);
	/* Served again after a stop, then destroyed while serving. */
	ck_assert_int_eq(metrics_serve(m, url, err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_port(m), port);
	metrics_destroy(m);
	metrics_destroy(m2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("registry");
	TCase *th = tcase_create("http");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_validator_rejects_bad_text);
	tcase_add_test(tc, test_exact_text);
	tcase_add_test(tc, test_latency_buckets_and_floats);
	tcase_add_test(tc, test_registration_rules);
	tcase_add_test(tc, test_collectors);
	tcase_add_loop_test(tc, test_concurrent_updates_exact, 0, 2);
	suite_add_tcase(s, tc);
	tcase_add_test(th, test_http_metrics);
	tcase_add_test(th, test_http_errors);
	tcase_add_test(th, test_http_unread_input);
	tcase_add_test(th, test_http_silent_client);
	tcase_add_test(th, test_http_many_idle_clients);
	tcase_add_test(th, test_serve_and_stop);
	tcase_set_timeout(th, 30);
	suite_add_tcase(s, th);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
