/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the
 * checksum every record batch carries and the broker verifies on every
 * produced batch, so it sits on the hottest path there is.
 *
 * Two implementations that must agree bit for bit:
 *
 *  - the hardware path, SSE4.2's crc32 instruction, eight bytes at a time.
 *    The instruction has a latency of about three cycles but a throughput
 *    of one per cycle, so a single dependent chain uses a third of the
 *    unit. Large buffers are therefore cut into three equal slices whose
 *    CRCs run as three independent chains in one loop, and are then
 *    stitched together: the CRC register is linear over GF(2), so
 *    crc(A||B) = shift(crc(A), |B|) ^ crc0(B), where shift(c, n) multiplies
 *    c by x^(8n) modulo the polynomial and crc0 starts from a zero
 *    register. shift for a fixed n is itself linear, so it is four lookups
 *    in a table built once from x^(8n). Two slice lengths are used (a long
 *    one for big buffers and a short one for the tail), which keeps the
 *    stitching cost negligible at both scales. The function is compiled
 *    with target("sse4.2") so the file builds without -msse4.2, and is only
 *    called when __builtin_cpu_supports("sse4.2") says so.
 *
 *  - the portable path, "slicing by 8": eight 256-entry tables let one
 *    step fold eight input bytes with eight independent lookups.
 *
 * All tables are computed once, under pthread_once, at the first call of
 * any function here; after that everything is read-only, so every function
 * is safe from any thread. Pre- and post-inversion follow the usual
 * convention, which makes crc32c(crc32c(0, a), b) == crc32c(0, a || b).
 */
#include "config.h"
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define CRC_HAVE_HW 1
#include <nmmintrin.h>
#else
#define CRC_HAVE_HW 0
#endif

#define POLY 0x82f63b78u

/* Slice lengths of the three-way hardware loop, in bytes (multiples of 8). */
#define SLICE_LONG  4096
#define SLICE_SHORT 256

static uint32_t sw_table[8][256];
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static int hw_ok;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/*
 * a * b modulo the polynomial, both in the reflected representation where
 * bit 31 is the coefficient of x^0 and bit 0 that of x^31.
 */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;
	int i;

	for (i = 0; i < 32; i++) {
		if (a & (0x80000000u >> i))
			prod ^= b;
		/* b *= x */
		b = (b >> 1) ^ ((b & 1) ? POLY : 0);
	}
	return prod;
}

/* x^(8 * nbytes) modulo the polynomial: the effect of nbytes zero bytes. */
static uint32_t x_pow_bytes(size_t nbytes)
{
	uint32_t result = 0x80000000u; /* x^0 */
	uint32_t sq = 0x00800000u;     /* x^8 */

	while (nbytes) {
		if (nbytes & 1)
			result = gf_mul(result, sq);
		sq = gf_mul(sq, sq);
		nbytes >>= 1;
	}
	return result;
}

static void shift_table_build(uint32_t t[4][256], size_t nbytes)
{
	uint32_t xn = x_pow_bytes(nbytes);
	int k, b;

	for (k = 0; k < 4; k++)
		for (b = 0; b < 256; b++)
			t[k][b] = gf_mul(xn, (uint32_t)b << (8 * k));
}

static void crc_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1) ? POLY : 0);
		sw_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			sw_table[k][i] = (sw_table[k - 1][i] >> 8) ^
					 sw_table[0][sw_table[k - 1][i] & 0xff];
	shift_table_build(shift_long, SLICE_LONG);
	shift_table_build(shift_short, SLICE_SHORT);
#if CRC_HAVE_HW
	__builtin_cpu_init();
	hw_ok = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

static inline uint32_t shift_apply(const uint32_t t[4][256], uint32_t c)
{
	return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^
	       t[3][c >> 24];
}

/* The raw register update (no inversions), portable. */
static uint32_t crc_sw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	uint32_t lo, hi;

	while (len && ((uintptr_t)p & 7)) {
		c = (c >> 8) ^ sw_table[0][(c ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			  (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		     (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		c = sw_table[7][lo & 0xff] ^ sw_table[6][(lo >> 8) & 0xff] ^
		    sw_table[5][(lo >> 16) & 0xff] ^ sw_table[4][lo >> 24] ^
		    sw_table[3][hi & 0xff] ^ sw_table[2][(hi >> 8) & 0xff] ^
		    sw_table[1][(hi >> 16) & 0xff] ^ sw_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ sw_table[0][(c ^ *p++) & 0xff];
	return c;
}

#if CRC_HAVE_HW
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Three chains over consecutive slices of slice bytes each, stitched with
 * the shift table for that slice length. Consumes 3 * slice bytes.
 */
#define CRC_HW_THREE_WAY(c, p, len, slice, table)                              \
	while ((len) >= 3 * (slice)) {                                         \
		uint64_t c1_ = 0, c2_ = 0;                                     \
		const uint8_t *end_ = (p) + (slice);                           \
		do {                                                           \
			(c) = _mm_crc32_u64((c), load64(p));                   \
			c1_ = _mm_crc32_u64(c1_, load64((p) + (slice)));       \
			c2_ = _mm_crc32_u64(c2_, load64((p) + 2 * (slice)));   \
			(p) += 8;                                              \
		} while ((p) < end_);                                          \
		(c) = shift_apply(table, (uint32_t)(c)) ^ (uint32_t)c1_;       \
		(c) = shift_apply(table, (uint32_t)(c)) ^ (uint32_t)c2_;       \
		(p) += 2 * (slice);                                            \
		(len) -= 3 * (slice);                                          \
	}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw_raw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	CRC_HW_THREE_WAY(c, p, len, SLICE_LONG, shift_long);
	CRC_HW_THREE_WAY(c, p, len, SLICE_SHORT, shift_short);
	while (len >= 8) {
		c = _mm_crc32_u64(c, load64(p));
		p += 8;
		len -= 8;
	}
	while (len) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	return (uint32_t)c;
}
#endif

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&init_once, crc_init);
	return ~crc_sw_raw(~crc, data, len);
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&init_once, crc_init);
#if CRC_HAVE_HW
	if (hw_ok)
		return ~crc_hw_raw(~crc, data, len);
#endif
	return ~crc_sw_raw(~crc, data, len);
}

int crc32c_hw_available(void)
{
	pthread_once(&init_once, crc_init);
	return hw_ok;
}
