/*
 * topics_util.c - replica assignment parsing, topic patterns, describe
 * filters and describe output for fluxo-topics.
 *
 * The assignment parser checks everything Kafka's TopicCommand checks
 * before anything reaches a broker, with the same messages, and also
 * refuses ids that are not integers or are negative (Kafka would throw a
 * NumberFormatException).
 */
#include "config.h"

#include "topics_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ------------------------------------------------------ replica assignment */

static int parse_id(const char *s, size_t len, int32_t *out)
{
	char tmp[16];
	char *end;
	long v;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(tmp))
		return ERR_INVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtol(tmp, &end, 10);
	if (*end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
		return ERR_INVAL;
	*out = (int32_t)v;
	return 0;
}

int replica_assignment_parse(const char *s, struct replica_assignment *ra,
			     char *errstr, size_t errstr_size)
{
	size_t ids_cap = 0, nids = 0, i;
	int32_t *ids = NULL;
	int parts = 0, rf = -1, rc = ERR_INVAL;
	const char *p = s;

	memset(ra, 0, sizeof(*ra));
	if (!s || !*s) {
		snprintf(errstr, errstr_size,
			 "--replica-assignment is empty (e.g. "
			 "--replica-assignment 0:1,1:2)");
		return ERR_INVAL;
	}
	for (;;) {
		size_t plen = strcspn(p, ",");
		const char *q = p, *pend = p + plen;
		int cnt = 0;

		for (;;) {
			size_t ilen = strcspn(q, ":,");
			int32_t id;

			if (q + ilen > pend)
				ilen = (size_t)(pend - q);
			if (parse_id(q, ilen, &id) != 0) {
				snprintf(errstr, errstr_size,
					 "--replica-assignment: '%.*s' in "
					 "partition %d is not a broker id "
					 "(e.g. --replica-assignment "
					 "0:1,1:2)",
					 (int)ilen, q, parts);
				goto err;
			}
			for (i = nids - (size_t)cnt; i < nids; i++) {
				if (ids[i] == id) {
					snprintf(errstr, errstr_size,
						 "Partition replica lists may "
						 "not contain duplicate "
						 "entries: %d",
						 (int)id);
					goto err;
				}
			}
			if (nids == ids_cap) {
				size_t cap = ids_cap ? ids_cap * 2 : 16;
				int32_t *n = realloc(ids, cap * sizeof(*n));

				if (!n) {
					rc = ERR_NOMEM;
					goto err;
				}
				ids = n;
				ids_cap = cap;
			}
			ids[nids++] = id;
			cnt++;
			q += ilen;
			if (q >= pend)
				break;
			q++;	/* ':' */
		}
		if (rf < 0)
			rf = cnt;
		if (cnt != rf) {
			snprintf(errstr, errstr_size,
				 "Partition %d has different replication "
				 "factor: %.*s",
				 parts, (int)plen, p);
			goto err;
		}
		parts++;
		if (*pend == '\0')
			break;
		p = pend + 1;
	}
	ra->rows = calloc((size_t)parts, sizeof(*ra->rows));
	ra->row_cnt = calloc((size_t)parts, sizeof(*ra->row_cnt));
	if (!ra->rows || !ra->row_cnt) {
		rc = ERR_NOMEM;
		goto err;
	}
	ra->ids = ids;
	ra->partition_cnt = parts;
	ra->replica_cnt = rf;
	for (i = 0; i < (size_t)parts; i++) {
		ra->rows[i] = ids + i * (size_t)rf;
		ra->row_cnt[i] = rf;
	}
	return 0;
err:
	free(ids);
	free(ra->rows);
	free(ra->row_cnt);
	memset(ra, 0, sizeof(*ra));
	return rc;
}

void replica_assignment_free(struct replica_assignment *ra)
{
	free(ra->ids);
	free(ra->rows);
	free(ra->row_cnt);
	memset(ra, 0, sizeof(*ra));
}

