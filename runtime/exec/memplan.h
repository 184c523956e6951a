/* Memory planning from lifetimes: buffers whose lifetimes (intervals of step indices) do not
 * overlap may share space in one arena. The CPU plan (plan.c) and the CUDA program's device
 * arena (compiler/backends/cuda) both place their buffers with it. */
#ifndef SN_MEMPLAN_H
#define SN_MEMPLAN_H

#include <stdint.h>

/* Places n buffers of bytes[i] (rounded up to `align`, a power of two) living from step
 * first[i] to step last[i] inclusive: largest first, each at the lowest offset that no
 * already placed buffer with an overlapping lifetime occupies. A buffer with first > last
 * (never used) gets offset -1 and no space. Returns the arena size; *naive (may be NULL)
 * receives the sum of the placed sizes, what the arena would be without reuse. Returns -1
 * when out of memory (offsets untouched). */
int64_t sn_memplan_place(int n, const int64_t *bytes, const int *first, const int *last,
                         int64_t align, int64_t *offsets, int64_t *naive);

#endif
