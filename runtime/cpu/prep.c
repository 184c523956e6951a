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

/* The vl rows of output block ob: row[l] is output channel ob * vl + l's first weight (NULL
 * past the last channel), sc[l] its scale. Returns the lanes holding a real channel. */
static inline __attribute__((always_inline)) int block_rows(const sn_prep_conv_params *p,
                                                            const float *w, const float *scale,
                                                            int64_t ob, const float **row,
                                                            float *sc) {
    int taps = p->KH * p->KW, tr = p->transpose, outs = tr ? p->C : p->O, lanes = 0;
    for (int l = 0; l < p->vl; l++) {
        int j = (int)ob * p->vl + l;
        row[l] = j < outs ? w + (tr ? (int64_t)j * taps : (int64_t)j * p->C * taps) : NULL;
        sc[l] = scale && j < outs ? scale[j] : 1.0f;
        if (j < outs) lanes = l + 1;
    }
    return lanes;
}

/* U = s * G g G^T of input i for all lanes of block ob at once (lanes innermost so it
 * vectorizes), into the [16][Ob][ins][vl] packing. */
static inline __attribute__((always_inline)) void
wino_one(const sn_prep_conv_params *p, const float *const *row, const float *sc, int lanes,
         const int *tmap, int64_t istride, int round, float *out, int64_t ob, int i) {
    int vl = p->vl, ins = p->transpose ? p->O : p->C;
    int64_t Ob = ((p->transpose ? p->C : p->O) + vl - 1) / vl;
    double g[9][64], tt[4][3][64];
    /* each lane's 9 taps are contiguous in its row: read them together; bf16: the folded
     * weight is rounded, then transformed (scale 1 below) */
    if (lanes == vl && !round && vl > 1) {
        /* a whole block: the lanes' rows are evenly spaced, a strided (gathered) read */
        const float *src = row[0] + (int64_t)i * istride;
        int64_t ls = row[1] - row[0];
        for (int t = 0; t < 9; t++)
            for (int l = 0; l < vl; l++) g[t][l] = src[l * ls + tmap[t]];
    } else
        for (int l = 0; l < vl; l++) {
            const float *src = l < lanes ? row[l] + (int64_t)i * istride : NULL;
            for (int t = 0; t < 9; t++)
                g[t][l] = !src    ? 0.0
                          : round ? (double)sn_bf16_round(src[tmap[t]] * sc[l])
                                  : src[tmap[t]];
        }
    /* G's rows are (1,0,0), (.5,.5,.5), (.5,-.5,.5), (0,0,1): written out, the same double
     * arithmetic (scaling by .5 and adding 0 are exact) */
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
        int64_t xs = Ob * ins * vl; /* one xi further */
        for (int l = 0; l < vl; l++) {
            double y0 = tt[a][0][l], y1 = tt[a][1][l], y2 = tt[a][2][l];
            double s = round ? 1.0 : sc[l];
            d0[l] = (float)(s * y0);
            d0[xs + l] = (float)(s * (0.5 * (y0 + y1 + y2)));
            d0[2 * xs + l] = (float)(s * (0.5 * (y0 - y1 + y2)));
            d0[3 * xs + l] = (float)(s * y2);
        }
    }
}

enum { I_BLOCK = 16 };

/* Packing runs at every training step (and at an artifact's create): built for AVX-512 and
 * AVX2 as well, chosen when the program loads, so the strided reads become gathers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang_analyzer__)
#define PACK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PACK_CLONES
#endif

/* Packs output blocks [lo, hi) of one convolution's weights. The packed kernel has `outs`
 * output channels reading `ins` inputs: (O, C) normally, (C, O) for a data gradient, whose
 * weight (j, i) is w[i][j] (flipped in space when transpose == 2). Each block is written
 * whole (padded lanes zero), so the tasks of a step write disjoint memory. */
