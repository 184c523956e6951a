#include "prep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

int64_t sn_prep_conv_tasks(const sn_prep_conv_params *p) {
    /* ternary weights need the whole tensor's mean |w| first: one task */
    if (p->ternary) return 1;
    int outs = p->transpose ? p->C : p->O;
    return (outs + p->vl - 1) / p->vl;
}

/* Packs output blocks [lo, hi) of one convolution's weights. The packed kernel has `outs`
 * output channels reading `ins` inputs: (O, C) normally, (C, O) for a data gradient, whose
 * weight (j, i) is w[i][j] (flipped in space when transpose == 2). Each block is written
 * whole (padded lanes zero), so the tasks of a step write disjoint memory. */
static void pack_blocks(const sn_prep_conv_params *p, const float *w, const float *scale,
                        const float *shift, const float *bias, float *out, float *bout, int64_t lo,
                        int64_t hi) {
    int vl = p->vl, KH = p->KH, KW = p->KW, taps = KH * KW;
    int tr = p->transpose, outs = tr ? p->C : p->O, ins = tr ? p->O : p->C;
    int Ob = (outs + vl - 1) / vl;
    /* weight (j, i, tap t) = row[j][i * istride + tmap[t]] */
    int64_t istride = tr ? (int64_t)p->C * taps : taps;
    int tmap[64];
    for (int t = 0; t < taps; t++)
        tmap[t] = tr == 2 ? (KH - 1 - t / KW) * KW + (KW - 1 - t % KW) : t;

    const float *row[64];
    float sc[64];
    for (int64_t ob = lo; ob < hi; ob++) {
        int lanes = 0; /* lanes holding a real output channel */
        for (int l = 0; l < vl; l++) {
            int j = (int)ob * vl + l;
            row[l] = j < outs ? w + (tr ? (int64_t)j * taps : (int64_t)j * p->C * taps) : NULL;
            sc[l] = scale && j < outs ? scale[j] : 1.0f;
            if (j < outs) lanes = l + 1;
        }
        if (!p->winograd) {
            /* i, then taps, then lanes: the writes run contiguously, the reads follow vl rows */
            float *dst = out + ob * ins * (int64_t)taps * vl;
            for (int i = 0; i < ins; i++)
                for (int t = 0; t < taps; t++, dst += vl) {
                    int64_t at = (int64_t)i * istride + tmap[t];
                    int l = 0;
                    if (scale)
                        for (; l < lanes; l++) dst[l] = row[l][at] * sc[l];
                    else
                        for (; l < lanes; l++) dst[l] = row[l][at];
                    for (; l < vl; l++) dst[l] = 0.0f;
                }
        } else {
            /* U = s * G g G^T for all lanes at once (lanes innermost so it vectorizes) */
            double g[9][64], tt[4][3][64];
            for (int i = 0; i < ins; i++) {
                /* each lane's 9 taps are contiguous in its row: read them together */
                for (int l = 0; l < vl; l++) {
                    const float *src = l < lanes ? row[l] + (int64_t)i * istride : NULL;
                    for (int t = 0; t < 9; t++) g[t][l] = src ? src[tmap[t]] : 0.0;
                }
                /* G's rows are (1,0,0), (.5,.5,.5), (.5,-.5,.5), (0,0,1): written out, the
                 * same double arithmetic (scaling by .5 and adding 0 are exact) */
                for (int b = 0; b < 3; b++)
                    for (int l = 0; l < vl; l++) {
                        double x0 = g[b][l], x1 = g[3 + b][l], x2 = g[6 + b][l];
                        tt[0][b][l] = x0;
                        tt[1][b][l] = 0.5 * (x0 + x1 + x2);
                        tt[2][b][l] = 0.5 * (x0 - x1 + x2);
                        tt[3][b][l] = x2;
                    }
                for (int a = 0; a < 4; a++) {
                    float *d0 = out + (((int64_t)(a * 4) * Ob + ob) * ins + i) * vl;
                    int64_t xs = (int64_t)Ob * ins * vl; /* one xi further */
                    for (int l = 0; l < vl; l++) {
                        double y0 = tt[a][0][l], y1 = tt[a][1][l], y2 = tt[a][2][l], s = sc[l];
                        d0[l] = (float)(s * y0);
                        d0[xs + l] = (float)(s * (0.5 * (y0 + y1 + y2)));
                        d0[2 * xs + l] = (float)(s * (0.5 * (y0 - y1 + y2)));
                        d0[3 * xs + l] = (float)(s * y2);
                    }
                }
            }
        }
        for (int l = 0; l < vl && bout; l++) {
            int j = (int)ob * vl + l;
            float v = 0.0f;
            if (j < outs && !tr) {
                v = bias ? bias[j] : 0.0f;
                if (scale) v *= scale[j];
                if (shift) v += shift[j];
            }
            bout[j] = v;
        }
    }
}