/* ----------------------------------------------------------- topic filter */

int topic_filter_init(struct topic_filter *f, const char *spec, char *errstr,
		      size_t errstr_size)
{
	size_t len, i, o = 0;
	char *pat;
	int rc;

	memset(f, 0, sizeof(*f));
	if (!spec)
		return 0;
	len = strlen(spec);
	pat = malloc(len + 8);
	if (!pat)
		return ERR_NOMEM;
	memcpy(pat, "^(", 2);
	o = 2;
	/* Kafka: trim, ',' -> '|', drop spaces, strip quotes at the ends. */
	while (len > 0 && (spec[len - 1] == '"' || spec[len - 1] == '\'' ||
			   isspace((unsigned char)spec[len - 1])))
		len--;
	i = 0;
	while (i < len && (spec[i] == '"' || spec[i] == '\'' ||
			   isspace((unsigned char)spec[i])))
		i++;
	for (; i < len; i++) {
		if (spec[i] == ' ')
			continue;
		pat[o++] = spec[i] == ',' ? '|' : spec[i];
	}
	memcpy(pat + o, ")$", 3);
	rc = regcomp(&f->re, pat, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];

		regerror(rc, &f->re, why, sizeof(why));
		snprintf(errstr, errstr_size,
			 "--topic '%s' is not a valid regular expression: %s",
			 spec, why);
		free(pat);
		return ERR_INVAL;
	}
	free(pat);
	f->active = true;
	return 0;
}

bool topic_filter_match(const struct topic_filter *f, const char *topic)
{
	if (!f->active)
		return true;
	return regexec(&f->re, topic, 0, NULL, 0) == 0;
}

void topic_filter_free(struct topic_filter *f)
{
	if (f->active)
		regfree(&f->re);
	f->active = false;
}

/* ---------------------------------------------------- describe predicates */

bool partition_has_leader(const fluxo_partition_md_t *p)
{
	return p->leader >= 0;
}

bool partition_under_replicated(const fluxo_partition_md_t *p)
{
	return p->isr_cnt < p->replica_cnt;
}

bool partition_unavailable(const fluxo_partition_md_t *p,
			   const fluxo_metadata_t *md)
{
	int i;

	if (!partition_has_leader(p))
		return true;
	for (i = 0; i < md->broker_cnt; i++)
		if (md->brokers[i].id == p->leader)
			return false;
	return true;
}

bool partition_under_min_isr(const fluxo_partition_md_t *p, int min_isr)
{
	if (!partition_has_leader(p))
		return true;
	return min_isr >= 0 && p->isr_cnt < min_isr;
}

bool partition_at_min_isr(const fluxo_partition_md_t *p, int min_isr)
{
	return min_isr >= 0 && p->isr_cnt == min_isr;
}

void topic_print_summary(FILE *out, const char *topic, int partition_cnt,
			 int replication_factor, const char *configs)
{
	fprintf(out,
		"Topic: %s\tPartitionCount: %d\tReplicationFactor: "
		"%d\tConfigs: %s\n",
		topic, partition_cnt, replication_factor,
		configs ? configs : "");
}

static void print_ids(FILE *out, const int32_t *ids, int cnt)
{
	int i;

	for (i = 0; i < cnt; i++)
		fprintf(out, i ? ",%d" : "%d", (int)ids[i]);
}

void topic_print_partition(FILE *out, const char *topic,
			   const fluxo_partition_md_t *p)
{
	fprintf(out, "\tTopic: %s\tPartition: %d\tLeader: ", topic, (int)p->id);
	if (partition_has_leader(p))
		fprintf(out, "%d", (int)p->leader);
	else
		fputs("none", out);
	fputs("\tReplicas: ", out);
	print_ids(out, p->replicas, p->replica_cnt);
	fputs("\tIsr: ", out);
	print_ids(out, p->isr, p->isr_cnt);
	fputc('\n', out);
}
