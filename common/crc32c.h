/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of record batch v2.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at
 * first use) and a portable slicing-by-8 table otherwise; both give the
 * same result. Safe from any thread.
 */
#ifndef FLUXO_CRC32C_H
#define FLUXO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: crc32c(crc32c(0, a), b) == crc32c(0, a||b). */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The portable implementation, exposed for tests and benchmarks. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

/* True when the hardware path is in use. */
int crc32c_hw_available(void);

#endif