/* A weight the integer kernel can take: a whole number in [-127, 127] (NaN is not). */
static int int8_ok(float v) {
    return v >= -127.0f && v <= 127.0f && v == floorf(v);
}

static void prep_fail(sn_kctx *ctx) {
    atomic_fetch_add(&ctx->bad_input, 1);
    atomic_store(&ctx->oom, 1);
}

void sn_prep_conv_i8(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    const sn_prep_conv_params *p = params;
    const float *w = ptrs[0], *bias = ptrs[1];
    int8_t *out = ptrs[6];
    float *bout = ptrs[7];
    int vl = p->vl, taps = p->KH * p->KW, C4 = (p->C + 3) / 4;
    int Ob = (p->O + vl - 1) / vl;
    float *tmp = NULL;
    if (p->bn || p->transpose || p->winograd) { /* not an integer layout: a lowering error */
        prep_fail(ctx);
        return;
    }
    if (p->ternary) {
        int64_t n = (int64_t)p->O * p->C * taps;
        tmp = malloc((size_t)n * sizeof(float));
        if (!tmp) {
            atomic_store(&ctx->oom, 1);
            return;
        }
        sn_ternarize(n, p->ternary_threshold, w, tmp);
        w = tmp;
        lo = 0;
        hi = Ob;
    }
    for (int64_t ob = lo; ob < hi; ob++) {
        /* [C4][taps][vl][4]: the writes run contiguously */
        int8_t *dst = out + ob * (int64_t)C4 * taps * vl * 4;
        for (int c4 = 0; c4 < C4; c4++)
            for (int t = 0; t < taps; t++)
                for (int l = 0; l < vl; l++)
                    for (int j = 0; j < 4; j++, dst++) {
                        int o = (int)ob * vl + l, c = c4 * 4 + j;
                        float v = o < p->O && c < p->C ? w[((int64_t)o * p->C + c) * taps + t] : 0;
                        if (!int8_ok(v)) {
                            free(tmp);
                            prep_fail(ctx);
                            return;
                        }
                        *dst = (int8_t)v;
                    }
        for (int l = 0; l < vl; l++) {
            int j = (int)ob * vl + l;
            bout[j] = j < p->O && bias ? bias[j] : 0.0f;
        }
    }
    free(tmp);
}

