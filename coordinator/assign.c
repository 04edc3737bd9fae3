/*
 * assign.c - Kafka's replica assignment (rack-unaware and rack-aware).
 *
 * The arithmetic follows the reference (section 2.6) step by step, so
 * that the same inputs give Kafka's exact table; the unit tests pin
 * Kafka's worked examples. Only the random choice of start index and
 * shift differs in source (getrandom instead of java.util.Random).
 */
#include "config.h"
#include "assign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"
#include "fluxo.pb-c.h"

static int rand_below(int n)
{
	uint32_t v = 0;

	if (n <= 1)
		return 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint32_t)rand();
	return (int)(v % (uint32_t)n);
}

static int replica_index(int first, int shift, int j, int n)
{
	int64_t off = 1 + ((int64_t)shift + j) % (n - 1);

	return (int)(((int64_t)first + off) % n);
}

static bool has_rack(const struct assign_broker *b)
{
	return b->rack && b->rack[0];
}

static int cmp_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_broker_rack(const void *a, const void *b)
{
	const struct assign_broker *x = a, *y = b;
	int c = strcmp(x->rack, y->rack);

	if (c)
		return c;
	return (x->id > y->id) - (x->id < y->id);
}

int assign_rack_alternated(const struct assign_broker *brokers, int n,
			   int32_t *out)
{
	struct assign_broker *sorted;
	int *rack_start, *rack_next, n_racks = 0, done = 0;

	if (n <= 0)
		return 0;
	sorted = malloc((size_t)n * sizeof(*sorted));
	rack_start = malloc(((size_t)n + 1) * sizeof(int));
	rack_next = malloc(((size_t)n + 1) * sizeof(int));
	if (!sorted || !rack_start || !rack_next) {
		free(sorted);
		free(rack_start);
		free(rack_next);
		return ERR_NOMEM;
	}
	memcpy(sorted, brokers, (size_t)n * sizeof(*sorted));
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_broker_rack);
	for (int i = 0; i < n; i++)
		if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0)
			rack_start[n_racks++] = i;
	rack_start[n_racks] = n;
	for (int r = 0; r < n_racks; r++)
		rack_next[r] = rack_start[r];
	for (int r = 0; done < n; r = (r + 1) % n_racks)
		if (rack_next[r] < rack_start[r + 1])
			out[done++] = sorted[rack_next[r]++].id;
	free(sorted);
	free(rack_start);
	free(rack_next);
	return 0;
}

static const char *rack_of(const struct assign_broker *brokers, int n,
			   int32_t id)
{
	for (int i = 0; i < n; i++)
		if (brokers[i].id == id)
			return brokers[i].rack;
	return "";
}

static bool str_in(const char *const *v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool id_in(const int32_t *v, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

static int assign_rack_aware(const struct assign_broker *brokers, int n,
			     int n_partitions, int rf, int start, int shift,
			     int start_partition, int32_t *out)
{
	int32_t *list = malloc((size_t)n * sizeof(*list));
	const char **racks = malloc((size_t)n * sizeof(*racks));
	const char **with = malloc(((size_t)rf + 1) * sizeof(*with));
	int n_racks = 0, rc = 0, p = start_partition;

	if (!list || !racks || !with) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (!str_in(racks, n_racks, brokers[i].rack))
			racks[n_racks++] = brokers[i].rack;
	rc = assign_rack_alternated(brokers, n, list);
	if (rc < 0)
		goto out;
	for (int i = 0; i < n_partitions; i++, p++) {
		int32_t *reps = out + (size_t)i * (size_t)rf;
		int first, n_with = 0, k = 0;

		if (p > 0 && p % n == 0)
			shift++;
		first = (p + start) % n;
		reps[0] = list[first];
		with[n_with++] = rack_of(brokers, n, reps[0]);
		for (int j = 1; j < rf; j++) {
			for (;;) {
				int32_t b = list[replica_index(
				    first, shift * n_racks, k, n)];
				const char *rack = rack_of(brokers, n, b);

				k++;
				if ((!str_in(with, n_with, rack) ||
				     n_with == n_racks) &&
				    (!id_in(reps, j, b) || j == n)) {
					reps[j] = b;
					if (!str_in(with, n_with, rack))
						with[n_with++] = rack;
					break;
				}
			}
		}
	}
out:
	free(list);
	free(racks);
	free(with);
	return rc;
}

int assign_replicas(const struct assign_broker *brokers, int n_brokers,
		    int n_partitions, int rf, int start_index, int shift,
		    int start_partition, bool rack_aware, int32_t *out,
		    char *errstr, size_t errstr_size)
{
	int32_t *ids;
	int with_rack = 0, p;

	if (n_partitions <= 0) {
		snprintf(errstr, errstr_size,
			 "Number of partitions must be larger than 0.");
		return FLUXO__ERROR_CODE__INVALID_PARTITIONS;
	}
	if (rf <= 0) {
		snprintf(errstr, errstr_size,
			 "Replication factor must be larger than 0.");
		return FLUXO__ERROR_CODE__INVALID_REPLICATION_FACTOR;
	}
	if (rf > n_brokers) {
		snprintf(
		    errstr, errstr_size,
		    "Replication factor: %d larger than available brokers: %d.",
		    rf, n_brokers);
		return FLUXO__ERROR_CODE__INVALID_REPLICATION_FACTOR;
	}
	if (start_partition < 0)
		start_partition = 0;
	if (start_index < 0)
		start_index = rand_below(n_brokers);
	if (shift < 0)
		shift = rand_below(n_brokers);
	for (int i = 0; i < n_brokers; i++)
		with_rack += has_rack(&brokers[i]);
	if (rack_aware && with_rack > 0) {
		if (with_rack != n_brokers) {
			snprintf(errstr, errstr_size,
				 "Not all brokers have rack information for "
				 "replica rack aware assignment.");
			return FLUXO__ERROR_CODE__INVALID_REPLICA_ASSIGNMENT;
		}
		if (assign_rack_aware(brokers, n_brokers, n_partitions, rf,
				      start_index, shift, start_partition,
				      out) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
		}
		return FLUXO__ERROR_CODE__NONE;
	}

	ids = malloc((size_t)n_brokers * sizeof(*ids));
	if (!ids) {
		snprintf(errstr, errstr_size, "out of memory");
		return FLUXO__ERROR_CODE__UNKNOWN_SERVER_ERROR;
	}
	for (int i = 0; i < n_brokers; i++)
		ids[i] = brokers[i].id;
	qsort(ids, (size_t)n_brokers, sizeof(*ids), cmp_id);
	p = start_partition;
	for (int i = 0; i < n_partitions; i++, p++) {
		int32_t *reps = out + (size_t)i * (size_t)rf;
		int first;

		if (p > 0 && p % n_brokers == 0)
			shift++;
		first = (p + start_index) % n_brokers;
		reps[0] = ids[first];
		for (int j = 0; j < rf - 1; j++)
			reps[j + 1] =
			    ids[replica_index(first, shift, j, n_brokers)];
	}
	free(ids);
	return FLUXO__ERROR_CODE__NONE;
}
