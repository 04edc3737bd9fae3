/*
 * batch_test_util.h - helpers shared by the two halves of the batch suite
 * (test_batch.c: vectors, builder, reader; test_batch_fuzz.c: corruption,
 * mutation and runs).
 */
#ifndef FLUXO_BATCH_TEST_UTIL_H
#define FLUXO_BATCH_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Reads tests/data/record-batch-v2/<name> (found through the top_srcdir
 * environment variable that make check exports). Caller frees. */
uint8_t *tb_read_vector(const char *name, size_t *size);

/* Deterministic xorshift generator. */
uint64_t tb_rng(uint64_t *state);

/* The names of the vector files, NULL-terminated. */
extern const char *const tb_vector_files[];

TCase *tb_fuzz_tcase(void);

#endif