PACK_CLONES static void pack_blocks(const sn_prep_conv_params *p, const float *w,
                                    const float *scale, const float *shift, const float *bias,
                                    float *out, float *bout, int64_t lo, int64_t hi, int round) {
    int vl = p->vl, KH = p->KH, KW = p->KW, taps = KH * KW;
    int tr = p->transpose, outs = tr ? p->C : p->O, ins = tr ? p->O : p->C;
    /* weight (j, i, tap t) = row[j][i * istride + tmap[t]] */
    int64_t istride = tr ? (int64_t)p->C * taps : taps;
    int tmap[64];
    for (int t = 0; t < taps; t++)
        tmap[t] = tr == 2 ? (KH - 1 - t / KW) * KW + (KW - 1 - t % KW) : t;

    const float *row[64];
    float sc[64];
    if (p->winograd && tr) {
        /* a data gradient's block reads lanes * taps contiguous floats per i, a whole row of
         * w apart: a few i for every block at a time, so the reads run through w in order and
         * the writes stay runs of I_BLOCK * vl floats */
        for (int i0 = 0; i0 < ins; i0 += I_BLOCK)
            for (int64_t ob = lo; ob < hi; ob++) {
                int lanes = block_rows(p, w, scale, ob, row, sc);
                for (int i = i0; i < ins && i < i0 + I_BLOCK; i++)
                    wino_one(p, row, sc, lanes, tmap, istride, round, out, ob, i);
            }
    } else {
        for (int64_t ob = lo; ob < hi; ob++) {
            int lanes = block_rows(p, w, scale, ob, row, sc);
            if (p->winograd) {
                for (int i = 0; i < ins; i++)
                    wino_one(p, row, sc, lanes, tmap, istride, round, out, ob, i);
                continue;
            }
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
                    if (round)
                        for (l = 0; l < lanes; l++) dst[l] = sn_bf16_round(dst[l]);
                    for (l = lanes; l < vl; l++) dst[l] = 0.0f;
                }
        }
    }
    for (int64_t ob = lo; ob < hi && bout; ob++)
        for (int l = 0; l < vl; l++) {
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
                ptrs[7], lo, hi, 0);
    free(heap);
    free(tmp);
}

void sn_prep_bn(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)ctx;
    (void)lo;
    (void)hi;
    const sn_prep_bn_params *p = params;
    const float *gamma = ptrs[0], *beta = ptrs[1], *mean = ptrs[2], *var = ptrs[3];
    float *scale = ptrs[4], *shift = ptrs[5];
    int padded = (p->C + p->vl - 1) / p->vl * p->vl;
    memset(scale, 0, (size_t)padded * sizeof(float));
    memset(shift, 0, 3 * (size_t)padded * sizeof(float));
    for (int c = 0; c < p->C; c++) {
        double invstd = 1.0 / sqrt((double)var[c] + (double)p->eps);
        scale[c] = (float)(invstd * (gamma ? (double)gamma[c] : 1.0));
        shift[c] = beta ? beta[c] : 0.0f;
        shift[padded + c] = mean[c]; /* a float already: lo = 0 */
    }
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

/* ---- reduced precision ---- */

static int qpack_epw(int format) {
    return format == SN_QPACK_DP_U8 || format == SN_QPACK_AMX_U8 ? 4 : 2;
}
static int qpack_u8(int format) {
    return format == SN_QPACK_DP_U8 || format == SN_QPACK_AMX_U8;
}
static int qpack_amx(int format) {
    return format == SN_QPACK_AMX_BF16 || format == SN_QPACK_AMX_U8;
}

int64_t sn_prep_conv_q_tasks(const sn_prep_conv_q_params *p) {
    if (p->format == SN_QPACK_F32_BF16) return sn_prep_conv_tasks(&p->c);
    if (p->c.ternary) return 1;
    return (p->c.O + 15) / 16;
}

int64_t sn_prep_conv_q_bytes(const sn_prep_conv_q_params *p) {
    const sn_prep_conv_params *c = &p->c;
    int64_t Ob = (c->O + 15) / 16, taps = (int64_t)c->KH * c->KW;
    if (p->format == SN_QPACK_F32_BF16) {
        int outs = c->transpose ? c->C : c->O, ins = c->transpose ? c->O : c->C;
        return (int64_t)(outs + c->vl - 1) / c->vl * c->vl * ins * (c->winograd ? 16 : taps) * 4;
    }
    int epw = qpack_epw(p->format);
    int64_t groups =
        qpack_amx(p->format) ? (c->C + 16 * epw - 1) / (16 * epw) * 16 : (c->C + epw - 1) / epw;
    return Ob * groups * taps * 64;
}

/* The folded weights of output channels [o0, o0 + n) into f ([n][C][taps]) and their
 * folded biases into fb: w * scale + (b * scale + shift) with batch norm, as sn_prep_conv. */
