/* Synchronized batch norm's finishing steps. See bn_sync.h. */
#include "bn_sync.h"

#include <math.h>

/* elements per channel in the whole global batch */
static double global_count(const sn_kctx *ctx, const sn_bn_sync_params *p) {
    int64_t nl = ctx->plan ? ctx->plan->batch : 0;
    if (nl <= 0 || ctx->gbatch <= 0 || ctx->gbatch == nl) return (double)p->m;
    return (double)(p->m / nl) * (double)ctx->gbatch;
}

void sn_bn_sync_finish(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                       int64_t hi) {
    (void)lo;
    (void)hi;
    const sn_bn_sync_params *p = params;
    const float *gamma = ptrs[0], *beta = ptrs[1];
    float *rm = ptrs[2], *rv = ptrs[3];
    int64_t *count = ptrs[4];
    const double *s1 = ptrs[5], *s2 = s1 + p->Cpad;
    float *save_mean = ptrs[6], *save_invstd = ptrs[7], *scale = ptrs[8], *shift = ptrs[9];
    double m = global_count(ctx, p), mom = (double)p->momentum;
    for (int c = 0; c < p->Cpad; c++) {
        double mean = s1[c] / m, ex2 = s2[c] / m;
        double var = ex2 - mean * mean;
        if (var < 0.0) var = 0.0;
        double invstd = 1.0 / sqrt(var + (double)p->eps);
        double g = c < p->C ? (gamma ? (double)gamma[c] : 1.0) : 0.0;
        double b = c < p->C ? (beta ? (double)beta[c] : 0.0) : 0.0;
        double sc = g * invstd;
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        /* the normalization around the mean (sn_gen_eltwise): b, then the mean as hi + lo */
        const float mhi = (float)mean;
        scale[c] = (float)sc;
        shift[c] = (float)b;
        shift[p->Cpad + c] = mhi;
        shift[2 * p->Cpad + c] = (float)(mean - (double)mhi);
        if (c >= p->C) continue;
        double unb = var * (m / (m - 1.0));
        if (rm) rm[c] = (float)((double)rm[c] * (1.0 - mom) + mean * mom);
        if (rv) rv[c] = (float)((double)rv[c] * (1.0 - mom) + unb * mom);
    }
    if (count) *count += 1;
}

void sn_bn_sync_bwd_finish(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                           int64_t hi) {
    (void)lo;
    (void)hi;
    const sn_bn_sync_params *p = params;
    const float *gamma = ptrs[0], *save_invstd = ptrs[2]; /* [1] the saved mean: dx subtracts it */
    const double *sdy = ptrs[3], *sdyx = sdy + p->Cpad;
    float *A = ptrs[4], *Bx = ptrs[5], *C = ptrs[6];
    double m = global_count(ctx, p);
    for (int c = 0; c < p->Cpad; c++) {
        double g = c < p->C ? (gamma ? (double)gamma[c] : 1.0) : 0.0;
        double invstd = (double)save_invstd[c];
        double kk = g * invstd;
        double t = invstd * sdyx[c] / m;
        A[c] = (float)kk;
        Bx[c] = (float)-(kk * t);
        C[c] = (float)(-kk * sdy[c] / m); /* dx = A dy + Bx (x - mean) + C */
    }
}
