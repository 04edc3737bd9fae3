/*
 * adminjson.h - the JSON files of the admin tools, in Kafka's formats,
 * and the partition lists they describe:
 *
 *   leader election   {"partitions":[{"topic":"foo","partition":1},...]}
 *   topics to move    {"topics":[{"topic":"foo"},...],"version":1}
 *   reassignment      {"version":1,"partitions":[{"topic":"foo",
 *                      "partition":0,"replicas":[1,2],
 *                      "log_dirs":["any","any"]},...]}
 *
 * Parsing checks what Kafka's tools check before anything reaches a
 * broker (missing fields, duplicates), with their messages where Kafka
 * has one; input is untrusted (every field's type and range is checked).
 * Nothing here talks to a broker, so the unit tests feed it text.
 *
 * Threads: none.
 */
#ifndef FLUXO_ADMINJSON_H
#define FLUXO_ADMINJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------ partition lists */

struct tp {
	char *topic;
	int32_t partition;
};

struct tp_list {
	struct tp *v;
	size_t n;
	size_t cap;
};

/* Appends (topic copied). Returns 0 or ERR_NOMEM. */
int tp_list_add(struct tp_list *l, const char *topic, int32_t partition);
/* Sorts by topic, then partition. */
void tp_list_sort(struct tp_list *l);
void tp_list_free(struct tp_list *l);

/* "t-0<sep>t-1..." (Kafka's TopicPartition.toString); caller frees;
 * NULL when out of memory. An empty list gives "". */
char *tp_join(const struct tp *v, size_t n, const char *sep);

/* A partition's target replica set. */
struct move {
	char *topic;
	int32_t partition;
	int32_t *replicas;
	int n_replicas;
};

struct move_list {
	struct move *v;
	size_t n;
	size_t cap;
};

/* Appends (topic and replicas copied). Returns 0 or ERR_NOMEM. */
int move_list_add(struct move_list *l, const char *topic, int32_t partition,
		  const int32_t *replicas, int n_replicas);
/* Sorts by topic, then partition. */
void move_list_sort(struct move_list *l);
/* The entry for topic/partition, or NULL. */
const struct move *move_list_find(const struct move_list *l, const char *topic,
				  int32_t partition);
void move_list_free(struct move_list *l);

/* "1,2,3" into buf (cut short when it does not fit). Returns buf. */
char *ids_join(const int32_t *ids, int n, char *buf, size_t size);

/* ----------------------------------------------------------------- files */

/*
 * Reads a whole file (at most 64 MiB) into *text (NUL-terminated; caller
 * frees). Returns 0, ERR_IO or ERR_TOO_LARGE with errstr naming the file.
 */
int admin_read_file(const char *path, char **text, char *errstr,
		    size_t errstr_size);

/*
 * Parses a leader election file into out (in file order). Errors (errstr
 * set, ERR_INVAL): not JSON, "Replica election data is missing
 * \"partitions\" field", a bad entry, "Replica election data contains
 * duplicate partitions: t-0".
 */
int election_json_parse(const char *text, struct tp_list *out, char *errstr,
			size_t errstr_size);

/*
 * Parses a --topics-to-move-json-file into *names (malloc'd array of
 * malloc'd strings, file order; free with names_free). Errors (ERR_INVAL):
 * not JSON, no "topics" array, a bad entry, "List of topics to reassign
 * contains duplicate entries: t".
 */
int topics_json_parse(const char *text, char ***names, size_t *n, char *errstr,
		      size_t errstr_size);
void names_free(char **names, size_t n);

/*
 * Parses a --reassignment-json-file into out (file order). Checks (Kafka's
 * messages): an empty list ("Partition reassignment list cannot be
 * empty"), an empty replica list ("Partition replica list cannot be
 * empty"), duplicate partitions ("Partition reassignment contains
 * duplicate topic partitions: t-0"), duplicate replicas ("Partition
 * replica lists may not contain duplicate entries: t-0 contains multiple
 * entries for 1"), log_dirs of another length than replicas; a log dir
 * other than "any" is refused (fluxo does not move replicas between the
 * directories of one broker). Returns 0 or ERR_INVAL / ERR_NOMEM.
 */
int reassign_json_parse(const char *text, struct move_list *out, char *errstr,
			size_t errstr_size);

/*
 * Kafka's reassignment JSON for l, in l's order (sort it first), on one
 * line. Caller frees; NULL when out of memory.
 */
char *reassign_json_format(const struct move_list *l);

#endif
