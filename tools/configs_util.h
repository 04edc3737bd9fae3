/*
 * configs_util.h - the parts of fluxo-configs that need no broker: the
 * --add-config and --delete-config syntax, which settings a describe
 * shows, and Kafka 2.8's describe lines.
 *
 * Threads: none.
 */
#ifndef FLUXO_CONFIGS_UTIL_H
#define FLUXO_CONFIGS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client/fluxo.h"

/* Settings to set (names[i] = values[i]) or to delete (values NULL). */
struct config_list {
	char **names;
	char **values;
	size_t n;
};

void config_list_free(struct config_list *l);

/*
 * Parses --add-config: "k1=v1,k2=[a,b],k3=v3". Entries are separated by
 * commas outside square brackets; a value in brackets may hold commas
 * (the brackets are dropped, as Kafka does: "[0:1,1:2]" sets "0:1,1:2").
 * Names and values are trimmed. An entry without '=' or with an empty
 * name gives Kafka's "Invalid entity config: all configs to be added
 * must be in the format \"key=val\"."; a name given twice is refused too.
 * Adds to out (which may already hold entries). Returns 0, ERR_INVAL
 * (errstr set) or ERR_NOMEM.
 */
int config_parse_add(const char *s, struct config_list *out, char *errstr,
		     size_t errstr_size);

/* Parses --delete-config: "k1,k2" (trimmed, empty names refused). */
int config_parse_delete(const char *s, struct config_list *out, char *errstr,
			size_t errstr_size);

/* Kafka's name of a source: "DYNAMIC_TOPIC_CONFIG", "DEFAULT_CONFIG", ... */
const char *config_source_name(fluxo_config_source_t s);

/* Which settings a describe without --all shows (Kafka's filter). */
enum config_scope {
	CONFIG_SCOPE_TOPIC,	     /* overrides of the topic */
	CONFIG_SCOPE_BROKER,	     /* dynamic settings of that broker */
	CONFIG_SCOPE_BROKER_DEFAULT, /* the cluster-wide dynamic default */
};

/* True when e is shown by a describe of scope (all: --all). */
bool config_shown(const fluxo_config_entry_t *e, enum config_scope scope,
		  bool all);

/*
 * Prints Kafka's describe line for e:
 *   "  name=value sensitive=false synonyms={SOURCE:name=value, ...}"
 * (a sensitive value prints as "null").
 */
void config_print_entry(FILE *out, const fluxo_config_entry_t *e);

/*
 * Kafka's heading of a describe: "Dynamic configs for topic t are:",
 * "All configs for broker 1 are:", "Default configs for brokers in the
 * cluster are:" (name "" with entity_type "brokers"). entity_type is
 * "topics" or "brokers".
 */
void config_print_heading(FILE *out, const char *entity_type, const char *name,
			  bool all);

#endif
