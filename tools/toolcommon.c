/*
 * toolcommon.c - argument parsing, usage, properties and signals for the
 * command-line tools.
 *
 * The tools copy Kafka's flag names so that anyone who knows
 * kafka-topics.sh or kafka-console-consumer.sh can use them unchanged.
 * Kafka's tools use joptsimple; here each tool describes its flags in one
 * table (struct tool_flag), and that table builds the getopt_long option
 * array, the --help text and the hints of error messages, so a flag exists
 * in exactly one place.
 *
 * getopt_long runs in REQUIRE_ORDER mode ("+") with its own messages off
 * (":"): we report errors ourselves, one line naming the flag and the fix,
 * and we handle positional arguments as they come instead of letting
 * getopt permute argv. Two joptsimple behaviours are added on top: an
 * optional value may follow as the next word ("--compression-codec lz4"),
 * and a multi-value flag takes every following word up to the next flag
 * ("--producer-props a=1 b=2").
 *
 * Signals only set a flag (sig_atomic_t); the tools poll tool_stopping() in
 * their loops and leave cleanly: producers flush, consumers print their
 * summary. SA_RESETHAND makes a second Ctrl-C kill a tool that is stuck.
 */
#include "config.h"

#include "toolcommon.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

FILE *tool_out;
FILE *tool_err;

/* getopt "val" of the built-in flags and the offset of table flags. */
#define VAL_HELP 1
#define VAL_VERSION 2
#define VAL_BASE 1000

static const struct tool_flag help_flag = {
	"help", TOOL_ARG_NONE, NULL, "Print this usage and exit.", 0
};
static const struct tool_flag version_flag = {
	"version", TOOL_ARG_NONE, NULL, "Print the version and exit.", 0
};

static FILE *out_stream(void)
{
	return tool_out ? tool_out : stdout;
}

static FILE *err_stream(void)
{
	return tool_err ? tool_err : stderr;
}

static size_t flag_count(const struct tool_spec *spec)
{
	size_t n = 0;

	while (spec->flags && spec->flags[n].name)
		n++;
	return n;
}

/* ------------------------------------------------------------------ usage */

/*
 * Writes text word-wrapped at 79 columns, continuation lines indented to
 * col. The cursor is at column first_used; the text starts at col, or on
 * the next line when fewer than gap spaces would separate it.
 */
static void print_wrapped(FILE *out, const char *text, size_t col,
			  size_t first_used, size_t gap)
{
	const size_t width = 79;
	size_t used = first_used;
	const char *p = text;

	if (used > 0 && used + gap > col) {
		fputc('\n', out);
		used = 0;
	}
	fprintf(out, "%*s", (int)(col - used), "");
	used = col;
	while (*p) {
		const char *w = p;
		size_t len;

		while (*w == ' ')
			w++;
		if (!*w)
			break;
		len = strcspn(w, " \n");
		if (used > col && used + 1 + len > width) {
			fprintf(out, "\n%*s", (int)col, "");
			used = col;
		} else if (used > col) {
			fputc(' ', out);
			used++;
		}
		fwrite(w, 1, len, out);
		used += len;
		p = w + len;
		if (*p == '\n') {
			fprintf(out, "\n%*s", (int)col, "");
			used = col;
			p++;
		}
	}
	fputc('\n', out);
}

static int flag_label(const struct tool_flag *f, char *buf, size_t size)
{
	switch (f->arg) {
	case TOOL_ARG_REQUIRED:
		return snprintf(buf, size, "--%s %s", f->name,
				f->metavar ? f->metavar : "VALUE");
	case TOOL_ARG_OPTIONAL:
		return snprintf(buf, size, "--%s [%s]", f->name,
				f->metavar ? f->metavar : "VALUE");
	case TOOL_ARG_MULTI:
		return snprintf(buf, size, "--%s %s%s", f->name,
				f->metavar ? f->metavar : "VALUE",
				f->metavar && strstr(f->metavar, "...") ?
					"" :
					"...");
	case TOOL_ARG_NONE:
	default:
		return snprintf(buf, size, "--%s", f->name);
	}
}

static void usage_flag(FILE *out, const struct tool_flag *f, size_t col)
{
	char label[128];
	int n = flag_label(f, label, sizeof(label));

	fprintf(out, "  %s", label);
	print_wrapped(out, f->help ? f->help : "", col,
		      2 + (n > 0 ? (size_t)n : 0), 2);
}

