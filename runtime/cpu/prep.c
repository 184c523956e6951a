#include "prep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

void sn_prep_conv(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)lo;
    (void)hi;
    const sn_prep_conv_params *p = params;
    const float *w = ptrs[0];
    int64_t n = (int64_t)p->O * p->C * p->KH * p->KW;
    float *tmp = p->ternary ? malloc((size_t)n * sizeof(float)) : NULL;
    float *scale = p->bn ? malloc((size_t)p->O * sizeof(float)) : NULL;
    float *shift = p->bn ? malloc((size_t)p->O * sizeof(float)) : NULL;
    if ((p->ternary && !tmp) || (p->bn && (!scale || !shift))) {
        atomic_store(&ctx->oom, 1);
        free(tmp);
        free(scale);
        free(shift);
        return;
    }
    if (p->ternary) {
        sn_ternarize(n, p->ternary_threshold, w, tmp);
        w = tmp;
    }
    if (p->bn) sn_bn_fold(p->O, ptrs[2], ptrs[3], ptrs[4], ptrs[5], p->eps, scale, shift);
    if (p->transpose) {
        /* wt[c][o][kh][kw] = w[o][c][kh'][kw'] (flipped when transpose == 2) */
        float *wt = malloc((size_t)n * sizeof(float));
        if (!wt) {
            atomic_store(&ctx->oom, 1);
            free(tmp);
            free(scale);
            free(shift);
            return;
        }
        int taps = p->KH * p->KW;
        for (int o = 0; o < p->O; o++)
            for (int c = 0; c < p->C; c++)
                for (int kh = 0; kh < p->KH; kh++)
                    for (int kw = 0; kw < p->KW; kw++) {
                        int sh = p->transpose == 2 ? p->KH - 1 - kh : kh;
                        int sw = p->transpose == 2 ? p->KW - 1 - kw : kw;
                        wt[(((int64_t)c * p->O + o) * p->KH + kh) * p->KW + kw] =
                            w[((int64_t)o * p->C + c) * taps + sh * p->KW + sw];
                    }
        if (p->winograd)
            sn_pack_wino_weights(wt, p->C, p->O, p->vl, NULL, ptrs[6]);
        else
            sn_pack_conv_weights(wt, p->C, p->O, p->KH, p->KW, p->vl, NULL, ptrs[6]);
        sn_pack_bias(NULL, p->C, p->vl, NULL, NULL, ptrs[7]);
        free(wt);
        free(scale);
        free(shift);
        free(tmp);
        return;
    }
    if (p->winograd)
        sn_pack_wino_weights(w, p->O, p->C, p->vl, scale, ptrs[6]);
    else
        sn_pack_conv_weights(w, p->O, p->C, p->KH, p->KW, p->vl, scale, ptrs[6]);
    sn_pack_bias(ptrs[1], p->O, p->vl, scale, shift, ptrs[7]);
    free(scale);
    free(shift);
    free(tmp);
}

void sn_prep_bn(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)ctx;
    (void)lo;
    (void)hi;
    const sn_prep_bn_params *p = params;
    float *scale = ptrs[4], *shift = ptrs[5];
    int padded = (p->C + p->vl - 1) / p->vl * p->vl;
    memset(scale, 0, (size_t)padded * sizeof(float));
    memset(shift, 0, (size_t)padded * sizeof(float));
    sn_bn_fold(p->C, ptrs[0], ptrs[1], ptrs[2], ptrs[3], p->eps, scale, shift);
}

void sn_prep_theta(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)ctx;
    (void)lo;
    (void)hi;
    const sn_prep_theta_params *p = params;
    const float *th = ptrs[0];
    float *out = ptrs[1];
    int Cb = (p->C + p->vl - 1) / p->vl;
    for (int cb = 0; cb < Cb; cb++)
        for (int u = 0; u < p->U; u++)
            for (int l = 0; l < p->vl; l++) {
                int c = cb * p->vl + l;
                out[((int64_t)cb * p->U + u) * p->vl + l] =
                    c < p->C ? th[(int64_t)c * p->U + u] : INFINITY;
            }
}

sn_cpu_fn sn_cpu_builtin(const char *name) {
    if (strcmp(name, "cpu.pack_theta") == 0) return sn_prep_theta;
    if (strcmp(name, "cpu.prep_conv") == 0) return sn_prep_conv;
    if (strcmp(name, "cpu.prep_bn") == 0) return sn_prep_bn;
    return NULL;
}