void sn_prep_conv(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    const sn_prep_conv_params *p = params;
    if (p->int8) {
        sn_prep_conv_i8(ctx, params, ptrs, lo, hi);
        return;
    }
    const float *w = ptrs[0];
    int64_t n = (int64_t)p->O * p->C * p->KH * p->KW;
    float *tmp = NULL, fold[2 * 256], *scale = NULL, *shift = NULL, *heap = NULL;
    if (p->KH * p->KW > 64) {
        atomic_store(&ctx->oom, 1); /* the lowering only packs kernels up to 8x8 */
        return;
    }
    if (p->ternary) {
        tmp = malloc((size_t)n * sizeof(float));
        if (!tmp) {
            atomic_store(&ctx->oom, 1);
            return;
        }
        sn_ternarize(n, p->ternary_threshold, w, tmp);
        w = tmp;
        lo = 0; /* the one task packs every block */
        hi = ((p->transpose ? p->C : p->O) + p->vl - 1) / p->vl;
    }
    if (p->bn) { /* folded batch norm: scale and shift of every output channel */
        scale = p->O <= 256 ? fold : (heap = malloc(2 * (size_t)p->O * sizeof(float)));
        if (!scale) {
            free(tmp);
            atomic_store(&ctx->oom, 1);
            return;
        }
        shift = scale + p->O;
        sn_bn_fold(p->O, ptrs[2], ptrs[3], ptrs[4], ptrs[5], p->eps, scale, shift);
    }
    pack_blocks(p, w, p->transpose ? NULL : scale, p->transpose ? NULL : shift, ptrs[1], ptrs[6],
                ptrs[7], lo, hi);
    free(heap);
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

void sn_spike_maxpool(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    const sn_spike_pool_params *p = params;
    const float *x = ptrs[0];
    float *y = ptrs[1], *cnt = ptrs[2];
    const sn_cpu_layout *li = &p->in, *lo_ = &p->out;
    int64_t ix = sn_lay_image(li), iy = sn_lay_image(lo_);
    /* channels in blocks of vl lanes (1 for plain layouts): offset of channel cb*vl + l is
     * sn_lay_at(cb*vl) + l in both layouts */
    int vl = li->blocked ? li->vl : 1, ncb = sn_lay_cb(li);
    float bc[64];
    int64_t bo[64];
    for (int64_t n = lo; n < hi; n++) {
        float *cn = cnt + n * ix;
        if (!p->stateful || ctx->t == 0) memset(cn, 0, (size_t)ix * sizeof(float));
        for (int t = 0; t < p->T; t++) {
            const float *xn = x + ((int64_t)t * p->N + n) * ix;
            float *yn = y + ((int64_t)t * p->N + n) * iy;
            /* counts of every element (halo and padded lanes hold 0 and are never read) */
            for (int64_t a = 0; a < ix; a++) cn[a] += xn[a];
            memset(yn, 0, (size_t)iy * sizeof(float));
            for (int cb = 0; cb < ncb; cb++) {
                int lanes = li->C - cb * vl < vl ? li->C - cb * vl : vl;
                for (int oh = 0; oh < lo_->H; oh++)
                    for (int ow = 0; ow < lo_->W; ow++) {
                        int any = 0;
                        for (int kh = 0; kh < p->KH; kh++)
                            for (int kw = 0; kw < p->KW; kw++) {
                                int h = oh * p->SH - p->PH + kh, w = ow * p->SW - p->PW + kw;
                                if (h < 0 || h >= li->H || w < 0 || w >= li->W) continue;
                                int64_t a0 = sn_lay_at(li, cb * vl, h, w);
                                if (!any) {
                                    for (int l = 0; l < lanes; l++) {
                                        bc[l] = cn[a0 + l];
                                        bo[l] = a0 + l;
                                    }
                                    any = 1;
                                    continue;
                                }
                                for (int l = 0; l < lanes; l++)
                                    if (cn[a0 + l] > bc[l]) { /* first maximum wins ties */
                                        bc[l] = cn[a0 + l];
                                        bo[l] = a0 + l;
                                    }
                            }
                        if (!any) continue;
                        int64_t ao = sn_lay_at(lo_, cb * vl, oh, ow);
                        for (int l = 0; l < lanes; l++) yn[ao + l] = xn[bo[l]];
                    }
            }
        }
    }
}

sn_cpu_fn sn_cpu_builtin(const char *name) {
    if (strcmp(name, "cpu.spike_maxpool") == 0) return sn_spike_maxpool;
    if (strcmp(name, "cpu.pack_theta") == 0) return sn_prep_theta;
    if (strcmp(name, "cpu.prep_conv") == 0) return sn_prep_conv;
    if (strcmp(name, "cpu.prep_bn") == 0) return sn_prep_bn;
    if (strcmp(name, "cpu.prep_nir_leak") == 0) return sn_prep_nir_leak;
    return NULL;
}

size_t sn_cpu_builtin_params_size(const char *name) {
    if (strcmp(name, "cpu.prep_conv") == 0) return sizeof(sn_prep_conv_params);
    if (strcmp(name, "cpu.prep_bn") == 0) return sizeof(sn_prep_bn_params);
    if (strcmp(name, "cpu.pack_theta") == 0) return sizeof(sn_prep_theta_params);
    if (strcmp(name, "cpu.spike_maxpool") == 0) return sizeof(sn_spike_pool_params);
    if (strcmp(name, "cpu.prep_nir_leak") == 0) return sizeof(sn_prep_nir_leak_params);
    return 0;
}

int64_t sn_cpu_builtin_tasks(const char *name, const void *params) {
    if (strcmp(name, "cpu.prep_conv") == 0) {
        sn_prep_conv_params pc;
        memcpy(&pc, params, sizeof pc);
        return sn_prep_conv_tasks(&pc);
    }
    if (strcmp(name, "cpu.spike_maxpool") == 0) {
        sn_spike_pool_params sp;
        memcpy(&sp, params, sizeof sp);
        return sp.N;
    }
    return 1;
}