void tool_usage(const struct tool_spec *spec, FILE *out)
{
	size_t i, n = flag_count(spec), col = 0;
	char label[128];

	fprintf(out, "Usage: %s", spec->prog);
	print_wrapped(out, spec->synopsis ? spec->synopsis : "[options]",
		      8 + strlen(spec->prog), 7 + strlen(spec->prog), 1);
	if (spec->summary) {
		fputc('\n', out);
		print_wrapped(out, spec->summary, 0, 0, 0);
	}
	for (i = 0; i < n; i++) {
		int len = flag_label(&spec->flags[i], label, sizeof(label));

		/* Labels too long for the column go on a line of their own. */
		if (len > 0 && len <= 30 && (size_t)len + 4 > col)
			col = (size_t)len + 4;
	}
	if (col < 16)
		col = 16;
	fputs("\nOptions:\n", out);
	for (i = 0; i < n; i++)
		usage_flag(out, &spec->flags[i], col);
	usage_flag(out, &help_flag, col);
	usage_flag(out, &version_flag, col);
}

static void vreport(const struct tool_spec *spec, bool hint, const char *fmt,
		    va_list ap)
{
	FILE *err = err_stream();

	fprintf(err, "%s: ", spec->prog);
	vfprintf(err, fmt, ap);
	fputc('\n', err);
	if (hint)
		fputs("Run with --help for usage.\n", err);
	fflush(err);
}

int tool_usage_error(const struct tool_spec *spec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(spec, true, fmt, ap);
	va_end(ap);
	return TOOL_ERROR;
}

int tool_error(const struct tool_spec *spec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(spec, false, fmt, ap);
	va_end(ap);
	return TOOL_ERROR;
}

/* ---------------------------------------------------------------- parsing */

/* Edit distance, for "did you mean" hints; short strings only. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

static int unknown_flag(const struct tool_spec *spec, const char *arg)
{
	char name[64];
	const char *p = arg, *best = NULL;
	size_t len, i, n = flag_count(spec), best_d = SIZE_MAX, prefix_hits = 0;

	while (*p == '-')
		p++;
	len = strcspn(p, "=");
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, p, len);
	name[len] = '\0';
	for (i = 0; i < n; i++) {
		const char *cand = spec->flags[i].name;
		size_t d;

		if (len > 0 && strncmp(cand, name, len) == 0)
			prefix_hits++;
		d = edit_distance(name, cand);
		if (d < best_d) {
			best_d = d;
			best = cand;
		}
	}
	if (prefix_hits > 1)
		return tool_usage_error(spec,
					"option '%s' is ambiguous; write the "
					"flag's full name",
					arg);
	if (best && len > 0 && best_d <= (len > 6 ? len / 3 : 2))
		return tool_usage_error(spec,
					"unrecognized option '%s' (did you "
					"mean '--%s'?)",
					arg, best);
	if (arg[0] != '-')
		return tool_usage_error(spec,
					"unexpected argument '%s' (flags "
					"start with --; values follow their "
					"flag)",
					arg);
	return tool_usage_error(spec,
				"unrecognized option '%s' (remove it or "
				"check its spelling)",
				arg);
}

static int missing_value(const struct tool_spec *spec,
			 const struct tool_flag *f)
{
	return tool_usage_error(spec, "option '--%s' requires a value (e.g. "
				      "--%s %s)",
				f->name, f->name,
				f->metavar ? f->metavar : "VALUE");
}

static const struct tool_flag *flag_by_val(const struct tool_spec *spec,
					   int val)
{
	size_t n = flag_count(spec);

	if (val == VAL_HELP)
		return &help_flag;
	if (val == VAL_VERSION)
		return &version_flag;
	if (val >= VAL_BASE && (size_t)(val - VAL_BASE) < n)
		return &spec->flags[val - VAL_BASE];
	return NULL;
}

/* A separate word that looks like the next flag ("--x"), not a value. */
static bool looks_like_flag(const char *s)
{
	return s[0] == '-' && s[1] == '-' && s[2] != '\0';
}