static void fold_channels(const sn_prep_conv_params *c, const float *w, const float *bias,
                          const float *scale, const float *shift, int o0, int n, float *f,
                          float *fb) {
    int64_t per = (int64_t)c->C * c->KH * c->KW;
    for (int j = 0; j < n; j++) {
        int o = o0 + j;
        float s = scale ? scale[o] : 1.0f;
        for (int64_t i = 0; i < per; i++) {
            float v = w[(int64_t)o * per + i];
            f[j * per + i] = scale ? v * s : v;
        }
        float b = bias ? bias[o] : 0.0f;
        if (scale) b *= s;
        if (shift) b += shift[o];
        fb[j] = b;
    }
}

/* The quantization step of one output channel's n folded weights: the largest s = m / M
 * (m = max |w|, M = 1 .. 127) on whose grid every weight lies exactly, so weights with few
 * levels (ternary: M = 1) are represented exactly; else m / 127. A channel failing a step
 * usually does so at its first weights, so the search is cheap. */
static float channel_step(const float *w, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) m = fabsf(w[i]) > m ? fabsf(w[i]) : m;
    if (m == 0.0f || !(m < INFINITY)) return 1.0f;
    for (int M = 1; M <= 127; M++) {
        double s = (double)(m / (float)M);
        int64_t i = 0;
        for (; i < n; i++) {
            double q = rint((double)w[i] / s);
            if (q * s != (double)w[i]) break;
        }
        if (i == n) return (float)s;
    }
    return m / 127.0f;
}

/* Packs output-channel block ob (16 channels, folded weights f [16][C][taps], zero past O)
 * in a dot-product or AMX format; u8 formats also write the dequantization. Returns 0, or
 * -1 when an `integer` weight is not a whole number in [-127, 127]. */
static int pack_q_block(const sn_prep_conv_q_params *p, int64_t ob, const float *f, int lanes,
                        void *out, float *qs, int32_t *qc) {
    const sn_prep_conv_params *c = &p->c;
    int taps = c->KH * c->KW, epw = qpack_epw(p->format), u8 = qpack_u8(p->format);
    int64_t per = (int64_t)c->C * taps;
    float step[16];
    for (int l = 0; l < 16; l++) step[l] = 1.0f;
    if (u8 && !p->integer)
        for (int l = 0; l < lanes; l++) step[l] = channel_step(f + l * per, per);
    int32_t sum[16];
    memset(sum, 0, sizeof sum);
    int G = qpack_amx(p->format) ? (c->C + 16 * epw - 1) / (16 * epw) * 16 : (c->C + epw - 1) / epw;
    int8_t *o8 = out;
    uint16_t *o16 = out;
    int64_t block = (int64_t)G * taps * 16 * epw; /* elements per output block */
    for (int g = 0; g < G; g++)
        for (int t = 0; t < taps; t++)
            for (int l = 0; l < 16; l++)
                for (int e = 0; e < epw; e++) {
                    int ch = g * epw + e;
                    float v = l < lanes && ch < c->C ? f[l * per + (int64_t)ch * taps + t] : 0.0f;
                    int64_t at;
                    if (qpack_amx(p->format)) /* [taps][G/16][16 rows][16 cols][epw] */
                        at = (((int64_t)t * (G / 16) + g / 16) * 16 + g % 16) * 16 * epw +
                             (int64_t)l * epw + e;
                    else /* [G][taps][16][epw] */
                        at = (((int64_t)g * taps + t) * 16 + l) * epw + e;
                    at += ob * block;
                    if (!u8) {
                        o16[at] = sn_bf16_bits(v);
                        continue;
                    }
                    float q = p->integer ? v : rintf(v / step[l]);
                    if (!(q >= -127.0f && q <= 127.0f && q == floorf(q))) {
                        if (p->integer || !(v - v == 0.0f)) return -1; /* or not finite */
                        q = q > 0 ? 127.0f : -127.0f;
                    }
                    o8[at] = (int8_t)q;
                    sum[l] += (int32_t)q;
                }
    if (u8)
        for (int l = 0; l < 16; l++) {
            int64_t j = ob * 16 + l;
            qs[j] = l < lanes ? p->in_scale * step[l] : 0.0f;
            qc[j] = l < lanes ? p->in_zero * sum[l] : 0;
        }
    return 0;
}

