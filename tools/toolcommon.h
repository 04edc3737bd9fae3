/*
 * toolcommon.h - what every fluxo command-line tool shares: Kafka-style
 * long flags parsed with getopt_long, --help and --version, one-line usage
 * errors, key=value property lists, number parsing with messages that name
 * the flag, and SIGINT/SIGTERM handling.
 *
 * Nothing here talks to a broker or links libfluxo (toolconf.h does), so
 * the unit tests exercise it directly.
 *
 * Output: help goes to tool_out, errors to tool_err. They are stdout and
 * stderr unless a test points them elsewhere.
 *
 * Threads: the tools are single-threaded; none of this locks.
 */
#ifndef FLUXO_TOOLCOMMON_H
#define FLUXO_TOOLCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Results of tool_parse_args(): go on, exit 0 (help or version printed),
 * or exit 1 (a usage error was printed). */
#define TOOL_CONTINUE 0
#define TOOL_DONE 1
#define TOOL_ERROR (-1)

/* Bound on the start-up connection check of tools that talk to brokers. */
#define TOOL_CONNECT_TIMEOUT_MS 5000

extern FILE *tool_out;
extern FILE *tool_err;

enum tool_arg {
	TOOL_ARG_NONE,		/* --flag */
	TOOL_ARG_REQUIRED,	/* --flag value | --flag=value */
	TOOL_ARG_OPTIONAL,	/* --flag [value] */
	TOOL_ARG_MULTI,		/* --flag v1 [v2 ...] (until the next --flag) */
};

struct tool_flag {
	const char *name;	/* long name without the dashes */
	enum tool_arg arg;
	const char *metavar;	/* shown in help and in hints, e.g. "N" */
	const char *help;	/* one sentence or more; wrapped on output */
	int id;			/* handed to the callback; > 0 */
};

#define TOOL_FLAG_END { NULL, TOOL_ARG_NONE, NULL, NULL, 0 }

struct tool_spec {
	const char *prog;	/* "fluxo-topics" */
	const char *synopsis;	/* what follows prog on the usage line */
	const char *summary;	/* what the tool is for, one paragraph */
	const struct tool_flag *flags;
	bool positional_ok;	/* non-flag arguments go to the callback */
	bool no_args_ok;	/* running without arguments is not an error */
};

/*
 * Called once per flag occurrence (f, and its value or NULL), or with f NULL
 * for a positional argument. Returns 0, or TOOL_ERROR after printing an
 * error with tool_usage_error().
 */
typedef int(tool_flag_cb)(void *ctx, const struct tool_flag *f,
			  const char *arg);

/*
 * Parses argv with getopt_long. --help prints the usage to tool_out and
 * returns TOOL_DONE; --version prints "<prog> <version>" and returns
 * TOOL_DONE. Unknown flags (with a did-you-mean hint), missing values and
 * unexpected positional arguments print one line and "Run with --help for
 * usage." to tool_err and return TOOL_ERROR, as does a callback error.
 * Without arguments (and !no_args_ok) it prints the usage to tool_err and
 * returns TOOL_ERROR, as Kafka's tools do.
 * Returns TOOL_CONTINUE when every argument was handed to cb.
 */
int tool_parse_args(const struct tool_spec *spec, int argc, char **argv,
		    tool_flag_cb *cb, void *ctx);

/* Prints the full usage: synopsis, summary, every flag with its help. */
void tool_usage(const struct tool_spec *spec, FILE *out);

/*
 * Prints "<prog>: <message>" and "Run with --help for usage." to tool_err.
 * Returns TOOL_ERROR so callers can write `return tool_usage_error(...)`.
 */
int tool_usage_error(const struct tool_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "<prog>: <message>" to tool_err (a run-time error, no usage hint).
 * Returns TOOL_ERROR. */
int tool_error(const struct tool_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse a number given to --flag: decimal, optional sign, within
 * [min, max]. On error prints "--flag expects an integer between ...,
 * got 'x'" and returns TOOL_ERROR; otherwise 0 with *out set.
 */
int tool_parse_i64(const struct tool_spec *spec, const char *flag,
		   const char *s, int64_t min, int64_t max, int64_t *out);
int tool_parse_int(const struct tool_spec *spec, const char *flag,
		   const char *s, int min, int max, int *out);
int tool_parse_double(const struct tool_spec *spec, const char *flag,
		      const char *s, double min, double max, double *out);

/* "true"/"false" in any case (surrounding spaces ignored), for property
 * values such as print.key. Returns 0, or TOOL_ERROR after a message that
 * names what (e.g. "--property print.key"). */
int tool_parse_bool(const struct tool_spec *spec, const char *what,
		    const char *s, bool *out);

/*
 * Checks a bootstrap server list: host:port[,host:port...], ports
 * 1..65535, IPv6 hosts in brackets. On error prints a message naming flag
 * with an example and returns TOOL_ERROR.
 */
int tool_check_bootstrap(const struct tool_spec *spec, const char *flag,
			 const char *servers);

/* ------------------------------------------------------------ properties */

/* One key=value setting and the flag (or file) it came from. */
struct tool_prop {
	char *key;
	char *value;
	const char *origin;	/* static string, e.g. "--producer-property" */
	bool kv;		/* given as key=value (not a dedicated flag) */
};

/* An ordered list of settings; setting a key again replaces its value. */
struct tool_props {
	struct tool_prop *v;
	size_t cnt;
	size_t cap;
};

#define TOOL_PROPS_INIT { NULL, 0, 0 }

/* Sets key to value (both copied). Returns 0 or ERR_NOMEM. */
int tool_props_set(struct tool_props *p, const char *key, const char *value,
		   const char *origin);

/*
 * Parses "key=value" given to flag (split at the first '='; the key is
 * trimmed, the value kept byte for byte so separators like " " work) and
 * stores it. An argument without '=' or with an empty key prints
 * "<flag> expects key=value, got 'x'" and returns TOOL_ERROR.
 */
int tool_props_add_kv(const struct tool_spec *spec, struct tool_props *p,
		      const char *flag, const char *arg);

/* The value of key, or NULL. */
const char *tool_props_get(const struct tool_props *p, const char *key);

void tool_props_free(struct tool_props *p);

/* --------------------------------------------------------------- signals */

/*
 * Installs SIGINT and SIGTERM handlers that only set a flag (the second
 * signal of the same kind kills the process as usual) and ignores SIGPIPE.
 * Blocking reads are interrupted (no SA_RESTART) so tools notice at once.
 */
void tool_signals_init(void);

/* True once SIGINT or SIGTERM arrived (or tool_request_stop was called). */
bool tool_stopping(void);
void tool_request_stop(void);

/* Sleeps ns nanoseconds, returning early when a stop is requested. */
void tool_sleep_ns(int64_t ns);

#endif
