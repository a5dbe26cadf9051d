/* A deterministic pseudo-random generator (xorshift64) for tests that throw
 * random input at parsers: a failure reproduces from its seed. */
#ifndef VIREO_TEST_UNIT_RNG_H
#define VIREO_TEST_UNIT_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

#endif
