/* Synchronized batch norm (train.sync_bn) for data-parallel training: the statistics of the
 * global batch, not of one rank's part. A training plan splits batch norm into
 *
 *   forward:  per-rank sums of x and x^2 per channel (a kernel, in double)
 *             -> a collective step that sums them over the ranks (sn_plan_collective_step)
 *             -> sn_bn_sync_finish: mean, inverse std, the normalizing scale and shift, the
 *                running statistics, the batch counter (this file)
 *   backward: per-rank sums of dy and dy * xhat (a kernel; it also writes this rank's
 *             gamma and beta gradients, which the gradient reducer sums with the others)
 *             -> a collective step (rank-weighted: see sn_plan_coll)
 *             -> sn_bn_sync_bwd_finish: the coefficients of dx = A*dy + Bx*x + C.
 *
 * The element count of the global batch is the rank's count times ctx->gbatch / the plan's
 * batch. In a single process (no collective) the result equals unsynchronized batch norm.
 * The arithmetic is the CPU backend's batch-norm kernels' (double precision, the same
 * operations), so a synchronized plan on one rank gives the same numbers. */
#ifndef SN_BN_SYNC_H
#define SN_BN_SYNC_H

#include "../exec/plan.h"

typedef struct sn_bn_sync_params {
    int C, Cpad; /* channels; per-channel arrays of scale/shift/saves are padded to Cpad */
    int64_t m;   /* elements per channel in this rank's part (images x pixels) */
    float eps, momentum;
} sn_bn_sync_params;

/* ptrs: [0] gamma, [1] beta (C; NULL: 1, 0), [2] running_mean, [3] running_var (C),
 * [4] num_batches_tracked (int64), [5] sums [2][Cpad] (double: sum x, sum x^2, over the
 * ranks), [6] save_mean, [7] save_invstd, [8] scale, [9] shift (3 Cpad: beta, then the mean as hi +
 * lo floats). One task. */
void sn_bn_sync_finish(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);
/* ptrs: [0] gamma (C), [1] save_mean, [2] save_invstd (Cpad), [3] sums [2][Cpad] (double:
 * sum dy, sum dy * xhat, over the ranks), [4] A, [5] Bx, [6] C (Cpad): dx = A dy + Bx (x -
 * save_mean) + C. One task. */
void sn_bn_sync_bwd_finish(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                           int64_t hi);

#endif