int tool_parse_args(const struct tool_spec *spec, int argc, char **argv,
		    tool_flag_cb *cb, void *ctx)
{
	size_t i, n = flag_count(spec);
	struct option *opts;
	int rc = TOOL_CONTINUE;

	if (argc <= 1 && !spec->no_args_ok) {
		tool_usage(spec, err_stream());
		return TOOL_ERROR;
	}
	opts = calloc(n + 3, sizeof(*opts));
	if (!opts)
		return tool_error(spec, "out of memory");
	for (i = 0; i < n; i++) {
		opts[i].name = spec->flags[i].name;
		opts[i].has_arg = spec->flags[i].arg == TOOL_ARG_NONE ?
					  no_argument :
				  spec->flags[i].arg == TOOL_ARG_OPTIONAL ?
					  optional_argument :
					  required_argument;
		opts[i].val = VAL_BASE + (int)i;
	}
	opts[n].name = "help";
	opts[n].val = VAL_HELP;
	opts[n + 1].name = "version";
	opts[n + 1].val = VAL_VERSION;

	opterr = 0;
	optind = 0;	/* glibc: full re-initialisation */
	for (;;) {
		const struct tool_flag *f;
		const char *arg;
		int c;

		c = getopt_long(argc, argv, "+:", opts, NULL);
		if (c == -1) {
			if (optind >= argc)
				break;
			/* A positional argument (REQUIRE_ORDER stops here). */
			if (!spec->positional_ok) {
				rc = unknown_flag(spec, argv[optind]);
				break;
			}
			if (cb(ctx, NULL, argv[optind]) != 0) {
				rc = TOOL_ERROR;
				break;
			}
			optind++;
			continue;
		}
		if (c == '?') {
			f = optopt ? flag_by_val(spec, optopt) : NULL;
			if (f)	/* "--verbose=yes" for a flag without value */
				rc = tool_usage_error(spec,
						      "option '--%s' does not "
						      "take a value",
						      f->name);
			else
				rc = unknown_flag(spec,
						  optind > 0 && optind <= argc ?
							  argv[optind - 1] :
							  "?");
			break;
		}
		if (c == ':') {
			f = flag_by_val(spec, optopt);
			rc = f ? missing_value(spec, f) :
				 tool_usage_error(spec, "missing value");
			break;
		}
		if (c == VAL_HELP) {
			tool_usage(spec, out_stream());
			fflush(out_stream());
			rc = TOOL_DONE;
			break;
		}
		if (c == VAL_VERSION) {
			fprintf(out_stream(), "%s %s\n", spec->prog,
				PACKAGE_VERSION);
			fflush(out_stream());
			rc = TOOL_DONE;
			break;
		}
		f = flag_by_val(spec, c);
		if (!f) {
			rc = tool_usage_error(spec, "internal error: flag %d",
					      c);
			break;
		}
		arg = optarg;
		/* "--topic --partitions 3": the value is missing. */
		if (arg && f->arg != TOOL_ARG_OPTIONAL && optind >= 1 &&
		    arg == argv[optind - 1] && looks_like_flag(arg)) {
			rc = missing_value(spec, f);
			break;
		}
		if (f->arg == TOOL_ARG_OPTIONAL && !arg && optind < argc &&
		    argv[optind][0] != '-')
			arg = argv[optind++];
		if (cb(ctx, f, arg) != 0) {
			rc = TOOL_ERROR;
			break;
		}
		if (f->arg == TOOL_ARG_MULTI) {
			while (optind < argc && !looks_like_flag(argv[optind]))
				if (cb(ctx, f, argv[optind++]) != 0) {
					rc = TOOL_ERROR;
					goto out;
				}
		}
	}
out:
	free(opts);
	return rc;
}

/* ---------------------------------------------------------------- numbers */

int tool_parse_i64(const struct tool_spec *spec, const char *flag,
		   const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s)
		s = "";
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || isspace(*s) ||
	    v < min || v > max) {
		if (max == INT64_MAX || max == INT32_MAX)
			return tool_usage_error(spec,
						"%s expects an integer >= "
						"%lld, got '%s'",
						flag, (long long)min, s);
		return tool_usage_error(spec,
					"%s expects an integer between %lld "
					"and %lld, got '%s'",
					flag, (long long)min, (long long)max,
					s);
	}
	*out = v;
	return 0;
}

int tool_parse_int(const struct tool_spec *spec, const char *flag,
		   const char *s, int min, int max, int *out)
{
	int64_t v;

	if (tool_parse_i64(spec, flag, s, min, max, &v) != 0)
		return TOOL_ERROR;
	*out = (int)v;
	return 0;
}

int tool_parse_double(const struct tool_spec *spec, const char *flag,
		      const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s)
		s = "";
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || isspace(*s) ||
	    !isfinite(v) || v < min || v > max)
		return tool_usage_error(spec,
					"%s expects a number between %g and "
					"%g, got '%s'",
					flag, min, max, s);
	*out = v;
	return 0;
}

int tool_parse_bool(const struct tool_spec *spec, const char *what,
		    const char *s, bool *out)
{
	size_t len;

	if (!s)
		s = "";
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 4 && strncasecmp(s, "true", 4) == 0) {
		*out = true;
		return 0;
	}
	if (len == 5 && strncasecmp(s, "false", 5) == 0) {
		*out = false;
		return 0;
	}
	return tool_usage_error(spec, "%s expects true or false, got '%s'",
				what, s);
}

