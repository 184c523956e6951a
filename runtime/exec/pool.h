/* A fixed pool of worker threads for data-parallel loops. The calling thread takes part,
 * so a pool of 1 runs everything inline. */
#ifndef SN_POOL_H
#define SN_POOL_H

#include <stdint.h>

typedef struct sn_pool sn_pool;

/* nthreads <= 0 means one per online CPU. Returns NULL if threads cannot be created. */
sn_pool *sn_pool_create(int nthreads);
void sn_pool_destroy(sn_pool *p);
int sn_pool_size(const sn_pool *p);

/* Calls fn(arg, lo, hi) over disjoint chunks covering [0, n); returns when all are done.
 * Chunks are handed out dynamically, `grain` tasks at a time (grain <= 0: automatic). */
typedef void (*sn_range_fn)(void *arg, int64_t lo, int64_t hi);
void sn_pool_for(sn_pool *p, int64_t n, int64_t grain, sn_range_fn fn, void *arg);

#endif
