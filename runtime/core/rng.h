/* Deterministic random numbers.
 *
 * Two kinds: a sequential generator (xoshiro256**) for things drawn in order, such as
 * weight initialization and shuffling, and a counter-based hash (sn_rand_u01) for things
 * drawn in parallel kernels (dropout masks, Poisson spikes), where element i of stream s
 * must get the same number whatever thread computes it. */
#ifndef SN_RNG_H
#define SN_RNG_H

#include <stdint.h>

typedef struct sn_rng {
    uint64_t s[4];
} sn_rng;

void sn_rng_seed(sn_rng *r, uint64_t seed);
uint64_t sn_rng_next(sn_rng *r);
/* Uniform in [0, 1) with 24 bits of precision (exactly representable as float). */
float sn_rng_uniform(sn_rng *r);
/* Standard normal (Box-Muller). */
float sn_rng_normal(sn_rng *r);
/* Uniform integer in [0, n). */
uint64_t sn_rng_below(sn_rng *r, uint64_t n);

static inline uint64_t sn_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* 32-bit avalanche hash ("lowbias32"): cheap in vector code (shifts, xors, 32-bit
 * multiplies), so generated kernels compute exactly the same numbers as the reference. */
static inline uint32_t sn_hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* The 32-bit key of a (seed, stream) pair; kernels compute it once per call. */
static inline uint32_t sn_rand_key(uint64_t seed, uint64_t stream) {
    return (uint32_t)(sn_mix64(seed ^ sn_mix64(stream)) >> 32);
}

/* Uniform in [0, 1) from the top 24 bits of hash32(key + index). */
static inline float sn_rand_u01_key(uint32_t key, uint32_t index) {
    return (float)(sn_hash32(key + index) >> 8) * (1.0f / 16777216.0f);
}

/* Counter-based uniform in [0, 1): a pure function of (seed, stream, index), index taken
 * modulo 2^32 (streams are small: one per time step, layer or epoch). */
static inline float sn_rand_u01(uint64_t seed, uint64_t stream, uint64_t index) {
    return sn_rand_u01_key(sn_rand_key(seed, stream), (uint32_t)index);
}

/* Data-parallel training: the index, in the whole global batch, of element i of a rank's
 * tensor [T, nl, per...] (T >= 1 leading time steps, nl local images of `per` elements)
 * when the rank holds images [s0, s0 + nl) of a global batch of ng images. The identity
 * when nl == ng (a single process). Counter-based draws use it, so a step draws the same
 * numbers for an image whatever rank computes it. */
static inline uint64_t sn_batch_index(uint64_t i, int64_t per, int64_t nl, int64_t s0, int64_t ng) {
    if (nl == ng || per <= 0 || nl <= 0) return i;
    uint64_t step = (uint64_t)nl * (uint64_t)per, t = i / step, r = i % step;
    return (t * (uint64_t)ng + (uint64_t)s0) * (uint64_t)per + r;
}

#endif