int tool_check_bootstrap(const struct tool_spec *spec, const char *flag,
			 const char *servers)
{
	const char *p = servers;

	if (!p || !*p)
		goto bad;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *colon = NULL, *q;
		long port = 0;
		size_t digits = 0;

		if (len == 0)
			goto bad;
		if (p[0] == '[') {
			q = memchr(p, ']', len);
			if (!q || q == p + 1 || q + 1 >= p + len || q[1] != ':')
				goto bad;
			colon = q + 1;
		} else {
			for (q = p; q < p + len; q++)
				if (*q == ':')
					colon = q;
			if (!colon || colon == p)
				goto bad;
			for (q = p; q < colon; q++)
				if (*q == ':' || isspace((unsigned char)*q))
					goto bad;
		}
		for (q = colon + 1; q < p + len; q++) {
			if (!isdigit((unsigned char)*q) || ++digits > 5)
				goto bad;
			port = port * 10 + (*q - '0');
		}
		if (digits == 0 || port < 1 || port > 65535)
			goto bad;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				goto bad;
		}
	}
	return 0;
bad:
	return tool_usage_error(spec,
				"%s expects host:port[,host:port...], got "
				"'%s' (e.g. %s localhost:9092)",
				flag, servers ? servers : "", flag);
}

/* ------------------------------------------------------------- properties */

int tool_props_set(struct tool_props *p, const char *key, const char *value,
		   const char *origin)
{
	char *k, *v;
	size_t i;

	v = strdup(value ? value : "");
	if (!v)
		return ERR_NOMEM;
	for (i = 0; i < p->cnt; i++) {
		if (strcmp(p->v[i].key, key) == 0) {
			free(p->v[i].value);
			p->v[i].value = v;
			p->v[i].origin = origin;
			p->v[i].kv = false;
			return 0;
		}
	}
	if (p->cnt == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct tool_prop *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv) {
			free(v);
			return ERR_NOMEM;
		}
		p->v = nv;
		p->cap = cap;
	}
	k = strdup(key);
	if (!k) {
		free(v);
		return ERR_NOMEM;
	}
	p->v[p->cnt].key = k;
	p->v[p->cnt].value = v;
	p->v[p->cnt].origin = origin;
	p->v[p->cnt].kv = false;
	p->cnt++;
	return 0;
}

int tool_props_add_kv(const struct tool_spec *spec, struct tool_props *p,
		      const char *flag, const char *arg)
{
	const char *eq = arg ? strchr(arg, '=') : NULL;
	const char *k, *kend;
	char *key;
	int rc;

	if (!eq)
		return tool_usage_error(spec,
					"%s expects key=value, got '%s' (e.g. "
					"%s acks=all)",
					flag, arg ? arg : "", flag);
	k = arg;
	kend = eq;
	while (k < kend && isspace((unsigned char)*k))
		k++;
	while (kend > k && isspace((unsigned char)kend[-1]))
		kend--;
	if (k == kend)
		return tool_usage_error(spec,
					"%s expects key=value, got '%s' (the "
					"key is empty)",
					flag, arg);
	key = strndup(k, (size_t)(kend - k));
	if (!key)
		return tool_error(spec, "out of memory");
	rc = tool_props_set(p, key, eq + 1, flag);
	if (rc == 0) {
		size_t i;

		for (i = 0; i < p->cnt; i++)
			if (strcmp(p->v[i].key, key) == 0)
				p->v[i].kv = true;
	}
	free(key);
	if (rc != 0)
		return tool_error(spec, "out of memory");
	return 0;
}

const char *tool_props_get(const struct tool_props *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->cnt; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return p->v[i].value;
	return NULL;
}

void tool_props_free(struct tool_props *p)
{
	size_t i;

	for (i = 0; i < p->cnt; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->cnt = 0;
	p->cap = 0;
}

/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void tool_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;	/* no SA_RESTART: interrupt reads */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool tool_stopping(void)
{
	return stop_requested != 0;
}

void tool_request_stop(void)
{
	stop_requested = 1;
}

void tool_sleep_ns(int64_t ns)
{
	struct timespec ts;
	const int64_t slice = 100 * 1000 * 1000; /* re-check every 100 ms */

	while (ns > 0 && !tool_stopping()) {
		int64_t now = ns < slice ? ns : slice;

		ts.tv_sec = (time_t)(now / 1000000000);
		ts.tv_nsec = (long)(now % 1000000000);
		if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
			break;
		ns -= now;
	}
}
