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

/* Counter-based uniform in [0, 1): a pure function of (seed, stream, index). */
static inline float sn_rand_u01(uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t h = sn_mix64(seed ^ sn_mix64(stream ^ sn_mix64(index)));
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}

#endif
