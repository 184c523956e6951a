#include "pack.h"

#include "../ref/ref_ops.h"

#include <math.h>
#include <string.h>

void sn_bn_fold(int C, const float *gamma, const float *beta, const float *mean, const float *var,
                float eps, float *scale, float *shift) {
    for (int c = 0; c < C; c++) {
        double s = (double)gamma[c] / sqrt((double)var[c] + (double)eps);
        scale[c] = (float)s;
        shift[c] = (float)((double)beta[c] - (double)mean[c] * s);
    }
}

void sn_ternarize(int64_t n, float threshold_factor, const float *w, float *out) {
    /* one definition: the reference op's */
    sn_ref_ternary(n, threshold_factor, w, out);
}

void sn_pack_conv_weights(const float *w, int O, int C, int KH, int KW, int vl, const float *scale,
                          float *out) {
    int Ob = (O + vl - 1) / vl;
    int64_t taps = (int64_t)KH * KW;
    for (int ob = 0; ob < Ob; ob++)
        for (int c = 0; c < C; c++)
            for (int64_t t = 0; t < taps; t++)
                for (int l = 0; l < vl; l++) {
                    int o = ob * vl + l;
                    float v = 0.0f;
                    if (o < O) {
                        v = w[((int64_t)o * C + c) * taps + t];
                        if (scale) v *= scale[o];
                    }
                    out[(((int64_t)ob * C + c) * taps + t) * vl + l] = v;
                }
}

void sn_pack_wino_weights(const float *w, int O, int C, int vl, const float *scale, float *out) {
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    int Ob = (O + vl - 1) / vl;
    for (int o = 0; o < Ob * vl; o++)
        for (int c = 0; c < C; c++) {
            double u[4][4] = {{0}};
            if (o < O) {
                const float *g = w + ((int64_t)o * C + c) * 9;
                double s = scale ? (double)scale[o] : 1.0;
                double t[4][3];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 3; j++)
                        t[i][j] = G[i][0] * g[0 * 3 + j] + G[i][1] * g[1 * 3 + j] +
                                  G[i][2] * g[2 * 3 + j];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                        u[i][j] = s * (t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
            }
            for (int xi = 0; xi < 16; xi++)
                out[(((int64_t)xi * Ob + o / vl) * C + c) * vl + o % vl] = (float)u[xi / 4][xi % 4];
        }
}

void sn_pack_linear_weights(const float *w, int M, int K, int vl, const float *scale, float *out) {
    sn_pack_conv_weights(w, M, K, 1, 1, vl, scale, out);
}

void sn_pack_bias(const float *b, int O, int vl, const float *scale, const float *shift,
                  float *out) {
    int n = (O + vl - 1) / vl * vl;
    for (int o = 0; o < n; o++) {
        float v = 0.0f;
        if (o < O) {
            v = b ? b[o] : 0.0f;
            if (scale) v *= scale[o];
            if (shift) v += shift[o];
        }
        out[o] = v;
    }
}

void sn_layout_from_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst) {
    memset(dst, 0, (size_t)sn_layout_floats(l, N) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < l->C; c++)
            for (int y = 0; y < l->H; y++)
                for (int x = 0; x < l->W; x++)
                    dst[n * sn_lay_image(l) + sn_lay_at(l, c, y, x)] =
                        src[((n * l->C + c) * l->H + y) * l->W + x];
}

void sn_layout_to_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst) {
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < l->C; c++)
            for (int y = 0; y < l->H; y++)
                for (int x = 0; x < l->W; x++)
                    dst[((n * l->C + c) * l->H + y) * l->W + x] =
                        src[n * sn_lay_image(l) + sn_lay_at(l, c, y, x)];
}
