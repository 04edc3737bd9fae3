/*
 * conf.h - table-driven configuration.
 *
 * A configuration is a plain C struct plus one table of struct conf_def
 * rows, one per setting: its Kafka-style name, type, default (as text),
 * bounds, flags and a one-line description. The same table drives parsing
 * of properties files and --override flags, validation, defaults, --help
 * output, DescribeConfigs and the generated example file, so a setting
 * exists in exactly one place.
 *
 * Values are parsed from text. Integers accept an optional sign and decimal
 * digits only; booleans accept true/false. String and list fields are
 * malloc'd copies owned by the struct and released by conf_free().
 *
 * Thread: none of these functions lock; callers own the struct.
 */
#ifndef FLUXO_CONF_H
#define FLUXO_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_type {
	CONF_INT,	/* int32_t field */
	CONF_LONG,	/* int64_t field */
	CONF_BOOL,	/* bool field */
	CONF_DOUBLE,	/* double field */
	CONF_STRING,	/* char * field, may be NULL */
	CONF_LIST,	/* char * field, comma-separated, may be NULL */
	CONF_ENUM,	/* int field: index into choices[] */
};

enum conf_flags {
	CONF_F_DYNAMIC = 1 << 0,   /* may change at run time */
	CONF_F_SECRET = 1 << 1,    /* value is never printed */
	CONF_F_INTERNAL = 1 << 2,  /* left out of generated docs */
	CONF_F_REQUIRED = 1 << 3,  /* must be given */
};

struct conf_def {
	const char *name;
	enum conf_type type;
	const char *dflt;		/* default as text; NULL = unset */
	int64_t min, max;		/* inclusive bounds (numbers only) */
	unsigned flags;
	size_t offset;			/* offsetof(struct X, field) */
	const char *doc;		/* one line */
	const char *const *choices;	/* CONF_ENUM: NULL-terminated */
};

/* Table terminator. */
#define CONF_END { NULL, 0, NULL, 0, 0, 0, 0, NULL, NULL }

/* Finds a row by name, or NULL. */
const struct conf_def *conf_find(const struct conf_def *table,
				 const char *name);

/*
 * Applies every row's default to obj (zeroing fields whose default is
 * NULL). Returns 0, or ERR_INVAL if a default fails to parse (a bug).
 */
int conf_defaults(const struct conf_def *table, void *obj);

/*
 * Parses value for the setting name and stores it in obj.
 * Returns 0; ERR_NOT_FOUND for an unknown name; ERR_INVAL for a bad value.
 * On error errstr holds a sentence naming the key and the reason.
 */
int conf_set(const struct conf_def *table, void *obj, const char *name,
	     const char *value, char *errstr, size_t errstr_size);

/* Same, for one row already found. */
int conf_set_def(const struct conf_def *def, void *obj, const char *value,
		 char *errstr, size_t errstr_size);

/*
 * Validates value for the row without storing it. Returns 0 or ERR_INVAL
 * with errstr set.
 */
int conf_check(const struct conf_def *def, const char *value, char *errstr,
	       size_t errstr_size);

/* Writes the current value of a row as text into out. Returns out. */
char *conf_get(const struct conf_def *def, const void *obj, char *out,
	       size_t out_size);

/* Releases string and list fields of obj. */
void conf_free(const struct conf_def *table, void *obj);

/* Deep-copies src into dst (dst's old strings are not freed). Returns 0
 * or ERR_NOMEM. */
int conf_copy(const struct conf_def *table, void *dst, const void *src);

/*
 * Reads a Java-style properties file: "key=value", "key: value" or
 * "key value"; lines starting with # or ! are comments; a trailing
 * backslash continues a line. Calls cb for every pair; stops at the first
 * non-zero return of cb and returns it. Returns ERR_IO if the file cannot
 * be read (errstr says why), ERR_INVAL for a line without a key.
 */
int conf_read_properties(const char *path,
			 int (*cb)(void *arg, const char *key,
				   const char *value, int line, char *errstr,
				   size_t errstr_size),
			 void *arg, char *errstr, size_t errstr_size);

/*
 * Loads a properties file into obj through the table: unknown keys and bad
 * values are refused with a sentence naming the file, line and key.
 */
int conf_load_file(const struct conf_def *table, void *obj, const char *path,
		   char *errstr, size_t errstr_size);

/*
 * Prints every non-internal row as documented properties:
 *   # description
 *   #name=default        (or name=default when uncommented is true)
 */
void conf_print_doc(const struct conf_def *table, FILE *out, bool commented);

/* Splits a "k=v" argument; returns 0 or ERR_INVAL. key/value point into
 * buf (a copy of arg that the caller provides, at least strlen(arg)+1). */
int conf_split_kv(const char *arg, char *buf, size_t buf_size, char **key,
		  char **value);

#endif