void sn_prep_conv_q(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    const sn_prep_conv_q_params *p = params;
    const sn_prep_conv_params *c = &p->c;
    const float *w = ptrs[0];
    int taps = c->KH * c->KW;
    int64_t n = (int64_t)c->O * c->C * taps;
    float *tmp = NULL, *fold = NULL, *scale = NULL, *shift = NULL;
    if (taps > 64) {
        atomic_store(&ctx->oom, 1); /* the lowering only packs kernels up to 8x8 */
        return;
    }
    if (c->ternary) {
        tmp = malloc((size_t)n * sizeof(float));
        if (!tmp) goto oom;
        sn_ternarize(n, c->ternary_threshold, w, tmp);
        w = tmp;
        lo = 0; /* the one task packs every block */
        hi = p->format == SN_QPACK_F32_BF16 ? ((c->transpose ? c->C : c->O) + c->vl - 1) / c->vl
                                            : (c->O + 15) / 16;
    }
    if (c->bn) {
        scale = malloc(2 * (size_t)c->O * sizeof(float));
        if (!scale) goto oom;
        shift = scale + c->O;
        sn_bn_fold(c->O, ptrs[2], ptrs[3], ptrs[4], ptrs[5], c->eps, scale, shift);
    }
    if (p->format == SN_QPACK_F32_BF16) {
        pack_blocks(c, w, c->transpose ? NULL : scale, c->transpose ? NULL : shift, ptrs[1],
                    ptrs[6], ptrs[7], lo, hi, 1);
        goto done;
    }
    if (c->transpose || c->winograd) { /* not a layout of these formats: a lowering error */
        atomic_store(&ctx->oom, 1);
        goto done;
    }
    {
        int64_t per = (int64_t)c->C * taps;
        fold = malloc((size_t)(16 * per) * sizeof(float));
        if (!fold) goto oom;
        float fb[16];
        float *bout = ptrs[7];
        for (int64_t ob = lo; ob < hi; ob++) {
            int o0 = (int)ob * 16, lanes = c->O - o0 < 16 ? c->O - o0 : 16;
            fold_channels(c, w, ptrs[1], scale, shift, o0, lanes, fold, fb);
            if (pack_q_block(p, ob, fold, lanes, ptrs[6], ptrs[8],
                             ptrs[8] ? (int32_t *)ptrs[8] + ((c->O + 15) / 16) * 16 : NULL) < 0) {
                prep_fail(ctx);
                goto done;
            }
            for (int l = 0; l < 16; l++) bout[o0 + l] = l < lanes ? fb[l] : 0.0f;
        }
    }
    goto done;
oom:
    atomic_store(&ctx->oom, 1);
done:
    free(fold);
    free(scale);
    free(tmp);
}

sn_cpu_fn sn_cpu_builtin(const char *name) {
    if (strcmp(name, "cpu.spike_maxpool") == 0) return sn_spike_maxpool;
    if (strcmp(name, "cpu.pack_theta") == 0) return sn_prep_theta;
    if (strcmp(name, "cpu.prep_conv") == 0) return sn_prep_conv;
    if (strcmp(name, "cpu.prep_conv_q") == 0) return sn_prep_conv_q;
    if (strcmp(name, "cpu.prep_bn") == 0) return sn_prep_bn;
    if (strcmp(name, "cpu.prep_nir_leak") == 0) return sn_prep_nir_leak;
    return NULL;
}

size_t sn_cpu_builtin_params_size(const char *name) {
    if (strcmp(name, "cpu.prep_conv") == 0) return sizeof(sn_prep_conv_params);
    if (strcmp(name, "cpu.prep_conv_q") == 0) return sizeof(sn_prep_conv_q_params);
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
    if (strcmp(name, "cpu.prep_conv_q") == 0) { /* -1 (never a task count): bad params */
        sn_prep_conv_q_params pq;
        memcpy(&pq, params, sizeof pq);
        if (pq.format < SN_QPACK_F32_BF16 || pq.format > SN_QPACK_AMX_U8 || pq.c.O <= 0 ||
            pq.c.C <= 0 || pq.c.vl <= 0)
            return -1;
        return sn_prep_conv_q_tasks(&pq);
    }
    if (strcmp(name, "cpu.spike_maxpool") == 0) {
        sn_spike_pool_params sp;
        memcpy(&sp, params, sizeof sp);
        return sp.N;
    }
    return 1;
}
